"""Worker process for speech.Speaker: synthesises a batch of phrases into the cache.

Reads one JSON request on stdin: {"voice", "rate", "phrases", "cache"}. Prints
"done" on stdout as each clip lands in the cache, and exits 0 once every clip is
there; otherwise prints one line on stderr and exits with the error's exit code
(2 for an unknown voice, 1 otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

from .errors import SpeechError
from .lifetime import signal_on_parent_death
from .speech import CACHE_WRITE_EXIT, DONE_LINE, CacheWriteError, synthesise_into_cache


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt  # the clip being written removes its temp file on the way out


def _report_done() -> None:
    print(DONE_LINE, flush=True)


def main() -> int:
    """Run one request from stdin."""
    signal.signal(signal.SIGTERM, _stop)
    # SIGTERM (so the clip being written is cleaned up) when the export that started
    # this worker dies, even by SIGKILL: a worker must not go on synthesising, holding
    # its parent's pipes, for an export that is gone.
    signal_on_parent_death(signal.SIGTERM)
    request = json.load(sys.stdin)
    try:
        synthesise_into_cache(
            request["voice"],
            int(request["rate"]),
            list(request["phrases"]),
            [Path(path) for path in request["cache"]],
            on_done=_report_done,
        )
    except CacheWriteError as error:
        print(error, file=sys.stderr)
        return CACHE_WRITE_EXIT
    except SpeechError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


def exit_at_once(code: int) -> None:
    """End this process with ``code`` as soon as its output is flushed.

    By then every clip is renamed into place and every temp file removed, so the
    interpreter's teardown (numpy, the engine's driver) would only make the export that
    waits on this process wait longer: about 50 ms of every cold export.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_at_once(main())
