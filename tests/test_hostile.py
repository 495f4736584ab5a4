"""Hostile and careless input, through the installed command, as a user would give it.

Each class of problem is tried in several forms: special files as targets and as
inputs, outputs that are inputs or each other, control characters bound for a
schedule or a terminal, files that unpack to far more than they weigh, settings
that ask for thousands of phrases, SIGTERM, a closed or full standard output.
Every refusal is one line naming the user's path, with exit code 1 (2 for usage
errors), and nothing on disk changes.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile

from commands import LONG_ROUTINE, VOICE_COACH, one_line, run, run_measured

ROUTINE = """\
name: Tiny
steps:
  - name: Shrug
    instructions: Lift your shoulders to your ears.
    hold: 2
    sides: none
    countdown: 1
"""
PRECIOUS = b"what the user had"
#: Longest a refusal may take: it comes before any synthesis, rendering or decoding.
QUICK_SECONDS = 20


def write(path: Path, text: str = ROUTINE) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def kind_of(path: Path) -> str:
    mode = os.lstat(path).st_mode
    for test, name in (
        (stat.S_ISFIFO, "fifo"),
        (stat.S_ISCHR, "device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISLNK, "link"),
        (stat.S_ISREG, "file"),
    ):
        if test(mode):
            return name
    return "other"


# ------------------------------------------------------------ special files as targets
def make_special(path: Path, kind: str) -> socket.socket | None:
    """A FIFO, a null device node of our own, a socket, or a link to a device."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        try:
            os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # like /dev/null
        except PermissionError:
            pytest.skip("making a device node needs root")
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        return server
    elif kind == "link-to-device":
        os.symlink("/dev/null", path)
    return None


SPECIAL = ["fifo", "device", "socket", "link-to-device"]
TARGET_OPTIONS = {
    "-o": lambda target, tmp: ["export", "hamstrings", "-o", str(target)],
    "--timeline": lambda target, tmp: [
        "export", "hamstrings", "-o", str(tmp / "a.wav"), "--timeline", str(target)
    ],
    "--captions": lambda target, tmp: [
        "export", "hamstrings", "-o", str(tmp / "a.wav"), "--captions", str(target)
    ],
    "import -o": lambda target, tmp: [
        "import", str(write(tmp / "a.txt", "Calf stretch\nHold for 30 seconds.\n")),
        "-o", str(target),
    ],
    "new -o": lambda target, tmp: ["new", "Morning", "-o", str(target)],
}  # fmt: skip


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("option", sorted(TARGET_OPTIONS))
def test_only_regular_files_are_replaced(tmp_path, kind, option):
    suffix = {"-o": ".wav", "--captions": ".vtt", "--timeline": ".json"}.get(option, ".yaml")
    target = tmp_path / f"target{suffix}"
    server = make_special(target, kind)
    try:
        before = kind_of(target)
        started = time.monotonic()
        result = run(*TARGET_OPTIONS[option](target, tmp_path))
        assert time.monotonic() - started < QUICK_SECONDS  # refused before any work
    finally:
        if server:
            server.close()
    assert result.returncode in (1, 2)
    line = one_line(result)
    assert str(target) in line
    assert "regular file" in line or "already exists" in line
    assert kind_of(target) == before
    assert os.path.realpath("/dev/null") == "/dev/null" and kind_of(Path("/dev/null")) == "device"
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_import_streams_to_standard_output(tmp_path):
    article = write(tmp_path / "a.txt", "Calf stretch\nHold for 30 seconds.\n")
    for name in ("-", "/dev/stdout"):
        result = run("import", str(article), "-o", name)
        assert result.returncode == 0, result.stderr
        assert b"name:" in result.stdout and b"Calf stretch" in result.stdout


