"""Autograde every submission of a course folder, each in a scratch copy (``-j N``: N at once).

A course folder (``workdir``) is a standard nbgrader course root::

    workdir/source/  release/  gradebook.db      (made by ``prepare``)
    workdir/submitted/<student>/<assignment>/<notebook>.ipynb
    workdir/autograded/  feedback/  grading_report.json  grades.csv

Each submission is staged alone (only its notebooks and declared files), graded by
nbgrader, and executed in a sandbox (``sandbox.py``, via ``execute.SandboxedExecute``);
its autograded copy comes back to the course folder. Whatever happens to one submission
(invalid notebook, dead kernel, timeout, deleted cells) is recorded with its reason in
``grading_report.json``; the batch goes on.

Statuses: ``ok``; ``warning`` (graded, something to look at); ``to regrade`` (a given cell
ran out of time or the machine was too busy: the student is not to blame, the grade is
withheld); ``error`` (could not be graded).
"""

from __future__ import annotations

import json
import multiprocessing
import re
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from . import course
from .execute import REPORT_SUFFIX, STATUSES
from .repair import repair_submission, write_repaired
from .sandbox import Sandbox, clean_stale_scratch

# nbgrader's own database use and its re-added cells (which have no id) warn on every
# submission; neither is actionable for the instructor.
warnings.filterwarnings("ignore", message=".*not in session.*")
warnings.filterwarnings("ignore", message="Cell is missing an id field")

REPORT_FILE = "grading_report.json"
COURSE_CONFIG = """\
# Written by `python -m autograder prepare`. The course's settings live in the installed
# instructor package (autograder/course_config.py); override them below, e.g.
#   c.Execute.timeout = 300
from autograder.course_config import apply

c = get_config()  # noqa: F821
apply(c)
"""


@dataclass
class Outcome:
    """What happened to one (student, assignment) submission."""
    student: str
    assignment: str
    status: str = "ok"        # one of STATUSES
    reason: str = ""
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    sandbox: str = ""
    notes: list = field(default_factory=list)

    def flag(self, status: str, note: str) -> None:
        """Add a note; the status becomes the worse of the two."""
        self.notes.append(note)
        if STATUSES.index(status) > STATUSES.index(self.status):
            self.status = status

    def warn(self, note: str) -> None:
        self.flag("warning", note)

    def error(self, reason: str) -> None:
        self.flag("error", reason)

    def finish(self) -> "Outcome":
        self.reason = "; ".join(self.notes)
        return self


def prepare(workdir: Path, names: list[str] | None = None) -> None:
    """Copy the sources into ``workdir`` and (re)build release + gradebook with nbgrader.

    The course folder holds the solutions and the gradebook: it is made readable by its
    owner only. Its ``nbgrader_config.py`` names the course's settings, so that plain
    ``nbgrader`` commands and the formgrader grade exactly as this pipeline does."""
    workdir.mkdir(parents=True, exist_ok=True)
    workdir.chmod(0o700)
    config = workdir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(COURSE_CONFIG)
    course.copy_sources(workdir, names)
    course.generate(workdir, names)


def _timeouts_and_reports(autograded: Path) -> list[dict]:
    """The sandbox reports that SandboxedExecute wrote next to each autograded notebook."""
    reports = []
    for path in sorted(autograded.glob(f"*{REPORT_SUFFIX}")):
        try:
            reports.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            reports.append({"status": "error", "reasons": [f"unreadable sandbox report {path.name}"]})
    return reports


_EXCEPTION_LINE = re.compile(r"^(\[ERROR\] )?[A-Za-z_][\w.]*(Error|Exception|Entry|Exit|Unavailable)\b")


def _nbgrader_text(result: dict) -> str:
    return (result.get("error") or "") + "\n" + (result.get("log") or "")


def _last_error(result: dict) -> str:
    """One line saying why nbgrader could not grade a notebook: the last exception of its
    log (nbgrader's own summary, "see the above traceback", says nothing)."""
    lines = [ln.strip() for ln in _nbgrader_text(result).splitlines() if ln.strip()]
    causes = [ln for ln in lines if _EXCEPTION_LINE.match(ln) and "NbGraderException" not in ln]
    errors = [ln for ln in lines if ln.startswith("[ERROR]") and "above traceback" not in ln]
    return (causes or errors or lines or ["unknown error"])[-1][:300]


