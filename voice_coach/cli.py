"""The command line: thin click commands over the library. The only module importing click.

Library errors become one line on stderr and an exit code (1 for failures, 2
for usage errors); Ctrl-C stops with exit code 130 and no traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import math
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from .errors import ExportError, OutputClosedError, RoutineError, Terminated, VoiceCoachError
from .routine import SOUND_SETS
from .terminal import shown

#: Exit codes of a run stopped by Ctrl-C (SIGINT) and by SIGTERM: 128 plus the signal.
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _echo(message: str = "", err: bool = False, nl: bool = True) -> None:
    """Print ``message`` as one line, made safe for a terminal (see :func:`terminal.shown`):
    names and values from files and the command line may hold escape sequences, and line
    breaks, which would print a line of their own ("wrote x" then a forged error)."""
    click.echo(shown(message), err=err, nl=nl)


def _echo_text(text: str, nl: bool = True) -> None:
    """Print ``text`` of several lines (a timeline, a routine, a schedule, a schema) to
    stdout, each line made safe for a terminal as :func:`_echo` makes one."""
    click.echo("\n".join(shown(line) for line in text.split("\n")), nl=nl)


class _Output:
    """The CLI's standard output: a write that fails (stdout closed, a full disk, a reader
    gone) raises :class:`OutputClosedError`, so a command that exists to print cannot end
    with exit code 0 having printed nothing."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write ``text``, or raise OutputClosedError."""
        return self._guarded(lambda stream: stream.write(text))

    def flush(self) -> None:
        """Flush, or raise OutputClosedError (a closed output has nothing to flush)."""
        if self._stream is not None:
            self._guarded(lambda stream: stream.flush())

    def isatty(self) -> bool:
        """Whether this is a terminal (never, once closed)."""
        try:
            return self._stream is not None and self._stream.isatty()
        except (OSError, ValueError):
            return False

    def _guarded(self, action):
        if self._stream is None:
            raise OutputClosedError(os.strerror(errno.EBADF))
        try:
            return action(self._stream)
        except BrokenPipeError as error:
            raise OutputClosedError(error.strerror or "broken pipe", broken_pipe=True) from None
        except (OSError, ValueError) as error:
            raise OutputClosedError(getattr(error, "strerror", None) or str(error)) from None

    def __getattr__(self, name: str):
        if self._stream is None:
            raise AttributeError(name)
        return getattr(self._stream, name)


