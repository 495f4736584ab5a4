#!/usr/bin/env python3
"""Rebuild tests/golden/hamstrings.script.json, the reviewed Script of the built-in routine.

The golden Script is compiled from made-up clip lengths (a fixed time per
character), so it depends only on the script engine and the routine, never on
the speech engine installed. Nobody edits the file by hand: change the engine
or the routine, run this, and review the diff.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice_coach.routine import load_routine  # noqa: E402
from voice_coach.script import CHIMES, compile_script, spoken_phrases  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "hamstrings.script.json"
SAMPLE_RATE = 22050
#: Made-up chime lengths in seconds.
CHIME_SECONDS = {"hold-start": 0.7, "hold-end": 0.95, "last-set": 0.9, "finish": 1.85}


def speech_seconds(text: str) -> float:
    """A made-up but plausible spoken length: 0.2 s plus 65 ms a character."""
    return 0.2 + 0.065 * len(text)


def golden_text() -> str:
    """The golden file's content: one cue or hold per line, times in seconds."""
    routine = load_routine("hamstrings")
    speech = {text: round(speech_seconds(text) * SAMPLE_RATE) for text in spoken_phrases(routine)}
    chimes = {name: round(CHIME_SECONDS[name] * SAMPLE_RATE) for name in CHIMES}
    script = compile_script(routine, speech, chimes, SAMPLE_RATE)

    def seconds(sample: int) -> float:
        return round(sample / SAMPLE_RATE, 6)

    lines = [
        "{",
        f' "sample_rate": {SAMPLE_RATE},',
        f' "duration": {seconds(script.length_samples)},',
        f' "notes": {json.dumps(list(script.notes))},',
        ' "cues": [',
    ]
    cue_lines = [
        "  "
        + json.dumps(
            [
                seconds(cue.start_sample),
                seconds(cue.end_sample),
                cue.kind,
                cue.role,
                cue.step,
                cue.side,
                cue.rep,
                cue.text if len(cue.text) <= 40 else cue.text[:37] + "...",
            ]
        )
        for cue in script.cues
    ]
    lines.append(",\n".join(cue_lines))
    lines.append(" ],")
    lines.append(' "holds": [')
    hold_lines = [
        "  "
        + json.dumps(
            [hold.step, hold.side, hold.rep, seconds(hold.start_sample), seconds(hold.end_sample)]
        )
        for hold in script.holds
    ]
    lines.append(",\n".join(hold_lines))
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write the golden file."""
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(golden_text(), encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
