"""Exporting several routines at once, each in its own process.

Each routine is loaded, spoken and encoded in a worker process, as many at a
time as the machine has cores: the encoders are the slow part and each runs on
one core. The clip cache is shared; its writes are atomic, so two workers
speaking the same phrase both get a whole clip.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import (
    CacheWarning,
    RoutineError,
    VoiceCoachError,
    VoiceWarning,
)
from .export import ExportSettings, Levels, export_files
from .pipeline import Program, prepare_with_voice
from .routine import Routine, load_routine


@dataclass(frozen=True)
class SpeechOptions:
    """How a routine is spoken: the CLI's --engine, --voice, --rate, --deeper, --quiet, --pan,
    and ``settings`` (from the user's config and the command line) that override the
    routine's own (see :func:`routine.parse_routine`)."""

    engine: str | None = None
    voice: str | None = None
    rate: int | None = None
    deeper: bool = False
    quiet: bool = False
    pan: bool = False
    settings: dict[str, Any] = field(default_factory=dict)


def prepare_routine(reference: str, options: SpeechOptions | None = None) -> Program:
    """Load the routine ``reference`` (a built-in name or a file) and prepare it to render.

    The speech clips stream from the cache as the mixer needs them, so memory does
    not grow with the routine's length.
    """
    options = options or SpeechOptions()
    overrides = dict(options.settings)
    if options.voice:
        overrides["voice"] = options.voice
    if options.rate:
        overrides["rate"] = options.rate
    routine = load_routine(reference, overrides)
    return prepare_loaded(routine, options)


def prepare_loaded(routine: Routine, options: SpeechOptions) -> Program:
    """Prepare an already loaded ``routine`` to render, with its voice and rate (see
    :func:`pipeline.prepare_with_voice`)."""
    program, _ = prepare_with_voice(
        routine,
        engine=options.engine,
        deeper=options.deeper,
        quiet=options.quiet,
        pan=options.pan,
        stream_clips=True,
    )
    return program


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
    #: Warnings the export raised (such as an unwritable cache), one line each.
    warnings: tuple[str, ...] = ()


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
    with ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_worker_setup
    ) as pool:
        submit = pool.submit
        futures = {
            submit(_worker_job, job, options, settings): index for index, job in enumerate(jobs)
        }
        try:
            for future in as_completed(futures):
                job = jobs[futures[future]]
                try:
                    result = future.result()
                except Exception as error:  # a worker died or hit a bug: still one line
                    message = f"voice-coach: {job.routine}: {type(error).__name__}: {error}"
                    result = BatchResult(job, error=message, exit_code=1)
                results[futures[future]] = result
                if on_done:
                    on_done(result)
        except KeyboardInterrupt:
            # The workers got the same Ctrl-C: their jobs stop and clean up, and the
            # jobs not yet started are cancelled.
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [results[index] for index in range(len(jobs))]


#: In a worker process: whether a job is running, and whether Ctrl-C has come.
_busy = False
_interrupted = False


def _worker_setup() -> None:
    """Run in each worker as it starts: Ctrl-C stops the job in hand, and no other."""
    signal.signal(signal.SIGINT, _on_interrupt)


def _on_interrupt(signum, frame) -> None:
    global _interrupted
    _interrupted = True
    # Only a running job is interrupted (its temp file is removed on the way out);
    # between jobs, the worker just takes no more. A worker must not die here: the
    # pool would then kill the others mid-cleanup.
    if _busy:
        raise KeyboardInterrupt


def _worker_job(job: BatchJob, options: SpeechOptions, settings: ExportSettings) -> BatchResult:
    global _busy
    stopped = BatchResult(job, error="voice-coach: stopped.", exit_code=130)
    if _interrupted:
        return stopped
    _busy = True
    try:
        return export_job(job, options, settings)
    except KeyboardInterrupt:
        return stopped
    finally:
        _busy = False


def export_job(job: BatchJob, options: SpeechOptions, settings: ExportSettings) -> BatchResult:
    """Export one job here, turning a voice-coach error into a result (errors don't pickle)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheWarning)
        warnings.simplefilter("always", VoiceWarning)
        try:
            program = prepare_routine(job.routine, options)
            levels = export_files(program, job.audio, captions_path=job.captions, settings=settings)
        except VoiceCoachError as error:
            prefix = "" if isinstance(error, RoutineError) else "voice-coach: "
            return BatchResult(job, error=f"{prefix}{error}", exit_code=error.exit_code)
    # Warnings go back with the result, for the caller to show: a worker process has
    # no clean way to print them between the others' lines.
    notes = tuple(str(warning.message) for warning in caught)
    return BatchResult(job, levels=levels, seconds=program.script.duration, warnings=notes)
