"""Numerical gradients by centered differences, to check hand-written backward passes.

Everything is done in float64: in float32 the rounding error of f(x+h) - f(x-h)
swamps the difference for any useful h.
"""

from __future__ import annotations

import numpy as np


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x`` by centered differences.

    ``x`` is perturbed in place one entry at a time and always restored, so ``f`` may
    close over it (``f = lambda: loss(W)`` with ``x = W``) or take it as argument.
    """
    if x.dtype != np.float64:
        raise TypeError(f"numerical_gradient a besoin d'un tableau float64 (reçu {x.dtype}).")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        f_plus = float(f(x))
        x[i] = old - eps
        f_minus = float(f(x))
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b) -> float:
    """max |a - b| / max(|a| + |b|), with a floor that makes two zero arrays agree."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = np.max(np.abs(a - b)) if a.size else 0.0
    den = max(np.max(np.abs(a)) + np.max(np.abs(b)) if a.size else 0.0, 1e-12)
    return float(num / den)


def gradient_check(f, x: np.ndarray, analytic: np.ndarray, eps: float = 1e-6,
                   tol: float = 1e-6, name: str = "gradient") -> float:
    """Compare an analytic gradient with centered differences; print and return the error."""
    numeric = numerical_gradient(f, x, eps)
    if np.shape(analytic) != numeric.shape:
        raise AssertionError(f"{name} : forme {np.shape(analytic)} au lieu de {numeric.shape}.")
    err = relative_error(analytic, numeric)
    verdict = "OK" if err < tol else "ÉCHEC"
    print(f"{name:>10s} : erreur relative {err:.2e}  [{verdict}]")
    return err
