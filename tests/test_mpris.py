"""Media keys: voice-coach as an MPRIS player on a real session bus, driven by a real client.

Each test starts its own ``dbus-daemon --session`` and a private PulseAudio server
with a real-time null sink (the ``paced_sink`` fixture); ``voice-coach play`` plays
into the sink, and Debian's ``playerctl`` controls it over the bus, as a media key or
a headset button would through the desktop. The effect of every control is checked
in the audio recorded from the sink's monitor, against the rendered timeline.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from live import LivePlayer, Recording, zero_runs

from audio_analysis import as_float, template_positions
from voice_coach.mpris import MediaControls
from voice_coach.pipeline import prepare
from voice_coach.routine import load_routine
from voice_coach.script import CHIME, HOLD_START, SPEECH
from voice_coach.speech import Speaker
from voice_coach.transport import Transport, lead_in_audio

RATE = 22050
#: How well a clip in the recording must match its rendering (normalised correlation).
MATCH = 0.9
#: Longest a control may take from playerctl's start to being heard, in seconds: a
#: process start and a D-Bus call, then the player's 50 ms poll, a 46 ms block and
#: the device buffer.
CONTROL_LATENCY = 0.4
#: How far Position may be from the time since the step's title was heard, in seconds.
POSITION_TOLERANCE = 0.25

ROUTINE = """\
name: Desk break
defaults:
  sides: none
  hold: 4
  prep: 1
  countdown: 2
  halfway: false
steps:
  - name: Neck roll
    instructions: >-
      Let your chin drop to your chest, then roll your head slowly from one
      shoulder to the other.
  - name: Shoulder shrug
    instructions: Lift both shoulders up to your ears, then let them drop.
  - name: Wrist circles
    instructions: Circle both wrists slowly.
"""

ONE_STEP = """\
name: Quick one
steps:
  - name: Calf raise
    instructions: Rise onto your toes.
    sides: none
    hold: 1
    prep: 1
    countdown: 0
    halfway: false
