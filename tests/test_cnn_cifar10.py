"""Fast tests of notebook 06's weight-file checks and of the training-loop checks it shares
with 05 (no nbgrader, no training).

Each bad file a student could hand in must give a clear French CheckFailed (zero for the
accuracy test), never another exception, and is read by the grader only with
``weights_only=True``; the reference architecture of the checks module must match the
notebook's MyCNN (the cached reference weights are loaded into it). The accuracy check
itself runs as probe and verdict (``run_locally``, the files handed to the check).
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from autograder.checks import cnn_cifar10 as chk
from autograder.checks.cnn_cifar10 import weights as weights_check
from autograder.checks.cnn_cifar10_reference import ReferenceCNN
from autograder.checks.probing import run_locally
from nncourse.checks import CheckFailed

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "source" / "06_cnn_cifar10" / "cnn_cifar10.ipynb"


def _notebook_class(grade_id: str, name: str):
    """The class defined by an answer cell of the source notebook (solution included)."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    code = "\n".join(line for line in "".join(cell["source"]).splitlines() if "### BEGIN" not in line
                     and "### END" not in line)
    ns = {"torch": torch, "nn": nn, "F": torch.nn.functional}
    exec(compile(code, grade_id, "exec"), ns)  # noqa: S102 - our own notebook
    return ns[name]


@pytest.fixture(scope="module")
def good_state():
    torch.manual_seed(0)
    return ReferenceCNN().state_dict()


def _fails(path, match):
    with pytest.raises(CheckFailed, match=match):
        chk.read_weights(path)


def _graded(cls, path):
    """(passed, message) of the accuracy check with ``path`` handed in and ``cls`` as MyCNN."""
    return run_locally(weights_check.my_cnn_accuracy_from_weights, seed=0,
                       files={"cnn_weights.pt": path}, MyCNN=cls)


def test_reference_architecture_matches_notebook(good_state):
    MyCNN = _notebook_class("my_cnn", "MyCNN")
    theirs = MyCNN().state_dict()
    assert list(theirs) == list(good_state)
    assert all(theirs[k].shape == good_state[k].shape for k in theirs)


def test_good_file_loads(tmp_path, good_state):
    path = tmp_path / "cnn_weights.pt"
    torch.save(good_state, path)
    state = chk.read_weights(path)
    assert torch.equal(torch.from_numpy(state["classifier.weight"]), good_state["classifier.weight"])


def test_channels_last_file_loads(tmp_path):
    model = ReferenceCNN().to(memory_format=torch.channels_last)
    path = tmp_path / "cnn_weights.pt"
    torch.save(model.state_dict(), path)
    state = chk.read_weights(path)
    assert list(state) == list(model.state_dict())
    assert all(torch.equal(torch.from_numpy(state[k]), v) for k, v in model.state_dict().items())


def test_missing_file(tmp_path):
    _fails(tmp_path / "cnn_weights.pt", "absent")


def test_corrupt_file(tmp_path):
    path = tmp_path / "cnn_weights.pt"
    path.write_bytes(os.urandom(3000))
    _fails(path, "illisible|autre chose que des tenseurs")


def test_truncated_file(tmp_path, good_state):
    path = tmp_path / "cnn_weights.pt"
    torch.save(good_state, path)
    path.write_bytes(path.read_bytes()[:5000])
    _fails(path, "illisible")


class _Payload:
    """An object whose unpickling would run code (os.system) if it were allowed."""

    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/nncourse_pwned",))


def test_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "cnn_weights.pt"
    torch.save({"weights": _Payload()}, path)
    _fails(path, "weights_only")
    assert not Path("/tmp/nncourse_pwned").exists()


def test_plain_pickle_with_code_is_refused(tmp_path):
    path = tmp_path / "cnn_weights.pt"
    path.write_bytes(pickle.dumps(_Payload()))
    with pytest.raises(CheckFailed):
        chk.read_weights(path)
    assert not Path("/tmp/nncourse_pwned").exists()


def test_whole_model_is_refused(tmp_path):
    path = tmp_path / "cnn_weights.pt"
    torch.save(ReferenceCNN(), path)
    _fails(path, "weights_only|state_dict")


def test_not_a_state_dict(tmp_path):
    path = tmp_path / "cnn_weights.pt"
    torch.save([torch.zeros(3)], path)
    _fails(path, "state_dict")


def test_wrong_dtype(tmp_path, good_state):
    path = tmp_path / "cnn_weights.pt"
    torch.save({k: v.double() if v.is_floating_point() else v for k, v in good_state.items()}, path)
    _fails(path, "float64")


def test_nan_weights(tmp_path, good_state):
    state = {k: v.clone() for k, v in good_state.items()}
    state["classifier.weight"][0, 0] = float("nan")
    path = tmp_path / "cnn_weights.pt"
    torch.save(state, path)
    _fails(path, "NaN")


def test_too_many_values(tmp_path):
    path = tmp_path / "cnn_weights.pt"
    torch.save({"w": torch.zeros(7_000_000)}, path)
    _fails(path, "limite")


def test_missing_file_costs_the_accuracy_test_only(tmp_path):
    passed, message = _graded(ReferenceCNN, tmp_path / "cnn_weights.pt")
    assert not passed and "absent" in message


