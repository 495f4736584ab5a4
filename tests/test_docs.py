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
    assert "unknown playback 'jack'; choose portaudio or simpleaudio" in result.stdout
    assert "Two stretches for the neck ['Neck tilt', 'Chin tuck']" in result.stdout
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == [
        *("desk-music.ogg", "desk-tracks", "desk.flac", "desk.json", "desk.ogg", "desk.vtt"),
        "tune.wav",
    ]


def test_every_public_name_is_on_the_api_page():
    page = DOCS.read_text(encoding="utf-8")
    missing = [name for name in voice_coach.__all__ if f"`{name}`" not in page and name not in page]
    assert missing == []


#: CLI options of ``play`` and ``export`` whose place in the API is not a parameter of
#: the same name or a Settings field.
ELSEWHERE = {
    "routine": "play: its first argument",
    "routines": "export: its first argument (one routine a call)",
    "output": "export: path",
    "file_format": "export: the path's suffix",
    "from_article": "import_article, then parse_routine",
    "no_music": "Settings(music=()): no music, whatever the routine or config says",
}


def test_every_option_of_play_and_export_has_its_place_in_the_api():
    """Python callers can do what the command line does: each option of ``play`` and
    ``export`` is a parameter of the API's function, a Settings field, or in ELSEWHERE."""
    import dataclasses
    import inspect

    from voice_coach.cli import cli

    fields = {field.name for field in dataclasses.fields(voice_coach.Settings)}
    for name in ("play", "export"):
        parameters = set(inspect.signature(getattr(voice_coach, name)).parameters)
        options = {param.name for param in cli.commands[name].params}
        assert options - parameters - fields - set(ELSEWHERE) == set(), name
    assert "path" in inspect.signature(voice_coach.export).parameters
    assert callable(voice_coach.import_article) and callable(voice_coach.parse_routine)
