"""Probe and verdict for 05_mlp: the object and data-set capabilities of the probe (classes
built in the kernel, steps on objects, tapes, uint8 pixels, loaders, optimizers), the shared
training checks (also as 06 will register them), an independent correct solution of 05, and
the hints its mutants get. That the reference passes every check over many seeds and each
mutant fails exactly its cells is test_probe's generic test (05 is probed)."""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from autograder.checks.probing import (Call, Get, Method, New, Pending, Set, Tape, TapeClass, check,
                                       run_locally)
from nncourse.probe import ProbeDataError, run_call


class Counter:
    def __init__(self, start, step=1):
        self.value, self.params = start, {"w": np.zeros(2)}

    def bump(self, times=1):
        self.value += times
        return self.value

    def broken(self):
        raise ValueError("non")


def uses_optim(net, n):
    opt = Optim(net, 0.1)                       # noqa: F821 - replaced by the probe
    return [opt.step(k) for k in range(n)]


def _roundtrip(call: Call, functions: dict):
    plan = json.loads(json.dumps(call.to_plan()))
    return json.loads(json.dumps(run_call(plan, functions)))


def test_a_class_is_built_its_attributes_set_methods_called_and_read_back():
    @check("test_counter_demo", module="autograder.checks._unit_tests")
    def counter_check(rng):
        """Counter counts."""
        r, = yield [Call("Counter", (5,), steps=(
            Set(("params", "w"), np.ones(2)), Method("bump", 2), Method("bump"), Get("value"),
            Get("params", "w"), Method("broken"), Get("nothing")))]
        values = [s.value for s in r.steps[:5]]
        assert values[:4] == [None, 7, 8, 8] and np.array_equal(values[4], np.ones(2))
        assert r.steps[5].error == "ValueError" and r.steps[6].error == "AttributeError"
        return "ok"
    assert run_locally(counter_check, Counter=Counter)[0]


def test_new_arguments_before_steps_and_objects_used_as_they_are():
    @check("test_new_demo", module="autograder.checks._unit_tests")
    def new_check(rng):
        """Objects built in the kernel."""
        a, b = yield [Call("pair", (New("Counter", (1,)), New("Counter", (10,))),
                           steps=(Set(("value",), 3, on=0, before=True), Method("bump", 5, on=1, before=True),
                                  Get(0, "value"), Get(1, "value"))),
                      Call("TABLE", as_object=True, steps=(Get("k"),))]
        assert [s.value for s in a.steps[2:]] == [3, 15] and a.steps[:2] == [None, None]
        assert b.value is None and b.steps[0].value == [1, 2]
        return "ok"
    assert run_locally(new_check, Counter=Counter, pair=lambda x, y: (x, y), TABLE={"k": [1, 2]})[0]


def test_tapes_record_what_the_notebook_asks_and_answer_the_graders_values():
    r = _roundtrip(Call("uses_optim", (Tape("net"), 3), replace={"Optim": TapeClass("optim", {"step": [1.5, 2.5]})}),
                   {"uses_optim": uses_optim})
    assert r["value"] == [1.5, 2.5, 2.5]
    log = r["log"]
    assert log[0][:2] == ["optim", "__init__"] and log[0][2][0] == {"__object__": "tape net"}
    assert [e[1] for e in log[1:]] == ["step"] * 3 and [e[2] for e in log[1:]] == [[0], [1], [2]]
    assert "Optim" not in globals()             # the replacement is gone after the call


@pytest.mark.parametrize("step", [{"path": ["__class__"], "on": None}, {"path": "x", "on": None},
                                  {"path": [1.5], "on": None}])
def test_malformed_steps_are_refused(step):
    """A plan's malformed step (a dunder attribute, a path that is no list) is refused: the
    call fails, nothing is read."""
    r = run_call({"fn": "Counter", "args": [1], "kwargs": {}, "steps": [step]}, {"Counter": Counter})
    assert r["error"] == "ProbeDataError" and "steps" not in r


