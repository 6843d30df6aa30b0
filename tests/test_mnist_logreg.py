"""Fast checks of the hidden tests of assignment 04 (no nbgrader, no MNIST): they pass the
reference functions and fail typical wrong ones with a French hint naming the mistake."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import mnist_logreg as t
from autograder.checks.common import CheckFailed


def softmax(S):
    return t.ref_softmax(S)


def forward(X, W, b):
    return softmax(X @ W + b)


def predict(X, W, b):
    return np.argmax(forward(X, W, b), axis=1)


def accuracy(W, b, X, y):
    return float(np.mean(predict(X, W, b) == y))


def test_reference_functions_pass_every_check():
    t.check_one_hot(lambda y, K=10: t.ref_one_hot(y, K))
    t.check_softmax(t.ref_softmax)
    t.check_forward(forward)
    t.check_cross_entropy(t.ref_cross_entropy)
    t.check_grad_W(t.ref_gradients)
    t.check_grad_b(t.ref_gradients)
    t.check_accuracy(predict, accuracy)
    t.check_confusion_matrix(t.ref_confusion_matrix)


def test_reference_gradients_match_centered_differences():
    rng = np.random.default_rng(0)
    X, W, b, y = t._random_problem(rng)
    Y = t.ref_one_hot(y).astype(np.float64)
    gW, gb = t.ref_gradients(X, t.ref_forward(X, W, b), Y)
    from nncourse.gradcheck import numerical_gradient, relative_error
    nW = numerical_gradient(lambda v: t.ref_cross_entropy(t.ref_forward(X, v, b), Y), W.copy())
    nb = numerical_gradient(lambda v: t.ref_cross_entropy(t.ref_forward(X, W, v), Y), b.copy())
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
    return t.ref_confusion_matrix(y_pred, y_true, K)


@pytest.mark.parametrize("check,wrong,words", [
    (t.check_softmax, _unstable, "maximum"),
    (t.check_softmax, _global_max, "GLOBAL"),
    (t.check_softmax, _wrong_axis, "COLONNES"),
    (t.check_cross_entropy, _ce_sum, "1/N"),
    (t.check_grad_W, _grads_no_mean, "1/N"),
    (t.check_grad_b, _grads_no_mean, "axis=0"),
    (t.check_confusion_matrix, _confusion_transposed, "transposée"),
])
def test_wrong_answers_fail_with_a_french_hint(check, wrong, words):
    with np.errstate(all="ignore"), pytest.raises(CheckFailed, match=words):
        check(wrong)
