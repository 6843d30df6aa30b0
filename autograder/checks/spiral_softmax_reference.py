"""Reference answers of assignment 03 (softmax, hinge and a two-layer network on the spiral).

Row convention throughout: ``X`` is ``(N, 2)`` (one point per row), scores ``S`` are
``(N, K)``, labels ``y`` are ``(N,)`` integers in ``0..K-1``. Parameters:
``W1 (2, d)``, ``b1 (1, d)``, ``W2 (d, K)``, ``b2 (1, K)``.
"""

from __future__ import annotations

import numpy as np

PARAMS = ("W1", "b1", "W2", "b2")


# ----------------------------------------------------------------- losses
def softmax(S):
    S = np.asarray(S, dtype=np.float64)
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def one_hot(y, K):
    y = np.asarray(y).astype(np.int64)
    Y = np.zeros((len(y), K))
    Y[np.arange(len(y)), y] = 1.0
    return Y


def log_softmax(S):
    S = np.asarray(S, dtype=np.float64)
    shifted = S - S.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def cross_entropy(S, y):
    y = np.asarray(y).astype(np.int64)
    return float(-np.mean(log_softmax(S)[np.arange(len(y)), y]))


def cross_entropy_grad(S, y):
    S = np.asarray(S, dtype=np.float64)
    return (softmax(S) - one_hot(y, S.shape[1])) / S.shape[0]


def hinge_margins(S, y, delta=1.0):
    """max(0, S_j - S_y + delta) for j != y, 0 on the true class."""
    S = np.asarray(S, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    idx = np.arange(len(y))
    M = np.maximum(0.0, S - S[idx, y][:, None] + delta)
    M[idx, y] = 0.0
    return M


def hinge_loss(S, y, delta=1.0):
    return float(hinge_margins(S, y, delta).sum(axis=1).mean())


def hinge_grad(S, y, delta=1.0):
    S = np.asarray(S, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    G = (hinge_margins(S, y, delta) > 0).astype(np.float64)
    G[np.arange(len(y)), y] = -G.sum(axis=1)
    return G / len(y)


# ----------------------------------------------------------------- network
def init_params(d, K, rng):
    rng = np.random.default_rng(rng)
    return {"W1": rng.standard_normal((2, d)), "b1": np.zeros((1, d)),
            "W2": rng.standard_normal((d, K)) / np.sqrt(d), "b2": np.zeros((1, K))}


def activate(Z, activation):
    return np.tanh(Z) if activation == "tanh" else np.maximum(Z, 0.0)


def forward(X, params, activation="tanh"):
    Z1 = X @ params["W1"] + params["b1"]
    A1 = activate(Z1, activation)
    S = A1 @ params["W2"] + params["b2"]
    return S, {"Z1": Z1, "A1": A1, "S": S}


def backward(X, y, params, cache, activation="tanh"):
    Z1, A1, S = cache["Z1"], cache["A1"], cache["S"]
    dS = cross_entropy_grad(S, y)
    dW2 = A1.T @ dS
    db2 = dS.sum(axis=0, keepdims=True)
    dA1 = dS @ params["W2"].T
    dZ1 = dA1 * (1 - A1 ** 2) if activation == "tanh" else dA1 * (Z1 > 0)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0, keepdims=True), "W2": dW2, "b2": db2}


def sgd_momentum(params, X, y, lr, n_epochs, momentum=0.9, zero_grad=True):
    """Per-epoch losses and final parameters of full-batch ``torch.optim.SGD(lr, momentum)`` on the cross-entropy of
    the ReLU network ``params``, in float64: the run ``train_torch`` must follow (a loss, then
    the step). ``zero_grad=False``: the gradients accumulate, as when ``optimizer.zero_grad()``
    is forgotten."""
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    buffers, summed, losses = {}, {k: 0.0 for k in p}, []
    for _ in range(n_epochs):
        S, cache = forward(X, p, "relu")
        losses.append(cross_entropy(S, y))
        grads = backward(X, y, p, cache, "relu")
        if not zero_grad:
            summed = {k: summed[k] + grads[k] for k in p}
            grads = summed
        for k in p:                      # torch's SGD: the first buffer is the gradient itself
            buffers[k] = grads[k] if k not in buffers else momentum * buffers[k] + grads[k]
            p[k] = p[k] - lr * buffers[k]
    return np.array(losses), p


def loss_of(name, value, X, y, params, activation="tanh"):
    """Cross-entropy of the network with parameter ``name`` replaced by ``value``."""
    p = dict(params)
    p[name] = value
    return cross_entropy(forward(X, p, activation)[0], y)


def predict(X, params, activation="tanh"):
    return forward(X, params, activation)[0].argmax(axis=1)


def accuracy(params, X, y, activation="tanh"):
    return float(np.mean(predict(X, params, activation) == np.asarray(y)))


def train(X, y, d=30, lr=1.0, n_iter=1000, activation="tanh", rng=None, K=3):
    params = init_params(d, K, rng)
    losses = []
    for t in range(n_iter):
        S, cache = forward(X, params, activation)
        if t % 100 == 0:
            losses.append(cross_entropy(S, y))
        grads = backward(X, y, params, cache, activation)
        for name in PARAMS:
            params[name] -= lr * grads[name]
    return params, losses


def train_linear(X, y, lr=1.0, n_iter=300, loss="ce", delta=1.0, K=3):
    """Linear classifier S = X W + b by full-batch gradient descent (for the calibration)."""
    W, b = np.zeros((X.shape[1], K)), np.zeros((1, K))
    for _ in range(n_iter):
        S = X @ W + b
        dS = cross_entropy_grad(S, y) if loss == "ce" else hinge_grad(S, y, delta)
        W -= lr * X.T @ dS
        b -= lr * dS.sum(axis=0, keepdims=True)
    return W, b
