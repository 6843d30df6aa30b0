"""Figures used across the notebooks (matplotlib)."""

from __future__ import annotations

import numpy as np
import matplotlib.pyplot as plt


def plot_points(X, y, ax=None, title=None, cmap="cool"):
    """Scatter 2-D points coloured by class."""
    ax = ax or plt.gca()
    ax.scatter(X[:, 0], X[:, 1], c=y, s=25, cmap=cmap, edgecolors="k", linewidths=0.3)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_decision_boundary(predict, X, y, ax=None, step=0.02, margin=0.5, title=None,
                           cmap="cool"):
    """Colour the plane by ``predict`` and draw the points on top.

    ``predict`` takes an ``(M, 2)`` float64 array of points (one per row) and returns
    ``M`` class labels (0/1 for two classes, 0..K-1 otherwise).
    """
    ax = ax or plt.gca()
    x_min, x_max = X[:, 0].min() - margin, X[:, 0].max() + margin
    y_min, y_max = X[:, 1].min() - margin, X[:, 1].max() + margin
    xx, yy = np.meshgrid(np.arange(x_min, x_max, step), np.arange(y_min, y_max, step))
    grid = np.c_[xx.ravel(), yy.ravel()]
    zz = np.asarray(predict(grid)).reshape(xx.shape)
    ax.contourf(xx, yy, zz, cmap=cmap, alpha=0.35)
    plot_points(X, y, ax=ax, title=title, cmap=cmap)
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    return ax


def plot_curves(curves: dict, ax=None, xlabel="itération", ylabel="perte", every=1,
                title=None, logy=False):
    """Plot several named curves (``{"label": values}``), one point every ``every`` steps."""
    ax = ax or plt.gca()
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(len(values)) * every, values, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if len(curves) > 1:
        ax.legend()
    if title:
        ax.set_title(title)
    return ax


def show_images(images, labels=None, class_names=None, ncols=10, size=1.0, title=None,
                predictions=None):
    """Show a grid of images, with their class (and a prediction) above each one.

    ``images``: ``(N, H, W)`` grey or ``(N, 3, H, W)`` colour, numpy array or tensor,
    uint8 (0-255) or float (scaled per image to 0-1 for display). ``labels`` and
    ``predictions``: ``N`` class indices; ``class_names`` turns them into words. A wrong
    prediction is written in red. Returns the figure.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] in (1, 3):
        images = images.transpose(0, 2, 3, 1)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n = len(images)
    if labels is None:  # one picture of the whole grid: much faster than n small axes
        return _mosaic(images, ncols, size, title)

    def name(k):
        return class_names[int(k)] if class_names is not None else str(int(k))

    nrows = max(1, int(np.ceil(n / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * size * (1.25 if labels is not None else 1)),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i]
        if img.dtype != np.uint8:
            lo, hi = float(img.min()), float(img.max())
            img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
        if labels is not None:
            text, colour = name(labels[i]), "black"
            if predictions is not None:
                text = f"{name(predictions[i])}\n({text})" if predictions[i] != labels[i] else text
                colour = "red" if predictions[i] != labels[i] else "black"
            ax.set_title(text, fontsize=8, color=colour)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _mosaic(images, ncols, size, title):
    n, h, w = images.shape[:3]
    nrows = max(1, int(np.ceil(n / ncols)))
    if images.dtype != np.uint8:
        lo = images.reshape(n, -1).min(axis=1).reshape((n,) + (1,) * (images.ndim - 1))
        hi = images.reshape(n, -1).max(axis=1).reshape(lo.shape)
        images = (images - lo) / np.where(hi > lo, hi - lo, 1)
    canvas = np.ones((nrows * (h + 1) + 1, ncols * (w + 1) + 1) + images.shape[3:], dtype=images.dtype)
    canvas *= 255 if images.dtype == np.uint8 else 1
    for i in range(n):
        r, c = divmod(i, ncols)
        canvas[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + c * (w + 1): 1 + c * (w + 1) + w] = images[i]
    fig, ax = plt.subplots(figsize=(ncols * size, nrows * size))
    ax.imshow(canvas, cmap="gray" if images.ndim == 3 else None, interpolation="nearest")
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix, class_names=None, ax=None, title=None, normalize=False):
    """Draw a confusion matrix (rows: true class, columns: predicted class) with counts."""
    ax = ax or plt.gca()
    matrix = np.asarray(matrix)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    k = len(matrix)
    ax.imshow(shown, cmap="Blues")
    names = class_names if class_names is not None else [str(i) for i in range(k)]
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("classe prédite")
    ax.set_ylabel("vraie classe")
    threshold = shown.max() / 2 if shown.size else 0
    for i in range(k):
        for j in range(k):
            value = f"{shown[i, j]:.2f}" if normalize else f"{int(matrix[i, j])}"
            ax.text(j, i, value, ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > threshold else "black")
    if title:
        ax.set_title(title)
    return ax
