"""Exporting several routines at once, each in its own process.

Each routine is loaded, spoken and encoded in a worker process, as many at a
time as the machine has cores: the encoders are the slow part and each runs on
one core. The clip cache is shared; its writes are atomic, so two workers
speaking the same phrase both get a whole clip.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from .errors import RoutineError, VoiceCoachError
from .export import ExportSettings, Levels, export_files
from .pipeline import Program, prepare
from .routine import load_routine
from .speech import DEFAULT_RATE, Speaker


@dataclass(frozen=True)
class SpeechOptions:
    """How a routine is spoken: the CLI's --engine, --voice, --rate, --deeper, --quiet, --pan."""

    engine: str | None = None
    voice: str | None = None
    rate: int | None = None
    deeper: bool = False
    quiet: bool = False
    pan: bool = False


def prepare_routine(reference: str, options: SpeechOptions | None = None) -> Program:
    """Load the routine ``reference`` (a built-in name or a file) and prepare it to render.

    The speech clips stream from the cache as the mixer needs them, so memory does
    not grow with the routine's length.
    """
    options = options or SpeechOptions()
    routine = load_routine(reference)
    speaker = Speaker(
        # No voice asked for: one that speaks the routine's language, if it names one.
        voice=options.voice or routine.language,
        rate=options.rate or DEFAULT_RATE,
        engine=options.engine,
    )
    return prepare(
        routine,
        speaker,
        deeper=options.deeper,
        quiet=options.quiet,
        pan=options.pan,
        stream_clips=True,
    )


@dataclass(frozen=True)
class BatchJob:
    """One routine to export, and where its files go."""

    routine: str
    audio: Path
    captions: Path | None = None


@dataclass(frozen=True)
class BatchResult:
    """What became of one job: its levels and length, or the one-line error it met."""

    job: BatchJob
    levels: Levels | None = None
    seconds: float = 0.0
    error: str | None = None
    exit_code: int = 0


def export_batch(
    jobs: Sequence[BatchJob],
    options: SpeechOptions,
    settings: ExportSettings,
    *,
    workers: int | None = None,
    on_done: Callable[[BatchResult], None] | None = None,
) -> list[BatchResult]:
    """Export every job, in parallel processes; return the results in the jobs' order.

    A job that fails does not stop the others: its result carries the error.
    ``on_done`` is called in this process as each job finishes.
    """
    workers = max(1, min(len(jobs), workers or os.cpu_count() or 1))
    results: dict[int, BatchResult] = {}
    # "spawn" behaves the same on every OS, and never copies a parent's threads.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {
            pool.submit(export_job, job, options, settings): index for index, job in enumerate(jobs)
        }
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_done:
                on_done(result)
    return [results[index] for index in range(len(jobs))]


def export_job(job: BatchJob, options: SpeechOptions, settings: ExportSettings) -> BatchResult:
    """Export one job here, turning a voice-coach error into a result (errors don't pickle)."""
    try:
        program = prepare_routine(job.routine, options)
        levels = export_files(program, job.audio, captions_path=job.captions, settings=settings)
    except VoiceCoachError as error:
        prefix = "" if isinstance(error, RoutineError) else "voice-coach: "
        return BatchResult(job, error=f"{prefix}{error}", exit_code=error.exit_code)
    return BatchResult(job, levels=levels, seconds=program.script.duration)
