"""Catalogues of deliberately wrong answers ("mutants"), one module per assignment.

Each mutant is a realistic student mistake written as a text edit of one answer cell of
the reference solution, with the test cells that must lose points because of it (and, for
a weaker network, the accuracy cells it may lose on a rare seed). The test suite judges
every mutant with the grader's probes and verdicts and checks that exactly those test cells
lose points (tests/test_probe.py), and grades a sample of them through nbgrader; the demo
uses a few of them as sample submissions.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mutant:
    name: str                # short identifier, e.g. "dZ2_wrong_sign"
    cell: str                # grade_id of the answer cell that is edited
    find: str                # exact text of the reference solution (markers removed)
    replace: str             # what the student wrote instead
    breaks: frozenset = field(default_factory=frozenset)  # grade_ids of test cells that must fail
    description: str = ""    # the mistake, for the instructor
    # accuracy cells this weaker network passes on most seeds but may fail on a rare one (its
    # threshold is set for the reference): losing one is fair, keeping one is too
    may_break: frozenset = field(default_factory=frozenset)

    def __post_init__(self):
        object.__setattr__(self, "breaks", frozenset(self.breaks))
        object.__setattr__(self, "may_break", frozenset(self.may_break))

    def lost_as_expected(self, failing) -> bool:
        """Every cell of ``breaks`` failed, and nothing beyond ``breaks`` and ``may_break``."""
        return self.breaks <= set(failing) <= self.breaks | self.may_break


def catalogue(assignment: str) -> list[Mutant]:
    """The mutants of an assignment (``01_moons_numpy`` -> module ``moons_numpy``)."""
    module = importlib.import_module(f"{__name__}.{module_name(assignment)}")
    return list(module.MUTANTS)


def module_name(assignment: str) -> str:
    prefix, _, rest = assignment.partition("_")
    return rest if prefix.isdigit() else assignment
