"""Reminders: the schedule, the crontab and systemd text, the foreground loop driven by a
fake clock, the CLI's usage errors, and one real run of `remind` through a sound device."""

from __future__ import annotations

import ast
import inspect
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import sys
import termios
import textwrap
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_coach import remind
from voice_coach.cli import cli
from voice_coach.errors import NoSoundDeviceError, SpeechError
from voice_coach.keys import keyboard
from voice_coach.mixer import FLOOR_PEAK
from voice_coach.remind import (
    ALL_DAY,
    LATE_LIMIT,
    NAP_SECONDS,
    SKIP_SECONDS,
    Schedule,
    ScheduleError,
    TerminalKeys,
    Window,
    cron_text,
    daily_times,
    describe_time,
    next_reminder,
    parse_interval,
    parse_window,
    prompt_audio,
    prompt_text,
    run_reminders,
    systemd_text,
    unit_name,
)
from voice_coach.script import clock
from voice_coach.settings import volume_for

MONDAY = datetime(2026, 3, 2)  # a Monday, far from any DST change
SAMPLE_RATE = 22050


def at(clock: str, day: int = 0) -> datetime:
    """``MONDAY + day`` at ``HH:MM`` or ``HH:MM:SS``."""
    parts = [int(part) for part in clock.split(":")]
    hours, minutes, seconds = [*parts, 0][:3]
    return MONDAY + timedelta(days=day, hours=hours, minutes=minutes, seconds=seconds)


def schedule(every: str, between: str | None = None) -> Schedule:
    return Schedule(parse_interval(every), parse_window(between) if between else ALL_DAY)


def reminders_after(start: datetime, plan: Schedule, count: int) -> list[datetime]:
    times = []
    for _ in range(count):
        start = next_reminder(start, plan)
        times.append(start)
    return times


# ------------------------------------------------------------------ parsing the options


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("30m", 30), ("2h", 120), ("1h30m", 90), ("90m", 90), ("1m", 1), ("24h", 1440),
     (" 2H ", 120), ("1h 15m", 75), ("45min", 45)],
)  # fmt: skip
def test_intervals(text, minutes):
    assert parse_interval(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    ("text", "phrase"),
    [("0m", "shorter than a minute"), ("0h", "shorter than a minute"),
     ("0h0m", "shorter than a minute"), ("25h", "longer than a day"),
     ("1441m", "longer than a day"), ("", "not an interval"), ("2x", "not an interval"),
     ("1.5h", "not an interval"), ("-30m", "not an interval"), ("90", "not an interval"),
     ("h", "not an interval"), ("1h30", "not an interval")],
)  # fmt: skip
def test_bad_intervals_are_usage_errors(text, phrase):
    with pytest.raises(ScheduleError) as raised:
        parse_interval(text)
    assert raised.value.exit_code == 2
    message = str(raised.value)
    assert phrase in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "window"),
    [("09:00-17:00", Window(540, 480)), ("9:30-10:00", Window(570, 30)),
     ("22:00-02:00", Window(1320, 240)), ("23:59-00:00", Window(1439, 1)),
     ("00:00-24:00", ALL_DAY), ("18:00-24:00", Window(1080, 360)),
     (" 08:00 - 12:00 ", Window(480, 240))],
)  # fmt: skip
def test_windows(text, window):
    assert parse_window(text) == window


@pytest.mark.parametrize(
    ("text", "phrase"),
    [("25:00-26:00", "25:00 in '25:00-26:00' is not a time of day"),
     ("09:60-10:00", "09:60 in"), ("24:00-02:00", "24:00 in"), ("09:00-09:00", "is empty"),
     ("00:00-00:00", "is empty"), ("9-17", "not a daily window"), ("09:00", "not a daily window"),
     ("09:00-17:00-18:00", "not a daily window"), ("", "not a daily window")],
)  # fmt: skip
def test_bad_windows_are_usage_errors(text, phrase):
    with pytest.raises(ScheduleError) as raised:
        parse_window(text)
    assert raised.value.exit_code == 2
    assert phrase in str(raised.value)
    assert "\n" not in str(raised.value)


def test_schedules_describe_themselves_as_the_options_read():
    assert str(schedule("90m", "09:00-17:00")) == "every 1h30m, 09:00-17:00"
    assert str(schedule("2h")) == "every 2h"
    assert str(schedule("45m", "22:00-02:00")) == "every 45m, 22:00-02:00"
    assert str(schedule("1h", "18:00-24:00")) == "every 1h, 18:00-24:00"


# ------------------------------------------------------------------------ the schedule


