"""Layering: `import voice_coach` stays light, each library lives in one module, and the
pure core (routine, script, mixer) neither reaches the edges nor does I/O.

Like pallets/click's tests/test_imports.py, the import test runs in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import voice_coach

PACKAGE = Path(voice_coach.__file__).resolve().parent
MODULES = sorted(PACKAGE.glob("*.py"))
HEAVY = (
    "click",
    "numpy",
    "sounddevice",
    "rich",
    "pyttsx3",
    "soundfile",
    "soxr",
    "platformdirs",
    "mutagen",
    "scipy",
    "pyebur128",
    "webvtt",
    "piper",
    "onnxruntime",
    "markdown_it",
    "matplotlib",
    "dbus_fast",
    "pocketsphinx",
)
EDGE = (
    "speech",
    "sounds",
    "player",
    "inbox",
    "mpris",
    "listen",
    "export",
    "audiofile",
    "atomic",
    "pipeline",
    "tags",
    "batch",
    "neural",
    "chart",
    "remind",
    "config",
    "cli",
)
CORE = (
    "routine",
    "phrases",
    "script",
    "mixer",
    "chapters",
    "loudness",
    "article",
    "doses",
    "layout",
    "importer",
    "template",
)

#: Each third-party library may be imported by this one module only.
OWNER = {
    "click": "cli",
    "sounddevice": "player",
    "rich": "player",
    "pyttsx3": "speech",
    "soundfile": "audiofile",
    "soxr": "audiofile",
    "mutagen": "tags",
    "webvtt": "export",
    "pyebur128": "loudness",
    "piper": "neural",
    "markdown_it": "article",
    "matplotlib": "chart",
    "dbus_fast": "mpris",
    "pocketsphinx": "listen",
}
#: Modules the clock-free, file-free core modules must not import.
_FILES_AND_CLOCK = {"os", "sys", "time", "pathlib", "io", "tempfile", "shutil", "subprocess"}
NO_IO = {
    "phrases": _FILES_AND_CLOCK,
    "template": _FILES_AND_CLOCK,
    "script": _FILES_AND_CLOCK,
    "mixer": _FILES_AND_CLOCK,
    "chapters": _FILES_AND_CLOCK,
    "loudness": _FILES_AND_CLOCK,
    # load_routine reads its file (pathlib, importlib.resources), but no clock or env
    "routine": {"os", "sys", "time", "datetime", "io", "tempfile", "shutil", "subprocess"},
    "article": _FILES_AND_CLOCK | {"datetime"},
    "doses": _FILES_AND_CLOCK | {"datetime"},
    "layout": _FILES_AND_CLOCK | {"datetime"},
    "importer": _FILES_AND_CLOCK | {"datetime"},
}
#: Third-party libraries each core module may use.
CORE_THIRD_PARTY = {
    "routine": {"yaml"},
    "phrases": set(),
    "template": set(),
    "script": set(),
    "mixer": {"numpy"},
    "chapters": set(),
    "loudness": {"numpy", "pyebur128"},
    "article": {"markdown_it"},
    "doses": set(),
    "layout": set(),
    "importer": set(),
}
FILE_METHODS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}


def loaded_modules(statement: str) -> list[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return json.loads(result.stdout)


def heavy_in(modules: list[str]) -> list[str]:
    """The heavy top-level packages among ``modules``."""
    return sorted({name.split(".")[0] for name in modules} & set(HEAVY))


def test_import_voice_coach_is_light():
    modules = loaded_modules("import voice_coach")
    assert "voice_coach" in modules
    assert heavy_in(modules) == []
    edges = [f"voice_coach.{name}" for name in EDGE if f"voice_coach.{name}" in modules]
    assert edges == []


def test_import_cli_loads_click_but_no_audio_library():
    """`voice-coach --help` and `list` must not pay for numpy or the speech engine."""
    modules = loaded_modules("import voice_coach.cli")
    assert "click" in modules
    assert heavy_in(modules) == ["click"]


def parse(module: Path) -> ast.Module:
    return ast.parse(module.read_text(encoding="utf-8"), filename=str(module))


def imports_of(module: Path) -> set[str]:
    """Every module ``module`` imports, anywhere in the file (functions included).

    Absolute imports give their full dotted name and its parents; relative imports inside
    the package give ``voice_coach.<name>``.
    """
    found: set[str] = set()
    for node in ast.walk(parse(module)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                base = node.module or ""
                names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
            else:
                base = "voice_coach" + (f".{node.module}" if node.module else "")
                names = [base] if node.module else []
                names += [f"{base}.{alias.name}" for alias in node.names if not node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            found.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return found


IMPORTS = {module.stem: imports_of(module) for module in MODULES}


def test_the_package_has_the_modules_these_tests_expect():
    assert set(CORE) | set(EDGE) <= set(IMPORTS)


@pytest.mark.parametrize(("library", "owner"), sorted(OWNER.items()))
def test_each_library_is_imported_by_one_module(library, owner):
    importers = sorted(name for name, found in IMPORTS.items() if library in found)
    assert importers == [owner]


@pytest.mark.parametrize("core", CORE)
def test_core_does_not_import_edge_modules(core):
    edges = sorted(name for name in EDGE if f"voice_coach.{name}" in IMPORTS[core])
    assert edges == []


@pytest.mark.parametrize("core", CORE)
def test_core_does_no_io_and_reads_no_clock(core):
    assert sorted(NO_IO[core] & IMPORTS[core]) == []


@pytest.mark.parametrize("core", CORE)
def test_core_third_party_libraries(core):
    third_party = {
        name.split(".")[0]
        for name in IMPORTS[core]
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in ("voice_coach", "__future__")
    }
    assert third_party == CORE_THIRD_PARTY[core]


#: The pure core but routine.py, which reads the routine file it is given.
@pytest.mark.parametrize("core", [core for core in CORE if core != "routine"])
def test_pure_core_opens_no_files(core):
    calls = []
    for node in ast.walk(parse(PACKAGE / f"{core}.py")):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in ("open", "input", "print"):
            calls.append(f"{func.id}() on line {node.lineno}")
        elif isinstance(func, ast.Attribute) and func.attr in FILE_METHODS:
            calls.append(f".{func.attr}() on line {node.lineno}")
    assert calls == []


def test_imports_of_sees_imports_inside_functions():
    """The checker itself: cli.py imports the player lazily, inside a command."""
    assert "voice_coach.player" in IMPORTS["cli"]
    assert "click" in IMPORTS["cli"]
    assert "voice_coach.errors" in IMPORTS["routine"]
    assert "yaml" in IMPORTS["routine"]


def public_definitions(tree: ast.Module):
    """Public functions and classes at module level, and public methods of public classes."""
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    for node in tree.body:
        if isinstance(node, kinds) and not node.name.startswith("_"):
            yield node.name, node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, kinds) and not item.name.startswith("_"):
                        yield f"{node.name}.{item.name}", item


@pytest.mark.parametrize("module", MODULES, ids=lambda path: path.name)
def test_public_definitions_have_docstrings(module):
    tree = parse(module)
    assert ast.get_docstring(tree), f"{module.name} has no module docstring"
    missing = [name for name, node in public_definitions(tree) if not ast.get_docstring(node)]
    assert missing == []
