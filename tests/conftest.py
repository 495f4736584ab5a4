"""Shared fixtures. Tests use the real eSpeak NG through pyttsx3, with a clip cache
private to this test session (so a user's cache is never touched)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The clip cache the tests share: a fresh one per session, or the folder
#: VOICE_COACH_TEST_CACHE names (`scripts/test --fast` keeps one, so its next run is warm;
#: clips are content-addressed and checksummed, so a cache never serves a wrong one).
_SESSION_CACHE = os.environ.get("VOICE_COACH_TEST_CACHE") or tempfile.mkdtemp(
    prefix="voice-coach-test-cache-"
)
os.environ["VOICE_COACH_CACHE"] = _SESSION_CACHE
# Nor is a user's config read: tests that want one write their own.
os.environ["VOICE_COACH_CONFIG"] = os.path.join(_SESSION_CACHE, "no-config.toml")

# A shell without job control starts background jobs (`scripts/test &`) with Ctrl-C
# ignored, and every process they start inherits that: the tests that send SIGINT to
# voice-coach would see it ignored. Python's own handler here makes it the default again
# in every child.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ALSA_CAPTURE_CONFIG = """\
pcm.!default {{
  type file
  slave.pcm "null"
  file "{capture}"
  format "raw"
}}
"""

ALSA_NO_DEVICE_CONFIG = """\
pcm.!default {
  type hw
  card 97
}
"""


@pytest.fixture(scope="session")
def hamstrings_program():
    """The built-in routine, spoken by the real engine and compiled."""
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine

    return prepare(load_routine("hamstrings"))


@pytest.fixture
def alsa_capture(tmp_path):
    """(env, capture_path): an environment whose HOME has a test-only ~/.asoundrc that
    sends the default ALSA device to a raw file (over the null device). Run playback
    in a subprocess with this env, then read the captured int16 samples."""
    home = tmp_path / "home"
    home.mkdir()
    capture = tmp_path / "captured.raw"
    (home / ".asoundrc").write_text(ALSA_CAPTURE_CONFIG.format(capture=capture))
    return {**os.environ, "HOME": str(home)}, capture


@pytest.fixture
def alsa_no_device(tmp_path):
    """An environment whose ALSA default device is a sound card that does not exist."""
    home = tmp_path / "home-no-device"
    home.mkdir()
    (home / ".asoundrc").write_text(ALSA_NO_DEVICE_CONFIG)
    return {**os.environ, "HOME": str(home)}


@pytest.fixture(scope="session")
def voice_coach_command():
    """The installed ``voice-coach`` console script of the running interpreter's venv."""
    script = Path(sys.executable).parent / "voice-coach"
    assert script.exists(), f"voice-coach is not installed beside {sys.executable}"
    return str(script)


@pytest.fixture
def paced_sink(tmp_path):
    """A private PulseAudio server with a real-time null sink, with ALSA's default
    device routed to it (Debian's pulseaudio and libasound2-plugins)."""
    from live import private_pulseaudio

    with private_pulseaudio(tmp_path) as sink:
        yield sink


def skip_without_simpleaudio() -> None:
    """Skip, saying why, on the Pythons the simpleaudio extra leaves out (3.12 and
    later: simpleaudio 1.0.4 crashes there); on 3.11 it must be installed."""
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("simpleaudio 1.0.4 runs on Python 3.11 only (the extra leaves it out)")


@pytest.fixture(params=["portaudio", "simpleaudio"])
def backend_sink(request, tmp_path):
    """(sink, play options): a private PulseAudio server as ``paced_sink``, and the
    options that play into it through each backend. simpleaudio's sink does not
    rewind, so its monitor records what its buffers played (see live.py)."""
    from live import private_pulseaudio

    portaudio = request.param == "portaudio"
    if not portaudio:
        skip_without_simpleaudio()
    with private_pulseaudio(tmp_path, rewinds=portaudio) as sink:
        yield sink, [] if portaudio else ["--audio", "simpleaudio"]


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB file system of the test's own (tmpfs), mounted for the test only."""
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


#: Fixtures that play through a real device (a private PulseAudio server, an ALSA file
#: device) or a session bus: the tests that use them are marked live.
LIVE_FIXTURES = {
    "paced_sink",
    "backend_sink",
    "alsa_capture",
    "alsa_no_device",
    "alsa_paced",
    "session_bus",
}


def pytest_collection_modifyitems(items) -> None:
    """Mark live every test that uses a live fixture (see LIVE_FIXTURES)."""
    for item in items:
        if LIVE_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.live)
