"""Speech: phrases to trimmed, levelled clips through one of two engines, with a disk cache.

The engines: ``pyttsx3`` (the OS voices: eSpeak NG, SAPI5, NSSpeechSynthesizer),
always there, and ``piper`` (neural voices, see neural.py), the default where it
is installed. Nothing past this module knows which engine made a clip.

This is the only module that imports pyttsx3. Clips are cached in the user
cache folder, one WAV per phrase, named by a hash of everything that changes
the sound (engine, voice, and for Piper the model file's hash, rate, text,
processing version and a digest of the code that makes clips), and written
atomically so a crash never leaves a broken clip behind.

Missing clips are made by short-lived worker processes (``voice_coach._speech_worker``)
that set the voice and rate once, before their first phrase. pyttsx3 drives eSpeak NG
asynchronously and keeps one engine per process: changing the rate or voice between
phrases in one process, or reading a file before the driver has finished with it, gave
empty or mis-paced clips here. A process per voice and rate is immune to both, and a
process whose clips are all cached never loads an engine. During an export the process
that asks speaks too, on the same terms (see :func:`speaking_here`). ``neural`` (Piper,
and through it onnxruntime) is imported only where Piper is used.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import functools
import hashlib
import io
import json
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .atomic import atomic_target
from .audiofile import checked_clip_frames, read_mono, resample, write_clip_wav
from .errors import CacheWarning, SpeechError, UnknownVoiceError
from .loudness import limit_peaks
from .script import SAMPLE_RATE
from .settings import DEFAULT_RATE

if TYPE_CHECKING:
    import subprocess

#: Called as clips are made with (clips done, clips to make).
Progress = Callable[[int, int], None]

PYTTSX3 = "pyttsx3"
PIPER = "piper"
ENGINES = (PYTTSX3, PIPER)
#: Bump when the trimming or levelling below changes, so old cached clips are not reused.
CLIP_FORMAT = 5
#: The modules whose code decides a clip's samples. Their digest is part of every
#: clip's cache key, so a change to any of them (a forgotten CLIP_FORMAT bump, another
#: checkout sharing the cache) can never serve a clip made by other code.
CLIP_MAKERS = ("speech", "_speech_worker", "neural", "audiofile", "loudness", "filters")

#: A sample counts as sound above this level (about -46 dBFS).
TRIM_THRESHOLD = 0.005
#: Kept before the first and after the last loud sample, so soft consonants survive.
TRIM_PAD_SECONDS = 0.003
FADE_SECONDS = 0.002
#: Speech is levelled to this RMS over its sounding part (about -14 dBFS) ...
TARGET_RMS = 0.2
#: ... then its peaks are limited to this (about -4.4 dBFS). eSpeak's voice is
#: spiky (peaks 19 dB over its loudness); 10 dB of peak-to-RMS leaves a program
#: that reaches -16 LUFS with its true peak under -1 dBTP, the podcast norm.
PEAK_LIMIT = 0.6
#: Tries per phrase before an empty result counts as a failure.
SYNTHESIS_ATTEMPTS = 3
#: Longest wait for one phrase, in seconds.
SYNTHESIS_TIMEOUT = 60

#: Longest piece of text an engine is given at once, in characters. Piper's memory
#: grows with the length of what it says in one go (about 0.85 MB a character here:
#: 2,000 characters with no full stop took 1.6 GB), so longer text is cut into
#: pieces, at sentence ends where it can be, and the pieces' audio joined.
MAX_PIECE_CHARS = 100
#: Quiet added between the pieces of a long phrase, in seconds: a clause's pause.
PIECE_GAP_SECONDS = 0.12

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
    engine: str = PYTTSX3


def default_engine() -> str:
    """Piper where it is installed (a natural voice), else pyttsx3 (the OS voices)."""
    from . import neural

    return PIPER if neural.available() else PYTTSX3


@functools.cache
def clip_code_digest() -> str:
    """A short digest of the source of the modules that make clips (``CLIP_MAKERS``)."""
    digest = hashlib.sha256()
    folder = Path(__file__).parent
    for name in CLIP_MAKERS:
        source = folder / f"{name}.py"
        digest.update(name.encode() + b"\0")
        with contextlib.suppress(OSError):  # a module shipped only as bytecode
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


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
    it is heard. Short fades at both ends keep the cuts click-free. Works in
    float32 with few temporaries: a long instruction is minutes of audio.
    """
    loud = np.abs(samples) > TRIM_THRESHOLD
    if not loud.any():
        return np.zeros(0, dtype=np.float32)
    first, last = int(loud.argmax()), len(loud) - 1 - int(loud[::-1].argmax())
    pad = round(TRIM_PAD_SECONDS * sample_rate)
    start, stop = max(0, first - pad), last + pad + 1
    clip = np.array(samples[start:stop], dtype=np.float32)
    sounding = clip[loud[start:stop]]
    # A plain sum of squares, not np.dot: BLAS's threads made that dot product take
    # 20-90 ms a clip on a busy machine (0.04 ms this way).
    rms = float(np.sqrt(np.square(sounding, dtype=np.float64).sum() / sounding.size))
    del sounding, loud
    clip *= np.float32(TARGET_RMS / rms)
    clip = limit_peaks(clip, PEAK_LIMIT, sample_rate)
    fade = min(round(FADE_SECONDS * sample_rate), clip.size // 2)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        clip[:fade] *= ramp
        clip[-fade:] *= ramp[::-1]
    return clip


#: Characters of phrases synthesised together (in parallel) before their clips are
#: stored and their audio let go: many short cues at once, long instructions one by one.
BATCH_CHARS = 400


def _batches(phrases: list[str], most_chars: int) -> Iterator[list[str]]:
    """``phrases`` in order, in batches of at most ``most_chars`` characters (a longer
    phrase alone)."""
    batch: list[str] = []
    size = 0
    for text in phrases:
        if batch and size + len(text) > most_chars:
            yield batch
            batch, size = [], 0
        batch.append(text)
        size += len(text)
    if batch:
        yield batch


#: Where a long text may be cut, best first: after a sentence, after a clause, at a space.
_CUTS = (("!", "?", ".", "\u2026", ";", ":"), (",", "\u2013", "\u2014", ")"), (" ",))


def speech_pieces(text: str, limit: int = MAX_PIECE_CHARS) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, for the engines.

    Text within the limit is one piece, unchanged. Longer text is cut after the last
    sentence end that leaves a piece within the limit, else after the last clause mark,
    else at the last space, else (one endless word) at the limit itself.
    """
    pieces = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = 0
        for marks in _CUTS:
            cut = max((window.rfind(mark + " ") + len(mark) for mark in marks), default=-1)
            if cut > 0:
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        pieces.append(rest)
    return [piece for piece in pieces if piece] or [text]


def join_pieces(pieces: list[np.ndarray], sample_rate: int) -> np.ndarray:
    """The raw audio of a phrase's pieces, in order, with a clause's pause between them."""
    if len(pieces) == 1:
        return pieces[0]
    gap = np.zeros(round(PIECE_GAP_SECONDS * sample_rate), dtype=np.float32)
    joined: list[np.ndarray] = []
    for piece in pieces:
        joined += [piece.astype(np.float32), gap]
    return np.concatenate(joined[:-1])


@dataclass(frozen=True)
class ClipFile:
    """A cached clip: its 16-bit mono WAV file and its length in samples."""

    path: Path
    samples: int


class Speaker:
    """Speaks phrases with one voice and rate, through the clip cache.

    Parameters
    ----------
    voice:
        A voice id, name or language code from :func:`list_voices`, or None for
        the engine's default.
    rate:
        Speaking rate in words per minute.
    cache_dir:
        Where clips are cached; defaults to :func:`default_cache_dir`.
    """

    def __init__(
        self,
        voice: str | None = None,
        rate: int = DEFAULT_RATE,
        cache_dir: Path | None = None,
        engine: str | None = None,
    ) -> None:
        if not 60 <= rate <= 400:
            raise SpeechError(f"speech rate {rate} is out of range; use 60 to 400 words a minute")
        self.engine = engine or default_engine()
        if self.engine not in ENGINES:
            raise UnknownVoiceError(
                f"unknown speech engine '{self.engine}'; choose {' or '.join(ENGINES)}"
            )
        self.voice = voice
        self.rate = rate
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.sample_rate = SAMPLE_RATE
        self.synthesised = 0  # clips this Speaker had the engine make (not cache hits)
        self._temporary = False  # the cache folder is a temporary one of this run
        self._piper_voice = None
        self._voice_key: str | None = None
        if self.engine == PIPER:
            from . import neural

            try:
                self._piper_voice = neural.resolve_voice(voice)
            except UnknownVoiceError:
                # No engine was asked for and Piper has no such voice (say "de"): the
                # OS voices may have it. A voice file, or --engine piper, must be Piper.
                if engine is not None or neural.is_voice_file(voice):
                    raise
                self.engine = PYTTSX3

    def voice_key(self) -> str:
        """What identifies the voice in the cache: pyttsx3's voice id, or the Piper
        voice's name and model hash (a new model file makes new clips)."""
        if self._voice_key is None:
            if self._piper_voice is None:
                self._voice_key = self.voice or "default"
            else:
                from . import neural

                digest = neural.model_digest(self._piper_voice, self.cache_dir)
                self._voice_key = f"{self._piper_voice.name}:{digest}"
        return self._voice_key

    def cache_path(self, text: str) -> Path:
        """The cache file of ``text`` for this speaker's engine, voice and rate."""
        key = json.dumps(
            {
                "engine": self.engine,
                "voice": self.voice_key(),
                "rate": self.rate,
                "text": text,
                "format": CLIP_FORMAT,
                "code": clip_code_digest(),
                "sample_rate": self.sample_rate,
            },
            sort_keys=True,
        )
        return self.cache_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:40]}.wav"

    def clip(self, text: str) -> np.ndarray:
        """The trimmed, levelled clip of ``text`` as float32 mono."""
        return self.clips([text])[text]

    def clips(
        self, phrases: Iterable[str], progress: Progress | None = None
    ) -> dict[str, np.ndarray]:
        """Clips for every phrase, keyed by phrase; missing ones are synthesised first,
        with ``progress`` called as each is made."""
        files = self.clip_files(phrases, progress)
        return {text: read_mono(file.path, self.sample_rate) for text, file in files.items()}

    def clip_files(
        self, phrases: Iterable[str], progress: Progress | None = None
    ) -> dict[str, ClipFile]:
        """The cache file and length of every phrase's clip; missing ones are synthesised
        first, with ``progress`` called as each is made.

        Each file's checksum is verified (a clip damaged or cut short on disk is made
        again, silently), but no clip is kept in memory: a long routine's clips need
        not all sit in memory at once. A cache folder that cannot be written, or whose
        disk is full, is replaced by a temporary one for this run, with a warning.
        """
        unique = list(dict.fromkeys(phrases))
        try:
            return self._clip_files(unique, progress)
        except CacheWriteError as error:
            if self._temporary:
                raise SpeechError(
                    f"{self.cache_dir}: cannot write the clip cache ({error.reason}), even "
                    "in a temporary folder; free some disk space, or set VOICE_COACH_CACHE "
                    "to a folder on another disk"
                ) from None
            self._use_temporary_cache(error.reason)
            return self._clip_files(unique, progress)

    def _clip_files(self, unique: list[str], progress: Progress | None) -> dict[str, ClipFile]:
        missing = [text for text in unique if not self.cache_path(text).exists()]
        if missing and not self._cache_is_writable():
            missing = [text for text in unique if not self.cache_path(text).exists()]
        self._make(missing, progress)
        lengths = {
            text: checked_clip_frames(self.cache_path(text), self.sample_rate) for text in unique
        }
        damaged = [text for text, length in lengths.items() if length is None]
        if damaged:
            if self._cache_is_writable():
                for text in damaged:
                    with contextlib.suppress(OSError):
                        self.cache_path(text).unlink(missing_ok=True)
            self._make(damaged)
            for text in damaged:
                lengths[text] = checked_clip_frames(self.cache_path(text), self.sample_rate)
        files = {}
        for text in unique:
            length = lengths[text]
            if length is None:
                raise SpeechError(
                    f"{self.cache_path(text)}: the speech engine wrote an unreadable clip"
                )
            files[text] = ClipFile(self.cache_path(text), length)
        return files

    def _cache_is_writable(self) -> bool:
        """Check the cache folder takes new clips; if not, switch to a temporary one for
        this run, with a warning. Returns whether the folder was kept."""
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.cache_dir, prefix=".probe-"):
                pass
            return True
        except OSError as error:
            self._use_temporary_cache(error.strerror or str(error))
            return False

    def _use_temporary_cache(self, reason: str) -> None:
        """Carry on with a temporary cache folder, removed at exit, and say why once."""
        fallback = Path(tempfile.mkdtemp(prefix="voice-coach-clips-"))
        atexit.register(shutil.rmtree, fallback, ignore_errors=True)
        warnings.warn(
            f"{self.cache_dir}: cannot write the clip cache ({reason}); "
            f"using {fallback} for this run (set VOICE_COACH_CACHE to a writable folder)",
            CacheWarning,
            stacklevel=3,
        )
        self.cache_dir = fallback
        self._temporary = True

    def _make_with_piper(self, phrases: list[str]) -> None:
        """Synthesise ``phrases`` with Piper, in parallel, into the cache."""
        voice = self._piper_voice
        if voice is None:
            raise SpeechError("this Speaker has no Piper voice")
        from . import neural

        scale = neural.length_scale(self.rate, DEFAULT_RATE)
        pieces = {text: speech_pieces(text) for text in phrases}
        every_piece = [piece for parts in pieces.values() for piece in parts]
        audio, rate = neural.synthesise(voice, every_piece, scale)
        for text in phrases:
            raw = join_pieces([audio.pop(piece) for piece in pieces[text] if piece in audio], rate)
            if rate != SAMPLE_RATE:
                raw = resample(raw, rate, SAMPLE_RATE)
            clip = trim_and_level(raw, SAMPLE_RATE)
            del raw
            if not clip.size:
                raise SpeechError(f"the Piper voice made no sound for {text[:60]!r}")
            store_clip(self.cache_path(text), clip)
            self.synthesised += 1

    def _make(self, phrases: list[str], progress: Progress | None = None) -> None:
        """Synthesise ``phrases`` into the cache: Piper in this process, pyttsx3 in
        worker processes, one per core at most, each with its own share of them."""
        if not phrases:
            return
        if self._piper_voice is not None:
            done = 0
            for batch in _batches(phrases, BATCH_CHARS):
                self._make_with_piper(batch)
                done += len(batch)
                if progress:
                    progress(done, len(phrases))
            return
        here = (
            _speaking_here.get()
            and threading.current_thread() is threading.main_thread()
            and _engine_fits(self.voice, self.rate)
        )
        work = [(text, self.cache_path(text)) for text in phrases]
        _speak_all(self.voice, self.rate, work, progress, here)
        self.synthesised += len(phrases)


