"""Visible tests: small assertions with messages in French, shared by the notebooks.

The hidden tests (instructor side) build on the same helpers, so a student sees the
same wording in the notebook and in the feedback.
"""

from __future__ import annotations

import numpy as np

from .messages import install as _install_messages


class CheckFailed(AssertionError):
    """A test did not pass; the message (in French) says what and, when known, why."""

    def _render_traceback_(self) -> list[str]:
        """What IPython shows: the message alone, no traceback into this module."""
        first, *rest = str(self).splitlines() or [""]
        return [f"\x1b[31m✘ {first}\x1b[0m", *rest]


def fail(message: str, hint: str | None = None):
    text = message if not hint else f"{message}\n  Piste : {hint}"
    raise CheckFailed(text)


def check_shape(name: str, value, expected: tuple, hint: str | None = None) -> None:
    shape = tuple(np.shape(value))
    if shape != tuple(expected):
        fail(f"{name} a la forme {shape}, attendu {tuple(expected)}.", hint)


def check_finite(name: str, value) -> None:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        fail(f"{name} contient des valeurs infinies ou NaN.",
             "un exp/log qui déborde ? une division par zéro ?")


def named_mistake(got, mistakes: dict | None, rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """The hint of the first known mistake whose value ``got`` is: ``mistakes`` maps a French
    hint to what that mistake gives on the test's inputs (the visible tests' table of known
    mistakes, as the hidden tests have theirs)."""
    for hint, wrong in (mistakes or {}).items():
        try:
            got_arr, wrong_arr = np.asarray(got, dtype=np.float64), np.asarray(wrong, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        if got_arr.shape == wrong_arr.shape and np.allclose(got_arr, wrong_arr, rtol=rtol, atol=atol):
            return hint
    return None


def check_close(name: str, got, expected, rtol: float = 1e-6, atol: float = 1e-9,
                hint: str | None = None, mistakes: dict | None = None) -> None:
    """``got`` equals ``expected`` within the tolerances; otherwise the message names the
    known mistake of ``mistakes`` (hint -> the value that mistake gives) that ``got`` is, or
    gives ``hint``."""
    got_arr = np.asarray(got, dtype=np.float64)
    exp_arr = np.asarray(expected, dtype=np.float64)
    hint = named_mistake(got_arr, mistakes, rtol, atol) or hint
    if got_arr.shape != exp_arr.shape:
        fail(f"{name} a la forme {got_arr.shape}, attendu {exp_arr.shape}.", hint)
    if not np.allclose(got_arr, exp_arr, rtol=rtol, atol=atol):
        gap = np.abs(got_arr - exp_arr)
        gap = np.where(np.isnan(gap), np.inf, gap)
        worst = float(np.max(gap))
        if got_arr.ndim <= 1 and got_arr.size <= 8:       # short enough for one line
            shown = np.array2string(got_arr, precision=4, max_line_width=10 ** 4)
            want = np.array2string(exp_arr, precision=4, max_line_width=10 ** 4)
            fail(f"{name} = {shown}, attendu {want} (écart max {worst:.3g}).", hint)
        at = np.unravel_index(int(np.argmax(gap)), gap.shape)
        wrong = int(np.sum(~np.isclose(got_arr, exp_arr, rtol=rtol, atol=atol)))
        fail(f"{name} (forme {got_arr.shape}) : {wrong} valeur(s) sur {got_arr.size} fausse(s) ; la plus éloignée, "
             f"en {list(map(int, at))}, vaut {got_arr[at]:.4g} au lieu de {exp_arr[at]:.4g}.", hint)


def check_true(condition: bool, message: str, hint: str | None = None) -> None:
    if not condition:
        fail(message, hint)


def passed(message: str = "Tests visibles réussis.") -> None:
    """The line every test cell ends with when its visible checks hold (the hidden ones
    run at grading time)."""
    print(f"✔ {message}")


_install_messages()      # in a notebook: the student's errors in French, in one line
