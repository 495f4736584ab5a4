"""Tags and chapters inside audio files, through mutagen: the one module that uses it.

* MP3 and WAV carry an ID3v2.3 tag (v2.3 is what most car stereos and older
  players read): title, artist, album, track number, and the chapters as CHAP
  frames listed in order by one top-level CTOC frame. The frames are laid out in
  that order too, CTOC first and the chapters in time order: players that list
  chapters in file order (FFmpeg among them) then list them right. mutagen sorts
  frames by size when it saves a tag, so each frame is serialised by mutagen on
  its own and the tag is put together here.
* FLAC, Ogg Vorbis and Opus carry Vorbis comments: TITLE, ARTIST, ALBUM,
  TRACKNUMBER, and the chapters as ``CHAPTERnnn`` (start time) and
  ``CHAPTERnnnNAME``, numbered from 001 as the Xiph chapter extension does.
* MP4 (.m4a, .m4b) carries iTunes-style tags (``©nam``, ``©ART``, ``©alb``,
  ``trkn``); its chapters are written with the audio by FFmpeg's muxer (mp4.py).
"""

from __future__ import annotations

import io
import os
import shutil
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chapters import Chapter, milliseconds, timestamp

ARTIST = "voice-coach"
#: The Xiph chapter extension numbers chapters with three digits.
MAX_VORBIS_CHAPTERS = 999
#: ID3's table of contents counts its entries in one byte.
MAX_ID3_CHAPTERS = 255


class TagError(Exception):
    """mutagen could not write a file's tags (wraps its errors for the exporter)."""


@dataclass(frozen=True)
class Tags:
    """What a file says about itself."""

    title: str
    album: str
    artist: str = ARTIST
    #: (this track, of how many), for split tracks.
    track: tuple[int, int] | None = None


def write_tags(
    path: str | Path,
    extension: str,
    tags: Tags,
    chapters: Sequence[Chapter] = (),
    sample_rate: int = 1,
) -> None:
    """Write ``tags`` and ``chapters`` (sample positions at ``sample_rate``) into ``path``.

    ``extension`` names the format, as in :data:`voice_coach.audiofile.FORMATS`;
    the file must already hold its audio.
    """
    from mutagen import MutagenError

    try:
        if extension in (".mp3", ".wav"):
            _write_id3(Path(path), extension, tags, _fit(chapters, MAX_ID3_CHAPTERS), sample_rate)
        elif extension in MP4_EXTENSIONS:
            _write_mp4_tags(Path(path), tags)
        else:
            chapters = _fit(chapters, MAX_VORBIS_CHAPTERS)
            _write_vorbis_comments(Path(path), extension, tags, chapters, sample_rate)
    except (MutagenError, ValueError) as error:
        raise TagError(str(error)) from None


def _fit(chapters: Sequence[Chapter], most: int) -> list[Chapter]:
    """At most ``most`` chapters: past that, the last one runs to the end of the file."""
    if len(chapters) <= most:
        return list(chapters)
    kept = list(chapters[: most - 1])
    tail = chapters[most - 1]
    return [*kept, Chapter(tail.start_sample, chapters[-1].end_sample, tail.title)]


def _write_id3(
    path: Path, extension: str, tags: Tags, chapters: Sequence[Chapter], sample_rate: int
) -> None:
    from mutagen.id3 import CHAP, CTOC, TALB, TIT2, TPE1, TRCK, CTOCFlags

    frames: list[Any] = [
        TIT2(encoding=3, text=[tags.title]),
        TPE1(encoding=3, text=[tags.artist]),
        TALB(encoding=3, text=[tags.album]),
    ]
    if tags.track:
        frames.append(TRCK(encoding=3, text=[f"{tags.track[0]}/{tags.track[1]}"]))
    ids = [f"chp{index}" for index in range(len(chapters))]
    if chapters:
        frames.append(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=[tags.album])],
            )
        )
    for element_id, chapter in zip(ids, chapters, strict=True):
        frames.append(
            CHAP(
                element_id=element_id,
                start_time=milliseconds(chapter.start_sample, sample_rate),
                end_time=milliseconds(chapter.end_sample, sample_rate),
                sub_frames=[TIT2(encoding=3, text=[chapter.title])],
            )
        )
    tag = id3_tag(frames)
    if extension == ".mp3":
        _prepend(path, tag)
    else:
        _append_riff_chunk(path, b"id3 ", tag)


