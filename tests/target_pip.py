"""pip, judging environment markers as another Python on another system would.

    python tests/target_pip.py 3.14 linux aarch64 install --dry-run --python-version 3.14 ...

pip's ``--python-version`` and ``--platform`` pick wheels for the target, but pip still
evaluates environment markers (``python_version < '3.14'``, ``platform_machine``,
``sys_platform``) against the Python running it. This runs pip with the marker
environment of CPython ``VERSION`` on ``SYSTEM`` (linux, darwin or win32) and
``MACHINE`` (as ``platform.machine()`` names it there), so a resolution sees the
requirements the target would. It reaches into pip's vendored ``packaging``: a pip
that moved it fails here loudly rather than resolving for the wrong Python.
"""

from __future__ import annotations

import sys

#: sys.platform -> platform.system() and os.name there.
SYSTEMS = {"linux": ("Linux", "posix"), "darwin": ("Darwin", "posix"), "win32": ("Windows", "nt")}


def target_environment(
    version: str, system: str, machine: str, current: dict[str, str]
) -> dict[str, str]:
    """``current`` (a marker environment) as CPython ``version`` on ``system`` ``machine``."""
    platform_system, os_name = SYSTEMS[system]
    return {
        **current,
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_version": f"{version}.0",
        "platform_machine": machine,
        "sys_platform": system,
        "platform_system": platform_system,
        "os_name": os_name,
    }


def main(argv: list[str]) -> int:
    """Run pip with ``argv[4:]``, markers judged for Python ``argv[1]`` on system
    ``argv[2]``, machine ``argv[3]``."""
    version, system, machine, pip_arguments = argv[1], argv[2], argv[3], argv[4:]
    from pip._internal.cli.main import main as pip_main
    from pip._vendor.packaging import markers

    current = markers.default_environment()
    markers.default_environment = lambda: target_environment(version, system, machine, current)
    return pip_main(pip_arguments)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
