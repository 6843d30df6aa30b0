"""Built-in sample submissions, made from the sources so they never go stale.

For every assignment: a perfect student, a blank notebook, a partly wrong one (a few
mutants from the catalogue and a deleted test cell), one whose code loops forever or
kills its kernel, and a corrupt file.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from . import course
from .mutants import catalogue
from .submissions import (answer_cells, apply_mutants, autograded_tests, course_notebooks, reference_files,
                          reference_submission, write_files, write_submission)

LOOP = "while True:  # oups : boucle infinie\n    pass\n"
KILL = "import os\nos._exit(1)  # le noyau meurt\n"
STUDENTS = ("correct", "blank", "partly-wrong", "crash-or-loop", "corrupt")
WITH_FILES = ("correct", "partly-wrong", "crash-or-loop")  # hand in the extra files (weights)


def demo_mutants(assignment: str, count: int = 3) -> list:
    """A few mutants on distinct answer cells."""
    chosen, cells = [], set()
    for m in catalogue(assignment):
        if m.cell not in cells:
            chosen.append(m)
            cells.add(m.cell)
        if len(chosen) == count:
            break
    return chosen


def prepend_to_first_answer(nb, code: str):
    """A copy of ``nb`` whose first code answer cell starts with ``code``."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in answer_cells(nb).values() if c.cell_type == "code")
    cell.source = code + cell.source
    return nb


def samples_for(assignment: str, source_nb, release_nb, index: int) -> dict:
    """student id -> notebook (or raw bytes for the corrupt one)."""
    reference = reference_submission(source_nb, release_nb)
    partly = apply_mutants(reference, demo_mutants(assignment))
    last_test = list(autograded_tests(partly))[-1]
    partly.cells = [c for c in partly.cells if c.get("id") != last_test]
    broken = prepend_to_first_answer(reference, LOOP if index % 2 == 0 else KILL)
    text = nbformat.writes(reference).encode()
    corrupt = text[: len(text) // 2]  # a truncated upload
    return {"correct": reference, "blank": release_nb, "partly-wrong": partly,
            "crash-or-loop": broken, "corrupt": corrupt}


def write_samples(workdir: Path, names: list[str] | None = None) -> list[tuple[str, str]]:
    """Write the samples into ``workdir/submitted``; return the (student, assignment) pairs."""
    written = []
    for index, a in enumerate(names or course.assignments()):
        files = reference_files(a)
        for nb_name, source_nb, release_nb in course_notebooks(workdir, a):
            for student, nb in samples_for(a, source_nb, release_nb, index).items():
                write_submission(workdir, student, a, nb_name, nb)
                if student in WITH_FILES:
                    write_files(workdir, student, a, files)
                written.append((student, a))
    return written
