"""Hidden checks of assignment 04 accept the reference answers and name typical mistakes
(probe and verdict run in this process with ``run_locally``; the reference over many seeds
and every mutant are in test_probe, an independent solution and the hints in test_probe_04)."""

from __future__ import annotations

import numpy as np
import pytest

from autograder import judging
from autograder.checks import mnist_logreg_reference as ref
from autograder.checks.probing import run_locally
from nncourse.gradcheck import numerical_gradient, relative_error

CHECKS = judging.checks_of("04_mnist_logreg")
REFERENCE = {"one_hot": ref.one_hot, "softmax": ref.softmax, "forward": ref.forward,
             "cross_entropy": ref.cross_entropy, "gradients": ref.gradients, "predict": ref.predict,
             "accuracy": ref.accuracy, "confusion_matrix": ref.confusion_matrix}


def test_reference_functions_pass_every_check_but_train():
    for gid, fn in CHECKS.items():
        if gid not in ("test_train", "test_final_accuracy"):
            passed, message = run_locally(fn, seed=3, **REFERENCE)
            assert passed, f"{gid}: {message}"


def test_reference_gradients_match_centered_differences():
    rng = np.random.default_rng(0)
    X, W, b = rng.standard_normal((15, 6)), rng.standard_normal((6, 10)), rng.standard_normal(10)
    Y = ref.one_hot(rng.integers(0, 10, 15), dtype=np.float64)
    gW, gb = ref.gradients(X, ref.forward(X, W, b), Y)
    nW = numerical_gradient(lambda v: ref.cross_entropy(ref.forward(X, v, b), Y), W.copy())
    nb = numerical_gradient(lambda v: ref.cross_entropy(ref.forward(X, W, v), Y), b.copy())
    assert relative_error(gW, nW) < 1e-7 and relative_error(gb, nb) < 1e-7


def _unstable(S):
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


def _global_max(S):
    E = np.exp(S - S.max())
    return E / E.sum(axis=1, keepdims=True)


def _wrong_axis(S):
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=0, keepdims=True)


def _ce_sum(Y_hat, Y_star):
    return float(-np.sum(Y_star * np.log(Y_hat)))


def _grads_no_mean(X, Y_hat, Y_star):
    d = Y_hat - Y_star
    return X.T @ d, d.sum(axis=1)


def _confusion_transposed(y_true, y_pred, K=10):
    return ref.confusion_matrix(y_pred, y_true, K)


def _one_hot_float64(y, K=10):
    return np.eye(K)[y]


@pytest.mark.parametrize("gid,name,wrong,words", [
    ("test_softmax", "softmax", _unstable, "exp déborde"),
    ("test_softmax", "softmax", _global_max, "GLOBAL"),
    ("test_softmax", "softmax", _wrong_axis, "colonnes"),
    ("test_cross_entropy", "cross_entropy", _ce_sum, "1/N"),
    ("test_grad_W", "gradients", _grads_no_mean, "facteur 1/N oublié"),
    ("test_grad_b", "gradients", _grads_no_mean, "axis=0"),
    ("test_confusion", "confusion_matrix", _confusion_transposed, "transposée"),
    ("test_one_hot", "one_hot", _one_hot_float64, "float32"),
])
def test_wrong_answers_fail_with_a_french_hint(gid, name, wrong, words):
    with np.errstate(all="ignore"):
        passed, message = run_locally(CHECKS[gid], seed=5, **{**REFERENCE, name: wrong})
    assert not passed and words in message, message
