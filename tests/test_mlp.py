"""The probed checks of notebook 05 accept the reference library (``mlp_reference``) and
reject a few mistakes (fast: no notebook, no MNIST training; the notebook's own answers and
its mutants are run in test_probe and test_probe_05)."""

import contextlib
import io
import types

import numpy as np
import pytest

from autograder import judging
from autograder.checks import mlp_reference as ref
from autograder.checks.probing import run_locally

UNIT_CHECKS = ["test_zero_grad", "test_update_parameters", "test_mse_forward", "test_mse_backward",
               "test_linear_forward", "test_linear_grad_W", "test_linear_grad_b", "test_linear_accumulate",
               "test_linear_backward_delta", "test_tanh_forward", "test_tanh_backward", "test_sigmoide_forward",
               "test_sigmoide_backward", "test_relu", "test_softmax_forward", "test_softmax_backward",
               "test_logsoftmax_forward", "test_logsoftmax_backward", "test_sequentiel_forward",
               "test_sequentiel_backward", "test_sequentiel_update", "test_optim_step", "test_sgd",
               "test_bce_forward", "test_bce_backward", "test_celoss"]


def _detached(fn):
    """A copy of a reference function with its own globals (the probe swaps some of them)."""
    return types.FunctionType(fn.__code__, dict(vars(ref)), fn.__name__, fn.__defaults__)


def _library(**changes) -> dict:
    names = {k: getattr(ref, k) for k in ("Module", "MSELoss", "Linear", "TanH", "Sigmoide", "ReLU", "Softmax",
                                          "LogSoftmax", "Sequentiel", "Optim", "BCELoss", "CELoss")}
    names["SGD"] = _detached(ref.SGD)
    names.update(changes)
    return names


def _verdict(gid, functions, seed=3):
    with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
        return run_locally(judging.checks_of("05_mlp")[gid], seed=seed, **functions)


@pytest.mark.parametrize("gid", UNIT_CHECKS)
def test_the_reference_library_passes_the_unit_checks(gid):
    passed, message = _verdict(gid, _library())
    assert passed, message


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


class _SequentielKeepsInputs(ref.Sequentiel):
    def forward(self, X):
        for module in self.modules:
            self._inputs.append(X)
            X = module.forward(X)
        return X


@pytest.mark.parametrize("gid,changes,hint", [
    ("test_linear_accumulate", {"Linear": _LinearOverwrites}, "ACCUMULER"),
    ("test_logsoftmax_forward", {"LogSoftmax": _UnstableLogSoftmax}, "déborde"),
    ("test_mse_forward", {"MSELoss": _MSEMean}, "un seul nombre"),
    ("test_optim_step", {"Optim": _OptimNoZeroGrad}, "remis à zéro"),
    ("test_sequentiel_forward", {"Sequentiel": _SequentielKeepsInputs}, "remettez-la à []"),
])
def test_mistakes_are_caught_and_named(gid, changes, hint):
    passed, message = _verdict(gid, _library(**changes))
    assert not passed and hint in message, message
