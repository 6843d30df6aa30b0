"""Reference modular library of notebook 05 (seed 001 "Réseau de neurones : DIY").

Same API as the notebook asks of the student: batches in rows (``batch × d``),
``Module`` with ``_parameters`` / ``_gradient`` dictionaries, ``Loss.forward`` returning
one value per example and ``Loss.backward`` the gradient of the *sum* of those values.
The hidden tests compare the student's classes with these ones.
"""

from __future__ import annotations

import numpy as np

LOG_CLIP = -100.0          # BCE: log clipped at -100 (as torch.nn.BCELoss)


class Module:
    def __init__(self):
        self._parameters = {}
        self._gradient = {}

    def zero_grad(self):
        for name, value in self._parameters.items():
            self._gradient[name] = np.zeros_like(value)

    def forward(self, X):
        raise NotImplementedError

    def backward_update_gradient(self, input, delta):
        pass

    def backward_delta(self, input, delta):
        raise NotImplementedError

    def update_parameters(self, gradient_step=1e-3):
        for name in self._parameters:
            self._parameters[name] -= gradient_step * self._gradient[name]


class Loss:
    def forward(self, y, yhat):
        raise NotImplementedError

    def backward(self, y, yhat):
        raise NotImplementedError


class MSELoss(Loss):
    def forward(self, y, yhat):
        assert y.shape == yhat.shape, f"y {y.shape} et yhat {yhat.shape} doivent avoir la même forme"
        return np.sum((y - yhat) ** 2, axis=1)

    def backward(self, y, yhat):
        assert y.shape == yhat.shape
        return 2 * (yhat - y)


class Linear(Module):
    def __init__(self, input, output, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        bound = 1.0 / np.sqrt(input)
        self._parameters = {"W": rng.uniform(-bound, bound, size=(input, output)),
                            "b": rng.uniform(-bound, bound, size=(1, output))}
        self.zero_grad()

    def forward(self, X):
        assert X.ndim == 2 and X.shape[1] == self._parameters["W"].shape[0]
        return X @ self._parameters["W"] + self._parameters["b"]

    def backward_update_gradient(self, input, delta):
        self._gradient["W"] += input.T @ delta
        self._gradient["b"] += delta.sum(axis=0, keepdims=True)

    def backward_delta(self, input, delta):
        return delta @ self._parameters["W"].T


class TanH(Module):
    def forward(self, X):
        return np.tanh(X)

    def backward_delta(self, input, delta):
        return delta * (1 - np.tanh(input) ** 2)


class Sigmoide(Module):
    def forward(self, X):
        return 0.5 * (1 + np.tanh(0.5 * X))

    def backward_delta(self, input, delta):
        s = self.forward(input)
        return delta * s * (1 - s)


class ReLU(Module):
    def forward(self, X):
        return np.maximum(X, 0)

    def backward_delta(self, input, delta):
        return delta * (input > 0)


class Sequentiel(Module):
    def __init__(self, *modules):
        super().__init__()
        self.modules = list(modules)
        self._inputs = []

    def forward(self, X):
        self._inputs = []
        for m in self.modules:
            self._inputs.append(X)
            X = m.forward(X)
        return X

    def backward_update_gradient(self, input, delta):
        for i in range(len(self.modules) - 1, -1, -1):
            self.modules[i].backward_update_gradient(self._inputs[i], delta)
            if i > 0:
                delta = self.modules[i].backward_delta(self._inputs[i], delta)

    def backward_delta(self, input, delta):
        for m, x in zip(reversed(self.modules), reversed(self._inputs)):
            delta = m.backward_delta(x, delta)
        return delta

    def zero_grad(self):
        for m in self.modules:
            m.zero_grad()

    def update_parameters(self, gradient_step=1e-3):
        for m in self.modules:
            m.update_parameters(gradient_step)


class Optim:
    def __init__(self, net, loss, eps):
        self.net, self.loss, self.eps = net, loss, eps

    def step(self, batch_x, batch_y):
        self.net.zero_grad()
        yhat = self.net.forward(batch_x)
        values = self.loss.forward(batch_y, yhat)
        self.net.backward_update_gradient(batch_x, self.loss.backward(batch_y, yhat))
        self.net.update_parameters(self.eps)
        return float(np.mean(values))


def SGD(net, loss, X, Y, batch_size, n_epochs, eps, rng=None, progress=False):
    rng = np.random.default_rng(rng)
    opt = Optim(net, loss, eps)
    losses = []
    for _ in range(n_epochs):
        order = rng.permutation(len(X))
        total = 0.0
        for start in range(0, len(X), batch_size):
            idx = order[start:start + batch_size]
            total += opt.step(X[idx], Y[idx]) * len(idx)
        losses.append(total / len(X))
    return losses


class Softmax(Module):
    def forward(self, X):
        e = np.exp(X - X.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def backward_delta(self, input, delta):
        s = self.forward(input)
        return s * (delta - np.sum(delta * s, axis=1, keepdims=True))


class LogSoftmax(Module):
    def forward(self, X):
        shifted = X - X.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))

    def backward_delta(self, input, delta):
        s = np.exp(self.forward(input))
        return delta - s * delta.sum(axis=1, keepdims=True)


class CELoss(Loss):
    """Cross-entropy on log-probabilities (after LogSoftmax), y one-hot."""

    def forward(self, y, yhat):
        return -np.sum(y * yhat, axis=1)

    def backward(self, y, yhat):
        return -y


class BCELoss(Loss):
    def forward(self, y, yhat):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(yhat), LOG_CLIP)
            log_q = np.maximum(np.log(1 - yhat), LOG_CLIP)
        return -np.sum(y * log_p + (1 - y) * log_q, axis=1)

    def backward(self, y, yhat):
        p = np.clip(yhat, np.exp(LOG_CLIP), 1 - 1e-12)
        q = np.clip(1 - yhat, np.exp(LOG_CLIP), 1)
        return -(y / p) + (1 - y) / q


def one_hot(labels, n_classes=10):
    out = np.zeros((len(labels), n_classes))
    out[np.arange(len(labels)), labels] = 1.0
    return out


def accuracy(net, X, labels, batch=5000):
    pred = np.concatenate([net.forward(X[i:i + batch]).argmax(axis=1) for i in range(0, len(X), batch)])
    return float(np.mean(pred == labels))
