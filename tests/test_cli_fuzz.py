"""The whole command line, fuzzed: random commands, options and files, hostile and careless.

hypothesis draws a command with options (real ones, with odd values: control
characters, NaN, huge numbers, other arguments' paths) over files of every kind (routines
with odd values, random bytes, UTF-16, pipes, devices, folders, links to /dev/zero).
Each run goes through the installed ``voice-coach`` and must end within its time
budget with exit code 0, 1 or 2, no traceback, a bounded peak memory, and the inputs it
was given exactly as they were.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands import run, run_measured

pytestmark = pytest.mark.slow

#: What no run may pass: a hang, a traceback, or this much memory.
TIMEOUT_SECONDS = 10
PEAK_MIB = 500

BASE_ROUTINE = """\
name: Fuzzed
defaults:
  hold: {hold}
  countdown: {countdown}
steps:
  - name: {name}
    instructions: {instructions}
    sides: {sides}
    reps: {reps}
"""

odd_text = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
) | st.sampled_from(["\x1b]0;owned\x07", "a\nb", "\u202eevil", "😀", "-", "--help", ""])
odd_number = st.sampled_from(
    ["nan", "inf", "-inf", "1e999", "0", "-1", "9" * 5000, "²", "٣", "1.5", "30", "every:1"]
)
yaml_value = st.one_of(
    st.integers(-10, 100_000).map(str),
    odd_number,
    odd_text.map(lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'),
    st.sampled_from(["[1, 2]", "{every: 1}", "{every: 2, last: 30}", "off", "~", "&a x", "*a"]),
)


@st.composite
def routine_text(draw) -> bytes:
    """A routine whose values are drawn at random, or bytes that are not one at all."""
    kind = draw(st.sampled_from(["routine", "routine", "routine", "bytes", "utf16", "many"]))
    if kind == "bytes":
        return draw(st.binary(max_size=300))
    if kind == "many":
        return (
            "name: Many\nsteps: [" + "{name: a}," * draw(st.integers(1, 70_000)) + "]\n"
        ).encode()
    text = BASE_ROUTINE.format(
        hold=draw(yaml_value),
        countdown=draw(yaml_value),
        name=draw(yaml_value),
        instructions=draw(yaml_value),
        sides=draw(st.sampled_from(["each", "none", "both", '"\\e[2J"'])),
        reps=draw(yaml_value),
    )
    return text.encode("utf-16") if kind == "utf16" else text.encode()


def make_file(folder: Path, name: str, kind: str, content: bytes) -> Path:
    """A file of the given kind at ``folder/name``."""
    path = folder / name
    if kind == "file":
        path.write_bytes(content)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "zero":
        os.symlink("/dev/zero", path)
    elif kind == "null":
        os.symlink("/dev/null", path)
    return path


FILE_KINDS = st.sampled_from(["file", "file", "file", "fifo", "folder", "zero", "null", "missing"])
SUFFIXES = st.sampled_from([".yaml", ".wav", ".mp3", ".ogg", ".json", ".vtt", ".srt", ".m3u", ""])


@st.composite
def command_line(draw, folder: Path) -> list:
    """A command, its arguments and options, and the files they name."""
    paths = []
    for index in range(draw(st.integers(1, 3))):
        suffix = draw(SUFFIXES)
        odd = draw(st.sampled_from(["", "", "\n", "\x1b[1m", " ", "%", "$(x)", "é"]))
        path = make_file(folder, f"f{index}{odd}{suffix}", draw(FILE_KINDS), draw(routine_text()))
        paths.append(path)
    names = [str(path) for path in paths] + ["hamstrings", "-", "/dev/null", ""]
    pick = st.sampled_from(names)
    value = st.one_of(pick, odd_text, odd_number)
    command = draw(
        st.sampled_from(
            ["check", "show", "export", "import", "new", "remind", "schema", "list", "config"]
        )
    )
    args: list = [command]
    if command in ("check", "show", "export", "import", "remind"):
        args.append(draw(pick))
    if command == "new":
        args.append(draw(odd_text))
    if command == "config":
        args.append(draw(st.sampled_from(["show", "path", "init"])))
    options = {
        "check": ["--countdown", "--sounds", "--rate", "--voice", "--engine"],
        "show": ["--chart", "--countdown", "--engine"],
        "export": ["-o", "--timeline", "--captions", "--split", "--quality", "--true-peak",
                   "--loudness", "--countdown", "-f", "--engine", "--pan"],
        "import": ["-o"],
        "new": ["-o"],
        "remind": ["--every", "--between", "--volume", "--voice", "--countdown"],
    }.get(command, [])  # fmt: skip
    chosen = draw(st.lists(st.sampled_from(options), max_size=4, unique=True)) if options else []
    for option in chosen:
        args.append(option)
        if option != "--pan":
            args.append(draw(value))
    if command == "remind":
        if "--every" not in args:
            args += ["--every", "1h"]
        args += ["--print", draw(st.sampled_from(["cron", "systemd"]))]
    if draw(st.booleans()) and command in ("check", "show", "export"):
        args += ["--engine", "pyttsx3"]  # the quicker engine, so more runs fit the budget
    return args


def snapshot(folder: Path) -> dict[str, tuple]:
    """What each entry of ``folder`` is: its kind, and a regular file's content hash."""
    found = {}
    for entry in folder.iterdir():
        mode = os.lstat(entry).st_mode
        digest = hashlib.sha256(entry.read_bytes()).hexdigest() if stat.S_ISREG(mode) else None
        found[entry.name] = (stat.S_IFMT(mode), digest)
    return found


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory):
    """A clip cache holding the built-in routine's clips, so runs spend their budget on
    the input, not on the first synthesis."""
    cache = tmp_path_factory.mktemp("fuzz-cache")
    env = {**os.environ, "VOICE_COACH_CACHE": str(cache)}
    for engine in ("pyttsx3", "piper"):
        result = run("check", "hamstrings", "--engine", engine, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
    return cache


@settings(
    max_examples=int(os.environ.get("VOICE_COACH_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize="VOICE_COACH_FUZZ_RANDOM" not in os.environ,  # CI: the same runs each time
)
@given(data=st.data())
def test_no_input_makes_a_traceback_a_hang_or_a_memory_blowup(warm_cache, data):
    folder = Path(tempfile.mkdtemp(prefix="vc-fuzz-"))
    try:
        args = data.draw(command_line(folder))
        # The routine or article a command reads: it must never change.
        read = args[1] if args[0] in ("check", "show", "export", "import", "remind") else None
        before = snapshot(folder)
        env = {
            **os.environ,
            "VOICE_COACH_CACHE": str(warm_cache),
            "VOICE_COACH_CONFIG": str(folder / "config.toml"),
        }
        measured = run_measured(*args, timeout=TIMEOUT_SECONDS, env=env, cwd=folder)
        stderr = measured.stderr.decode(errors="replace")
        assert measured.returncode is not None, f"hung: {args!r}"
        assert "Traceback" not in stderr, (args, stderr)
        assert measured.returncode in (0, 1, 2), (args, measured.returncode, stderr)
        assert measured.peak_mib < PEAK_MIB, (args, measured.peak_mib)
        if measured.returncode != 0 and args[0] != "check":  # check lists every problem
            notes = [line for line in stderr.splitlines() if ": note: " not in line]
            assert len(notes) == 1, (args, stderr)
        after = snapshot(folder)
        for name, (kind, digest) in before.items():
            assert name in after, (args, name)
            assert after[name][0] == kind, (args, name)  # a pipe or a link stays one
            if str(folder / name) == read or measured.returncode != 0:
                assert after[name] == (kind, digest), (args, name)
        assert not [name for name in after if ".part" in name], (args, after)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
