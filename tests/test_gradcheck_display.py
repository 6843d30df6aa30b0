"""The relative-error line the test cells print: the number and its scale, and never an
exception of its own (a wrong gradient is for the cell's checks to fail)."""

from __future__ import annotations

import numpy as np

from nncourse.checks import passed
from nncourse.gradcheck import error_line, gradient_check, show_gradient_error


def _problem():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 3))
    x = rng.standard_normal(3)
    return A, x, (lambda v: float(np.sum(np.tanh(A @ v) ** 2))), \
        (lambda v: A.T @ (2 * np.tanh(A @ v) * (1 - np.tanh(A @ v) ** 2)))


def test_correct_gradient_small_error_and_scale(capsys):
    A, x, loss, grad = _problem()
    before = x.copy()
    err = show_gradient_error("∂L/∂x", grad(x), loss, x)
    out = capsys.readouterr().out
    assert err is not None and err < 1e-8
    assert out.startswith("erreur relative ∂L/∂x : ") and "(attendu < 1e-7 ; au-delà de 1e-4 le gradient est faux)" in out
    assert "faux" not in out.split(")")[-1]
    assert np.array_equal(x, before)            # x is never modified


def test_wrong_gradient_said_wrong(capsys):
    A, x, loss, grad = _problem()
    err = show_gradient_error("∂L/∂x", 2 * grad(x), loss, x)
    assert err > 1e-2 and "← gradient faux" in capsys.readouterr().out


def test_a_thunk_is_called_and_its_errors_caught(capsys):
    A, x, loss, grad = _problem()
    assert show_gradient_error("g", lambda: grad(x), loss, x) < 1e-8

    def not_written():
        raise NotImplementedError()
    assert show_gradient_error("g", not_written, loss, x) is None
    assert "(not_written n'est pas encore écrite)" in capsys.readouterr().out
    assert show_gradient_error("g", lambda: {}["W1"], loss, x) is None
    assert "KeyError" in capsys.readouterr().out


def test_wrong_shape_nan_and_failing_loss_do_not_raise(capsys):
    A, x, loss, grad = _problem()
    assert show_gradient_error("g", np.zeros((3, 1)), loss, x) is None
    assert "forme (3, 1) au lieu de (3,)" in capsys.readouterr().out
    assert show_gradient_error("g", [np.nan, 0, 0], loss, x) is None
    assert "NaN" in capsys.readouterr().out
    assert show_gradient_error("g", None, loss, x) is None
    assert show_gradient_error("g", grad(x), lambda v: v, x) is None      # not a number
    assert "non calculée" in capsys.readouterr().out

    def loss_not_written(v):
        raise NotImplementedError()
    assert show_gradient_error("g", grad(x), lambda v: loss_not_written(v), x) is None
    assert "(loss_not_written n'est pas encore écrite)" in capsys.readouterr().out


def test_float32_point_is_differentiated_in_float64(capsys):
    A, x, loss, grad = _problem()
    assert show_gradient_error("g", grad(x), loss, x.astype(np.float32)) < 1e-4


def test_error_line_verdicts():
    assert error_line("g", 3e-10).endswith("le gradient est faux)")
    assert error_line("g", 1e-5).endswith("← à surveiller")
    assert error_line("g", 1e-2).endswith("← gradient faux")


def test_gradient_check_prints_the_same_line(capsys):
    A, x, loss, grad = _problem()
    assert gradient_check(loss, x, grad(x), name="x") < 1e-8
    assert capsys.readouterr().out.startswith("erreur relative x : ")


def test_passed_line(capsys):
    passed()
    assert capsys.readouterr().out == "✔ Tests visibles réussis.\n"


def test_the_point_may_be_computed_lazily(capsys):
    A, x, loss, grad = _problem()
    assert show_gradient_error("g", grad(x), loss, lambda: x) < 1e-8

    def forward_not_written():
        raise NotImplementedError()
    assert show_gradient_error("g", grad(x), loss, forward_not_written) is None
    assert "pas encore écrite" in capsys.readouterr().out