"""


# --------------------------------------------------------------------------- helpers


PLAY_FLAGS = ("--plain", "--engine", "pyttsx3")


def program_of(path: Path):
    """The Program `voice-coach play PATH --engine pyttsx3` builds (same cached clips)."""
    return prepare(load_routine(path), speaker=Speaker(engine="pyttsx3"))


@pytest.fixture
def session_bus():
    """The address of a private D-Bus session bus (Debian's dbus-daemon), for this test."""
    for tool in ("dbus-daemon", "playerctl"):
        assert shutil.which(tool), f"{tool} is missing: scripts/test installs it"
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # its warning that it cannot raise the fd limit
        text=True,
    )
    try:
        address = daemon.stdout.readline().strip()
        assert address.startswith("unix:"), f"dbus-daemon printed {address!r}"
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def playerctl(env: dict, *args: str) -> str:
    """Run ``playerctl --player=voice_coach ARGS``; its output, stripped."""
    done = subprocess.run(
        ["playerctl", "--player=voice_coach", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert done.returncode == 0, f"playerctl {' '.join(args)}: {done.stderr.strip()}"
    return done.stdout.strip()


def wait_for_player(env: dict, name: str = "voice_coach", timeout: float = 10.0) -> None:
    """Wait until ``name`` is on the bus (the service connects in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        listed = subprocess.run(
            ["playerctl", "--list-all"], env=env, capture_output=True, text=True, timeout=10
        )
        if name in listed.stdout.split():
            return
        assert time.monotonic() < deadline, f"{name} never appeared on the bus"
        time.sleep(0.05)


def eventually(probe, want, timeout: float = 5.0):
    """Call ``probe()`` until it returns ``want`` (or time runs out); its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


class Follower:
    """``playerctl --follow``: prints a line each time the player announces a change
    (PropertiesChanged), so its lines show which signals were sent."""

    def __init__(self, env: dict, *command: str) -> None:
        self.process = subprocess.Popen(
            ["playerctl", "--player=voice_coach", "--follow", *command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for_lines(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` lines have arrived (or time runs out)."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> list[str]:
        """Stop following; the lines, without repeats of the line before."""
        self.process.terminate()
        self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        return [line for i, line in enumerate(self.lines) if i == 0 or line != self.lines[i - 1]]


# --------------------------------------------------------------------------- tests


@pytest.mark.live
def test_playerctl_controls_the_routine_and_sees_each_step(
    session_bus, paced_sink, voice_coach_command, tmp_path
):
    path = tmp_path / "desk.yaml"
    path.write_text(ROUTINE)
    program = program_of(path)
    script = program.script
    first, second, _ = script.steps
    lead_in = lead_in_audio(program.clips, RATE)
    env = {**paced_sink.env, "DBUS_SESSION_BUS_ADDRESS": session_bus}

    follower = Follower(env, "metadata", "--format", "{{status}} {{xesam:title}}")
    recording = Recording(paced_sink, tmp_path / "mpris.raw")
    player = LivePlayer(voice_coach_command, [str(path), *PLAY_FLAGS], env, keyboard=False)
    try:
        title_at, _ = player.wait_for(rf"^0:\d\d {first.name}$")
        wait_for_player(env)
        # What the desktop shows: the step, the routine, the app, the step's length.
        want = f"{first.name}|Desk break|voice-coach|"
        want += str((first.end_sample - first.start_sample) * 1_000_000 // RATE)
        got = eventually(
            lambda: playerctl(
                env, "metadata", "--format", "{{title}}|{{album}}|{{artist}}|{{mpris:length}}"
            ),
            want,
        )
        assert got == want
        # playerctl prints an object path quoted, as GLib does.
        assert playerctl(env, "metadata", "mpris:trackid") == "'/voice_coach/step/1'"
        assert playerctl(env, "status") == "Playing"

        # Position follows the audio clock: the time since the title was heard.
        time.sleep(1.0)
        before = time.monotonic()
        position = float(playerctl(env, "position"))
        after = time.monotonic()
        assert before - title_at - POSITION_TOLERANCE <= position
        assert position <= after - title_at + POSITION_TOLERANCE

        # play-pause pauses: the samples stop, and Position stands still.
        paused_at = recording.frames_so_far()
        playerctl(env, "play-pause")
        player.wait_for(r"^\(paused\)$", timeout=5)
        assert eventually(lambda: playerctl(env, "status"), "Paused") == "Paused"
        time.sleep(0.3)  # what the device held when the pause came is still heard
        held = playerctl(env, "position")
        time.sleep(1.2)
        assert playerctl(env, "position") == held
        playerctl(env, "pause")  # already paused: nothing changes
        player.wait_for(r"^\(already paused\)$", timeout=5)
        resumed_at = recording.frames_so_far()
        playerctl(env, "play")
        player.wait_for(r"^\(resumed\)$", timeout=5)
        time.sleep(len(lead_in) / RATE + 1.0)  # "Resuming. 3, 2, 1", then the routine

        # next lands on the next step's title.
        next_at = recording.frames_so_far()
        next_called = time.monotonic()
        playerctl(env, "next")
        player.wait_for(r"^\(to step 2\)$", timeout=5)
        assert eventually(lambda: playerctl(env, "metadata", "title"), second.name) == second.name
        assert playerctl(env, "metadata", "mpris:trackid") == "'/voice_coach/step/2'"
        position = float(playerctl(env, "position"))
        assert 0 <= position <= time.monotonic() - next_called + POSITION_TOLERANCE
        time.sleep(1.0)

        # previous, within 3 s of the step's start, goes back a step.
        previous_at = recording.frames_so_far()
        playerctl(env, "previous")
        player.wait_for(r"^\(to step 1\)$", timeout=5)
        assert eventually(lambda: playerctl(env, "metadata", "title"), first.name) == first.name
        time.sleep(1.5)

        playerctl(env, "stop")
        code = player.finish(timeout=10)
    finally:
        if player.process.poll() is None:  # a check failed: do not leave it playing
            player.process.kill()
            player.finish(timeout=10)
    raw = recording.stop()
    followed = follower.stop()
    assert code == 0, player.stderr
    assert player.stderr == ""
    assert player.seen[-1] == "(quit)"
    assert not any("media keys" in line for line in player.seen), player.seen
    # The widget was told of every change as it happened (PropertiesChanged); a line
    # with no title is from before the first step was ready.
    followed = [line for line in followed if line.split(" ", 1)[1:] not in ([], [""])]
    assert followed == [
        f"Playing {first.name}",
        f"Paused {first.name}",
        f"Playing {first.name}",
        f"Playing {second.name}",
        f"Playing {first.name}",
        f"Stopped {first.name}",  # said before leaving the bus
    ], followed

    audio = as_float(raw)
    titles = {span.step: program.clips[(SPEECH, span.name)] for span in script.steps}
    first_titles = template_positions(audio, titles[0], MATCH)
    second_titles = template_positions(audio, titles[1], MATCH)
    assert len(first_titles) == 2, first_titles
    assert len(second_titles) == 1, second_titles
    (start_1, again_1), (start_2,) = first_titles, second_titles

    # The pause is heard as digital silence (the routine always carries its noise
    # floor) from just after the command until the resume.
    runs = zero_runs(raw, paused_at, len(raw), RATE)
    assert runs, "no silence after play-pause: the pause was not heard"
    silence_first, silence_end = runs[0]
    pause_latency = (silence_first - paused_at) / RATE
    assert 0 <= pause_latency <= CONTROL_LATENCY
    assert silence_end >= resumed_at
    assert (silence_end - silence_first) / RATE >= 1.5

    # next and previous are heard as the titles of step 2, then step 1 again, each
    # from its very first sample.
    assert start_1 < paused_at < next_at < start_2 < previous_at < again_1
    next_latency = (start_2 - next_at) / RATE
    previous_latency = (again_1 - previous_at) / RATE
    print(
        f"pause heard after {pause_latency * 1000:.0f} ms, next after "
        f"{next_latency * 1000:.0f} ms, previous after {previous_latency * 1000:.0f} ms"
    )
    assert 0 <= next_latency <= CONTROL_LATENCY
    assert 0 <= previous_latency <= CONTROL_LATENCY
    mixer = program.mixer()
    assert np.array_equal(
        raw[start_2:previous_at], mixer.render(second.start_sample, previous_at - start_2)
    )
    assert np.array_equal(raw[again_1 : again_1 + RATE], mixer.render(first.start_sample, RATE))


@pytest.mark.live
@pytest.mark.parametrize(
    "address", [None, "unix:path=/nonexistent/voice-coach-test-bus"], ids=["unset", "nowhere"]
)
def test_without_a_session_bus_play_works_and_says_so_once(
    address, paced_sink, voice_coach_command, tmp_path
):
    path = tmp_path / "one.yaml"
    path.write_text(ONE_STEP)
    program = program_of(path)
    script = program.script
    start_chime = program.clips[(CHIME, HOLD_START)]
    env = dict(paced_sink.env)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    if address:
        env["DBUS_SESSION_BUS_ADDRESS"] = address

    recording = Recording(paced_sink, tmp_path / "nobus.raw")
    player = LivePlayer(voice_coach_command, [str(path), *PLAY_FLAGS], env)
    try:
        player.wait_for(r"\[hold-start chime\]$")
        time.sleep(len(start_chime) / RATE + 0.3)  # the chime has sounded whole
        player.press(b"q")  # the keyboard works as before
        code = player.finish(timeout=10)
    finally:
        if player.process.poll() is None:
            player.process.kill()
            player.finish(timeout=10)
    raw = recording.stop()
    assert code == 0, player.stderr
    assert player.stderr == ""
    # One line says so, before the routine's first line; the rest is as without D-Bus.
    notices = [line for line in player.seen if "media keys" in line]
    assert len(notices) == 1, player.seen
    assert re.fullmatch(r"\(media keys are not available: [^()]*(\(.*\))?\)", notices[0])
    assert player.seen.index(notices[0]) == 0, player.seen
    assert player.seen[1] == "0:01 Calf raise"
    assert player.seen[-1] == "(quit)"

    # What was heard, from the title to the start chime, is the rendered routine.
    audio = as_float(raw)
    (title_at,) = template_positions(audio, program.clips[(SPEECH, "Calf raise")], MATCH)
    (chime_at,) = template_positions(audio, start_chime, MATCH)
    (hold,) = script.holds
    offset = title_at - script.steps[0].start_sample
    assert chime_at - offset == hold.start_sample
    heard = raw[title_at : chime_at + len(start_chime)]
    assert np.array_equal(heard, program.mixer().render(title_at - offset, len(heard)))


# ------------------------------------------- the service alone, on a real Transport


def test_the_service_maps_controls_and_follows_the_transport(session_bus, monkeypatch, tmp_path):
    """MediaControls over a real Transport (pulled by hand, no device) and a real bus:
    each control queues the keyboard's command, and jumps are announced."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    env = dict(os.environ)
    path = tmp_path / "desk.yaml"
    path.write_text(ROUTINE)
    program = program_of(path)
    script = program.script
    steps = script.steps
    transport = Transport(program)
    controls = MediaControls(transport, "Desk break")
    second = None
    try:
        controls.start()
        wait_for_player(env)
        controls.follow(0)
        assert playerctl(env, "metadata", "title") == steps[0].name

        # Each control queues the command the keyboard's key would.
        for verb, command in [
            ("play-pause", "pause"),
            ("pause", "pause-only"),
            ("play", "resume"),
            ("next", "next"),
            ("previous", "previous"),
            ("stop", "quit"),
        ]:
            playerctl(env, verb)
            assert eventually(controls.commands, [command]) == [command], verb
        playerctl(env, "volume", "0.5")
        assert transport.volume == 0.5
        assert controls.notices() == []

        # Five seconds into step 2, then back to its start: the same track, so a
        # Seeked signal (followed by playerctl) rather than new Metadata.
        transport.next_step()
        transport.fill(5 * RATE)
        controls.follow(transport.position)
        assert playerctl(env, "metadata", "title") == steps[1].name
        assert float(playerctl(env, "position")) == pytest.approx(5.0, abs=0.05)
        # playerctl --follow prints the position at start, then on each Seeked (when
        # the printed value changes; it adds the time since it read Position).
        follower = Follower(env, "position")
        follower.wait_for_lines(1)
        transport.previous_step()
        controls.seek(transport.position)  # as the player's loop does after a jump
        assert float(playerctl(env, "position")) == pytest.approx(0.0, abs=0.05)
        follower.wait_for_lines(2)
        seeks = [float(line) for line in follower.stop()]
        assert seeks == pytest.approx([5.0, 0.0], abs=0.05), "no Seeked for the jump back"

        # The last step's track runs to the end of the routine (its closing too).
        transport.next_step()
        controls.seek(transport.position)
        last = steps[-1]
        length = (script.length_samples - last.start_sample) * 1_000_000 // RATE
        assert playerctl(env, "metadata", "mpris:length") == str(length)
        transport.toggle_pause()
        controls.follow(transport.position)
        assert playerctl(env, "status") == "Paused"

        # A second voice-coach at once takes the spec's instance name.
        second = MediaControls(Transport(program), "Again")
        second.start()
        wait_for_player(env, f"voice_coach.instance{os.getpid()}")
    finally:
        controls.close()
        if second is not None:
            second.close()
    # Closed: off the bus.
    listed = subprocess.run(["playerctl", "--list-all"], env=env, capture_output=True, text=True)
    assert "voice_coach" not in listed.stdout
