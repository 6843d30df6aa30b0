"""06_cnn_cifar10 as probe and verdict: the probe capabilities it added (notebook variables,
conv/pool/dropout/monitor layers, kept derived arguments, modules loaded / summarised /
digested, uint8 tensors, checks that read the handed-in files), an independent correct
solution, and the hint each mutant gets."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograder.checks import probing
from autograder.checks.probing import Call, Of, Pending, Sequential, Tensor, check, run_locally
from autograder.mutants import catalogue
from nncourse import probe as kernel_side
from nncourse.probe import ProbeDataError, decode_input

from test_probe import _failed, _functions

torch = pytest.importorskip("torch")
A = "06_cnn_cifar10"


def _run(call: Call, **functions):
    plan = json.loads(json.dumps(call.to_plan()))
    return json.loads(json.dumps(kernel_side.run_call(plan, functions)))


# ----------------------------------------------------------------- probe capabilities
def test_a_notebook_variable_is_read_and_indexed():
    table = torch.arange(12.0).reshape(4, 3)
    assert kernel_side.decode(_run(Call("table"), table=table)["value"]).shape == (4, 3)
    rows = kernel_side.decode(_run(Call("table", (Tensor(np.array([3, 1])),)), table=table)["value"])
    assert np.array_equal(rows, [[9, 10, 11], [3, 4, 5]])


def test_uint8_images_stay_uint8():
    t = decode_input(json.loads(json.dumps(probing.encode_input(Tensor(np.arange(6, dtype=np.uint8))))))
    assert t.dtype == torch.uint8


def test_conv_layers_monitor_and_eval_mode():
    w = np.ones((2, 3, 3, 3)) / 27
    net = decode_input(json.loads(json.dumps(probing.encode_input(Sequential(
        (("Monitor",), ("Conv2d", w, np.zeros(2), 1, 1), ("MaxPool2d", 2), ("Dropout", 0.5), ("Flatten",)),
        training=False)))))
    assert not net.training and net(torch.ones(1, 3, 4, 4)).shape == (1, 8)
    state = net.state_dict()
    assert int(state["0.calls"]) == 1 and int(state["0.train_calls"]) == 0 and int(state["0.grad_calls"]) == 1


@pytest.mark.parametrize("spec", [{"layer": "Conv2d", "weight": [], "bias": []},
                                  {"layer": "MaxPool2d", "kernel": -1}, {"layer": "Dropout", "p": 2.0},
                                  {"layer": "Monitor", "x": 1}, {"layer": "Embedding"}])
def test_malformed_layers_are_refused(spec):
    with pytest.raises(ProbeDataError):
        decode_input({"__sequential__": [spec]})


def one_sgd_epoch(model, x, y, optimizer, loss_fn, scheduler=None):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return loss.item()


def test_kept_arguments_carry_an_optimizer_and_its_scheduler_over_repeats():
    layers = (("Linear", np.ones((2, 3)), np.zeros(2)),)
    call = Call("one_sgd_epoch", (Sequential(layers, "f8"), Tensor(np.ones((4, 3))), Tensor(np.array([0, 1, 0, 1])),
                                  Of("sgd", 0, {"lr": 1.0}, keep=True), Of("cross_entropy_loss", 0, {}, keep=True),
                                  Of("step_lr", 3, {"gamma": 0.5}, keep=True)), watch=(0,), repeat=3)
    r = _run(call, one_sgd_epoch=one_sgd_epoch)
    assert len(r["again"]) == 2
    # all rows equal and balanced labels: the gradient is zero for the weights' difference, so
    # only the learning rate matters; the scheduler halves it once per call, kept across repeats
    assert "error" not in r


def test_a_module_is_loaded_put_in_eval_mode_summarised_or_digested():
    state = {"weight": np.full((2, 3), 0.5, dtype=np.float32), "bias": np.zeros(2, dtype=np.float32)}

    def make():
        return torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.9))
    r = _run(Call("make", (), load_state={"0." + k: v for k, v in state.items()}, eval_mode=True, state_digest=True,
                  call_result=(Tensor(np.ones((1, 3), dtype=np.float32)),)), make=make)
    assert np.allclose(kernel_side.decode(r["result_value"]), 1.5)     # eval mode: dropout off
    assert r["value"] == kernel_side.state_digest({"0." + k: v for k, v in state.items()})
    summary = kernel_side.decode(_run(Call("make", (), summary=True), make=make)["value"])
    assert summary["parameters"] == {"0.weight": (2, 3), "0.bias": (2,)} and summary["modules"]["Dropout"] == 1
    bad = _run(Call("make", (), load_state={"w": np.zeros(1)}), make=make)
    assert bad["error"] == "RuntimeError" and "state_dict" in bad["message"]


@check("test_files_for_tests", module="tests.files", files=True)
def _files_check(rng, files):
    """Reads the handed-in files."""
    yield []
    return f"files: {sorted(files or {})}"


def test_a_check_may_read_the_handed_in_files(tmp_path):
    fn = _files_check
    assert "['w.pt']" in Pending(fn, 1, {"w.pt": tmp_path}).verdict([])[1]
    assert "files: []" in run_locally(fn, seed=1)[1]


# ------------------------------------------------- an independent correct solution of 06
INDEPENDENT_06 = '''
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2

def channel_stats(images):
    x = images.double().div(255).transpose(0, 1).reshape(3, -1)
    return x.mean(dim=1).float(), x.std(dim=1).float()

def normalize(images, mean, std):
    return ((images.float() / 255) - mean[None, :, None, None]) / std[None, :, None, None]

def dataset_stats(train_images, test_images):
    m, s = channel_stats(train_images)
    return m, s, normalize(test_images, m, s)

def train_epoch(model, x, y, optimizer, loss_fn, batch_size=256, scheduler=None, progress=True):
    model.train()
    order = torch.randperm(len(x))
    losses, sizes = [], []
    for idx in torch.split(order, batch_size):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        optimizer.step()
        if scheduler:
            scheduler.step()
        losses.append(float(loss))
        sizes.append(len(idx))
    return float(np.average(losses, weights=sizes))

@torch.no_grad()
def evaluate(model, x, y, loss_fn, batch_size=1000):
    model.eval()
    scores = torch.cat([model(b) for b in torch.split(x, batch_size)])
    return F.cross_entropy(scores, y).item(), (scores.argmax(1) == y).double().mean().item()

@torch.no_grad()
def predict(model, x, batch_size=1000):
    model.eval()
    return torch.cat([model(b).argmax(-1) for b in torch.split(x, batch_size)])

def make_linear():
    return nn.Sequential(nn.Flatten(start_dim=1), nn.Linear(3072, 10))

def make_mlp(hidden=256):
    return nn.Sequential(nn.Flatten(), nn.Linear(3072, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 10))

def conv_output_size(n, k, padding=0, stride=1):
    return int(np.floor((n + 2 * padding - k) / stride)) + 1

def conv_param_count(c_in, c_out, k, bias=True):
    return c_in * c_out * k ** 2 + (c_out if bias else 0)

def conv2d_numpy(image, kernels, bias, stride=1, padding=0):
    x = np.pad(image, [(0, 0), (padding,) * 2, (padding,) * 2])
    k = kernels.shape[-1]
    win = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::stride, ::stride]
    return np.einsum("chwij,ocij->ohw", win, kernels) + bias[:, None, None]

def maxpool2d_numpy(x, k=2):
    c, h, w = x.shape
    out = np.empty((c, h // k, w // k))
    for i in range(h // k):
        for j in range(w // k):
            out[:, i, j] = x[:, i * k:(i + 1) * k, j * k:(j + 1) * k].reshape(c, -1).max(axis=1)
    return out

class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 6, 5), nn.Conv2d(6, 16, 5)
        self.f1, self.f2, self.f3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, 10)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.f3(F.relu(self.f2(F.relu(self.f1(x.reshape(len(x), -1))))))

class SeedNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 32, 5, padding="same"), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(32, 64, 3, padding="same"), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                  nn.Linear(4096, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))
    def forward(self, x):
        return self.body(x)

def augment(images):
    crop, flip = v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()
    return torch.stack([flip(crop(images[i])) for i in range(len(images))])

class _Stage(nn.Module):
    def __init__(self, a, b):
        super().__init__()
        self.conv1, self.norm1 = nn.Conv2d(a, b, 3, padding=1, bias=False), nn.BatchNorm2d(b)
        self.conv2, self.norm2 = nn.Conv2d(b, b, 3, padding=1, bias=False), nn.BatchNorm2d(b)
    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))

class MyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, kernel_size=2)
        self.groups = nn.Sequential(_Stage(24, 32), _Stage(32, 128), _Stage(128, 128))
        self.head = nn.Linear(128, 10, bias=False)
    def logits(self, x):
        h = self.groups(F.gelu(self.whiten(x)))
        return self.head(h.amax(dim=(2, 3))) / 9
    def forward(self, x):
        if self.training:
            return self.logits(x)
        return 0.5 * (self.logits(x) + self.logits(torch.flip(x, dims=[3])))

def confusion_matrix(y_true, y_pred, n_classes=10):
    m = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        m[t, p] += 1
    return m
'''


def test_an_independent_correct_solution_of_06_gets_every_check():
    namespace: dict = {}
    exec(compile(INDEPENDENT_06, "independent_06", "exec"), namespace)  # noqa: S102 - our own code
    functions = {k: v for k, v in namespace.items() if callable(v)}
    for seed in range(3):
        assert _failed(A, functions, seed) == {}, f"seed {seed}"


HINTS_06 = {
    "stats_wrong_axes": "une valeur par canal",
    "stats_not_scaled": "divisez les pixels",
    "normalize_no_255": "n'a pas divisé les pixels par 255",
    "test_set_statistics": "propres statistiques",
    "no_zero_grad": "zero_grad",
    "softmax_before_ce": "pas de softmax avant CrossEntropyLoss",
    "train_no_train_mode": "model.train()",
    "evaluate_no_eval": "model.eval()",
    "evaluate_no_grad_tracking": "torch.no_grad()",
    "predict_no_eval": "model.eval()",
    "mlp_no_relu": "il manque la ReLU",
    "conv_size_off_by_one": "« + 1 »",
    "conv_size_one_sided_padding": "2 x padding",
    "conv_params_no_channels": "tous les canaux d'entrée",
    "conv_flipped_kernel": "le filtre est retourné",
    "conv_padding_ignored": "np.pad",
    "avg_instead_of_max": "MAXIMUM",
    "seed_net_no_padding_adapted": "padding=2",
    "seed_net_softmax_output": "scores bruts",
    "augment_whole_batch": "image par image",
    "my_cnn_no_batchnorm": "BatchNorm2d",
    "my_cnn_softmax_output": "scores bruts",
    "confusion_transposed": "la matrice est transposée",
}


@pytest.mark.parametrize("name", sorted(HINTS_06))
def test_the_message_names_the_mistake_in_06(name):
    [mutant] = [m for m in catalogue(A) if m.name == name]
    failed = _failed(A, _functions(A, mutant), seed=5)
    gid = sorted(mutant.breaks)[0]
    assert HINTS_06[name] in failed[gid], f"{gid}: {failed[gid]}"