# ------------------------------------------------------------------ outputs that collide
def test_an_output_that_is_an_input_is_refused_before_any_work(tmp_path):
    routine = write(tmp_path / "r.yaml")
    svg_routine = write(tmp_path / "r.svg")  # a routine file with a picture's name
    article = write(tmp_path / "a.html", "<h2>Calf stretch</h2><p>Hold for 30 seconds.</p>")
    link = tmp_path / "hard.json"
    os.link(routine, link)  # another name for the routine itself
    config = tmp_path / "config.toml"
    config.write_text("rate = 170\n", encoding="utf-8")
    env = {**os.environ, "VOICE_COACH_CONFIG": str(config)}
    cases = [
        ["export", str(routine), "-o", str(tmp_path / "o.wav"), "--timeline", str(routine)],
        ["export", str(routine), "-o", str(tmp_path / "o.wav"), "--timeline", str(link)],
        ["export", str(routine), "-o", str(tmp_path / "o.wav"), "--timeline", str(config)],
        ["import", str(article), "-o", str(article)],
        ["show", str(svg_routine), "--chart", str(tmp_path / "." / "r.svg")],
    ]
    for args in cases:
        before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
        result = run(*args, env=env, timeout=QUICK_SECONDS)
        assert result.returncode == 2, (args, result.stderr)
        line = one_line(result)
        assert "would write over" in line, line
        assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_a_custom_sound_is_an_input_too(tmp_path):
    sound = tmp_path / "gong.wav"
    soundfile.write(str(sound), np.sin(np.arange(4410) / 5.0) * 0.5, 22050)
    text = ROUTINE.replace("steps:", "defaults:\n  sounds: {finish: gong.wav}\nsteps:")
    routine = write(tmp_path / "r.yaml", text)
    result = run("export", str(routine), "-o", str(sound), timeout=QUICK_SECONDS)
    assert result.returncode == 2
    assert "the routine's 'finish' sound" in one_line(result)


@pytest.mark.parametrize(
    "outputs",
    [
        ["-o", "s.wav", "--timeline", "s.wav"],
        ["-o", "s.wav", "--captions", "t.srt", "--timeline", "t.srt"],
        ["-o", "s.wav", "--timeline", "sub/../s.wav"],
        ["-o", "split/01 Shrug.mp3", "--split", "split"],
        ["--split", "split", "--timeline", "split/Tiny.m3u"],
    ],
)
def test_two_outputs_that_are_one_file_are_refused(tmp_path, outputs):
    routine = write(tmp_path / "r.yaml")
    (tmp_path / "sub").mkdir()
    (tmp_path / "split").mkdir()
    result = run("export", str(routine), *outputs, cwd=tmp_path, timeout=QUICK_SECONDS)
    assert result.returncode == 2, result.stderr
    assert "are the same file" in one_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml", "split", "sub"]
    assert list((tmp_path / "split").iterdir()) == []


def test_a_batch_output_that_is_one_of_its_routines_is_refused(tmp_path):
    first = write(tmp_path / "first.yaml")
    (tmp_path / "out").mkdir()
    clash = write(tmp_path / "out" / "second.mp3")  # a routine file with an audio name
    result = run("export", str(first), str(clash), "-o", str(tmp_path / "out"), "-f", "mp3")
    assert result.returncode == 2, result.stderr
    assert "would write over" in one_line(result)
    assert clash.read_text(encoding="utf-8") == ROUTINE


@pytest.mark.slow
def test_split_says_which_tracks_it_replaced(tmp_path):
    routine = write(tmp_path / "r.yaml")
    folder = tmp_path / "split"
    first = run("export", str(routine), "--split", str(folder), "-f", "wav")
    assert first.returncode == 0, first.stderr
    assert b"replaced" not in first.stderr
    again = run("export", str(routine), "--split", str(folder), "-f", "wav")
    assert again.returncode == 0, again.stderr
    assert f"replaced 1 track already in {folder}" in one_line(again)


