"""Student-side helpers of the neural-network course (data, plots, gradient checks, tests)."""

from .data import data_root, load_cifar10, load_mnist, load_mnist_numpy, make_moons, make_spiral
from .gradcheck import gradient_check, numerical_gradient, relative_error, show_gradient_error
from .runtime import under_autograder

__all__ = ["data_root", "load_mnist", "load_mnist_numpy", "load_cifar10", "make_moons", "make_spiral",
           "numerical_gradient", "relative_error", "gradient_check", "show_gradient_error",
           "under_autograder"]
