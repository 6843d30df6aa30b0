"""Autograde every submission of a course folder, each in a scratch copy (``-j N``: N at once,
on Dask: see ``cohort.py``).

A course folder (``workdir``) is a standard nbgrader course root::

    workdir/source/  release/  gradebook.db      (made by ``prepare``)
    workdir/submitted/<student>/<assignment>/<notebook>.ipynb
    workdir/autograded/  feedback/  grading_report.json  grades.csv

Each submission is staged alone (only its notebooks and declared files), graded by
nbgrader against a private copy of the gradebook, and executed in a sandbox (``sandbox.py``,
via ``execute.SandboxedExecute``); its autograded copy comes back to the grading process,
which alone writes the course folder: the files, then the grades (nbgrader's autograde with
execution disabled). A rerun grades only what is new, changed or unfinished (the
submission key in the report). Whatever happens to one submission
(invalid notebook, dead kernel, timeout, deleted cells) is recorded with its reason in
``grading_report.json``; the batch goes on.

Statuses: ``ok``; ``warning`` (graded, something to look at); ``to regrade`` (a given cell
ran out of time or the machine was too busy: the student is not to blame, the grade is
withheld); ``error`` (could not be graded).
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.api import Gradebook
from traitlets.config import Config
from tqdm.auto import tqdm

from . import cohort, course
from .execute import REPORT_SUFFIX, STATUSES
from .repair import repair_submission, write_repaired
from .sandbox import Sandbox, clean_stale_scratch

# nbgrader's own database use and its re-added cells (which have no id) warn on every
# submission; neither is actionable for the instructor.
warnings.filterwarnings("ignore", message=".*not in session.*")
warnings.filterwarnings("ignore", message="Cell is missing an id field")

REPORT_FILE = "grading_report.json"
BATCH = "batch"  # the report's entry about the last batch (the others are "student/assignment")
GRADE_SCRATCH_PREFIX = "nncourse-grade-"
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
    key: str = ""             # cohort.submission_key: what was graded (set once graded)

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


# nbgrader's own --no-execute: the coordinator records grades from notebooks executed elsewhere.
NO_EXECUTE = {"Execute": {"enabled": False}, "SandboxedExecute": {"enabled": False},
              "ClearOutput": {"enabled": False}}
TIMESTAMP = "timestamp.txt"


def _snapshot_gradebook(workdir: Path, dest: Path) -> None:
    """A consistent private copy of the gradebook (SQLite's backup API), read by nbgrader on a
    worker: workers never write the course's gradebook."""
    src = sqlite3.connect(f"file:{workdir / 'gradebook.db'}?mode=ro", uri=True, timeout=course.DB_BUSY_TIMEOUT)
    copy = sqlite3.connect(dest)
    try:
        src.backup(copy)
    finally:
        copy.close()
        src.close()


def _run_nbgrader(workdir: Path, student: str, assignment: str, config, repaired, declared: dict):
    """One ``nbgrader autograde`` of one submission, from a staging folder that holds only what
    is graded (the repaired notebooks, the declared files), against a private copy of the
    gradebook. Execution itself happens in the sandbox (SandboxedExecute, named in the course
    configuration). Returns nbgrader's result and the autograded files (name -> bytes)."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{GRADE_SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        staged = scratch / "submitted" / student / assignment
        write_repaired(repaired, staged, declared)
        _snapshot_gradebook(workdir, scratch / "gradebook.db")
        nb_api = course.api(scratch, db=scratch / "gradebook.db", config=config,
                            source_directory=str(workdir / "source"))
        result = nb_api.autograde(assignment, student, force=True, create=True)
        graded = scratch / "autograded" / student / assignment
        files = {p.name: p.read_bytes() for p in sorted(graded.iterdir()) if p.is_file()} if graded.exists() else {}
        if files and (staged / TIMESTAMP).is_file():
            files.setdefault(TIMESTAMP, (staged / TIMESTAMP).read_bytes())
        return result, files
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def execute_submission(workdir: Path, student: str, assignment: str, config=None):
    """The part of grading that runs on a worker: repair, sandboxed execution and nbgrader's
    verdicts against a copy of the gradebook. Returns the Outcome and the autograded files;
    it writes nothing in ``workdir``.

    The status comes from the sandbox's reports: a given cell that ran out of time makes it
    "to regrade" (the student is not to blame), a student cell that did costs that cell only.
    """
    outcome, files = Outcome(student, assignment), {}
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
            return outcome, {}
        result, files = _run_nbgrader(workdir, student, assignment, config, repaired, declared)
        if not result["success"]:
            outcome.error(f"grading failed: {_last_error(result)}")
            return outcome, {}
        for report in _reports(files):
            outcome.peak_memory_mb = max(outcome.peak_memory_mb, report.get("peak_memory_mb") or 0.0)
            outcome.sandbox = report.get("mode", "")
            for reason in report.get("reasons", []):
                outcome.flag(report.get("status", "warning"), reason)
        return outcome, files
    finally:
        outcome.seconds = round(time.monotonic() - t0, 1)
        outcome.finish()


def _reports(files: dict) -> list[dict]:
    """The sandbox reports that SandboxedExecute wrote next to each autograded notebook."""
    reports = []
    for name in sorted(n for n in files if n.endswith(REPORT_SUFFIX)):
        try:
            reports.append(json.loads(files[name]))
        except ValueError:
            reports.append({"status": "error", "reasons": [f"unreadable sandbox report {name}"]})
    return reports


def record_submission(workdir: Path, outcome: Outcome, files: dict, config=None) -> Outcome:
    """The coordinator's part, the only one that writes the course folder: the autograded
    files into ``workdir/autograded``, the grades into the gradebook (nbgrader's autograde
    of the executed notebooks, execution disabled)."""
    if outcome.status == "error":
        return outcome
    notebooks = {n: b for n, b in files.items() if n.endswith(".ipynb")}
    if not notebooks:
        outcome.error("no autograded notebook came back")
        return outcome.finish()
    dest = workdir / "autograded" / outcome.student / outcome.assignment
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for name, data in files.items():
        (dest / Path(name).name).write_bytes(data)
    scratch = Path(tempfile.mkdtemp(prefix=f"{GRADE_SCRATCH_PREFIX}{os.getpid()}-"))
    try:
        staged = scratch / "submitted" / outcome.student / outcome.assignment
        staged.mkdir(parents=True)
        for name, data in files.items():
            if name in notebooks or name == TIMESTAMP:
                (staged / Path(name).name).write_bytes(data)
        cfg = copy.deepcopy(config or course.load_config())  # Config() copies shallowly: never change the caller's
        cfg.merge(Config(NO_EXECUTE))
        nb_api = course.api(scratch, db=workdir / "gradebook.db", config=cfg, source_directory=str(workdir / "source"))
        result = nb_api.autograde(outcome.assignment, outcome.student, force=True, create=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if not result["success"]:
        outcome.error(f"grades not recorded: {_last_error(result)}")
    return outcome.finish()


def grade_submission(workdir: Path, student: str, assignment: str, config=None) -> Outcome:
    """Autograde one submission here: execute it in a sandbox, then record it in ``workdir``."""
    outcome, files = execute_submission(workdir, student, assignment, config)
    t0 = time.monotonic()
    record_submission(workdir, outcome, files, config)
    outcome.seconds = round(outcome.seconds + time.monotonic() - t0, 1)
    return outcome


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


def _read_report(workdir: Path) -> dict:
    path = workdir / REPORT_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def load_report(workdir: Path) -> dict:
    """The report's submission entries, by "student/assignment"."""
    return {k: v for k, v in _read_report(workdir).items() if k != BATCH}


def load_batch(workdir: Path) -> dict:
    """The report's entry about the last batch (timings, workers, counts)."""
    return _read_report(workdir).get(BATCH, {})


def _write_report(workdir: Path, report: dict) -> None:
    """Replace the report at once: a killed grader leaves the old one or the new one."""
    path = workdir / REPORT_FILE
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False))
    os.replace(tmp, path)


