"""Speech: phrases to trimmed, levelled clips through pyttsx3, with a disk cache.

This is the only module that imports pyttsx3, and it does so lazily: a run
whose clips are all cached never loads a speech engine. Clips are cached in the
user cache folder, one WAV per phrase, named by a hash of everything that
changes the sound (engine, voice, rate, text, processing version), and written
atomically so a crash never leaves a broken clip behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_target
from .audiofile import read_mono, write_blocks
from .errors import SpeechError

#: The one sample rate used end to end (eSpeak NG's own rate).
SAMPLE_RATE = 22050
ENGINE = "pyttsx3"
#: Words per minute; a little slower than eSpeak's 200, for following with eyes closed.
DEFAULT_RATE = 165
#: Bump when the trimming or levelling below changes, so old cached clips are not reused.
CLIP_FORMAT = 1

#: A sample counts as sound above this level (about -46 dBFS).
TRIM_THRESHOLD = 0.005
#: Kept before the first and after the last loud sample, so soft consonants survive.
TRIM_PAD_SECONDS = 0.01
FADE_SECONDS = 0.004
#: Speech is levelled to this RMS over its sounding part (about -20 dBFS) ...
TARGET_RMS = 0.1
#: ... with peaks no higher than this (about -1 dBFS).
PEAK_LIMIT = 0.89

INSTALL_HINT = {
    "linux": "sudo apt-get install espeak-ng",
    "darwin": "macOS ships its voices; check System Settings > Accessibility > Spoken Content",
    "win32": "Windows ships SAPI5 voices; check Settings > Time & language > Speech",
}


@dataclass(frozen=True)
class Voice:
    """An installed voice: its id (for ``--voice``), its name and its languages."""

    id: str
    name: str
    languages: tuple[str, ...]


def default_cache_dir() -> Path:
    """The clip cache folder: ``VOICE_COACH_CACHE`` if set, else the platform's user cache."""
    override = os.environ.get("VOICE_COACH_CACHE")
    if override:
        return Path(override)
    import platformdirs

    return platformdirs.user_cache_path("voice-coach") / "clips"


