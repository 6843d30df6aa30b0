"""Building blocks of the hidden tests: fresh randomness, gradient checks, French hints.

Every check raises :class:`CheckFailed` (an ``AssertionError``) with a message in French
that names the likely mistake when it can be recognised.
"""

from __future__ import annotations

import contextlib
import os
import secrets

import numpy as np

from nncourse.checks import CheckFailed, check_close, check_finite, check_shape, fail, passed
from nncourse.gradcheck import numerical_gradient, relative_error

__all__ = ["CheckFailed", "fail", "passed", "check_close", "check_finite", "check_shape",
           "numerical_gradient", "relative_error", "new_rng", "likely_mistake", "grad_check",
           "call_student", "swapped_globals", "as_array", "loss_number", "trained_run",
           "gradients_match_reference", "named_mistake", "constant_gradient_updates", "gradient_verdict",
           "mnist"]

SEED_ENV_VAR = "NNCOURSE_TEST_SEED"

_MNIST: dict = {}


def mnist(train: bool, pixels: bool = False):
    """MNIST through the course's data layer, read once per grading process: ``(X, y)`` with
    pixels in [0, 1] (float32), or the raw uint8 ``pixels``, one image per row."""
    if (train, pixels) not in _MNIST:
        from nncourse.data import load_mnist_numpy, load_mnist_pixels
        _MNIST[train, pixels] = (load_mnist_pixels if pixels else load_mnist_numpy)(train=train)
    return _MNIST[train, pixels]


def new_rng():
    """A generator with a fresh seed for each call (set $NNCOURSE_TEST_SEED to replay one)."""
    seed = int(os.environ.get(SEED_ENV_VAR) or secrets.randbits(32))
    return np.random.default_rng(seed), seed