def save_outcomes(workdir: Path, outcomes: list[Outcome], batch: dict | None = None) -> None:
    report = _read_report(workdir)
    for o in outcomes:
        report[f"{o.student}/{o.assignment}"] = asdict(o)
    if batch is not None:
        report[BATCH] = batch
    _write_report(workdir, report)


def _outcome_from(entry: dict) -> Outcome:
    names = {f.name for f in fields(Outcome)}
    return Outcome(**{k: v for k, v in entry.items() if k in names})


def clean_stale_grade_scratch() -> list[Path]:
    """Remove the staging folders of graders that were killed (their pid is dead)."""
    removed = []
    for d in Path(tempfile.gettempdir()).glob(f"{GRADE_SCRATCH_PREFIX}*"):
        pid = d.name[len(GRADE_SCRATCH_PREFIX):].split("-", 1)[0]
        if d.is_dir() and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


def _grade_safely(workdir: Path, student: str, assignment: str, config=None) -> Outcome:
    """grade_submission that never raises: a bug of ours must not cost the rest of the class."""
    try:
        return grade_submission(workdir, student, assignment, config)
    except Exception as exc:
        outcome = Outcome(student, assignment)
        outcome.error(f"internal error while grading: {type(exc).__name__}: {exc}")
        return outcome.finish()


