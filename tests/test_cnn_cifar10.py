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


def _notebook_cells(*grade_ids) -> dict:
    """The namespace of the source notebook's cells ``grade_ids`` (solutions included), run in order."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    ns = {"torch": torch, "nn": nn, "F": torch.nn.functional, "math": __import__("math")}
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") in grade_ids:
            code = "\n".join(line for line in "".join(cell["source"]).splitlines() if "### BEGIN" not in line
                             and "### END" not in line)
            exec(compile(code, "notebook", "exec"), ns)  # noqa: S102 - our own notebook
    return ns


def test_the_notebook_trains_the_reference_recipe():
    """The provided tools and the solution's MyCNN and make_training compute what the reference
    module's do: same whitening filters, same epoch images, same optimizer settings and schedule,
    same scores in training and eval mode (mirror averaged), same lookahead."""
    import autograder.checks.cnn_cifar10_reference as ref
    nb = _notebook_cells("normalize", "fit", "recipe_tools", "my_cnn", "training_recipe")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, 32, 32, generator=g)
    assert torch.allclose(nb["whitening_filters"](x), ref.whitening_filters(x))
    assert [nb["count_steps"](50_000, 512, e) for e in (1.5, 4.5, 5)] == [ref.count_steps(50_000, 512, e)
                                                                          for e in (1.5, 4.5, 5)] == [147, 441, 490]
    images = torch.randint(0, 256, (16, 3, 32, 32), dtype=torch.uint8, generator=g)
    mean, std = torch.tensor([0.5, 0.4, 0.3]), torch.tensor([0.2, 0.25, 0.3])
    torch.manual_seed(1)
    mine = nb["EpochImages"](images, mean, std)
    got = [mine(0), mine(1)]
    torch.manual_seed(1)
    theirs = ref.EpochImages(images, mean, std)
    assert all(torch.equal(a, theirs(e)) for e, a in enumerate(got))
    models = []
    for make in (nb["MyCNN"], ref.ReferenceCNN):
        torch.manual_seed(2)
        model = make()
        model.whiten.weight.data.copy_(ref.whitening_filters(x))
        fns = nb["make_training"] if make is nb["MyCNN"] else ref.make_training
        optimizer, scheduler, loss_fn = fns(model, 9)
        assert loss_fn.label_smoothing == ref.LABEL_SMOOTHING
        lrs = []
        for _ in range(9):                    # 9 steps of 8 images: the lookahead syncs at steps 5 and 9
            idx = torch.randint(0, 64, (8,), generator=torch.Generator().manual_seed(len(lrs)))
            loss = loss_fn(model(x[idx]), torch.arange(8) % 10)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            lrs.append([group["lr"] for group in optimizer.param_groups])
        models.append((model, lrs, [{k: v for k, v in group.items() if k != "params"}
                                    for group in optimizer.param_groups]))
    (mine, lrs_mine, groups_mine), (theirs, lrs_theirs, groups_theirs) = models
    assert lrs_mine == lrs_theirs and groups_mine == groups_theirs
    for k, v in theirs.state_dict().items():
        assert torch.allclose(mine.state_dict()[k], v, atol=1e-5), k
    mine.eval(), theirs.eval()
    with torch.no_grad():
        assert torch.allclose(mine(x), theirs(x), atol=1e-5)
        assert torch.allclose(mine(x), (theirs.scores(x) + theirs.scores(x.flip(-1))) / 2, atol=1e-5)


def test_good_file_loads(tmp_path, good_state):
    path = tmp_path / "cnn_weights.pt"
    torch.save(good_state, path)
    state = chk.read_weights(path)
    assert torch.equal(torch.from_numpy(state["head.weight"]), good_state["head.weight"])


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
    state["head.weight"][0, 0] = float("nan")
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
    state["head.weight"] = torch.zeros(10, 64)
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
                self.head.weight.add_(1.0)
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


def test_epoch_images_shift_each_image_and_alternate_the_mirror():
    """Each image of an epoch is a 32x32 window of the image padded by 2 reflected pixels, drawn
    per image; an image mirrored in one epoch is not in the next, and about half start mirrored."""
    import numpy as np

    import autograder.checks.cnn_cifar10_reference as ref
    images = torch.randint(0, 256, (48, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(0)
    epochs = ref.EpochImages(images, torch.zeros(3), torch.full((3,), 1 / 255))   # normalize() leaves pixels as they are
    seen = []
    for e in range(3):
        out = epochs(e).round().to(torch.uint8).numpy()
        found = []
        for img, got in zip(images.numpy(), out):
            for mirrored, source in enumerate((img, img[:, :, ::-1])):
                padded = np.pad(source, ((0, 0), (2, 2), (2, 2)), mode="reflect")
                windows = np.lib.stride_tricks.sliding_window_view(padded, (32, 32), axis=(1, 2))
                hits = np.argwhere((windows == got[:, None, None]).all(axis=(0, 3, 4)))
                if len(hits):
                    found.append((mirrored, *hits[0]))
                    break
        assert len(found) == len(images), f"epoch {e}: not a shifted window"
        seen.append(found)
    mirrored = [np.array([f[0] for f in s]) for s in seen]
    assert np.all(mirrored[0] != mirrored[1]) and np.all(mirrored[0] == mirrored[2])
    assert 10 < mirrored[0].sum() < 38
    assert len({f[1:] for f in seen[0]}) > 10            # shifts drawn per image
