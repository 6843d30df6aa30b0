"""Hidden checks of notebook 05 (modular numpy library, MNIST MLP, PyTorch MLPs), probe and
verdict, by concern: ``layers`` (Module, Linear, activations, Sequentiel), ``losses`` (MSE,
BCE, CE), ``optim`` (Optim, SGD), ``trainings`` (regression, moons, MNIST and the
auto-encoder with the student's whole library), ``torch_part`` (normalisation, the three
networks, parameter counts, train_epoch and evaluate from :mod:`concepts.training`, accuracies).

Calibration: ``python -m autograder calibrate 05_mlp --seeds 20`` runs the accuracy checks
themselves (plan, probe in this process, verdict) on the reference notebook, and on mutants
with ``--set mutants=name,name``.
"""

from __future__ import annotations

import contextlib
import io
import re

import numpy as np

from ..common import mnist
from . import layers, losses, optim, torch_part, trainings  # noqa: F401 - registers the checks

ACCURACY_CHECKS = ("test_mnist", "test_binary", "test_accuracy_linear", "test_accuracy_mlp1", "test_accuracy_mlp2")
THRESHOLDS = {"test_mnist": trainings.MNIST_MIN_ACCURACY, "test_binary": trainings.MOONS_MIN_ACCURACY,
              **{f"test_accuracy_{k}": v for k, v in torch_part.MIN_ACCURACY.items()}}


def warm_up() -> None:
    """What the verdicts load (``judging.warm_up``): torch (the train_epoch replay) and the
    10 000 test images the trained networks classify."""
    import torch  # noqa: F401
    mnist(False)


def notebook_namespace(mutant=None) -> dict:
    """The names the reference notebook's answer, definition and import cells define (with one
    mutant applied): what its test cells hand to ``probe``. For calibration only."""
    import nbformat

    from autograder import course
    from autograder.submissions import strip_solution_markers
    nb = nbformat.read(course.SOURCE / "05_mlp" / "mlp.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        source = strip_solution_markers(cell.source)
        if mutant is not None and meta.get("grade_id") == mutant.cell:
            source = source.replace(mutant.find, mutant.replace)
        if meta.get("solution") or "def " in source or source.lstrip().startswith(("import ", "from ")):
            with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                try:
                    exec(compile(source, meta.get("grade_id", "cell"), "exec"), namespace)
                except Exception:  # noqa: BLE001 - a demonstration cell that needs the data
                    pass
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


def measured_accuracy(message: str) -> float:
    """The accuracy a check's message reports (pass or fail), as a fraction."""
    found = re.findall(r"(\d+(?:[.,]\d+)?)\s?%", message)
    return float(found[0].replace(",", ".")) / 100 if found else float("nan")


def calibration(seeds: int = 20, checks: str = ",".join(ACCURACY_CHECKS), mutants: str = "",
                first_seed: int = 0) -> dict:
    """For ``python -m autograder calibrate``: {label: (accuracies over seeds, threshold)}, each
    measured by the check itself on the reference notebook (and on each named mutant)."""
    from autograder import judging
    from autograder.checks.probing import run_locally
    from autograder.mutants import catalogue
    registry = judging.checks_of("05_mlp")
    chosen = [c for c in checks.split(",") if c]
    subjects = [("reference", None)] + [(m.name, m) for m in catalogue("05_mlp") if m.name in mutants.split(",")]
    out = {}
    for label, mutant in subjects:
        functions = notebook_namespace(mutant)
        for gid in chosen:
            values = []
            for seed in range(first_seed, first_seed + seeds):
                with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                    _, message = run_locally(registry[gid], seed=seed, **functions)
                values.append(measured_accuracy(message))
            out[f"{gid} ({label})"] = (np.array(values), THRESHOLDS.get(gid))
    return out
