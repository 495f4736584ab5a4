"""How a routine sounds for this user and this run: one value, and the rules that apply it.

A :class:`~voice_coach.routine.Routine` keeps what its author wrote. :class:`Settings`
keep what the user asked for: the config file's settings, with the command line's (or a
Python caller's) over them. The two meet only in :func:`voice_coach.pipeline.prepare`,
through the functions here, which are the only place each rule is written:

* :func:`applied` gives the routine as it will be spoken: the countdown and sound set
  asked for, over the routine's own (its own sound files are kept);
* :func:`voice_for`, :func:`rate_for` and :func:`volume_for` choose the voice, the pace
  and the starting volume: the command line's first, then the config's (its voice only
  for routines in that voice's language), then the routine's, then voice-coach's;
* :func:`music_for` and :func:`music_levels` choose the music under the cues and its
  levels, in the same order.

Pure: no I/O, no clock, no environment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .phrases import base_language, language_of_voice
from .routine import Routine, Sounds, setting_value

#: The speech engines, by the names ``--engine`` takes.
ENGINES = ("piper", "pyttsx3")
#: The ways to play live, by the names ``--audio`` takes: PortAudio (through
#: sounddevice) first, simpleaudio where PortAudio cannot be loaded.
AUDIO_BACKENDS = ("portaudio", "simpleaudio")
#: Words a minute when nothing sets a rate: a little slower than eSpeak's 200, for
#: following with eyes closed.
DEFAULT_RATE = 165
#: Playing volume in percent when nothing sets one.
DEFAULT_VOLUME = 100.0
#: The music's levels in dB when nothing sets them: the drop under each cue, the level
#: against the voice between cues, and through holds against that.
DEFAULT_DUCK = 12.0
DEFAULT_MUSIC_LEVEL = -8.0
DEFAULT_HOLD_LEVEL = 0.0


@dataclass(frozen=True)
class Settings:
    """The user's settings for one run; None means "not set": the routine's own value, or
    voice-coach's default, applies.

    Values are checked when the Settings are made (``ValueError`` says what is wrong,
    as the routine loader would). Make them directly, or with :meth:`from_config` and
    :meth:`but`::

        >>> Settings(rate=150, countdown=3).rate
        150
        >>> Settings.from_config({"voice": "en-us", "pan": True}).but(pan=False).pan
        False
    """

    #: "piper" or "pyttsx3"; None: Piper where it is installed.
    engine: str | None = None
    #: A voice asked for on the command line (or by a caller): always used.
    voice: str | None = None
    #: The config file's voice: used for routines in its language (a routine in German
    #: is not read by the English voice a user prefers), else the routine's own choice.
    preferred_voice: str | None = None
    #: Words a minute, 60 to 400.
    rate: int | None = None
    #: Starting volume in percent, 0 to 200.
    volume: float | None = None
    #: The countdown of every step, as the routine format writes it: a number of last
    #: seconds, "off", or {"every": N, "last": M}.
    countdown: Any = None
    #: A built-in sound set, over the routine's (whose own sound files stay).
    sounds: str | None = None
    #: Stereo: left-side cues in the left ear, right-side cues in the right.
    pan: bool | None = None
    #: Also speak each step's deeper variant.
    deeper: bool = False
    #: Chimes and the countdown only: no names or instructions.
    quiet: bool = False
    #: How live playback reaches the sound device: "portaudio" or "simpleaudio";
    #: None: PortAudio, or simpleaudio where PortAudio cannot be loaded.
    audio: str | None = None
    #: Music files and folders under the cues, over the routine's (() for none); paths
    #: as the user gave them.
    music: tuple[str, ...] | None = None
    #: How far the music drops under each cue, in dB.
    duck: float | None = None
    #: The music against the voice between cues, in dB.
    music_level: float | None = None
    #: The music through holds, in dB against its level between cues.
    music_hold_level: float | None = None

    def __post_init__(self) -> None:
        if self.engine is not None and self.engine not in ENGINES:
            raise ValueError(
                f"unknown speech engine {self.engine!r}; choose {' or '.join(ENGINES)}"
            )
        if self.audio is not None and self.audio not in AUDIO_BACKENDS:
            raise ValueError(
                f"unknown playback {self.audio!r}; choose {' or '.join(AUDIO_BACKENDS)}"
            )
        for key, value in (
            ("voice", self.voice),
            ("voice", self.preferred_voice),
            ("rate", self.rate),
            ("volume", self.volume),
            ("countdown", self.countdown),
            ("sounds", self.sounds),
            ("music", self.music),
            ("duck", self.duck),
            ("music_level", self.music_level),
            ("music_hold_level", self.music_hold_level),
        ):
            if value is not None:
                setting_value(key, value)
        if self.music is not None and not isinstance(self.music, tuple):
            object.__setattr__(self, "music", setting_value("music", self.music))
        if self.sounds is not None and not isinstance(self.sounds, str):
            raise ValueError("'sounds' in the settings is a set name, such as bell")

    @classmethod
    def from_config(cls, settings: Mapping[str, Any]) -> Settings:
        """Settings from a config file's checked values (see :mod:`voice_coach.config`)."""
        known = dict(settings)
        return cls(
            preferred_voice=known.get("voice"),
            rate=known.get("rate"),
            volume=known.get("volume"),
            countdown=known.get("countdown"),
            sounds=known.get("sounds"),
            pan=known.get("pan"),
            audio=known.get("audio"),
            music=known.get("music"),
            duck=known.get("duck"),
            music_level=known.get("music_level"),
            music_hold_level=known.get("music_hold_level"),
        )

    def but(self, **changes: Any) -> Settings:
        """These settings with ``changes`` over them; a change of None changes nothing
        (a flag not given keeps the config's value)."""
        given = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given)