class _Group(click.Group):
    """A group that reports voice-coach errors as one clean line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OutputClosedError as error:
            if not error.broken_pipe:
                _echo(f"voice-coach: {error}", err=True)
            ctx.exit(1)
        except VoiceCoachError as error:
            prefix = "" if isinstance(error, RoutineError) else "voice-coach: "
            _echo(f"{prefix}{error}", err=True)
            ctx.exit(error.exit_code)
        except click.UsageError as error:
            # One line, like every other error; the help is one flag away.
            where = error.ctx.command_path if error.ctx else "voice-coach"
            hint = f" (see {where} --help)" if error.ctx else ""
            _echo(f"{where}: {error.format_message()}{hint}", err=True)
            ctx.exit(error.exit_code)
        except Terminated:
            # SIGTERM (kill, timeout, systemd): cleaned up as for Ctrl-C.
            _echo("voice-coach: terminated.", err=True)
            ctx.exit(EXIT_TERMINATED)
        except KeyboardInterrupt:
            _echo("voice-coach: stopped.", err=True)
            ctx.exit(EXIT_INTERRUPTED)


class _Number(click.ParamType):
    """A finite number within a range: NaN and infinity pass click's FloatRange (every
    comparison with NaN is false), and would silently turn a limit off."""

    name = "number"

    def __init__(self, lowest: float, highest: float) -> None:
        self.lowest = lowest
        self.highest = highest

    def convert(self, value, param, ctx):
        if isinstance(value, float):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if not self.lowest <= number <= self.highest:
            self.fail(
                f"{number:g} is not in the range {self.lowest:g} to {self.highest:g}", param, ctx
            )
        return number

    def get_metavar(self, param, ctx=None) -> str:
        return f"[{self.lowest:g} to {self.highest:g}]"


def _speech_options(command):
    options = [
        click.option(
            "--engine",
            type=click.Choice(["piper", "pyttsx3"]),
            default=None,
            help="Speech engine: piper (natural, the default where installed) or pyttsx3.",
        ),
        click.option(
            "--voice",
            default=None,
            help="Voice id, name or language (see `voices`), or a Piper .onnx file.",
        ),
        click.option("--rate", type=click.IntRange(60, 400), default=None, help="Words a minute."),
        click.option("--deeper", is_flag=True, help="Also speak each step's deeper variant."),
        click.option(
            "--quiet", is_flag=True, help="Chimes and countdown only: no names or instructions."
        ),
        click.option(
            "--pan/--no-pan",
            default=None,
            help="Stereo: left-side cues left, right-side cues right (default: the config's).",
        ),
        click.option(
            "--countdown",
            type=_Countdown(),
            default=None,
            help="Spoken countdown: the last N seconds, off, or every:N (every:N,last:M).",
        ),
        click.option(
            "--sounds",
            type=click.Choice(SOUND_SETS),
            default=None,
            help="The sound set, over the routine's and the config's.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _music_options(command):
    """--music and its levels: for commands that render the routine (export, play, remind)."""
    options = [
        click.option(
            "--music",
            multiple=True,
            metavar="FILE|FOLDER",
            help="Music under the cues (repeatable): WAV, FLAC, Ogg, Opus or MP3 files, or a "
            "folder played in name order; looped, ducked under every cue. Over the "
            "config's and the routine's.",
        ),
        click.option(
            "--no-music", is_flag=True, help="No music, whatever the config and routine say."
        ),
        click.option(
            "--duck",
            type=_Number(0, 40),
            default=None,
            help="How far the music drops under each cue, in dB (default 12).",
        ),
        click.option(
            "--music-level",
            type=_Number(-40, 0),
            default=None,
            help="The music against the voice between cues, in dB (default -8).",
        ),
        click.option(
            "--music-hold-level",
            type=_Number(-40, 0),
            default=None,
            help="The music through holds, in dB against its level (default 0).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _music_settings(music: tuple[str, ...], no_music: bool, **levels) -> dict[str, Any]:
    """The music options as Settings changes: --no-music is music=()."""
    if music and no_music:
        raise click.UsageError("--music and --no-music contradict each other; give one")
    chosen: tuple[str, ...] | None = () if no_music else (music or None)
    return {"music": chosen, **levels}


class _Countdown(click.ParamType):
    """--countdown: 5, off, every:5 or every:10,last:3; checked, passed on as the YAML
    form (5, "off", {"every": 5})."""

    name = "N|off|every:N"

    def convert(self, value, param, ctx):
        from .routine import setting_value

        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text.isascii() and text.isdigit():
            raw = int(text)
        elif text.startswith("every"):
            parts = dict(part.partition(":")[::2] for part in text.split(","))
            try:
                if not all(number.strip().isascii() for number in parts.values()):
                    raise ValueError("only the digits 0 to 9")
                raw = {key.strip(): int(number) for key, number in parts.items()}
            except ValueError:
                self.fail(f"{value!r} is not like every:5 or every:10,last:3", param, ctx)
        else:
            raw = text
        try:
            setting_value("countdown", raw)
        except ValueError as error:
            self.fail(str(error).replace("every: N", "every:N"), param, ctx)
        return raw


_audio_option = click.option(
    "--audio",
    type=click.Choice(["portaudio", "simpleaudio"]),
    default=None,
    help="Play through PortAudio (the default) or simpleaudio (used by itself where "
    "PortAudio is missing; the simpleaudio extra).",
)


def _settings(speech: dict, **more):
    """The user's config, with this command's flags (those given) over it."""
    from .config import load_config

    return load_config().as_settings().but(**speech, **more)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="voice-coach", prog_name="voice-coach")
def cli() -> None:
    """Offline, voice-guided stretching routines.

    ROUTINE is a built-in name (see `voice-coach list`) or a routine YAML file.
    """


@cli.command("list")
def list_command() -> None:
    """List the built-in routines."""
    from .routine import builtin_names, load_routine

    names = builtin_names()
    width = max(map(len, names)) + 2
    for name in names:
        routine = load_routine(name)
        _echo(f"{name:<{width}}{routine.name} ({len(routine.steps)} steps)")


def _chart_path(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """--chart's FILE, checked before any speech is made: it must end in .png or .svg."""
    if value is None:
        return None
    from .chart import chart_format

    try:
        chart_format(value)
    except VoiceCoachError as error:
        raise click.BadParameter(str(error), ctx, param) from None
    return value


