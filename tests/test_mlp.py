"""The hidden checks of notebook 05 accept the reference library and reject a few mistakes
(fast: no notebook, no MNIST training)."""

import types

import numpy as np
import pytest

from autograder.checks import mlp as chk
from autograder.checks import mlp_reference as ref
from autograder.checks.common import CheckFailed


def _detached(fn):
    """A copy of a reference function with its own globals (the checks swap some of them)."""
    return types.FunctionType(fn.__code__, dict(vars(ref)), fn.__name__, fn.__defaults__)


def test_reference_passes_unit_checks():
    chk.check_zero_grad(ref.Module)
    chk.check_update_parameters(ref.Module)
    chk.check_mse_forward(ref.MSELoss)
    chk.check_mse_backward(ref.MSELoss)
    chk.check_linear_forward(ref.Linear)
    for which in ("W", "b"):
        chk.check_linear_gradient(ref.Linear, which)
    chk.check_linear_accumulate(ref.Linear)
    chk.check_linear_backward_delta(ref.Linear)
    for cls, kind in ((ref.TanH, "tanh"), (ref.Sigmoide, "sigmoide"), (ref.ReLU, "relu"),
                      (ref.Softmax, "softmax"), (ref.LogSoftmax, "logsoftmax")):
        chk.check_activation_forward(cls, kind)
        chk.check_activation_backward(cls, kind)
    chk.check_sequentiel_forward(ref.Sequentiel)
    chk.check_sequentiel_backward(ref.Sequentiel)
    chk.check_sequentiel_update(ref.Sequentiel)
    chk.check_optim_step(ref.Optim)
    chk.check_sgd(_detached(ref.SGD))
    chk.check_bce_forward(ref.BCELoss)
    chk.check_bce_backward(ref.BCELoss)
    chk.check_celoss(ref.CELoss)


class _LinearOverwrites(ref.Linear):
    def backward_update_gradient(self, input, delta):
        self._gradient["W"] = input.T @ delta
        self._gradient["b"] = delta.sum(axis=0, keepdims=True)


class _UnstableLogSoftmax(ref.Module):
    def forward(self, X):
        return np.log(np.exp(X) / np.exp(X).sum(axis=1, keepdims=True))


class _MSEMean(ref.MSELoss):
    def forward(self, y, yhat):
        return np.mean((y - yhat) ** 2)


class _OptimNoZeroGrad(ref.Optim):
    def step(self, batch_x, batch_y):
        yhat = self.net.forward(batch_x)
        self.net.backward_update_gradient(batch_x, self.loss.backward(batch_y, yhat))
        self.net.update_parameters(self.eps)
        return float(np.mean(self.loss.forward(batch_y, yhat)))


@pytest.mark.parametrize("check", [
    lambda: chk.check_linear_accumulate(_LinearOverwrites),
    lambda: chk.check_activation_forward(_UnstableLogSoftmax, "logsoftmax"),
    lambda: chk.check_mse_forward(_MSEMean),
    lambda: chk.check_optim_step(_OptimNoZeroGrad),
])
def test_mistakes_are_caught(check):
    with np.errstate(all="ignore"), pytest.raises(CheckFailed):
        check()
