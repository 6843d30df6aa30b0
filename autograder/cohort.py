"""Grading a cohort on Dask distributed: one task per (student, assignment), on a local
cluster (``-j N`` worker processes) or on an existing one (``--scheduler ADDRESS``).

Each task is :func:`grading.execute_submission` run on a worker: the notebook executes in the
sandbox, as everywhere else, and nbgrader's verdicts are taken against a private copy of the
gradebook; the task returns the outcome and the autograded files as data. The coordinator
(the CLI process) receives them with ``as_completed`` and is the only writer of the course
folder: the autograded files, the grades (:func:`grading.record_submission`, nbgrader's
autograde with execution disabled) and the report. Workers need the course folder's
``source/``, ``release/``, ``submitted/`` and ``gradebook.db`` readable at the same path
(a shared file system on a cluster), and the dataset root (``NNCOURSE_DATA``). Dask's defaults that matter here:

- the nanny starts workers with ``OMP_NUM_THREADS=1`` (and MKL, OpenBLAS): this concerns the
  worker process only; the sandbox gives each kernel its own thread budget
  (``Sandbox.threads``, else cores // ``Sandbox.jobs``), never the worker's environment;
- a task whose worker dies is retried 3 times by default (``allowed-failures: 3``); here it is
  tried at most twice (:data:`ALLOWED_FAILURES`), then reported as an ``error`` outcome; the
  coordinator keeps only one task per worker thread in flight (and ``worker-saturation: 1.0``),
  so that a death is counted against the task that caused it, not an innocent one. On an existing cluster these are the scheduler's settings: start
  it with ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1
  DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0``.

A submission is identified by :func:`submission_key`: the sha256 of its notebooks,
declared files and nbgrader's timestamp/secret files plus the assignment's version (its source notebooks and the grader's checks).
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from .repair import NBGRADER_FILES

ALLOWED_FAILURES = 1  # retries after a worker death: a task is tried at most twice
# Each worker holds only the task it runs (Dask's default, 1.1, queues one more on it): a
# worker's death then counts against the submission that killed it, not an innocent one.
SCHEDULER_CONFIG = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                    "distributed.scheduler.worker-saturation": 1.0}
CHECKS = Path(__file__).resolve().parent / "checks"  # the grader's checks: part of an assignment's version
DIED_TWICE = "not graded: its grading worker died twice (the grader ran out of memory?)"


def _hash_files(digest, root: Path, paths) -> None:
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())


def assignment_version(workdir: Path, assignment: str) -> str:
    """sha256 of the assignment's source notebooks and of the grader's checks."""
    digest = hashlib.sha256()
    source = workdir / "source" / assignment
    _hash_files(digest, source, [p for p in source.glob("*.ipynb") if p.is_file()] if source.exists() else [])
    _hash_files(digest, CHECKS, [p for p in CHECKS.rglob("*.py") if "__pycache__" not in p.parts])
    return digest.hexdigest()


def submission_key(workdir: Path, student: str, assignment: str, declared, version: str) -> str:
    """sha256 of what is graded of a submission (its notebooks, declared files and nbgrader's
    timestamp.txt and submission_secret.txt: a later resubmission changes the late penalty;
    regular files only) and of the assignment version."""
    digest = hashlib.sha256(version.encode())
    folder = workdir / "submitted" / student / assignment
    graded = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()
              and (p.suffix == ".ipynb" or p.name in declared or p.name in NBGRADER_FILES)] if folder.is_dir() else []
    _hash_files(digest, folder, graded)
    return digest.hexdigest()


def _grade_task(workdir: Path, student: str, assignment: str, config):
    from . import grading
    return grading._execute_safely(workdir, student, assignment, config)


def local_cluster(jobs: int):
    """``jobs`` worker processes of one thread each; memory is capped by the sandbox, not
    by the nanny (whose limit counts the worker process only)."""
    from distributed import LocalCluster
    return LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True, memory_limit=0,
                        dashboard_address=":0", silence_logs=logging.ERROR)


def graded(workdir: Path, pairs, config, jobs: int = 1, scheduler: str | None = None, task=None):
    """Execute ``pairs`` on Dask; yield (Outcome, autograded files) as each completes, for the
    coordinator to record. ``task`` (tests only) replaces the execution of one submission."""
    import dask
    from distributed import Client, as_completed
    from distributed.scheduler import KilledWorker

    from .grading import Outcome

    with dask.config.set(SCHEDULER_CONFIG):
        cluster = None if scheduler else local_cluster(jobs)
        try:
            with Client(scheduler or cluster) as client:
                waiting, futures = list(pairs)[::-1], {}

                def top_up(running):
                    """Keep one task per worker thread in flight, no more: Dask sends a
                    task group too small to be queued straight to the workers, and a worker
                    that dies then counts its death against every task it holds."""
                    while waiting and len(futures) < max(1, sum(client.nthreads().values())):
                        s, a = waiting.pop()
                        future = client.submit(task or _grade_task, workdir, s, a, config,
                                               key=f"grade-{s}/{a}", pure=False)
                        futures[future] = (s, a)
                        running.add(future)

                running = as_completed()
                top_up(running)
                for future in running:
                    student, assignment = futures.pop(future)
                    try:
                        yield future.result()
                    except KilledWorker:
                        yield Outcome(student, assignment, status="error", reason=DIED_TWICE), {}
                    except Exception as exc:  # the task itself never raises: this is Dask's trouble
                        yield Outcome(student, assignment, status="error",
                                      reason=f"internal error while grading: {type(exc).__name__}: {exc}"), {}
                    finally:
                        future.release()
                        top_up(running)
        finally:
            if cluster is not None:
                cluster.close()