@cli.command()
@click.argument("routine")
@click.option(
    "--chart",
    "chart_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    callback=_chart_path,
    help="Draw the timeline as a picture instead: FILE.png or FILE.svg (the chart extra).",
)
@_speech_options
def show(routine: str, chart_path: str | None, **speech) -> None:
    """Print ROUTINE's timeline of cues as a table, with the total time.

    With --chart FILE, draw the timeline as a picture instead and print "wrote FILE".
    """
    from .pipeline import prepare
    from .routine import load_routine

    settings = _settings(speech)
    loaded = load_routine(routine)
    if chart_path is None:
        from .script import format_script

        _echo_text(format_script(prepare(loaded, settings, stream_clips=True).script))
        return
    from .atomic import check_distinct, check_target
    from .chart import draw_chart, require_matplotlib

    # Before the speech is made, so a missing extra or a bad target is reported at once.
    require_matplotlib()
    check_target(chart_path)
    check_distinct([("--chart", chart_path)], _inputs(loaded, settings))
    program = prepare(loaded, settings, stream_clips=True)
    draw_chart(program.script, chart_path, title=program.routine.name)
    _echo(f"wrote {chart_path}")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=True))
@_speech_options
def check(file: str, **speech) -> None:
    """Validate a routine FILE, reporting every problem at once.

    Also warns of cues that do not fit their slot (they would be left out).
    """
    from .routine import find_problems, routine_text
    from .script import clock

    problems = find_problems(*routine_text(file))
    if problems:
        for problem in problems:
            _echo(str(problem), err=True)
        if len(problems) > 1:
            _echo(f"{file}: {_count(len(problems), 'problem')}", err=True)
        sys.exit(1)
    from .pipeline import prepare
    from .routine import load_routine

    program = prepare(load_routine(file), _settings(speech), stream_clips=True)
    script = program.script
    for note in script.notes:
        _echo(f"{file}: warning: {note}")
    _echo(
        f"{file}: ok · {_count(len(script.steps), 'step')} · "
        f"{_count(len(script.holds), 'hold')} · "
        f"{clock(script.duration)}"
    )


@cli.command()
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write.")
def new(name: str, output: str | None) -> None:
    """Write a commented routine template called NAME (to NAME.yaml by default)."""
    from .atomic import atomic_target, check_target
    from .template import routine_template, template_file_name

    path = Path(output or template_file_name(name))
    check_target(path)
    if os.path.lexists(path):
        raise click.UsageError(f"{path} already exists; choose another name or -o FILE")
    try:
        with atomic_target(path) as temp:
            Path(temp).write_text(routine_template(name), encoding="utf-8")
    except OSError as error:
        raise ExportError(f"{path}: cannot write the file ({error.strerror})") from None
    _echo(f"wrote {path}; edit it, then run: voice-coach check {path}")


@cli.group()
def config() -> None:
    """Your settings: defaults for every routine.

    A TOML file holding voice, rate, volume, countdown, sounds and pan. They
    override a routine's own settings; command-line flags override them.
    """


@config.command("path")
def config_path_command() -> None:
    """Print where the config file is (it need not exist yet)."""
    from .config import config_path

    _echo(str(config_path()))


@config.command("show")
def config_show() -> None:
    """Print the settings in effect and where each comes from."""
    from .config import CONFIG_KEYS, load_config

    loaded = load_config()
    state = "" if loaded.exists else " (not created yet; see `voice-coach config init`)"
    _echo(f"# {loaded.path}{state}")
    for key in CONFIG_KEYS:
        if key in loaded.settings:
            _echo(f"{key} = {_toml_value(loaded.settings[key])}  # from the config")
        else:
            _echo(f"# {key}: not set; the routine's or voice-coach's default applies")


@config.command("init")
def config_init() -> None:
    """Create the config file with every setting commented out."""
    from .atomic import atomic_target
    from .config import config_path, config_template
    from .errors import ConfigError

    path = config_path()
    if os.path.lexists(path):
        raise click.UsageError(f"{path} already exists; edit it, or delete it first")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_target(path) as temp:
            Path(temp).write_text(config_template(), encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        if isinstance(error, FileExistsError | NotADirectoryError):
            reason = "a file stands where one of its folders should be"
        raise ConfigError(f"cannot write the config ({reason})", str(path)) from None
    _echo(f"wrote {path}")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return str(value)


_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".m4a", ".m4b")


