"""Tags and chapters inside audio files, through mutagen: the one module that uses it.

* MP3 and WAV carry an ID3v2.3 tag (v2.3 is what most car stereos and older
  players read): title, artist, album, track number, and the chapters as CHAP
  frames listed in order by one top-level CTOC frame.
* FLAC, Ogg Vorbis and Opus carry Vorbis comments: TITLE, ARTIST, ALBUM,
  TRACKNUMBER, and the chapters as ``CHAPTERnnn`` (start time) and
  ``CHAPTERnnnNAME``, numbered from 001 as the Xiph chapter extension does.
"""

from __future__ import annotations

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

    audio: Any
    if extension == ".mp3":
        from mutagen.mp3 import MP3

        audio = MP3(str(path))
    else:
        from mutagen.wave import WAVE

        audio = WAVE(str(path))
    if audio.tags is None:
        audio.add_tags()
    frames = audio.tags
    frames.add(TIT2(encoding=3, text=[tags.title]))
    frames.add(TPE1(encoding=3, text=[tags.artist]))
    frames.add(TALB(encoding=3, text=[tags.album]))
    if tags.track:
        frames.add(TRCK(encoding=3, text=[f"{tags.track[0]}/{tags.track[1]}"]))
    ids = [f"chp{index}" for index in range(len(chapters))]
    for element_id, chapter in zip(ids, chapters, strict=True):
        frames.add(
            CHAP(
                element_id=element_id,
                start_time=milliseconds(chapter.start_sample, sample_rate),
                end_time=milliseconds(chapter.end_sample, sample_rate),
                sub_frames=[TIT2(encoding=3, text=[chapter.title])],
            )
        )
    if chapters:
        frames.add(
            CTOC(
                element_id="toc",
                flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
                child_element_ids=ids,
                sub_frames=[TIT2(encoding=3, text=[tags.album])],
            )
        )
    audio.save(v2_version=3)


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