# -------------------------------------------------------------- schedules and terminals
HOSTILE_NAMES = [
    "evil\nrm -rf ~.yaml",
    "tab\tthere.yaml",
    "cr\r* * * * * x.yaml",
    "esc\x1b[2J.yaml",
    "line\u2028sep.yaml",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("target", ["cron", "systemd"])
def test_a_control_character_never_reaches_a_schedule(tmp_path, name, target):
    routine = write(tmp_path / name)
    result = run("remind", str(routine), "--every", "1h", "--print", target)
    assert result.returncode == 2, result.stdout
    line = one_line(result)
    assert "control character" in line
    assert "\x1b" not in line and "\r" not in line
    assert result.stdout == b""


@pytest.mark.parametrize("target", ["cron", "systemd"])
def test_a_control_character_in_an_option_never_reaches_a_schedule(tmp_path, target):
    routine = write(tmp_path / "r.yaml")
    result = run("remind", str(routine), "--every", "1h", "--print", target, "--voice", "en\nx")
    assert result.returncode == 2
    assert result.stdout == b""


def systemd_words(line: str) -> list[str]:
    """An ExecStart= line split as systemd does: words, double quotes with C escapes, and
    $$ and %% for a literal $ and %."""
    words, pattern = [], re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
    for quoted, bare in pattern.findall(line.removeprefix("ExecStart=")):
        word = quoted.encode().decode("unicode_escape") if quoted or bare == "" else bare
        words.append(word.replace("$$", "$").replace("%%", "%"))
    return words


def test_odd_but_printable_names_are_quoted_for_each_scheduler(tmp_path):
    name = 'it\'s $HOME; 100% "quoted" \\ `back` & <b>.yaml'
    routine = write(tmp_path / name)
    cron = run("remind", str(routine), "--every", "2h", "--print", "cron")
    assert cron.returncode == 0, cron.stderr
    lines = [line for line in cron.stdout.decode().splitlines() if not line.startswith("#")]
    assert lines
    for line in lines:
        command = line.split(" ", 5)[5].replace("\\%", "%")  # cron's own % escape
        words = shlex.split(command.removesuffix(" >/dev/null"))
        assert str(routine) in words
    systemd = run("remind", str(routine), "--every", "2h", "--print", "systemd")
    assert systemd.returncode == 0, systemd.stderr
    (exec_line,) = [
        line for line in systemd.stdout.decode().splitlines() if line.startswith("ExecStart=")
    ]
    assert str(routine) in systemd_words(exec_line)


def test_check_shows_escape_sequences_in_keys_as_text(tmp_path):
    routine = write(
        tmp_path / "r.yaml",
        ROUTINE + '    "\\e]0;owned\\a\\e[2J": 1\n    "\\u202eevil": 2\n',
    )
    result = run("check", str(routine))
    assert result.returncode == 1
    assert b"\x1b" not in result.stderr and b"\x07" not in result.stderr
    assert "\u202e".encode() not in result.stderr
    assert b"\\x1b]0;owned" in result.stderr


def test_names_that_are_not_utf8_are_shown_not_crashed_on(tmp_path):
    routine = write(tmp_path / "r.yaml")
    out = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    command = VOICE_COACH
    result = subprocess.run(
        [command, "export", str(routine), "-o", out], capture_output=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert b"caf\\xe9.wav" in result.stdout
    assert os.path.exists(out)


def test_a_line_break_in_a_name_cannot_forge_a_line_of_output(tmp_path):
    """A file name is one line of what voice-coach prints, whatever it holds: a name with
    a line break (legal on Linux) would otherwise print a second line of its choosing,
    such as a fake all-clear after a real error."""
    good = write(tmp_path / "r\nvoice-coach: fake.yaml")
    bad = write(tmp_path / "bad\nvoice-coach: all good.yaml", ROUTINE.replace("hold: 2", "hold: x"))
    checked = run("check", str(good))
    assert checked.returncode == 0, checked.stderr
    lines = checked.stdout.decode().splitlines()  # its notes, then "ok"
    assert all(line.startswith(f"{tmp_path}/r\\x0avoice-coach: fake.yaml: ") for line in lines)
    assert ": ok · " in lines[-1]
    refused = run("check", str(bad))
    assert refused.returncode == 1
    assert "bad\\x0avoice-coach: all good.yaml:" in one_line(refused)
    out = tmp_path / "out\nvoice-coach: done.wav"
    exported = run("export", str(good), "-o", str(out))
    assert exported.returncode == 0, exported.stderr
    (wrote,) = exported.stdout.decode().splitlines()
    assert wrote.startswith(f"wrote {tmp_path}/out\\x0avoice-coach: done.wav (")
    missing = run("export", str(good), "-o", str(tmp_path / "no\nsuch" / "x.wav"))
    assert missing.returncode == 1
    assert "no\\x0asuch" in one_line(missing)


# ---------------------------------------------------------------- bombs within the limits
@pytest.mark.slow
def test_a_sound_that_unpacks_to_gigabytes_is_judged_by_its_header(tmp_path):
    """Two minutes at 384 kHz pack into well under a megabyte of FLAC (silence and a
    click a second); decoded, they would be 180 MB of floats before any check."""
    sound = tmp_path / "bomb.flac"
    rate = 384_000
    click = np.zeros(rate, dtype=np.int16)
    click[0] = 1000
    with soundfile.SoundFile(str(sound), "w", rate, 1, subtype="PCM_16", format="FLAC") as out:
        for _ in range(120):
            out.write(click)
    assert sound.stat().st_size < 1024 * 1024
    routine = write(
        tmp_path / "r.yaml",
        ROUTINE.replace("steps:", "defaults:\n  sounds: {finish: bomb.flac}\nsteps:"),
    )
    measured = run_measured("check", str(routine))
    assert measured.returncode == 1
    assert "longer than 5 seconds" in one_line(measured)
    assert measured.peak_mib < 200, f"{measured.peak_mib:.0f} MiB"
    assert measured.seconds < QUICK_SECONDS


def flac_without_length(path: Path, seconds: float) -> None:
    """A FLAC file whose header does not say how long it is (total samples 0)."""
    import io

    buffer = io.BytesIO()
    soundfile.write(buffer, np.full(round(22050 * seconds), 0.1, np.float32), 22050, format="FLAC")
    data = bytearray(buffer.getvalue())
    # STREAMINFO's last 36 bits before the MD5 hold the total samples (bytes 21 to 25).
    data[21] &= 0xF0
    data[22:26] = bytes(4)
    path.write_bytes(bytes(data))


def test_a_sound_that_does_not_say_its_length_is_read_no_further_than_allowed(tmp_path):
    flac_without_length(tmp_path / "endless.flac", 60)
    flac_without_length(tmp_path / "short.flac", 1)
    for name, ok in (("endless.flac", False), ("short.flac", True)):
        routine = write(
            tmp_path / "r.yaml",
            ROUTINE.replace("steps:", f"defaults:\n  sounds: {{finish: {name}}}\nsteps:"),
        )
        result = run("check", str(routine), timeout=120 if ok else QUICK_SECONDS)
        if ok:
            assert result.returncode == 0, result.stderr
        else:
            assert result.returncode == 1
            assert "longer than 5 seconds" in one_line(result)


@pytest.mark.parametrize("kind", ["zero-link", "huge", "sparse"])
def test_a_routine_is_read_only_up_to_its_limit(tmp_path, kind):
    routine = tmp_path / "r.yaml"
    if kind == "zero-link":
        os.symlink("/dev/zero", routine)
    elif kind == "huge":
        routine.write_bytes(b"# padding\n" * (20 * 1024 * 1024 // 10))
    else:
        with routine.open("wb") as out:
            out.truncate(200 * 1024 * 1024)
    measured = run_measured("check", str(routine))
    assert measured.returncode == 1
    assert str(routine) in one_line(measured)
    assert measured.peak_mib < 200, f"{measured.peak_mib:.0f} MiB"
    assert measured.seconds < QUICK_SECONDS


def test_millions_of_steps_are_refused_while_parsing(tmp_path):
    routine = tmp_path / "r.yaml"
    routine.write_text("name: Many\nsteps: [" + "{name: a}," * 190_000 + "]\n", encoding="utf-8")
    measured = run_measured("check", str(routine))
    assert measured.returncode == 1
    assert "more than 50,000 values" in one_line(measured)
    assert measured.peak_mib < 300, f"{measured.peak_mib:.0f} MiB"


@pytest.mark.parametrize(
    ("settings", "phrase"),
    [
        ("hold: 300\n    countdown: {every: 1}", "different phrases"),
        ("hold: 3600\n    countdown: {every: 2}", "different phrases"),
        ("hold: 3600\n    warn: [" + ", ".join(map(str, range(1, 3600))) + "]", "at most 10"),
    ],
)
def test_a_tiny_file_cannot_ask_for_thousands_of_phrases(tmp_path, settings, phrase):
    text = f"name: Tiny\nsteps:\n  - name: Long hold\n    {settings}\n"
    routine = write(tmp_path / "r.yaml", text)
    cache = tmp_path / "cache"
    env = {**os.environ, "VOICE_COACH_CACHE": str(cache)}
    started = time.monotonic()
    result = run("check", str(routine), env=env)
    assert time.monotonic() - started < QUICK_SECONDS
    assert result.returncode == 1
    assert phrase in one_line(result)
    assert not cache.exists() or not list(cache.glob("*.wav"))  # nothing was synthesised


# -------------------------------------------------------------------------- named pipes
@pytest.mark.parametrize("which", ["routine", "article", "config", "sound", "voice"])
def test_a_named_pipe_is_refused_not_waited_on(tmp_path, which):
    pipe = tmp_path / {"routine": "r.yaml", "article": "a.html", "config": "c.toml",
                       "sound": "s.wav", "voice": "v.onnx.json"}[which]  # fmt: skip
    os.mkfifo(pipe)
    env = {**os.environ}
    if which == "routine":
        args = ["check", str(pipe)]
    elif which == "article":
        args = ["import", str(pipe)]
    elif which == "config":
        env["VOICE_COACH_CONFIG"] = str(pipe)
        args = ["check", str(write(tmp_path / "r.yaml"))]
    elif which == "sound":
        text = ROUTINE.replace("steps:", "defaults:\n  sounds: {finish: s.wav}\nsteps:")
        args = ["check", str(write(tmp_path / "r.yaml", text))]
    else:
        (tmp_path / "v.onnx").write_bytes(b"not a model")
        args = ["check", str(write(tmp_path / "r.yaml")), "--voice", str(tmp_path / "v.onnx")]
    result = run(*args, env=env, timeout=QUICK_SECONDS)
    assert result.returncode in (1, 2)
    line = one_line(result)
    assert "named pipe" in line or "voice config" in line, line


# ------------------------------------------------------------------------- SIGTERM


def wait_for_temp_file(folder: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while not any(".part" in p.name for p in folder.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the export never started writing"
        time.sleep(0.02)
    time.sleep(0.3)


@pytest.mark.slow
@pytest.mark.parametrize("extension", [".ogg", ".mp3"])  # one encoder; MP3's parts at once
def test_sigterm_stops_an_export_like_ctrl_c(tmp_path, extension):
    routine = write(tmp_path / "long.yaml", LONG_ROUTINE)
    target = tmp_path / f"out{extension}"
    target.write_bytes(PRECIOUS)
    command = VOICE_COACH
    process = subprocess.Popen(
        [command, "export", str(routine), "-o", str(target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_for_temp_file(tmp_path, process)
    process.terminate()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143, stderr
    assert stderr.decode().splitlines() == ["voice-coach: terminated."]
    assert target.read_bytes() == PRECIOUS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.yaml", target.name]


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("signal_sent", [signal.SIGTERM, signal.SIGKILL])
def test_batch_workers_stop_with_their_parent(tmp_path, signal_sent):
    routines = []
    for number in range(3):
        routine = tmp_path / f"long{number}.yaml"
        routine.write_text(LONG_ROUTINE.replace("Long holds", f"Long {number}"), "utf-8")
        routines.append(str(routine))
    out = tmp_path / "out"
    out.mkdir()
    command = VOICE_COACH
    process = subprocess.Popen(
        [command, "export", *routines, "-o", f"{out}/", "-f", "ogg"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # nothing but this signal reaches the workers
    )
    wait_for_temp_file(out, process)
    workers = children_of(process.pid)
    assert workers
    process.send_signal(signal_sent)
    process.communicate(timeout=60)
    if signal_sent == signal.SIGTERM:
        assert process.returncode == 143
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "a worker outlived its parent"
    assert [p.name for p in out.iterdir() if ".part" in p.name] == []


# ---------------------------------------------------------------- one line, not a trace
def test_bad_values_are_one_line_each(tmp_path):
    routine = write(tmp_path / "r.yaml")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder should be", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text("rate = " + "9" * 5000 + "\n", encoding="utf-8")
    cases = [
        (["export", str(routine), "-o", str(tmp_path / ("x" * 252 + ".wav"))], None),
        (["new", "Stretch", "-o", str(tmp_path / ("y" * 300 + ".yaml"))], None),
        (["export", str(routine), "-o", str(tmp_path / "a.ogg"), "--quality", "nan"], None),
        (["export", str(routine), "-o", str(tmp_path / "a.ogg"), "--true-peak", "nan"], None),
        (["export", str(routine), "-o", str(tmp_path / "a.ogg"), "--true-peak", "-inf"], None),
        (["export", str(routine), "-o", str(tmp_path / "a.ogg"), "--countdown", "²"], None),
        (["export", str(routine), "-o", str(tmp_path / "a.ogg"), "--countdown", "every:٣"], None),
        (["play", str(routine), "--volume", "nan"], None),
        (["remind", str(routine), "--every", "1h", "--print", "cron", "--volume", "nan"], None),
        (["check", str(routine)], {"VOICE_COACH_CONFIG": str(config)}),
        (["config", "init"], {"VOICE_COACH_CONFIG": str(blocked / "config.toml")}),
        (["check", str(tmp_path / "nul\x01name.yaml")], None),
    ]
    for args, extra in cases:
        env = {**os.environ, **(extra or {})}
        result = run(*args, env=env, timeout=QUICK_SECONDS)
        assert result.returncode in (1, 2), (args, result.stderr)
        one_line(result)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocked", "config.toml", "r.yaml"]


def test_new_with_a_very_long_name_writes_a_shorter_file_name(tmp_path):
    result = run("new", "n" * 300, cwd=tmp_path, timeout=QUICK_SECONDS)
    assert result.returncode == 0, result.stderr
    (written,) = tmp_path.iterdir()
    assert written.name == "n" * 80 + ".yaml"
    assert run("check", str(written)).returncode == 0


def test_a_nul_in_a_sound_path_is_a_routine_error(tmp_path):
    routine = write(
        tmp_path / "r.yaml",
        ROUTINE.replace("steps:", 'defaults:\n  sounds: {finish: "a\\0.wav"}\nsteps:'),
    )
    result = run("check", str(routine), timeout=QUICK_SECONDS)
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith(f"{routine}:3: ") and "control character" in line


@pytest.mark.slow
def test_a_long_but_legal_output_name_works(tmp_path):
    """244 bytes: the temp file's affixes must not push its own name past 255."""
    routine = write(tmp_path / "r.yaml")
    out = tmp_path / ("z" * 240 + ".wav")
    result = run("export", str(routine), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_size > 0


def test_a_utf16_routine_says_to_save_it_as_utf8(tmp_path):
    routine = tmp_path / "r.yaml"
    for encoding in ("utf-16", "utf-16-le"):
        routine.write_bytes(ROUTINE.encode(encoding))
        result = run("check", str(routine), timeout=QUICK_SECONDS)
        assert result.returncode == 1
        assert "save it as UTF-8" in one_line(result)


# ---------------------------------------------------------------- standard output
@pytest.mark.parametrize("args", [["schema"], ["list"], ["import", "ARTICLE"], ["config", "path"]])
def test_a_closed_standard_output_is_an_error_not_silence(tmp_path, args):
    article = write(tmp_path / "a.txt", "Calf stretch\nHold for 30 seconds.\n")
    args = [str(article) if arg == "ARTICLE" else arg for arg in args]
    command = VOICE_COACH
    closed = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "_", command, *args], capture_output=True, check=False
    )
    assert closed.returncode == 1
    assert "standard output" in one_line(closed)
    full = subprocess.run(
        ["bash", "-c", 'exec "$@" >/dev/full', "_", command, *args], capture_output=True
    )
    assert full.returncode == 1
    assert "No space left on device" in one_line(full)


def test_piping_into_head_stays_quiet(tmp_path):
    command = VOICE_COACH
    result = subprocess.run(
        ["bash", "-c", f"'{command}' schema | head -c 10"], capture_output=True, check=False
    )
    assert result.stderr == b""


# ---------------------------------------------------------------- the clip cache's disk
@pytest.mark.slow
def test_a_full_cache_disk_falls_back_to_a_temporary_cache(tmp_path, small_disk):
    filler = small_disk / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        out.write(b"\0" * (2 * 1024 * 1024))  # more than the disk holds
    env = {**os.environ, "VOICE_COACH_CACHE": str(small_disk / "clips")}
    routine = write(tmp_path / "r.yaml", ROUTINE.replace("Shrug", "Shrug and hold on"))
    out = tmp_path / "r.wav"
    for engine in ("pyttsx3", "piper"):
        result = run("export", str(routine), "-o", str(out), "--engine", engine, env=env)
        assert result.returncode == 0, result.stderr
        line = one_line(result)
        assert line.startswith("voice-coach: warning: ") and "cannot write the clip cache" in line
        assert out.stat().st_size > 0


def test_the_temporary_cache_of_a_run_is_removed_when_it_ends(tmp_path):
    """A cache that cannot be written gives way to a temporary one, removed at exit: the
    command's quick exit (no interpreter teardown) still runs the exit functions."""
    (tmp_path / "blocked").write_text("not a folder", encoding="utf-8")
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "VOICE_COACH_CACHE": str(tmp_path / "blocked" / "clips")}
    env["TMPDIR"] = str(temp)
    routine = write(tmp_path / "r.yaml", ROUTINE.replace("Shrug", "Shrug once"))
    out = tmp_path / "r.wav"
    result = run("export", str(routine), "-o", str(out), "--engine", "pyttsx3", env=env)
    assert result.returncode == 0, result.stderr
    assert "cannot write the clip cache" in one_line(result)
    assert out.stat().st_size > 0
    assert list(temp.iterdir()) == []


def test_play_with_standard_output_closed_still_plays(tmp_path, alsa_capture):
    env, capture = alsa_capture
    routine = write(tmp_path / "r.yaml")
    result = subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "_", VOICE_COACH, "play", str(routine), "--plain"],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert capture.stat().st_size > 0
