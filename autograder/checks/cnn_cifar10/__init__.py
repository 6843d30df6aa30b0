"""Hidden checks of notebook 06 (convolutional networks on CIFAR-10), as probe and verdict
(``probing.py``): each check draws its inputs here, the kernel only makes the calls
(``nncourse.probe``), and the verdict is computed here with the reference.

One submodule per concern; importing the package registers every check under
"cnn_cifar10":

- ``data``: channel statistics, normalisation (shared with 05, ``concepts.training``), the
  dataset's MEAN / STD / x_test (the grader reads CIFAR-10 itself for the expected values);
- ``loops``: train_epoch (one epoch of minibatches with a scheduler replayed exactly, the
  check shared with 05, and "learns" on a small CNN), evaluate (shared with 05), predict
  (eval mode and no_grad seen by a ``Monitor`` layer), the baselines;
- ``layers``: convolution output size, parameter count, conv2d and max-pooling in numpy;
- ``models``: LeNet5, SeedNet, MyCNN's architecture (summaries), augment;
- ``weights``: the handed-in ``cnn_weights.pt`` (read only with ``weights_only=True``) and
  MyCNN's test accuracy; ``reference_files`` trains and caches the reference weights;
- ``confusion``: the confusion matrix (the check shared with 04, ``concepts.classification``).

Calibration (``python -m autograder calibrate 06_cnn_cifar10 --seeds N``, ``calibration.py``):
the reference recipe, one run per seed, three "reasonable student" CNNs, and the "learns"
check of the reference training loop.
"""

from __future__ import annotations

from . import confusion, data, layers, loops, models, weights  # noqa: F401 - registers the checks
from .calibration import calibration  # noqa: F401 - python -m autograder calibrate
from .weights import ACCURACY_THRESHOLD, REFERENCE_VERSION, WEIGHTS_NAME, read_weights, reference_files  # noqa: F401


def warm_up() -> None:
    """What the verdicts load (``judging.warm_up``): torch."""
    import torch  # noqa: F401
