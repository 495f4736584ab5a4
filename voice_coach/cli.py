"""The command line: thin click commands over the library. The only module importing click.

Library errors become one line on stderr and an exit code (1 for failures, 2
for usage errors); Ctrl-C stops with exit code 130 and no traceback.
"""

from __future__ import annotations

import os
import sys
import time
import warnings
from pathlib import Path

import click

from . import __version__
from .errors import RoutineError, VoiceCoachError


class _Group(click.Group):
    """A group that reports voice-coach errors as one clean line."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VoiceCoachError as error:
            prefix = "" if isinstance(error, RoutineError) else "voice-coach: "
            click.echo(f"{prefix}{error}", err=True)
            ctx.exit(error.exit_code)
        except click.UsageError as error:
            # One line, like every other error; the help is one flag away.
            where = error.ctx.command_path if error.ctx else "voice-coach"
            hint = f" (see {where} --help)" if error.ctx else ""
            click.echo(f"{where}: {error.format_message()}{hint}", err=True)
            ctx.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("voice-coach: stopped.", err=True)
            ctx.exit(130)


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
            "--pan", is_flag=True, help="Stereo: left-side cues left, right-side cues right."
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _prepare(routine_name: str, **speech):
    from .batch import SpeechOptions, prepare_routine

    return prepare_routine(routine_name, SpeechOptions(**speech))


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voice-coach")
def cli() -> None:
    """Offline, voice-guided stretching routines.

    ROUTINE is a built-in name (see `voice-coach list`) or a routine YAML file.
    """


@cli.command("list")
def list_command() -> None:
    """List the built-in routines."""
    from .routine import builtin_names, load_routine

    for name in builtin_names():
        routine = load_routine(name)
        click.echo(f"{name:<16} {routine.name} ({len(routine.steps)} steps)")


@cli.command()
@click.argument("routine")
@_speech_options
def show(routine: str, **speech) -> None:
    """Print ROUTINE's timeline of cues as a table, with the total time."""
    from .script import format_script

    click.echo(format_script(_prepare(routine, **speech).script))


@cli.command()
@click.argument("file", type=click.Path(dir_okay=True))
@_speech_options
def check(file: str, **speech) -> None:
    """Validate a routine FILE and report cues that do not fit."""
    from .script import clock

    program = _prepare(file, **speech)
    script = program.script
    for note in script.notes:
        click.echo(f"{file}: warning: {note}")
    click.echo(
        f"{file}: ok · {_count(len(script.steps), 'step')} · "
        f"{_count(len(script.holds), 'hold')} · "
        f"{clock(script.duration)}"
    )


_AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3")


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
    help="Audio file (.wav .flac .ogg .opus .mp3), or a folder for several routines.",
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
    type=click.FloatRange(-20, 0),
    default=-1.0,
    show_default=True,
    help="Highest true peak in dBTP.",
)
@click.option(
    "--quality",
    type=click.FloatRange(0, 10),
    help="0 (smallest) to 10 (best), for ogg, opus and mp3. Default: the encoder's.",
)
@_speech_options
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
    **speech,
) -> None:
    """Render ROUTINE to an audio file, tagged, with a chapter per step and side.

    Several ROUTINEs go into the folder -o names, exported in parallel.
    """
    from .batch import SpeechOptions
    from .export import ExportSettings

    options = SpeechOptions(**speech)
    settings = ExportSettings(loudness=loudness, true_peak=true_peak, quality=quality)
    # A folder: several routines, a trailing slash, or an existing folder not named
    # like an audio file (-o out.wav where out.wav is a folder is a mistake to report).
    into_folder = output is not None and (
        len(routines) > 1
        or output.endswith(("/", os.sep))
        or (Path(output).is_dir() and Path(output).suffix.lower() not in _AUDIO_SUFFIXES)
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
            routines, Path(output), file_format or "mp3", captions, options, settings
        )
        return
    _export_one(routines[0], output, file_format, timeline, captions, split, options, settings)


def _export_one(routine, output, file_format, timeline, captions, split, options, settings) -> None:
    from .batch import prepare_routine
    from .export import (
        audio_extension,
        caption_extension,
        check_target,
        check_targets,
        export_captions,
        export_files,
        export_split,
        export_timeline,
    )
    from .script import clock

    extension = audio_extension(output) if output else f".{file_format or 'mp3'}"
    if file_format and output and extension != f".{file_format}":
        raise click.UsageError(f"-f {file_format} does not match {output}; drop one of them")
    _check_quality(extension, settings)
    captions = _captions_path(captions, output)
    if output:
        check_targets(output, timeline, captions)  # before any synthesis
    else:
        for path in (timeline, captions):
            if path:
                check_target(path)
        if captions:
            caption_extension(captions)
    program = prepare_routine(routine, options)
    levels = None
    with _ProgressBar("exporting") as bar:
        if output:
            levels = export_files(
                program, output, timeline, captions, settings=settings, progress=bar.update
            )
            _report(f"wrote {output}", program.script.duration, levels)
        if split:
            bar.restart()
            paths = export_split(
                program, split, extension, settings=settings, progress=bar.update, levels=levels
            )
            bar.finish()
            click.echo(
                f"wrote {len(paths) - 1} tracks and {paths[-1]} ({clock(program.script.duration)})"
            )
            if not output:  # with -o these went with the single file
                for path, write in ((timeline, export_timeline), (captions, export_captions)):
                    if path:
                        click.echo(f"wrote {write(program.script, path)}")


