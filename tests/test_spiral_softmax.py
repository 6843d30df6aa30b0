"""Hidden checks of assignment 03 accept the reference answers and name typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import spiral_softmax as chk
from autograder.checks import spiral_softmax_reference as ref
from autograder.checks.common import CheckFailed
from nncourse.gradcheck import numerical_gradient, relative_error

# Notebook-like globals: the checks swap these names for the reference ones while they run.
softmax, one_hot, cross_entropy, cross_entropy_grad = ref.softmax, ref.one_hot, ref.cross_entropy, ref.cross_entropy_grad
forward, backward = ref.forward, ref.backward


def relu(z):
    return np.maximum(z, 0.0)


def test_reference_passes_every_numpy_check():
    chk.check_softmax(ref.softmax)
    chk.check_one_hot(ref.one_hot)
    chk.check_cross_entropy(ref.cross_entropy)
    chk.check_cross_entropy_grad(ref.cross_entropy_grad)
    chk.check_hinge_loss(ref.hinge_loss)
    chk.check_hinge_grad(ref.hinge_grad)
    chk.check_forward(ref.forward)
    for name in ref.PARAMS:
        chk.check_gradient(name, ref.backward)
    chk.check_relu(relu, ref.backward)
    chk.check_predict(ref.predict)
    chk.check_train(ref.train)


def test_reference_gradients_match_centered_differences():
    rng = np.random.default_rng(0)
    for activation in ("tanh", "relu"):
        X, y, params = chk._random_problem(rng, activation)
        grads = ref.backward(X, y, params, ref.forward(X, params, activation)[1], activation)
        for name in ref.PARAMS:
            num = numerical_gradient(lambda v: ref.loss_of(name, v, X, y, params, activation),
                                         params[name].copy())
            assert relative_error(grads[name], num) < 1e-7


def _unstable_softmax(S):
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


def _hinge_with_true_class(S, y, delta=1.0):
    return float(np.maximum(0.0, S - S[np.arange(len(y)), y][:, None] + delta).sum() / len(y))


def _hinge_grad_no_count(S, y, delta=1.0):
    G = (S - S[np.arange(len(y)), y][:, None] + delta > 0).astype(float)
    G[np.arange(len(y)), y] = 0.0
    return G / len(y)


@pytest.mark.parametrize("check, wrong, words", [
    (chk.check_softmax, _unstable_softmax, "maximum"),
    (chk.check_softmax, lambda S: np.exp(S - S.max(axis=0)) / np.exp(S - S.max(axis=0)).sum(axis=0), "axe"),
    (chk.check_cross_entropy, lambda S, y: ref.cross_entropy(S, y) * len(y), "1/N"),
    (chk.check_cross_entropy, lambda S, y: float(-np.mean(np.log(ref.softmax(S)[np.arange(len(y)), y]))), "log"),
    (chk.check_cross_entropy_grad, lambda S, y: -ref.cross_entropy_grad(S, y), "signe"),
    (chk.check_hinge_loss, _hinge_with_true_class, "bonne classe"),
    (chk.check_hinge_grad, _hinge_grad_no_count, "bonne classe"),
])
def test_wrong_answers_fail_with_a_french_hint(check, wrong, words):
    with np.errstate(all="ignore"), pytest.raises(CheckFailed, match=words):
        check(wrong)


def test_torch_checks_accept_the_reference():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    class Net(torch.nn.Module):
        def __init__(self, d, n_classes=3):
            super().__init__()
            self.a, self.b = torch.nn.Linear(2, d), torch.nn.Linear(d, n_classes)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    def train_torch(model, X, y, lr=0.5, n_epochs=300, loss_fn=None):
        return chk._reference_torch_train(model, X, y, lr, n_epochs)

    chk.check_spiral_net(Net)
    chk.check_train_torch(train_torch)
    chk.check_nll(lambda S, y: F.nll_loss(F.log_softmax(S, dim=1), y))
    with pytest.raises(CheckFailed, match="log_softmax"):
        chk.check_nll(lambda S, y: F.nll_loss(torch.log(F.softmax(S, dim=1)), y))