def _execute_safely(workdir: Path, student: str, assignment: str, config=None):
    """execute_submission that never raises (the task run on a Dask worker)."""
    try:
        return execute_submission(workdir, student, assignment, config)
    except Exception as exc:
        outcome = Outcome(student, assignment)
        outcome.error(f"internal error while grading: {type(exc).__name__}: {exc}")
        return outcome.finish(), {}


def _record_safely(workdir: Path, outcome: Outcome, files: dict, config=None) -> Outcome:
    try:
        t0 = time.monotonic()
        record_submission(workdir, outcome, files, config)
        outcome.seconds = round(outcome.seconds + time.monotonic() - t0, 1)
    except Exception as exc:
        outcome.error(f"internal error while recording the grades: {type(exc).__name__}: {exc}")
        outcome.finish()
    return outcome


def _graded_one_by_one(workdir, pairs, config):
    for student, assignment in pairs:
        yield _grade_safely(workdir, student, assignment, config)


def register_students(workdir: Path, students) -> None:
    """Put the students in the gradebook, one at a time, before grading starts. nbgrader
    creates a missing student on its first autograde by looking it up, then adding it:
    two workers grading two assignments of one new student at once could both add it,
    and one would fail (UNIQUE constraint failed: student.id)."""
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        for student in sorted(set(students)):
            gb.update_or_create_student(student)


# Failures of the grader, not of the submission: never recorded as graded, so a rerun tries again.
GRADER_FAILURES = ("internal error while", "grades not recorded", cohort.DIED_TWICE)


def _unfinished(entry: dict) -> bool:
    """A report entry that a rerun grades again: to regrade, or the grader failed on it."""
    return entry.get("status") == "to regrade" or (
        entry.get("status") == "error" and any(f in entry.get("reason", "") for f in GRADER_FAILURES))


def _to_grade(workdir: Path, pairs, config, regrade: bool):
    """Split ``pairs`` into those to grade (new, changed, unfinished, to regrade, or where
    the grader itself failed: internal error, grades not recorded, worker died twice) and the
    outcomes already in the report for the same content; give every pair its key."""
    sandbox = Sandbox(config=config)
    report = load_report(workdir)
    versions, keys, todo, skipped = {}, {}, [], []
    for student, assignment in pairs:
        if assignment not in versions:
            versions[assignment] = cohort.assignment_version(workdir, assignment)
        declared = sandbox.submission_files.get(assignment, [])
        key = keys[(student, assignment)] = cohort.submission_key(workdir, student, assignment, declared,
                                                                  versions[assignment])
        entry = report.get(f"{student}/{assignment}")
        if not regrade and entry and entry.get("key") == key and not _unfinished(entry):
            skipped.append(_outcome_from(entry))
        else:
            todo.append((student, assignment))
    return todo, skipped, keys


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _counts(outcomes) -> dict:
    return {s: sum(o.status == s for o in outcomes) for s in STATUSES}