def test_the_grader_refuses_malformed_step_results():
    pending = Pending(check("test_steps_demo", module="autograder.checks._unit_tests")(_one_get), seed=1)
    for raw in ([{"steps": "x"}], [{"steps": [{"value": 1, "extra": 2}]}], [{"steps": [{"error": 3, "message": ""}]}],
                [{"log": [["a", "b"]]}]):
        with pytest.raises(ProbeDataError):
            Pending(pending.fn, seed=1).read(raw)


def _one_get(rng):
    """one read."""
    r, = yield [Call("Counter", (1,), steps=(Get("value"),))]
    return "ok"


def test_uint8_tensors():
    torch = pytest.importorskip("torch")
    r = _roundtrip(Call("f", (__import__("autograder.checks.probing", fromlist=["Tensor"]).Tensor(
        np.array([[0, 255]]), dtype="uint8"),), facts=True), {"f": lambda t: t})
    assert r["facts"]["value"][0]["dtype"] == "torch.uint8"
    assert torch is not None


# ------------------------------------------------------------ data sets in the plan
def test_pixels_travel_as_uint8_and_arrive_as_the_loaders_floats():
    torch = pytest.importorskip("torch")
    from autograder.checks.probing import Pixels
    from nncourse.data import load_mnist_numpy  # noqa: F401 - same arithmetic as the loader
    px = np.random.default_rng(0).integers(0, 256, size=(4, 784)).astype(np.uint8)
    plan = Call("f", (Pixels(px), Pixels(px, 0.1307, 0.3081, tensor=True))).to_plan()
    assert plan["args"][0]["__pixels__"]["dtype"] == "u1"
    assert len(json.dumps(plan)) < 2 * 1.4 * px.nbytes + 500     # twice uint8 in base64, not float32
    got = {}
    run_call(json.loads(json.dumps(plan)), {"f": lambda a, t: got.update(a=a, t=t)})
    assert got["a"].dtype == np.float32 and np.array_equal(got["a"], px.astype(np.float32) / np.float32(255))
    assert isinstance(got["t"], torch.Tensor) and got["t"].dtype == torch.float32
    assert np.allclose(got["t"].numpy(), (px / 255 - 0.1307) / 0.3081, atol=1e-6)


def test_a_loader_an_optimizer_a_loss_and_batchnorm_are_built_in_the_kernel():
    torch = pytest.importorskip("torch")
    from autograder.checks.probing import Loader, Of, Sequential, Tensor
    X, y = np.arange(10.0).reshape(5, 2), np.array([0, 1, 0, 1, 1])
    net = Sequential((("Linear", np.ones((3, 2)), np.zeros(3)), ("BatchNorm1d", 3, np.full(3, 0.5), np.full(3, 2.0)),
                      ("Dropout", 0.25), ("ReLU",)), dtype="f8")

    def inspect_them(model, loader, opt, loss_fn):
        batches = [(xb.tolist(), yb.tolist()) for xb, yb in loader]
        return (batches, type(opt).__name__, opt.param_groups[0]["lr"], type(loss_fn).__name__,
                model[1].running_var.tolist(), model[2].p)
    r = _roundtrip(Call("inspect_them", (net, Loader(Tensor(X), Tensor(y), 2), Of("sgd", 0, {"lr": 0.5}),
                                         Of("cross_entropy_loss", 0, {}))), {"inspect_them": inspect_them})
    batches, opt, lr, loss, var, p = r["value"]["__tuple__"]
    assert [len(b["__tuple__"][1]) for b in batches] == [2, 2, 1]
    assert (opt, lr, loss, var, p) == ("SGD", 0.5, "CrossEntropyLoss", [2.0, 2.0, 2.0], 0.25)
    shuffled = _roundtrip(Call("inspect_them", (net, Loader(Tensor(X), Tensor(y), 5, shuffle=True, seed=3),
                                                Of("adam", 0, {"lr": 0.1}), Of("cross_entropy_loss", 0, {}))),
                          {"inspect_them": inspect_them})
    again = _roundtrip(Call("inspect_them", (net, Loader(Tensor(X), Tensor(y), 5, shuffle=True, seed=3),
                                             Of("adam", 0, {"lr": 0.1}), Of("cross_entropy_loss", 0, {}))),
                       {"inspect_them": inspect_them})
    assert shuffled["value"] == again["value"] and shuffled["value"]["__tuple__"][1] == "Adam"
    assert torch is not None


