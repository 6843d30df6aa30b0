"""Reference two-layer network of TP3 (numpy, column convention, summed cross-entropy).

Shapes: X (2, M), y (1, M), W1 (d, 2), b1 (d, 1), W2 (1, d), b2 (1, 1).
Shared by the hidden tests of notebooks 01 (numpy) and 02 (PyTorch).
"""

from __future__ import annotations

import numpy as np

DERIVATIVES = ("yhat", "Z2", "W2", "b2", "A1", "Z1", "W1", "b1")


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def activation(z, kind="tanh"):
    return np.tanh(z) if kind == "tanh" else np.maximum(z, 0.0)


def activation_grad(z, a, kind="tanh"):
    return 1.0 - a ** 2 if kind == "tanh" else (z > 0).astype(z.dtype)


def init_params(d, rng, scale=0.01):
    return {"W1": scale * rng.standard_normal((d, 2)), "b1": np.zeros((d, 1)),
            "W2": scale * rng.standard_normal((1, d)), "b2": np.zeros((1, 1))}


def random_params(d, rng, scale=1.0):
    """Parameters with non-zero biases, so that every derivative is exercised."""
    return {"W1": scale * rng.standard_normal((d, 2)), "b1": scale * rng.standard_normal((d, 1)),
            "W2": scale * rng.standard_normal((1, d)), "b2": scale * rng.standard_normal((1, 1))}


def forward(X, params, kind="tanh"):
    Z1 = params["W1"] @ X + params["b1"]
    A1 = activation(Z1, kind)
    Z2 = params["W2"] @ A1 + params["b2"]
    yhat = sigmoid(Z2)
    return yhat, {"Z1": Z1, "A1": A1, "Z2": Z2, "yhat": yhat}


def loss(yhat, y):
    return float(-np.sum(y * np.log(yhat) + (1 - y) * np.log(1 - yhat)))


def loss_from(name, value, X, y, params, kind="tanh"):
    """The loss as a function of one intermediate quantity (the rest of the forward pass)."""
    if name == "yhat":
        return loss(value, y)
    if name == "Z2":
        return loss(sigmoid(value), y)
    if name == "A1":
        return loss(sigmoid(params["W2"] @ value + params["b2"]), y)
    if name == "Z1":
        return loss(sigmoid(params["W2"] @ activation(value, kind) + params["b2"]), y)
    p = dict(params, **{name: value})
    return loss(forward(X, p, kind)[0], y)


def local_backward(name, upstream, X, params, cache, kind="tanh"):
    """One chain-rule step: the derivative ``name`` from the derivative just above it.

    ``upstream`` maps the names of the derivatives above (as the student computed them).
    """
    y_ = upstream
    if name == "Z2":
        yhat = cache["yhat"]
        return y_["yhat"] * yhat * (1 - yhat)
    if name == "W2":
        return y_["Z2"] @ cache["A1"].T
    if name == "b2":
        return y_["Z2"].sum(axis=1, keepdims=True)
    if name == "A1":
        return params["W2"].T @ y_["Z2"]
    if name == "Z1":
        return y_["A1"] * activation_grad(cache["Z1"], cache["A1"], kind)
    if name == "W1":
        return y_["Z1"] @ X.T
    if name == "b1":
        return y_["Z1"].sum(axis=1, keepdims=True)
    raise KeyError(name)


UPSTREAM = {"yhat": None, "Z2": "yhat", "W2": "Z2", "b2": "Z2", "A1": "Z2",
            "Z1": "A1", "W1": "Z1", "b1": "Z1"}


def backward(X, y, params, cache, kind="tanh"):
    yhat = cache["yhat"]
    g = {"yhat": -y / yhat + (1 - y) / (1 - yhat)}
    g["Z2"] = yhat - y  # simplified: avoids 0/0 when yhat saturates
    for name in ("W2", "b2", "A1", "Z1", "W1", "b1"):
        g[name] = local_backward(name, g, X, params, cache, kind)
    return g


# ----------------------------------------------------------------- training (TP3)
def predict(X, params, kind="tanh"):
    """Class labels (1, M) in {0., 1.}: 1 where the network outputs more than 0.5."""
    return (forward(X, params, kind)[0] > 0.5).astype(np.float64)


def accuracy(params, X, y, kind="tanh"):
    return float(np.mean(predict(X, params, kind) == y))


def train(X, y, d=10, lr=0.01, n_iter=2000, kind="tanh", rng=None, scale=0.01, every=100, start=None):
    """The TP3 recipe: full-batch gradient descent on the summed cross-entropy.

    W ~ scale * N(0, 1), b = 0, or the parameters ``start`` (copied). Returns (params,
    losses), the loss recorded at iterations 0, every, 2*every, ...
    """
    if start is not None:
        params = {k: np.array(v, dtype=np.float64) for k, v in start.items()}
    else:
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        params = init_params(d, rng, scale)
    losses = []
    for t in range(n_iter):
        yhat, cache = forward(X, params, kind)
        if t % every == 0:
            losses.append(loss(yhat, y))
        g = backward(X, y, params, cache, kind)
        for name in ("W1", "b1", "W2", "b2"):
            params[name] -= lr * g[name]
    return params, losses
