"""Reminders: a routine several times a day, in the foreground or by the system's scheduler.

The schedule is pure: parsing ``--every`` and ``--between``, the next reminder after a
given time, and the equivalent crontab lines or systemd units. None of it reads a clock.
The foreground loop (:func:`run_reminders`) is handed its clock, its sleep, the key
waiting, the speaking and the playing, so tests drive it with a fake clock; the real
wiring (the prompt spoken through the player's output, the terminal's keys, the live
player) is :func:`remind_in_foreground`, at the end of this module.

Times are local wall-clock times (naive datetimes). Reminders fall on the window's start
and every interval after it, up to and including its end; a window such as 22:00-02:00
crosses midnight and belongs to the day it starts on.
"""

from __future__ import annotations

import re
import shlex
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import time as time_of_day
from itertools import pairwise
from typing import TYPE_CHECKING, NoReturn, TextIO

from .errors import PlaybackError, VoiceCoachError
from .terminal import has_hidden, shown

if TYPE_CHECKING:  # numpy, the routine and settings are needed only by the real wiring
    import numpy as np

    from .routine import Routine
    from .settings import Settings

MINUTES_A_DAY = 24 * 60
#: How long a prompt waits for a key before the routine plays.
SKIP_SECONDS = 10
#: The longest single sleep of the loop: the wall clock is read again after each, so a
#: computer that slept through a reminder is noticed within this long of waking.
NAP_SECONDS = 60.0
#: A reminder noticed later than this (the computer was asleep) is skipped, not played.
LATE_LIMIT = timedelta(minutes=5)
#: Quiet after the prompt, so the device plays it out before the stream stops.
PROMPT_TAIL_SECONDS = 0.3


class ScheduleError(VoiceCoachError):
    """A ``--every`` or ``--between`` value that cannot be used (a usage error)."""

    exit_code = 2


# ------------------------------------------------------------------------- the schedule
@dataclass(frozen=True)
class Window:
    """The daily window: ``start`` minutes after midnight, lasting ``length`` minutes
    (1 to 1440; it may run past midnight). Its end is included."""

    start: int
    length: int

    @property
    def end(self) -> int:
        """Minutes after the start day's midnight (more than 1440 past midnight)."""
        return self.start + self.length

    def __str__(self) -> str:
        if self.length == MINUTES_A_DAY and self.start == 0:
            return "all day"
        end = self.end if self.end == MINUTES_A_DAY else self.end % MINUTES_A_DAY
        return f"{_hhmm(self.start)}-{_hhmm(end)}"


ALL_DAY = Window(0, MINUTES_A_DAY)


@dataclass(frozen=True)
class Schedule:
    """Every ``every`` from the window's start, within the window, each day."""

    every: timedelta
    window: Window = ALL_DAY

    def __str__(self) -> str:
        window = "" if self.window == ALL_DAY else f", {self.window}"
        return f"every {format_interval(self.every)}{window}"


_INTERVAL = re.compile(r"(?:(?P<hours>\d+)\s*h)?\s*(?:(?P<minutes>\d+)\s*m(?:in)?)?", re.I)
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_EXAMPLES = "such as 30m, 2h or 1h30m"


def parse_interval(text: str) -> timedelta:
    """``--every``: ``30m``, ``2h``, ``1h30m`` or ``90m``; at least a minute, at most a day.

    Raises
    ------
    ScheduleError
        For anything else, with a one-line message that shows the form.
    """
    match = _INTERVAL.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ScheduleError(f"'{text}' is not an interval; give hours and minutes {_EXAMPLES}")
    minutes = int(match["hours"] or 0) * 60 + int(match["minutes"] or 0)
    if minutes < 1:
        raise ScheduleError(f"'{text}' is shorter than a minute; give an interval {_EXAMPLES}")
    if minutes > MINUTES_A_DAY:
        raise ScheduleError(
            f"'{text}' is longer than a day; reminders repeat daily, so give at most 24h"
        )
    return timedelta(minutes=minutes)


