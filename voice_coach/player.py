"""Live playback: the loop that joins a Transport, a sound device, the view and the controls.

The player renders nothing of its own: its :class:`~voice_coach.transport.Transport`
pulls spans from the Program's Mixer, the same samples an export writes, into one
continuous output stream (:mod:`devices`). Because the stream never stops, the timeline
cannot drift, and every sample written before a pause is played: a paused hold resumes
exactly where it stopped. The view (:mod:`views`) follows the audio clock (the device's
time for each block), never a timer of its own. Keys (:mod:`keys`), media keys
(:mod:`mpris`) and spoken commands (:mod:`listen`) all hand the loop
:class:`~voice_coach.transport.Command` values.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import TYPE_CHECKING, TextIO

from .devices import audio_position, open_microphone, quiet_c_stderr
from .errors import PlaybackError
from .keys import keyboard, read_commands
from .others import OtherStreams, tag_media_role
from .routine import Routine
from .script import SAMPLE_RATE
from .segmented import open_output
from .settings import Settings, volume_for
from .transport import JUMPS, Command, Transport
from .views import PlainView, RichView

if TYPE_CHECKING:  # the pipeline (speech, sounds) is imported once the sound is running
    from .pipeline import Program

#: How often the view and the keyboard are polled, in seconds.
POLL_SECONDS = 0.05


def play(
    program: Program,
    stream: TextIO | None = None,
    routine_ref: str = "ROUTINE",
    *,
    plain: bool | None = None,
    volume: float = 1.0,
    keys: TextIO | None = None,
    audio: str | None = None,
    duck_others: bool = False,
) -> None:
    """Play a prepared ``program`` on the default sound device until it ends or the
    user quits.

    Parameters
    ----------
    program:
        What to play.
    stream:
        Where the view goes (default stdout). A rich panel on a terminal; one line
        per cue (``plain``) elsewhere or when asked.
    routine_ref:
        How the user named the routine, for the hint in error messages.
    plain:
        Force the one-line-per-cue view (None: plain unless ``stream`` is a TTY).
    volume:
        Starting volume, 0 to 2 (1 is as rendered).
    keys:
        The keyboard (default stdin); controls work only when it is a terminal.
    audio:
        "portaudio" or "simpleaudio" (see :mod:`segmented`); None: PortAudio, or
        simpleaudio where PortAudio cannot be loaded.
    duck_others:
        Lower other apps' sound under every cue (see :mod:`others`).

    Raises
    ------
    NoSoundDeviceError
        When no output device can be opened.
    PlaybackError
        When the device stops mid-routine. On Ctrl-C the sound stops at once, the
        terminal is restored and KeyboardInterrupt propagates.
    """
    tag_media_role()
    if program.music is not None:
        program.music.start_prefetch()
    transport = Transport(program, volume=volume)
    output = open_output(transport, routine_ref, audio)
    others = OtherStreams.start() if duck_others else None
    _run(transport, output, program.routine.name, stream, plain, keys, others=others)


def play_routine(
    routine: Routine,
    settings: Settings | None = None,
    *,
    stream: TextIO | None = None,
    routine_ref: str = "ROUTINE",
    plain: bool | None = None,
    keys: TextIO | None = None,
    listen: bool = False,
    duck_others: bool = False,
) -> None:
    """Play ``routine`` with the sound starting at once, before everything is ready,
    through the backend ``settings.audio`` names (see :func:`play`).

    The output opens first and plays the pre-roll while the first step is
    prepared; the first step then plays while the rest of the routine is prepared
    in the background (with a cold clip cache, that is the speech synthesis). The
    audio is the same as :func:`play` of the whole prepared routine. ``settings``
    are as for :func:`pipeline.prepare` (their volume is the starting volume); the
    other parameters as for :func:`play`. With ``listen``, spoken commands ("coach
    pause") on the default microphone control it too (see :mod:`listen`). With
    ``duck_others``, other apps' sound is lowered under every cue (see :mod:`others`).
    """
    settings = settings or Settings()
    tag_media_role()
    transport = Transport(
        sample_rate=SAMPLE_RATE,
        channels=2 if settings.pan else 1,
        volume=volume_for(routine, settings),
    )
    output = open_output(transport, routine_ref, settings.audio)
    failures: list[BaseException] = []
    listener = None
    try:
        # Imported here, not at the top: the pre-roll is already playing meanwhile.
        from .pipeline import prepare

        first = prepare(routine, settings, first_step_only=True)
        if first.music is not None:
            first.music.start_prefetch()  # the audio thread never waits for the music
        transport.attach(first, complete=len(routine.steps) == 1)
        if listen:
            from .listen import Listener

            listener = Listener(transport, output, open_microphone, first.speaker, routine)
        if len(routine.steps) > 1:

            def prepare_the_rest() -> None:
                try:
                    rest = prepare(routine, settings, speaker=first.speaker, music=first.music)
                    transport.attach(rest)
                except BaseException as error:  # reported by the main loop
                    failures.append(error)

            threading.Thread(target=prepare_the_rest, daemon=True).start()
    except BaseException:
        _close(output)
        raise
    others = OtherStreams.start() if duck_others else None
    _run(transport, output, routine.name, stream, plain, keys, failures, listener, others)


def _run(
    transport: Transport,
    output,
    title: str,
    stream: TextIO | None,
    plain: bool | None,
    keys: TextIO | None,
    failures: list[BaseException] | None = None,
    listener=None,
    others: OtherStreams | None = None,
) -> None:
    """The main loop: keys in, view out, until the routine ends, fails or is quit."""
    out = stream if stream is not None else sys.stdout
    keys = keys if keys is not None else sys.stdin
    use_plain = plain if plain is not None else not out.isatty()
    view = PlainView(transport.script, out) if use_plain else RichView(transport.script, title, out)
    # Imported here: the sound is already playing, so its import costs no start-up time.
    from .mpris import MediaControls

    notice = getattr(output, "notice", None)  # simpleaudio chosen by itself
    if notice:
        view.event(notice)
    media = MediaControls(transport, title)
    media.start()
    try:
        # PortAudio's ALSA code prints assertion lines from its audio thread when a
        # device dies, and again on closing it; our one-line report comes after.
        with quiet_c_stderr():
            try:
                if listener is not None:
                    listener.start()
                if others is not None and others.notice:
                    view.event(others.notice)
                with keyboard(keys) as fd:
                    _loop(transport, output, view, fd, failures or [], media, listener, others)
            finally:
                _close(output, drain=transport.finished)
    finally:
        if others is not None:
            others.close()
        if listener is not None:
            listener.close()
        media.close()
        view.close()


def _loop(
    transport: Transport,
    output,
    view,
    fd: int | None,
    failures: list,
    media,
    listener=None,
    others: OtherStreams | None = None,
) -> None:
    while True:
        if failures:
            raise failures[0]
        if transport.waiting:
            transport.waiting = False
            view.event("step done, waiting: press space to go on")
        wake = listener.wake_fd if listener else None
        typed = read_commands(fd, POLL_SECONDS, wake)
        # Commands first, then notices: what was heard is queued before the command
        # it gave, so it is reported before it.
        spoken = listener.commands() if listener else []
        for notice in media.notices() + (listener.notices() if listener else []):
            view.event(notice)
        for command in typed + media.commands() + spoken:
            if command == Command.QUIT:
                view.event("quit")
                return
            view.event(transport.apply(command))
            if command in JUMPS:
                view.seek(transport.position)
                media.seek(transport.position)
        if spoken:  # confirmed once applied: a jump would cut the confirmation short
            listener.confirm(spoken[-1])
        view.script = transport.script
        position = audio_position(output, transport)
        if position is None and transport.paused:
            position = transport.position  # where resuming will start
        view.update(position, transport.paused, transport.volume)
        media.follow(position)
        if others is not None:
            others.follow(transport.script, None if transport.paused else position)
        if not output.active:
            if transport.finished:
                break
            raise PlaybackError(
                "the sound device stopped in the middle of the routine; "
                "check the output device and start again"
            )
    if transport.script is not None:
        view.update(transport.script.length_samples, False, transport.volume)


def _close(output, drain: bool = False) -> None:
    """Close the stream: at the routine's end let the device play out what it holds;
    otherwise (quit, Ctrl-C, errors) stop the sound at once."""
    with contextlib.suppress(Exception):
        if drain:
            output.stop()
        else:
            output.abort()
        output.close()
