"""Autograde every submission of a course folder, each in a scratch copy (``-j N``: N at once).

A course folder (``workdir``) is a standard nbgrader course root::

    workdir/source/  release/  gradebook.db      (made by ``prepare``)
    workdir/submitted/<student>/<assignment>/<notebook>.ipynb
    workdir/autograded/  feedback/  grading_report.json  grades.csv

Each submission is graded in a fresh temporary folder outside the course folder (no
gradebook.db, no source/ above the student's code), then its autograded copy comes back.
Whatever happens to one submission (invalid notebook, dead kernel, timeout, deleted
cells) is recorded with its reason in ``grading_report.json``; the batch goes on.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from tqdm.auto import tqdm

from . import course
from nncourse.runtime import GRADING_ENV_VAR

from .execute import TIMEOUT_KEY
from .submissions import nbgrader_meta

# nbgrader's own database use and its re-added cells (which have no id) warn on every
# submission; neither is actionable for the instructor.
warnings.filterwarnings("ignore", message=".*not in session.*")
warnings.filterwarnings("ignore", message="Cell is missing an id field")

REPORT_FILE = "grading_report.json"
KERNEL_LIB = "kernel_lib"


@dataclass
class Outcome:
    """What happened to one (student, assignment) submission."""
    student: str
    assignment: str
    status: str = "ok"        # ok | warning | error
    reason: str = ""
    seconds: float = 0.0
    notes: list = field(default_factory=list)

    def warn(self, note: str) -> None:
        self.notes.append(note)
        if self.status == "ok":
            self.status = "warning"

    def error(self, reason: str) -> None:
        self.status = "error"
        self.notes.append(reason)

    def finish(self) -> "Outcome":
        self.reason = "; ".join(self.notes)
        return self


def prepare(workdir: Path, names: list[str] | None = None) -> None:
    """Copy the sources into ``workdir`` and (re)build release + gradebook with nbgrader."""
    workdir.mkdir(parents=True, exist_ok=True)
    course.copy_sources(workdir, names)
    course.generate(workdir, names)


def _grade_cells(nb) -> dict:
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("grade_id")}


def preflight(path: Path, release_nb, outcome: Outcome):
    """Read a submitted notebook; record what is wrong with it. None if it cannot be graded."""
    if not path.exists():
        outcome.error(f"notebook {path.name} missing from the submission")
        return None
    try:
        nb = nbformat.read(str(path), as_version=4)
        nbformat.validate(nb)
    except nbformat.reader.NotJSONError:
        outcome.error(f"{path.name} is not valid JSON (damaged or truncated file)")
        return None
    except Exception as exc:  # not a notebook, bad schema
        first_line = (str(exc).strip().splitlines() or [""])[0][:160]
        outcome.error(f"{path.name} is not a valid notebook ({type(exc).__name__}: {first_line})")
        return None
    missing = sorted(set(_grade_cells(release_nb)) - set(_grade_cells(nb)))
    if missing:
        outcome.warn(f"cells deleted by the student, re-added from the release: {', '.join(missing)}")
    return nb


def _kernel_lib(scratch: Path) -> Path:
    """Only the hidden-test checks, copied where the grading kernel can import them."""
    lib = scratch / KERNEL_LIB / "autograder"
    shutil.copytree(course.REPO / "autograder" / "checks", lib / "checks",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(course.REPO / "autograder" / "__init__.py", lib / "__init__.py")
    return lib.parent


@contextmanager
def kernel_environment(**variables):
    """Set environment variables for the kernels started inside the block, then restore."""
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _timeouts(autograded: Path) -> list:
    found = []
    for nb_path in autograded.glob("*.ipynb"):
        nb = nbformat.read(str(nb_path), as_version=4)
        found += nb.metadata.get(TIMEOUT_KEY, {}).get("timeouts", [])
    return found


_EXCEPTION_LINE = re.compile(r"^(\[ERROR\] )?[A-Za-z_][\w.]*(Error|Exception|Entry|Exit)\b")


def _nbgrader_text(result: dict) -> str:
    return (result.get("error") or "") + "\n" + (result.get("log") or "")


def _last_error(result: dict) -> str:
    """One line saying why nbgrader could not grade a notebook: the last exception of its
    log (nbgrader's own summary, "see the above traceback", says nothing)."""
    lines = [ln.strip() for ln in _nbgrader_text(result).splitlines() if ln.strip()]
    causes = [ln for ln in lines if _EXCEPTION_LINE.match(ln) and "NbGraderException" not in ln]
    errors = [ln for ln in lines if ln.startswith("[ERROR]") and "above traceback" not in ln]
    return (causes or errors or lines or ["unknown error"])[-1][:300]


def _kernel_died(result: dict) -> bool:
    text = _nbgrader_text(result)
    return "DeadKernelError" in text or "Kernel died" in text


def _run_nbgrader(workdir: Path, student: str, assignment: str, config) -> dict:
    """One ``nbgrader autograde`` of one submission in a fresh scratch folder; its
    autograded copy (if any) replaces the one in ``workdir``. Returns nbgrader's result."""
    submitted = workdir / "submitted" / student / assignment
    scratch = Path(tempfile.mkdtemp(prefix="nncourse-grade-"))
    try:
        shutil.copytree(submitted, scratch / "submitted" / student / assignment)
        files = scratch / "assignment_files" / assignment  # non-notebook files of the source
        shutil.copytree(workdir / "source" / assignment, files,
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints", "__pycache__"))
        with kernel_environment(PYTHONPATH=str(_kernel_lib(scratch)), **{GRADING_ENV_VAR: "1"}):
            nb_api = course.api(scratch, db=workdir / "gradebook.db", config=config,
                                source_directory="assignment_files")
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
    """Autograde one submission in a scratch folder; copy the result back to ``workdir``.

    A kernel that dies is given one more try: kernels started side by side can lose a
    race for their ports and die at start-up, which says nothing about the student's
    code. A notebook that kills its kernel twice is an error.
    """
    outcome = Outcome(student, assignment)
    t0 = time.monotonic()
    submitted = workdir / "submitted" / student / assignment
    try:
        ok = True
        for name in course.notebook_names(assignment, workdir):
            release_nb = nbformat.read(str(workdir / "release" / assignment / f"{name}.ipynb"), as_version=4)
            ok &= preflight(submitted / f"{name}.ipynb", release_nb, outcome) is not None
        if not ok:
            return outcome
        result = _run_nbgrader(workdir, student, assignment, config)
        if not result["success"] and _kernel_died(result):
            result = _run_nbgrader(workdir, student, assignment, config)
            if result["success"]:
                outcome.notes.append("the kernel died on the first try; graded again")
            elif _kernel_died(result):
                outcome.error("grading failed: the kernel died twice while running the notebook "
                              "(crash, os._exit or out of memory)")
                return outcome
        if not result["success"]:
            outcome.error(f"grading failed: {_last_error(result)}")
            return outcome
        for t in _timeouts(workdir / "autograded" / student / assignment):
            outcome.warn(f"cell {t['cell']} stopped after {t['seconds']} s ({t['limit']} time limit)")
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


def _grade_safely(workdir: Path, student: str, assignment: str, config=None, threads: int | None = None) -> Outcome:
    """grade_submission that never raises: a bug of ours must not cost the rest of the class."""
    try:
        if threads:  # parallel grading: share the cores between the kernels
            with kernel_environment(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
                                    MKL_NUM_THREADS=str(threads)):
                return grade_submission(workdir, student, assignment, config)
        return grade_submission(workdir, student, assignment, config)
    except Exception as exc:
        outcome = Outcome(student, assignment)
        outcome.error(f"internal error while grading: {type(exc).__name__}: {exc}")
        return outcome.finish()


def _graded_one_by_one(workdir, pairs, config, threads=None):
    for student, assignment in pairs:
        yield _grade_safely(workdir, student, assignment, config, threads)


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _graded_alone(workdir, student, assignment, config, threads) -> Outcome:
    """One submission in a process of its own: if it kills that process, nobody else's
    grading goes with it."""
    with _spawn_pool(1) as pool:
        try:
            return pool.submit(_grade_safely, workdir, student, assignment, config, threads).result()
        except BrokenProcessPool:
            outcome = Outcome(student, assignment)
            outcome.error("not graded: its grading process was killed, twice (code that kills "
                          "its parent process, or memory ran out); look at the notebook")
            return outcome.finish()


def _graded_in_parallel(workdir, pairs, config, jobs):
    """Several submissions at once, each in its own process and kernel. nbgrader's SQLite
    gradebook takes one writer at a time; the others wait (busy timeout in course.db_url).

    Student code can kill the process grading it (its kernel's parent). The pool then
    breaks and every submission not yet graded comes back unfinished; those are graded
    again, each in a process of its own, still ``jobs`` at a time."""
    threads = max(1, (os.cpu_count() or 1) // jobs)
    unfinished = []
    with _spawn_pool(jobs) as pool:
        futures = {pool.submit(_grade_safely, workdir, s, a, config, threads): (s, a) for s, a in pairs}
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                unfinished.append(futures[future])
    if unfinished:
        with ThreadPoolExecutor(jobs) as alone:
            retries = [alone.submit(_graded_alone, workdir, s, a, config, threads) for s, a in unfinished]
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
                tqdm.write(f"  {outcome.status.upper():7s} {outcome.student}/{outcome.assignment}: {outcome.reason}")
    return [outcomes[p] for p in pairs]
