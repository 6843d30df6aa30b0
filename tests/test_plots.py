"""The shared figures draw what they are given (grey and colour images, predictions)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from nncourse.plots import plot_confusion_matrix, show_images  # noqa: E402


def test_image_grid_grey_and_colour_with_wrong_predictions_in_red():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (23, 28, 28), dtype=np.uint8)
    fig = show_images(grey, labels=np.arange(23) % 10, ncols=10)
    assert len(fig.axes) == 30 and sum(ax.has_data() for ax in fig.axes) == 23
    colour = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)  # CHW, any scale
    labels, preds = np.array([0, 1, 2, 3]), np.array([0, 1, 5, 3])
    fig = show_images(colour, labels, class_names=list("abcdefghij"), predictions=preds, ncols=4)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[2] == "f\n(c)" and fig.axes[2].title.get_color() == "red"
    assert titles[0] == "a" and fig.axes[0].images[0].get_array().shape == (32, 32, 3)
    plt.close("all")


def test_confusion_matrix_writes_every_count():
    matrix = np.array([[5, 1, 0], [0, 7, 2], [3, 0, 9]])
    ax = plot_confusion_matrix(matrix, ["a", "b", "c"])
    texts = sorted(int(t.get_text()) for t in ax.texts)
    assert texts == sorted(matrix.ravel().tolist())
    assert ax.get_xlabel() == "classe prédite" and ax.get_ylabel() == "vraie classe"
    plt.close("all")


def test_unlabelled_grid_is_one_picture():
    digits = np.random.default_rng(1).random((200, 28, 28)).astype(np.float32)
    fig = show_images(digits, ncols=20, size=0.4)
    assert len(fig.axes) == 1
    assert fig.axes[0].images[0].get_array().shape == (10 * 29 + 1, 20 * 29 + 1)
    plt.close("all")
