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