class _Loudness(click.ParamType):
    """A loudness target in LUFS, or "off"."""

    name = "LUFS|off"

    def convert(self, value, param, ctx):
        if value is None or isinstance(value, float):
            return value
        if str(value).lower() == "off":
            return None
        try:
            target = float(value)
        except ValueError:
            self.fail(f"{value!r} is not a number of LUFS (such as -16) or 'off'", param, ctx)
        if not -70 <= target <= -5:
            self.fail(f"{target:g} LUFS is outside -70 to -5", param, ctx)
        return target


@cli.command()
@click.argument("routines", metavar="ROUTINE...", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Audio file (.wav .flac .ogg .opus .mp3 .m4a .m4b), or a folder for several routines.",
)
@click.option(
    "-f",
    "--format",
    "file_format",
    type=click.Choice([suffix[1:] for suffix in _AUDIO_SUFFIXES]),
    help="Format of the files written into a folder (default: mp3).",
)
@click.option("--timeline", type=click.Path(), help="Also write the timeline JSON here.")
@click.option(
    "--captions",
    type=click.Path(),
    help="Also write captions: FILE.vtt or FILE.srt, or just vtt or srt beside the audio.",
)
@click.option(
    "--split",
    type=click.Path(file_okay=False),
    help="Also write one track per step into this folder, with an .m3u playlist.",
)
@click.option(
    "--loudness",
    type=_Loudness(),
    default="-16",
    show_default=True,
    help="Integrated loudness target in LUFS, or off to keep the player's levels.",
)
@click.option(
    "--true-peak",
    type=_Number(-20, 0),
    default=-1.0,
    show_default=True,
    help="Highest true peak in dBTP.",
)
@click.option(
    "--quality",
    type=_Number(0, 10),
    help="0 (smallest) to 10 (best), for ogg, opus, mp3, m4a and m4b. Default: the encoder's.",
)
@_speech_options
@_music_options
def export(
    routines: tuple[str, ...],
    output: str | None,
    file_format: str | None,
    timeline: str | None,
    captions: str | None,
    split: str | None,
    loudness: float | None,
    true_peak: float,
    quality: float | None,
    music: tuple[str, ...],
    no_music: bool,
    duck: float | None,
    music_level: float | None,
    music_hold_level: float | None,
    **speech,
) -> None:
    """Render ROUTINE to an audio file, tagged, with a chapter per step and side.

    Several ROUTINEs go into the folder -o names, exported in parallel. With --music,
    your music plays under the coach, lowered under every cue.
    """
    from .exporter import ExportSettings

    settings = _settings(
        speech,
        **_music_settings(music, no_music, duck=duck, music_level=music_level,
                          music_hold_level=music_hold_level),
    )  # fmt: skip
    export_settings = ExportSettings(loudness=loudness, true_peak=true_peak, quality=quality)
    # A folder: several routines, a trailing slash, or an existing folder not named
    # like an audio file (-o out.wav where out.wav is a folder is a mistake to report).
    into_folder = output is not None and (
        len(routines) > 1
        or output.endswith(("/", os.sep))
        or (os.path.isdir(output) and Path(output).suffix.lower() not in _AUDIO_SUFFIXES)
    )
    if output is None and split is None:
        raise click.UsageError("give -o FILE (or -o FOLDER/ for several routines), or --split")
    if into_folder or len(routines) > 1:
        if output is None:
            raise click.UsageError("several routines need -o FOLDER/")
        for name, value in (("--timeline", timeline), ("--split", split)):
            if value:
                raise click.UsageError(f"{name} works with one routine; export them one by one")
        _export_into_folder(
            routines, Path(output), file_format or "mp3", captions, settings, export_settings
        )
        return
    _export_one(
        routines[0], output, file_format, timeline, captions, split, settings, export_settings
    )