def likely_mistake(got, expected, n_examples: int | None = None) -> str | None:
    """Recognise the usual shapes of a wrong gradient/value and say it in French."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape:
        if got.T.shape == expected.shape:
            return "il manque sans doute une transposée (forme inversée)."
        if got.size == expected.size:
            return "les bonnes valeurs semblent rangées dans une mauvaise forme (reshape ?)."
        if got.ndim == expected.ndim + 1 or got.size > expected.size:
            return ("la somme sur les exemples semble manquer, ou a été faite sur le "
                    "mauvais axe (pensez à keepdims=True).")
        return "la forme ne correspond pas : vérifiez les dimensions de chaque produit."
    if not np.all(np.isfinite(got)):
        return "des valeurs infinies ou NaN : un exp/log qui déborde ou une division par zéro ?"
    scale = np.max(np.abs(expected))
    if scale == 0:
        return None
    if np.allclose(got, -expected, rtol=1e-4, atol=1e-8 * scale):
        return "le signe est inversé."
    if got.ndim == 2 and got.shape[0] == got.shape[1] and np.allclose(got, expected.T, rtol=1e-4):
        return "il manque sans doute une transposée."
    mask = np.abs(expected) > 1e-6 * scale
    if mask.any():
        ratio = got[mask] / expected[mask]
        r = float(np.median(ratio))
        if np.allclose(ratio, r, rtol=1e-4) and abs(r) > 1e-12:
            if n_examples and np.isclose(r, 1.0 / n_examples, rtol=1e-4):
                return f"le résultat est divisé par N={n_examples} : moyenne au lieu de somme ?"
            if n_examples and np.isclose(r, float(n_examples), rtol=1e-4):
                return f"le résultat est multiplié par N={n_examples} : somme au lieu de moyenne (facteur 1/N oublié) ?"
            if np.isclose(r, 2.0, rtol=1e-4) or np.isclose(r, 0.5, rtol=1e-4):
                return f"le résultat est exactement {r:g} fois trop grand : un facteur 2 en trop ou oublié ?"
            return f"le résultat est proportionnel à la bonne réponse (facteur {r:.4g}) : un facteur constant oublié ?"
    return None


def named_mistake(got, mistakes: dict, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """The hint of the first known mistake that gives ``got``, or None.

    ``mistakes`` is the check's table of known mistakes: a French hint -> a function of no
    argument computing what that mistake returns on the check's inputs (with the reference
    code, in the grader)::

        hint = named_mistake(got, {
            "softmax sans soustraire le max : exp déborde.": lambda: naive_softmax(S),
            "normalisation sur le mauvais axe (axis=0 au lieu de axis=1).": lambda: softmax0(S),
        }) or likely_mistake(got, want)

    A mistake whose function returns None (it does not apply here), raises, or gives another
    shape, simply does not match."""
    try:
        got = np.asarray(got, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    for hint, compute in mistakes.items():
        try:
            wrong = compute()
            if wrong is None:           # a mistake that does not apply to these inputs
                continue
            wrong = np.asarray(wrong, dtype=np.float64)
        except Exception:  # noqa: BLE001 - a mistake that cannot happen on these inputs
            continue
        if wrong.shape == got.shape and np.allclose(got, wrong, rtol=rtol, atol=atol, equal_nan=True):
            return hint
    return None


def grad_check(name: str, analytic, f, x: np.ndarray, tol: float = 1e-5, eps: float = 1e-6,
               hint: str | None = None, n_examples: int | None = None, seed: int | None = None) -> float:
    """Check ``analytic`` against the centered-difference gradient of ``f`` at ``x`` (float64).

    Raises CheckFailed naming the likely mistake; returns the relative error.
    """
    numeric = numerical_gradient(f, x, eps)
    analytic = np.asarray(analytic, dtype=np.float64) if analytic is not None else None
    if analytic is None:
        fail(f"{name} : votre fonction n'a rien renvoyé (None).", hint)
    guess = likely_mistake(analytic, numeric, n_examples)
    if analytic.shape != numeric.shape:
        fail(f"{name} a la forme {analytic.shape}, attendu {numeric.shape}.", guess or hint)
    err = relative_error(analytic, numeric)
    if not err < tol:
        where = f" (graine {seed})" if seed is not None else ""
        fail(f"{name} : le gradient ne correspond pas aux différences finies centrées "
             f"(erreur relative {err:.2e} > {tol:.0e}){where}.", guess or hint)
    return err


def call_student(fn, *args, what: str = "votre fonction", **kwargs):
    """Call student code, turning 'not implemented yet' into a clear French failure."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        fail(f"{what} n'est pas encore écrite (NotImplementedError).")
    except CheckFailed:
        raise
    except Exception as exc:  # the student's own error, shown briefly
        fail(f"{what} a levé une erreur : {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def swapped_globals(fn, replacements: dict):
    """While inside, the notebook names in ``replacements`` that ``fn`` may call are replaced
    (by the reference helpers), so a mistake elsewhere does not cost points here."""
    namespace = getattr(fn, "__globals__", None)
    if namespace is None:
        yield
        return
    saved = {n: namespace[n] for n in replacements if n in namespace}
    try:
        namespace.update(replacements)
        yield
    finally:
        for n in replacements:
            if n in saved:
                namespace[n] = saved[n]
            else:
                namespace.pop(n, None)


def as_array(name, value):
    """The student's value as a float64 array, or a French failure saying what came back."""
    if value is None:
        fail(f"{name} : votre fonction a renvoyé None (oubli du return ?).")
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{name} : la valeur renvoyée n'est pas un tableau de nombres ({type(value).__name__}).")


def loss_number(value, loss_name: str) -> float:
    """A loss the student's code returned, as one float (a French failure otherwise)."""
    arr = as_array("la perte", value)
    if arr.size != 1:
        fail(f"{loss_name} doit renvoyer un nombre, pas un tableau de forme {arr.shape}.")
    return float(arr.reshape(()))


def trained_run(out, shapes: dict, n_iter: int, loss_name: str):
    """What a student's ``train`` returned, ``(params, losses)``: the parameters as float64
    arrays of the given shapes and one loss every 100 iterations (checked, French failures)."""
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[0], dict):
        fail("train doit renvoyer le couple (params, losses).")
    params, losses = out
    for name, shape in shapes.items():
        if name not in params:
            fail(f"les paramètres renvoyés par train n'ont pas de clé {name!r}.")
        if np.shape(as_array(f"params[{name!r}]", params[name])) != shape:
            fail(f"params[{name!r}] a la forme {np.shape(params[name])}, attendu {shape}.")
    losses = as_array("losses", [loss_number(v, loss_name) for v in losses]
                      if isinstance(losses, (list, tuple)) else losses).ravel()
    if losses.size != n_iter // 100:
        fail(f"train a enregistré {losses.size} valeurs de la perte pour {n_iter} itérations, "
             f"attendu {n_iter // 100} (une toutes les 100 itérations, à t = 0, 100, 200, ...).")
    return {k: as_array(k, params[k]) for k in shapes}, losses