#: The speech worker's exit code when it cannot write the cache (EX_TEMPFAIL).
CACHE_WRITE_EXIT = 75


class CacheWriteError(SpeechError):
    """A clip could not be written into the cache (a full disk, a read-only folder)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Speech workers run at once, at most (and no more than the cores this process may use).
MAX_WORKERS = 8
#: Characters of speech worth a speaker (a worker, or this process) of their own.
WORKER_CHARS = 200
#: What a worker prints on stdout as each clip lands in the cache.
DONE_LINE = "done"


#: What a speech worker's environment adds (the user's own values win): one BLAS thread,
#: as the workers are already one per core and do no matrix work; numpy's import in
#: each worker otherwise started a thread per core that spun for CPU the others needed.
_WORKER_ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1"}


def _speaker_count(phrases: list[str]) -> int:
    """Speakers for ``phrases`` (workers, and this process when it speaks too): one per
    core, one per WORKER_CHARS of text, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS or Windows
        cores = os.cpu_count() or 1
    chars = sum(len(text) for text in phrases)
    return max(1, min(cores, MAX_WORKERS, len(phrases), -(-chars // WORKER_CHARS)))


#: Set while an export prepares its clips (see :func:`speaking_here`).
_speaking_here: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "speaking_here", default=False
)


@contextlib.contextmanager
def speaking_here() -> Iterator[None]:
    """Within this block, the main thread speaks missing pyttsx3 clips itself, beside
    the worker processes, instead of waiting for them.

    A worker's start (Python, numpy, the engine) costs a cold export about as long as
    eSpeak takes for a whole short routine; the process that asks has all that loaded
    already. Only the main thread speaks (the macOS and Windows engines need it), only
    where this process's engine is unused or set to the same voice and rate (see the
    module notes), and only an export asks: the live player's audio thread shares its
    process, and a worker keeps the engine's work away from it.
    """
    token = _speaking_here.set(True)
    try:
        yield
    finally:
        _speaking_here.reset(token)


def _shares(phrases: list[str], count: int, head_start: int = 0) -> list[list[str]]:
    """``phrases`` dealt into ``count`` shares, each in the phrases' own order, to end
    at about the same time: longest first, each to the share that ends soonest, every
    share but the first starting ``head_start`` characters late (so a share may be
    empty). The same phrases always give the same shares: eSpeak's sound for a phrase
    depends on what its process said before it, so the deal must not depend on timing.
    """
    sizes = [0] + [head_start] * (count - 1)
    owner: dict[str, int] = {}
    for text in sorted(phrases, key=len, reverse=True):
        share = sizes.index(min(sizes))
        owner[text] = share
        sizes[share] += len(text)
    shares: list[list[str]] = [[] for _ in range(count)]
    for text in phrases:
        shares[owner[text]].append(text)
    return shares


#: How late a worker starts, in characters: its start (Python, numpy, the engine) takes
#: about as long as eSpeak NG takes to say this much (scripts/bench export, cold).
WORKER_START_CHARS = 600


def _speak_all(
    voice: str | None,
    rate: int,
    work: list[tuple[str, Path]],
    progress: Progress | None,
    here: bool,
) -> None:
    """Speak each (phrase, cache file) of ``work`` into the cache, reporting each clip
    made: in worker processes, one per core at most, each with its own share, and with
    ``here`` in this thread too, whose share is larger by what a worker's start costs.

    If a worker fails, the others are stopped and its error raised. If this process
    is interrupted (Ctrl-C, SIGTERM) meanwhile, the workers are asked to stop with
    SIGTERM, so they remove their temp files, and killed only if they do not.
    """
    import subprocess  # only a cold cache starts workers: warm runs skip loading it

    paths = dict(work)
    phrases = list(paths)
    speakers = _speaker_count(phrases)
    if here:
        own, *shares = _shares(phrases, speakers, WORKER_START_CHARS)
    else:
        own, shares = [], _shares(phrases, speakers)
    events: queue.Queue = queue.Queue()
    processes = []
    done = running = 0

    def handle(kind: str, value) -> None:
        nonlocal done, running
        if kind == DONE_LINE:
            done += 1
            if progress:
                progress(done, len(phrases))
            return
        running -= 1
        if value[0] != 0:
            raise _worker_error(*value)

    try:
        for share in filter(None, shares):
            request = json.dumps(
                {
                    "voice": voice,
                    "rate": rate,
                    "cache": [str(paths[text]) for text in share],
                    "phrases": share,
                }
            )
            process = subprocess.Popen(
                [sys.executable, "-m", "voice_coach._speech_worker"],
                env=_WORKER_ENVIRONMENT | os.environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            processes.append(process)
            running += 1
            threading.Thread(
                target=_follow_worker, args=(process, request, events), daemon=True
            ).start()
        if own:
            engine = _ready_engine(voice, rate)
            for text in own:
                _speak_into_cache(engine, text, paths[text])
                handle(DONE_LINE, None)
                while not events.empty():  # the workers' clips so far, or a failure
                    handle(*events.get())
        while running:
            handle(*events.get())
    finally:
        for process in processes:
            _stop(process)


def _follow_worker(process: subprocess.Popen, request: str, events: queue.Queue) -> None:
    """Hand ``process`` its request, then pass on each clip it reports, then its end."""
    assert process.stdin and process.stdout and process.stderr
    try:
        process.stdin.write(request)
        process.stdin.close()
    except OSError:
        pass  # it died at once; its stderr says why
    for line in process.stdout:
        if line.strip() == DONE_LINE:
            events.put((DONE_LINE, None))
    stderr = process.stderr.read()
    events.put(("exit", (process.wait(), stderr)))


def _worker_error(returncode: int, stderr: str) -> SpeechError:
    """The error a worker's exit code and last line of stderr stand for."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    message = lines[-1] if lines else "the speech worker failed with no message"
    if returncode == CACHE_WRITE_EXIT:
        return CacheWriteError(message)
    kind = UnknownVoiceError if returncode == 2 else SpeechError
    return kind(message)


def _stop(process: subprocess.Popen) -> None:
    """End a worker that is still running: SIGTERM, then a kill after 5 s."""
    import subprocess

    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def synthesise_into_cache(
    voice: str | None,
    rate: int,
    phrases: list[str],
    cache_paths: list[Path],
    on_done: Callable[[], object] | None = None,
) -> None:
    """Synthesise each phrase with this process's engine and write its cache file,
    calling ``on_done`` after each (see _ready_engine for the engine)."""
    engine = _ready_engine(voice, rate)
    for text, path in zip(phrases, cache_paths, strict=True):
        _speak_into_cache(engine, text, path)
        if on_done:
            on_done()


def _speak_into_cache(engine, text: str, path: Path) -> None:
    """Speak ``text`` with ``engine`` (from _ready_engine), trim and level it, and
    write it as the cache file ``path``."""
    for _attempt in range(SYNTHESIS_ATTEMPTS):
        raw = [_synthesise(engine, piece) for piece in speech_pieces(text)]
        clip = trim_and_level(join_pieces(raw, SAMPLE_RATE), SAMPLE_RATE)
        if clip.size:
            break
    else:
        raise SpeechError(f"the speech engine made no sound for {text[:60]!r}")
    store_clip(path, clip)


#: The (voice, rate) this process's engine was set to, once it was.
_engine_setting: tuple[str | None, int] | None = None


def _ready_engine(voice: str | None, rate: int):
    """This process's one engine, set to ``voice`` and ``rate``.

    The first call fixes them (see the module notes): a later call must ask for the
    same, which :func:`_engine_fits` tells.
    """
    global _espeak_rate, _engine_setting
    engine = _init_engine()
    if _engine_setting is None:
        engine.setProperty("voice", _resolve_voice(engine, voice))
        engine.setProperty("rate", rate)
        if "pyttsx3.drivers._espeak" in sys.modules:
            _espeak_rate = rate
        _engine_setting = (voice, rate)
    elif _engine_setting != (voice, rate):
        raise SpeechError("this process's speech engine speaks another voice or rate")
    return engine


def _engine_fits(voice: str | None, rate: int) -> bool:
    """Whether this process's engine may speak ``voice`` at ``rate``: unused, or set so."""
    return _engine_setting is None or _engine_setting == (voice, rate)


def store_clip(path: Path, clip: np.ndarray) -> None:
    """Write a finished clip into the cache as 16-bit mono WAV, atomically."""
    pcm = np.rint(clip * 32767).astype(np.int16)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A clip another process wrote first is kept: each export reads its clips'
        # lengths and then their samples from the cache, which must not change between.
        with atomic_target(path, keep_existing=True) as temp:
            write_clip_wav(temp, pcm, SAMPLE_RATE)
    except OSError as error:
        raise CacheWriteError(error.strerror or str(error)) from None


def _synthesise(engine, text: str) -> np.ndarray:
    handle, temp_name = tempfile.mkstemp(suffix=".wav")
    os.close(handle)
    try:
        speakable = any(char.isalnum() for char in text)
        # Now and then, with another worker busy beside it, the driver reported a piece
        # done with no sound in its file (a sentence went missing from an instruction):
        # such a piece is spoken again. An unwritten file is still the empty one mkstemp made.
        for _ in range(UTTERANCE_ATTEMPTS):
            _speak_into(engine, text, temp_name)
            if os.path.getsize(temp_name) > 0:
                audio = read_mono(temp_name, SAMPLE_RATE)
                if audio.size or not speakable:
                    return audio
        raise SpeechError(f"the speech engine made no sound for {text[:60]!r}")
    except RuntimeError as error:
        raise SpeechError(f"the speech engine failed on {text[:60]!r}: {error}") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)


#: Utterances of one piece of text before the engine counts as failed.
UTTERANCE_ATTEMPTS = 3


def _speak_into(engine, text: str, path: str) -> None:
    """One utterance of ``text`` into the WAV file ``path``."""
    # One save_to_file per runAndWait: the espeak driver keeps only the last
    # file queued in a loop. Its "Audio saved to ..." print is swallowed here.
    _utterance_done.clear()
    _hold_espeak_rate()
    with contextlib.redirect_stdout(io.StringIO()):
        engine.save_to_file(text, path)
        engine.runAndWait()
        # runAndWait can return before the driver has written the file (its
        # loop ends early when commands were queued while it was busy), so
        # wait for the driver's own "finished-utterance" notice.
        if not _utterance_done.wait(SYNTHESIS_TIMEOUT):
            raise SpeechError(f"the speech engine did not finish {text[:60]!r}")
        _wait_until_idle(engine)


#: The words a minute this process's eSpeak NG must speak at (None: not the espeak driver).
_espeak_rate: int | None = None


def _hold_espeak_rate() -> None:
    """Make eSpeak NG's rate the one set, right before an utterance.

    pyttsx3 applies ``setProperty("rate")`` through its command queue; now and then a
    worker's clips came out at eSpeak's own 200 words a minute instead (a fifth
    shorter, the same text). eSpeak's own parameter call is synchronous, so it is set
    here, directly, before every utterance.
    """
    if _espeak_rate is None:
        return
    espeak = sys.modules.get("pyttsx3.drivers._espeak")
    if espeak is not None:  # (pyttsx3's GetParameter cannot ask for the current value)
        espeak.SetParameter(espeak.RATE, _espeak_rate, 0)


_engine = None
_default_voice: str | None = None
#: Set by the engine (from its own thread) when an utterance's file is written.
_utterance_done = threading.Event()


def _init_engine():
    """The process's one pyttsx3 engine, started on first use.

    pyttsx3 caches engines only weakly; a dropped engine leaves eSpeak calling
    back into a dead driver, so this module keeps the one engine alive.
    """
    global _engine, _default_voice
    if _engine is not None:
        return _engine
    hint = INSTALL_HINT.get(sys.platform, "install a speech engine that pyttsx3 supports")
    try:
        import pyttsx3

        with contextlib.redirect_stdout(io.StringIO()):
            engine = pyttsx3.init()
            _default_voice = str(engine.getProperty("voice") or "")
            engine.connect("finished-utterance", lambda **_: _utterance_done.set())
    except Exception as error:  # pyttsx3 raises OSError, RuntimeError or ImportError here
        raise SpeechError(
            f"no speech engine could be started ({type(error).__name__}: {error}); {hint}"
        ) from None
    _engine = engine
    _poll_quickly()
    # Drop the engine while the interpreter is still whole: pyttsx3's __del__
    # fails noisily if it only runs during shutdown.
    atexit.register(_release_engine)
    return engine


#: How often pyttsx3's eSpeak driver loop looks whether an utterance is done, in seconds.
DRIVER_POLL_SECONDS = 0.001


class _QuickPolls:
    """The ``time`` module as pyttsx3's eSpeak driver sees it, with shorter sleeps.

    The driver's loop sleeps 10 ms between looks at whether eSpeak has finished; a
    short phrase takes a few ms, so most of a worker's time went on those sleeps.
    Looking every millisecond gives the same samples (tests/test_speech.py) in less
    time (the cold export in ``scripts/bench export``).
    """

    def __getattr__(self, name: str):
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, DRIVER_POLL_SECONDS))


