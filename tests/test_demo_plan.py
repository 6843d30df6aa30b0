"""`make demo` grades what it can at once (issue 10): 01-03 need no dataset; a missing
dataset is a clean "data missing" row with the course's bilingual message; 06's reference
network is trained last, after the others are graded. Fast: grading itself is stubbed."""

from __future__ import annotations

import pytest

from autograder import cli, course, grading, samples
from autograder.grading import Outcome

NO_DATA = ["01_moons_numpy", "02_moons_pytorch", "03_spiral_softmax"]


def _fake_data(root, *datasets):
    for name in datasets:
        for f in samples.DATASET_FILES[name]:
            (root / f).parent.mkdir(parents=True, exist_ok=True)
            (root / f).write_bytes(b"")


def test_datasets_read_from_the_notebooks():
    assert {a: samples.datasets_needed(a) for a in course.assignments()} == {
        "01_moons_numpy": [], "02_moons_pytorch": [], "03_spiral_softmax": [],
        "04_mnist_logreg": ["MNIST"], "05_mlp": ["MNIST"], "06_cnn_cifar10": ["CIFAR-10"]}


def test_empty_data_root_leaves_01_to_03(tmp_path, monkeypatch):
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path))
    plan = samples.demo_plan()
    assert plan.at_once == NO_DATA and plan.last == []
    assert list(plan.missing) == ["04_mnist_logreg", "05_mlp", "06_cnn_cifar10"]
    for message in plan.missing.values():
        assert "introuvable" in message and "missing" in message and str(tmp_path) in message
    assert "MNIST" in plan.missing["04_mnist_logreg"] and "CIFAR-10" in plan.missing["06_cnn_cifar10"]


def test_reference_network_comes_last(tmp_path, monkeypatch):
    _fake_data(tmp_path, "MNIST", "CIFAR-10")
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path))
    monkeypatch.setenv("NNCOURSE_CACHE", str(tmp_path / "cache"))  # nothing cached
    plan = samples.demo_plan()
    assert plan.at_once == NO_DATA + ["04_mnist_logreg", "05_mlp"] and plan.missing == {}
    assert plan.last == ["06_cnn_cifar10"] and plan.cached == {"06_cnn_cifar10": False}
    [line] = [ln for ln in plan.lines() if "06_cnn_cifar10" in ln]
    assert "trained first" in line and "min" in line and "do not wait" in line


@pytest.fixture
def stubbed_demo(monkeypatch, tmp_path):
    """cmd_demo with nbgrader, grading and training replaced by a log of what ran."""
    log = []

    def grade(args, names, step):
        log.append(("grade", tuple(names)))
        return [Outcome("correct", a) for a in names]

    monkeypatch.setattr(grading, "prepare", lambda workdir, names: log.append(("prepare", tuple(names))))
    monkeypatch.setattr(cli, "_demo_grade", grade)
    monkeypatch.setattr(samples, "reference_files", lambda a: log.append(("train", a)) or {})
    monkeypatch.setattr("autograder.moodle_cli.demo_moodle", lambda workdir, names: [])
    monkeypatch.setenv("NNCOURSE_CACHE", str(tmp_path / "cache"))
    return log


def test_demo_without_data_grades_01_to_03_and_reports_the_rest(stubbed_demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    assert cli.main(["demo", "-w", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert stubbed_demo == [("prepare", tuple(NO_DATA)), ("grade", tuple(NO_DATA))]
    assert "Traceback" not in out
    for a in ("04_mnist_logreg", "05_mlp", "06_cnn_cifar10"):
        assert f"{a:<20} not graded: data missing / données manquantes" in out
    assert "Jeu de données CIFAR-10 introuvable" in out and "Dataset MNIST is missing" in out
    assert f"{'01_moons_numpy':<20} graded: 1 ok" in out


def test_demo_grades_01_to_05_before_training_06(stubbed_demo, tmp_path, monkeypatch, capsys):
    _fake_data(tmp_path, "MNIST", "CIFAR-10")
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path))
    assert cli.main(["demo", "-w", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    first_five = tuple(course.assignments()[:5])
    assert stubbed_demo == [("prepare", first_five + ("06_cnn_cifar10",)), ("grade", first_five),
                            ("train", "06_cnn_cifar10"), ("grade", ("06_cnn_cifar10",))]
    plan_line = out.index("graded last: 06_cnn_cifar10")  # said up front, before anything is graded
    assert plan_line < out.index("[1/4]") < out.index("[3/4] 06_cnn_cifar10: training")


def test_failed_training_is_a_row_not_a_crash(stubbed_demo, tmp_path, monkeypatch, capsys):
    _fake_data(tmp_path, "CIFAR-10")
    monkeypatch.setenv("NNCOURSE_DATA", str(tmp_path))

    def fail(a):
        raise MemoryError("out of memory")

    monkeypatch.setattr(samples, "reference_files", fail)
    assert cli.main(["demo", "-w", str(tmp_path / "demo"), "-a", "06_cnn_cifar10"]) == 0
    out = capsys.readouterr().out
    assert "06_cnn_cifar10       not graded: its reference files could not be built: MemoryError: out of memory" in out
