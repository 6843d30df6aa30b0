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


def test_06_family_trains_for_the_epochs_the_notebook_fits_in_the_time_budget(capsys):
    """``family_seconds``: the notebook's own ``epochs_within`` times the network on this machine
    and picks its epochs (here a budget so large that it gives the notebook's most, 5 epochs,
    where ``family_epochs`` would give 1.5); a tiny run on 512 images."""
    assert cli.main(["calibrate", "06_cnn_cifar10", "--seeds", "1", "--set", "reference=0",
                     "--set", "family=seednet-bn-cosine", "--set", "family_seconds=100000", "--set", "n_train=512",
                     "--set", "n_test=200", "--set", "loop_seeds=0"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"Sur cette machine : environ \d+ s par époque, donc 5 époque\(s\) sur 5 dans la limite "
                        r"de 100000 s\.", out[0]), out[0]
    assert re.fullmatch(r"seednet-bn-cosine seed 0: accuracy 0\.\d{4}, \d+ s \(5 epochs\)", out[1]), out[1]
    assert out[-1].startswith("summary: seednet-bn-cosine accuracy mean ")


def test_06_family_names_an_unknown_member():
    with pytest.raises(SystemExit, match="expected 'all' or names among blocks-onecycle, small-vgg-adam"):
        cli.main(["calibrate", "06_cnn_cifar10", "--seeds", "1", "--set", "family=resnet", "--set", "loop_seeds=0"])
