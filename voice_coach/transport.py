"""The live player's state: where in the timeline, paused or not, and what to output next.

Pure: no device, no clock, no terminal. The player's loop, the media keys and spoken
commands all hand it :class:`Command` values; its audio side (:meth:`Transport.fill`)
pulls spans from the Program's Mixer, the same samples an export writes, plus the
spoken lead-in on resume and the confirmations of spoken commands. Every control takes
effect at the next block. A lock keeps the audio thread and the controls apart.
"""

from __future__ import annotations

import bisect
import functools
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np

from .mixer import ClipKey, Mixer, noise_floor
from .phrases import phrases_for
from .script import (
    LEAD_IN_NUMBERS,
    PREROLL_SECONDS,
    SPEECH,
    Script,
    countdown_phrase,
)

if TYPE_CHECKING:  # the pipeline (speech, sounds) is only needed to name the type
    from .pipeline import Program

#: "p" goes back to the start of the current step when this far into it.
BACK_TO_STEP_START_SECONDS = 3.0
VOLUME_STEP = 0.1
MAX_VOLUME = 2.0
#: Quiet between "Resuming." and "3"; the routine goes on one second after "1".
LEAD_IN_GAP_SECONDS = 0.4


class Command(StrEnum):
    """What the listener asks of the player: from keys, media keys or spoken commands.

    The values are the commands' names as the player reports them.
    """

    #: Pause, or resume with the lead-in (space, media PlayPause).
    TOGGLE_PAUSE = "pause"
    #: Resume with the lead-in; nothing if playing (media Play, "coach resume").
    RESUME = "resume"
    #: Pause; nothing if paused (media Pause, "coach pause").
    PAUSE = "pause-only"
    NEXT = "next"
    PREVIOUS = "previous"
    #: Back to the start of the current side.
    REPEAT = "repeat"
    LOUDER = "louder"
    SOFTER = "softer"
    QUIT = "quit"


#: Commands that move the position (the view and the media keys follow the jump).
JUMPS = frozenset({Command.NEXT, Command.PREVIOUS, Command.REPEAT})


def lead_in_audio(
    clips: Mapping[ClipKey, np.ndarray], sample_rate: int, language: str = "en"
) -> np.ndarray:
    """The float mono lead-in spoken on resume ("Resuming." in the routine's language,
    then 3, 2, 1), ending where the routine goes on."""
    resuming = clips[(SPEECH, phrases_for(language).resuming)]
    first_number = len(resuming) + round(LEAD_IN_GAP_SECONDS * sample_rate)
    total = first_number + len(LEAD_IN_NUMBERS) * sample_rate
    audio = np.zeros(total, dtype=np.float32)
    audio[: len(resuming)] = resuming
    for index, number in enumerate(LEAD_IN_NUMBERS):
        clip = clips[(SPEECH, countdown_phrase(number))][:sample_rate]
        start = first_number + index * sample_rate
        audio[start : start + len(clip)] = clip
    return audio


@dataclass(frozen=True)
class Block:
    """What one output block held: timeline samples from ``position``, or None (inserted
    or silence); ``inserted`` marks the player's own voice (lead-in, confirmations)."""

    output_start: int
    frames: int
    position: int | None
    inserted: bool = False


def _when_ready(control):
    """A Transport control: run under the lock, once a Program is attached."""

    @functools.wraps(control)
    def run(self: Transport) -> str:
        with self._lock:
            if self.script is None:
                return "still starting"
            return control(self)

    return run


