"""Built-in sample submissions, made from the sources so they never go stale.

For every assignment: a perfect student, a blank notebook, a partly wrong one (a few
mutants from the catalogue and a deleted test cell), one whose code loops forever or
kills its kernel, and a corrupt file.

``demo_plan`` decides what the demo grades at once, what it grades last (assignments whose
reference files, e.g. 06's trained CNN, take minutes to build) and what it cannot grade
because a dataset is missing (a bilingual message, no crash).
"""

from __future__ import annotations

import copy
import importlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from . import course
from .mutants import catalogue, module_name
from .submissions import (answer_cells, apply_mutants, autograded_tests, cache_dir, course_notebooks,
                          read, reference_files, reference_submission, write_files, write_submission)

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


# ------------------------------------------------------------------ what the demo can grade
# Loader of nncourse.data called by a notebook -> the dataset it reads.
LOADERS = {"load_mnist": "MNIST", "load_mnist_numpy": "MNIST", "load_cifar10": "CIFAR-10"}
_MNIST_FILES = [f"MNIST/raw/{p}-{k}-idx{n}-ubyte.gz" for p in ("train", "t10k")
                for k, n in (("images", 3), ("labels", 1))]
DATASET_FILES = {  # files the loaders need, under the data root (a .gz may be unpacked)
    "MNIST": _MNIST_FILES,
    "CIFAR-10": [f"cifar-10-batches-py/{n}" for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]],
}
DATASET_ORIGIN = {
    "MNIST": "https://ossci-datasets.s3.amazonaws.com/mnist/ (torchvision's mirror)",
    "CIFAR-10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz, unpacked into the data root",
}
REFERENCE_BUILD = "about 5 min on 2 fast idle cores, 13 min on slower ones"  # 06's reference CNN (README, Measured)


def datasets_needed(assignment: str) -> list[str]:
    """The datasets an assignment's notebooks load (read from its source notebooks)."""
    code = "".join(c.source for p in sorted((course.SOURCE / assignment).glob("*.ipynb"))
                   for c in read(p).cells if c.cell_type == "code")
    return sorted({LOADERS[name] for name in re.findall(r"\b(load_\w+)\s*\(", code) if name in LOADERS})


def missing_dataset(name: str, root: Path) -> str | None:
    """None when ``name`` is under ``root``; else the course's message (French, then English)."""
    from nncourse.data import _unavailable

    files = DATASET_FILES[name]
    absent = [f for f in files if not (root / f).exists() and not (f.endswith(".gz") and (root / f[:-3]).exists())]
    if not absent:
        return None
    return str(_unavailable(name, root, absent, "fichiers absents / files missing", DATASET_ORIGIN[name]))


def _builds_reference_files(assignment: str):
    """The checks module of an assignment that builds reference files (slow), else None."""
    module = importlib.import_module(f"autograder.checks.{module_name(assignment)}")
    return module if callable(getattr(module, "reference_files", None)) else None


@dataclass
class DemoPlan:
    at_once: list = field(default_factory=list)   # graded first
    last: list = field(default_factory=list)      # reference files to build first (minutes)
    missing: dict = field(default_factory=dict)   # assignment -> message (no dataset)
    cached: dict = field(default_factory=dict)    # assignment in ``last`` -> reference files cached?

    def lines(self) -> list[str]:
        """What the demo is about to do, one line each."""
        out = []
        if self.at_once:
            out.append(f"graded at once: {', '.join(self.at_once)}")
        for a in self.last:
            out.append(f"graded last: {a}, " + (
                "its reference files are cached" if self.cached.get(a) else
                f"whose reference network is trained first, once ({REFERENCE_BUILD}, progress shown; "
                f"then cached in {cache_dir()}); the others do not wait for it"))
        for a in self.missing:
            out.append(f"not graded: {a}, data missing / données manquantes ({', '.join(datasets_needed(a))})")
        return out


def demo_plan(names: list[str] | None = None, root: Path | None = None) -> DemoPlan:
    """Which assignments the demo grades at once, last, or not (dataset missing under ``root``,
    default: the data root the notebooks use, ``$NNCOURSE_DATA`` first)."""
    from nncourse.data import data_root

    root = data_root(root)
    plan = DemoPlan()
    for a in names or course.assignments():
        problems = [m for m in (missing_dataset(d, root) for d in datasets_needed(a)) if m]
        if problems:
            plan.missing[a] = "\n".join(problems)
            continue
        module = _builds_reference_files(a)
        if module is None:
            plan.at_once.append(a)
            continue
        plan.last.append(a)
        version = getattr(module, "REFERENCE_VERSION", None)
        plan.cached[a] = bool(version) and any(cache_dir().glob(f"{module_name(a)}_{version}*"))
    return plan