def _run_nbgrader(workdir: Path, student: str, assignment: str, config, repaired, declared: dict) -> dict:
    """One ``nbgrader autograde`` of one submission, from a staging folder that holds only what
    is graded (the repaired notebooks, the declared files); its autograded copy (if any)
    replaces the one in ``workdir``. Execution itself happens in the sandbox
    (SandboxedExecute, named in the course configuration)."""
    scratch = Path(tempfile.mkdtemp(prefix="nncourse-grade-"))
    try:
        write_repaired(repaired, scratch / "submitted" / student / assignment, declared)
        nb_api = course.api(scratch, db=workdir / "gradebook.db", config=config,
                            source_directory=str(workdir / "source"))
        result = nb_api.autograde(assignment, student, force=True, create=True)
        graded = scratch / "autograded" / student / assignment
        if graded.exists():
            dest = workdir / "autograded" / student / assignment
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(graded, dest)
        return result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def grade_submission(workdir: Path, student: str, assignment: str, config=None) -> Outcome:
    """Autograde one submission (executed in a sandbox); copy the result back to ``workdir``.

    The status comes from the sandbox's reports: a given cell that ran out of time makes it
    "to regrade" (the student is not to blame), a student cell that did costs that cell only.
    """
    outcome = Outcome(student, assignment)
    t0 = time.monotonic()
    try:
        sandbox = Sandbox(config=config)
        declared = {name: sandbox.submission_file_bytes for name in sandbox.submission_files.get(assignment, [])}
        repaired = repair_submission(workdir / "submitted" / student / assignment,
                                     workdir / "release" / assignment, declared)
        outcome.notes += repaired.notes
        for note in repaired.warnings:
            outcome.warn(note)
        if repaired.error:
            outcome.error(repaired.error)
            return outcome
        result = _run_nbgrader(workdir, student, assignment, config, repaired, declared)
        if not result["success"]:
            outcome.error(f"grading failed: {_last_error(result)}")
            return outcome
        for report in _timeouts_and_reports(workdir / "autograded" / student / assignment):
            outcome.peak_memory_mb = max(outcome.peak_memory_mb, report.get("peak_memory_mb") or 0.0)
            outcome.sandbox = report.get("mode", "")
            for reason in report.get("reasons", []):
                outcome.flag(report.get("status", "warning"), reason)
        return outcome
    finally:
        outcome.seconds = round(time.monotonic() - t0, 1)
        outcome.finish()


def submissions(workdir: Path, names: list[str] | None = None, students: list[str] | None = None):
    """(student, assignment) pairs found in ``workdir/submitted``."""
    pairs = []
    root = workdir / "submitted"
    for sdir in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        if students and sdir.name not in students:
            continue
        for adir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            if names and adir.name not in names:
                continue
            pairs.append((sdir.name, adir.name))
    return pairs


def load_report(workdir: Path) -> dict:
    path = workdir / REPORT_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def save_outcomes(workdir: Path, outcomes: list[Outcome]) -> None:
    report = load_report(workdir)
    for o in outcomes:
        report[f"{o.student}/{o.assignment}"] = asdict(o)
    (workdir / REPORT_FILE).write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False))


def _grade_safely(workdir: Path, student: str, assignment: str, config=None) -> Outcome:
    """grade_submission that never raises: a bug of ours must not cost the rest of the class."""
    try:
        return grade_submission(workdir, student, assignment, config)
    except Exception as exc:
        outcome = Outcome(student, assignment)
        outcome.error(f"internal error while grading: {type(exc).__name__}: {exc}")
        return outcome.finish()


def _graded_one_by_one(workdir, pairs, config):
    for student, assignment in pairs:
        yield _grade_safely(workdir, student, assignment, config)


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _graded_alone(workdir, student, assignment, config) -> Outcome:
    """One submission in a process of its own: if that process dies, nobody else's grading
    goes with it."""
    with _spawn_pool(1) as pool:
        try:
            return pool.submit(_grade_safely, workdir, student, assignment, config).result()
        except BrokenProcessPool:
            outcome = Outcome(student, assignment)
            outcome.error("not graded: its grading process died, twice (the grader ran out of memory?)")
            return outcome.finish()


def _graded_in_parallel(workdir, pairs, config, jobs):
    """Several submissions at once, each in its own process and kernel. nbgrader's SQLite
    gradebook takes one writer at a time; the others wait (busy timeout in course.db_url).

    Student code runs in a sandbox and cannot reach these processes; if one dies anyway
    (memory), the pool breaks and every submission not yet graded comes back unfinished;
    those are graded again, each in a process of its own, still ``jobs`` at a time."""
    unfinished = []
    with _spawn_pool(jobs) as pool:
        futures = {pool.submit(_grade_safely, workdir, s, a, config): (s, a) for s, a in pairs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                unfinished.append(futures[future])
    if unfinished:
        with ThreadPoolExecutor(jobs) as alone:
            retries = [alone.submit(_graded_alone, workdir, s, a, config) for s, a in unfinished]
            for future in as_completed(retries):
                yield future.result()


def register_students(workdir: Path, students) -> None:
    """Put the students in the gradebook, one at a time, before grading starts. nbgrader
    creates a missing student on its first autograde by looking it up, then adding it:
    two workers grading two assignments of one new student at once could both add it,
    and one would fail (UNIQUE constraint failed: student.id)."""
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        for student in sorted(set(students)):
            gb.update_or_create_student(student)


def grade_all(workdir: Path, names=None, students=None, config=None, progress=True, jobs: int = 1) -> list[Outcome]:
    """Autograde every submission (``jobs`` at a time); never stops on a bad one.

    Returns the outcomes in (student, assignment) order; the report is saved as they come.
    """
    config = course.with_jobs(config or course.load_config(), jobs)
    Sandbox(config=config).resolved_mode()  # no sandbox and no explicit unsafe mode: stop here
    clean_stale_scratch()
    pairs = submissions(workdir, names, students)
    register_students(workdir, [s for s, _ in pairs])
    graded = (_graded_in_parallel(workdir, pairs, config, jobs) if jobs > 1 and len(pairs) > 1
              else _graded_one_by_one(workdir, pairs, config))
    outcomes = {}
    with tqdm(total=len(pairs), desc="autograde", unit="notebook", disable=not progress) as bar:
        for outcome in graded:
            outcomes[(outcome.student, outcome.assignment)] = outcome
            save_outcomes(workdir, [outcome])
            bar.update()
            bar.set_postfix_str(f"{outcome.student}/{outcome.assignment}")
            if outcome.status != "ok":
                tqdm.write(f"  {outcome.status.upper():10s} {outcome.student}/{outcome.assignment}: {outcome.reason}")
    return [outcomes[p] for p in pairs]