def applied(routine: Routine, settings: Settings) -> Routine:
    """``routine`` as it will be spoken with ``settings``: their countdown on every step
    and their sound set, over the routine's own. A countdown that does not fit a short
    hold only loses numbers (the script engine notes which), as the routine's own
    would have been refused."""
    if settings.countdown is not None:
        last, every = setting_value("countdown", settings.countdown)
        steps = tuple(
            dataclasses.replace(step, countdown=last, countdown_every=every)
            for step in routine.steps
        )
        routine = dataclasses.replace(routine, steps=steps)
    if settings.sounds is not None:
        chosen = Sounds(set=settings.sounds, custom=routine.sounds.custom)
        routine = dataclasses.replace(routine, sounds=chosen)
    return routine


def voice_for(routine: Routine, settings: Settings) -> str | None:
    """The voice that reads ``routine``: the one asked for; else the config's, if it
    speaks the routine's language; else the routine's own; else one that speaks its
    language (by its code); else None, the engine's default."""
    if settings.voice:
        return settings.voice
    if settings.preferred_voice and _speaks(settings.preferred_voice, routine.language):
        return settings.preferred_voice
    return routine.voice or routine.language


def rate_for(routine: Routine, settings: Settings) -> int:
    """Words a minute: the settings', else the routine's, else :data:`DEFAULT_RATE`."""
    return settings.rate or routine.rate or DEFAULT_RATE


def volume_for(routine: Routine, settings: Settings) -> float:
    """The starting volume as a fraction (1 is as rendered): the settings', else the
    routine's, else :data:`DEFAULT_VOLUME`, in percent over 100."""
    for percent in (settings.volume, routine.volume):
        if percent is not None:
            return percent / 100
    return DEFAULT_VOLUME / 100


def music_for(routine: Routine, settings: Settings) -> tuple[str, ...] | None:
    """The music the settings ask for (files and folders as the user gave them; () for
    none), or None: the routine's own (:attr:`Routine.music`, beside its file)."""
    return settings.music


def music_levels(routine: Routine, settings: Settings) -> tuple[float, float, float]:
    """The music's level against the voice, its drop under cues and its level through
    holds, in dB: each the settings', else the routine's, else voice-coach's."""

    def first(*values: float | None) -> float:
        return next(value for value in values if value is not None)

    return (
        first(settings.music_level, routine.music_level, DEFAULT_MUSIC_LEVEL),
        first(settings.duck, routine.duck, DEFAULT_DUCK),
        first(settings.music_hold_level, routine.music_hold_level, DEFAULT_HOLD_LEVEL),
    )


def _speaks(voice: str, language: str | None) -> bool:
    """Whether ``voice`` may read a routine in ``language``: when either is unknown, yes."""
    spoken = language_of_voice(voice)
    return language is None or spoken is None or spoken == base_language(language)