def format_interval(every: timedelta) -> str:
    """An interval as ``--every`` takes it: ``2h``, ``1h30m``, ``45m``."""
    hours, minutes = divmod(int(every.total_seconds()) // 60, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or not hours else "")


def parse_window(text: str) -> Window:
    """``--between``: ``HH:MM-HH:MM``, such as ``09:00-17:00``, or ``22:00-02:00`` across
    midnight; the end may be ``24:00``.

    Raises
    ------
    ScheduleError
        For a malformed or empty window, or a time that is not a time of day.
    """
    match = _WINDOW.fullmatch(text.strip())
    if match is None:
        raise ScheduleError(f"'{text}' is not a daily window; give HH:MM-HH:MM such as 09:00-17:00")
    start = _minutes(int(match[1]), int(match[2]), text, end=False)
    end = _minutes(int(match[3]), int(match[4]), text, end=True)
    if (start, end) == (0, MINUTES_A_DAY):
        return ALL_DAY
    if start == end % MINUTES_A_DAY:
        raise ScheduleError(
            f"the window '{text}' is empty; leave out --between to be reminded all day"
        )
    return Window(start, (end - start) % MINUTES_A_DAY)


def _minutes(hours: int, minutes: int, text: str, *, end: bool) -> int:
    if (hours, minutes) == (24, 0) and end:
        return MINUTES_A_DAY
    if hours > 23 or minutes > 59:
        raise ScheduleError(
            f"{hours:02d}:{minutes:02d} in '{text}' is not a time of day; use 00:00 to 23:59"
        )
    return hours * 60 + minutes


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def next_reminder(after: datetime, schedule: Schedule) -> datetime:
    """The first reminder strictly after ``after`` (so a start in mid-window waits for
    the next slot, and a reminder just taken is not taken again)."""
    window, every = schedule.window, schedule.every
    length = timedelta(minutes=window.length)
    midnight = datetime.combine(after.date(), time_of_day(), tzinfo=after.tzinfo)
    candidates = []
    # Yesterday's window may still be open after midnight; tomorrow's always has a slot.
    for day in (-1, 0, 1):
        start = midnight + timedelta(days=day, minutes=window.start)
        taken = 0 if after < start else (after - start) // every + 1
        if taken * every <= length:
            candidates.append(start + taken * every)
    return min(candidates)


def daily_times(schedule: Schedule) -> list[tuple[int, int]]:
    """Every reminder's (hour, minute) in a day, sorted: what cron and systemd are given."""
    window, every = schedule.window, int(schedule.every.total_seconds()) // 60
    minutes = {
        (window.start + offset) % MINUTES_A_DAY for offset in range(0, window.length + 1, every)
    }
    return [divmod(minute, 60) for minute in sorted(minutes)]


def describe_time(when: datetime, now: datetime) -> str:
    """``when`` as a person reads it from ``now``: ``11:00``, ``tomorrow 09:00``, or
    ``Mon 3 Aug 09:00``."""
    days = (when.date() - now.date()).days
    if days == 0:
        return f"{when:%H:%M}"
    if days == 1:
        return f"tomorrow {when:%H:%M}"
    return f"{when:%a} {when.day} {when:%b %H:%M}"


def prompt_text(title: str, skip_seconds: int) -> str:
    """What a reminder says before the routine: its name, and how to skip it."""
    prompt = f"Time for {title.strip().rstrip('.!')}."
    if skip_seconds:
        prompt += f" Press any key within {skip_seconds} seconds to skip."
    return prompt


# ------------------------------------------------------------- the system's schedulers
def _grouped_times(schedule: Schedule) -> list[tuple[list[int], list[int]]]:
    """The daily times as (hours, minutes) pairs whose every combination is a reminder
    time, few of them: each minute past the hour with the hours it falls in, then minutes
    with the same hours merged."""
    hours_of: dict[int, list[int]] = {}
    for hour, minute in daily_times(schedule):
        hours_of.setdefault(minute, []).append(hour)
    minutes_of: dict[tuple[int, ...], list[int]] = {}
    for minute, hours in sorted(hours_of.items()):
        minutes_of.setdefault(tuple(hours), []).append(minute)
    return sorted(
        ((list(hours), minutes) for hours, minutes in minutes_of.items()),
        key=lambda pair: (pair[0][0], pair[1][0]),
    )


def _cron_field(values: list[int], size: int) -> str:
    """A crontab field: ``*``, ``9-17``, ``9-17/2`` or ``0,30``."""
    if len(values) == size:
        return "*"
    steps = {later - earlier for earlier, later in pairwise(values)}
    if len(values) >= 3 and len(steps) == 1:
        (step,) = steps
        return f"{values[0]}-{values[-1]}" + (f"/{step}" if step > 1 else "")
    return ",".join(str(value) for value in values)


def cron_text(
    schedule: Schedule,
    command: Sequence[str],
    *,
    title: str,
    environment: Mapping[str, str] | None = None,
) -> str:
    """Crontab lines that run ``command`` at exactly the reminder times.

    A schedule cron cannot write in one line (every 90 minutes) gets one line per
    minute past the hour that it uses. ``environment`` goes before the command (cron
    jobs lack the session's ``XDG_RUNTIME_DIR``, without which the sound server is not
    found). The view's output is dropped; errors still reach cron's mail.
    """
    environment = dict(environment or {})
    check_schedule_words([*command, *environment.values()])
    words = [f"{name}={shlex.quote(value)}" for name, value in environment.items()]
    words += [shlex.quote(word) for word in command]
    # cron turns an unescaped % into a newline.
    line = " ".join(words).replace("%", "\\%") + " >/dev/null"
    header = f"# voice-coach: {_one_line(title)} {schedule}. Add with: crontab -e"
    lines = [header]
    for hours, minutes in _grouped_times(schedule):
        lines.append(f"{_cron_field(minutes, 60)} {_cron_field(hours, 24)} * * * {line}")
    return "\n".join(lines) + "\n"


def unit_name(routine_ref: str) -> str:
    """The systemd unit name (without suffix) for a routine: ``voice-coach-hamstrings``."""
    name = re.split(r"[\\/]", routine_ref)[-1]
    name = re.sub(r"\.ya?ml$", "", name, flags=re.I)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-.")
    return f"voice-coach-{slug or 'routine'}"


def _systemd_word(word: str) -> str:
    """One ExecStart argument, quoted for systemd (which expands % specifiers and $VARS)."""
    escaped = word.replace("%", "%%").replace("$", "$$")
    if re.fullmatch(r"[A-Za-z0-9_@+=:,./-]+", escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _calendar_field(values: list[int], size: int) -> str:
    if len(values) == size:
        return "*"
    return ",".join(f"{value:02d}" for value in values)


def systemd_text(schedule: Schedule, command: Sequence[str], *, title: str, unit: str) -> str:
    """A systemd user service that runs ``command`` and a timer with an ``OnCalendar=``
    line for each group of reminder times, with where to save them and how to start."""
    check_schedule_words(command)
    title = _one_line(title).replace("%", "%%")
    calendars = [
        f"OnCalendar=*-*-* {_calendar_field(hours, 24)}:{_calendar_field(minutes, 60)}:00"
        for hours, minutes in _grouped_times(schedule)
    ]
    folder = "~/.config/systemd/user"
    return "\n".join(
        [
            f"# Save the two units below as {folder}/{unit}.service and {unit}.timer,",
            "# then start the timer with:",
            "#   systemctl --user daemon-reload",
            f"#   systemctl --user enable --now {unit}.timer",
            "",
            f"# {folder}/{unit}.service",
            "[Unit]",
            f"Description=voice-coach: {title}",
            "",
            "[Service]",
            "Type=oneshot",
            "ExecStart=" + " ".join(_systemd_word(word) for word in command),
            "",
            f"# {folder}/{unit}.timer",
            "[Unit]",
            f"Description=voice-coach reminder: {title} {schedule}",
            "",
            "[Timer]",
            *calendars,
            "",
            "[Install]",
            "WantedBy=timers.target",
            "",
        ]
    )


def check_schedule_words(words: Sequence[str]) -> None:
    """Refuse a word for a crontab line or a unit file that holds a control character, a
    line separator or a byte that is not UTF-8: no quoting keeps a newline from starting
    a new cron line or unit directive, and a scheduler's file is text.

    Raises
    ------
    ScheduleError
        Naming the word, its hidden characters made visible.
    """
    for word in words:
        if has_hidden(word):
            raise ScheduleError(
                f"'{shown(word)}' holds a control character or a byte that is not UTF-8, "
                "which a scheduler would misread; rename the file or change the value"
            )


def _one_line(text: str) -> str:
    """A title for a comment or a description: one line, without hidden characters, and
    never ending in a backslash (which would join the next line in a unit file)."""
    visible = "".join(" " if has_hidden(char) else char for char in text)
    return " ".join(visible.split()).rstrip("\\")


# ------------------------------------------------------------------- the foreground loop
def run_reminders(
    schedule: Schedule,
    title: str,
    *,
    now: Callable[[], datetime],
    sleep: Callable[[float], None],
    speak: Callable[[str], None],
    play: Callable[[], None],
    wait_for_key: Callable[[float], bool] | None,
    report: Callable[[str], None],
    warn: Callable[[str], None],
    skip_seconds: int = SKIP_SECONDS,
) -> NoReturn:
    """Remind of ``title`` on ``schedule`` until interrupted (Ctrl-C: KeyboardInterrupt).

    Each reminder ``speak``s the prompt, then ``play``s the routine unless
    ``wait_for_key(skip_seconds)`` says a key was pressed (without a keyboard,
    ``wait_for_key`` is None, no skip is offered and the routine plays at once).
    ``now`` and ``sleep`` are the clock; ``report`` takes status lines and ``warn`` a
    reminder that could not sound (no sound device just then): the loop goes on.
    """
    skip_seconds = skip_seconds if wait_for_key is not None else 0
    prompt = prompt_text(title, skip_seconds)
    report(f"Reminding: {title} {schedule}. Ctrl-C stops.")
    due = next_reminder(now(), schedule)
    while True:
        report(f"Next: {describe_time(due, now())}.")
        while (left := (due - now()).total_seconds()) > 0:
            sleep(min(left, NAP_SECONDS))
        if now() - due > LATE_LIMIT:
            warn(f"missed the {due:%H:%M} reminder (was the computer asleep?)")
        else:
            report(f"{due:%H:%M} {prompt}")
            try:
                speak(prompt)
                if wait_for_key is not None and wait_for_key(skip_seconds):
                    report("Skipped.")
                else:
                    play()
            except PlaybackError as error:
                warn(str(error))
        due = next_reminder(now(), schedule)


# ------------------------------------------------------------------------ the real wiring
def system_now() -> datetime:
    """The local wall-clock time: the foreground loop's clock."""
    return datetime.now()


def system_sleep(seconds: float) -> None:
    """Sleep ``seconds``: the foreground loop's sleep."""
    time.sleep(seconds)


class TerminalKeys:
    """Any key press on a terminal already in character-at-a-time mode (``fd``)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def discard_typed(self) -> None:
        """Forget keys typed since the last prompt: they must not skip the next one."""
        import termios

        termios.tcflush(self.fd, termios.TCIFLUSH)

    def wait(self, seconds: float) -> bool:
        """Whether a key is pressed within ``seconds``; the key is used up."""
        import os
        import select

        ready, _, _ = select.select([self.fd], [], [], seconds)
        if not ready:
            return False
        os.read(self.fd, 64)  # used up, so it cannot reach the routine's controls
        return True


def prompt_audio(clip: np.ndarray, sample_rate: int, volume: float = 1.0) -> np.ndarray:
    """The prompt as the player would render it: int16 mono, the pre-roll's noise floor
    (which wakes Bluetooth headphones before the first word), the clip over the floor,
    and a short tail."""
    import numpy as np

    from .mixer import FLOOR_PEAK, noise_floor
    from .script import PREROLL_SECONDS

    lead = round(PREROLL_SECONDS * sample_rate)
    total = lead + len(clip) + round(PROMPT_TAIL_SECONDS * sample_rate)
    voice = np.zeros(total, dtype=np.float32)
    voice[lead : lead + len(clip)] = clip * volume
    pcm = np.clip(np.rint(voice * 32767.0), -32768 + FLOOR_PEAK, 32767 - FLOOR_PEAK)
    return pcm.astype(np.int16) + noise_floor(0, total, sample_rate)


class _PromptSource:
    """Feeds one int16 mono clip to the player's output stream, the way a Transport does."""

    channels = 1

    def __init__(self, pcm: np.ndarray, sample_rate: int) -> None:
        self.pcm = pcm
        self.rate = sample_rate
        self.output_index = 0
        self.finished = False

    def fill(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples, shape (frames, 1); silence after the end."""
        import numpy as np

        out = np.zeros((frames, 1), dtype=np.int16)
        piece = self.pcm[self.output_index : self.output_index + frames]
        out[: len(piece), 0] = piece
        self.output_index += frames
        self.finished = self.output_index >= len(self.pcm)
        return out

    @property
    def idle(self) -> bool:
        """Whether all that is left is silence: once the prompt has been given out."""
        return self.finished

    def quiet_point(self, lowest: int, highest: int, guard: int) -> int | None:
        """The prompt is one buffer: no quiet point is looked for."""
        return None

    def quiet_at(self, ahead: int, guard: int) -> bool:
        """The prompt is one buffer, never cut short."""
        return True


def play_prompt(
    pcm: np.ndarray, sample_rate: int, routine_ref: str, audio: str | None = None
) -> None:
    """Play ``pcm`` through the player's output (``audio``: see :func:`player.play`)
    and return once it has sounded.

    Raises
    ------
    NoSoundDeviceError
        When no output device can be opened.
    """
    from .player import POLL_SECONDS
    from .segmented import open_output

    source = _PromptSource(pcm, sample_rate)
    stream = open_output(source, routine_ref, audio)
    deadline = time.monotonic() + len(pcm) / sample_rate + 5  # a device that hangs
    finished = False
    try:
        while stream.active and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        finished = not stream.active
    finally:
        try:
            if finished:
                stream.stop()
            else:
                stream.abort()  # Ctrl-C or a hung device: stop the sound at once
            stream.close()
        except Exception:  # closing a stream whose device has gone: nothing to tidy
            pass
    if not finished:
        raise PlaybackError("the sound device stopped while speaking the reminder")


def remind_in_foreground(
    routine: Routine,
    schedule: Schedule,
    settings: Settings | None = None,
    *,
    routine_ref: str = "ROUTINE",
    plain: bool | None = None,
    report: Callable[[str], None] = print,
    warn: Callable[[str], None] = print,
    keys: TextIO | None = None,
) -> NoReturn:
    """Remind of ``routine`` on ``schedule``, speaking the prompt and playing the routine
    live with :func:`player.play_routine` and ``settings``; the prompt takes the voice,
    rate and volume the routine gets.

    The routine is prepared, and the prompt synthesised, before the first wait, so a
    voice problem shows at once (and the first reminder starts quickly). With ``keys``
    (default stdin) a terminal, any key within ten seconds of the prompt skips that
    reminder; the terminal's mode is restored however the loop ends. Runs until Ctrl-C
    (KeyboardInterrupt). The clock is :func:`system_now` and :func:`system_sleep`,
    looked up at each call.
    """
    from .keys import keyboard
    from .pipeline import prepare
    from .player import play_routine
    from .settings import Settings, volume_for

    settings = settings or Settings()
    keys = keys if keys is not None else sys.stdin
    # The voice the player picks, by the same rule (prepare's).
    speaker = prepare(routine, settings, stream_clips=True).speaker
    volume = volume_for(routine, settings)
    with keyboard(keys) as fd:
        terminal = TerminalKeys(fd) if fd is not None else None
        skip_seconds = SKIP_SECONDS if terminal else 0
        speaker.clip(prompt_text(routine.name, skip_seconds))  # synthesised and cached now

        def speak(text: str) -> None:
            if terminal is not None:
                terminal.discard_typed()
            pcm = prompt_audio(speaker.clip(text), speaker.sample_rate, volume)
            play_prompt(pcm, speaker.sample_rate, routine_ref, settings.audio)

        def play() -> None:
            play_routine(routine, settings, routine_ref=routine_ref, plain=plain, keys=keys)

        run_reminders(
            schedule,
            routine.name,
            now=lambda: system_now(),
            sleep=lambda seconds: system_sleep(seconds),
            speak=speak,
            play=play,
            wait_for_key=terminal.wait if terminal else None,
            report=report,
            warn=warn,
            skip_seconds=skip_seconds,
        )
