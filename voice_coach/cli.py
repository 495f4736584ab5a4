"""The command line: thin click commands over the library. The only module importing click.

Library errors become one line on stderr and an exit code (1 for failures, 2
for usage errors); Ctrl-C stops with exit code 130 and no traceback.
"""

from __future__ import annotations

import sys

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
        except KeyboardInterrupt:
            click.echo("voice-coach: stopped.", err=True)
            ctx.exit(130)


def _speech_options(command):
    options = [
        click.option("--voice", default=None, help="Voice id, name or language (see `voices`)."),
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


def _prepare(routine_name: str, voice, rate, deeper, quiet, pan):
    from .pipeline import prepare
    from .routine import load_routine
    from .speech import DEFAULT_RATE, Speaker

    routine = load_routine(routine_name)
    speaker = Speaker(voice=voice, rate=rate or DEFAULT_RATE)
    return prepare(routine, speaker, deeper=deeper, quiet=quiet, pan=pan)


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


@cli.command()
@click.argument("routine")
@click.option(
    "-o", "--output", required=True, type=click.Path(), help="Audio file: .wav .flac .ogg .mp3"
)
@click.option("--timeline", type=click.Path(), help="Also write the timeline JSON here.")
@_speech_options
def export(routine: str, output: str, timeline: str | None, **speech) -> None:
    """Render ROUTINE to an audio file."""
    from .export import check_targets, export_files
    from .script import clock

    check_targets(output, timeline)  # before any synthesis
    program = _prepare(routine, **speech)
    export_files(program, output, timeline)
    click.echo(f"wrote {output} ({clock(program.script.duration)})")


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
def play(routine: str, volume: float, plain: bool, **speech) -> None:
    """Play ROUTINE through the sound device.

    Keys while playing: space pause/resume, n or right arrow next step, p or left
    arrow previous step, r repeat the side, + and - volume, q quit. Ctrl-C stops.
    """
    from .player import play_routine
    from .routine import load_routine

    play_routine(
        load_routine(routine),
        **speech,
        routine_ref=routine,
        plain=plain or None,
        volume=volume / 100,
    )


@cli.command()
def voices() -> None:
    """List the installed voices (use an id with --voice)."""
    from .speech import list_voices

    for voice in list_voices():
        click.echo(f"{voice.id:<28} {voice.name:<32} {', '.join(voice.languages)}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def main() -> None:
    """Entry point of the ``voice-coach`` console script."""
    try:
        cli(prog_name="voice-coach")
    except BrokenPipeError:
        # Output piped into `head` and friends: stop quietly.
        sys.stderr.close()
        sys.exit(1)


__all__ = ["cli", "main"]