@pytest.mark.parametrize("data", [
    {"__pixels__": {"__nd__": "AAAA", "dtype": "f4", "shape": [1]}, "mean": 0, "std": 1, "dtype": "f4", "tensor": False},
    {"__pixels__": {"__nd__": "AA==", "dtype": "u1", "shape": [1]}, "mean": 0, "std": 1, "dtype": "i8", "tensor": False},
    {"__loader__": [1], "batch_size": 2, "shuffle": False, "seed": None},
    {"__loader__": [{"__tensor__": {"__nd__": "", "dtype": "f8", "shape": [0]}, "requires_grad": False}] * 2,
     "batch_size": 0, "shuffle": False, "seed": None},
    {"__of__": "os.system", "arg": 0, "params": {"__dict__": {}}},
    {"__sequential__": [{"layer": "BatchNorm1d", "features": -1}]},
    {"__sequential__": [{"layer": "Dropout", "p": 1.5}]},
])
def test_malformed_data_set_inputs_are_refused(data):
    pytest.importorskip("torch")
    from nncourse.probe import decode_input
    with pytest.raises(ProbeDataError):
        decode_input(data)


# ----------------------------------------------------- shared training checks, as 06 uses them
def _as_06(concept, **kwargs):
    import functools

    from autograder.checks.concepts import training
    return check("test_demo_" + concept, module="autograder.checks._unit_tests")(
        functools.partial(getattr(training, concept), **kwargs))


def normalize(images, mean, std):
    import torch
    x = images.to(torch.float32) / 255.0
    return (x - mean.reshape(1, -1, 1, 1)) / std.reshape(1, -1, 1, 1)


def train_epoch_06(model, x, y, optimizer, loss_fn, batch_size=256, scheduler=None, progress=True):
    import torch
    model.train()
    n = len(x)
    perm = torch.randperm(n)
    total = 0.0
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item() * len(idx)
    return total / n


def evaluate_06(model, x, y, loss_fn, batch_size=1000):
    import torch
    model.eval()
    total, correct = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            scores = model(xb)
            total += loss_fn(scores, yb).item() * len(yb)
            correct += (scores.argmax(dim=1) == yb).sum().item()
    return total / len(x), correct / len(x)


def test_the_shared_training_checks_take_06s_signatures():
    pytest.importorskip("torch")
    norm = _as_06("normalize_pixels", fn="normalize", shape=(3, 4, 4), mean=None, std=None, stats_args=True)
    train = _as_06("train_epoch_replay", fn="train_epoch", data="tensors", extra_kwargs={"progress": False})
    ev = _as_06("evaluate_in_eval_mode", fn="evaluate", kwargs={"batch_size": 7})
    for seed in range(3):
        assert run_locally(norm, seed=seed, normalize=normalize)[0]
        ok, message = run_locally(train, seed=seed, train_epoch=train_epoch_06)
        assert ok, message
        assert run_locally(ev, seed=seed, evaluate=evaluate_06)[0]

    def no_shuffle(model, x, y, optimizer, loss_fn, batch_size=256, scheduler=None, progress=True):
        import torch
        model.train()
        total = 0.0
        for start in range(0, len(x), batch_size):
            loss = loss_fn(model(x[start:start + batch_size]), y[start:start + batch_size])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y[start:start + batch_size])
        torch.randperm(len(x))
        return total / len(x)
    ok, message = run_locally(train, seed=1, train_epoch=no_shuffle)
    assert not ok and "mélangés" in message, message


