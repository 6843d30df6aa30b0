"""Grading through real ``nbgrader autograde``: the reference, the blank release, a sample of
mutants (tests/pipeline_sample.py), and the submissions that cannot be graded normally."""

from __future__ import annotations

import copy
import csv
import re

import nbformat
import pytest
from nbgrader.api import Gradebook, InvalidEntry

from autograder import course, grading
from autograder.export import export
from autograder.feedback import generate_feedback
from autograder.mutants import catalogue
from autograder.samples import KILL, LOOP, prepend_to_first_answer
from autograder.submissions import apply_mutants, autograded_tests, reference_submission

from autograder.submissions import course_notebooks as notebooks
from autograder.submissions import write_submission as submit

from pipeline_sample import pipeline_mutants

pytestmark = pytest.mark.slow
ASSIGNMENTS = course.assignments()
MUTANTS = [(a, m) for a in ASSIGNMENTS for m in pipeline_mutants(a)]


def autograded_scores(workdir, student, assignment):
    """grade_id -> (score, max_score) for the autograded test cells of a submission."""
    out = {}
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gb:
        for nb in gb.find_submission(assignment, student).notebooks:
            for g in nb.grades:
                if g.cell.cell_type == "code":
                    out[g.name] = (g.score, g.max_score)
    return out


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_gets_full_marks(graded, assignment):
    workdir, outcomes = graded
    assert outcomes[("reference", assignment)].status == "ok", outcomes[("reference", assignment)].reason
    scores = autograded_scores(workdir, "reference", assignment)
    assert scores, "no autograded cell"
    lost = {k: v for k, v in scores.items() if v[0] != v[1]}
    assert not lost, f"reference loses points at {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_gets_zero_and_grades_cleanly(graded, assignment):
    workdir, outcomes = graded
    assert outcomes[("blank", assignment)].status == "ok", outcomes[("blank", assignment)].reason
    scores = autograded_scores(workdir, "blank", assignment)
    earned = {k: v for k, v in scores.items() if v[0] != 0}
    assert not earned, f"blank notebook earns points at {earned}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_catalogue_has_enough_mutants(assignment):
    mutants = catalogue(assignment)
    assert len(mutants) >= 8
    assert len({m.name for m in mutants}) == len(mutants)


@pytest.mark.parametrize("assignment,mutant", MUTANTS, ids=[f"{a}:{m.name}" for a, m in MUTANTS])
def test_mutant_loses_points_exactly_where_it_breaks(graded, assignment, mutant):
    workdir, outcomes = graded
    outcome = outcomes[(f"mutant-{mutant.name}", assignment)]
    assert outcome.status == "ok", outcome.reason
    scores = autograded_scores(workdir, f"mutant-{mutant.name}", assignment)
    assert mutant.breaks, "a mutant must break something"
    assert mutant.breaks <= set(scores), f"unknown test cells in breaks: {mutant.breaks - set(scores)}"
    failing = {k for k, (score, max_score) in scores.items() if score < max_score}
    assert mutant.lost_as_expected(failing), (
        f"{mutant.name}: lost points at {sorted(failing)}, expected {sorted(mutant.breaks)}")


def test_feedback_never_shows_hidden_tests(graded):
    workdir, outcomes = graded
    pairs = [("reference", a) for a in ASSIGNMENTS] + [("blank", a) for a in ASSIGNMENTS]
    assert generate_feedback(workdir, pairs) == []
    for student, a in pairs:
        for html in (workdir / "feedback" / student / a).glob("*.html"):
            text = html.read_text()
            assert "HIDDEN TESTS" not in text
            assert not re.search(r"\bautograder\b", text), f"instructor code named in {html}"
            assert "tests cachés" in text


def test_export_has_status_and_no_silent_zero(graded):
    workdir, _ = graded
    path, rows, _ = export(workdir)
    with open(path) as f:
        table = list(csv.DictReader(f))
    assert {"status", "reason", "score"} <= set(table[0])
    ref = [r for r in table if r["student_id"] == "reference"]
    assert ref and all(r["status"] == "ok" and float(r["score"]) == float(r["max_score"]) for r in ref)


