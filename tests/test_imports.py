"""Layering: `import voice_coach` stays light, each library lives in one module, and the
pure core (routine, script, mixer) neither reaches the edges nor does I/O.

Like pallets/click's tests/test_imports.py, the import test runs in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import re
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
    "lameenc",
    "av",
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
    "simpleaudio",
    "pulsectl",
)
#: Every module of the package, from the core out, in the order of ARCHITECTURE.md's
#: table: each imports only modules above it (imports for type annotations aside).
RANK = (
    "errors",
    "terminal",
    "inputs",
    "lifetime",
    "phrases",
    "routine",
    "settings",
    "script",
    "ducking",
    "mixer",
    "chapters",
    "filters",
    "loudness",
    "transport",
    "echo",
    "article",
    "doses",
    "layout",
    "importer",
    "template",
    "atomic",
    "mp3",
    "mp4",
    "audiofile",
    "music",
    "neural",
    "speech",
    "_speech_worker",
    "sounds",
    "pipeline",
    "tags",
    "exporter",
    "batch",
    "chart",
    "config",
    "inbox",
    "keys",
    "views",
    "devices",
    "segmented",
    "others",
    "mpris_service",
    "mpris",
    "listen",
    "player",
    "remind",
    "__init__",
    "cli",
    "__main__",
)
#: The pure core: no I/O, no clock, no environment.
CORE = (
    "terminal",
    "phrases",
    "routine",
    "settings",
    "script",
    "ducking",
    "mixer",
    "chapters",
    "filters",
    "loudness",
    "transport",
    "echo",
    "article",
    "doses",
    "layout",
    "importer",
    "template",
)
#: Below the core and the edges alike: the project's errors, reading input files, and a
#: worker process's lifetime.
FOUNDATION = ("errors", "inputs", "lifetime")
EDGE = tuple(name for name in RANK if name not in (*CORE, *FOUNDATION, "__init__"))

#: Each third-party library may be imported by this one module only.
OWNER = {
    "click": "cli",
    "sounddevice": "devices",
    "rich": "views",
    "pyttsx3": "speech",
    "soundfile": "audiofile",
    "soxr": "audiofile",
    "lameenc": "mp3",
    "av": "mp4",
    "mutagen": "tags",
    "webvtt": "exporter",
    "piper": "neural",
    "onnxruntime": "neural",
    "markdown_it": "article",
    "matplotlib": "chart",
    "dbus_fast": "mpris_service",
    "pocketsphinx": "listen",
    "simpleaudio": "segmented",
    "pulsectl": "others",
}
#: Modules the clock-free, file-free core modules must not import.
_FILES_AND_CLOCK = {"os", "sys", "time", "pathlib", "io", "tempfile", "shutil", "subprocess"}
NO_IO = {
    **dict.fromkeys(CORE, _FILES_AND_CLOCK | {"datetime"}),
    # load_routine reads its file (through inputs), but no clock or env
    "routine": {"os", "sys", "time", "datetime", "io", "tempfile", "shutil", "subprocess"},
}
#: Third-party libraries each core module may use.
CORE_THIRD_PARTY = {
    **{name: set() for name in CORE},
    "routine": {"yaml"},
    "mixer": {"numpy"},
    "ducking": {"numpy"},
    "filters": {"numpy"},
    "loudness": {"numpy"},
    "transport": {"numpy"},
    "article": {"markdown_it"},
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


def imports_of(module: Path, typing_too: bool = True) -> set[str]:
    """Every module ``module`` imports, anywhere in the file (functions included), and
    under ``if TYPE_CHECKING:`` only with ``typing_too``.

    Absolute imports give their full dotted name and its parents; relative imports inside
    the package give ``voice_coach.<name>``.
    """
    found: set[str] = set()
    for node in _walk(parse(module), typing_too):
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


def _walk(tree: ast.AST, typing_too: bool):
    """ast.walk, leaving out ``if TYPE_CHECKING:`` blocks unless ``typing_too``."""
    pending = [tree]
    while pending:
        node = pending.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            typing_only = (
                isinstance(child, ast.If)
                and isinstance(child.test, ast.Name)
                and child.test.id == "TYPE_CHECKING"
            )
            if typing_too or not typing_only:
                pending.append(child)


IMPORTS = {module.stem: imports_of(module) for module in MODULES}


def test_the_ranks_list_every_module_once():
    assert sorted(RANK) == sorted(IMPORTS)


@pytest.mark.parametrize("module", RANK)
def test_each_module_imports_only_modules_above_it(module):
    """The import direction runs one way, from the core out (lazy imports included)."""
    found = imports_of(PACKAGE / f"{module}.py", typing_too=False)
    ours = {name.split(".")[1] for name in found if name.startswith("voice_coach.")}
    below = sorted(name for name in ours & set(RANK) if RANK.index(name) >= RANK.index(module))
    assert below == [], f"{module} imports modules at or below its rank: {below}"


def test_the_architecture_table_lists_the_modules_in_rank_order():
    table = (PACKAGE.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| `([\w]+)\.py` \|", table, flags=re.MULTILINE)
    assert tuple(listed) == RANK


@pytest.mark.parametrize(("library", "owner"), sorted(OWNER.items()))
def test_each_library_is_imported_by_one_module(library, owner):
    importers = sorted(name for name, found in IMPORTS.items() if library in found)
    assert importers == [owner]


#: Libraries only the tests use: the package installs without them.
TEST_ONLY = ("scipy", "pyebur128", "pyloudnorm")


@pytest.mark.parametrize("library", TEST_ONLY)
def test_test_only_libraries_are_imported_by_no_module(library):
    assert sorted(name for name, found in IMPORTS.items() if library in found) == []


@pytest.mark.parametrize("core", CORE)
def test_core_does_not_import_edge_modules(core):
    found = imports_of(PACKAGE / f"{core}.py", typing_too=False)
    edges = sorted(name for name in EDGE if f"voice_coach.{name}" in found)
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


#: routine.load_routine reads the file it is given; the rest of the core opens none.
@pytest.mark.parametrize("core", [name for name in CORE if name != "routine"])
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
