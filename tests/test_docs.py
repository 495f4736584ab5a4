"""The Python API's page (docs/python-api.md): every example runs as written, and every
public name is on it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import voice_coach

DOCS = Path(__file__).resolve().parent.parent / "docs" / "python-api.md"
#: The examples to run: ```python blocks (```python no-run ones need a sound device).
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def test_every_example_on_the_api_page_runs(tmp_path):
    code = "\n".join(BLOCK.findall(DOCS.read_text(encoding="utf-8")))
    assert "voice_coach.export(" in code and "voice_coach.prepare(" in code
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Hamstring stretches 3 steps" in result.stdout
    assert "['01 Neck roll.flac', 'Desk break.m3u']" in result.stdout
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == [
        *("desk-music.ogg", "desk-tracks", "desk.flac", "desk.json", "desk.ogg", "desk.vtt"),
        "tune.wav",
    ]


def test_every_public_name_is_on_the_api_page():
    page = DOCS.read_text(encoding="utf-8")
    missing = [name for name in voice_coach.__all__ if f"`{name}`" not in page and name not in page]
    assert missing == []
