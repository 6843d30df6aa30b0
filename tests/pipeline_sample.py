"""Which mutants the suite grades through real nbgrader.

Every mutant of every catalogue is judged in-process by tests/test_probe.py, with the same
probes and verdicts the grader uses. Through the whole pipeline (sandboxed kernel, verdicts
written into the notebook, ``nbgrader autograde``, the gradebook), two mutants per assignment
show that points are lost cell by cell: the one that breaks the most test cells and the one
that breaks the fewest. Grading all 165 through nbgrader took 43 min of a 77-min CI run on a
2-core machine; ``NNCOURSE_ALL_MUTANTS=1`` still does it (so does benchmarks/grade_catalogue.py).
"""

from __future__ import annotations

import os

from autograder.mutants import Mutant, catalogue


def pipeline_mutants(assignment: str) -> list[Mutant]:
    mutants = catalogue(assignment)
    if os.environ.get("NNCOURSE_ALL_MUTANTS"):
        return mutants
    most = max(mutants, key=lambda m: len(m.breaks))      # first in catalogue order on ties
    fewest = min(mutants, key=lambda m: len(m.breaks))
    return [most] if most is fewest else [most, fewest]