def _export_into_folder(routines, folder: Path, file_format, captions, options, settings) -> None:
    from .batch import BatchJob, export_batch
    from .errors import ExportError

    extension = f".{file_format}"
    _check_quality(extension, settings)
    if captions not in (None, "vtt", "srt"):
        raise click.UsageError("with several routines, give --captions vtt or --captions srt")
    if folder.exists() and not folder.is_dir():
        raise click.UsageError(f"{folder} is a file; -o needs a folder for several routines")
    jobs = []
    for routine in routines:
        # A routine file is named after its file's stem, a built-in after its name.
        is_file = Path(routine).is_file() or routine.lower().endswith((".yaml", ".yml"))
        audio = folder / f"{Path(routine).stem if is_file else routine}{extension}"
        jobs.append(
            BatchJob(routine, audio, audio.with_suffix(f".{captions}") if captions else None)
        )
    if len({job.audio for job in jobs}) < len(jobs):
        raise click.UsageError("two routines would write the same file; export them one by one")
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
                click.echo(f"voice-coach: warning: {warning}", err=True)
            if result.error:
                failed = max(failed, result.exit_code)
                click.echo(result.error, err=True)
            else:
                _report(f"wrote {result.job.audio}", result.seconds, result.levels)
            bar.advance()

        export_batch(jobs, options, settings, on_done=done)
    if failed:
        sys.exit(failed)


def _check_quality(extension: str, settings) -> None:
    from .audiofile import FORMATS

    if settings.quality is not None and not FORMATS[extension].lossy:
        raise click.UsageError(f"--quality applies to ogg, opus and mp3, not {extension[1:]}")


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
    click.echo(f"{what} ({', '.join(details)})")
    for note in levels.notes:
        click.echo(f"voice-coach: note: {note}", err=True)


class _ProgressBar:
    """A progress bar on stderr, shown only on a terminal and once work passes a second."""

    DELAY_SECONDS = 1.0

    def __init__(self, label: str, total: int = 0) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.bar = None
        self.started = time.monotonic()
        self.enabled = sys.stderr.isatty()

    def __enter__(self) -> _ProgressBar:
        return self

    def __exit__(self, *exc) -> None:
        self.finish()

    def update(self, done: int, total: int) -> None:
        """Progress callback: ``done`` of ``total`` units."""
        self.total = total
        self._show(done)

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
    type=click.FloatRange(0, 200),
    default=100,
    show_default=True,
    help="Starting volume in percent (+ and - change it while playing).",
)
@click.option("--plain", is_flag=True, help="One line per cue, for screen readers and logs.")
@click.option(
    "--from-article",
    is_flag=True,
    help="ROUTINE is an article (text, Markdown or HTML, or - for stdin): import it first.",
)
def play(routine: str, volume: float, plain: bool, from_article: bool, **speech) -> None:
    """Play ROUTINE through the sound device.

    Keys while playing: space pause/resume, n or right arrow next step, p or left
    arrow previous step, r repeat the side, + and - volume, q quit. Ctrl-C stops.
    """
    from .player import play_routine
    from .routine import load_routine, parse_routine

    if from_article:
        loaded = parse_routine(_import_article(routine), routine)
    else:
        loaded = load_routine(routine)
    play_routine(
        loaded,
        **speech,
        routine_ref=routine,
        plain=plain or None,
        volume=volume / 100,
    )


@cli.command()
def voices() -> None:
    """List the installed voices of both engines (use an id with --voice)."""
    from .speech import list_voices

    for voice in list_voices():
        click.echo(
            f"{voice.engine:<8} {voice.id:<28} {voice.name:<32} {', '.join(voice.languages)}"
        )


@cli.command("import")
@click.argument("file")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the YAML here.")
def import_command(file: str, output: str | None) -> None:
    """Turn a stretching article into a routine file.

    FILE is plain text, Markdown or a saved HTML page (- reads stdin). Values the
    article does not state are marked with a '# guessed' comment.
    """
    from .errors import ArticleError

    text = _import_article(file)
    if output is None:
        click.echo(text, nl=False)
        return
    from .atomic import atomic_target

    try:
        with atomic_target(output) as temp:
            temp.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ArticleError(f"cannot write {output}: {error.strerror}") from None
    click.echo(f"wrote {output}; check it with: voice-coach check {output}")


def _import_article(file: str) -> str:
    """Read the article ``file`` (or stdin for ``-``) and return its routine YAML."""
    from .errors import ArticleError
    from .importer import MAX_ARTICLE_CHARS, decode_article, import_article

    limit = 4 * MAX_ARTICLE_CHARS  # bytes: UTF-8 takes up to 4 a character
    try:
        if file == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            with open(file, "rb") as handle:
                data = handle.read(limit + 1)
    except OSError as error:
        raise ArticleError(f"cannot read {file}: {error.strerror}") from None
    if len(data) > limit:
        data = data[: limit + 1]  # still over the limit: the importer says so in one line
    return import_article(decode_article(data), "stdin" if file == "-" else file)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of routine files (for editors; see the README)."""
    import json

    from .routine import routine_schema

    click.echo(json.dumps(routine_schema(), indent=2))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Library warnings (such as a cache that cannot be written) as one line each."""
    click.echo(f"voice-coach: warning: {message}", err=True)


def main() -> None:
    """Entry point of the ``voice-coach`` console script."""
    warnings.showwarning = _show_warning
    try:
        cli(prog_name="voice-coach")
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly.
        sys.stderr.close()
        sys.exit(1)


__all__ = ["cli", "main"]
