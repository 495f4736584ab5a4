"""The sound devices through PortAudio: the output stream the player writes to, and
the microphone.

This is the only module that imports sounddevice (PortAudio). An output stream pulls
its audio from a :class:`~voice_coach.transport.Transport`, one block at a time, and
keeps a log of when each block reaches the listener (PortAudio's DAC time), so that
the view follows what is heard, not what was written.

An output (this one, or :mod:`segmented`'s on simpleaudio) offers: ``active`` (still
playing), ``time`` (its clock, in seconds), ``clock_log`` ((DAC time, output index) of
recent blocks), ``stop()`` (play out what it holds), ``abort()`` (stop as soon as it
can) and ``close()``.
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

#: How to install PortAudio, in one line (sounddevice's wheels bring it on macOS and
#: Windows; on Linux it is the system's library).
PORTAUDIO_INSTALL = (
    "install it with `sudo apt-get install libportaudio2` (Debian, Ubuntu; "
    "portaudio on other systems)"
)

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


def no_device(cause: str, routine_ref: str) -> NoSoundDeviceError:
    """The one-line error for an output that cannot be opened, and the way to a file."""
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

    @property
    def idle(self) -> bool:
        """Whether every fill from now on is silence until a control changes that."""

    def quiet_point(self, lowest: int, highest: int, guard: int) -> int | None:
        """Samples to the latest quiet point ``lowest`` to ``highest`` ahead, or None
        (see :meth:`Transport.quiet_point`)."""

    def quiet_at(self, ahead: int, guard: int) -> bool:
        """Whether the output ``ahead`` samples on is quiet (see :meth:`Transport.quiet_at`)."""


def load_portaudio():
    """The sounddevice module, or None when the PortAudio library cannot be loaded
    (sounddevice raises OSError on import where libportaudio2 is missing)."""
    try:
        with quiet_c_stderr():
            import sounddevice
    except OSError:
        return None
    return sounddevice


def open_stream(transport: AudioSource, routine_ref: str):
    """A started PortAudio output stream that pulls its audio from ``transport``.

    Raises NoSoundDeviceError when the default output cannot be opened, and
    PlaybackError when PortAudio itself is not installed.
    """
    sounddevice = load_portaudio()
    if sounddevice is None:
        raise PlaybackError(f"PortAudio is not installed; {PORTAUDIO_INSTALL}")
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
        raise no_device(_cause(error), routine_ref) from None
    stream.clock_log = clock_log
    return stream


def open_microphone(rate: int, block_samples: int, callback):
    """A started mono int16 input stream from the default microphone (for ``--listen``).

    ``callback(samples, latency)`` gets each block of ``block_samples`` and how long
    ago, in seconds, its first sample was captured. Raises PlaybackError when no
    microphone can be opened.
    """
    sounddevice = load_portaudio()
    if sounddevice is None:
        raise PlaybackError(
            f"spoken commands need PortAudio for the microphone, which is not installed; "
            f"{PORTAUDIO_INSTALL}"
        )

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