def _export_one(
    routine, output, file_format, timeline, captions, split, settings, export_settings
) -> None:
    from .exporter import Targets, audio_extension, export_routine
    from .routine import load_routine
    from .script import clock

    extension = audio_extension(output) if output else f".{file_format or 'mp3'}"
    if file_format and output and extension != f".{file_format}":
        raise click.UsageError(f"-f {file_format} does not match {output}; drop one of them")
    _check_quality(extension, export_settings)
    captions = _captions_path(captions, output)
    targets = Targets(
        audio=_path(output),
        timeline=_path(timeline),
        captions=_path(captions),
        split=_path(split),
        split_extension=extension,
    )
    with _ProgressBar("exporting") as bar:
        done = export_routine(
            load_routine(routine),
            targets,
            settings,
            export_settings,
            inputs=_config_input(),
            progress=bar.part("exporting"),
            speech_progress=bar.part("speaking"),
        )
    seconds = done.program.script.duration
    if output:
        _report(f"wrote {output}", seconds, done.levels)
    if split:
        tracks = [path for path in done.written if path.parent == Path(split)]
        _echo(f"wrote {len(tracks) - 1} tracks and {tracks[-1]} ({clock(seconds)})")
        if done.replaced:
            _echo(
                f"voice-coach: note: replaced {_count(len(done.replaced), 'track')} "
                f"already in {split}",
                err=True,
            )
        if not output:  # with -o these went with the single file
            for path in (timeline, captions):
                if path:
                    _echo(f"wrote {path}")


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _inputs(routine, settings) -> list[tuple[str, Path]]:
    """What a command reads, which none of its outputs may replace: the routine's files
    (see :func:`pipeline.input_files`) and the user's config."""
    from .pipeline import input_files

    return [*input_files(routine, settings.voice, settings), *_config_input()]


def _config_input() -> list[tuple[str, Path]]:
    from .config import config_path

    config = config_path()
    return [("your config file", config)] if os.path.isfile(config) else []


def _export_into_folder(
    routines, folder: Path, file_format, captions, settings, export_settings
) -> None:
    from .atomic import check_distinct, check_target
    from .batch import BatchJob, export_batch
    from .errors import ExportError
    from .routine import load_routine

    extension = f".{file_format}"
    _check_quality(extension, export_settings)
    if captions not in (None, "vtt", "srt"):
        raise click.UsageError("with several routines, give --captions vtt or --captions srt")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise click.UsageError(f"{folder} is a file; -o needs a folder for several routines")
    jobs = []
    inputs: list[tuple[str, Path]] = []
    for routine in routines:
        # A routine file is named after its file's stem, a built-in after its name.
        is_file = os.path.isfile(routine) or routine.lower().endswith((".yaml", ".yml"))
        audio = folder / f"{Path(routine).stem if is_file else routine}{extension}"
        jobs.append(
            BatchJob(routine, audio, audio.with_suffix(f".{captions}") if captions else None)
        )
        # A routine that does not load: its job reports it, without stopping the others.
        with contextlib.suppress(VoiceCoachError):
            inputs += _inputs(load_routine(routine), settings)
    if len({job.audio for job in jobs}) < len(jobs):
        raise click.UsageError("two routines would write the same file; export them one by one")
    if os.path.isdir(folder):
        for job in jobs:
            for path in (job.audio, job.captions):
                if path is not None:
                    check_target(path)
    outputs: list[tuple[str, Path | None]] = [
        (f"the export of {job.routine}", job.audio) for job in jobs
    ]
    outputs += [(f"the captions of {job.routine}", job.captions) for job in jobs]
    check_distinct(outputs, inputs)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"{folder}: cannot make the folder ({error.strerror})") from None
    failed = 0
    with _ProgressBar("exporting", total=len(jobs)) as bar:

        def done(result) -> None:
            nonlocal failed
            bar.clear()
            for warning in result.warnings:
                _echo(f"voice-coach: warning: {warning}", err=True)
            if result.error:
                failed = max(failed, result.exit_code)
                _echo(result.error, err=True)
            else:
                _report(f"wrote {result.job.audio}", result.seconds, result.levels)
            bar.advance()

        export_batch(jobs, settings, export_settings, on_done=done)
    if failed:
        sys.exit(failed)


def _check_quality(extension: str, settings) -> None:
    from .audiofile import FORMATS

    if settings.quality is not None and not FORMATS[extension].lossy:
        lossy = [name[1:] for name, kind in FORMATS.items() if kind.lossy]
        raise click.UsageError(
            f"--quality applies to {', '.join(lossy[:-1])} and {lossy[-1]}, not {extension[1:]}"
        )


def _captions_path(captions: str | None, output: str | None) -> str | None:
    """``--captions vtt`` or ``srt`` means a file beside the audio, with its name."""
    if captions in ("vtt", "srt"):
        if not output:
            raise click.UsageError("--captions vtt needs -o FILE; or give the captions' file name")
        return str(Path(output).with_suffix(f".{captions}"))
    return captions


def _report(what: str, seconds: float, levels) -> None:
    from .script import clock

    details = [clock(seconds)]
    if levels.loudness is not None:
        details.append(f"{levels.loudness:.1f} LUFS")
    _echo(f"{what} ({', '.join(details)})")
    for note in levels.notes:
        _echo(f"voice-coach: note: {note}", err=True)


