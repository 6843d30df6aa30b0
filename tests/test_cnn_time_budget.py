"""Notebook 06 on a CPU hub: the pass mark a student reads, and the provided code that keeps
part 6's training within its time limit (``fit(time_limit=...)`` and ``epochs_within``),
run from the notebook's own cells on tiny data, with a network whose speed we set."""

from __future__ import annotations

import time

import nbformat
import pytest
import torch
from torch import nn

from autograder import course
from autograder.checks.cnn_cifar10 import ACCURACY_THRESHOLD
from autograder.submissions import strip_solution_markers

NOTEBOOK = course.SOURCE / "06_cnn_cifar10" / "cnn_cifar10.ipynb"


def _cells():
    return nbformat.read(NOTEBOOK, as_version=4).cells


def _grade_id(cell) -> str:
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


@pytest.fixture(scope="module")
def notebook():
    """The imports, the training loop (solution) and the provided fit cell, on 64 images."""
    ns: dict = {}
    for cell in _cells():
        if _grade_id(cell) in ("imports", "training_loop", "fit"):
            exec(compile(strip_solution_markers(cell.source), _grade_id(cell), "exec"), ns)  # noqa: S102
    generator = torch.Generator().manual_seed(0)
    ns["x_train_u8"] = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8, generator=generator)
    ns["y_train"] = torch.randint(0, 10, (64,), generator=generator)
    ns["x_train"] = ns["x_train_u8"].float() / 255
    ns["x_test"], ns["y_test"] = ns["x_train"][:32], ns["y_train"][:32]
    return ns


class Slow(nn.Module):
    """A linear classifier that takes ``delay`` seconds per call."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay, self.linear = delay, nn.Linear(3 * 8 * 8, 10)

    def forward(self, x):
        time.sleep(self.delay)
        return self.linear(x.float().flatten(1))


def test_section_6_states_the_graded_threshold_and_its_points():
    cells = _cells()
    intro = next(c.source for c in cells if c.cell_type == "markdown" and c.source.startswith("## 6."))
    points = next(c.metadata["nbgrader"]["points"] for c in cells if _grade_id(c) == "test_my_cnn_accuracy")
    assert f"seuil de la correction est de {round(ACCURACY_THRESHOLD * 100)} %" in intro
    assert f"`test_my_cnn_accuracy` ({points:g} points)" in intro
    test_cell = next(c.source for c in cells if _grade_id(c) == "test_my_cnn_accuracy")
    assert f"seuil : {round(ACCURACY_THRESHOLD * 100)} %" in test_cell


def test_fit_stops_between_epochs_before_the_limit(notebook, capsys):
    model = Slow(0.2)                        # 64 images in batches of 16: 4 + 1 calls, 1 s an epoch
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history = notebook["fit"](model, optimizer, epochs=10, batch_size=16, time_limit=2.8, title="lent")
    assert len(history["exactitude test"]) == 2       # a third epoch would end near 3 s
    assert "arrêt après 2 époque(s) sur 10" in capsys.readouterr().out


def test_fit_without_a_limit_runs_every_epoch(notebook):
    model = Slow(0.0)
    history = notebook["fit"](model, torch.optim.SGD(model.parameters(), lr=0.1), epochs=3, batch_size=16)
    assert len(history["perte entraînement"]) == 3


def test_a_half_epoch_trains_on_half_the_images(notebook):
    """fit(epochs=1.5): a whole epoch, then one on a random half of the 64 images (2 batches of 16)."""
    model, sizes = Slow(0.0), []
    forward = model.forward
    model.forward = lambda x: (sizes.append(len(x)) if model.training else None) or forward(x)
    history = notebook["fit"](model, torch.optim.SGD(model.parameters(), lr=0.1), epochs=1.5, batch_size=16)
    assert len(history["perte entraînement"]) == 2
    assert sizes == [16] * 4 + [16] * 2


@pytest.mark.parametrize("delay,limit,least,expected", [(0.0, 300, 1, 5), (0.1, 0.2, 1, 1), (0.3, 4.4, 1, 2.5),
                                                        (0.1, 0.2, 2, 2), (0.1, 0.2, 1.5, 1.5)])
def test_epochs_within_fits_the_recipe_to_the_limit(notebook, capsys, delay, limit, least, expected):
    """An epoch of the 64 images in batches of 16 is 4 training calls and one test call:
    at least 1.05 * 5 * 0.1 = 0.525 s estimated at 0.1 s a call (5 % margin); a busy machine
    makes it longer. Epochs count by halves: at 0.3 s a call (1.575 s an epoch at least), 2.5
    epochs fit 4.4 s up to 1.76 s an epoch."""
    model = Slow(delay)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    epochs = notebook["epochs_within"](limit, model, 16, 5, prepare_images=lambda images: images.float() / 255,
                                       min_epochs=least)
    out = capsys.readouterr().out
    assert epochs == expected, out
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())   # a copy was timed
    assert f"{epochs:g} époque(s) sur 5" in out