def slowest(outcomes, n: int = 5) -> list[dict]:
    return [{"submission": f"{o.student}/{o.assignment}", "seconds": o.seconds, "peak_memory_mb": o.peak_memory_mb}
            for o in sorted(outcomes, key=lambda o: -o.seconds)[:n]]


def grade_all(workdir: Path, names=None, students=None, config=None, progress=True, jobs: int = 1,
              scheduler: str | None = None, regrade: bool = False) -> list[Outcome]:
    """Autograde every submission that is new, changed or unfinished (all with ``regrade``);
    never stops on a bad one. ``jobs`` > 1: on a local Dask cluster of ``jobs`` workers;
    ``scheduler``: on the Dask cluster at that address; else one after another, here.

    Returns the outcomes in (student, assignment) order, those skipped included; the report
    is saved as they come, each outcome with its submission key, and a ``batch`` entry.
    """
    config = course.with_jobs(config or course.load_config(), jobs)
    Sandbox(config=config).resolved_mode()  # no sandbox and no explicit unsafe mode: stop here
    clean_stale_scratch()
    clean_stale_grade_scratch()
    pairs = submissions(workdir, names, students)
    todo, skipped, keys = _to_grade(workdir, pairs, config, regrade)
    outcomes = {(o.student, o.assignment): o for o in skipped}
    if skipped and progress:
        print(f"skipped {len(skipped)} unchanged (already graded; --regrade grades them again)")
    register_students(workdir, [s for s, _ in todo])
    if scheduler or (jobs > 1 and len(todo) > 1):
        graded = (_record_safely(workdir, outcome, files, config)  # this process alone writes
                  for outcome, files in cohort.graded(workdir, todo, config, jobs, scheduler))
    else:
        graded = _graded_one_by_one(workdir, todo, config)
    batch = {"started": _now(), "finished": None, "workers": jobs, "scheduler": scheduler or "",
             "to_grade": len(todo), "skipped": len(skipped)}
    done, t0 = [], time.monotonic()
    with tqdm(total=len(todo), desc="autograde", unit="sub", disable=not progress) as bar:
        for outcome in graded:
            outcome.key = keys[(outcome.student, outcome.assignment)]
            outcomes[(outcome.student, outcome.assignment)] = outcome
            done.append(outcome)
            minutes = (time.monotonic() - t0) / 60
            batch.update(graded=len(done), counts=_counts(done),
                         throughput_per_min=round(len(done) / minutes, 2) if minutes else None)
            save_outcomes(workdir, [outcome], batch)
            bar.update()
            c = batch["counts"]
            bar.set_postfix_str(f"{batch['throughput_per_min'] or 0:.1f}/min " +
                                " ".join(f"{s.replace(' ', '-')} {c[s]}" for s in STATUSES))
            if outcome.status != "ok":
                tqdm.write(f"  {outcome.status.upper():10s} {outcome.student}/{outcome.assignment}: {outcome.reason}")
    batch.update(finished=_now(), seconds=round(time.monotonic() - t0, 1), slowest=slowest(done),
                 graded=len(done), counts=_counts(done))
    save_outcomes(workdir, [], batch)
    if progress and done:
        print("slowest: " + ", ".join(f"{s['submission']} {s['seconds']:.0f} s ({s['peak_memory_mb']:.0f} MB)"
                                      for s in batch["slowest"]))
    return [outcomes[p] for p in pairs]
