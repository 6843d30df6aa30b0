"""Hidden checks of assignment 03 accept the reference answers and name typical mistakes
(probe and verdict run in this process with ``run_locally``; the reference over many seeds,
every mutant and the docstrings are in test_probe)."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.checks import spiral_softmax as chk
from autograder.checks import spiral_softmax_reference as ref
from autograder.checks.probing import run_locally
from nncourse.gradcheck import numerical_gradient, relative_error


# Notebook-like globals, for the answers written in this file.
forward, backward, cross_entropy = ref.forward, ref.backward, ref.cross_entropy


def relu(z):
    return np.maximum(z, 0.0)


REFERENCE = {"softmax": ref.softmax, "one_hot": ref.one_hot, "cross_entropy": ref.cross_entropy,
             "cross_entropy_grad": ref.cross_entropy_grad, "hinge_loss": ref.hinge_loss,
             "hinge_grad": ref.hinge_grad, "forward": ref.forward, "backward": ref.backward, "relu": relu,
             "predict": ref.predict, "train": ref.train}


def _run(check, seed=3, **functions):
    with np.errstate(all="ignore"):
        return run_locally(check, seed=seed, **{**REFERENCE, **functions})


@pytest.mark.parametrize("check", [chk.softmax_is_stable, chk.one_hot_rows, chk.cross_entropy_is_stable,
                                   chk.cross_entropy_grad_matches_differences, chk.hinge_loss_value,
                                   chk.hinge_grad_matches_differences, chk.forward_pass, chk.relu_and_its_derivative,
                                   chk.predict_argmax, *chk.GRADIENT_CHECKS.values()])
def test_reference_passes_every_numpy_check(check):
    passed, message = _run(check)
    assert passed, message
    assert message.startswith("✔") and message.endswith("(graine 3)")


def test_reference_train_passes_both_runs():
    passed, message = _run(chk.train_descends)
    assert passed and "entraînement réussi" in message, message


def test_reference_gradients_match_centered_differences():
    rng = np.random.default_rng(0)
    for activation in ("tanh", "relu"):
        X, y, params = chk._random_problem(rng, activation)
        grads = ref.backward(X, y, params, ref.forward(X, params, activation)[1], activation)
        for name in ref.PARAMS:
            num = numerical_gradient(lambda v: ref.loss_of(name, v, X, y, params, activation), params[name].copy())
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


@pytest.mark.parametrize("check, name, wrong, words", [
    (chk.softmax_is_stable, "softmax", _unstable_softmax, "maximum"),
    (chk.softmax_is_stable, "softmax",
     lambda S: np.exp(S - S.max(axis=0)) / np.exp(S - S.max(axis=0)).sum(axis=0), "axe"),
    (chk.cross_entropy_is_stable, "cross_entropy", lambda S, y: ref.cross_entropy(S, y) * len(y), "1/N"),
    (chk.cross_entropy_is_stable, "cross_entropy",
     lambda S, y: float(-np.mean(np.log(ref.softmax(S)[np.arange(len(y)), y]))), "log"),
    (chk.cross_entropy_grad_matches_differences, "cross_entropy_grad",
     lambda S, y: -ref.cross_entropy_grad(S, y), "signe"),
    (chk.hinge_loss_value, "hinge_loss", _hinge_with_true_class, "bonne classe"),
    (chk.hinge_grad_matches_differences, "hinge_grad", _hinge_grad_no_count, "bonne classe"),
    (chk.predict_argmax, "predict", lambda X, params, activation="tanh": ref.forward(X, params)[0].argmax(0),
     "argmax"),
])
def test_wrong_answers_fail_with_a_french_hint(check, name, wrong, words):
    passed, message = _run(check, **{name: wrong})
    assert not passed and words in message and "(graine 3)" in message, message


def test_a_loss_is_judged_with_the_reference_softmax_not_the_students():
    """cross_entropy_grad calls softmax and one_hot once: the grader's values are handed in,
    so a wrong softmax costs points in test_softmax only."""
    namespace = {"np": np, "softmax": _unstable_softmax, "one_hot": lambda y, K: np.zeros((len(y), K))}
    exec("def cross_entropy_grad(S, y):\n    return (softmax(S) - one_hot(y, S.shape[1])) / S.shape[0]\n",
         namespace)
    passed, message = _run(chk.cross_entropy_grad_matches_differences,
                           cross_entropy_grad=namespace["cross_entropy_grad"])
    assert passed, message


def test_train_names_the_ascent_and_carries_a_wrong_backward_forward():
    def ascent(X, y, d=30, lr=1.0, n_iter=1000, activation="tanh", rng=None):
        params, losses = ref.init_params(d, 3, rng), []
        for t in range(n_iter):
            S, cache = forward(X, params, activation)
            if t % 100 == 0:
                losses.append(cross_entropy(S, y))
            grads = backward(X, y, params, cache, activation)
            for k in ref.PARAMS:
                params[k] += lr * grads[k]
        return params, losses
    passed, message = _run(chk.train_descends, train=ascent)
    assert not passed and "monte le long du gradient" in message, message


# ------------------------------------------------------------------------------ PyTorch
def _torch_answers():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional

    class Net(torch.nn.Module):
        def __init__(self, d, n_classes=3):
            super().__init__()
            self.a, self.b = torch.nn.Linear(2, d), torch.nn.Linear(d, n_classes)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    def train_torch(model, X, y, lr=0.5, n_epochs=300, loss_fn=None, momentum=0.9):
        loss_fn = torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        losses = []
        for _ in range(n_epochs):
            loss = loss_fn(model(X), y)
            losses.append(loss.item())
            opt.zero_grad()
            loss.backward()
            opt.step()
        return losses

    def train_torch_no_momentum(model, X, y, lr=0.5, n_epochs=300, loss_fn=None):
        return train_torch(model, X, y, lr, n_epochs, momentum=0.0)

    def nll(S, y):
        return F.nll_loss(F.log_softmax(S, dim=1), y)

    def nll_unstable(S, y):
        return F.nll_loss(torch.log(F.softmax(S, dim=1)), y)

    def nll_detached(S, y):
        return nll(S, y).item()

    return torch, Net, train_torch, train_torch_no_momentum, nll, nll_unstable, nll_detached


def test_torch_checks_accept_the_reference_and_name_mistakes():
    torch, Net, train_torch, no_momentum, nll, nll_unstable, nll_detached = _torch_answers()
    for check, functions in ((chk.spiral_net_architecture, {"SpiralNet": Net}),
                             (chk.train_torch_follows_sgd, {"train_torch": train_torch}),
                             (chk.nll_is_stable_and_differentiable, {"nll_from_scores": nll})):
        passed, message = run_locally(check, seed=5, **functions)
        assert passed, message
    for check, functions, words in (
            (chk.train_torch_follows_sgd, {"train_torch": no_momentum}, "momentum 0.9"),
            (chk.nll_is_stable_and_differentiable, {"nll_from_scores": nll_unstable}, "log_softmax"),
            (chk.nll_is_stable_and_differentiable, {"nll_from_scores": nll_detached}, "reliée au graphe")):
        passed, message = run_locally(check, seed=5, **functions)
        assert not passed and words in message, message


def test_spiral_net_that_is_not_a_module_is_named():
    pytest.importorskip("torch")

    class NotAModule:
        def __init__(self, d, n_classes=3):
            pass

        def __call__(self, x):
            return x

    passed, message = run_locally(chk.spiral_net_architecture, seed=5, SpiralNet=NotAModule)
    assert not passed and "sous-classe de nn.Module" in message
