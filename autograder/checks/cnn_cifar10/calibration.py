"""``python -m autograder calibrate 06_cnn_cifar10 [--seeds N] [--set key=value]``: the graded
accuracy's evidence, and the "learns" check's ratio.

- the reference recipe (``cnn_cifar10_reference``: 4.5 epochs on the 50 000 training images),
  one run per seed from ``first_seed`` (seed 0 is the run whose weights are cached);
- ``family=1``: the three "reasonable student" CNNs of ``cnn_cifar10_family``, trained for
  ``family_epochs`` (the notebook's floor, 1.5 epochs, by default), one run each per seed;
- ``loop_seeds``: the after/before loss ratio of the "learns" check with a correct train_epoch.

Each run prints its line as it ends. Two calibrations side by side at OMP_NUM_THREADS=1 each
take about as long as the two in turn at 2 threads; accuracy does not depend on the machine.
"""

from __future__ import annotations

import numpy as np

from . import loops
from .loops import LEARN_RATIO
from .weights import ACCURACY_THRESHOLD

FAMILY_EPOCHS = 1.5          # the notebook's min_epochs: what a slow machine trains within TIME_LIMIT


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


def calibrate_loop(seeds: int, fn=None):
    """after/before ratios of the 'learns' check (the same problem the check draws)."""
    from .. import cnn_cifar10_reference as ref
    return np.array([loops.learn_ratio(fn or ref.train_epoch, s) for s in range(seeds)])


def calibration(seeds: int = 5, epochs: float = 0.0, n_train: int = 0, first_seed: int = 0,
                family: int = 0, family_epochs: float = FAMILY_EPOCHS, reference: int = 1,
                loop_seeds: int = 30, n_test: int = 0) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}.
    ``epochs=0``, ``n_train=0`` and ``n_test=0`` mean the reference's (4.5 epochs, all 50 000
    training images, accuracy on all 10 000 test images);
    ``reference=0`` skips the reference runs (``family=1`` alone)."""
    result = {}
    if seeds and (reference or family):
        from nncourse.data import load_cifar10

        from .. import cnn_cifar10_family as fam
        from .. import cnn_cifar10_reference as ref
        data = (load_cifar10(train=True), load_cifar10(train=False))
        runs = range(first_seed, first_seed + seeds)
        if reference:
            accs, seconds = _runs("reference", runs, epochs or ref.EPOCHS, n_train or None, data,
                                  n_test=n_test or None)
            result["accuracy"], result["seconds"] = (accs, ACCURACY_THRESHOLD), (seconds, None)
        for name, (network, training, batch_size) in (fam.FAMILY.items() if family else ()):
            accs, _ = _runs(name, runs, family_epochs, n_train or None, data, network=network, training=training,
                            batch_size=batch_size, n_test=n_test or None)
            result[f"{name} accuracy"] = (accs, ACCURACY_THRESHOLD)
    if loop_seeds:
        result["learn check, loss after/before (must stay below)"] = (calibrate_loop(loop_seeds), LEARN_RATIO)
    return result
