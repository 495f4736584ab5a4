"""Ties the core to its edges: a Routine, spoken and chimed, becomes a Program.

A Program is a compiled Script plus the audio of every cue; the live player and
every exporter render it through the same mixer, so they play the same audio.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .audiofile import read_mono, stored_checksum
from .ducking import FADE_OUT_SECONDS, MusicMix
from .errors import RoutineError, UnknownVoiceError, VoiceCoachError, VoiceWarning, no_voice_for
from .mixer import DEFAULT_BLOCK_SAMPLES, ClipKey, Mixer, render_blocks
from .music import MusicBed, music_files
from .phrases import language_of_voice
from .routine import Routine
from .script import (
    CHIME,
    SPEECH,
    Script,
    check_phrase_budget,
    compile_script,
    player_phrases,
    spoken_phrases,
)
from .settings import Settings, applied, music_levels, rate_for, voice_for
from .sounds import PEAK, load_sound_file, load_sound_set, resolve_sound_path
from .speech import PEAK_LIMIT, Progress, Speaker


@dataclass(frozen=True)
class Program:
    """A routine ready to render: its Script and the audio of each cue."""

    routine: Routine
    script: Script
    clips: Mapping[ClipKey, np.ndarray]
    #: The Speaker that made the speech clips (the live player speaks its own cues, and
    #: prepares the rest of a routine, with it).
    speaker: Speaker = field(compare=False, repr=False)
    #: Stereo, with left-side cues in the left ear and right-side cues in the right.
    pan: bool = False
    #: Music under the cues, or None; its levels, and its gain at its level (the
    #: routine's speech level with the music's level against it).
    music: MusicBed | None = field(default=None, compare=False, repr=False)
    mix: MusicMix = field(default_factory=MusicMix)
    music_gain: float = 1.0

    @property
    def channels(self) -> int:
        """1 for mono, 2 when panned."""
        return 2 if self.pan else 1

    def mixer(self) -> Mixer:
        """A Mixer over this Program, for rendering any span."""
        return Mixer(
            self.script,
            self.clips,
            pan=self.pan,
            music=self.music,
            mix=self.mix,
            music_gain=self.music_gain,
        )

    def blocks(
        self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start_sample: int = 0, gain: float = 1.0
    ) -> Iterator[np.ndarray]:
        """The rendered audio as int16 blocks (see :func:`mixer.render_blocks`)."""
        return render_blocks(
            self.script,
            self.clips,
            block_samples=block_samples,
            start_sample=start_sample,
            pan=self.pan,
            gain=gain,
            mixer=self.mixer(),
        )


def prepare(
    routine: Routine,
    settings: Settings | None = None,
    *,
    speaker: Speaker | None = None,
    first_step_only: bool = False,
    stream_clips: bool = False,
    music: MusicBed | None = None,
    progress: Progress | None = None,
) -> Program:
    """Synthesise (or fetch from the cache) every clip, measure it, and compile the Script.

    Parameters
    ----------
    routine:
        The routine, as loaded.
    settings:
        The user's settings (config and flags; see :mod:`voice_coach.settings`): the
        voice, rate and engine, the countdown and sound set over the routine's own,
        ``deeper``, ``quiet`` and ``pan``. None: the routine as written.
    speaker:
        Speak with this Speaker instead of the one the routine and settings choose
        (the live player prepares the rest of a routine with its first step's).
    first_step_only:
        Prepare only the first step, as the opening of the whole routine (no "last
        set" sound, its rest kept): the live player starts with it while the rest is
        prepared.
    stream_clips:
        Leave the speech clips in the cache until the mixer asks for them (see
        :class:`CachedClips`): for exports, whose memory must not grow with the
        routine. The live player keeps them in memory, as its audio thread must
        never wait for a disk.
    music:
        Play this music (the live player prepares the rest of a routine with its
        first step's, which is already playing) instead of opening what the settings
        and the routine ask for.
    progress:
        Called with (clips made, clips to make) as missing clips are synthesised;
        never called when every clip is in the cache.

    The music (``settings.music``, else the routine's own beside its file) is opened
    here: a file that cannot be played raises :class:`InputFileError` (one line).
    The live player's own phrases (its lead-in after a pause) are synthesised too and
    land in ``Program.clips``, so any Program can be played. When no voice was asked
    for and none speaks the routine's language, a :class:`VoiceWarning` says so in one
    line and the default voice reads it.
    """
    settings = settings or Settings()
    options = (first_step_only, stream_clips, music, progress)
    if speaker is not None:
        return _prepare(routine, settings, speaker, *options)
    chosen = voice_for(routine, settings)
    try:
        return _prepare(routine, settings, speaker_for(routine, settings), *options)
    except UnknownVoiceError:
        # Only a voice picked by the routine's language gives way to the default voice.
        if chosen != routine.language or not routine.language:
            raise
    warnings.warn(no_voice_for(routine.language), VoiceWarning, stacklevel=2)
    fallback = Speaker(voice=None, rate=rate_for(routine, settings), engine=settings.engine)
    return _prepare(routine, settings, fallback, *options)


def speaker_for(routine: Routine, settings: Settings | None = None) -> Speaker:
    """The Speaker that reads ``routine`` with ``settings``: the voice and rate they and
    the routine choose (see :func:`settings.voice_for`), on the engine asked for."""
    settings = settings or Settings()
    return Speaker(
        voice=voice_for(routine, settings),
        rate=rate_for(routine, settings),
        engine=settings.engine,
    )


def _prepare(
    routine: Routine,
    settings: Settings,
    speaker: Speaker,
    first_step_only: bool,
    stream_clips: bool,
    music: MusicBed | None,
    progress: Progress | None,
) -> Program:
    whole = applied(routine, settings)
    # Opened before any synthesis: a bad music file is reported at once.
    if music is None:
        sources = music_sources(routine, settings)
        music = MusicBed(sources, speaker.sample_rate) if sources else None
    spoken = replace(whole, steps=whole.steps[:1]) if first_step_only else whole
    deeper, quiet = settings.deeper, settings.quiet
    # The cue phrases are in the routine's language, else in the voice's.
    language = routine.language or language_of_voice(speaker.voice)
    phrases = [
        *spoken_phrases(spoken, deeper=deeper, quiet=quiet, language=language),
        *player_phrases(language),
    ]
    phrases = list(dict.fromkeys(phrases))
    check_phrase_budget(routine, phrases)  # before any synthesis
    chime_gain, speech_gain = level_gains(routine)
    chimes = {
        name: (clip * chime_gain).astype(np.float32)
        for name, clip in routine_sounds(whole, speaker.sample_rate).items()
    }
    check_sounds_fit(
        spoken, {name: len(clip) for name, clip in chimes.items()}, speaker.sample_rate
    )
    clips: Mapping[ClipKey, np.ndarray]
    if stream_clips:
        files = speaker.clip_files(phrases, progress)
        lengths = {text: file.samples for text, file in files.items()}
        clips = CachedClips(
            {(SPEECH, text): file.path for text, file in files.items()},
            {(CHIME, name): clip for name, clip in chimes.items()},
            speaker.sample_rate,
            speech_gain,
        )
    else:
        speech = speaker.clips(phrases, progress)
        lengths = {text: len(clip) for text, clip in speech.items()}
        clips = {(SPEECH, text): _scaled(clip, speech_gain) for text, clip in speech.items()}
        clips.update({(CHIME, name): clip for name, clip in chimes.items()})
    script = compile_script(
        spoken,
        lengths,
        {name: len(clip) for name, clip in chimes.items()},
        speaker.sample_rate,
        deeper=deeper,
        quiet=quiet,
        language=language,
        continues=first_step_only and len(whole.steps) > 1,
    )
    level, duck, hold_level = music_levels(routine, settings)
    if music is not None and any(cue.role == "finish" for cue in script.cues):
        # Room after the finishing sound for the music to fade out.
        tail = round(FADE_OUT_SECONDS * speaker.sample_rate)
        script = replace(script, length_samples=script.length_samples + tail)
    return Program(
        routine=spoken,
        script=script,
        clips=clips,
        pan=bool(settings.pan),
        speaker=speaker,
        music=music,
        mix=MusicMix(level, duck, hold_level),
        music_gain=speech_gain * 10 ** (level / 20),
    )


def music_sources(routine: Routine, settings: Settings | None = None) -> list[Path]:
    """The music files and folders to play under ``routine``: the settings' (as given),
    else the routine's own, found beside its file and kept inside its folder (see
    :func:`sounds.resolve_sound_path`). Empty for none."""
    settings = settings or Settings()
    if settings.music is not None:
        return [Path(path) for path in settings.music]
    if not routine.music:
        return []
    source = Path(routine.source)
    if not os.path.isfile(source):
        raise RoutineError(
            "music is only found beside a routine file; save the routine as a .yaml file "
            "in the folder that holds it, or give --music",
            routine.source,
            routine.music[0].line,
        )
    return [
        resolve_sound_path(
            source.parent,
            music.path,
            source=routine.source,
            line=music.line,
            what="music",
            suffixes=None,
        )
        for music in routine.music
    ]


def level_gains(routine: Routine) -> tuple[float, float]:
    """The linear gains of the sounds and of speech for the routine's ``chime_level``
    and ``speech_level``.

    Their ratio is what the routine asks for; both are then scaled together so that
    the louder of the two peaks sits where it does at the default levels: a raised
    level never clips, and the levels only move against each other.
    """
    chime_gain = 10 ** (routine.chime_level / 20)
    speech_gain = 10 ** (routine.speech_level / 20)
    ceiling = max(PEAK, PEAK_LIMIT)
    loudest = max(PEAK * chime_gain, PEAK_LIMIT * speech_gain)
    scale = ceiling / loudest
    return chime_gain * scale, speech_gain * scale


def check_sounds_fit(routine: Routine, sound_samples: Mapping[str, int], sample_rate: int) -> None:
    """Refuse a hold shorter than the sound that starts it (a long custom sound, or the
    bell set's 1.1 s strike on a 1 s hold): the hold's cues would not fit in it."""
    opening = max(sound_samples["hold-start"], sound_samples["last-set"])
    for index, step in enumerate(routine.steps):
        if round(step.hold * sample_rate) < opening:
            raise RoutineError(
                f"step {index + 1} ({step.name}): its {step.hold:g} s hold is shorter than "
                f"the {opening / sample_rate:.1f} s sound that starts it; lengthen the hold "
                "or choose shorter sounds",
                routine.source,
            )


def routine_sounds(routine: Routine, sample_rate: int) -> dict[str, np.ndarray]:
    """The routine's sounds: its built-in set, with its own files in place of some.

    A routine's own files are looked for beside the routine file, and must stay
    in its folder (:func:`sounds.resolve_sound_path`); problems are reported at the
    line that names the file.
    """
    sounds = dict(load_sound_set(routine.sounds.set, sample_rate))
    if not routine.sounds.custom:
        return sounds
    source = Path(routine.source)
    if not os.path.isfile(source):
        line = routine.sounds.custom[0].line
        raise RoutineError(
            "sound files are only found beside a routine file; save the routine as a "
            ".yaml file in the folder that holds them",
            routine.source,
            line,
        )
    for custom in routine.sounds.custom:
        path = resolve_sound_path(
            source.parent, custom.path, source=routine.source, line=custom.line
        )
        try:
            sounds[custom.name] = load_sound_file(path, sample_rate)
        except RoutineError:
            raise
        except VoiceCoachError as error:
            raise RoutineError(
                f"sound '{custom.name}': {error}", routine.source, custom.line
            ) from None
    return sounds


def input_files(
    routine: Routine, voice: str | None = None, settings: Settings | None = None
) -> list[tuple[str, Path]]:
    """The files preparing ``routine`` reads, as (what, path) pairs: the routine file, its
    own sound files, a Piper voice file (``voice``, or the routine's, when a path) and
    the music files (``settings``', else the routine's; those of a folder too).

    An export checks its targets against these before any work: writing over one
    would destroy what the user had.
    """
    found: list[tuple[str, Path]] = []
    source = Path(routine.source)
    if os.path.isfile(source):
        found.append(("the routine file", source))
        for custom in routine.sounds.custom:
            path = resolve_sound_path(
                source.parent, custom.path, source=routine.source, line=custom.line
            )
            found.append((f"the routine's '{custom.name}' sound", path))
    for chosen in (voice, routine.voice):
        if chosen and chosen.casefold().endswith(".onnx"):
            found += [
                ("the voice file", Path(chosen)),
                ("the voice's config", Path(f"{chosen}.json")),
            ]
    with contextlib.suppress(VoiceCoachError):  # preparing reports a bad one
        found += [("a music file", path) for path in music_files(music_sources(routine, settings))]
    return found


def _scaled(clip: np.ndarray, gain: float) -> np.ndarray:
    return clip if gain == 1.0 else (clip * np.float32(gain)).astype(np.float32)


class CachedClips(Mapping[ClipKey, np.ndarray]):
    """Clips read from their cache files when first asked for; the last few stay loaded.

    The mixer walks the timeline in order, so a handful of loaded clips serve it
    while memory stays the same for a ten-minute routine and a two-hour one (KEEP
    is enough for the few mixers an MP3's parts run at once, each near its own place).
    """

    KEEP = 8

    def __init__(
        self,
        files: Mapping[ClipKey, Path],
        resident: Mapping[ClipKey, np.ndarray],
        sample_rate: int,
        gain: float = 1.0,
    ) -> None:
        self._gain = gain
        self._files = dict(files)
        self._resident = dict(resident)
        self._loaded: OrderedDict[ClipKey, np.ndarray] = OrderedDict()
        self._sample_rate = sample_rate
        self._lock = threading.Lock()  # mixers in several threads (an MP3's parts) share it

    def __getitem__(self, key: ClipKey) -> np.ndarray:
        if key in self._resident:
            return self._resident[key]
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key]
            clip = _scaled(read_mono(self._files[key], self._sample_rate), self._gain)
            self._loaded[key] = clip
            if len(self._loaded) > self.KEEP:
                self._loaded.popitem(last=False)
            return clip

    def __iter__(self) -> Iterator[ClipKey]:
        yield from self._resident
        yield from self._files

    def fingerprint(self) -> str:
        """A digest of every clip's content as the mixer gets it (the cached clips by the
        checksum in their files, the resident ones by their samples, and the gain): two
        CachedClips with the same fingerprint render the same audio."""
        digest = hashlib.sha256(repr((self._gain, self._sample_rate)).encode())
        for key in sorted(self._files):
            digest.update(repr(key).encode() + stored_checksum(self._files[key]))
        for key in sorted(self._resident):
            digest.update(repr(key).encode() + np.ascontiguousarray(self._resident[key]).tobytes())
        return digest.hexdigest()

    def __len__(self) -> int:
        return len(self._resident) + len(self._files)
