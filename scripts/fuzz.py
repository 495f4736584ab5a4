"""Coverage-guided fuzzing (atheris, libFuzzer) of what reads untrusted input.

    scripts/fuzz                      # every target, 100,000 inputs each
    scripts/fuzz routine --runs 500000
    scripts/fuzz import --seconds 300

Each target runs in its own process. An input that raises anything but the
project's own errors (VoiceCoachError) counts as an uncaught exception; libFuzzer
stops there and saves the input as crash-* in the current folder. The seed corpus
is the built-in routines and a routine using every setting (and,
for the importer, the project's own test articles), so mutations start from real
structure. The routine target runs `check`'s collecting pass too.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS = 100_000
TARGETS = ("routine", "import")

TARGET_CODE = r"""
import sys
import atheris

with atheris.instrument_imports():
    import yaml
    from voice_coach.errors import VoiceCoachError
    from voice_coach.routine import find_problems, parse_routine
    try:
        from voice_coach.importer import import_article
    except ImportError:
        import_article = None

TARGET = sys.argv.pop(1)


def one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    try:
        if TARGET == "routine":
            find_problems(text, "fuzz.yaml")  # `check`: every problem, never a crash
            parse_routine(text, "fuzz.yaml")
        else:
            parse_routine(import_article(text, "fuzz.txt"), "imported.yaml")
    except VoiceCoachError:
        pass  # a clear, one-line error: the expected way to refuse bad input


atheris.Setup(sys.argv, one_input)
atheris.Fuzz()
"""


def seeds(target: str, folder: Path) -> None:
    """Write the seed corpus for ``target`` into ``folder``."""
    sources = list((ROOT / "voice_coach" / "routines").glob("*.yaml"))
    if target == "import":
        sources = list((ROOT / "tests" / "articles").glob("*")) or sources
    for index, source in enumerate(sources):
        (folder / f"seed-{index}").write_bytes(source.read_bytes())
    if target == "routine":
        (folder / "seed-settings").write_text(EVERY_SETTING, encoding="utf-8")


#: A routine using every setting, so mutations reach each one's checks.
EVERY_SETTING = """\
name: Every setting
language: de
defaults:
  hold: 30
  prep: 5
  rest: 5
  switch: 3
  sides: each
  limb: leg
  reps: 2
  countdown: {every: 5, last: 3}
  warn: [10, 20]
  halfway: true
  fractions: [1/3, 2/3]
  pause_after_step: false
  sounds: {set: bell, finish: sounds/gong.ogg}
  chime_level: -6
  speech_level: 2
  voice: de
  rate: 150
  volume: 80
steps:
  - name: Eins
    instructions: Setz dich hin.
    countdown: off
  - name: Zwei
    sides: none
    fractions: 0.25
"""


def fuzz(target: str, runs: int, seconds: int | None) -> tuple[int, int, float]:
    """Run one target; return (inputs tried, uncaught exceptions, seconds taken)."""
    corpus = Path(tempfile.mkdtemp(prefix=f"vc-fuzz-{target}-"))
    seeds(target, corpus)
    options = [f"-runs={runs}", "-max_len=4096", "-print_final_stats=1"]
    if seconds:
        options = [f"-max_total_time={seconds}", "-max_len=4096", "-print_final_stats=1"]
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", TARGET_CODE, target, *options, str(corpus)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    output = result.stdout + result.stderr
    found = re.findall(r"stat::number_of_executed_units:\s*(\d+)", output)
    done = int(found[-1]) if found else 0
    crashed = 1 if ("Uncaught Python exception" in output or result.returncode not in (0,)) else 0
    if crashed:
        print(output[-3000:], file=sys.stderr)
    return done, crashed, elapsed


def main(argv: list[str]) -> int:
    """Fuzz the named targets (default: all) and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="routine, import (default: both)")
    parser.add_argument("--runs", type=int, default=DEFAULT_RUNS)
    parser.add_argument("--seconds", type=int, default=None)
    args = parser.parse_args(argv[1:])
    targets = args.targets or list(TARGETS)
    unknown = [target for target in targets if target not in TARGETS]
    if unknown:
        parser.error(f"unknown target {unknown[0]!r}; choose from {', '.join(TARGETS)}")
    failed = 0
    for target in targets:
        if target == "import" and not (ROOT / "voice_coach" / "importer.py").exists():
            print("import: no importer yet, skipped")
            continue
        done, crashed, elapsed = fuzz(target, args.runs, args.seconds)
        print(
            f"{target}: {done:,} inputs in {elapsed:.0f} s, "
            f"{crashed} uncaught exception{'s' if crashed != 1 else ''}"
        )
        failed += crashed
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
