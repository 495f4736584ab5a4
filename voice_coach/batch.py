"""Exporting several routines at once, each in its own process.

Each routine is loaded, spoken and encoded in a worker process, as many at a
time as the machine has cores: the encoders are the slow part and each runs on
one core. The clip cache is shared; its writes are atomic, so two workers
speaking the same phrase both get a whole clip.
"""

from __future__ import annotations

import _thread
import contextlib
import multiprocessing
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from .errors import (
    CacheWarning,
    RoutineError,
    VoiceCoachError,
    VoiceWarning,
)
from .exporter import ExportSettings, Levels, export_files
from .lifetime import signal_on_parent_death
from .pipeline import prepare
from .routine import load_routine
from .settings import Settings


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
    settings: Settings,
    export: ExportSettings,
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
        max_workers=workers,
        mp_context=context,
        initializer=_worker_setup,
        initargs=(os.getpid(),),
    ) as pool:
        submit = pool.submit
        futures = {
            submit(_worker_job, job, settings, export): index for index, job in enumerate(jobs)
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
            # Ctrl-C reached the workers too (one process group), but SIGTERM came to
            # this process alone: pass it on. Their jobs stop and clean up, and the jobs
            # not yet started are cancelled.
            for worker in multiprocessing.active_children():
                if worker.pid is not None:
                    with contextlib.suppress(OSError):
                        os.kill(worker.pid, signal.SIGTERM)
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [results[index] for index in range(len(jobs))]


#: In a worker process: whether a job is running, whether Ctrl-C (or SIGTERM) has
#: come, and whether the parent has gone.
_busy = False
_interrupted = False
_orphaned = False


def _worker_setup(parent_pid: int) -> None:
    """Run in each worker as it starts: Ctrl-C and SIGTERM stop the job in hand and no
    other, and the worker dies with its parent, never waiting for work forever."""
    signal.signal(signal.SIGINT, _on_interrupt)
    signal.signal(signal.SIGTERM, _on_interrupt)
    _die_with_parent(parent_pid)


def _on_interrupt(signum, frame) -> None:
    global _interrupted
    if _interrupted:
        return  # once is enough: a second signal must not cut the clean-up short
    _interrupted = True
    # Only a running job is interrupted (its temp file is removed on the way out);
    # between jobs, the worker just takes no more. A worker must not die here: the
    # pool would then kill the others mid-cleanup.
    if _busy:
        raise KeyboardInterrupt


def _die_with_parent(parent_pid: int) -> None:
    """Arrange for this worker to stop when the parent dies (killed, or crashed).

    Its queue would otherwise never close (each worker holds both ends), and it would
    wait for work forever. Linux tells the worker at once (SIGHUP, through prctl);
    elsewhere a thread looks for the parent every second.
    """
    if signal_on_parent_death(signal.SIGHUP):
        signal.signal(signal.SIGHUP, _on_orphaned)
        if os.getppid() != parent_pid:  # it died before the kernel was asked
            _on_orphaned(signal.SIGHUP, None)
        return

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        _on_orphaned(None, None)

    threading.Thread(target=watch, daemon=True).start()


def _on_orphaned(signum, frame) -> None:
    """The parent is gone: leave now if idle, else once the job in hand has cleaned up."""
    global _orphaned
    _orphaned = True
    if not _busy:
        os._exit(EXIT_ORPHANED)
    if signum is None:  # the watching thread: interrupt the main thread's job
        _thread.interrupt_main()
    else:
        _on_interrupt(signum, frame)


#: A worker's exit code when its parent died (as for SIGTERM: 128 + 15).
EXIT_ORPHANED = 143


def _worker_job(job: BatchJob, settings: Settings, export: ExportSettings) -> BatchResult:
    global _busy
    stopped = BatchResult(job, error="voice-coach: stopped.", exit_code=130)
    if _interrupted:
        return stopped
    _busy = True
    try:
        return export_job(job, settings, export)
    except KeyboardInterrupt:
        return stopped
    finally:
        _busy = False
        if _orphaned:
            os._exit(EXIT_ORPHANED)


def export_job(job: BatchJob, settings: Settings, export: ExportSettings) -> BatchResult:
    """Export one job here, turning a voice-coach error into a result (errors don't pickle)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CacheWarning)
        warnings.simplefilter("always", VoiceWarning)
        try:
            program = prepare(load_routine(job.routine), settings, stream_clips=True)
            levels = export_files(program, job.audio, captions_path=job.captions, settings=export)
        except VoiceCoachError as error:
            prefix = "" if isinstance(error, RoutineError) else "voice-coach: "
            return BatchResult(job, error=f"{prefix}{error}", exit_code=error.exit_code)
    # Warnings go back with the result, for the caller to show: a worker process has
    # no clean way to print them between the others' lines.
    notes = tuple(str(warning.message) for warning in caught)
    return BatchResult(job, levels=levels, seconds=program.script.duration, warnings=notes)