def gradients_match_reference(calls, X, y, ref, keys, tol: float) -> bool:
    """Whether the traced ``backward`` calls of a training (their ``params`` argument and
    value) gave the reference gradient, ``ref.backward`` after ``ref.forward`` (tanh), at the
    parameters of each iteration."""
    for call in calls:
        p, g = call["args"].get("params"), call["value"]
        if not isinstance(p, dict) or not isinstance(g, dict) or any(k not in p or k not in g for k in keys):
            return False
        theta = {k: as_array(k, p[k]) for k in keys}
        want = ref.backward(X, y, theta, ref.forward(X, theta, "tanh")[1], "tanh")
        if not all(np.shape(g[k]) == want[k].shape and relative_error(as_array(k, g[k]), want[k]) < tol
                   for k in keys):
            return False
    return bool(calls)

def constant_gradient_updates(params: dict, start: dict, g: dict, steps: int, lr: float, tol: float) -> None:
    """A training loop run ``steps`` times on a constant gradient ``g`` (stubbed ``backward``)
    must end at θ₀ - steps·lr·g for every parameter (French failure naming the mistake)."""
    for k in g:
        want = start[k] - steps * lr * g[k]
        if params[k].shape == want.shape and np.allclose(params[k], want, rtol=tol, atol=1e-12):
            continue
        hint = named_mistake(params[k], {
            f"{k} n'est jamais mis à jour : mettez à jour W1, b1, W2 et b2 à chaque itération.": lambda: start[k],
            "la mise à jour monte le long du gradient : θ ← θ - pas·∂L/∂θ (signe -).":
                lambda: start[k] + steps * lr * g[k],
        }, rtol=tol, atol=1e-12)
        fail(f"avec un gradient constant g, {k} doit valoir {k}₀ - {steps}·pas·g après {steps} itérations.",
             hint or "θ ← θ - pas·∂L/∂θ à chaque itération, avec les gradients que backward vient de renvoyer.")


def gradient_verdict(name, got, f, at, n_examples, hint, tol: float) -> None:
    """The student's gradient ``got`` against float64 centered differences of ``f`` at ``at``:
    shape, then relative error below ``tol`` (French failure naming the likely mistake)."""
    numeric = numerical_gradient(f, np.array(at, dtype=np.float64, copy=True), 1e-6)
    got = as_array(name, got)
    guess = likely_mistake(got, numeric, n_examples)
    if got.shape != numeric.shape:
        fail(f"{name} a la forme {got.shape}, attendu {numeric.shape}.", guess or hint)
    err = relative_error(got, numeric)
    if not err < tol:
        fail(f"{name} : le gradient ne correspond pas aux différences finies centrées "
             f"(erreur relative {err:.2e} > {tol:.0e}).", guess or hint)
