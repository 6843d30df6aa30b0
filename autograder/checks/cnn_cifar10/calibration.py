"""``python -m autograder calibrate 06_cnn_cifar10 [--seeds N] [--set key=value]``: the graded
accuracy's evidence, and the "learns" check's ratio.

- the reference recipe (``cnn_cifar10_reference``: 4.5 epochs on the 50 000 training images),
  one run per seed from ``first_seed`` (seed 0 is the run whose weights are cached);
  ``epochs=1.5`` is what the notebook gives it within ``TIME_LIMIT`` on a slow machine;
- ``family=all`` (or some of their names, comma-separated): the "reasonable student" CNNs of
  ``cnn_cifar10_family``, one run each per seed, trained for ``family_epochs``, or with
  ``family_seconds=360`` for the epochs that the notebook's own ``epochs_within`` fits in that
  time on this machine (timed once per network, before its runs, at this process's threads);
- ``loop_seeds``: the after/before loss ratio of the "learns" check with a correct train_epoch.

Each run prints its line as it ends. Two calibrations side by side at OMP_NUM_THREADS=1 each
take about as long as the two in turn at 2 threads; accuracy does not depend on the machine,
but ``family_seconds`` does: time on idle cores, with the threads a student has.
"""

from __future__ import annotations

import math
import time

import numpy as np

from . import loops
from .loops import LEARN_RATIO
from .weights import ACCURACY_THRESHOLD

FAMILY_EPOCHS = 1.5          # the notebook's min_epochs: what a slow machine trains within TIME_LIMIT
MAX_EPOCHS = 5               # the notebook's EPOCHS: the most its training cell gives


def _runs(label: str, seeds: range, epochs: float, n_train, data, **kwargs):
    """(test accuracies, training seconds) of ``train_reference`` over ``seeds``, printed as they come."""
    from .. import cnn_cifar10_reference as ref
    accs, times = [], []
    for s in seeds:
        _, acc, seconds = ref.train_reference(seed=s, epochs=epochs, n_train=n_train, progress=False, data=data,
                                              **kwargs)
        accs.append(acc)
        times.append(seconds)
        print(f"{label} seed {s}: accuracy {acc:.4f}, {seconds:.0f} s ({epochs:g} epochs)", flush=True)
    return np.array(accs), np.array(times)


def notebook_epochs_within(data):
    """The notebook's own ``epochs_within`` (its provided ``fit`` cell), reading ``data`` as the
    notebook's globals ``x_train_u8``, ``y_train`` and ``x_test`` (normalized)."""
    import nbformat
    import torch
    from torch import nn

    from autograder import course
    from autograder.submissions import strip_solution_markers

    from .. import cnn_cifar10_reference as ref
    (x_train_u8, y_train), (x_test_u8, _) = data
    mean, std = ref.channel_stats(x_train_u8)
    ns = {"torch": torch, "nn": nn, "math": math, "time": time, "x_train_u8": x_train_u8, "y_train": y_train,
          "x_test": ref.normalize(x_test_u8, mean, std)}
    notebook = nbformat.read(course.SOURCE / "06_cnn_cifar10" / "cnn_cifar10.ipynb", as_version=4)
    cell = next(c for c in notebook.cells if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "fit")
    exec(compile(strip_solution_markers(cell.source), "notebook 06, cell fit", "exec"), ns)  # noqa: S102 - our notebook
    return lambda seconds, network, batch_size: ns["epochs_within"](
        seconds, network().to(memory_format=torch.channels_last), batch_size, MAX_EPOCHS,
        prepare_images=lambda images: ref.EpochImages(images, mean, std)(0), min_epochs=FAMILY_EPOCHS)


def calibrate_loop(seeds: int, fn=None):
    """after/before ratios of the 'learns' check (the same problem the check draws)."""
    from .. import cnn_cifar10_reference as ref
    return np.array([loops.learn_ratio(fn or ref.train_epoch, s) for s in range(seeds)])


def calibration(seeds: int = 5, epochs: float = 0.0, n_train: int = 0, first_seed: int = 0,
                family: str = "", family_epochs: float = FAMILY_EPOCHS, family_seconds: float = 0.0,
                reference: int = 1, loop_seeds: int = 30, n_test: int = 0) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}.
    ``epochs=0``, ``n_train=0`` and ``n_test=0`` mean the reference's (4.5 epochs, all 50 000
    training images, accuracy on all 10 000 test images); ``reference=0`` skips the reference
    runs (the family alone); ``family_seconds=0`` trains the family for ``family_epochs``."""
    result = {}
    from .. import cnn_cifar10_family as fam
    members = list(fam.FAMILY) if family == "all" else [name for name in family.split(",") if name]
    unknown = [name for name in members if name not in fam.FAMILY]
    if unknown:
        raise SystemExit(f"error: family={family!r}: expected 'all' or names among {', '.join(fam.FAMILY)}")
    if seeds and (reference or members):
        from nncourse.data import load_cifar10

        from .. import cnn_cifar10_reference as ref
        data = (load_cifar10(train=True), load_cifar10(train=False))
        runs = range(first_seed, first_seed + seeds)
        if reference:
            accs, seconds = _runs("reference", runs, epochs or ref.EPOCHS, n_train or None, data,
                                  n_test=n_test or None)
            result["accuracy"], result["seconds"] = (accs, ACCURACY_THRESHOLD), (seconds, None)
        within = notebook_epochs_within(data) if family_seconds else None
        for name in members:
            network, training, batch_size = fam.FAMILY[name]
            budget = within(family_seconds, network, batch_size) if within else family_epochs
            accs, _ = _runs(name, runs, budget, n_train or None, data, network=network, training=training,
                            batch_size=batch_size, n_test=n_test or None)
            result[f"{name} accuracy"] = (accs, ACCURACY_THRESHOLD)
    if loop_seeds:
        result["learn check, loss after/before (must stay below)"] = (calibrate_loop(loop_seeds), LEARN_RATIO)
    return result
