"""The sound devices: the output stream the player writes to, and the microphone.

This is the only module that imports sounddevice (PortAudio). An output stream pulls
its audio from a :class:`~voice_coach.transport.Transport`, one block at a time, and
keeps a log of when each block reaches the listener (PortAudio's DAC time), so that
the view follows what is heard, not what was written.

An output offers: ``active`` (still playing), ``time`` (its clock, in seconds),
``clock_log`` ((DAC time, output index) of recent blocks), ``stop()`` (play out what
it holds), ``abort()`` (stop at once) and ``close()``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

from .errors import NoSoundDeviceError, PlaybackError
from .transport import Transport

if TYPE_CHECKING:
    import numpy as np

#: Samples per callback block: 1024 at 22,050 Hz is 46 ms, so a control is heard
#: within one block plus the device latency.
BLOCK_SAMPLES = 1024


@contextlib.contextmanager
def quiet_c_stderr() -> Iterator[None]:
    """Silence what ALSA's C library prints to fd 2 while devices are probed.

    Its multi-line "cannot find card" chatter would bury the one line we report.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _no_device(cause: str, routine_ref: str) -> NoSoundDeviceError:
    if "device -1" in cause:  # PortAudio found no output device at all
        cause = "no output device was found"
    return NoSoundDeviceError(
        f"no sound device (the default output could not be opened: {cause}); "
        f"to get the routine as a file instead, run "
        f"`voice-coach export {routine_ref} -o routine.wav`"
    )


class AudioSource(Protocol):
    """What an output stream pulls its audio from: a Transport, or a single clip."""

    rate: int
    channels: int
    output_index: int
    finished: bool

    def fill(self, frames: int) -> np.ndarray:
        """The next ``frames`` samples, int16 of shape (frames, channels)."""


def open_stream(transport: AudioSource, routine_ref: str):
    """An started output stream that pulls its audio from ``transport``."""
    try:
        with quiet_c_stderr():
            import sounddevice
    except OSError as error:  # the PortAudio library itself is missing
        raise _no_device(f"PortAudio is not installed: {error}", routine_ref) from None
    clock_log: deque[tuple[float, int]] = deque(maxlen=256)

    def callback(outdata, frames, timing, status) -> None:
        start = transport.output_index
        outdata[:] = transport.fill(frames)
        dac = timing.outputBufferDacTime or timing.currentTime
        clock_log.append((dac, start))
        if transport.finished:
            raise sounddevice.CallbackStop

    try:
        stream = _started(
            sounddevice.OutputStream,
            samplerate=transport.rate,
            channels=transport.channels,
            blocksize=BLOCK_SAMPLES,
            callback=callback,
        )
    except (sounddevice.PortAudioError, ValueError) as error:
        raise _no_device(_cause(error), routine_ref) from None
    stream.clock_log = clock_log
    return stream


def open_microphone(rate: int, block_samples: int, callback):
    """A started mono int16 input stream from the default microphone (for ``--listen``).

    ``callback(samples, latency)`` gets each block of ``block_samples`` and how long
    ago, in seconds, its first sample was captured. Raises PlaybackError when no
    microphone can be opened.
    """
    try:
        with quiet_c_stderr():
            import sounddevice
    except OSError as error:
        raise PlaybackError(f"no microphone: PortAudio is not installed ({error})") from None

    def on_block(indata, frames, timing, status) -> None:
        adc = timing.inputBufferAdcTime
        latency = timing.currentTime - adc if adc else frames / rate
        callback(indata[:, 0].copy(), latency)

    try:
        return _started(
            sounddevice.InputStream,
            samplerate=rate,
            channels=1,
            blocksize=block_samples,
            callback=on_block,
        )
    except (sounddevice.PortAudioError, ValueError) as error:
        raise PlaybackError(
            f"no microphone (the default input could not be opened: {_cause(error)}); "
            "play without --listen, or connect one"
        ) from None


def _started(stream_class, **options):
    """A started int16 PortAudio stream at low latency, ALSA's chatter silenced."""
    with quiet_c_stderr():
        stream = stream_class(dtype="int16", latency="low", **options)
        stream.start()
    return stream


def _cause(error: Exception) -> str:
    """PortAudio's reason for ``error``, without its error-code suffix."""
    return str(error).split("[PaErrorCode")[0].strip() or "PortAudio error"


def audio_position(stream, transport: Transport) -> int | None:
    """The timeline sample being heard now, from the stream's DAC times."""
    try:
        now = stream.time
    except Exception:  # the stream has closed
        return transport.position
    for dac, output_start in reversed(stream.clock_log):
        if dac and dac <= now:
            heard = output_start + (now - dac) * transport.rate
            if heard < transport.jumped_at_output:
                return None  # the tail from before a jump is still sounding
            return transport.position_at_output(heard)
    return 0 if stream.clock_log else None
