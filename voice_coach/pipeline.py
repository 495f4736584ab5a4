"""Ties the core to its edges: a Routine, spoken and chimed, becomes a Program.

A Program is a compiled Script plus the audio of every cue; the live player and
every exporter render it through the same mixer, so they play the same audio.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from .mixer import DEFAULT_BLOCK_SAMPLES, ClipKey, Mixer, render_blocks
from .routine import Routine
from .script import CHIME, SPEECH, Script, compile_script, player_phrases, spoken_phrases
from .sounds import load_chimes
from .speech import Speaker


@dataclass(frozen=True)
class Program:
    """A routine ready to render: its Script and the audio of each cue."""

    routine: Routine
    script: Script
    clips: Mapping[ClipKey, np.ndarray]
    #: Stereo, with left-side cues in the left ear and right-side cues in the right.
    pan: bool = False

    @property
    def channels(self) -> int:
        """1 for mono, 2 when panned."""
        return 2 if self.pan else 1

    def mixer(self) -> Mixer:
        """A Mixer over this Program, for rendering any span."""
        return Mixer(self.script, self.clips, pan=self.pan)

    def blocks(
        self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start_sample: int = 0
    ) -> Iterator[np.ndarray]:
        """The rendered audio as int16 blocks (see :func:`mixer.render_blocks`)."""
        return render_blocks(
            self.script,
            self.clips,
            block_samples=block_samples,
            start_sample=start_sample,
            pan=self.pan,
        )


def prepare(
    routine: Routine,
    speaker: Speaker | None = None,
    *,
    deeper: bool = False,
    quiet: bool = False,
    pan: bool = False,
) -> Program:
    """Synthesise (or fetch from the cache) every clip, measure it, and compile the Script.

    ``deeper`` and ``quiet`` are as in :func:`script.compile_script`; ``pan`` makes
    the Program stereo. The live player's own phrases (its lead-in after a pause)
    are synthesised too and land in ``Program.clips``, so any Program can be played.
    """
    speaker = speaker or Speaker()
    phrases = [*spoken_phrases(routine, deeper=deeper, quiet=quiet), *player_phrases()]
    speech = speaker.clips(phrases)
    chimes = load_chimes(speaker.sample_rate)
    script = compile_script(
        routine,
        {text: len(clip) for text, clip in speech.items()},
        {name: len(clip) for name, clip in chimes.items()},
        speaker.sample_rate,
        deeper=deeper,
        quiet=quiet,
    )
    clips: dict[ClipKey, np.ndarray] = {(SPEECH, text): clip for text, clip in speech.items()}
    clips.update({(CHIME, name): clip for name, clip in chimes.items()})
    return Program(routine=routine, script=script, clips=clips, pan=pan)
