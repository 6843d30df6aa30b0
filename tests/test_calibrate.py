"""``python -m autograder calibrate``: one command for every assignment's calibration."""

from __future__ import annotations

import importlib
import re

import pytest

from autograder import cli, course
from autograder.mutants import module_name


def test_calibrate_prints_each_quantity_and_a_summary(capsys):
    assert cli.main(["calibrate", "01_moons_numpy", "--seeds", "2", "--set", "iterations=3000"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("accuracy, training (tanh, 3000 iterations): mean ") and "threshold 0.97: " in out[0]
    assert out[-1].startswith("summary: accuracy, training (tanh, 3000 iterations) mean ")


def test_unknown_setting_is_named():
    with pytest.raises(SystemExit, match="key among iterations, activation"):
        cli.main(["calibrate", "01_moons_numpy", "--set", "epochs=3"])


@pytest.mark.parametrize("assignment", course.assignments())
def test_every_assignment_has_a_calibration_and_no_script_of_its_own(assignment):
    module = importlib.import_module(f"autograder.checks.{module_name(assignment)}")
    assert callable(module.calibration) and (module.calibration.__doc__ or "").strip()
    source = open(module.__file__, encoding="utf-8").read()
    assert '__name__ == "__main__"' not in source and "argparse" not in source


def test_06_prints_accuracy_and_seconds_per_seed_then_the_summary(capsys):
    """The issue-14 form: one line per seed, and a last line
    ``summary: accuracy mean … min … max …; seconds mean …`` (a tiny run here)."""
    assert cli.main(["calibrate", "06_cnn_cifar10", "--seeds", "2", "--set", "first_seed=3", "--set", "n_train=1024",
                     "--set", "epochs=0.5", "--set", "loop_seeds=0", "--set", "n_test=500"]) == 0
    out = capsys.readouterr().out.splitlines()
    for line, seed in zip(out[:2], (3, 4)):
        assert re.fullmatch(rf"reference seed {seed}: accuracy 0\.\d{{4}}, \d+ s \(0\.5 epochs\)", line), line
    assert out[-1].startswith("summary: accuracy mean ") and "; seconds mean " in out[-1]
