"""Music under the coach: the user's files as one bed, looped to any length, read in blocks.

The files (a folder's in name order) are laid end to end with a short equal-power
crossfade at each join, the last joined back to the first, and repeated as long as
the timeline lasts. :meth:`MusicBed.samples` gives the bed at any timeline sample,
each file at the same loudness.

Files may be hours long and in any format libsndfile reads (WAV, FLAC, Ogg Vorbis,
Opus, MP3). Seeking in MP3 and Vorbis is neither exact nor repeatable, so each file
is only ever decoded from its start, in blocks of one size (see
:class:`audiofile.AudioStream`), and what has been decoded is kept, as 16-bit
samples, in a temporary file of its own that no one else can open (unlinked at
once, so it goes with the process however it ends). The bed at sample t is
therefore the same bytes whichever span asks for it, and memory stays flat however
long the music or the routine: exports read it block by block, and the live player
(which must never wait for a disk in its audio thread) has it decoded ahead by a
thread of its own, hearing silence for music not decoded yet after a long jump.

Bad files are one line each: given by name, an :class:`InputFileError`; inside a
folder, a :class:`MusicWarning` and the file is left out.
"""

from __future__ import annotations

import math
import os
import stat
import tempfile
import threading
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .audiofile import AudioStream, UnusualFileError
from .ducking import smoothstep
from .errors import InputFileError, MusicWarning
from .inputs import describe_size, not_regular, open_input
from .loudness import LoudnessMeter

#: File names a music folder is searched for (others, such as cover art, are ignored).
MUSIC_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")
#: Most music files used from one folder.
MAX_FOLDER_FILES = 1000
#: Crossfade at each join between files (and of a file looped onto itself).
CROSSFADE_SECONDS = 2.0
#: Shortest file that can be looped: the crossfade takes up to half of each file.
MIN_TRACK_SECONDS = 1.0
#: Each file's loudness is measured on its first this many seconds (all of a shorter
#: one): a function of the file alone, known before the file plays.
MEASURE_SECONDS = 60.0
#: The integrated loudness (LUFS) of the speech clips at speech level 0 (speech.py
#: levels them to an RMS of 0.2; eSpeak NG -17.7, Piper -18.5, as measured): a music file
#: at ``level`` 0 dB is brought to this.
SPEECH_LUFS = -18.0
#: Highest peak of a file's first minute after its gain, and the ceiling the bed is
#: clipped to: the voice (peak 0.6) over the ducked music never reaches full scale.
MUSIC_PEAK = 0.5
#: How far ahead of the live player the music is decoded.
LOOKAHEAD_SECONDS = 20.0
#: The longest music file voice-coach decodes to learn its length when its header
#: does not say (the longest routine).
MAX_COUNTED_SECONDS = 12 * 3600


@dataclass
class _Track:
    path: Path
    #: Length in samples at the bed's rate (from the header).
    samples: int
    #: Where its samples start in the cache file, in bytes.
    offset: int = 0
    decoded: int = 0
    gain: float | None = None
    stream: AudioStream | None = None
    handle: object = None
    meter: LoudnessMeter | None = None
    peak: float = 0.0
    #: Crossfade lengths at its start (from the file before) and its end.
    fade_in: int = 0
    fade_out: int = 0
    #: Its first sample's place in the first round of the loop.
    start: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def music_files(sources: Sequence[str | Path]) -> list[Path]:
    """The music files ``sources`` name, in play order: each file as given, and each
    folder's music files (by suffix, see :data:`MUSIC_SUFFIXES`) in name order.

    Raises
    ------
    InputFileError
        For a source that is missing or neither a file nor a folder, and a folder with
        no music files.
    """
    found: list[Path] = []
    for source in sources:
        path = Path(source)
        try:
            mode = os.stat(path).st_mode
        except (OSError, ValueError) as error:
            missing = isinstance(error, FileNotFoundError)
            reason = "no such music file or folder; check the path" if missing else str(error)
            raise InputFileError(str(path), reason, missing=missing) from None
        if not stat.S_ISDIR(mode):
            kind = not_regular(mode)
            if kind is not None:
                raise InputFileError(
                    str(path), f"this is {kind}, not a music file; give a file or a folder"
                )
            found.append(path)
            continue
        names = sorted(
            entry.name
            for entry in os.scandir(path)
            if entry.name.lower().endswith(MUSIC_SUFFIXES) and not entry.name.startswith(".")
        )
        if not names:
            raise InputFileError(
                str(path),
                f"no music in this folder (voice-coach plays {', '.join(MUSIC_SUFFIXES)} "
                "files); give a folder with music, or the files themselves",
            )
        if len(names) > MAX_FOLDER_FILES:
            warnings.warn(
                f"{path}: {len(names)} music files; the first {MAX_FOLDER_FILES} are played",
                MusicWarning,
                stacklevel=2,
            )
        found += [path / name for name in names[:MAX_FOLDER_FILES]]
    return found


