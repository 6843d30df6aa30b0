"""Student-side helpers of the neural-network course (data, plots, gradient checks, tests)."""

from .data import data_root, load_cifar10, load_mnist, make_moons, make_spiral
from .gradcheck import gradient_check, numerical_gradient, relative_error

__all__ = ["data_root", "load_mnist", "load_cifar10", "make_moons", "make_spiral",
           "numerical_gradient", "relative_error", "gradient_check"]