def test_reminders_are_aligned_to_the_window_start_and_include_its_end():
    plan = schedule("2h", "09:00-17:00")
    assert reminders_after(at("07:00"), plan, 6) == [
        at("09:00"), at("11:00"), at("13:00"), at("15:00"), at("17:00"), at("09:00", day=1),
    ]  # fmt: skip


def test_a_start_in_mid_window_waits_for_the_next_slot():
    plan = schedule("2h", "09:00-17:00")
    assert next_reminder(at("10:17"), plan) == at("11:00")
    assert next_reminder(at("09:00:01"), plan) == at("11:00")
    # A reminder just taken is not taken again: "after" is strict.
    assert next_reminder(at("11:00"), plan) == at("13:00")
    assert next_reminder(at("10:59:59"), plan) == at("11:00")


def test_after_the_window_ends_the_next_reminder_is_tomorrows_first():
    plan = schedule("2h", "09:00-17:00")
    assert next_reminder(at("17:00"), plan) == at("09:00", day=1)
    assert next_reminder(at("23:59:59"), plan) == at("09:00", day=1)
    assert next_reminder(at("16:59"), plan) == at("17:00")


def test_an_interval_that_does_not_divide_the_window_stops_before_its_end():
    plan = schedule("90m", "09:00-17:00")
    assert reminders_after(at("00:00"), plan, 7) == [
        at("09:00"), at("10:30"), at("12:00"), at("13:30"), at("15:00"), at("16:30"),
        at("09:00", day=1),
    ]  # fmt: skip


def test_a_window_across_midnight_belongs_to_the_day_it_starts():
    plan = schedule("2h", "22:00-02:00")
    assert reminders_after(at("12:00"), plan, 4) == [
        at("22:00"), at("00:00", day=1), at("02:00", day=1), at("22:00", day=1),
    ]  # fmt: skip
    # Started at 01:00: yesterday's window is still open.
    assert next_reminder(at("01:00"), plan) == at("02:00")
    assert next_reminder(at("02:00"), plan) == at("22:00")


def test_all_day_starts_at_midnight_every_day():
    plan = schedule("7h")
    assert reminders_after(at("22:00"), plan, 5) == [
        at("00:00", day=1), at("07:00", day=1), at("14:00", day=1), at("21:00", day=1),
        at("00:00", day=2),
    ]  # fmt: skip
    assert reminders_after(at("23:30"), schedule("30m"), 2) == [
        at("00:00", day=1),
        at("00:30", day=1),
    ]


def test_every_24h_is_once_a_day_at_the_window_start():
    assert reminders_after(at("12:00"), schedule("24h", "08:15-20:00"), 2) == [
        at("08:15", day=1), at("08:15", day=2),
    ]  # fmt: skip


def test_daily_times():
    assert daily_times(schedule("2h", "09:00-17:00")) == [
        (9, 0),
        (11, 0),
        (13, 0),
        (15, 0),
        (17, 0),
    ]
    assert daily_times(schedule("90m", "22:00-02:00")) == [(1, 0), (22, 0), (23, 30)]
    assert len(daily_times(schedule("1m"))) == 1440
    assert daily_times(schedule("24h")) == [(0, 0)]


@st.composite
def schedules(draw) -> Schedule:
    every = timedelta(minutes=draw(st.integers(1, 1440)))
    if draw(st.booleans()):
        return Schedule(every)
    return Schedule(every, Window(draw(st.integers(0, 1439)), draw(st.integers(1, 1439))))


@settings(max_examples=300, deadline=None)
@given(
    plan=schedules(),
    after=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31)),
)
def test_the_next_reminder_is_the_first_daily_time_strictly_after(plan, after):
    due = next_reminder(after, plan)
    times = daily_times(plan)
    assert due > after
    assert (due.hour, due.minute) in times and due.second == due.microsecond == 0
    # No reminder time falls between: every daily time on each day from `after` to `due`.
    for day in range((due.date() - after.date()).days + 1):
        date = after.date() + timedelta(days=day)
        for hour, minute in times:
            moment = datetime(date.year, date.month, date.day, hour, minute)
            assert not after < moment < due


def test_times_are_described_from_now():
    assert describe_time(at("11:00"), at("10:17")) == "11:00"
    assert describe_time(at("09:00", day=1), at("17:00")) == "tomorrow 09:00"
    assert describe_time(at("09:00", day=3), at("17:00")) == "Thu 5 Mar 09:00"


def test_prompt_text():
    assert prompt_text("Hamstring stretches", 10) == (
        "Time for Hamstring stretches. Press any key within 10 seconds to skip."
    )
    assert prompt_text("Office break!", 0) == "Time for Office break."


