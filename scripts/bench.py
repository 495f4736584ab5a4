"""Benchmarks, printed as ratios measured side by side in one run.

These machines are noisy, so each comparison interleaves its contenders round by
round and reports medians; read the ratios, not the absolute times.

    scripts/bench            # everything
    scripts/bench render     # one group: render, prepare, export
"""

from __future__ import annotations

import ast
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from voice_coach.export import export_audio
from voice_coach.pipeline import prepare
from voice_coach.routine import load_routine
from voice_coach.speech import Speaker

ROUNDS = 5


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict:
    """Median seconds of each contender, run in turn each round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def report(title: str, medians: dict[str, float], baseline: str) -> None:
    """Print each contender's median and its ratio to the baseline."""
    print(title)
    for name, seconds in medians.items():
        print(f"  {name:<28} {seconds * 1000:9.1f} ms   x{seconds / medians[baseline]:.2f}")


def bench_render() -> None:
    """Mixing speed against real time, and the effect of the block size."""
    program = prepare(load_routine("hamstrings"))

    def drain(block_samples: int) -> Callable[[], None]:
        return lambda: sum(len(b) for b in program.blocks(block_samples=block_samples))

    medians = interleaved({f"blocks of {n}": drain(n) for n in (2048, 8192, 65536)})
    report("render hamstrings to PCM (block size)", medians, "blocks of 8192")
    speed = program.script.duration / medians["blocks of 8192"]
    print(f"  rendering runs at {speed:.0f}x real time")


def bench_prepare() -> None:
    """Cold clip cache (every phrase synthesised) against a warm one."""
    routine = load_routine("hamstrings")
    warm_dir = Path(tempfile.mkdtemp(prefix="vc-bench-warm-"))
    prepare(routine, Speaker(cache_dir=warm_dir))

    def cold() -> None:
        prepare(routine, Speaker(cache_dir=Path(tempfile.mkdtemp(prefix="vc-bench-cold-"))))

    medians = interleaved(
        {"warm cache": lambda: prepare(routine, Speaker(cache_dir=warm_dir)), "cold cache": cold},
        rounds=3,
    )
    report("prepare hamstrings (synthesis + compile)", medians, "warm cache")


def bench_export() -> None:
    """Encoding cost of each format against WAV."""
    program = prepare(load_routine("hamstrings"))
    folder = Path(tempfile.mkdtemp(prefix="vc-bench-export-"))
    formats = (".wav", ".flac", ".ogg", ".mp3")
    medians = interleaved(
        {ext: (lambda ext=ext: export_audio(program, folder / f"h{ext}")) for ext in formats},
        rounds=3,
    )
    report("export hamstrings (format)", medians, ".wav")
    for ext in formats:
        size = (folder / f"h{ext}").stat().st_size
        print(f"  {ext:<5} {size / 1e6:6.2f} MB")


FIRST_SAMPLE_READER = """
import sys, time
# Drain the device's raw output from a FIFO; note when the first sample arrives
# (anything but digital silence) and when the first word does (a loud sample).
first = word = None
with open(sys.argv[1], "rb") as device:
    while True:
        chunk = device.read(512)
        if not chunk:
            break
        if first is None and chunk.strip(b"\\0"):
            first = time.time()
        if word is None and first is not None:
            samples = memoryview(chunk).cast("h")
            if max(abs(x) for x in samples) > 3000:
                word = time.time()
with open(sys.argv[2], "w") as stamp:
    stamp.write(repr((first, word)))
"""


def first_sample_seconds(cache_dir: Path) -> tuple[float, float]:
    """Seconds from launching `voice-coach play hamstrings` to its first sample, and to
    its first word, reaching the device: ALSA's file plugin writes into a FIFO whose
    reader, started beforehand, notes the times."""
    import os
    import subprocess

    folder = Path(tempfile.mkdtemp(prefix="vc-bench-start-"))
    reader, stamp, fifo = folder / "reader.py", folder / "first-sample", folder / "device"
    reader.write_text(FIRST_SAMPLE_READER)
    os.mkfifo(fifo)
    (folder / ".asoundrc").write_text(
        f'pcm.!default {{\n  type file\n  slave.pcm "null"\n  file "{fifo}"\n  format "raw"\n}}\n'
    )
    listener = subprocess.Popen([sys.executable, str(reader), str(fifo), str(stamp)])
    time.sleep(0.2)  # the reader is waiting on the FIFO before we start the clock
    env = {**os.environ, "HOME": str(folder), "VOICE_COACH_CACHE": str(cache_dir)}
    command = [str(Path(sys.executable).parent / "voice-coach"), "play", "hamstrings", "--plain"]
    started = time.time()
    process = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, check=False)
    listener.wait(timeout=60)
    if process.returncode:
        raise RuntimeError(f"voice-coach play failed with exit code {process.returncode}")
    first, word = ast.literal_eval(stamp.read_text())
    return first - started, word - started


def bench_start() -> None:
    """Time to the first sample of `voice-coach play`, warm and cold clip cache,
    beside the bare cost of starting Python with voice_coach imported."""
    import subprocess

    warm = Path(tempfile.mkdtemp(prefix="vc-bench-warm-"))
    prepare(load_routine("hamstrings"), Speaker(cache_dir=warm))

    def python_start() -> None:
        subprocess.run([sys.executable, "-c", "import voice_coach"], check=True)

    names = ("python + import", "warm: first sample", "warm: first word")
    names += ("cold: first sample", "cold: first word")
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(ROUNDS):
        begun = time.perf_counter()
        python_start()
        times["python + import"].append(time.perf_counter() - begun)
        for label, cache in (("warm", warm), ("cold", None)):
            cache = cache or Path(tempfile.mkdtemp(prefix="vc-bench-cold-"))
            first, word = first_sample_seconds(cache)
            times[f"{label}: first sample"].append(first)
            times[f"{label}: first word"].append(word)
    medians = {name: statistics.median(values) for name, values in times.items()}
    report("play hamstrings: launch to first sample and first word (median)", medians, names[0])
    warm_first = medians["warm: first sample"]
    goal = "meets" if warm_first <= 0.3 else "MISSES"
    print(f"  warm start {warm_first:.3f} s to the first sample: {goal} the 0.3 s goal")


GROUPS = {
    "start": bench_start,
    "render": bench_render,
    "prepare": bench_prepare,
    "export": bench_export,
}


def main(argv: list[str]) -> int:
    """Run the named groups, or all of them."""
    names = argv[1:] or list(GROUPS)
    unknown = [name for name in names if name not in GROUPS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(GROUPS)}")
        return 2
    for name in names:
        GROUPS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
