"""Every graded test cell of every assignment is broken by at least one mutant (a test that
no known mistake can fail proves nothing). Fast: it reads the catalogues, grades nothing;
that each mutant breaks exactly its cells is checked by test_probe (in process) and
test_grading (through nbgrader)."""

from __future__ import annotations

import nbformat
import pytest

from autograder import course
from autograder.mutants import catalogue, module_name
from autograder.submissions import autograded_tests

# Named gaps (issue 9, part 5): graded cells no mutant breaks yet. The test fails when this
# list is wrong either way, so a new uncovered cell cannot slip in and a covered one must
# leave the list.
KNOWN_UNCOVERED: dict = {}


@pytest.mark.parametrize("assignment", course.assignments())
def test_every_graded_cell_is_broken_by_a_mutant(assignment):
    nb = nbformat.read(course.SOURCE / assignment / f"{module_name(assignment)}.ipynb", as_version=4)
    tests = set(autograded_tests(nb))
    broken = set().union(*(m.breaks for m in catalogue(assignment)))
    assert broken <= tests, f"mutants name cells that do not exist: {sorted(broken - tests)}"
    assert tests - broken == KNOWN_UNCOVERED.get(assignment, set())
