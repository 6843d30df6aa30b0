"""release/ is what nbgrader makes of source/, and gives nothing away."""

from __future__ import annotations

import re

import nbformat
import pytest

from autograder import course, release
from autograder.submissions import answer_cells, nbgrader_meta, strip_solution_markers

ASSIGNMENTS = course.assignments()
FORBIDDEN = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|\bautograder\b")


def test_release_is_in_sync_with_source():
    problems = release.differences()
    assert not problems, "\n".join(problems) + "\nrun: python -m autograder release"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_solution_hidden_test_or_reference(assignment):
    for name in course.notebook_names(assignment):
        source = nbformat.read(str(course.SOURCE / assignment / f"{name}.ipynb"), as_version=4)
        student = nbformat.read(str(course.RELEASE / assignment / f"{name}.ipynb"), as_version=4)
        text = "\n".join(c.source for c in student.cells)
        assert not FORBIDDEN.search(text), FORBIDDEN.search(text).group(0)
        released = {line.strip() for line in text.splitlines()}
        # a line the source also has outside every solution (given code) is no leak
        given = "\n".join(re.sub(r"### BEGIN SOLUTION\n.*?### END SOLUTION", "", c.source, flags=re.S)
                          for c in source.cells)
        released -= {line.strip() for line in given.splitlines()}
        for grade_id, cell in answer_cells(source).items():
            solution = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            for block in solution:
                for line in strip_solution_markers(block).splitlines():
                    line = line.strip()
                    if len(line) > 12 and not line.startswith("#"):
                        assert line not in released, f"{grade_id}: solution line in release: {line!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_cells_are_well_formed(assignment):
    """Stable ids, unique grade ids, points on every graded cell, a kernel pinned."""
    for name in course.notebook_names(assignment):
        nb = nbformat.read(str(course.SOURCE / assignment / f"{name}.ipynb"), as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        ids = [c.get("id") for c in nb.cells]
        assert all(ids) and len(set(ids)) == len(ids)
        grade_ids = [nbgrader_meta(c)["grade_id"] for c in nb.cells if nbgrader_meta(c)]
        assert len(set(grade_ids)) == len(grade_ids)
        for c in nb.cells:
            meta = nbgrader_meta(c)
            if meta:
                assert c.id == meta["grade_id"], f"cell id {c.id} != grade_id {meta['grade_id']}"
            if meta.get("grade"):
                assert meta.get("points", 0) > 0, meta["grade_id"]
