"""Ties the core to its edges: a Routine, spoken and chimed, becomes a Program.

A Program is a compiled Script plus the audio of every cue; the live player and
every exporter render it through the same mixer, so they play the same audio.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audiofile import read_mono
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
        self, block_samples: int = DEFAULT_BLOCK_SAMPLES, start_sample: int = 0, gain: float = 1.0
    ) -> Iterator[np.ndarray]:
        """The rendered audio as int16 blocks (see :func:`mixer.render_blocks`)."""
        return render_blocks(
            self.script,
            self.clips,
            block_samples=block_samples,
            start_sample=start_sample,
            pan=self.pan,
            gain=gain,
        )


def prepare(
    routine: Routine,
    speaker: Speaker | None = None,
    *,
    deeper: bool = False,
    quiet: bool = False,
    pan: bool = False,
    stream_clips: bool = False,
) -> Program:
    """Synthesise (or fetch from the cache) every clip, measure it, and compile the Script.

    ``deeper`` and ``quiet`` are as in :func:`script.compile_script`; ``pan`` makes
    the Program stereo. The live player's own phrases (its lead-in after a pause)
    are synthesised too and land in ``Program.clips``, so any Program can be played.

    With ``stream_clips`` the speech clips stay in the cache until the mixer asks
    for them (see :class:`CachedClips`): for exports, whose memory must not grow
    with the routine. The live player keeps them in memory, as its audio thread
    must never wait for a disk.
    """
    speaker = speaker or Speaker()
    phrases = [*spoken_phrases(routine, deeper=deeper, quiet=quiet), *player_phrases()]
    chimes = load_chimes(speaker.sample_rate)
    clips: Mapping[ClipKey, np.ndarray]
    if stream_clips:
        files = speaker.clip_files(phrases)
        lengths = {text: file.samples for text, file in files.items()}
        clips = CachedClips(
            {(SPEECH, text): file.path for text, file in files.items()},
            {(CHIME, name): clip for name, clip in chimes.items()},
            speaker.sample_rate,
        )
    else:
        speech = speaker.clips(phrases)
        lengths = {text: len(clip) for text, clip in speech.items()}
        clips = {(SPEECH, text): clip for text, clip in speech.items()}
        clips.update({(CHIME, name): clip for name, clip in chimes.items()})
    script = compile_script(
        routine,
        lengths,
        {name: len(clip) for name, clip in chimes.items()},
        speaker.sample_rate,
        deeper=deeper,
        quiet=quiet,
    )
    return Program(routine=routine, script=script, clips=clips, pan=pan)


class CachedClips(Mapping[ClipKey, np.ndarray]):
    """Clips read from their cache files when first asked for; the last few stay loaded.

    The mixer walks the timeline in order, so a handful of loaded clips serve it
    while memory stays the same for a ten-minute routine and a two-hour one.
    """

    KEEP = 8

    def __init__(
        self,
        files: Mapping[ClipKey, Path],
        resident: Mapping[ClipKey, np.ndarray],
        sample_rate: int,
    ) -> None:
        self._files = dict(files)
        self._resident = dict(resident)
        self._loaded: OrderedDict[ClipKey, np.ndarray] = OrderedDict()
        self._sample_rate = sample_rate

    def __getitem__(self, key: ClipKey) -> np.ndarray:
        if key in self._resident:
            return self._resident[key]
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        clip = read_mono(self._files[key], self._sample_rate)
        self._loaded[key] = clip
        if len(self._loaded) > self.KEEP:
            self._loaded.popitem(last=False)
        return clip

    def __iter__(self) -> Iterator[ClipKey]:
        yield from self._resident
        yield from self._files

    def __len__(self) -> int:
        return len(self._resident) + len(self._files)
