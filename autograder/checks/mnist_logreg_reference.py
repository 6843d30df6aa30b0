"""Reference answers of assignment 04 (MNIST logistic regression in numpy).

Rows are examples: ``X`` is ``(N, d)``, ``W`` ``(d, 10)``, ``b`` ``(10,)``, probabilities and
one-hot labels ``(N, 10)``, labels ``y`` ``(N,)`` integers in ``0..9``.
"""

from __future__ import annotations

import numpy as np

K = 10


def one_hot(y, K=K, dtype=np.float32):
    Y = np.zeros((len(y), K), dtype=dtype)
    Y[np.arange(len(y)), np.asarray(y, dtype=np.int64)] = 1
    return Y


def softmax(S):
    S = np.asarray(S, dtype=np.float64)
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def forward(X, W, b):
    return softmax(X @ W + b)


def cross_entropy(Y_hat, Y_star):
    return float(-np.mean(np.sum(Y_star * np.log(np.clip(Y_hat, 1e-12, 1.0)), axis=1)))


def gradients(X, Y_hat, Y_star):
    delta = Y_hat - Y_star
    return X.T @ delta / len(X), delta.mean(axis=0)


def predict(X, W, b):
    return np.argmax(X @ W + b, axis=1)


def accuracy(W, b, X, y):
    return float(np.mean(predict(X, W, b) == y))


def confusion_matrix(y_true, y_pred, K=K):
    return np.bincount(K * np.asarray(y_true) + np.asarray(y_pred), minlength=K * K).reshape(K, K)


def train(X, y, n_epochs=20, batch_size=100, lr=0.1, rng=0, shuffle=True):
    """The notebook's recipe: W = 0, b = 0, a fresh permutation each epoch, mini-batch SGD."""
    rng = np.random.default_rng(rng)
    N, d = X.shape
    W = np.zeros((d, K), dtype=X.dtype)
    b = np.zeros(K, dtype=X.dtype)
    Y_star = one_hot(y)
    for _ in range(n_epochs):
        order = rng.permutation(N) if shuffle else np.arange(N)
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            gW, gb = gradients(X[batch], forward(X[batch], W, b).astype(X.dtype), Y_star[batch])
            W -= lr * gW
            b -= lr * gb
    return W, b