def _open(path: Path, sample_rate: int) -> tuple[object, AudioStream]:
    """The open file and its decoder; InputFileError (one line) for anything unplayable."""
    handle = open_input(path, "music file")
    try:
        if os.fstat(handle.fileno()).st_size == 0:
            raise InputFileError(str(path), "the music file is empty; give a sound file")
        stream = AudioStream(handle, sample_rate)
    except UnusualFileError as error:
        handle.close()
        raise InputFileError(
            str(path), f"its header declares {error}, which no real sound has"
        ) from None
    except RuntimeError as error:
        handle.close()
        reason = getattr(error, "error_string", None) or "not a sound file"
        size = describe_size(os.path.getsize(path)) if os.path.isfile(path) else "?"
        raise InputFileError(
            str(path),
            f"cannot read it as music ({reason}, {size}); give a WAV, FLAC, Ogg, Opus or MP3 file",
        ) from None
    except BaseException:
        handle.close()
        raise
    return handle, stream


class MusicBed:
    """The music files as one looped bed at ``sample_rate``: see the module notes.

    Parameters
    ----------
    sources:
        Music files and folders, in play order (see :func:`music_files`).
    sample_rate:
        The timeline's rate.

    Raises
    ------
    InputFileError
        For a file given by name that cannot be played, or when no file can.
    """

    def __init__(self, sources: Sequence[str | Path], sample_rate: int) -> None:
        self.sample_rate = sample_rate
        #: False for the live player: a span not decoded yet is silence, never a wait.
        self.blocking = True
        self.tracks: list[_Track] = []
        given = {Path(source) for source in sources}
        for path in music_files(sources):
            try:
                self.tracks.append(self._track(path))
            except InputFileError as error:
                if path in given:
                    raise
                warnings.warn(f"{error}; left out", MusicWarning, stacklevel=2)
        if not self.tracks:
            names = ", ".join(str(source) for source in sources)
            raise InputFileError(names, "none of this music can be played; see above")
        self._layout()
        # Closed by close(), or when the bed is collected (weakref.finalize).
        self._cache = tempfile.TemporaryFile(prefix="voice-coach-music-")  # noqa: SIM115
        self._closed = weakref.finalize(self, _close_all, self._cache, self.tracks)
        self._wanted: tuple[int, int] | None = None
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        # The first file's loudness is known before anything plays.
        self._ensure(self.tracks[0], 0)

    def _track(self, path: Path) -> _Track:
        handle, stream = _open(path, self.sample_rate)
        try:
            samples = stream.samples
            if samples is None:
                samples = _count_samples(stream, MAX_COUNTED_SECONDS * self.sample_rate)
        finally:
            stream.close()
            handle.close()  # type: ignore[attr-defined]
        if samples < MIN_TRACK_SECONDS * self.sample_rate:
            raise InputFileError(
                str(path),
                f"the music is {samples / self.sample_rate:.2f} s long, too short to loop; "
                f"give music of {MIN_TRACK_SECONDS:g} s or more",
            )
        return _Track(path, samples)

    def _layout(self) -> None:
        crossfade = round(CROSSFADE_SECONDS * self.sample_rate)
        offset = 0
        start = 0
        for index, track in enumerate(self.tracks):
            after = self.tracks[(index + 1) % len(self.tracks)]
            track.fade_out = min(crossfade, track.samples // 2, after.samples // 2)
            after.fade_in = track.fade_out
            track.offset = offset
            offset += 2 * track.samples
        for track in self.tracks:
            track.start = start
            start += track.samples - track.fade_out
        #: One round of the loop, in samples: the next round's first file starts here.
        self.period = start
        self._longest = max(track.samples for track in self.tracks)

    @property
    def files(self) -> list[Path]:
        """The files played, in order."""
        return [track.path for track in self.tracks]

    def _items(self, start: int, end: int) -> Iterator[tuple[_Track, int, int, int, bool]]:
        """(track, its start on the timeline, first, end sample within it, is the very
        first) of every file overlapping samples ``start`` to ``end``."""
        first_round = max(0, (start - self._longest) // self.period)
        for loop in range(first_round, end // self.period + 1):
            for index, track in enumerate(self.tracks):
                begins = loop * self.period + track.start
                low, high = max(begins, start), min(begins + track.samples, end)
                if high > low:
                    yield track, begins, low - begins, high - begins, loop == index == 0

    def samples(self, start_sample: int, count: int) -> np.ndarray:
        """The bed from ``start_sample`` (float64, the voice's loudness at 1.0): the same
        values whichever span asks for them."""
        end = start_sample + count
        out = np.zeros(count)
        if not self.blocking:
            self._want(start_sample, end + round(LOOKAHEAD_SECONDS * self.sample_rate))
        for track, begins, low, high, very_first in self._items(start_sample, end):
            audio = self._decoded(track, low, high)
            if audio is None:
                continue
            local = np.arange(low, high, dtype=np.float64)
            if track.fade_in and not very_first and low < track.fade_in:
                audio = audio * np.sqrt(smoothstep(local / track.fade_in))
            if track.fade_out and high > track.samples - track.fade_out:
                audio = audio * np.sqrt(smoothstep((track.samples - local) / track.fade_out))
            out[begins + low - start_sample : begins + high - start_sample] += audio
        return np.clip(out, -MUSIC_PEAK, MUSIC_PEAK)

    def _decoded(self, track: _Track, low: int, high: int) -> np.ndarray | None:
        """Samples ``low`` to ``high`` of ``track`` with its gain, or None when they are
        not decoded yet and the bed must not wait."""
        if track.decoded < high or track.gain is None:
            if not self.blocking:
                return None
            self._ensure(track, high)
        raw = os.pread(self._cache.fileno(), 2 * (high - low), track.offset + 2 * low)
        pcm = np.zeros(high - low)
        got = np.frombuffer(raw, dtype="<i2")
        pcm[: len(got)] = got
        assert track.gain is not None
        return pcm * (track.gain / 32768.0)

    def _ensure(self, track: _Track, high: int) -> None:
        """Decode ``track`` at least to sample ``high`` and far enough to know its gain."""
        measured = min(track.samples, round(MEASURE_SECONDS * self.sample_rate))
        wanted = min(track.samples, max(high, measured))
        while track.decoded < wanted:
            self._decode_block(track)

    def _decode_block(self, track: _Track) -> None:
        """Decode and keep the next block of ``track``."""
        with track.lock:
            if track.decoded >= track.samples:
                return
            if track.stream is None:
                track.handle, track.stream = _open(track.path, self.sample_rate)
                track.meter = LoudnessMeter(self.sample_rate)
            block = track.stream.next_block()[: track.samples - track.decoded]
            measured = round(MEASURE_SECONDS * self.sample_rate)
            if track.meter is not None and track.decoded < measured:
                window = block[: measured - track.decoded]
                track.meter.feed(window)
                if len(window):
                    track.peak = max(track.peak, float(np.abs(window).max()))
            pcm = np.rint(np.clip(block, -1.0, 32767 / 32768) * 32768).astype("<i2")
            os.pwrite(self._cache.fileno(), pcm.tobytes(), track.offset + 2 * track.decoded)
            decoded = track.decoded + len(block)
            # A file shorter than its header said is silent to the length it gave.
            ended = not len(block) or decoded >= track.samples
            if ended:
                _close_track(track)
                decoded = track.samples
            if track.gain is None and decoded >= min(track.samples, measured):
                track.gain = _gain(track)
                track.meter = None
            # Last: readers look at ``decoded`` without the lock.
            track.decoded = decoded

    # ------------------------------------------------------------------ live player
    def start_prefetch(self) -> None:
        """Decode ahead of what is asked for on a thread of its own, and never wait:
        for the live player."""
        self.blocking = False
        if self._thread is None:
            self._thread = threading.Thread(target=self._prefetch, daemon=True)
            self._thread.start()

    def _want(self, start: int, end: int) -> None:
        with self._wake:
            self._wanted = (start, end)
            self._wake.notify()

    def _prefetch(self) -> None:
        done: tuple[int, int] | None = None
        while self._closed.alive:
            with self._wake:
                while self._wanted == done or self._wanted is None:
                    self._wake.wait(timeout=1.0)
                    if not self._closed.alive:
                        return
                wanted = self._wanted
            start, end = wanted
            for track, _, _, high, _ in list(self._items(start, end)):
                while track.decoded < high and self._wanted == wanted:
                    self._ensure_some(track, high)
            done = wanted

    def _ensure_some(self, track: _Track, high: int) -> None:
        measured = min(track.samples, round(MEASURE_SECONDS * self.sample_rate))
        if track.decoded < min(track.samples, max(high, measured)):
            self._decode_block(track)

    def close(self) -> None:
        """Close the files and drop the decoded music."""
        self._closed()


def _gain(track: _Track) -> float:
    """The gain that brings ``track``'s first minute to :data:`SPEECH_LUFS`, its peak
    no higher than :data:`MUSIC_PEAK`."""
    assert track.meter is not None
    loudness = track.meter.integrated()
    if not math.isfinite(loudness) or track.peak <= 0:
        return 1.0
    return min(10 ** ((SPEECH_LUFS - loudness) / 20), MUSIC_PEAK / track.peak)


def _count_samples(stream: AudioStream, limit: float) -> int:
    total = 0
    while total <= limit:
        block = stream.next_block()
        if not len(block):
            break
        total += len(block)
    return total


def _close_track(track: _Track) -> None:
    if track.handle is not None:
        if track.stream is not None:
            track.stream.close()
        track.handle.close()  # type: ignore[attr-defined]
    track.stream = None
    track.handle = None


def _close_all(cache, tracks: list[_Track]) -> None:
    for track in tracks:
        _close_track(track)
    cache.close()