# ------------------------------------------------------------------- cron and systemd


def cron_values(field: str, low: int, high: int) -> set[int]:
    """The values a crontab field stands for (``*``, ``a``, ``a-b``, ``a-b/s``, lists)."""
    values: set[int] = set()
    for part in field.split(","):
        span, _, step = part.partition("/")
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (int(value) for value in span.split("-"))
        else:
            first = last = int(span)
        values.update(range(first, last + 1, int(step or 1)))
    assert values <= set(range(low, high + 1)), field
    return values


def cron_times(text: str) -> tuple[set[tuple[int, int]], set[str]]:
    """(hour, minute) of every run the crontab lines make, and their commands."""
    times: set[tuple[int, int]] = set()
    commands = set()
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        minute, hour, day, month, weekday, command = line.split(" ", 5)
        assert (day, month, weekday) == ("*", "*", "*")
        times |= {(h, m) for h in cron_values(hour, 0, 23) for m in cron_values(minute, 0, 59)}
        commands.add(command)
    return times, commands


CRON_CASES = [
    ("2h", "09:00-17:00", 1),
    ("90m", "09:00-17:00", 2),
    ("30m", None, 1),
    ("1m", "09:00-17:00", 2),
    ("1m", None, 1),
    ("7m", "22:00-02:00", None),
    ("24h", "06:45-07:00", 1),
    ("45m", "23:00-01:00", None),
]


@pytest.mark.parametrize(("every", "between", "lines"), CRON_CASES)
def test_cron_lines_run_at_exactly_the_reminder_times(every, between, lines):
    plan = schedule(every, between)
    text = cron_text(plan, ["/usr/bin/voice-coach", "play", "hamstrings"], title="Hamstrings")
    times, commands = cron_times(text)
    assert times == set(daily_times(plan))
    assert commands == {"/usr/bin/voice-coach play hamstrings >/dev/null"}
    jobs = [line for line in text.splitlines() if not line.startswith("#")]
    if lines is not None:
        assert len(jobs) == lines
    assert text.splitlines()[0] == f"# voice-coach: Hamstrings {plan}. Add with: crontab -e"


def test_cron_lines_read_as_a_person_would_write_them():
    command = ["/opt/vc/voice-coach", "play", "hamstrings"]
    assert cron_text(schedule("2h", "09:00-17:00"), command, title="H").splitlines()[1] == (
        "0 9-17/2 * * * /opt/vc/voice-coach play hamstrings >/dev/null"
    )
    assert [line[:13] for line in cron_text(schedule("30m"), command, title="H").splitlines()] == [
        "# voice-coach",
        "0,30 * * * * ",
    ]


def test_the_cron_command_runs_with_its_arguments_and_environment(tmp_path):
    """Run the line's command as cron would: /bin/sh, after cron's % handling."""
    executable = tmp_path / "bin dir" / "voice-coach"
    executable.parent.mkdir()
    record = tmp_path / "argv.txt"
    executable.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$XDG_RUNTIME_DIR" "$@" > {shlex.quote(str(record))}\n'
    )
    executable.chmod(0o755)
    argv = [str(executable), "play", "/home/me/100% stretch's.yaml", "--voice", "$HOME"]
    text = cron_text(
        schedule("1h"), argv, title="T", environment={"XDG_RUNTIME_DIR": "/run/user/1000"}
    )
    job = text.splitlines()[1]
    command = job.split(" ", 5)[5]
    assert "%" not in command.replace("\\%", "")  # an unescaped % would end the command
    subprocess.run(["/bin/sh", "-c", command.replace("\\%", "%")], check=True, timeout=10)
    assert record.read_text().splitlines() == ["/run/user/1000", *argv[1:]]


def systemd_units(text: str) -> dict[str, str]:
    """The printed text split at its ``# ~/.config/systemd/user/NAME`` lines."""
    units: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("# ~/.config/systemd/user/"):
            current = line.rsplit("/", 1)[1]
            units[current] = []
        elif current is not None:
            units[current].append(line)
    return {name: "\n".join(lines).strip() + "\n" for name, lines in units.items()}