# ------------------------------------------------- 05: an independent correct solution, hints
# Written differently from the reference: parameters replaced instead of updated in place,
# np.clip and log1p in the losses, a stable sigmoid by cases, Sequentiel with explicit indices,
# SGD over np.array_split, the PyTorch part with view/sub_/div_ and a while loop.
INDEPENDENT_05 = """
import numpy as np
import torch
from torch import nn

class Module:
    def __init__(self):
        self._parameters, self._gradient = {}, {}
    def zero_grad(self):
        self._gradient = {k: np.zeros(v.shape) for k, v in self._parameters.items()}
    def forward(self, X):
        raise NotImplementedError
    def backward_update_gradient(self, input, delta):
        pass
    def backward_delta(self, input, delta):
        raise NotImplementedError
    def update_parameters(self, gradient_step=1e-3):
        self._parameters = {k: v - gradient_step * self._gradient[k] for k, v in self._parameters.items()}

class Loss:
    pass

class MSELoss(Loss):
    def forward(self, y, yhat):
        return ((y - yhat) ** 2).sum(1)
    def backward(self, y, yhat):
        return -2.0 * (y - yhat)

class Linear(Module):
    def __init__(self, input, output, rng=None):
        super().__init__()
        rng = np.random.default_rng(rng)
        s = input ** -0.5
        self._parameters = {"W": rng.uniform(-s, s, (input, output)), "b": rng.uniform(-s, s, (1, output))}
        self.zero_grad()
    def forward(self, X):
        return np.dot(X, self._parameters["W"]) + self._parameters["b"]
    def backward_update_gradient(self, input, delta):
        self._gradient["W"] = self._gradient["W"] + np.dot(input.T, delta)
        self._gradient["b"] = self._gradient["b"] + delta.sum(0)[None, :]
    def backward_delta(self, input, delta):
        return np.dot(delta, self._parameters["W"].T)

def train_regression(X, Y, n_iter=200, eps=1e-3, rng=None):
    lin, mse, losses = Linear(X.shape[1], Y.shape[1], rng=rng), MSELoss(), []
    for _ in range(n_iter):
        lin.zero_grad()
        out = lin.forward(X)
        losses.append(mse.forward(Y, out).mean())
        lin.backward_update_gradient(X, mse.backward(Y, out))
        lin.update_parameters(eps)
    return lin, losses

class TanH(Module):
    def forward(self, X):
        return np.tanh(X)
    def backward_delta(self, input, delta):
        return delta / np.cosh(input) ** 2

class Sigmoide(Module):
    def forward(self, X):
        e = np.exp(-np.abs(X))
        return np.where(X >= 0, 1 / (1 + e), e / (1 + e))
    def backward_delta(self, input, delta):
        s = self.forward(input)
        return delta * (s - s * s)

class ReLU(Module):
    def forward(self, X):
        return np.where(X > 0, X, 0.0)
    def backward_delta(self, input, delta):
        return np.where(input > 0, delta, 0.0)

class Sequentiel(Module):
    def __init__(self, *modules):
        super().__init__()
        self.modules, self._inputs = list(modules), []
    def forward(self, X):
        inputs = []
        for m in self.modules:
            inputs.append(X)
            X = m.forward(X)
        self._inputs = inputs
        return X
    def backward_update_gradient(self, input, delta):
        for i in reversed(range(len(self.modules))):
            self.modules[i].backward_update_gradient(self._inputs[i], delta)
            delta = self.modules[i].backward_delta(self._inputs[i], delta)
    def backward_delta(self, input, delta):
        for i in reversed(range(len(self.modules))):
            delta = self.modules[i].backward_delta(self._inputs[i], delta)
        return delta
    def zero_grad(self):
        for m in self.modules:
            m.zero_grad()
    def update_parameters(self, gradient_step=1e-3):
        for m in self.modules:
            m.update_parameters(gradient_step=gradient_step)

class Optim:
    def __init__(self, net, loss, eps):
        self.net, self.loss, self.eps = net, loss, eps
    def step(self, batch_x, batch_y):
        self.net.zero_grad()
        out = self.net.forward(batch_x)
        value = self.loss.forward(batch_y, out).mean()
        self.net.backward_update_gradient(batch_x, self.loss.backward(batch_y, out))
        self.net.update_parameters(self.eps)
        return float(value)

def SGD(net, loss, X, Y, batch_size, n_epochs, eps, rng=None, progress=False):
    rng = np.random.default_rng(rng)
    opt, history = Optim(net, loss, eps), []
    for _ in range(n_epochs):
        chunks = np.array_split(rng.permutation(len(X)), np.arange(batch_size, len(X), batch_size))
        history.append(sum(opt.step(X[c], Y[c]) * len(c) for c in chunks) / len(X))
    return history

class BCELoss(Loss):
    def forward(self, y, yhat):
        with np.errstate(divide="ignore"):
            return -(y * np.clip(np.log(yhat), -100, None) + (1 - y) * np.clip(np.log1p(-yhat), -100, None)).sum(1)
    def backward(self, y, yhat):
        p = np.clip(yhat, 1e-12, 1 - 1e-12)
        return (p - y) / (p * (1 - p))

def build_binary_net(hidden=10, rng=None):
    rng = np.random.default_rng(rng)
    first = Linear(2, hidden, rng=rng)
    return Sequentiel(first, TanH(), Linear(hidden, 1, rng=rng), Sigmoide())

class Softmax(Module):
    def forward(self, X):
        e = np.exp(X - np.max(X, 1)[:, None])
        return e / e.sum(1)[:, None]
    def backward_delta(self, input, delta):
        s = self.forward(input)
        return s * delta - s * (s * delta).sum(1)[:, None]

class LogSoftmax(Module):
    def forward(self, X):
        m = X.max(1)[:, None]
        return X - m - np.log(np.exp(X - m).sum(1))[:, None]
    def backward_delta(self, input, delta):
        return delta - np.exp(self.forward(input)) * delta.sum(1)[:, None]

class CELoss(Loss):
    def forward(self, y, yhat):
        return -(y * yhat).sum(1)
    def backward(self, y, yhat):
        return -1.0 * y

def build_mnist_net(hidden=128, rng=None):
    rng = np.random.default_rng(rng)
    return Sequentiel(Linear(784, hidden, rng=rng), ReLU(), Linear(hidden, 10, rng=rng), LogSoftmax())

def build_autoencoder(latent=10, rng=None):
    rng = np.random.default_rng(rng)
    enc = Sequentiel(Linear(784, 128, rng=rng), TanH(), Linear(128, latent, rng=rng), TanH())
    dec = Sequentiel(Linear(latent, 128, rng=rng), TanH(), Linear(128, 784, rng=rng), Sigmoide())
    return enc, dec, Sequentiel(enc, dec)

def normalize_images(images):
    return images.float().view(images.shape[0], 784).div_(255).sub_(0.1307).div_(0.3081)

def build_linear():
    return nn.Sequential(nn.Linear(784, 10))

def build_mlp1():
    layers = [nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)

def build_mlp2():
    return nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))

N_PARAMS = {"linear": 7850, "mlp1": 101770, "mlp2": 109386}

def train_epoch(model, loader, optimizer, loss_fn):
    model.train()
    seen, total = 0, 0.0
    it = iter(loader)
    while True:
        try:
            xb, yb = next(it)
        except StopIteration:
            break
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        total, seen = total + float(loss) * xb.shape[0], seen + xb.shape[0]
    return total / len(loader.dataset)

@torch.no_grad()
def evaluate(model, X, y, loss_fn):
    model.eval()
    s = model(X)
    return float(loss_fn(s, y)), float((s.argmax(1) == y).double().mean())
"""