class _ProgressBar:
    """A progress bar on stderr, shown only on a terminal and once work passes a second."""

    DELAY_SECONDS = 1.0

    def __init__(self, label: str, total: int = 0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.bar: Any = None
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.finish()

    def update(self, done: int, total: int) -> None:
        """Progress callback: ``done`` of ``total`` units; a count that goes back is the
        next part of the work (split tracks after the single file), with a bar of its own."""
        if done < self.done:
            self.restart()
        self.total = total
        self._show(done)

    def part(self, label: str) -> Callable[[int, int], None]:
        """A progress callback for one part of the work (speaking, then exporting): the
        first update of another part ends the bar and starts one with its label. Once
        the work has passed its first second, each new bar shows at once."""

        def update(done: int, total: int) -> None:
            if label != self.label:
                self.finish()
                self.label = label
                self.done = 0
            self.update(done, total)

        return update

    def advance(self) -> None:
        """One more unit done (for counted work such as batch jobs)."""
        self._show(self.done + 1)

    def _show(self, done: int) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            if time.monotonic() - self.started < self.DELAY_SECONDS:
                self.done = done
                return
            self.bar = click.progressbar(
                length=max(1, self.total), label=self.label, file=sys.stderr, width=30
            )
            self.bar.render_progress()
        self.bar.update(done - self.done)
        self.done = done

    def clear(self) -> None:
        """Wipe the bar's line, so other output can be written cleanly."""
        if self.bar is not None:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()

    def restart(self) -> None:
        """Finish this bar; the next update starts a new one (after the usual delay)."""
        self.finish()
        self.started = time.monotonic()
        self.done = 0

    def finish(self) -> None:
        """Take the bar off the screen."""
        if self.bar is not None:
            self.clear()
            self.bar = None


@cli.command()
@click.argument("routine")
@_speech_options
@click.option(
    "--volume",
    type=_Number(0, 200),
    default=None,
    help="Starting volume in percent, 100 by default (+ and - change it while playing).",
)
@click.option("--plain", is_flag=True, help="One line per cue, for screen readers and logs.")
@_audio_option
@click.option(
    "--from-article",
    is_flag=True,
    help="ROUTINE is an article (text, Markdown or HTML, or - for stdin): import it first.",
)
@click.option(
    "--listen",
    is_flag=True,
    help='Obey spoken commands on the microphone: "coach pause", "coach resume", '
    '"coach next", "coach back", "coach repeat" (the listen extra).',
)
@_music_options
@click.option(
    "--duck-others",
    is_flag=True,
    help="Lower other apps' sound (PulseAudio or PipeWire) under every cue; restored "
    "after each, and on exit (the duck extra).",
)
def play(
    routine: str,
    volume: float,
    plain: bool,
    audio: str | None,
    from_article: bool,
    listen: bool,
    music: tuple[str, ...],
    no_music: bool,
    duck: float | None,
    music_level: float | None,
    music_hold_level: float | None,
    duck_others: bool,
    **speech,
) -> None:
    """Play ROUTINE through the sound device.

    Keys while playing: space pause/resume, n or right arrow next step, p or left
    arrow previous step, r repeat the side, + and - volume, q quit. Ctrl-C stops.
    """
    from .player import play_routine

    if listen:  # before anything plays: a missing extra is one line and exit 1
        from .listen import require_pocketsphinx

        require_pocketsphinx()
    levels = {"duck": duck, "music_level": music_level, "music_hold_level": music_hold_level}
    play_routine(
        _load(routine, from_article),
        _settings(speech, volume=volume, audio=audio, **_music_settings(music, no_music, **levels)),
        routine_ref=routine,
        plain=plain or None,
        listen=listen,
        duck_others=duck_others,
    )


def _load(reference: str, from_article: bool = False):
    """The routine ``reference`` names: a built-in, a file, or an article to import."""
    from .routine import load_routine, parse_routine

    if from_article:
        return parse_routine(_import_article(reference), reference)
    return load_routine(reference)


class _Schedule(click.ParamType):
    """``--every`` or ``--between``, parsed by ``remind``; a bad value is a usage error."""

    def __init__(self, name: str, parser: str) -> None:
        self.name = name
        self.parser = parser

    def convert(self, value, param, ctx):
        from . import remind

        if not isinstance(value, str):
            return value
        try:
            return getattr(remind, self.parser)(value)
        except remind.ScheduleError as error:
            self.fail(str(error), param, ctx)


class _RemindCommand(click.Command):
    """Keeps the arguments as typed, so that --print hands `play` the same options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["voice_coach.arguments"] = list(args)
        return super().parse_args(ctx, args)


@cli.command(cls=_RemindCommand)
@click.argument("routine")
@click.option(
    "--every",
    type=_Schedule("INTERVAL", "parse_interval"),
    required=True,
    help="How often: 30m, 2h, 1h30m (1 minute to 24 hours).",
)
@click.option(
    "--between",
    type=_Schedule("HH:MM-HH:MM", "parse_window"),
    help="Daily window, such as 09:00-17:00 or 22:00-02:00 (default: all day).",
)
@click.option(
    "--print",
    "print_as",
    type=click.Choice(["cron", "systemd"]),
    help="Print crontab lines or systemd units that play ROUTINE at these times, and exit.",
)
@_speech_options
@_music_options
@click.option(
    "--volume",
    type=_Number(0, 200),
    default=None,
    help="Volume in percent of the prompt and the routine, 100 by default.",
)
@click.option("--plain", is_flag=True, help="One line per cue, for screen readers and logs.")
@_audio_option
@click.pass_context
def remind(
    ctx: click.Context,
    routine: str,
    every,
    between,
    print_as: str | None,
    volume: float | None,
    plain: bool,
    audio: str | None,
    music: tuple[str, ...],
    no_music: bool,
    duck: float | None,
    music_level: float | None,
    music_hold_level: float | None,
    **speech,
) -> None:
    """Remind you to do ROUTINE: at each time speak a prompt, then play it.

    Runs in the foreground until Ctrl-C. Reminders fall on the window's start and
    every interval after it, up to and including its end. Any key within 10 seconds
    of the prompt skips that time; q while the routine plays ends that round.
    """
    from .remind import ALL_DAY, Schedule, cron_text, remind_in_foreground, systemd_text, unit_name

    # Loaded as `play` loads it; a bad routine fails now, not at the first reminder.
    loaded = _load(routine)
    levels = {"duck": duck, "music_level": music_level, "music_hold_level": music_hold_level}
    settings = _settings(
        speech, volume=volume, audio=audio, **_music_settings(music, no_music, **levels)
    )
    schedule = Schedule(every, between or ALL_DAY)
    if print_as is not None:
        command = [*_voice_coach_command(), *_play_arguments(ctx, routine)]
        if print_as == "cron":
            # cron jobs lack the session's XDG_RUNTIME_DIR, where the sound server listens.
            runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
            text = cron_text(
                schedule, command, title=loaded.name, environment={"XDG_RUNTIME_DIR": runtime_dir}
            )
        else:
            text = systemd_text(schedule, command, title=loaded.name, unit=unit_name(routine))
        _echo_text(text, nl=False)
        return
    remind_in_foreground(
        loaded,
        schedule,
        settings,
        routine_ref=routine,
        plain=plain or None,
        report=_echo,
        warn=lambda message: _echo(f"voice-coach: warning: {message}", err=True),
    )


def _voice_coach_command() -> list[str]:
    """How a scheduler starts this voice-coach: the running script's absolute path,
    else the one on PATH, else this Python with ``-m voice_coach``."""
    import shutil

    script = Path(sys.argv[0])
    if script.name == "voice-coach" and script.is_file():
        return [str(script.absolute())]
    found = shutil.which("voice-coach")
    if found:
        return [str(Path(found).absolute())]
    return [sys.executable, "-m", "voice_coach"]


def _play_arguments(ctx: click.Context, routine: str) -> list[str]:
    """The `play` command line a scheduler runs: the routine (a file by its absolute
    path: cron and systemd start in another folder) and, as typed, every option given
    that `play` takes too."""

    def by_name(command: click.Command) -> dict[str, click.Option]:
        return {
            name: param
            for param in command.params
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
        }

    given, shared = by_name(ctx.command), by_name(cli.commands["play"])
    arguments = ["play", str(Path(routine).absolute()) if os.path.exists(routine) else routine]
    words = iter(ctx.meta["voice_coach.arguments"])
    for word in words:
        if word == "--":
            break
        name, has_value, value = word.partition("=")
        option = given.get(name)
        if option is None:  # ROUTINE
            continue
        if not (option.is_flag or option.count or has_value):
            value = next(words, "")
        if name not in shared:  # --every, --between, --print
            continue
        if name == "--voice" and os.path.isfile(value):  # a Piper voice file
            value = str(Path(value).absolute())
        arguments += [name, value] if not (option.is_flag or option.count) else [name]
    return arguments


@cli.command()
def voices() -> None:
    """List the installed voices of both engines (use an id with --voice)."""
    from .speech import list_voices

    for voice in list_voices():
        _echo(f"{voice.engine:<8} {voice.id:<28} {voice.name:<32} {', '.join(voice.languages)}")


@cli.command("import")
@click.argument("file")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write the YAML here (- for stdout)."
)
def import_command(file: str, output: str | None) -> None:
    """Turn a stretching article into a routine file.

    FILE is plain text, Markdown or a saved HTML page (- reads stdin). Values the
    article does not state are marked with a '# guessed' comment.
    """
    from .errors import ArticleError

    if output is not None and not _is_stdout(output):
        from .atomic import check_distinct, check_target

        check_target(output)
        check_distinct([("-o", output)], [] if file == "-" else [("the article", file)])
    text = _import_article(file)
    if output is None or _is_stdout(output):
        _echo_text(text, nl=False)
        return
    from .atomic import atomic_target

    try:
        with atomic_target(output) as temp:
            temp.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ArticleError(f"{output}: cannot write the file ({error.strerror})") from None
    _echo(f"wrote {output}; check it with: voice-coach check {output}")


#: Names of standard output as a file: written to directly, never replaced by a rename.
_STDOUT_NAMES = ("-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1")


def _is_stdout(output: str) -> bool:
    return output in _STDOUT_NAMES


def _import_article(file: str) -> str:
    """Read the article ``file`` (or stdin for ``-``) and return its routine YAML."""
    from .errors import ArticleError, InputFileError
    from .importer import MAX_ARTICLE_CHARS, decode_article, import_article
    from .inputs import read_input, too_large

    limit = 4 * MAX_ARTICLE_CHARS  # bytes: UTF-8 takes up to 4 a character
    if file == "-":
        try:
            data = sys.stdin.buffer.read(limit + 1)
        except (OSError, AttributeError, ValueError) as error:
            raise ArticleError(f"cannot read stdin ({error})") from None
        if len(data) > limit:
            raise ArticleError(f"stdin: {too_large('article', limit)}; save the article's text")
    else:
        try:
            data = read_input(file, limit, "article")
        except InputFileError as error:
            raise ArticleError(str(error)) from None
    return import_article(decode_article(data), "stdin" if file == "-" else file)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of routine files (for editors; see the README)."""
    import json

    from .routine import routine_schema

    _echo_text(json.dumps(routine_schema(), indent=2))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Library warnings (such as a cache that cannot be written) as one line each."""
    _echo(f"voice-coach: warning: {message}", err=True)


def _on_sigterm(signum, frame) -> None:
    raise Terminated


def main() -> None:
    """Entry point of the ``voice-coach`` console script."""
    warnings.showwarning = _show_warning
    # SIGTERM (kill, timeout, systemd) takes Ctrl-C's path: temp files removed,
    # the terminal restored, batch workers stopped; exit code 143.
    signal.signal(signal.SIGTERM, _on_sigterm)
    sys.stdout = _Output(sys.stdout)
    try:
        result = cli(prog_name="voice-coach", standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except click.exceptions.Abort as error:
        terminated = isinstance(error.__context__, Terminated)
        _echo(f"voice-coach: {'terminated' if terminated else 'stopped'}.", err=True)
        code = EXIT_TERMINATED if terminated else EXIT_INTERRUPTED
    except click.ClickException as error:  # found before a command runs: one line too
        _echo(f"voice-coach: {error.format_message()} (see voice-coach --help)", err=True)
        code = error.exit_code
    try:
        sys.stdout.flush()
    except OutputClosedError as error:
        if not error.broken_pipe and code == 0:
            _echo(f"voice-coach: {error}", err=True)
        code = code or 1
    # The flushed stdout is left alone at exit: a closed or broken one would only
    # be complained about again by the interpreter.
    sys.stdout = None
    _exit(code)


def _exit(code: int) -> NoReturn:
    """End the process with ``code``: the exit functions run (temp folders removed,
    finalizers called), then the process ends without the interpreter's teardown.

    Freeing every module (numpy, the audio libraries) took 30 to 40 ms of each run, a
    tenth of a warm export, and frees nothing the OS would not: every file is closed by
    now. A thread still running (none should be) gets the usual exit, which waits for it.
    """
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(code)


__all__ = ["cli", "main"]