def _poll_quickly() -> None:
    """Give pyttsx3's eSpeak driver (if that is the driver) :class:`_QuickPolls`."""
    driver = sys.modules.get("pyttsx3.drivers.espeak")
    if driver is not None and getattr(driver, "time", None) is time:
        setattr(driver, "time", _QuickPolls())  # noqa: B010 (a module typing cannot see)


def _release_engine() -> None:
    global _engine
    _engine = None


def _wait_until_idle(engine) -> None:
    """Wait until the driver has fully wound down its last utterance.

    The espeak driver announces "finished-utterance" from eSpeak's thread, then
    still marks itself idle and ends its loop; a command sent in between runs
    on that thread or is cut short.
    """
    driver = getattr(engine.proxy, "_driver", None)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and (engine.isBusy() or getattr(driver, "_looping", False)):
        time.sleep(0.001)


def _resolve_voice(engine, wanted: str | None) -> str:
    """The engine's id of the voice ``wanted`` names (an id, a name or a language code)."""
    if wanted is None:
        return _default_voice or ""
    voices = _voices_of(engine)
    key = wanted.casefold()
    for matches in (
        lambda v: v.id.casefold() == key,
        lambda v: v.name.casefold() == key,
        lambda v: v.id.casefold().rsplit("/", 1)[-1] == key,
        lambda v: any(_language(lang) == _language(key) for lang in v.languages),
    ):
        found = [voice for voice in voices if matches(voice)]
        if found:
            return found[0].id
    raise UnknownVoiceError(f"unknown voice '{wanted}'; run `voice-coach voices` to list them")


def _language(code: str) -> str:
    """A language code in one spelling: "en_US", "en-us" and "EN-US" are the same."""
    return code.casefold().replace("_", "-")


def _voices_of(engine) -> list[Voice]:
    voices = []
    for voice in engine.getProperty("voices"):
        languages = tuple(
            lang.decode(errors="replace") if isinstance(lang, bytes) else str(lang)
            for lang in (voice.languages or ())
        )
        voices.append(Voice(id=str(voice.id), name=str(voice.name), languages=languages))
    return sorted(voices, key=lambda voice: voice.id)


def list_voices(engine: str | None = None) -> list[Voice]:
    """The voices of both engines (or of ``engine``): Piper's packaged voices first,
    then the pyttsx3 engine's, each sorted by id."""
    voices = []
    if engine in (None, PIPER):
        from . import neural

        voices += [
            Voice(id=voice.name, name=voice.model.stem, languages=(voice.language,), engine=PIPER)
            for voice in neural.installed_voices()
        ]
    if engine in (None, PYTTSX3):
        voices += _voices_of(_init_engine())
    return voices