def test_an_independent_correct_solution_of_05_gets_every_check():
    from tests.test_probe import _failed
    namespace: dict = {}
    exec(INDEPENDENT_05, namespace)
    functions = {k: v for k, v in namespace.items() if not k.startswith("__")}
    for seed in range(2):
        assert _failed("05_mlp", functions, seed) == {}, f"seed {seed}"


HINTS_05 = {
    "zero_grad_only_creates": "réaffecter la variable de boucle",
    "update_parameters_plus": "montez le long du gradient",
    "mse_mean_over_everything": "un seul nombre",
    "linear_gradient_overwritten": "ACCUMULER",
    "linear_bias_init_zero": "uniformément",
    "linear_grad_W_mean": "divisé par N",
    "linear_bias_grad_sum_all": "axis=0",
    "relu_derivative_is_relu": "n'est pas ReLU",
    "sequentiel_inputs_not_reset": "remettez-la à []",
    "sequentiel_backward_same_input": "SON entrée",
    "optim_step_no_zero_grad": "remis à zéro",
    "sgd_no_shuffle": "mélange pas",
    "bce_log_not_clipped": "seuillez",
    "bce_backward_not_clipped": "bornez",
    "tanh_as_sinh_over_cosh": "sinh / cosh",
    "sigmoide_unstable": "inf/nan",
    "softmax_unstable": "inf/nan",
    "logsoftmax_unstable": "inf/nan",
    "celoss_log_again": "LOG-probabilités",
    "normalize_not_centered": "moyenne n'est pas retranchée",
    "mlp1_missing_relu": "reste linéaire",
    "linear_softmax_before_ce": "scores bruts",
    "param_counts_no_bias": "ET n_out biais",
    "train_epoch_mean_of_batch_means": "moyenne des coûts des batchs",
    "train_epoch_no_zero_grad": "zero_grad() oublié",
    "evaluate_train_mode_with_grad": "model.eval()",
    "autoencoder_latent_hardcoded": "latent",
}
# cells whose message is about the whole library (trainings), not this mistake's name
LIBRARY_CELLS = {"test_regression", "test_binary", "test_mnist", "test_sgd", "test_optim_step",
                 "test_sequentiel_update", "test_sequentiel_backward", "test_accuracy_linear",
                 "test_accuracy_mlp1", "test_accuracy_mlp2", "test_linear_accumulate"}