#: Quiet bytes after the frames, so a tag editor can add a little without moving audio.
ID3_PADDING = 1024


def id3_tag(frames: Sequence[Any]) -> bytes:
    """An ID3v2.3 tag holding mutagen's ``frames`` in the order given."""
    from mutagen.id3 import ID3

    body = bytearray()
    for frame in frames:
        single = ID3()
        single.add(frame)
        buffer = io.BytesIO()
        single.save(buffer, v2_version=3, padding=lambda info: 0)
        body += buffer.getvalue()[_ID3_HEADER_BYTES:]  # the frame alone
    body += bytes(ID3_PADDING)
    return b"ID3\x03\x00\x00" + _syncsafe(len(body)) + bytes(body)


_ID3_HEADER_BYTES = 10


def _syncsafe(size: int) -> bytes:
    """``size`` as ID3's header writes it: four bytes of seven bits each."""
    return bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))


def _prepend(path: Path, data: bytes) -> None:
    """Put ``data`` before the contents of ``path`` (a file of ours, without a tag)."""
    joined = path.with_name(path.name + ".tagged")
    try:
        with path.open("rb") as source, joined.open("wb") as out:
            out.write(data)
            shutil.copyfileobj(source, out, _COPY_BYTES)
        os.replace(joined, path)
    finally:
        joined.unlink(missing_ok=True)


_COPY_BYTES = 1 << 20


def _append_riff_chunk(path: Path, chunk_id: bytes, data: bytes) -> None:
    """Add a chunk at the end of the RIFF (WAV) file ``path`` and count it in its size."""
    with path.open("r+b") as riff:
        if riff.read(4) != b"RIFF":
            raise ValueError(f"{path.name}: not a RIFF file")
        riff.seek(0, os.SEEK_END)
        if riff.tell() % 2:
            riff.write(b"\0")  # chunks start on even bytes
        riff.write(chunk_id + struct.pack("<I", len(data)) + data)
        if len(data) % 2:
            riff.write(b"\0")
        size = riff.tell() - 8
        riff.seek(4)
        riff.write(struct.pack("<I", size))


#: The MP4 formats, whose chapters the muxer writes with the audio.
MP4_EXTENSIONS = (".m4a", ".m4b")


def _write_mp4_tags(path: Path, tags: Tags) -> None:
    from mutagen.mp4 import MP4

    audio: Any = MP4(str(path))
    if audio.tags is None:
        audio.add_tags()
    items = audio.tags
    items["\xa9nam"] = [tags.title]
    items["\xa9ART"] = [tags.artist]
    items["\xa9alb"] = [tags.album]
    if tags.track:
        items["trkn"] = [tags.track]
    audio.save()


def _write_vorbis_comments(
    path: Path, extension: str, tags: Tags, chapters: Sequence[Chapter], sample_rate: int
) -> None:
    audio: Any
    if extension == ".flac":
        from mutagen.flac import FLAC

        audio = FLAC(str(path))
    elif extension == ".opus":
        from mutagen.oggopus import OggOpus

        audio = OggOpus(str(path))
    else:
        from mutagen.oggvorbis import OggVorbis

        audio = OggVorbis(str(path))
    if audio.tags is None:
        audio.add_tags()
    comments = audio.tags
    comments["TITLE"] = tags.title
    comments["ARTIST"] = tags.artist
    comments["ALBUM"] = tags.album
    if tags.track:
        comments["TRACKNUMBER"] = str(tags.track[0])
        comments["TRACKTOTAL"] = str(tags.track[1])
    for number, chapter in enumerate(chapters, start=1):
        comments[f"CHAPTER{number:03d}"] = timestamp(chapter.start_sample, sample_rate)
        comments[f"CHAPTER{number:03d}NAME"] = chapter.title
    audio.save()
