"""Worker process for speech.Speaker: synthesises a batch of phrases into the cache.

Reads one JSON request on stdin: {"voice", "rate", "phrases", "cache"}. Exits 0
when every clip is in the cache; otherwise prints one line on stderr and exits
with the error's exit code (2 for an unknown voice, 1 otherwise).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .errors import SpeechError
from .speech import synthesise_into_cache


def main() -> int:
    """Run one request from stdin."""
    request = json.load(sys.stdin)
    try:
        synthesise_into_cache(
            request["voice"],
            int(request["rate"]),
            list(request["phrases"]),
            [Path(path) for path in request["cache"]],
        )
    except SpeechError as error:
        print(error, file=sys.stderr)
        return error.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