def test_wrong_architecture(tmp_path):
    other = nn.Sequential(nn.Flatten(), nn.Linear(3072, 10))
    path = tmp_path / "cnn_weights.pt"
    torch.save(other.state_dict(), path)
    passed, message = _graded(ReferenceCNN, path)
    assert not passed and "ne correspondent pas" in message


def test_wrong_shapes(tmp_path, good_state):
    state = dict(good_state)
    state["classifier.weight"] = torch.zeros(10, 64)
    path = tmp_path / "cnn_weights.pt"
    torch.save(state, path)
    passed, message = _graded(ReferenceCNN, path)
    assert not passed and "formes différentes" in message


def test_student_class_that_raises(tmp_path, good_state):
    class Broken(nn.Module):
        def __init__(self):
            raise NotImplementedError()

    path = tmp_path / "cnn_weights.pt"
    torch.save(good_state, path)
    passed, message = _graded(Broken, path)
    assert not passed and "pas encore écrite" in message


def test_a_network_that_changes_its_weights_is_caught(tmp_path, good_state):
    class Sneaky(ReferenceCNN):
        def forward(self, x):
            with torch.no_grad():
                self.classifier.bias.add_(1.0)
            return super().forward(x)

    path = tmp_path / "cnn_weights.pt"
    torch.save(good_state, path)
    passed, message = _graded(Sneaky, path)
    assert not passed and "ne contient pas les poids" in message


def test_untrained_weights_fail_the_threshold(tmp_path, good_state):
    path = tmp_path / "cnn_weights.pt"
    torch.save(good_state, path)
    passed, message = _graded(ReferenceCNN, path)
    assert not passed and "exactitude" in message


# ------------------------------------- the training-loop checks 06 shares with 05 (concepts.training)
def _check(gid):
    from autograder import judging
    return judging.checks_of("06_cnn_cifar10")[gid]


def _train_epoch(step_per_epoch=False, step=True):
    def train_epoch(model, x, y, optimizer, loss_fn, batch_size=256, scheduler=None, progress=True):
        model.train()
        perm = torch.randperm(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = perm[start:start + batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None and step and not step_per_epoch:
                scheduler.step()
            total += loss.item() * len(idx)
        if scheduler is not None and step_per_epoch:
            scheduler.step()
        return total / len(x)
    return train_epoch


def test_train_epoch_check_replays_the_scheduler_step_by_step():
    for seed in range(4):
        ok, message = run_locally(_check("test_train_epoch"), seed=seed, train_epoch=_train_epoch())
        assert ok, message
    ok, message = run_locally(_check("test_train_epoch"), seed=1, train_epoch=_train_epoch(step=False))
    assert not ok and "scheduler.step() oublié" in message, message
    ok, message = run_locally(_check("test_train_epoch"), seed=1, train_epoch=_train_epoch(step_per_epoch=True))
    assert not ok and "une fois par époque" in message, message


def _evaluate(eval_mode=True, no_grad=True, weighted=True):
    def evaluate(model, x, y, loss_fn, batch_size=1000):
        import contextlib
        if eval_mode:
            model.eval()
        losses, sizes, correct = [], [], 0
        with torch.no_grad() if no_grad else contextlib.nullcontext():
            for start in range(0, len(x), batch_size):
                xb, yb = x[start:start + batch_size], y[start:start + batch_size]
                scores = model(xb)
                losses.append(loss_fn(scores, yb).item())
                sizes.append(len(yb))
                correct += (scores.argmax(dim=1) == yb).sum().item()
        loss = sum(a * b for a, b in zip(losses, sizes)) / len(x) if weighted else sum(losses) / len(losses)
        return loss, correct / len(x)
    return evaluate


def test_evaluate_check_sees_eval_mode_and_no_grad_through_the_monitor():
    for seed in range(4):
        ok, message = run_locally(_check("test_evaluate"), seed=seed, evaluate=_evaluate())
        assert ok, message
    ok, message = run_locally(_check("test_evaluate"), seed=2, evaluate=_evaluate(no_grad=False))
    assert not ok and "torch.no_grad()" in message, message     # numbers returned: only the Monitor sees it
    ok, message = run_locally(_check("test_evaluate"), seed=2, evaluate=_evaluate(eval_mode=False))
    assert not ok and "model.eval()" in message, message


def test_evaluate_check_names_unweighted_batch_means():
    for seed in range(4):      # the check makes the last batch smaller
        ok, message = run_locally(_check("test_evaluate"), seed=seed, evaluate=_evaluate(weighted=False))
        assert not ok and "moyenne des coûts des lots" in message, message


def test_normalize_check_names_statistics_broadcast_on_the_last_axis():
    def normalize(images, mean, std):
        return (images.to(torch.float32) / 255.0 - mean) / std        # (3,) broadcast on the width
    ok, message = run_locally(_check("test_normalize"), seed=3, normalize=normalize)
    assert not ok and "canal par canal" in message, message

    def normalize_ok(images, mean, std):
        return (images.float() / 255 - mean[:, None, None]) / std[:, None, None]
    assert run_locally(_check("test_normalize"), seed=3, normalize=normalize_ok)[0]
