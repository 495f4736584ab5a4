"""`play --duck-others` on a private PulseAudio server, with a second app playing: its
volume during and after cues, after Ctrl-C, SIGTERM and a kill, and the player's media
role. Volumes are read with pactl, as the server reports them."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time

import numpy as np
import pytest
from live import LivePlayer

pytestmark = pytest.mark.live

ROUTINE = """\
name: Duck test
steps:
  - name: Side bend
    instructions: Reach up and lean gently to the left.
    sides: none
    hold: {hold}
    prep: 1
    countdown: 0
    halfway: false
"""
#: Volumes as pactl reports them: 65536 is 100%. They are cubic: 12 dB lower in
#: amplitude is the cube root of 10 ** (-12 / 20), 63% of the volume.
FULL = 65536
DUCKED = round(FULL * 10 ** (-12 / 60))


def other_app(sink) -> subprocess.Popen:
    """A second app playing a quiet tone into the sink for a minute."""
    rate = 22050
    tone = 0.1 * np.sin(2 * np.pi * 330 * np.arange(60 * rate) / rate)
    process = subprocess.Popen(
        ["pacat", "--playback", "--rate=22050", "--channels=1", "--format=s16le", "--raw",
         "--client-name=other-app"],
        stdin=subprocess.PIPE, env=sink.env,
    )  # fmt: skip
    assert process.stdin is not None

    def feed() -> None:  # pacat takes it in real time
        with contextlib.suppress(OSError):
            process.stdin.write((tone * 32767).astype(np.int16).tobytes())

    threading.Thread(target=feed, daemon=True).start()
    return process


def streams(sink) -> list[dict]:
    result = subprocess.run(
        ["pactl", "-f", "json", "list", "sink-inputs"],
        env=sink.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout)


def volume_of(sink, pid: int) -> int | None:
    """The first channel's volume of the stream of process ``pid``, or None."""
    for stream in streams(sink):
        if stream["properties"].get("application.process.id") == str(pid):
            return int(next(iter(stream["volume"].values()))["value"])
    return None


def wait_for_volume(sink, pid: int, test, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        volume = volume_of(sink, pid)
        if volume is not None and test(volume):
            return volume
        assert time.monotonic() < deadline, f"volume {volume} did not change in {timeout} s"
        time.sleep(0.02)


def start_player(sink, command, tmp_path, hold: int = 10) -> LivePlayer:
    path = tmp_path / "duck.yaml"
    path.write_text(ROUTINE.format(hold=hold))
    return LivePlayer(command, [str(path), "--plain", "--duck-others"], sink.env)


def test_other_apps_are_lowered_during_cues_and_restored_after(
    paced_sink, voice_coach_command, tmp_path
):
    other = other_app(paced_sink)
    try:
        wait_for_volume(paced_sink, other.pid, lambda v: v == FULL, 10)
        player = start_player(paced_sink, voice_coach_command, tmp_path)
        try:
            # The title and instructions: lowered by 12 dB (a quarter) while they play.
            wait_for_volume(paced_sink, other.pid, lambda v: v < FULL, 20)
            ducked = wait_for_volume(paced_sink, other.pid, lambda v: v <= DUCKED + 64, 2)
            player.wait_for(r"\[hold-start chime\]")
            # In the quiet middle of the hold, back to full.
            restored = wait_for_volume(paced_sink, other.pid, lambda v: v == FULL, 6)
            # The player's own stream says what it is, for role-based policies.
            own = [s for s in streams(paced_sink) if s["properties"].get(
                "application.process.id") == str(player.process.pid)]  # fmt: skip
            assert own and own[0]["properties"].get("media.role") == "Navigation", own
            code = player.finish(timeout=60)
        finally:
            if player.process.poll() is None:
                player.process.kill()
        assert code == 0, player.stderr
        assert abs(ducked - DUCKED) <= 64 and restored == FULL
        # Restored after the end too.
        assert wait_for_volume(paced_sink, other.pid, lambda v: v == FULL, 3) == FULL
    finally:
        other.kill()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm", "kill"])
def test_other_apps_are_restored_however_the_player_stops(
    paced_sink, voice_coach_command, tmp_path, how
):
    other = other_app(paced_sink)
    try:
        wait_for_volume(paced_sink, other.pid, lambda v: v == FULL, 10)
        player = start_player(paced_sink, voice_coach_command, tmp_path, hold=30)
        wait_for_volume(paced_sink, other.pid, lambda v: v <= DUCKED + 64, 20)
        sent = {"ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM, "kill": signal.SIGKILL}
        player.process.send_signal(sent[how])
        player.finish(timeout=20)
        assert wait_for_volume(paced_sink, other.pid, lambda v: v == FULL, 3) == FULL
    finally:
        other.kill()


def test_without_a_sound_server_it_says_so_in_one_line(voice_coach_command, tmp_path):
    """No pulse server to talk to: one line, and the routine plays on (here into ALSA's
    null device)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".asoundrc").write_text("pcm.!default { type null }\n")
    path = tmp_path / "duck.yaml"
    path.write_text(ROUTINE.format(hold=2))
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path), "PATH": "/usr/bin:/bin",
           "PULSE_SERVER": f"unix:{tmp_path}/no-such-socket"}  # fmt: skip
    result = subprocess.run(
        [voice_coach_command, "play", str(path), "--plain", "--duck-others"],
        env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    notices = [line for line in result.stdout.splitlines() if "--duck-others" in line]
    assert len(notices) == 1 and "no PulseAudio or PipeWire" in notices[0], result.stdout