def trim_and_level(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Trim leading and trailing quiet, then bring the clip to the target level.

    The trimmed clip's first audible sound lies within ``TRIM_PAD_SECONDS`` of its
    first sample, which is what lets the script engine place a cue at the moment
    it is heard. Short fades at both ends keep the cuts click-free.
    """
    loud = np.flatnonzero(np.abs(samples) > TRIM_THRESHOLD)
    if loud.size == 0:
        return np.zeros(0, dtype=np.float32)
    pad = round(TRIM_PAD_SECONDS * sample_rate)
    clip = samples[max(0, loud[0] - pad) : loud[-1] + pad + 1].astype(np.float64)
    sounding = clip[np.abs(clip) > TRIM_THRESHOLD]
    rms = float(np.sqrt(np.mean(sounding**2)))
    clip *= min(TARGET_RMS / rms, PEAK_LIMIT / float(np.max(np.abs(clip))))
    fade = min(round(FADE_SECONDS * sample_rate), clip.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        clip[:fade] *= ramp
        clip[-fade:] *= ramp[::-1]
    return clip.astype(np.float32)


class Speaker:
    """Synthesises phrases with pyttsx3 and caches the clips.

    Parameters
    ----------
    voice:
        A voice id from :func:`list_voices`, or None for the engine's default.
    rate:
        Speaking rate in words per minute.
    cache_dir:
        Where clips are cached; defaults to :func:`default_cache_dir`.
    """

    def __init__(
        self, voice: str | None = None, rate: int = DEFAULT_RATE, cache_dir: Path | None = None
    ) -> None:
        if not 60 <= rate <= 400:
            raise SpeechError(f"speech rate {rate} is out of range; use 60 to 400 words a minute")
        self.voice = voice
        self.rate = rate
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.sample_rate = SAMPLE_RATE
        self._engine = None
        self.synthesised = 0  # clips made by the engine (not from the cache) in this process

    def cache_path(self, text: str) -> Path:
        """The cache file of ``text`` for this speaker's engine, voice and rate."""
        key = json.dumps(
            {
                "engine": ENGINE,
                "voice": self.voice or "default",
                "rate": self.rate,
                "text": text,
                "format": CLIP_FORMAT,
                "sample_rate": self.sample_rate,
            },
            sort_keys=True,
        )
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.wav"

    def clip(self, text: str) -> np.ndarray:
        """The trimmed, levelled clip of ``text`` as float32 mono, from the cache if there."""
        path = self.cache_path(text)
        if not path.exists():
            self._synthesise_to_cache(text, path)
        try:
            return read_mono(path, self.sample_rate)
        except RuntimeError:
            # A damaged cache entry: make it again rather than fail.
            self._synthesise_to_cache(text, path)
            return read_mono(path, self.sample_rate)

    def clips(self, phrases: Iterable[str]) -> dict[str, np.ndarray]:
        """Clips for every phrase, keyed by phrase."""
        return {text: self.clip(text) for text in dict.fromkeys(phrases)}

    def _synthesise_to_cache(self, text: str, path: Path) -> None:
        raw = self._synthesise(text)
        clip = trim_and_level(raw, self.sample_rate)
        if clip.size == 0:
            raise SpeechError(f"the speech engine made no sound for {text[:60]!r}")
        pcm = np.rint(clip * 32767).astype(np.int16)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_target(path) as temp:
                write_blocks(temp, [pcm], self.sample_rate, ".wav")
        except OSError as error:
            raise SpeechError(
                f"{path.parent}: cannot write the clip cache ({error.strerror}); "
                "set VOICE_COACH_CACHE to a writable folder"
            ) from None
        self.synthesised += 1

    def _synthesise(self, text: str) -> np.ndarray:
        engine = self._load_engine()
        handle, temp_name = tempfile.mkstemp(suffix=".wav")
        os.close(handle)
        try:
            # One save_to_file per runAndWait: the espeak driver keeps only the last
            # file queued in a loop. Its "Audio saved to ..." print is swallowed here.
            with contextlib.redirect_stdout(io.StringIO()):
                engine.save_to_file(text, temp_name)
                engine.runAndWait()
            if os.path.getsize(temp_name) == 0:
                raise SpeechError(f"the speech engine wrote nothing for {text[:60]!r}")
            return read_mono(temp_name, self.sample_rate)
        except RuntimeError as error:
            raise SpeechError(f"the speech engine failed on {text[:60]!r}: {error}") from None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)

    def _load_engine(self):
        if self._engine is None:
            engine = _init_engine()
            try:
                if self.voice:
                    engine.setProperty("voice", self.voice)
                engine.setProperty("rate", self.rate)
            except (ValueError, KeyError):
                raise SpeechError(
                    f"unknown voice '{self.voice}'; run `voice-coach voices` to list them"
                ) from None
            self._engine = engine
        return self._engine


def _init_engine():
    hint = INSTALL_HINT.get(sys.platform, "install a speech engine that pyttsx3 supports")
    try:
        import pyttsx3

        with contextlib.redirect_stdout(io.StringIO()):
            return pyttsx3.init()
    except Exception as error:  # pyttsx3 raises OSError, RuntimeError or ImportError here
        raise SpeechError(
            f"no speech engine could be started ({type(error).__name__}: {error}); {hint}"
        ) from None


def list_voices() -> list[Voice]:
    """The voices the installed pyttsx3 engine offers, sorted by id."""
    engine = _init_engine()
    voices = []
    for voice in engine.getProperty("voices"):
        languages = tuple(
            lang.decode(errors="replace") if isinstance(lang, bytes) else str(lang)
            for lang in (voice.languages or ())
        )
        voices.append(Voice(id=str(voice.id), name=str(voice.name), languages=languages))
    return sorted(voices, key=lambda voice: voice.id)
