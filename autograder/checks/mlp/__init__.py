"""Hidden checks of notebook 05 (modular numpy library, MNIST MLP, PyTorch MLPs).

Probe and verdict, by concern: ``layers`` (Module, Linear, activations, Sequentiel),
``losses`` (MSE, BCE, CE), ``optim`` (Optim, SGD). The cells not rebuilt yet (trainings,
PyTorch part) still run ``in_kernel``'s functions in the kernel, re-exported here.
"""

from . import layers, losses, optim  # noqa: F401 - registers the checks
from .in_kernel import *  # noqa: F401,F403 - in-kernel checks of the cells not rebuilt yet
from .in_kernel import calibration  # noqa: F401
