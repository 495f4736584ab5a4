"""``python -m voice_coach``: the same as the ``voice-coach`` command."""

from .cli import main

main()
