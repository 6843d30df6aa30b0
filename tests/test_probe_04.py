"""04 under probe and verdict: an independent correct solution gets every check, each
mutant's message names its mistake, and the shared classification checks take torch
tensors (as 06 registers them)."""

from __future__ import annotations

import contextlib
import functools
import io

import numpy as np
import pytest
import torch

from autograder.checks.concepts import classification
from autograder.checks.probing import run_locally
from autograder.mutants import catalogue
from test_probe import _failed, _functions

A = "04_mnist_logreg"

# Written differently from the reference: np.eye for one_hot, logsumexp-style softmax, loops
# over classes in the confusion matrix, rng.shuffle of an index array, a while loop on batches.
INDEPENDENT_04 = '''
import numpy as np

def one_hot(y, K=10):
    return np.eye(K, dtype=np.float32)[np.asarray(y)]

def softmax(S):
    Z = S - np.max(S, axis=1)[:, None]
    return np.exp(Z - np.log(np.sum(np.exp(Z), axis=1))[:, None])

def forward(X, W, b):
    return softmax(np.dot(X, W) + b[None, :])

def cross_entropy(Y_hat, Y_star):
    return -float(np.sum(Y_star * np.log(np.maximum(Y_hat, 1e-12)))) / len(Y_hat)

def gradients(X, Y_hat, Y_star):
    D = (Y_hat - Y_star) / X.shape[0]
    return np.dot(X.T, D), np.sum(D, axis=0)

def predict(X, W, b):
    return forward(X, W, b).argmax(1)

def accuracy(W, b, X, y):
    return float(np.count_nonzero(predict(X, W, b) == y)) / len(y)

def train(X, y, n_epochs=20, batch_size=100, lr=0.1, rng=0, X_test=None, y_test=None):
    rng = np.random.default_rng(rng)
    N, d = X.shape
    W, b = np.zeros((d, 10), dtype=X.dtype), np.zeros(10, dtype=X.dtype)
    Y = one_hot(y, 10)
    test_acc = []
    for _ in range(n_epochs):
        idx = np.arange(N)
        rng.shuffle(idx)
        start = 0
        while start < N:
            rows = idx[start:start + batch_size]
            gW, gb = gradients(X[rows], forward(X[rows], W, b), Y[rows])
            W = W - lr * gW
            b = b - lr * gb
            start += batch_size
        if X_test is not None:
            test_acc.append(accuracy(W, b, X_test, y_test))
    return W, b, test_acc

def confusion_matrix(y_true, y_pred, K=10):
    return np.array([[np.sum((y_true == i) & (y_pred == j)) for j in range(K)] for i in range(K)])
'''


def test_an_independent_correct_solution_of_04_gets_every_check():
    namespace: dict = {}
    exec(INDEPENDENT_04, namespace)
    functions = {k: v for k, v in namespace.items() if callable(v)}
    for seed in range(4):
        assert _failed(A, functions, seed) == {}, f"seed {seed}"


# A loop that computes its gradients inline instead of calling gradients(): judged from the
# weights forward sees at each step; the same loop with a wrong sign still fails.
INLINE_TRAIN = '''
def train(X, y, n_epochs=20, batch_size=100, lr=0.1, rng=0, X_test=None, y_test=None):
    rng = np.random.default_rng(rng)
    W, b = np.zeros((X.shape[1], 10), dtype=X.dtype), np.zeros(10, dtype=X.dtype)
    Y = one_hot(y, 10)
    test_acc = []
    for _ in range(n_epochs):
        order = rng.permutation(len(X))
        for i in range(0, len(X), batch_size):
            rows = order[i:i + batch_size]
            delta = forward(X[rows], W, b) - Y[rows]
            W = W SIGN lr * X[rows].T @ delta / len(rows)
            b = b SIGN lr * delta.mean(axis=0)
        if X_test is not None:
            test_acc.append(accuracy(W, b, X_test, y_test))
    return W, b, test_acc
'''


