"""Running the installed ``voice-coach`` as a user would: its exit code, its output, and
how much memory and time it took."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Three long holds: a 30-minute export with only a handful of phrases to speak.
LONG_ROUTINE = """\
name: Long holds
defaults:
  hold: 600
  countdown: 3
steps:
  - name: Seated forward fold
    instructions: Sit tall and fold forward from the hips.
  - name: Lying twist
    instructions: Let both knees fall to one side.
  - name: Child's pose
    instructions: Kneel, sit back on your heels and rest your forehead down.
"""

#: The console script installed beside the running interpreter.
VOICE_COACH = str(Path(sys.executable).parent / "voice-coach")

#: Run by a fresh Python, so that its children's peak memory is the command's own.
_MEASURE = """\
import resource, subprocess, sys, time
started = time.monotonic()
try:
    done = subprocess.run(sys.argv[2:], capture_output=True, timeout=float(sys.argv[1]))
    code, out, err = done.returncode, done.stdout, done.stderr
except subprocess.TimeoutExpired as expired:
    code, out, err = "timeout", expired.stdout or b"", expired.stderr or b""
sys.stderr.buffer.write(err)
sys.stdout.buffer.write(out)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
sys.stdout.buffer.write(f"\\n{code} {peak} {time.monotonic() - started}".encode())
"""


def run(*args, env=None, timeout: float = 120, **options) -> subprocess.CompletedProcess:
    """Run ``voice-coach ARGS``; stdout and stderr are captured as bytes."""
    return subprocess.run(
        [VOICE_COACH, *args], capture_output=True, env=env, timeout=timeout, check=False, **options
    )


class Measured:
    """A finished command: its result, peak resident memory (MiB) and seconds taken;
    ``returncode`` is None when it ran out of time (and was killed)."""

    def __init__(self, result: subprocess.CompletedProcess, peak_mib: float, seconds: float):
        self.result = result
        self.peak_mib = peak_mib
        self.seconds = seconds

    @property
    def returncode(self) -> int | None:
        return self.result.returncode

    @property
    def stderr(self) -> bytes:
        return self.result.stderr


def run_measured(*args, timeout: float = 120, **options) -> Measured:
    """Run ``voice-coach ARGS`` under a watcher that reports its peak memory and time,
    killing it after ``timeout`` seconds."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(timeout), VOICE_COACH, *map(str_or_bytes, args)],
        capture_output=True,
        check=False,
        timeout=timeout + 60,
        **options,
    )
    output, _, summary = result.stdout.rpartition(b"\n")
    code, peak, seconds = summary.decode().split()
    result.stdout = output
    result.returncode = None if code == "timeout" else int(code)
    return Measured(result, float(peak), float(seconds))


def str_or_bytes(value):
    return value if isinstance(value, bytes) else str(value)


def one_line(result) -> str:
    """The one line a refusal prints on stderr, with no traceback."""
    stderr = result.stderr.decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]
