"""The sandbox as the grader uses it: both modes, every entry point, limits and load."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time

import pytest

from autograder import course, grading
from autograder.export import export
from autograder.sandbox import bwrap_works, seccomp_works
from autograder.submissions import apply_mutants, reference_submission
from autograder.submissions import course_notebooks as notebooks
from autograder.submissions import write_submission as submit
from autograder.mutants import catalogue

from test_grading import autograded_scores

pytestmark = pytest.mark.slow
A = "01_moons_numpy"


def full_marks(workdir, student, assignment=A) -> bool:
    scores = autograded_scores(workdir, student, assignment)
    return bool(scores) and all(s == m for s, m in scores.values())


def test_course_folder_is_private(prepared):
    mode = stat.S_IMODE(os.stat(prepared).st_mode)
    assert mode & 0o077 == 0, oct(mode)
    assert (prepared / "nbgrader_config.py").read_text().count("apply(c)") == 1


@pytest.mark.parametrize("mode", ["bwrap", "seccomp"])
def test_each_sandbox_mode_grades_reference_and_blank(prepared, mode):
    works = {"bwrap": bwrap_works, "seccomp": seccomp_works}[mode]()
    if not works:
        pytest.fail(f"sandbox mode {mode} does not work on this machine")
    name, source_nb, release_nb = next(notebooks(prepared, A))
    submit(prepared, f"{mode}-reference", A, name, reference_submission(source_nb, release_nb))
    submit(prepared, f"{mode}-blank", A, name, release_nb)
    config = course.load_config(Sandbox={"mode": mode})
    out = {o.student: o for o in grading.grade_all(prepared, [A], [f"{mode}-reference", f"{mode}-blank"],
                                                   config, progress=False)}
    assert all(o.status == "ok" and o.sandbox == mode for o in out.values()), [o.reason for o in out.values()]
    assert full_marks(prepared, f"{mode}-reference")
    assert not any(s for s, _ in autograded_scores(prepared, f"{mode}-blank", A).values())


def test_plain_nbgrader_autograde_grades_like_the_cli(prepared):
    """What the formgrader's Autograde button runs: `nbgrader autograde A` in the course folder."""
    name, source_nb, release_nb = next(notebooks(prepared, A))
    reference = reference_submission(source_nb, release_nb)
    mutant = catalogue(A)[0]
    subs = {"plain-reference": reference, "plain-mutant": apply_mutants(reference, [mutant])}
    for student, nb in subs.items():
        submit(prepared, student, A, name, nb)
    outcomes = grading.grade_all(prepared, [A], list(subs), progress=False)
    assert all(o.status == "ok" for o in outcomes), [o.reason for o in outcomes]
    cli = {s: autograded_scores(prepared, s, A) for s in subs}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for student in subs:
        result = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", A, "--student", student, "--force"],
                                cwd=prepared, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
        assert autograded_scores(prepared, student, A) == cli[student], student
        assert list((prepared / "autograded" / student / A).glob("*.grading.json")), "not run in the sandbox"


def test_given_cell_out_of_time_is_to_regrade_with_no_grade(prepared):
    """A locked cell cut off by the time limit costs the student nothing: to regrade, empty score."""
    a = "04_mnist_logreg"  # its given cells (data loading, training) take more than a second
    name, source_nb, release_nb = next(notebooks(prepared, a))
    submit(prepared, "short-limit", a, name, reference_submission(source_nb, release_nb))
    config = course.load_config(Execute={"timeout": 1})
    [outcome] = grading.grade_all(prepared, [a], ["short-limit"], config, progress=False)
    assert outcome.status == "to regrade", outcome.reason
    assert "not to blame" in outcome.reason
    _, rows, _ = export(prepared)
    [row] = [r for r in rows if r["student_id"] == "short-limit" and r["assignment"] == a]
    assert row["status"] == "to regrade" and row["score"] == ""


def test_correct_work_under_8x_oversubscription_keeps_every_point(prepared):
    """16 busy processes on the machine's cores: full marks, or to regrade, never fewer points."""
    a = "04_mnist_logreg"
    name, source_nb, release_nb = next(notebooks(prepared, a))
    submit(prepared, "under-load", a, name, reference_submission(source_nb, release_nb))
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(8 * (os.cpu_count() or 2))]
    try:
        t0 = time.monotonic()
        [outcome] = grading.grade_all(prepared, [a], ["under-load"], progress=False)
        print(f"graded under load in {time.monotonic() - t0:.0f} s: {outcome.status} {outcome.reason}")
    finally:
        for p in burners:
            p.kill()
    assert outcome.status in ("ok", "to regrade"), outcome.reason
    if outcome.status == "ok":
        assert full_marks(prepared, "under-load", a)
