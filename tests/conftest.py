"""Shared fixtures. The expensive one, ``graded``, grades (through real nbgrader) the
reference, the blank release and a sample of mutants of every assignment, once per session
(tests/pipeline_sample.py says which; tests/test_probe.py judges every mutant in-process)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autograder import course, grading
from autograder.submissions import apply_mutants, course_notebooks, reference_files, reference_submission, write_files
from autograder.submissions import write_submission as submit

from pipeline_sample import pipeline_mutants

REPO = course.REPO
MIRROR = REPO.parent / "shared" / "datasets"

# Tests read the offline dataset mirror unless told otherwise.
if not os.environ.get("NNCOURSE_DATA") and MIRROR.exists():
    os.environ["NNCOURSE_DATA"] = str(MIRROR)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory) -> Path:
    """A course folder with sources, release and gradebook built by nbgrader."""
    workdir = tmp_path_factory.mktemp("course")
    grading.prepare(workdir)
    return workdir


@pytest.fixture(scope="session")
def graded(prepared):
    """Reference, blank and the sampled mutants graded in one batch, two at a time: (workdir, outcomes by key)."""
    workdir = prepared
    for a in course.assignments():
        files = reference_files(a)  # e.g. trained weights, handed in by all but the blank
        for name, source_nb, release_nb in course_notebooks(workdir, a):
            reference = reference_submission(source_nb, release_nb)
            submit(workdir, "reference", a, name, reference)
            write_files(workdir, "reference", a, files)
            submit(workdir, "blank", a, name, release_nb)
            for m in pipeline_mutants(a):
                submit(workdir, f"mutant-{m.name}", a, name, apply_mutants(reference, [m]))
                write_files(workdir, f"mutant-{m.name}", a, files)
    outcomes = grading.grade_all(workdir, progress=False, jobs=2)  # also exercises parallel grading
    by_key = {(o.student, o.assignment): o for o in outcomes}
    times = sorted(o.seconds for o in outcomes)
    print(f"\ngraded {len(outcomes)} submissions; seconds per submission: "
          f"min {times[0]}, median {times[len(times) // 2]}, max {times[-1]}")
    return workdir, by_key
