"""Helpers for tests of live playback: the player as a subprocess, read line by line
and driven through a pseudo-terminal, and a recording of what it played (the
``paced_sink`` fixture's PulseAudio monitor)."""

from __future__ import annotations

import os
import pty
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import numpy as np


class Recording:
    """``parec`` on the sink monitor; knows how many frames it has written so far."""

    def __init__(self, sink, path: Path, channels: int = 1) -> None:
        self.path = path
        self.channels = channels
        self.process = sink.record(path, channels)

    def frames_so_far(self) -> int:
        """Frames recorded by now: the recorded sample sounding at this instant
        (give or take the recorder's own 10 ms latency, which makes a key look earlier)."""
        return os.path.getsize(self.path) // (2 * self.channels)

    def stop(self) -> np.ndarray:
        """Stop recording; the samples as float, shape (n,) or (n, channels)."""
        self.process.terminate()
        self.process.wait(timeout=10)
        pcm = np.fromfile(self.path, dtype=np.int16)
        pcm = pcm[: len(pcm) // self.channels * self.channels]
        return pcm if self.channels == 1 else pcm.reshape(-1, self.channels)


class LivePlayer:
    """``voice-coach play`` with a pseudo-terminal as its keyboard and its output read
    line by line (each line stamped with the monotonic time it arrived)."""

    def __init__(self, command: str, args: list[str], env: dict, keyboard: bool = True):
        self.master = None
        stdin = subprocess.DEVNULL
        if keyboard:
            self.master, slave = pty.openpty()
            stdin = slave
        self.process = subprocess.Popen(
            [command, "play", *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        if keyboard:
            os.close(slave)
        self.lines: queue.Queue[tuple[float, str]] = queue.Queue()
        self.seen: list[str] = []
        self.stderr = ""
        self._out = threading.Thread(target=self._read_stdout, daemon=True)
        self._err = threading.Thread(target=self._read_stderr, daemon=True)
        self._out.start()
        self._err.start()

    def _read_stdout(self) -> None:
        for raw in self.process.stdout:
            self.lines.put((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))

    def _read_stderr(self) -> None:
        self.stderr = self.process.stderr.read().decode(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60) -> tuple[float, str]:
        """The first line from now on matching ``pattern`` (re.search), with its time."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no line matching {pattern!r} in {timeout} s; saw {self.seen}"
                )
            try:
                stamp, line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return stamp, line

    def press(self, key: bytes) -> None:
        os.write(self.master, key)

    def finish(self, timeout: float) -> int:
        """Wait for the exit; the exit code. All remaining output lands in ``seen``."""
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._out.join(timeout=5)
            self._err.join(timeout=5)
            if self.master is not None:
                os.close(self.master)
        while not self.lines.empty():
            self.seen.append(self.lines.get()[1])
        return code


def zero_runs(audio: np.ndarray, start: int, stop: int, min_length: int) -> list[tuple[int, int]]:
    """(first, end) of each run of ``min_length`` or more exact zeros in audio[start:stop]."""
    zero = np.concatenate(([False], audio[start:stop] == 0, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(zero))
    runs = zip(edges[::2], edges[1::2], strict=True)
    return [(start + int(a), start + int(b)) for a, b in runs if b - a >= min_length]
