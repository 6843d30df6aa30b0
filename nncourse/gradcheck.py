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


def _not_written(exc: BaseException) -> str:
    """The function that raised NotImplementedError (the last frame of its traceback)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    name = tb.tb_frame.f_code.co_name if tb is not None else "<lambda>"
    return "une fonction" if name.startswith("<") else name


GOOD = 1e-7      # a correct float64 gradient: 1e-8 .. 1e-11 with centred differences
WRONG = 1e-4     # above: the gradient is wrong (between the two: a kink, or a small mistake)


def error_line(name: str, err: float, expected: float = GOOD, wrong: float = WRONG) -> str:
    """« erreur relative NAME : 3.1e-10 (attendu < 1e-7 ; au-delà de 1e-4 le gradient est faux) »,
    with a verdict at the end when the error is above what is expected."""
    def power(v):                       # 1e-07 -> 1e-7
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e+")
    line = f"erreur relative {name} : {err:.1e} (attendu < {power(expected)} ; au-delà de {power(wrong)} le gradient est faux)"
    if err > wrong:
        line += " ← gradient faux"
    elif err > expected:
        line += " ← à surveiller"
    return line


def show_gradient_error(name: str, analytic, loss, x, eps: float = 1e-6,
                        expected: float = GOOD, wrong: float = WRONG) -> float | None:
    """Print the relative error between a gradient and centred differences; return it.

    ``analytic``: the gradient to judge (an array, or a function without argument that
    computes it: its errors are then caught too). ``loss``: a function of one float64 array
    of the shape of ``x`` that returns a number; it receives a copy of ``x``, perturbed
    one entry at a time (``x`` itself is never modified). ``x``: the point, or a function
    without argument that computes it (a value of the student's forward pass, say).

    Never raises: a gradient that cannot be judged (wrong shape, NaN, a function that fails)
    is said in one French line and ``None`` is returned; the test's own checks then fail.
    """
    try:
        x64 = np.array(x() if callable(x) else x, dtype=np.float64, copy=True)
    except NotImplementedError as exc:
        print(f"erreur relative {name} : non calculée ({_not_written(exc)} n'est pas encore écrite).")
        return None
    except Exception as exc:                                   # noqa: BLE001
        print(f"erreur relative {name} : non calculée (le point de calcul a levé {type(exc).__name__} : {exc}).")
        return None
    try:
        grad = analytic() if callable(analytic) else analytic
        grad = np.asarray(grad.detach().cpu().numpy() if hasattr(grad, "detach") else grad, dtype=np.float64)
    except NotImplementedError as exc:
        print(f"erreur relative {name} : non calculée ({_not_written(exc)} n'est pas encore écrite).")
        return None
    except Exception as exc:                                   # noqa: BLE001
        print(f"erreur relative {name} : non calculée (votre gradient a levé {type(exc).__name__} : {exc}).")
        return None
    if grad.shape != x64.shape:
        print(f"erreur relative {name} : non calculée, votre gradient a la forme {grad.shape} "
              f"au lieu de {x64.shape} (la forme du tableau dérivé).")
        return None
    if not np.all(np.isfinite(grad)):
        print(f"erreur relative {name} : non calculée, votre gradient contient des valeurs infinies ou NaN.")
        return None
    try:
        numeric = numerical_gradient(loss, x64, eps)
    except NotImplementedError as exc:
        print(f"erreur relative {name} : non calculée ({_not_written(exc)} n'est pas encore écrite).")
        return None
    except Exception as exc:                                   # noqa: BLE001
        print(f"erreur relative {name} : non calculée (le calcul de la perte a levé {type(exc).__name__} : {exc}).")
        return None
    if not np.all(np.isfinite(numeric)):
        print(f"erreur relative {name} : non calculée, la perte n'est pas finie autour de ce point.")
        return None
    err = relative_error(grad, numeric)
    print(error_line(name, err, expected, wrong))
    return err


def gradient_check(f, x: np.ndarray, analytic: np.ndarray, eps: float = 1e-6,
                   tol: float = GOOD, name: str = "gradient") -> float:
    """Compare an analytic gradient with centered differences; print and return the error.

    ``x`` is perturbed in place (``f`` may close over it). Unlike :func:`show_gradient_error`,
    a gradient of the wrong shape raises."""
    numeric = numerical_gradient(f, x, eps)
    if np.shape(analytic) != numeric.shape:
        raise AssertionError(f"{name} : forme {np.shape(analytic)} au lieu de {numeric.shape}.")
    err = relative_error(analytic, numeric)
    print(error_line(name, err, expected=tol))
    return err
