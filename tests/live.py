"""Helpers for tests (and ``scripts/bench listen``) of live playback: a private
PulseAudio server with a real-time null sink, a room around it (the output coming
back into a microphone), the player as a subprocess, read line by line and driven
through a pseudo-terminal, and a recording of what it played."""

from __future__ import annotations

import contextlib
import os
import pty
import queue
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np


class PacedSink:
    """A PulseAudio null sink that plays in real time, and a recorder on its monitor."""

    def __init__(self, env: dict, folder: Path) -> None:
        self.env = env
        self.folder = folder

    def record(self, path: Path, channels: int = 1) -> subprocess.Popen:
        """Start recording the sink to raw int16 ``path``; stop it with ``.terminate()``."""
        handle = open(path, "wb")  # noqa: SIM115 - closed by the recorder's exit
        recorder = subprocess.Popen(
            [
                "parec",
                "--device=vc_sink.monitor",
                "--format=s16le",
                "--rate=22050",
                f"--channels={channels}",
                "--raw",
                "--latency-msec=10",
            ],
            stdout=handle,
            env=self.env,
        )
        handle.close()
        time.sleep(0.3)  # let the recorder connect before anything plays
        return recorder


@contextlib.contextmanager
def private_pulseaudio(folder: Path, rewinds: bool = True) -> Iterator[PacedSink]:
    """A private PulseAudio server under ``folder`` with a real-time null sink
    (``vc_sink``), ALSA's default device routed to it (Debian's pulseaudio and
    libasound2-plugins); stopped on leaving.

    Without ``rewinds`` the sink never re-renders what it has mixed ahead to fit a
    new stream in sooner, so its monitor records exactly what was played (with
    rewinds, the monitor keeps the first rendering around a new stream's start; a
    real card, or PipeWire, which never rewinds, plays the second).
    """
    for tool in ("pulseaudio", "parec", "pactl"):
        assert shutil.which(tool), f"{tool} is missing: scripts/test installs pulseaudio"
    home, runtime = folder / "pa-home", folder / "pa-run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    (home / ".asoundrc").write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}
    server = subprocess.Popen(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--use-pid-file=no",
            "--log-target=stderr",
            "--log-level=error",
            "-L",
            "module-null-sink sink_name=vc_sink rate=22050 channels=2"
            + ("" if rewinds else " norewinds=1"),
            "-L",
            "module-native-protocol-unix",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode:
            assert server.poll() is None, "pulseaudio exited at start"
            assert time.monotonic() < deadline, "pulseaudio did not start"
            time.sleep(0.05)
        subprocess.run(["pactl", "set-default-sink", "vc_sink"], env=env, check=True)
        yield PacedSink(env, folder)
    finally:
        server.terminate()
        server.wait(timeout=10)


def tee_to_files(sink: PacedSink, folder: Path) -> dict:
    """An environment whose default ALSA device is the file plugin in front of the
    sink: what is played is also written, as raw int16, into ``folder``, one file
    per opening of the device (``0.raw``, ``1.raw``, ...: simpleaudio opens it for
    each buffer). Read them back with :func:`handed`.

    One file per opening, not one file appended to: buffers overlap by a moment, and
    two writers appending at once interleave their pieces.

    PulseAudio's ALSA hook replaces the default device with its own wherever a
    server can be found, so this one finds none (an empty runtime folder) and its
    pulse plugin names the server's socket itself.
    """
    home, runtime = sink.folder / "tee-home", sink.folder / "tee-run"
    home.mkdir()
    runtime.mkdir(mode=0o700)
    folder.mkdir(exist_ok=True)
    native = Path(sink.env["XDG_RUNTIME_DIR"]) / "pulse" / "native"
    (home / ".asoundrc").write_text(
        "pcm.!default {\n"
        "  type file\n"
        f'  slave.pcm {{ type pulse server "unix:{native}" }}\n'
        f'  file "|n={folder}/$(ls {folder} | wc -l); cat > $n.part; mv $n.part $n.raw"\n'
        '  format "raw"\n'
        "}\n"
    )
    return {**sink.env, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime)}


def handed(folder: Path) -> tuple[np.ndarray, int]:
    """What :func:`tee_to_files` wrote into ``folder``: the int16 samples of every
    opening of the device, in order, and how many openings there were.

    Each file is written as ``N.part`` and renamed once its writer has seen the end
    (a writer can outlive the player by a moment), so this waits for those first.
    """
    deadline = time.monotonic() + 10
    while any(folder.glob("*.part")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(folder.glob("*.part")), "a capture of the device was never finished"
    files = sorted(folder.glob("*.raw"), key=lambda path: int(path.stem))
    pieces = [np.fromfile(path, dtype="<i2") for path in files]
    return (np.concatenate(pieces) if pieces else np.zeros(0, np.int16)), len(files)


class Room:
    """The private PulseAudio server as a room: the player's output (``vc_sink``)
    comes back into a second null sink, the microphone (``vc_mic``), whose monitor is
    the default source, as through open speakers; ``say`` speaks into it."""

    def __init__(self, sink: PacedSink, echo_msec: int = 20) -> None:
        self.sink = sink
        for tool in ("pacat", "pactl"):
            assert shutil.which(tool), f"{tool} is missing: scripts/test installs pulseaudio"
        for command in (
            ["load-module", "module-null-sink", "sink_name=vc_mic", "rate=16000", "channels=1"],
            [
                "load-module",
                "module-loopback",
                "source=vc_sink.monitor",
                "sink=vc_mic",
                f"latency_msec={echo_msec}",
            ],
            ["set-default-source", "vc_mic.monitor"],
        ):
            subprocess.run(["pactl", *command], env=sink.env, check=True, capture_output=True)

    def say(self, audio: np.ndarray) -> None:
        """Play float 16 kHz ``audio`` into the microphone; return once it has played."""
        pcm = np.rint(np.clip(audio, -1, 1) * 32767).astype(np.int16)
        subprocess.run(
            [
                "pacat",
                "--playback",
                "--device=vc_mic",
                "--rate=16000",
                "--channels=1",
                "--format=s16le",
                "--raw",
                "--latency-msec=10",
            ],
            input=pcm.tobytes(),
            env=self.sink.env,
            check=True,
        )


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