@pytest.mark.parametrize("sign,passes", [("-", True), ("+", False)])
def test_a_loop_with_inline_gradients_is_judged_by_its_steps(sign, passes):
    namespace: dict = {}
    exec(INDEPENDENT_04 + INLINE_TRAIN.replace("SIGN", sign), namespace)
    for seed in range(3):
        with contextlib.redirect_stdout(io.StringIO()):
            ok, message = run_locally(_train_check(), seed=seed, **namespace)
        assert ok == passes, message
        if not passes:
            assert "monte le long du gradient" in message


def _train_check():
    from autograder import judging
    return judging.checks_of(A)["test_train"]


HINTS_04 = {
    "one_hot_whole_columns": "exactement un 1 par ligne",
    "softmax_unstable": "exp déborde",
    "softmax_global_max": "maximum GLOBAL",
    "softmax_wrong_axis": "mauvais axe",
    "forward_scores_not_probabilities": "pas les scores",
    "cross_entropy_sum": "facteur 1/N oublié",
    "cross_entropy_mean_all_cells": "divise par 10 de trop",
    "grad_W_transposed": "transposée",
    "grad_b_wrong_axis": "axis=0",
    "grad_b_missing_1_over_N": "1/N",
    "delta_wrong_sign": "signe",
    "predict_argmax_axis0": "axis=1",
    "accuracy_in_percent": "pourcentage",
    "train_gradient_ascent": "monte le long du gradient",
    "train_no_shuffle": "pas mélangés",
    "train_last_batch_only": "un seul pas par époque",
    "train_labels_not_shuffled": "MÊMES indices",
    "confusion_transposed": "transposée",
    "confusion_fancy_index_increment": "np.add.at",
}


@pytest.mark.parametrize("name", sorted(HINTS_04))
def test_the_message_names_the_mistake_in_04(name):
    [mutant] = [m for m in catalogue(A) if m.name == name]
    with contextlib.redirect_stderr(io.StringIO()):
        failed = _failed(A, _functions(A, mutant), seed=7)
    assert set(failed) == set(mutant.breaks)
    for gid in mutant.breaks - {"test_final_accuracy"}:
        assert HINTS_04[name] in failed[gid], f"{gid}: {failed[gid]}"


# The confusion-matrix check as 06 registers it: torch tensors in, a tensor back, n_classes.
def confusion_matrix(y_true, y_pred, n_classes=10):
    counts = torch.bincount(y_true.long() * n_classes + y_pred.long(), minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)


def confusion_transposed(y_true, y_pred, n_classes=10):
    return confusion_matrix(y_pred, y_true, n_classes)


TORCH_CONFUSION = functools.partial(classification.confusion_matrix_counts, fn="confusion_matrix",
                                    default_K=10, tensor=True)


def _as_check(partial):
    def run(rng):
        return partial(rng)
    run.grade_id = "test_confusion_matrix"
    run.__name__ = "confusion"
    return run


def test_the_shared_confusion_check_takes_tensors_as_06_will():
    ok, message = run_locally(_as_check(TORCH_CONFUSION), seed=1, confusion_matrix=confusion_matrix)
    assert ok, message
    ok, message = run_locally(_as_check(TORCH_CONFUSION), seed=1, confusion_matrix=confusion_transposed)
    assert not ok and "transposée" in message


def test_the_shared_softmax_check_takes_tensors():
    check = _as_check(functools.partial(classification.softmax_rows, fn="softmax", tensor=True, rtol=1e-4, atol=1e-6))
    ok, message = run_locally(check, seed=2, softmax=lambda S: torch.softmax(S, dim=1))
    assert ok, message
    ok, message = run_locally(check, seed=2, softmax=lambda S: torch.exp(S) / torch.exp(S).sum(1, keepdim=True))
    assert not ok and "LIGNE" in message
