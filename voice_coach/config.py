"""The user's config: a TOML file of personal defaults in the platform's config folder.

It holds how routines sound for this user: voice, rate, volume, countdown style,
sounds, pan, music, and how live playback reaches the sound device (audio). Its
settings override a routine's own; command-line flags override it (see README.md,
"Settings"). ``VOICE_COACH_CONFIG`` names another file, for tests and for people who
keep several.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, InputFileError
from .inputs import read_input
from .routine import SOUND_SETS, setting_value
from .settings import AUDIO_BACKENDS, Settings

#: The keys a config file may hold, with what each one means.
CONFIG_KEYS = {
    "voice": "voice id, name or language (see `voice-coach voices`)",
    "rate": "words a minute, 60 to 400",
    "volume": "playing volume in percent, 0 to 200",
    "countdown": 'the last N seconds, "off", or { every = N } (optionally last = M)',
    "sounds": f"the sound set: {', '.join(SOUND_SETS)}",
    "pan": "true: left-side cues in the left ear, right-side cues in the right",
    "audio": 'how to play: "portaudio" or "simpleaudio" (default: PortAudio where it loads)',
    "music": 'music under the cues: a file or folder, or a list of them ("off": none)',
    "duck": "how far the music drops under each cue, in dB (0 to 40; 12 by default)",
    "music_level": "the music against the voice between cues, in dB (-40 to 0; -8)",
    "music_hold_level": "the music through holds, in dB against its level (-40 to 0; 0)",
}
CONFIG_ENV = "VOICE_COACH_CONFIG"
#: Largest config file read, in bytes: seven settings need a few hundred.
MAX_CONFIG_BYTES = 64 * 1024


@dataclass(frozen=True)
class Config:
    """The user's settings, checked, with the file they came from."""

    path: Path
    exists: bool
    #: The settings, checked, as written in the file.
    settings: dict[str, Any] = field(default_factory=dict)

    def as_settings(self) -> Settings:
        """These settings as a :class:`~voice_coach.settings.Settings` value, for flags
        to go over (``.but(...)``)."""
        return Settings.from_config(self.settings)


def config_path() -> Path:
    """Where the config file is: ``$VOICE_COACH_CONFIG``, or ``config.toml`` in the
    platform's config folder for voice-coach (platformdirs)."""
    chosen = os.environ.get(CONFIG_ENV)
    if chosen:
        return Path(chosen)
    from platformdirs import user_config_path

    return user_config_path("voice-coach", appauthor=False) / "config.toml"


def load_config(path: Path | None = None) -> Config:
    """Read and check the config file; a missing file is an empty config.

    Raises :class:`ConfigError` (FILE:LINE: what is wrong) for a file that is not
    TOML, has an unknown key, or a value out of range.
    """
    path = path or config_path()
    if not os.path.lexists(path):
        return Config(path=path, exists=False)
    try:
        raw = read_input(path, MAX_CONFIG_BYTES, "config file")
    except InputFileError as error:
        raise ConfigError(error.reason, str(path)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("the config is not UTF-8 text; save it as UTF-8", str(path)) from None
    import tomllib  # loaded only when there is a config file: most runs have none

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+)", str(error))
        line = int(found.group(1)) if found else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(error))
        raise ConfigError(
            f"this is not valid TOML ({reason}); write settings as key = value", str(path), line
        ) from None
    except ValueError:  # Python's own limit: integers of more than 4,300 digits
        long_number = re.search(r"\d{100,}", text)
        line = text[: long_number.start()].count("\n") + 1 if long_number else None
        raise ConfigError(
            "a number is thousands of digits long; write a setting such as rate = 170",
            str(path),
            line,
        ) from None
    settings: dict[str, Any] = {}
    for key, value in data.items():
        line = _line_of(text, key)
        if key not in CONFIG_KEYS:
            close = difflib.get_close_matches(key, CONFIG_KEYS, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(CONFIG_KEYS)}"
            raise ConfigError(f"unknown setting '{key}'; {hint}", str(path), line)
        _checked(key, value, str(path), line)
        if key == "music":
            # "~/Music" as a shell reads it; a relative path from the config's folder.
            music = setting_value("music", value)
            value = [str(path.parent / Path(item).expanduser()) for item in music]
        settings[key] = value
    return Config(path=path, exists=True, settings=settings)


def _checked(key: str, value: Any, source: str, line: int | None) -> Any:
    if key == "pan":
        if not isinstance(value, bool):
            raise ConfigError("'pan' must be true or false", source, line)
        return value
    if key == "audio":
        if value not in AUDIO_BACKENDS:
            raise ConfigError(
                f"'audio' must be {' or '.join(repr(name) for name in AUDIO_BACKENDS)}",
                source,
                line,
            )
        return value
    if key == "sounds" and not isinstance(value, str):
        # A routine's own sound files live beside it; the config only picks a set.
        raise ConfigError(
            f"'sounds' in the config is a set name: {', '.join(SOUND_SETS)}", source, line
        )
    try:
        return setting_value(key, value)
    except ValueError as error:
        raise ConfigError(str(error).replace("every: N", "{ every = N }"), source, line) from None


def _line_of(text: str, key: str) -> int | None:
    """The line where ``key`` is set (TOML's parser keeps no positions)."""
    pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return number
    return None


def config_template() -> str:
    """A commented config file with every setting, all commented out."""
    lines = [
        "# voice-coach settings: personal defaults for every routine.",
        "# A routine's own settings give way to these; command-line flags win over both.",
        "",
    ]
    examples = {
        "voice": '"en-us"',
        "rate": "170",
        "volume": "80",
        "countdown": "{ every = 5, last = 3 }",
        "sounds": '"woodblock"',
        "pan": "true",
        "audio": '"simpleaudio"',
        "music": '"~/Music/stretching"',
        "duck": "12",
        "music_level": "-8",
        "music_hold_level": "-6",
    }
    for key, meaning in CONFIG_KEYS.items():
        lines.append(f"# {key}: {meaning}")
        lines.append(f"# {key} = {examples[key]}")
    return "\n".join(lines) + "\n"
