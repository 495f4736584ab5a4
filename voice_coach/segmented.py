"""The simpleaudio output, for machines where PortAudio cannot be loaded; and
:func:`open_output`, which picks the backend.

simpleaudio plays one whole buffer per call, opening the device each time, and says
nothing of where it is. This module makes the interface of :mod:`devices`' PortAudio
stream out of it (``active``, ``time``, ``clock_log``, ``stop()``, ``abort()``,
``close()``), pulling the same samples from the same Transport:

* **Segments.** The audio goes out in buffers of at most 30 seconds, so memory stays
  flat however long the routine. Each buffer ends where only the noise floor plays
  (the Transport knows every cue's exact samples), and the next one is started on
  the clock as it ends; a join a few milliseconds off cannot be heard there. Every
  start is placed on one clock anchor, so the errors never add up to drift.
* **Filled just ahead.** simpleaudio reads a buffer as it plays it, at most two of
  its 100 ms device buffers ahead (ALSA, Core Audio and WinMM alike), so each
  buffer is filled from the Transport only ``AHEAD_SECONDS`` before it is due.
  Controls therefore take effect at an exact sample, as with PortAudio, only a
  little later. A control that changes what comes next cuts the buffer short at
  the next quiet point of the new audio; a pause stops the device, and the resume
  restarts playback at the exact output sample where the pause began.
* **The clock** is the monotonic clock, from each buffer's start.

It needs a device that plays in real time and mixes streams (PulseAudio, PipeWire,
ALSA's dmix, Core Audio, WinMM): a buffer starts before the one before it has
quite finished. This is the only module that imports simpleaudio.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .devices import (
    BLOCK_SAMPLES,
    PORTAUDIO_INSTALL,
    AudioSource,
    load_portaudio,
    no_device,
    open_stream,
    quiet_c_stderr,
)
from .errors import PlaybackError

#: How far ahead of its due time a buffer is filled. simpleaudio reads up to 0.2 s
#: ahead of what is heard; the rest is room for this thread to be late.
AHEAD_SECONDS = 0.3
#: The longest buffer (2.6 MB of stereo audio).
MAX_SEGMENT_SECONDS = 30.0
#: The shortest buffer cut at a quiet point (the pre-roll's is the shortest).
MIN_SEGMENT_SECONDS = 0.25
#: A join has only the noise floor this far either side of it.
JOIN_GUARD_SECONDS = 0.05
#: From a buffer's play call to its first sample being heard, as measured on a
#: PulseAudio null sink through ALSA; only the view and echo gating use it.
START_LATENCY_SECONDS = 0.02
#: A buffer whose rest is silence is stopped this long after its last sound is due
#: (stopping it sooner could cut that sound: simpleaudio plays out what it has read).
STOP_MARGIN_SECONDS = 0.5
#: A buffer that stops playing this long before its end is due means the device went.
EARLY_END_SECONDS = 0.5
#: How often the feeding thread wakes.
TICK_SECONDS = 0.01

SIMPLEAUDIO_INSTALL = (
    "pip install 'voice-coach[simpleaudio]' (it builds with a C compiler and libasound2-dev)"
    if sys.version_info < (3, 12)
    # simpleaudio 1.0.4 frees memory without Python's lock (a crash on 3.12) and calls
    # a function 3.13 removed, so the extra brings it to 3.11 only.
    else "simpleaudio works on Python 3.11 only"
)


def load_simpleaudio():
    """The simpleaudio module, or None when it is not installed."""
    try:
        import simpleaudio
    except ImportError:
        return None
    return simpleaudio


def open_output(source: AudioSource, routine_ref: str, audio: str | None = None):
    """A started output that pulls its audio from ``source``: through PortAudio, or
    through simpleaudio when ``audio`` says so or PortAudio cannot be loaded.

    The output's ``notice`` is one line for the player to show when simpleaudio was
    chosen by itself (None otherwise).

    Raises NoSoundDeviceError when the default output cannot be opened, and
    PlaybackError, saying what to install, when the backend asked for (or both) is
    not installed.
    """
    if audio != "simpleaudio":
        if load_portaudio() is not None:
            return open_stream(source, routine_ref)
        if audio == "portaudio":
            raise PlaybackError(
                f"PortAudio is not installed; {PORTAUDIO_INSTALL}, or play with --audio simpleaudio"
            )
    simpleaudio = load_simpleaudio()
    if simpleaudio is None:
        if audio == "simpleaudio":
            raise PlaybackError(
                f"simpleaudio is not installed: {SIMPLEAUDIO_INSTALL}; or play with "
                "--audio portaudio"
            )
        raise PlaybackError(
            f"cannot play: PortAudio is not installed ({PORTAUDIO_INSTALL}), nor is "
            f"simpleaudio ({SIMPLEAUDIO_INSTALL})"
        )
    output = SegmentedOutput(source, simpleaudio)
    if audio is None:  # chosen by itself: the player says so in one line
        output.notice = f"PortAudio is not installed, so simpleaudio plays; {PORTAUDIO_INSTALL}"
    try:
        with quiet_c_stderr():
            output.start()
    except simpleaudio._simpleaudio.SimpleaudioError as error:
        # "Error opening PCM device. -- CODE: -2 -- MSG: No such file or directory"
        cause = str(error).rpartition("MSG: ")[2] or str(error)
        raise no_device(cause, routine_ref) from None
    return output


@dataclass(eq=False)
class _Segment:
    """One buffer: output samples ``start`` to ``end``, played from clock time ``anchor``."""

    buffer: np.ndarray
    start: int
    #: Where it ends; a control may bring it forward (the rest of the buffer is silence).
    end: int
    anchor: float
    rate: int
    play: Any = None
    #: When to stop it: its rest is silence.
    stop_at: float | None = None
    stopped: bool = False

    def due(self, index: int) -> float:
        """When output sample ``index`` is due to be heard (less the start latency)."""
        return self.anchor + (index - self.start) / self.rate


class SegmentedOutput:
    """An output on simpleaudio: the source's audio as a run of buffers (see the module
    notes). Call :meth:`start` once; then it feeds itself on a thread of its own.

    ``clock`` and ``sleep`` are the time it keeps (the monotonic clock by default);
    ``simpleaudio`` is the module that plays.
    """

    def __init__(
        self,
        source: AudioSource,
        simpleaudio,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source = source
        self.rate = source.rate
        #: One line for the player to show (set by :func:`open_output`), or None.
        self.notice: str | None = None
        self._simpleaudio = simpleaudio
        self._clock = clock
        self._sleep = sleep
        #: (clock time a block is due to be heard, its output index), as PortAudio's.
        self.clock_log: deque[tuple[float, int]] = deque(maxlen=256)
        #: Buffers handed to simpleaudio (or about to be) and still playing.
        self._segments: list[_Segment] = []
        self._current: _Segment | None = None
        #: The output index up to which buffers are filled.
        self._filled = source.output_index
        #: When the sound before a pause has played: a restart starts no sooner.
        self._restart_after = 0.0
        self._guard = round(JOIN_GUARD_SECONDS * self.rate)
        self._error: BaseException | None = None
        self._closing = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voice-coach-audio", daemon=True)
        #: For tests and the bench: buffers started, and the longest, in samples.
        self.started_segments = 0
        self.longest_segment = 0

    # ------------------------------------------------------------------ interface
    def start(self) -> None:
        """Fill and start the first buffer (so a device that cannot be opened raises
        here, simpleaudio's error), then feed on in the background."""
        now = self._clock()
        self._current = self._new_segment(now)
        self._fill(now)
        self._start_due(now)
        self._thread.start()

    @property
    def active(self) -> bool:
        """Still playing: False once everything has played, or the device failed."""
        return not self._done.is_set()

    @property
    def time(self) -> float:
        """The output's clock, in seconds (the clock ``clock_log`` is on)."""
        return self._clock()

    def stop(self) -> None:
        """Let what is left play out (at the routine's end), then close."""
        self._done.wait(timeout=MAX_SEGMENT_SECONDS + 5)
        self.close()

    def abort(self) -> None:
        """Stop the sound now (simpleaudio still plays out the 0.2 s it has read)."""
        self._closing.set()
        self._stop_all()

    def close(self) -> None:
        """Stop feeding and any sound still playing, and wait (a second at most) for
        simpleaudio's threads to let go: they call into Python as they end."""
        self._closing.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._stop_all()
        deadline = self._clock() + 1.0
        while self._clock() < deadline and any(
            segment.play is not None and segment.play.is_playing() for segment in self._segments
        ):
            self._sleep(TICK_SECONDS)

    # ------------------------------------------------------------------ the feeder
    def _run(self) -> None:
        try:
            while not self._closing.is_set() and not self._step(self._clock()):
                # Wake on time for the next buffer's start: its join is only as
                # exact as that.
                pending = [s.anchor for s in self._segments if s.play is None]
                wake = min([self._clock() + TICK_SECONDS, *pending])
                self._sleep(max(0.0, wake - self._clock()))
        except Exception as error:  # the device failed: `active` turns False
            self._error = error
            self._stop_all()
        finally:
            self._done.set()

    def _step(self, now: float) -> bool:
        """One wake-up: start, stop and fill buffers. True once all has played."""
        self._start_due(now)
        self._retire(now)
        if self._current is None:
            if self.source.finished:
                return not self._segments
            if self.source.idle:
                return False
            # Restart playback at the exact output sample where it stopped, once
            # what was heard before it has played.
            self._current = self._new_segment(max(now, self._restart_after))
        self._fill(now)
        self._start_due(now)
        return False

    def _new_segment(self, anchor: float) -> _Segment:
        """A buffer from the fill point to the latest quiet point within reach."""
        lowest = round(MIN_SEGMENT_SECONDS * self.rate)
        highest = round(MAX_SEGMENT_SECONDS * self.rate)
        length = self.source.quiet_point(lowest, highest, self._guard) or highest
        buffer = np.zeros((length, self.source.channels), dtype=np.int16)
        segment = _Segment(buffer, self._filled, self._filled + length, anchor, self.rate)
        self._segments.append(segment)
        self.longest_segment = max(self.longest_segment, length)
        return segment

    def _fill(self, now: float) -> None:
        """Fill the current buffer (and those after it) up to AHEAD_SECONDS ahead."""
        while (segment := self._current) is not None:
            if self._filled >= segment.end:
                self._current = self._new_segment(segment.due(segment.end))
                continue
            if self._filled >= segment.start + round(
                (now - segment.anchor + AHEAD_SECONDS) * self.rate
            ):
                return
            if self.source.idle:  # paused, waiting, or at the end: silence from here
                self._end_at(segment, self._filled)
                self._restart_after = segment.due(self._filled)
                self._current = None
                return
            left = segment.end - self._filled
            if not self.source.quiet_at(left, self._guard):
                # A control changed what comes: end at the new audio's next quiet point.
                quiet = self.source.quiet_point(0, left, self._guard)
                if quiet is not None:
                    self._end_at(segment, self._filled + quiet)
                    continue
            count = min(BLOCK_SAMPLES, left)
            at = self._filled - segment.start
            segment.buffer[at : at + count] = self.source.fill(count)
            self.clock_log.append((segment.due(self._filled) + START_LATENCY_SECONDS, self._filled))
            self._filled += count

    def _end_at(self, segment: _Segment, index: int) -> None:
        """End ``segment`` at output sample ``index``: its rest is silence."""
        segment.end = index
        if segment.play is None:
            if index == segment.start:
                self._segments.remove(segment)
            return
        segment.stop_at = segment.due(index) + START_LATENCY_SECONDS + STOP_MARGIN_SECONDS

    def _start_due(self, now: float) -> None:
        """Hand simpleaudio every buffer whose time has come."""
        for segment in self._segments:
            if segment.play is None and now >= segment.anchor:
                # Only the part that plays: a buffer cut short before it starts needs
                # no stopping.
                audio = segment.buffer[: segment.end - segment.start]
                channels = self.source.channels
                segment.play = self._simpleaudio.play_buffer(audio, channels, 2, self.rate)
                self.started_segments += 1

    def _retire(self, now: float) -> None:
        """Stop buffers whose rest is silence; forget those that have played."""
        for segment in list(self._segments):
            if segment.play is None:
                continue
            if segment.stop_at is not None and now >= segment.stop_at and not segment.stopped:
                segment.play.stop()
                segment.stopped = True
            if not segment.play.is_playing():
                if not segment.stopped and now < segment.due(segment.end) - EARLY_END_SECONDS:
                    raise PlaybackError("the sound device stopped playing")
                self._segments.remove(segment)

    def _stop_all(self) -> None:
        for segment in list(self._segments):
            if segment.play is not None and not segment.stopped:
                segment.stopped = True
                segment.play.stop()