@pytest.mark.parametrize("name", sorted(HINTS_05))
def test_the_message_names_the_mistake_in_05(name):
    from autograder.mutants import catalogue
    from tests.test_probe import _failed, _functions
    [mutant] = [m for m in catalogue("05_mlp") if m.name == name]
    own = set(mutant.breaks) - LIBRARY_CELLS or set(mutant.breaks)
    functions = _functions("05_mlp", mutant)
    from autograder import judging
    failed = {}
    for gid in own:
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            ok, message = run_locally(judging.checks_of("05_mlp")[gid], seed=7, **functions)
        if not ok:
            failed[gid] = message
    assert set(failed) == own
    assert any(HINTS_05[name] in m for m in failed.values()), failed


def test_an_optimizer_derived_once_keeps_its_state_over_repeated_calls():
    pytest.importorskip("torch")
    from autograder.checks.probing import Of, Sequential, Tensor

    def one_step(model, x, opt):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
        return int(next(iter(opt.state.values()))["step"])      # Adam's step count
    net = Sequential((("Linear", np.ones((1, 2)), np.zeros(1)),))
    for once, steps in ((True, 2), (False, 1)):
        r = _roundtrip(Call("one_step", (net, Tensor(np.ones((3, 2), dtype=np.float32)), Of("adam", 0, {"lr": 0.1}, keep=once)),
                            repeat=2), {"one_step": one_step})
        assert (r["value"], r["again"][0]["value"]) == (1, steps)