def test_systemd_units_have_a_service_a_timer_and_instructions():
    text = systemd_text(
        schedule("90m", "09:00-17:00"),
        ["/usr/bin/voice-coach", "play", "hamstrings"],
        title="Hamstring stretches",
        unit="voice-coach-hamstrings",
    )
    head = text.split("\n\n")[0]
    assert all(line.startswith("#") for line in head.splitlines())
    assert "~/.config/systemd/user/voice-coach-hamstrings.service" in head
    assert "systemctl --user enable --now voice-coach-hamstrings.timer" in head
    units = systemd_units(text)
    assert list(units) == ["voice-coach-hamstrings.service", "voice-coach-hamstrings.timer"]
    service, timer = units.values()
    assert "[Service]\nType=oneshot\nExecStart=/usr/bin/voice-coach play hamstrings\n" in service
    assert "Description=voice-coach: Hamstring stretches\n" in service
    assert timer.endswith("[Install]\nWantedBy=timers.target\n")
    assert [line for line in timer.splitlines() if line.startswith("OnCalendar=")] == [
        "OnCalendar=*-*-* 09,12,15:00:00",
        "OnCalendar=*-*-* 10,13,16:30:00",
    ]


def test_systemd_arguments_are_quoted_and_escaped():
    argv = ["/opt/my vc/voice-coach", "play", '/home/me/100% "fun".yaml', "--voice", "$HOME"]
    text = systemd_text(schedule("1h"), argv, title="50% off", unit="u")
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    # systemd expands %-specifiers and $VARIABLES; doubled, they stand for themselves.
    words = shlex.split(exec_start.removeprefix("ExecStart="))
    assert [word.replace("%%", "%").replace("$$", "$") for word in words] == argv
    assert "Description=voice-coach: 50%% off" in text