# ---------------------------------------------------------------- bad submissions
@pytest.fixture(scope="module")
def troublesome(prepared):
    """Submissions that cannot be graded normally, graded in one batch with short limits."""
    workdir = prepared
    a = ASSIGNMENTS[0]
    name, source_nb, release_nb = next(notebooks(workdir, a))
    reference = reference_submission(source_nb, release_nb)

    probe = copy.deepcopy(reference)
    probe.cells.insert(0, nbformat.v4.new_code_cell(
        "import os\nprint('CWD=' + os.getcwd())\nprint('GRADING=' + os.environ.get('NNCOURSE_GRADING', ''))\n"
        f"print('SEES=' + str([p for p in {[str(workdir / 'gradebook.db'), str(workdir / 'source'), str(course.REPO / 'source'), str(course.REPO / 'autograder')]!r} if os.path.exists(p)]))",
        id="probe"))
    deleted = copy.deepcopy(reference)
    deleted.cells = [c for c in deleted.cells if c.get("id") not in list(autograded_tests(reference))[:2]]
    text = nbformat.writes(reference).encode()
    cases = {
        "bad-json": text[: len(text) // 3],
        "not-a-notebook": b'{"hello": "world"}',
        "loops": prepend_to_first_answer(reference, LOOP),
        "kernel-dies": prepend_to_first_answer(reference, KILL),
        "floods": prepend_to_first_answer(reference, "for i in range(200000):\n    print('spam', i)\n"),
        "deleted-cells": deleted,
        "probe": probe,
    }
    for student, nb in cases.items():
        submit(workdir, student, a, name, nb)
    (workdir / "submitted" / "no-notebook" / a).mkdir(parents=True)
    damaged = damaged_submissions(workdir, a, name, reference)
    config = course.load_config(Execute={"timeout": 10}, SandboxedExecute={"notebook_timeout": 120})
    students = list(cases) + ["no-notebook"] + damaged
    outcomes = grading.grade_all(workdir, [a], students, config, progress=False)
    return workdir, a, {o.student: o for o in outcomes}


def damaged_submissions(workdir, a, name, reference) -> list:
    """Correct work in a damaged but gradable form, written as a student's tools would."""
    folder = lambda student: (workdir / "submitted" / student / a)  # noqa: E731
    text = nbformat.writes(reference)
    renamed = folder("renamed")
    renamed.mkdir(parents=True)
    (renamed / f"Copie de {name}.ipynb").write_text(text)
    stripped = copy.deepcopy(reference)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    submit(workdir, "stripped-metadata", a, name, stripped)
    odd_byte = folder("non-utf8")
    odd_byte.mkdir(parents=True)
    (odd_byte / f"{name}.ipynb").write_bytes(text.replace("# ", "#\udcff ", 1).encode("utf-8", "surrogateescape"))
    duplicated = copy.deepcopy(reference)
    extra = copy.deepcopy(next(c for c in duplicated.cells if c.metadata.get("nbgrader", {}).get("solution")))
    extra.id = "duplicate-answer"
    duplicated.cells.append(extra)
    submit(workdir, "duplicated-grade-id", a, name, duplicated)
    linked = folder("symlinked")
    linked.mkdir(parents=True)
    (linked / f"{name}.ipynb").symlink_to(workdir / "gradebook.db")
    return ["renamed", "stripped-metadata", "non-utf8", "duplicated-grade-id", "symlinked"]


def test_damaged_but_gradable_work_keeps_its_points(troublesome):
    workdir, a, out = troublesome
    for student in ("renamed", "stripped-metadata", "non-utf8", "duplicated-grade-id"):
        assert out[student].status == "warning", (student, out[student].reason)
        scores = autograded_scores(workdir, student, a)
        assert scores and all(s == m for s, m in scores.values()), (student, scores)
    assert out["symlinked"].status == "error" and "link" in out["symlinked"].reason, out["symlinked"].reason


def test_bad_json_is_reported_not_zero(troublesome):
    _, _, out = troublesome
    for student in ("bad-json", "not-a-notebook", "no-notebook"):
        assert out[student].status == "error" and out[student].reason, student
    assert "JSON" in out["bad-json"].reason
    assert "missing" in out["no-notebook"].reason


def test_loop_is_stopped_and_reported(troublesome):
    _, _, out = troublesome
    assert out["loops"].status == "warning", out["loops"].reason
    assert re.search(r"stopped after 1\d(\.\d)? s \(cell time limit", out["loops"].reason), out["loops"].reason


def test_dead_kernel_costs_its_cell_only(troublesome):
    """A kernel that dies is restarted and the earlier cells replayed: the rest is graded."""
    workdir, a, out = troublesome
    assert out["kernel-dies"].status == "warning", out["kernel-dies"].reason
    assert "the kernel died" in out["kernel-dies"].reason
    scores = autograded_scores(workdir, "kernel-dies", a)
    earned = sum(s for s, _ in scores.values())
    assert 0 < earned < sum(m for _, m in scores.values()), scores


def test_output_flood_is_cut_and_graded(troublesome):
    workdir, a, out = troublesome
    assert out["floods"].status == "ok", out["floods"].reason
    for nb_path in (workdir / "autograded" / "floods" / a).glob("*.ipynb"):
        nb = nbformat.read(str(nb_path), as_version=4)
        lines = sum(len(o.get("text", "").splitlines()) for c in nb.cells for o in c.get("outputs", []))
        assert lines < 5000


def test_deleted_cells_are_readded_and_reported(troublesome):
    workdir, a, out = troublesome
    assert out["deleted-cells"].status == "warning"
    assert "re-added" in out["deleted-cells"].reason
    scores = autograded_scores(workdir, "deleted-cells", a)
    assert all(s == m for s, m in scores.values()), scores


def test_student_code_runs_outside_the_course_and_repo(troublesome):
    workdir, a, out = troublesome
    assert out["probe"].status == "ok", out["probe"].reason
    nb_path = next((workdir / "autograded" / "probe" / a).glob("*.ipynb"))
    nb = nbformat.read(str(nb_path), as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    cwd = text.split("CWD=")[1].splitlines()[0].strip()
    assert "GRADING=1" in text, "the kernel must know it runs under the autograder"
    assert not cwd.startswith(str(workdir)) and not cwd.startswith(str(course.REPO))
    assert "SEES=[]" in text, f"the course folder or the repository is visible to student code: {text}"


def test_error_rows_have_empty_scores(troublesome):
    workdir, a, out = troublesome
    _, rows, _ = export(workdir)
    bad = [r for r in rows if r["student_id"] == "bad-json" and r["assignment"] == a]
    assert bad and bad[0]["status"] == "error" and bad[0]["score"] == ""


def test_demo_runs_end_to_end(tmp_path):
    """The README's main job, on one assignment: the table and statuses come out."""
    import subprocess
    import sys
    a = ASSIGNMENTS[0]
    result = subprocess.run([sys.executable, "-m", "autograder", "demo", "-a", a, "-w", str(tmp_path)],
                            capture_output=True, text=True, cwd=course.REPO, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "autograded total" in out and "could not be graded" in out
    with open(tmp_path / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert rows["correct"]["status"] == "ok" and rows["correct"]["score"] == rows["correct"]["max_score"]
    assert rows["corrupt"]["status"] == "error" and rows["corrupt"]["score"] == ""
    assert rows["crash-or-loop"]["status"] in ("warning", "error", "to regrade")  # to regrade: a busy machine
    assert rows["partly-wrong"]["status"] == "warning"
    assert float(rows["partly-wrong"]["score"]) < float(rows["partly-wrong"]["max_score"])
    assert list((tmp_path / "feedback" / "correct" / a).glob("*.html"))


def test_notebook_wall_clock_cap(prepared):
    """Cells each under the per-cell limit cannot add up past the per-notebook cap."""
    workdir = prepared
    a = ASSIGNMENTS[0]
    name, source_nb, release_nb = next(notebooks(workdir, a))
    nb = reference_submission(source_nb, release_nb)
    for k in range(3):
        nb.cells.insert(0, nbformat.v4.new_code_cell("import time\ntime.sleep(8)", id=f"slow{k}"))
    submit(workdir, "slow-cells", a, name, nb)
    config = course.load_config(Execute={"timeout": 10}, SandboxedExecute={"notebook_timeout": 12})
    t0 = __import__("time").monotonic()
    [outcome] = grading.grade_all(workdir, [a], ["slow-cells"], config, progress=False)
    assert outcome.status == "to regrade", outcome.reason
    assert "notebook time limit" in outcome.reason
    assert __import__("time").monotonic() - t0 < 60


def test_sequential_and_parallel_grading_agree(graded):
    """The batch above was graded two at a time (shared gradebook); one at a time gives the same."""
    workdir, _ = graded
    a = ASSIGNMENTS[0]
    mutant = catalogue(a)[0]
    name, source_nb, release_nb = next(notebooks(workdir, a))
    reference = reference_submission(source_nb, release_nb)
    copies = {"again-reference": reference, "again-mutant": apply_mutants(reference, [mutant]),
              "again-blank": release_nb}
    for student, nb in copies.items():
        submit(workdir, student, a, name, nb)
    outcomes = grading.grade_all(workdir, [a], list(copies), progress=False, jobs=1)
    assert [o.student for o in outcomes] == sorted(copies)
    assert all(o.status == "ok" for o in outcomes), [o.reason for o in outcomes]
    for student, earlier in (("again-reference", "reference"), ("again-blank", "blank"),
                             ("again-mutant", f"mutant-{mutant.name}")):
        assert autograded_scores(workdir, student, a) == autograded_scores(workdir, earlier, a), student


# ---------------------------------------------------------------- the pipeline's own troubles
def test_students_are_in_the_gradebook_before_grading(prepared, monkeypatch):
    """Parallel workers must not both create a new student (UNIQUE constraint failed)."""
    workdir = prepared
    a = ASSIGNMENTS[0]
    name, _, release_nb = next(notebooks(workdir, a))
    submit(workdir, "newcomer", a, name, release_nb)
    found = []

    def fake_grade(workdir, student, assignment, *rest):
        with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
            found.append(gb.find_student(student).id)
        return grading.Outcome(student, assignment)

    monkeypatch.setattr(grading, "_grade_safely", fake_grade)
    grading.grade_all(workdir, [a], ["newcomer"], progress=False)
    assert found == ["newcomer"]


def test_nbgrader_failure_names_its_cause(prepared, monkeypatch):
    """Not nbgrader's "see the above traceback", but the exception that stopped it."""
    workdir = prepared
    a = ASSIGNMENTS[0]
    name, _, release_nb = next(notebooks(workdir, a))
    submit(workdir, "db-trouble", a, name, release_nb)

    def broken(self, *args, **kwargs):
        raise InvalidEntry("(sqlite3.IntegrityError) UNIQUE constraint failed: submission.id")

    monkeypatch.setattr(Gradebook, "update_or_create_submission", broken)
    [outcome] = grading.grade_all(workdir, [a], ["db-trouble"], progress=False)
    assert outcome.status == "error"
    assert "UNIQUE constraint failed: submission.id" in outcome.reason, outcome.reason


def test_killed_grading_process_takes_nobody_with_it(prepared):
    """Student code that kills its kernel's parent only ends its own sandbox: the batch
    goes on, the others are graded, and the killer gains nothing."""
    workdir = prepared
    a = ASSIGNMENTS[0]
    name, source_nb, release_nb = next(notebooks(workdir, a))
    reference = reference_submission(source_nb, release_nb)
    killer = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    submit(workdir, "kills-grader", a, name, prepend_to_first_answer(release_nb, killer))
    bystanders = ["bystander-1", "bystander-2", "bystander-3"]
    for student in bystanders:
        submit(workdir, student, a, name, reference)
    students = ["kills-grader"] + bystanders
    outcomes = {o.student: o for o in grading.grade_all(workdir, [a], students, progress=False, jobs=2)}
    assert set(outcomes) == set(students)
    assert outcomes["kills-grader"].status in ("warning", "error")
    assert "sandbox" in outcomes["kills-grader"].reason
    assert not any(s for s, _ in autograded_scores(workdir, "kills-grader", a).values())
    for student in bystanders:
        assert outcomes[student].status == "ok", outcomes[student].reason
        scores = autograded_scores(workdir, student, a)
        assert scores and all(s == m for s, m in scores.values()), scores
