"""The building blocks of the hidden tests catch what they claim to catch."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import common
from nncourse.gradcheck import numerical_gradient, relative_error


def test_numerical_gradient_is_centered_and_restores_x():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    before = x.copy()
    g = numerical_gradient(lambda v: float(np.sum(np.exp(A @ v))), x)
    exact = A.T @ np.exp(A @ x)
    assert relative_error(g, exact) < 1e-8
    assert np.array_equal(x, before)


def test_numerical_gradient_refuses_float32():
    with pytest.raises(TypeError):
        numerical_gradient(lambda v: float(v.sum()), np.ones(3, dtype=np.float32))


@pytest.mark.parametrize("mistake,words", [
    (lambda g, n: -g, "signe"),
    (lambda g, n: g / n, "divisé par N"),
    (lambda g, n: g * n, "facteur 1/N"),
    (lambda g, n: 2 * g, "2"),
    (lambda g, n: g.T, "transposée"),
    (lambda g, n: np.repeat(g[..., None], 3, axis=-1), "axe"),
])
def test_likely_mistake_names_the_usual_errors(mistake, words):
    g = np.random.default_rng(1).standard_normal((3, 5))
    assert words in common.likely_mistake(mistake(g, 7), g, n_examples=7)


def test_grad_check_fails_with_a_french_hint():
    W = np.random.default_rng(2).standard_normal((3, 2))
    f = lambda w: float(np.sum(w ** 2))  # noqa: E731
    common.grad_check("W", 2 * W, f, W)
    with pytest.raises(common.CheckFailed, match="signe"):
        common.grad_check("W", -2 * W, f, W)


def test_new_rng_is_fresh_unless_replayed(monkeypatch):
    monkeypatch.delenv(common.SEED_ENV_VAR, raising=False)
    assert common.new_rng()[1] != common.new_rng()[1]
    monkeypatch.setenv(common.SEED_ENV_VAR, "42")
    assert common.new_rng()[1] == 42


def test_call_student_turns_stubs_into_french_failures():
    def stub():
        raise NotImplementedError()
    with pytest.raises(common.CheckFailed, match="pas encore écrite"):
        common.call_student(stub, what="forward")