def systemd_calendar_times(expression: str, count: int) -> set[tuple[int, int]]:
    result = subprocess.run(
        ["systemd-analyze", "calendar", f"--iterations={count}", expression],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert "Normalized form:" in result.stdout
    found = set()
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith(("Next elapse:", "Iter. #")):
            hours, minutes, _ = line.split()[-2].split(":")
            found.add((int(hours), int(minutes)))
    return found


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is missing")
@pytest.mark.parametrize(("every", "between", "lines"), CRON_CASES[:3] + CRON_CASES[5:])
def test_systemd_analyze_reads_the_timer_as_the_reminder_times(every, between, lines):
    plan = schedule(every, between)
    text = systemd_text(plan, ["/usr/bin/voice-coach", "play", "x"], title="X", unit="u")
    calendars = [
        line.removeprefix("OnCalendar=")
        for line in text.splitlines()
        if line.startswith("OnCalendar=")
    ]
    found: set[tuple[int, int]] = set()
    for expression in calendars:
        hours, minutes, _ = expression.split()[1].split(":")
        per_day = (24 if hours == "*" else len(hours.split(","))) * (
            60 if minutes == "*" else len(minutes.split(","))
        )  # a day's worth of runs
        found |= systemd_calendar_times(expression, per_day)
    assert found == set(daily_times(plan))


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze is missing")
def test_systemd_analyze_verifies_the_printed_units(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my routine.yaml").write_text(ROUTINE_FILE, encoding="utf-8")
    result = run_cli("remind", "my routine.yaml", "--every", "45m", "--between", "22:00-02:00",
                     "--print", "systemd")  # fmt: skip
    assert result.exit_code == 0, result.output
    units = systemd_units(result.stdout)
    assert list(units) == ["voice-coach-my-routine.service", "voice-coach-my-routine.timer"]
    for name, text in units.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    verified = subprocess.run(
        ["systemd-analyze", "verify", *(f"./{name}" for name in units)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verified.returncode == 0, verified.stderr
    assert verified.stderr == ""  # a calendar systemd cannot read is only a warning here


@pytest.mark.parametrize(
    ("ref", "name"),
    [("hamstrings", "voice-coach-hamstrings"),
     ("/home/me/My Routine.YAML", "voice-coach-My-Routine"),
     ("c:\\r\\desk.yml", "voice-coach-desk"), ("???.yaml", "voice-coach-routine")],
)  # fmt: skip
def test_unit_names(ref, name):
    assert unit_name(ref) == name


# --------------------------------------------------------- the loop, with a fake clock


class Stop(Exception):
    """Ends a fake run: raised by the fake clock once it passes its end."""


class FakeWorld:
    """A fake clock, keyboard, voice and player that log what happens, and when."""

    def __init__(
        self,
        start: datetime,
        end: datetime,
        keys: list[bool] | None = None,
        routine_minutes: float = 5,
    ) -> None:
        self.time = start
        self.end = end
        self.keys = list(keys or [])
        self.routine = timedelta(minutes=routine_minutes)
        self.log: list[tuple[datetime, str]] = []
        self.naps: list[float] = []
        self.play_error: BaseException | None = None
        self.jumps: dict[datetime, timedelta] = {}

    def now(self) -> datetime:
        return self.time

    def sleep(self, seconds: float) -> None:
        if self.time >= self.end:
            raise Stop
        self.naps.append(seconds)
        self.time += timedelta(seconds=seconds)
        for moment, jump in list(self.jumps.items()):
            if self.time >= moment:  # the computer slept
                self.time += jump
                del self.jumps[moment]

    def speak(self, text: str) -> None:
        self.log.append((self.time, f"speak {text}"))
        self.time += timedelta(seconds=4)

    def wait_for_key(self, seconds: float) -> bool:
        assert seconds == SKIP_SECONDS
        pressed = self.keys.pop(0) if self.keys else False
        self.time += timedelta(seconds=2 if pressed else seconds)
        return pressed

    def play(self) -> None:
        self.log.append((self.time, "play"))
        if self.play_error is not None:
            raise self.play_error
        self.time += self.routine

    def report(self, line: str) -> None:
        self.log.append((self.time, f"report {line}"))

    def warn(self, line: str) -> None:
        self.log.append((self.time, f"warn {line}"))

    def run(self, plan: Schedule, keyboard: bool = True, stop=Stop) -> None:
        with pytest.raises(stop):
            run_reminders(
                plan,
                "Hamstring stretches",
                now=self.now,
                sleep=self.sleep,
                speak=self.speak,
                play=self.play,
                wait_for_key=self.wait_for_key if keyboard else None,
                report=self.report,
                warn=self.warn,
            )

    def events(self, kind: str) -> list[datetime]:
        return [when for when, what in self.log if what.startswith(kind)]

    def lines(self, kind: str) -> list[str]:
        return [what.removeprefix(kind + " ") for _, what in self.log if what.startswith(kind)]


PROMPT = "Time for Hamstring stretches. Press any key within 10 seconds to skip."


def test_the_loop_prompts_on_time_plays_and_skips_on_a_key():
    world = FakeWorld(at("10:17"), at("09:30", day=1), keys=[False, True, False, False, False])
    world.run(schedule("2h", "09:00-17:00"))
    prompts = [at("11:00"), at("13:00"), at("15:00"), at("17:00"), at("09:00", day=1)]
    assert world.events("speak") == prompts
    assert set(world.lines("speak")) == {PROMPT}
    # Played after the prompt and the 10 s without a key; skipped at 13:00.
    waited = timedelta(seconds=4 + SKIP_SECONDS)
    assert world.events("play") == [when + waited for when in prompts if when != at("13:00")]
    assert world.lines("report") == [
        "Reminding: Hamstring stretches every 2h, 09:00-17:00. Ctrl-C stops.",
        "Next: 11:00.",
        f"11:00 {PROMPT}",
        "Next: 13:00.",
        f"13:00 {PROMPT}",
        "Skipped.",
        "Next: 15:00.",
        f"15:00 {PROMPT}",
        "Next: 17:00.",
        f"17:00 {PROMPT}",
        "Next: tomorrow 09:00.",
        f"09:00 {PROMPT}",
        "Next: 11:00.",
    ]
    assert world.lines("warn") == []


def test_the_loop_naps_in_short_sleeps_that_land_on_the_reminder():
    world = FakeWorld(at("10:17:42") + timedelta(milliseconds=500), at("13:00"))
    world.run(schedule("2h", "09:00-17:00"))
    assert world.events("speak") == [at("11:00"), at("13:00")]
    assert world.naps and max(world.naps) <= NAP_SECONDS
    assert min(world.naps) > 0


def test_without_a_keyboard_no_skip_is_offered_and_the_routine_plays_at_once():
    world = FakeWorld(at("08:00"), at("11:00"))
    world.run(schedule("2h", "09:00-17:00"), keyboard=False)
    assert world.lines("speak") == [
        "Time for Hamstring stretches.",
        "Time for Hamstring stretches.",
    ]
    assert world.events("play") == [at("09:00:04"), at("11:00:04")]


def test_slots_that_pass_while_the_routine_plays_are_not_made_up():
    world = FakeWorld(at("08:59"), at("09:59"), routine_minutes=25)
    world.run(schedule("20m", "09:00-17:00"))
    # 09:20 passed during the first round: the next is 09:40.
    assert world.events("speak") == [at("09:00"), at("09:40")]


def test_a_reminder_missed_while_the_computer_slept_is_skipped_not_played_late():
    world = FakeWorld(at("10:50"), at("13:30"))
    world.jumps[at("10:55")] = timedelta(hours=1, minutes=20)  # asleep 10:55 to 12:15
    world.run(schedule("2h", "09:00-17:00"))
    assert world.lines("warn") == ["missed the 11:00 reminder (was the computer asleep?)"]
    assert world.events("speak") == [at("13:00")]
    assert world.events("play") == [at("13:00:14")]
    assert "Next: 13:00." in world.lines("report")


def test_a_reminder_a_little_late_still_sounds():
    world = FakeWorld(at("10:50"), at("11:30"))
    world.jumps[at("10:59")] = LATE_LIMIT - timedelta(minutes=2)
    world.run(schedule("2h", "09:00-17:00"))
    assert world.lines("warn") == []
    assert len(world.events("play")) == 1


def test_no_sound_device_at_one_reminder_is_a_warning_and_the_loop_goes_on():
    world = FakeWorld(at("08:00"), at("11:30"))
    world.play_error = NoSoundDeviceError("no sound device (headphones unplugged)")
    world.run(schedule("2h", "09:00-17:00"))
    assert world.events("speak") == [at("09:00"), at("11:00")]
    assert world.lines("warn") == ["no sound device (headphones unplugged)"] * 2
    assert world.lines("report")[-1] == "Next: 13:00."


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SpeechError("the engine failed")])
def test_ctrl_c_or_a_real_failure_ends_the_loop_at_once(error):
    world = FakeWorld(at("08:00"), at("18:00"))
    world.play_error = error
    world.run(schedule("2h", "09:00-17:00"), stop=type(error))
    assert world.events("play") == [at("09:00:14")]
    assert world.log[-1] == (at("09:00:14"), "play")  # nothing after the interruption


# ------------------------------------------------------ the real keyboard and prompt


@pytest.fixture
def terminal():
    """(master fd, slave as a text stream): a pseudo-terminal to type into."""
    master, slave = pty.openpty()
    stream = os.fdopen(slave, "r")
    try:
        yield master, stream
    finally:
        stream.close()
        os.close(master)


def test_terminal_keys_see_a_key_use_it_up_and_forget_typed_ahead_keys(terminal):
    master, stream = terminal
    before = termios.tcgetattr(stream.fileno())
    with keyboard(stream) as fd:
        keys = TerminalKeys(fd)
        assert keys.wait(0.05) is False
        os.write(master, b"x")
        assert keys.wait(2) is True
        assert keys.wait(0.05) is False  # the key was used up
        os.write(master, b"typed long before the prompt")
        select.select([fd], [], [], 2)  # the pty delivers it asynchronously
        keys.discard_typed()
        assert keys.wait(0.05) is False
    assert termios.tcgetattr(stream.fileno()) == before


def test_prompt_audio_wakes_the_device_then_speaks_over_the_noise_floor():
    clip = np.sin(np.linspace(0, 200, 5000)).astype(np.float32) * 0.5
    pcm = prompt_audio(clip, SAMPLE_RATE, volume=0.5)
    lead = round(0.6 * SAMPLE_RATE)
    assert pcm.dtype == np.int16
    assert len(pcm) == lead + len(clip) + round(remind.PROMPT_TAIL_SECONDS * SAMPLE_RATE)
    assert np.abs(pcm[:lead].astype(int)).max() <= FLOOR_PEAK
    assert np.abs(pcm[lead + len(clip) :].astype(int)).max() <= FLOOR_PEAK
    spoken = pcm[lead : lead + len(clip)].astype(int)
    expected = np.rint(clip * 0.5 * 32767).astype(int)
    assert np.abs(spoken - expected).max() <= FLOOR_PEAK
    assert np.count_nonzero(pcm == 0) < len(pcm) // 4  # never a run of digital silence


def test_the_prompt_source_feeds_the_clip_then_finishes():
    pcm = np.arange(1, 2501, dtype=np.int16)
    source = remind._PromptSource(pcm, SAMPLE_RATE)
    blocks = []
    while not source.finished:
        blocks.append(source.fill(1024))
    assert [block.shape for block in blocks] == [(1024, 1)] * 3
    played = np.concatenate(blocks)[:, 0]
    assert np.array_equal(played[: len(pcm)], pcm)
    assert not played[len(pcm) :].any()


# ------------------------------------------------------------------------------ the CLI

ROUTINE_FILE = """\
name: Desk break
steps:
  - name: Neck turn
    hold: 5
"""


def run_cli(*args: str):
    return CliRunner().invoke(cli, list(args), prog_name="voice-coach")


@pytest.mark.parametrize(
    ("args", "phrase"),
    [(["--every", "0m"], "Invalid value for '--every': '0m' is shorter than a minute"),
     (["--every", "2x"], "'2x' is not an interval"),
     (["--every", "2h", "--between", "25:00-26:00"], "Invalid value for '--between': 25:00"),
     (["--every", "2h", "--between", "09:00-09:00"], "is empty"),
     (["--every", "2h", "--print", "launchd"], "'launchd' is not one of 'cron', 'systemd'"),
     ([], "Missing option '--every'")],
)  # fmt: skip
def test_bad_options_are_one_line_usage_errors(args, phrase, monkeypatch):
    monkeypatch.setattr(remind, "remind_in_foreground", pytest.fail)
    result = run_cli("remind", "hamstrings", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("voice-coach remind: ")
    assert phrase in lines[0]


def test_an_unknown_routine_fails_before_any_waiting(monkeypatch):
    monkeypatch.setattr(remind, "remind_in_foreground", pytest.fail)
    result = run_cli("remind", "hamstring", "--every", "2h")
    assert result.exit_code == 2
    assert "did you mean 'hamstrings'?" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_the_cli_hands_the_loop_the_schedule_and_the_play_options(monkeypatch):
    calls = []

    def interrupted(routine, plan, settings, **options):
        calls.append((routine, plan, settings, options))
        raise KeyboardInterrupt

    monkeypatch.setattr(remind, "remind_in_foreground", interrupted)
    result = run_cli("remind", "hamstrings", "--every", "1h30m", "--between", "22:00-02:00",
                     "--rate", "150", "--pan", "--volume", "50")  # fmt: skip
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["voice-coach: stopped."]
    ((routine, plan, settings, options),) = calls
    assert routine.name == "Hamstring stretches"
    assert plan == Schedule(timedelta(minutes=90), Window(22 * 60, 240))
    assert settings.rate == 150 and settings.pan is True
    assert volume_for(routine, settings) == 0.5 and options["plain"] is None
    assert options["routine_ref"] == "hamstrings"


def test_print_cron_names_the_executable_and_the_routine_file_by_absolute_path(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(remind, "remind_in_foreground", pytest.fail)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/4242")
    Path("desk.yaml").write_text(ROUTINE_FILE, encoding="utf-8")
    result = run_cli("remind", "desk.yaml", "--every", "90m", "--between", "09:00-17:00",
                     "--print", "cron", "--voice", "en", "--rate", "150", "--quiet")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    times, commands = cron_times(result.stdout)
    assert times == set(daily_times(schedule("90m", "09:00-17:00")))
    (command,) = commands
    words = shlex.split(command)
    assert words[0] == "XDG_RUNTIME_DIR=/run/user/4242"
    executable = words[1]
    assert Path(executable).is_absolute() and Path(executable).exists()
    play = words.index("play")
    assert words[play:] == ["play", str(tmp_path / "desk.yaml"), "--voice", "en", "--rate", "150",
                            "--quiet", ">/dev/null"]  # fmt: skip


def test_print_systemd_for_a_builtin(monkeypatch):
    monkeypatch.setattr(remind, "remind_in_foreground", pytest.fail)
    result = run_cli("remind", "hamstrings", "--every=2h", "--between", "09:00-17:00",
                     "--volume=60", "--print", "systemd", "--no-pan", "--countdown", "every:5",
                     "--plain")  # fmt: skip
    assert result.exit_code == 0, result.output
    units = systemd_units(result.stdout)
    service = units["voice-coach-hamstrings.service"]
    exec_start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    # Every option that `play` takes too, as typed; none of remind's own.
    assert exec_start.endswith(" play hamstrings --volume 60 --no-pan --countdown every:5 --plain")
    assert "OnCalendar=*-*-* 09,11,13,15,17:00:00" in units["voice-coach-hamstrings.timer"]
    assert (
        "Description=voice-coach reminder: Hamstring stretches every 2h, 09:00-17:00"
        in (units["voice-coach-hamstrings.timer"])
    )


# ------------------------------------------- one real run through the CLI and a device

APPENDING_ALSA_CONFIG = """\
pcm.!default {{
  type file
  slave.pcm "null"
  file "|cat >> {capture}"
  format "raw"
}}
"""

FAKE_CLOCK_DRIVER = """\
import sys
from datetime import datetime, timedelta

from voice_coach import remind
from voice_coach.cli import main

clock = [datetime(2026, 3, 2, 10, 59, 30)]


def now():
    return clock[0]


def sleep(seconds):
    if clock[0] >= datetime(2026, 3, 2, 11, 0):  # after the first reminder: "Ctrl-C"
        raise KeyboardInterrupt
    clock[0] += timedelta(seconds=seconds)


remind.system_now, remind.system_sleep = now, sleep
sys.argv = ["voice-coach", "remind", "hamstrings", "--every", "1h"]
main()
"""


def without_zero_runs(samples: np.ndarray, minimum: int = 64) -> np.ndarray:
    """``samples`` without runs of exact zeros (the device's priming and the waits
    between streams); speech over the noise floor never has one."""
    zero = np.concatenate(([False], samples == 0, [False])).astype(np.int8)
    keep = np.ones(len(samples), dtype=bool)
    for first, end in np.flatnonzero(np.diff(zero)).reshape(-1, 2):
        if end - first >= minimum:
            keep[first:end] = False
    return samples[keep]


def find(haystack: np.ndarray, needle: np.ndarray, within: int) -> int:
    probe = needle[:512]
    for offset in range(within):
        if np.array_equal(haystack[offset : offset + len(probe)], probe):
            return offset
    raise AssertionError("not found")


def test_remind_speaks_the_prompt_then_plays_the_routine_through_the_device(
    tmp_path, hamstrings_program
):
    """The real path, with only the clock faked: `remind` through the CLI's main in a
    subprocess, stdin not a terminal, ALSA's default device appending to a file."""
    from voice_coach.speech import Speaker

    home = tmp_path / "home"
    home.mkdir()
    capture = tmp_path / "captured.raw"
    (home / ".asoundrc").write_text(APPENDING_ALSA_CONFIG.format(capture=capture))
    driver = tmp_path / "driver.py"
    driver.write_text(FAKE_CLOCK_DRIVER)
    result = subprocess.run(
        [sys.executable, str(driver)],
        env={**os.environ, "HOME": str(home)},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 130, result.stderr
    assert result.stderr.splitlines() == ["voice-coach: stopped."]
    lines = result.stdout.splitlines()
    assert lines[:3] == [
        "Reminding: Hamstring stretches every 1h. Ctrl-C stops.",
        "Next: 11:00.",
        "11:00 Time for Hamstring stretches.",
    ]
    rate = hamstrings_program.script.sample_rate
    cues = [
        f"{clock(cue.start_sample / rate)} {cue.text if cue.kind == 'speech' else ''}"
        for cue in hamstrings_program.script.cues
    ]
    view = [line for line in lines[3:-1] if re.match(r"\d+:\d\d ", line)]
    assert len(view) == len(cues)  # the plain view's line per cue: the routine played
    for line, cue in zip(view, cues, strict=True):
        assert line.startswith(cue)
    assert lines[-1] == "Next: 12:00."

    captured = without_zero_runs(np.fromfile(capture, dtype="<i2"))
    speaker = Speaker(voice=hamstrings_program.routine.language)  # as the player picks it
    prompt = prompt_audio(speaker.clip("Time for Hamstring stretches."), SAMPLE_RATE)
    start = find(captured, prompt, SAMPLE_RATE // 2)  # after the device's priming
    assert not captured[:start].any()
    captured = captured[start:]
    assert np.array_equal(captured[: len(prompt)], prompt)
    rendered = np.concatenate(list(hamstrings_program.blocks()))
    after_prompt = captured[len(prompt) :]
    start = find(after_prompt, rendered, 1024)  # the prompt's last block is filled out
    assert not after_prompt[:start].any()
    assert np.array_equal(after_prompt[start : start + len(rendered)], rendered)
    assert len(after_prompt) - start - len(rendered) < SAMPLE_RATE


# ------------------------------------------------------------------ purity of the core

PURE = (
    "parse_interval",
    "parse_window",
    "next_reminder",
    "daily_times",
    "describe_time",
    "prompt_text",
    "cron_text",
    "systemd_text",
    "unit_name",
    "run_reminders",
)
CLOCK_AND_IO_ATTRIBUTES = {"now", "today", "utcnow", "time", "monotonic", "sleep", "environ"}
CLOCK_AND_IO_NAMES = {"time", "os", "sys", "open", "print", "system_now", "system_sleep"}


@pytest.mark.parametrize("name", PURE)
def test_the_schedule_functions_read_no_clock_and_do_no_io(name):
    """Only what they are given: the loop's clock is injected."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(getattr(remind, name))))
    used = [
        node.attr if isinstance(node, ast.Attribute) else node.id
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr in CLOCK_AND_IO_ATTRIBUTES)
        or (isinstance(node, ast.Name) and node.id in CLOCK_AND_IO_NAMES)
    ]
    assert used == []