class Transport:
    """Playback state: where in the timeline, paused or not, and what to output next.

    ``fill`` runs on the audio thread; the control methods run on the main thread.
    A lock keeps them apart, and every control takes effect at the next block.

    A Transport can start before its Program is ready: it then plays the pre-roll
    (which is only the noise floor, the same samples the Program would render) and
    waits in silence at its end. ``attach`` hands it the Program, or a Program of
    the first step only (``complete=False``), which is played up to the end of that
    step while the whole routine is prepared behind it.
    """

    def __init__(
        self,
        program: Program | None = None,
        *,
        sample_rate: int | None = None,
        channels: int = 1,
        volume: float = 1.0,
    ) -> None:
        rate = program.script.sample_rate if program else sample_rate
        if rate is None:
            raise ValueError("a Transport needs a Program or a sample rate")
        self.rate: int = rate
        self.channels = program.channels if program else channels
        self.volume = volume
        self.position = 0
        self.paused = False
        self.finished = False
        self.output_index = 0
        self.blocks: deque[Block] = deque(maxlen=256)
        self.script: Script | None = None
        self.mixer: Mixer | None = None
        self.complete = False
        self.ready_until = round(PREROLL_SECONDS * self.rate)
        #: Output index of the first sample after the last jump: earlier output is
        #: from before it, and may still be sounding.
        self.jumped_at_output = 0
        self._lock = threading.Lock()
        self._inserted: np.ndarray | None = None
        self._inserted_at = 0
        #: Where steps with ``pause_after_step`` end: playback waits there for a key.
        self._pause_points: list[int] = []
        self._waited_at: int | None = None
        #: Set (on the audio thread) when playback stops to wait after a step; the
        #: main loop says so once and clears it.
        self.waiting = False
        if program is not None:
            self.attach(program)

    @property
    def _attached(self) -> Script:
        """The Script, where one is known to be attached (the controls run only then)."""
        if self.script is None:
            raise RuntimeError("no Program is attached yet")
        return self.script

    def attach(self, program: Program, *, complete: bool = True) -> None:
        """Play ``program`` from the current position on (see the class notes)."""
        lead_in = lead_in_audio(program.clips, self.rate, program.script.language)
        turn_starts = _turn_starts(program.script)
        mixer = program.mixer()
        with self._lock:
            self.script, self.mixer = program.script, mixer
            self._lead_in, self._turn_starts = lead_in, turn_starts
            self._cue_ends = [cue.end_sample for cue in program.script.cues]
            self._pause_points = [
                span.end_sample for span in program.script.steps[:-1] if span.pause_after
            ]
            self.complete = complete
            self.ready_until = (
                program.script.length_samples if complete else program.script.steps[0].end_sample
            )

    # ----------------------------------------------------------------- audio thread
    def fill(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples of output, int16 of shape (frames, channels)."""
        with self._lock:
            out = np.zeros((frames, self.channels), dtype=np.int16)
            done = 0
            while done < frames and not self.finished:
                done += self._fill_part(out[done:], frames - done)
            return out

    def _fill_part(self, out: np.ndarray, frames: int) -> int:
        """Fill the start of ``out``; return how many frames were filled."""
        if self.paused and self._inserted is None:
            self._log(frames, None)  # silence
            return frames
        if self._inserted is not None:  # plays even while paused: it says "Paused."
            piece = self._inserted[self._inserted_at : self._inserted_at + frames]
            pcm = np.rint(np.clip(piece * self.volume, -1, 1) * 32767).astype(np.int16)
            out[: len(piece)] = pcm[:, None]
            self._inserted_at += len(piece)
            if self._inserted_at >= len(self._inserted):
                self._inserted = None
            self._log(len(piece), None, inserted=True)
            return len(piece)
        stop = next(
            (
                p
                for p in self._pause_points
                if p > self.position or p == self.position != self._waited_at
            ),
            None,
        )
        if stop == self.position:
            # The end of a step that waits for the listener: pause as a key would.
            self.paused, self._waited_at, self.waiting = True, stop, True
            self._log(frames, None)
            return frames
        count = min(
            frames, (stop or self.ready_until) - self.position, self.ready_until - self.position
        )
        if count <= 0:  # the rest of the routine is still being prepared
            self._log(frames, None)
            return frames
        if self.mixer is None:
            pcm = noise_floor(self.position, count, self.rate)
        else:
            pcm = self.mixer.render(self.position, count, self.volume)
        out[:count] = pcm.reshape(count, -1)
        self._log(count, self.position)
        self.position += count
        if self.complete and self.position >= self._attached.length_samples:
            self.finished = True
        return count

    def _log(self, frames: int, position: int | None, inserted: bool = False) -> None:
        self.blocks.append(Block(self.output_index, frames, position, inserted))
        self.output_index += frames

    # ----------------------------------------------------------------- controls
    @_when_ready
    def toggle_pause(self) -> str:
        """Pause, or resume with the spoken lead-in; returns what happened."""
        return self._set_paused(not self.paused)

    @_when_ready
    def pause(self) -> str:
        """Pause, unless paused already (media keys' Pause)."""
        return "already paused" if self.paused else self._set_paused(True)

    @_when_ready
    def resume(self) -> str:
        """Resume with the spoken lead-in, unless playing already (media keys' Play)."""
        return self._set_paused(False) if self.paused else "already playing"

    def _set_paused(self, paused: bool) -> str:
        if paused:
            self.paused = True
            self._inserted = None
            return "paused"
        self.paused = False
        self._inserted, self._inserted_at = self._lead_in, 0
        return "resumed"

    @_when_ready
    def next_step(self) -> str:
        """Jump to the start of the next step (or the closing, after the last)."""
        steps = self._attached.steps
        current = self._step_index()
        if self.paused and self.position == self._waited_at:
            # Waiting after a step, at the next one's start: "next" goes on, as space does.
            self.paused = False
            self._inserted, self._inserted_at = self._lead_in, 0
            return f"to step {current + 1}"
        if current + 1 < len(steps):
            return self._jump(steps[current + 1].start_sample, f"step {current + 2}")
        return self._jump(steps[-1].end_sample, "the end")

    @_when_ready
    def previous_step(self) -> str:
        """Back to this step's start, or to the previous step's when just past the start."""
        steps = self._attached.steps
        current = self._step_index()
        into = self.position - steps[current].start_sample
        if into > BACK_TO_STEP_START_SECONDS * self.rate or current == 0:
            return self._jump(steps[current].start_sample, f"step {current + 1}")
        return self._jump(steps[current - 1].start_sample, f"step {current}")

    @_when_ready
    def repeat_side(self) -> str:
        """Back to the start of the current side (its side cue), or of the step."""
        position = self.position
        step = self._step_index()
        starts = [
            start
            for start, hold_step in self._turn_starts
            if hold_step == step and start <= position
        ]
        target = starts[-1] if starts else self._attached.steps[step].start_sample
        return self._jump(target, "the side again")

    def announce(self, audio: np.ndarray) -> None:
        """Say ``audio`` (float mono) before whatever plays next, even while paused;
        not over a lead-in that is about to play, which says enough."""
        with self._lock:
            if self._inserted is None:
                self._inserted, self._inserted_at = audio, 0

    def change_volume(self, delta: float) -> str:
        """Raise or lower the volume by ``delta`` (0 to 2; 1 is as rendered)."""
        with self._lock:
            self.volume = round(min(MAX_VOLUME, max(0.0, self.volume + delta)), 2)
            return f"volume {round(self.volume * 100)}%"

    def apply(self, command: Command) -> str:
        """Carry out ``command`` (any but QUIT); return what happened, for the view."""
        actions = {
            Command.TOGGLE_PAUSE: self.toggle_pause,
            Command.RESUME: self.resume,
            Command.PAUSE: self.pause,
            Command.NEXT: self.next_step,
            Command.PREVIOUS: self.previous_step,
            Command.REPEAT: self.repeat_side,
            Command.LOUDER: lambda: self.change_volume(VOLUME_STEP),
            Command.SOFTER: lambda: self.change_volume(-VOLUME_STEP),
        }
        return actions[Command(command)]()

    def _jump(self, target: int, label: str) -> str:
        self.position = max(0, min(target, self._attached.length_samples))
        self._inserted = None
        self._waited_at = None
        self.jumped_at_output = self.output_index
        return f"to {label}"

    def _step_index(self) -> int:
        position = self.position
        index = 0
        for span in self._attached.steps:
            if span.start_sample <= position:
                index = span.step
        return index

    # ----------------------------------------------------------------- what is ahead
    @property
    def idle(self) -> bool:
        """Whether every fill from now on is silence until a control (or ``attach``)
        changes that: paused with nothing to say, waiting for the rest of the routine,
        or finished. An output that plays whole buffers stops its device meanwhile."""
        with self._lock:
            if self.finished:
                return True
            if self._inserted is not None:
                return False
            return self.paused or self.position >= self.ready_until

    def quiet_stretches(self, horizon: int) -> list[tuple[int, int]]:
        """Where only the noise floor or silence will play within the next ``horizon``
        output samples, if no control changes anything: (first, end) offsets from the
        next sample :meth:`fill` returns, in order.

        The gaps between the Script's cues are quiet, and so is the silence after a
        pause point or the end; the player's own voice is not, nor is what is not yet
        prepared. An output that plays whole buffers joins them only here, where a
        join a few milliseconds off cannot be heard.
        """
        with self._lock:
            if self.finished or (self.paused and self._inserted is None):
                return [(0, horizon)] if horizon > 0 else []
            offset = 0
            if self._inserted is not None:
                offset = len(self._inserted) - self._inserted_at
                if self.paused:  # "Paused." then silence
                    return [(offset, horizon)] if offset < horizon else []
            return _clipped(self._timeline_quiet(offset, horizon), horizon)

    def _timeline_quiet(self, offset: int, horizon: int) -> list[tuple[int, int]]:
        """Quiet stretches of the timeline from the current position, placed ``offset``
        samples ahead (the lock is held)."""
        start = self.position
        stop = next(
            (p for p in self._pause_points if p > start or p == start != self._waited_at),
            None,
        )
        end = self.ready_until if stop is None else min(stop, self.ready_until)
        silent_after = stop is not None and stop <= self.ready_until
        if self.script is None:
            quiet = [(start, end)]  # the pre-roll: the noise floor alone
        else:
            if self.complete and end >= self.script.length_samples:
                end, silent_after = self.script.length_samples, True
            quiet, at = [], start
            limit = min(end, start + horizon - offset)
            cues = self.script.cues
            for index in range(bisect.bisect_right(self._cue_ends, at), len(cues)):
                cue = cues[index]
                if cue.start_sample >= limit:
                    break
                if cue.start_sample > at:
                    quiet.append((at, cue.start_sample))
                at = cue.end_sample
            if at < end:
                quiet.append((at, end))
        if silent_after:
            quiet.append((end, start + horizon - offset))
        return [(offset + a - start, offset + b - start) for a, b in quiet if b > a]

    def quiet_point(self, lowest: int, highest: int, guard: int) -> int | None:
        """Samples from the next output to the latest point, ``lowest`` to ``highest``
        ahead, with only the noise floor or silence ``guard`` samples either side of it
        (the middle of its quiet stretch where that is in range); None if there is none.
        """
        best = None
        for first, end in self.quiet_stretches(highest + guard):
            low, high = max(first + guard, lowest), min(end - guard, highest)
            if low <= high:
                best = min(max((first + end) // 2, low), high)
        return best

    def quiet_at(self, ahead: int, guard: int) -> bool:
        """Whether the output ``ahead`` samples from the next one is quiet, ``guard``
        samples either side (see :meth:`quiet_stretches`)."""
        return any(
            first + guard <= ahead <= end - guard
            for first, end in self.quiet_stretches(ahead + guard)
        )

    # ----------------------------------------------------------------- audio clock
    def position_at_output(self, output_index: float) -> int | None:
        """The timeline sample that output sample ``output_index`` carries, or None."""
        with self._lock:
            blocks = list(self.blocks)
        for block in reversed(blocks):
            if block.output_start <= output_index:
                if block.position is None:
                    return None
                offset = min(int(output_index - block.output_start), block.frames)
                return block.position + offset
        return 0


def _clipped(stretches: list[tuple[int, int]], horizon: int) -> list[tuple[int, int]]:
    """``stretches`` within [0, horizon), touching ones merged."""
    merged: list[tuple[int, int]] = []
    for first, end in stretches:
        first, end = max(0, first), min(end, horizon)
        if end <= first:
            continue
        if merged and merged[-1][1] >= first:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((first, end))
    return merged


def _turn_starts(script: Script) -> list[tuple[int, int]]:
    """(start sample, step) of every side and rep: its side cue, or its hold."""
    side_cues = {
        (cue.step, cue.side, cue.rep): cue.start_sample for cue in script.cues if cue.role == "side"
    }
    return [
        (side_cues.get((hold.step, hold.side, hold.rep), hold.start_sample), hold.step)
        for hold in script.holds
    ]
