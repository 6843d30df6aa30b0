"""Build submissions from the source notebooks: the reference, blank, and mutants.

A *reference submission* is the student notebook (release version) in which every answer
cell holds the instructor's solution, exactly as a perfect student would hand it in.
"""

from __future__ import annotations

import copy
import importlib
import os
import re
import shutil
from pathlib import Path

import nbformat

from . import course
from .mutants import Mutant, module_name

_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def strip_solution_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not _MARKER.match(line))


def answer_cells(nb) -> dict:
    """grade_id -> cell, for the cells the student writes in."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if nbgrader_meta(c).get("solution")}


def autograded_tests(nb) -> dict:
    """grade_id -> cell, for the autograded test cells."""
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells
            if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")}


def reference_submission(source_nb, release_nb):
    """The release notebook with the solutions of ``source_nb`` typed into its answer cells."""
    nb = copy.deepcopy(release_nb)
    solutions = answer_cells(source_nb)
    for grade_id, cell in answer_cells(nb).items():
        cell.source = strip_solution_markers(solutions[grade_id].source)
    return nb


def apply_mutants(nb, mutants: list[Mutant]):
    """A copy of ``nb`` with each mutant's edit applied (the text must be found exactly once)."""
    nb = copy.deepcopy(nb)
    cells = answer_cells(nb)
    for m in mutants:
        if m.cell not in cells:
            raise KeyError(f"mutant {m.name}: no answer cell {m.cell!r}")
        src = cells[m.cell].source
        if src.count(m.find) != 1:
            raise ValueError(f"mutant {m.name}: text to replace found {src.count(m.find)} times in {m.cell!r}")
        cells[m.cell].source = src.replace(m.find, m.replace)
    return nb


def read(path):
    return nbformat.read(str(path), as_version=4)


def course_notebooks(workdir: Path, assignment: str):
    """(name, source notebook, release notebook) for each notebook of a prepared course folder."""
    for name in course.notebook_names(assignment, workdir):
        yield (name, read(workdir / "source" / assignment / f"{name}.ipynb"),
               read(workdir / "release" / assignment / f"{name}.ipynb"))


def write_submission(workdir: Path, student: str, assignment: str, name: str, nb) -> None:
    """Put a notebook (or raw bytes: a damaged upload) where nbgrader collect would."""
    path = workdir / "submitted" / student / assignment / f"{name}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(nb, bytes):
        path.write_bytes(nb)
    else:
        nbformat.write(nb, str(path))


def cache_dir() -> Path:
    """Where expensive reference files (trained weights) are kept between runs."""
    return Path(os.environ.get("NNCOURSE_CACHE") or Path.home() / ".cache" / "nncourse")


def reference_files(assignment: str) -> dict:
    """file name -> path of the non-notebook files a correct submission hands in.

    An assignment whose students hand in more than notebooks (e.g. trained weights) says
    so with a ``reference_files(cache_dir)`` function in its checks module; it builds
    the files once and caches them.
    """
    module = importlib.import_module(f"autograder.checks.{module_name(assignment)}")
    make = getattr(module, "reference_files", None)
    return make(cache_dir()) if make else {}


def write_files(workdir: Path, student: str, assignment: str, files: dict) -> None:
    """Copy extra submission files next to the student's notebooks."""
    dest = workdir / "submitted" / student / assignment
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        shutil.copy(path, dest / name)
