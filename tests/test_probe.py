"""Probe and verdict: the data format, the grader's reading of it, and the checks of the
assignments rebuilt on it, run in this process (fast; the graded runs are in test_grading)."""

from __future__ import annotations

import ast
import base64
import contextlib
import io
import json
import re
import zlib

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pytest

from autograder import course, judging
from autograder.checks import probing
from autograder.checks.probing import Call, Pending, check, run_locally
from autograder.mutants import catalogue
from autograder.submissions import strip_solution_markers
from nncourse import probe as kernel_side
from nncourse.probe import MIME, ProbeDataError, decode, decode_input, encode



def _notebook(assignment: str):
    return nbformat.read(course.SOURCE / assignment / f"{assignment.split('_', 1)[1]}.ipynb", as_version=4)


PROBED = course.assignments()      # every assignment's hidden checks are probe and verdict


# ---------------------------------------------------------------------------- the format
def test_values_round_trip_without_pickle():
    value = {"a": np.arange(6, dtype=np.float64).reshape(2, 3), "b": (1, 2.5, None, True, "x"),
             "c": [np.float32(1.5), np.int64(7), float("nan"), float("-inf")], "d": np.array([True, False])}
    back = decode(json.loads(json.dumps(encode(value))))
    assert np.array_equal(back["a"], value["a"]) and back["a"].flags.writeable
    assert back["b"] == (1, 2.5, None, True, "x")
    assert back["c"][:2] == [1.5, 7] and np.isnan(back["c"][2]) and back["c"][3] == float("-inf")
    assert back["d"].dtype == np.bool_
    assert repr(decode(encode(object()))) == "<object>"   # an unknown object: its type name only


@pytest.mark.parametrize("data,why", [
    ({"__nd__": "AAAA", "dtype": "f8", "shape": [3]}, "size"),
    ({"__nd__": "!!", "dtype": "f8", "shape": [0]}, "base64"),
    ({"__nd__": "", "dtype": "O", "shape": [0]}, "malformed"),
    ({"__nd__": "", "dtype": "f8", "shape": [2 ** 30, 2 ** 30]}, "shape|big"),
    ({"__pickle__": "gASVAAAA"}, "unknown"),
    ({"__dict__": {"k": {"__object__": 3}}}, "unknown"),
    ("x" * 10_000, "too long"),
    ([[[[[[[[[[[[[[1]]]]]]]]]]]]]], "nested"),
])
def test_malformed_data_is_refused(data, why):
    with pytest.raises(ProbeDataError, match=why):
        decode(data)


def test_array_bytes_must_match_the_shape():
    raw = base64.b64encode(np.zeros(4).tobytes()).decode()
    assert decode({"__nd__": raw, "dtype": "f8", "shape": [2, 2]}).shape == (2, 2)
    with pytest.raises(ProbeDataError):
        decode({"__nd__": raw, "dtype": "f8", "shape": [3]})


# ------------------------------------------------------------------- PyTorch in the format
def test_tensors_go_in_and_modules_come_back_as_state_dicts():
    torch = pytest.importorskip("torch")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = decode_input(json.loads(json.dumps(probing.encode_input(probing.Tensor(x, requires_grad=True)))))
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32 and t.requires_grad
    assert torch.equal(t.detach(), torch.from_numpy(x))
    scalar = decode_input(probing.encode_input(probing.Tensor(np.array(0.5, dtype=np.float32), requires_grad=True)))
    assert scalar.shape == () and scalar.requires_grad
    labels = decode_input(probing.encode_input(probing.Tensor(np.array([2, 0], dtype=np.int64))))
    assert labels.dtype == torch.int64 and not labels.requires_grad
    linear = torch.nn.Linear(3, 2)
    back = decode(json.loads(json.dumps(encode(linear))))
    assert isinstance(back, kernel_side.ModuleState) and back.type_name == "Linear"
    assert np.array_equal(back.state["weight"], linear.weight.detach().double().numpy())


def test_the_grader_describes_a_small_network_the_kernel_builds():
    torch = pytest.importorskip("torch")
    W1, b1 = np.ones((4, 2), np.float32), np.zeros(4, np.float32)
    W2, b2 = np.full((3, 4), 0.5, np.float32), np.arange(3, dtype=np.float32)
    layers = probing.Sequential((("Linear", W1, b1), ("ReLU",), ("Linear", W2, b2)))
    model = decode_input(json.loads(json.dumps(probing.encode_input(layers))))
    assert isinstance(model, torch.nn.Sequential) and len(model) == 3
    with torch.no_grad():
        out = model(torch.tensor([[1.0, -3.0]]))
    assert np.allclose(out.numpy(), [[0.0, 1.0, 2.0]])


@pytest.mark.parametrize("data,why", [
    ({"__tensor__": encode(np.zeros(2)), "requires_grad": "yes"}, "unknown"),
    ({"__sequential__": [{"layer": "Conv3d"}]}, "unknown layer"),
    ({"__sequential__": [{"layer": "ReLU", "inplace": True}]}, "malformed"),
    ({"__sequential__": [{"layer": "Linear", "weight": encode(np.zeros((2, 3))), "bias": encode(np.zeros(3))}]},
     "malformed"),
    ({"__module__": "Net", "state": {"w": {"__pickle__": "x"}}}, "malformed"),
    ({"__module__": "Net", "state": [1]}, "unknown"),
    ({"__module__": "Net", "state": {"w": [1.0]}}, "malformed"),
    ({"__tensor__": [1.0], "requires_grad": False}, "malformed"),
])
def test_malformed_torch_data_is_refused(data, why):
    pytest.importorskip("torch")
    with pytest.raises(ProbeDataError, match=why):
        decode_input(data)


@pytest.mark.parametrize("value", [probing.Generator(3), probing.Tensor(np.zeros(2)),
                                   probing.Sequential((("ReLU",),)),
                                   probing.TestFunction("cubic", {"c": np.ones(2)})])
def test_the_kernel_cannot_send_back_what_only_a_plan_may_hold(value):
    data = probing.encode_input(value)
    decode_input(data)
    with pytest.raises(ProbeDataError, match="unknown"):
        decode(data)


class TinyNet:
    """Stands for a student's nn.Module class: instantiated, then called (see call_result)."""

    def __init__(self, scale):
        import torch
        self.weight = torch.rand(1).item() * scale

    def __call__(self, x):
        return x * self.weight


def test_a_call_can_seed_torch_call_its_result_and_send_a_gradient():
    torch = pytest.importorskip("torch")
    x = np.array([1.0, 2.0], dtype=np.float32)
    plan = Call("TinyNet", (3.0,), torch_seed=11, call_result=(probing.Tensor(x),)).to_plan()
    record = kernel_side.run_call(json.loads(json.dumps(plan)), {"TinyNet": TinyNet})
    torch.manual_seed(11)
    assert np.allclose(decode(record["result_value"]), x * torch.rand(1).item() * 3.0)

    def square_sum(t, y):
        return (t ** 2).sum()
    plan = Call("f", (probing.Tensor(x, requires_grad=True), probing.Tensor(x)), grad_of=(0, 1)).to_plan()
    record = kernel_side.run_call(json.loads(json.dumps(plan)), {"f": square_sum})
    grads = decode(record["grads"])
    assert np.allclose(grads[0], 2 * x) and grads[1] is None
    plan = Call("f", (probing.Tensor(x, requires_grad=True), probing.Tensor(x)), grad_of=(0,)).to_plan()
    record = kernel_side.run_call(json.loads(json.dumps(plan)), {"f": lambda t, y: (t ** 2).sum().detach()})
    assert "pas un tenseur scalaire" in record["grads"]


def test_a_network_may_be_built_in_float64():
    torch = pytest.importorskip("torch")
    W, b = np.array([[1.0 + 1e-12, -2.0]]), np.array([0.25])
    layers = probing.Sequential((("Linear", W, b), ("Sigmoid",)), dtype="f8")
    data = json.loads(json.dumps(probing.encode_input(layers)))
    assert data["dtype"] == "f8"
    model = decode_input(data)
    assert model[0].weight.dtype == torch.float64 and model[0].bias.dtype == torch.float64
    assert np.array_equal(model[0].weight.detach().numpy(), W)
    assert "dtype" not in probing.encode_input(probing.Sequential((("Linear", W, b),)))
    assert decode_input(probing.encode_input(probing.Sequential((("Linear", W, b),))))[0].weight.dtype \
        == torch.float32
    for bad in ("f2", 8, None):
        with pytest.raises(ProbeDataError, match="unknown"):
            decode_input({**data, "dtype": bad})


def test_facts_say_dtype_graph_and_shared_memory():
    torch = pytest.importorskip("torch")
    x = np.arange(6, dtype=np.float32)
    a = probing.Tensor(np.float32(0.5) * np.ones(1, np.float32), requires_grad=True)

    def f(t, w):
        return t.view(2, 3), (t * w).sum(), t.clone().to(torch.float64), 3
    plan = Call("f", (probing.Tensor(x), a), facts=True).to_plan()
    record = json.loads(json.dumps(kernel_side.run_call(json.loads(json.dumps(plan)), {"f": f})))
    pending = Pending(_facts_check, seed=1)
    [r] = pending.read([record])
    view, total, copy, three = r.facts["value"]
    assert view == {"dtype": "torch.float32", "requires_grad": False, "is_leaf": True, "shares": [0],
                    "grad_abs_max": None}
    assert total["requires_grad"] and not total["is_leaf"] and total["shares"] == []
    assert copy["dtype"] == "torch.float64" and copy["shares"] == [] and three is None
    assert r.facts["args"][1] == {"dtype": "torch.float32", "requires_grad": True, "is_leaf": True, "shares": [1],
                                  "grad_abs_max": None}
    plan_without = Call("f", (probing.Tensor(x), a)).to_plan()
    assert "facts" not in plan_without
    assert "facts" not in kernel_side.run_call(json.loads(json.dumps(plan_without)), {"f": f})


def gradient_step_for_tests(a, loss, lr):
    loss.backward()
    with __import__("torch").no_grad():
        a -= lr * a.grad
    a.grad.zero_()


@check("test_repeat")
def _repeat_check(rng):
    """A repeated call (a check for these tests)."""
    yield [Call("step", (), repeat=2)]


def test_a_call_can_be_repeated_on_the_same_objects_with_a_loss_rebuilt_each_time():
    pytest.importorskip("torch")
    c, t = np.array([2.0, 1.0], np.float32), np.array([1.0, -1.0], np.float32)
    a = probing.Tensor(np.float32(0.5), requires_grad=True)
    call = Call("step", (a, probing.Of("quadratic_loss", 0, {"c": c, "t": t}), 0.1),
                watch=(0,), facts=True, repeat=3)
    record = json.loads(json.dumps(kernel_side.run_call(json.loads(json.dumps(call.to_plan())),
                                                        {"step": gradient_step_for_tests})))
    pending = Pending(_repeat_check, seed=1)
    pending.calls = [call]
    [r] = pending.read([record])
    value = 0.5
    for k, after in enumerate([r.after] + [x.after for x in r.again]):
        value = value - 0.1 * float(np.sum(2 * c * (c * value - t)))
        assert np.isclose(after[0], value, rtol=1e-6), k
    assert len(r.again) == 2 and r.again[-1].facts["args"][0]["grad_abs_max"] == 0.0
    record["again"].append({"value": None})
    with pytest.raises(ProbeDataError, match="repeated"):
        pending.read([record])
    bad = dict(call.to_plan(), args=[call.to_plan()["args"][0], {"__of__": "os.system", "arg": 0, "params": {}}])
    assert "ProbeDataError" == kernel_side.run_call(bad, {"step": gradient_step_for_tests})["error"]


def test_the_gradient_of_a_sum_for_a_vector_result():
    pytest.importorskip("torch")
    x = np.array([1.0, 2.0, 3.0], np.float32)
    plan = Call("f", (probing.Tensor(x, requires_grad=True),), grad_of=(0,), grad_sum=True).to_plan()
    record = kernel_side.run_call(json.loads(json.dumps(plan)), {"f": lambda t: t ** 2})
    assert np.allclose(decode(record["grads"])[0], 2 * x)
    plan = Call("f", (probing.Tensor(x, requires_grad=True),), grad_of=(0,)).to_plan()
    assert "pas un tenseur scalaire" in kernel_side.run_call(plan, {"f": lambda t: t ** 2})["grads"]


@check("test_facts")
def _facts_check(rng):
    """A call asking for facts (a check for these tests)."""
    yield [Call("f", (), facts=True)]


@pytest.mark.parametrize("raw", [
    [], {"value": []}, {"value": [], "args": [], "x": 1}, {"value": [1], "args": []},
    {"value": [{"dtype": "f", "requires_grad": 1, "is_leaf": True, "shares": [], "grad_abs_max": None}], "args": []},
    {"value": [{"dtype": "f", "requires_grad": True, "is_leaf": True, "shares": [True], "grad_abs_max": None}],
     "args": []},
    {"value": [{"dtype": "f", "requires_grad": True, "is_leaf": True, "shares": [], "grad_abs_max": "0"}],
     "args": []},
    {"value": [{"dtype": "f", "requires_grad": True, "is_leaf": True, "shares": []}], "args": []},
    {"value": [None] * 17, "args": []},
])
def test_malformed_facts_are_refused(raw):
    with pytest.raises(ProbeDataError, match="facts"):
        probing.read_facts(raw)


# ----------------------------------------------------------------- the decorator's duties
@check("test_square")
def square_check(rng):
    """square(x) = x² at a random point (a check for these tests)."""
    x = float(rng.uniform(1, 2))
    [r] = yield [Call("square", (x,))]
    if not np.isclose(r.value, x * x):
        probing.fail(f"square({x:.3f}) = {r.value}, attendu {x * x:.3f}.", "x au carré.")
    return "square est correcte."


def test_pass_line_and_seed():
    passed, message = run_locally(square_check, seed=5, square=lambda x: x * x)
    assert passed and message == "✔ square est correcte. (graine 5)"


def test_failure_names_the_mistake_and_the_seed():
    passed, message = run_locally(square_check, seed=5, square=lambda x: 2 * x)
    assert not passed and message.startswith("square(") and "(graine 5)\n  Piste : x au carré." in message


def test_not_written_yet_and_student_errors_are_one_french_line():
    def blank(x):
        raise NotImplementedError()

    def broken(x):
        return [1, 2][5]

    assert run_locally(square_check, square=blank)[1].startswith("square n'est pas encore écrite")
    message = run_locally(square_check, square=broken)[1]
    assert message.startswith("square a levé une erreur dans broken, ligne « return [1, 2][5] » : IndexError: "
                              "list index out of range") and "\n" not in message


def test_seed_is_fresh_unless_the_grader_replays_one(monkeypatch):
    monkeypatch.delenv(probing.SEED_ENV_VAR, raising=False)
    assert Pending(square_check).seed != Pending(square_check).seed
    monkeypatch.setenv(probing.SEED_ENV_VAR, "42")
    assert Pending(square_check).seed == 42


def test_wrong_number_of_results_is_malformed():
    with pytest.raises(ProbeDataError):
        Pending(square_check).verdict([])


def test_probe_without_a_plan_only_says_so(monkeypatch, capsys):
    monkeypatch.delenv(kernel_side.PLAN_DIR_ENV, raising=False)
    kernel_side.probe("test_square", square=lambda x: x)
    assert "exécutés par le correcteur" in capsys.readouterr().out


def traced_helper(a, b=2):
    return a * b


def stubbed_helper():
    return 0


def outer(x):
    return traced_helper(x) + stubbed_helper()


def test_traces_and_stubs_record_inner_calls():
    plan = Call("outer", (3,), trace={"traced_helper": {"calls": 1, "args": ["a", "b"]}},
                stub={"stubbed_helper": 10}).to_plan()
    record = kernel_side.run_call(json.loads(json.dumps(plan)), {"outer": outer})
    assert record["value"] == 16
    assert record["traces"]["traced_helper"] == {"calls": [{"args": {"a": 3, "b": 2}, "value": 6}], "count": 1,
                                                 "errors": 0}
    assert outer(3) == 6      # restored afterwards


# ------------------------------------------------------------ the verdicts in a notebook
def _notebook_with(outputs, gid="test_square", source='probe("test_square", square=square)'):
    cell = nbformat.v4.new_code_cell(source, metadata={"nbgrader": {"grade_id": gid, "grade": True, "points": 1}})
    cell.outputs = [nbformat.NotebookNode(o) for o in outputs]
    return nbformat.v4.new_notebook(cells=[cell])


def _probe_output(pending, results, check="test_square", nonce=None):
    return {"output_type": "display_data", "metadata": {},
            "data": {MIME: {"check": check, "nonce": nonce or pending.nonce, "results": results}}}


def _apply(nb, pending):
    report = {"tampering": []}
    judging.apply_verdicts(nb, {"test_square": pending}, report)
    return nb.cells[0].outputs, report


def test_verdict_replaces_what_the_kernel_left():
    pending = Pending(square_check, seed=3)
    x = pending.calls[0].args[0]
    forged = {"output_type": "stream", "name": "stdout", "text": "✔ tout est juste\n"}
    outputs, report = _apply(_notebook_with([forged, _probe_output(pending, [{"value": x * x}])]), pending)
    assert [o.output_type for o in outputs] == ["stream"] and outputs[0].text.startswith("✔ square est correcte")
    assert report["verdicts"]["test_square"]["passed"] and not report["tampering"]


@pytest.mark.parametrize("case", ["missing", "twice", "nonce", "malformed", "other-cell"])
def test_missing_or_forged_probe_data_fails_and_is_reported(case):
    pending = Pending(square_check, seed=3)
    good = _probe_output(pending, [{"value": 1.0}])
    outputs = {"missing": [], "twice": [good, good], "nonce": [_probe_output(pending, [{"value": 1.0}], nonce="0" * 16)],
               "malformed": [_probe_output(pending, [{"value": {"__nd__": "x"}}])],
               "other-cell": [_probe_output(pending, [{"value": 1.0}], check="test_other")]}[case]
    outputs, report = _apply(_notebook_with(outputs), pending)
    assert [o.output_type for o in outputs] == ["error"]
    assert report["tampering"], case


def test_a_kernel_error_stands_and_is_not_tampering():
    pending = Pending(square_check, seed=3)
    error = {"output_type": "error", "ename": "CheckFailed", "evalue": "err(5) = 40, attendu 41", "traceback": ["…"]}
    outputs, report = _apply(_notebook_with([error]), pending)
    assert outputs[0].evalue == "err(5) = 40, attendu 41" and not report["tampering"]


def test_a_kernel_error_said_in_french_keeps_its_french_lines():
    pending = Pending(square_check, seed=3)
    error = {"output_type": "error", "ename": "NameError", "evalue": "name 'params' is not defined",
             "traceback": ["\x1b[31m✘ params n'est pas défini : la cellule qui le crée (« params = train(X) ») a échoué",
                           "  Piste : corrigez d'abord cette cellule-là"]}
    outputs, _ = _apply(_notebook_with([error]), pending)
    assert outputs[0].evalue.startswith("params n'est pas défini : la cellule qui le crée (« params = train(X) »)")
    assert "Piste" in outputs[0].evalue and "\x1b" not in outputs[0].evalue


def test_when_visible_and_hidden_checks_both_fail_the_verdict_names_the_mistake():
    # the hidden part runs first in a test cell: its data comes back even when the visible
    # asserts below it then fail, and the verdict's message (with its hint) is the one kept
    pending = Pending(square_check, seed=3)
    x = pending.calls[0].args[0]
    error = {"output_type": "error", "ename": "CheckFailed", "evalue": "square(2) = 4.5, attendu 4", "traceback": ["…"]}
    outputs, report = _apply(_notebook_with([_probe_output(pending, [{"value": 2 * x}]), error]), pending)
    assert outputs[0].ename == "CheckFailed" and "x au carré" in outputs[0].evalue and not report["tampering"]
    assert report["verdicts"]["test_square"] == {"passed": False, "seed": 3, "source": "verdict"}
    # hidden checks passed, visible ones failed: the cell fails with the visible message
    outputs, report = _apply(_notebook_with([_probe_output(pending, [{"value": x * x}]), error]), pending)
    assert outputs[0].evalue == "square(2) = 4.5, attendu 4" and report["verdicts"]["test_square"]["passed"] is False


# ------------------------------------------------------ the rebuilt checks, in process
def _functions(assignment: str, mutant=None) -> dict:
    """The notebook's names (reference answers, or with one mutant), defined here: what a
    test cell may hand to ``probe``."""
    nb = nbformat.read(course.SOURCE / assignment / f"{assignment.split('_', 1)[1]}.ipynb", as_version=4)
    namespace: dict = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        source = strip_solution_markers(cell.source)
        if mutant is not None and meta.get("grade_id") == mutant.cell:
            assert mutant.find in source, mutant.name
            source = source.replace(mutant.find, mutant.replace)
        if meta.get("solution") or "def " in source or source.lstrip().startswith(("import ", "from ")):
            with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
                try:
                    exec(compile(source, meta.get("grade_id", "cell"), "exec"), namespace)
                except Exception:  # noqa: BLE001 - a cell that needs the data: its definitions still count
                    _define(source, meta.get("grade_id", "cell"), namespace)
    plt.close("all")                        # the demonstration cells' figures
    return {k: v for k, v in namespace.items() if not k.startswith("__")}   # functions, classes, objects


def _define(source: str, name: str, namespace: dict) -> None:
    """The imports, functions and classes of a cell whose other lines need the data (01's
    ``setup-network`` cell defines init_params after ``x_train = X.T``)."""
    kept = [node for node in ast.parse(source).body
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
    exec(compile(ast.Module(body=kept, type_ignores=[]), name, "exec"), namespace)


def _failed(assignment: str, functions: dict, seed: int | None = None) -> dict:
    failed = {}
    for gid, fn in judging.checks_of(assignment).items():
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            passed, message = run_locally(fn, seed=seed, **functions)
        if not passed:
            failed[gid] = message
    return failed


@pytest.mark.parametrize("assignment", PROBED)
def test_reference_passes_every_check_over_many_seeds(assignment):
    functions = _functions(assignment)
    for seed in range(12):
        assert _failed(assignment, functions, seed) == {}, f"seed {seed}"


SLOW_MOONS_SEED = 521331274   # a CI run's draw: the reference plateaus at 93.5 % / 88.5 % after 6000 iterations


def test_a_slow_draw_of_01s_training_costs_a_correct_train_nothing():
    """On a draw where gradient descent plateaus past the graded iterations for the reference
    too, test_train compares with the reference run from the student's own start. A loop
    that stops learning after the 300 stubbed iterations fails on ordinary draws (on the slow
    one it reaches the same plateau, 93.0 % against 93.5 %: it passes there)."""
    check, functions = judging.checks_of("01_moons_numpy")["test_train"], _functions("01_moons_numpy")
    passed, message = run_locally(check, seed=SLOW_MOONS_SEED, **functions)
    assert passed and "converge lentement" in message, message
    exec(STOPS_LEARNING, functions)
    for seed in range(3):
        passed, message = run_locally(check, seed=seed, **functions)
        assert not passed and "attendu au moins 97%" in message, message


STOPS_LEARNING = """
def train(X, y, d=10, lr=0.01, n_iter=2000, activation="tanh", rng=None):
    params, losses = init_params(d, np.random.default_rng(rng)), []
    for t in range(n_iter):
        yhat, cache = forward(X, params, activation)
        if t % 100 == 0:
            losses.append(bce_loss(yhat, y))
        grads = backward(X, y, params, cache, activation)
        for name in ("W1", "b1", "W2", "b2"):
            params[name] -= (lr if t < 300 else 0.0) * grads[name]
    return params, losses
"""


@pytest.mark.parametrize("assignment", PROBED)
def test_what_each_probe_sends_back_fits_well_under_the_sandbox_output_cap(assignment):
    """The kernel publishes each test cell's data as one output; the sandbox drops an output
    over its cap (a dropped one reads as tampering), so every check must stay far below it."""
    from autograder.sandbox import Sandbox
    from nncourse.probe import run_call

    cap, functions, sizes = Sandbox().output_bytes_per_cell, _functions(assignment), {}
    for gid, fn in judging.checks_of(assignment).items():
        pending = probing.Pending(fn, 0)
        plan = json.loads(json.dumps(pending.plan()))
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            results = [run_call(c, functions) for c in plan["calls"]]
        sizes[gid] = len(json.dumps({"check": gid, "nonce": plan["nonce"], "results": results}))
        pending.generator.close()
    assert max(sizes.values()) < cap // 2, {k: v for k, v in sizes.items() if v >= cap // 2}


@pytest.mark.parametrize("assignment", PROBED)
def test_every_mutant_is_caught_exactly_where_it_breaks(assignment):
    """Each mutant is judged on its own fixed seed (from its name): a CI run is reproducible,
    and the mutants still spread over many seeds. An accuracy cell a weaker network loses only
    on a rare seed is named in its ``may_break`` (ReLU's derivative written as ReLU fell under
    test_mnist's 80 % once in a CI run with fresh seeds); the calibration scans the seeds."""
    wrong = {}
    for mutant in catalogue(assignment):
        seed = zlib.crc32(mutant.name.encode()) % 10_000
        failures = _failed(assignment, _functions(assignment, mutant), seed)
        if not mutant.lost_as_expected(failures):
            extra = set(failures) - mutant.breaks - mutant.may_break
            wrong[mutant.name] = {"seed": seed, "extra": {g: failures[g] for g in extra},
                                  "missing": sorted(mutant.breaks - set(failures))}
    assert not wrong


@pytest.mark.parametrize("assignment", PROBED)
def test_every_probed_test_cell_has_a_check_with_a_docstring(assignment):
    checks = judging.checks_of(assignment)
    nb = nbformat.read(course.SOURCE / assignment / f"{assignment.split('_', 1)[1]}.ipynb", as_version=4)
    probed = {judging.cell_id(c) for c in nb.cells if c.cell_type == "code" and "probe(" in c.source}
    assert probed and probed == set(checks)
    assert all((fn.__doc__ or "").strip() for fn in checks.values())
    # only nncourse is on the kernel's path: a hidden cell must not import the instructor side
    assert not any(re.search(r"^\s*(from|import)\s+autograder\b", c.source, re.M) for c in nb.cells)



# An independent correct solution of 01, written differently from the reference: it must
# get every check (new dicts instead of in-place updates, losses as an array, predict and
# numerical_gradient written another way, keepdims replaced by reshape).
INDEPENDENT_01 = '''
import numpy as np

def err(a, x=3.0):
    return a * (a + x) + 1

def err_prime(a, x=3.0):
    return x + a + a

def gradient_step(a, grad, lr):
    step = lr * grad
    return a - step

def f1_forward(x0, x1):
    y0, y1 = 2 * x0 + 5 * x1, 3 * x0 * x1
    return y0, y1, y0 * y1

def f1_backward(x0, x1):
    y0, y1, _ = f1_forward(x0, x1)
    return np.array([2 * y1 + 3 * x1 * y0, 5 * y1 + 3 * x0 * y0])

def f2_forward(x0, x1):
    return x0 * x1, np.abs(x1), (x0 * x1 + np.abs(x1)) ** 2

def f2_backward(x0, x1):
    s = 2 * (x0 * x1 + np.abs(x1))
    return np.array([s * x1, s * (x0 + np.sign(x1))])

def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    flat = x.reshape(-1)
    for i in range(flat.size):
        e = np.zeros(flat.size)
        e[i] = eps
        grad.reshape(-1)[i] = (f(x + e.reshape(x.shape)) - f(x - e.reshape(x.shape))) / (2 * eps)
    return grad

def sigmoid(z):
    return np.exp(-np.logaddexp(0, -z))

def relu(z):
    return np.where(z > 0, z, 0.0)

def init_params(d, rng):
    return {"W1": 0.01 * rng.standard_normal((d, 2)), "b1": np.zeros((d, 1)),
            "W2": 0.01 * rng.standard_normal((1, d)), "b2": np.zeros((1, 1))}

def forward(X, params, activation="tanh"):
    Z1 = np.dot(params["W1"], X) + params["b1"]
    A1 = np.tanh(Z1) if activation == "tanh" else relu(Z1)
    Z2 = np.dot(params["W2"], A1) + params["b2"]
    yhat = sigmoid(Z2)
    return yhat, dict(Z1=Z1, A1=A1, Z2=Z2, yhat=yhat)

def bce_loss(yhat, y):
    return -float(np.sum(np.where(y == 1, np.log(yhat), np.log(1 - yhat))))

def backward(X, y, params, cache, activation="tanh"):
    yhat, A1, Z1 = cache["yhat"], cache["A1"], cache["Z1"]
    g = {"yhat": (yhat - y) / (yhat * (1 - yhat)), "Z2": yhat - y}
    g["W2"] = g["Z2"].dot(A1.T)
    g["b2"] = g["Z2"].sum(axis=1).reshape(-1, 1)
    g["A1"] = params["W2"].T.dot(g["Z2"])
    g["Z1"] = g["A1"] * ((1 - np.tanh(Z1) ** 2) if activation == "tanh" else (Z1 > 0))
    g["W1"] = g["Z1"].dot(X.T)
    g["b1"] = g["Z1"].sum(axis=1).reshape(-1, 1)
    return g

def train(X, y, d=10, lr=0.01, n_iter=2000, activation="tanh", rng=None):
    params = init_params(d, np.random.default_rng(rng))
    losses = np.zeros(0)
    for t in range(n_iter):
        yhat, cache = forward(X, params, activation)
        grads = backward(X, y, params, cache, activation)
        if t % 100 == 0:
            losses = np.append(losses, bce_loss(yhat, y))
        params = {k: v - lr * grads[k] for k, v in params.items()}
    return params, losses

def predict(X, params, activation="tanh"):
    return (forward(X, params, activation)[0] >= 0.5) * 1.0

def accuracy(pred, y):
    return (pred == y).sum() / y.size
'''


def test_an_independent_correct_solution_of_01_gets_every_check():
    namespace: dict = {}
    exec(INDEPENDENT_01, namespace)
    functions = {k: v for k, v in namespace.items() if callable(v)}
    for seed in range(5):
        assert _failed("01_moons_numpy", functions, seed) == {}, f"seed {seed}"


# The message a mistake of 01 gets names it (a hint, not only "value X, expected Y").
HINTS_01 = {
    "err_prime_forgets_x": "dérivez a² + a·x + 1",
    "gradient_step_ascent": "vous montez le long du gradient",
    "f1_missing_path": "n'oubliez aucun chemin",
    "numgrad_forward_difference": "ce sont des différences avant",
    "numgrad_x_not_restored": "modifie le tableau x",
    "bce_mean_instead_of_sum": "une SOMME sur les exemples",
    "dZ2_wrong_sign": "le signe est inversé",
    "dZ2_divided_by_M": "divisé par N",
    "dW2_transposed": "transposée",
    "db2_no_keepdims": "keepdims=True",
    "db1_wrong_axis": "mauvais axe",
    "dZ1_missing_tanh_derivative": "la dérivée de l'activation est oubliée",
    "dZ1_sigmoid_derivative": "c'est la dérivée de la sigmoïde",
    "relu_derivative_is_relu": "la dérivée de ReLU est l'indicatrice",
    "train_update_plus": "monte le long du gradient",
    "train_no_bias_update": "b1 n'est jamais mis à jour",
    "train_zero_init": "la symétrie entre neurones",
    "train_loss_every_iteration": "une toutes les 100 itérations",
    "train_forward_once": "paramètres périmés",
    "predict_probabilities": "prédire 1 si ŷ > 0.5",
}


@pytest.mark.parametrize("name", sorted(HINTS_01))
def test_the_message_names_the_mistake(name):
    [mutant] = [m for m in catalogue("01_moons_numpy") if m.name == name]
    failed = _failed("01_moons_numpy", _functions("01_moons_numpy", mutant), seed=7)
    assert set(failed) == set(mutant.breaks)
    for gid in mutant.breaks:
        assert HINTS_01[name] in failed[gid], f"{gid}: {failed[gid]}"


# An independent correct solution of 03, written differently from the reference: logsumexp
# instead of the max shift, a backward that does not call cross_entropy_grad, new dicts in
# train, losses as an array, SpiralNet built on nn.Sequential, nll through F.cross_entropy.
INDEPENDENT_03 = '''
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

def softmax(S):
    S = S - np.max(S, axis=-1, keepdims=True)
    return np.exp(S) / np.sum(np.exp(S), axis=-1, keepdims=True)

def one_hot(y, K):
    return (np.asarray(y)[:, None] == np.arange(K)[None, :]).astype(float)

def _log_softmax(S):
    m = S.max(axis=1, keepdims=True)
    return S - (m + np.log(np.exp(S - m).sum(axis=1, keepdims=True)))

def cross_entropy(S, y):
    return -_log_softmax(S)[np.arange(len(y)), y].sum() / len(y)

def cross_entropy_grad(S, y):
    G = softmax(S)
    G[np.arange(len(y)), y] -= 1
    return G / len(y)

def hinge_loss(S, y, delta=1.0):
    correct = np.take_along_axis(S, np.asarray(y)[:, None], axis=1)
    m = np.clip(S - correct + delta, 0, None)
    return (m.sum() - delta * len(y)) / len(y)

def hinge_grad(S, y, delta=1.0):
    correct = np.take_along_axis(S, np.asarray(y)[:, None], axis=1)
    active = (S - correct + delta > 0) & (np.arange(S.shape[1])[None, :] != np.asarray(y)[:, None])
    G = active.astype(float)
    G[np.arange(len(y)), y] = -active.sum(axis=1)
    return G / len(y)

def relu(Z):
    return Z * (Z > 0)

def init_params(d, K, rng):
    rng = np.random.default_rng(rng)
    return {"W1": rng.standard_normal((2, d)), "b1": np.zeros((1, d)),
            "W2": rng.standard_normal((d, K)) / np.sqrt(d), "b2": np.zeros((1, K))}

def forward(X, params, activation="tanh"):
    Z1 = np.dot(X, params["W1"]) + params["b1"]
    A1 = relu(Z1) if activation == "relu" else np.tanh(Z1)
    S = np.dot(A1, params["W2"]) + params["b2"]
    return S, dict(Z1=Z1, A1=A1, S=S)

def backward(X, y, params, cache, activation="tanh"):
    dS = softmax(cache["S"]) - one_hot(y, cache["S"].shape[1])
    dS /= X.shape[0]
    dA1 = dS.dot(params["W2"].T)
    dZ1 = dA1 * (cache["Z1"] > 0) if activation == "relu" else dA1 * (1 - np.tanh(cache["Z1"]) ** 2)
    return {"W2": cache["A1"].T.dot(dS), "b2": dS.sum(0).reshape(1, -1),
            "W1": X.T.dot(dZ1), "b1": dZ1.sum(0).reshape(1, -1)}

def predict(X, params, activation="tanh"):
    return np.argmax(forward(X, params, activation)[0], axis=1)

def train(X, y, d=30, lr=1.0, n_iter=1000, activation="tanh", rng=None):
    params = init_params(d, len(np.unique(y)), rng)
    losses = np.zeros(0)
    for t in range(n_iter):
        S, cache = forward(X, params, activation)
        if t % 100 == 0:
            losses = np.append(losses, cross_entropy(S, y))
        grads = backward(X, y, params, cache, activation)
        params = {k: params[k] - lr * grads[k] for k in params}
    return params, losses

class SpiralNet(nn.Module):
    def __init__(self, d, n_classes=3):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, d), nn.ReLU(), nn.Linear(d, n_classes))

    def forward(self, x):
        return self.net(x)

def train_torch(model, X, y, lr=0.5, n_epochs=300, loss_fn=None):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    for epoch in range(n_epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses

def nll_from_scores(S, y):
    return F.cross_entropy(S, y)
'''


def test_an_independent_correct_solution_of_03_gets_every_check():
    pytest.importorskip("torch")
    namespace: dict = {}
    exec(INDEPENDENT_03, namespace)
    functions = {k: v for k, v in namespace.items() if callable(v)}
    for seed in range(3):
        assert _failed("03_spiral_softmax", functions, seed) == {}, f"seed {seed}"


# The message a mistake of 03 gets names it.
HINTS_03 = {
    "softmax_no_max_subtraction": "soustrayez à chaque LIGNE son maximum",
    "softmax_wrong_axis": "mauvais axe",
    "one_hot_whole_columns": "exactement un 1 par ligne",
    "ce_sum_instead_of_mean": "facteur 1/N oublié",
    "ce_log_of_softmax": "log(softmax) donne log(0)",
    "ce_grad_wrong_sign": "signe",
    "hinge_counts_true_class": "la bonne classe est comptée",
    "hinge_grad_missing_count": "∂L/∂s_y",
    "relu_uses_np_max": "np.maximum, pas np.max",
    "dW2_transposed": "transposée",
    "db1_no_keepdims": "forme",
    "predict_wrong_axis": "argmax",
    "train_update_plus": "monte le long du gradient",
    "train_zero_init": "la symétrie entre neurones",
    "net_softmax_output": "renvoyez les scores bruts",
    "train_torch_softmax_before_ce": "softmax appliquée avant CrossEntropyLoss",
    "nll_log_of_softmax": "utilisez F.log_softmax",
    "nll_wrong_dim": "axe des classes",
}


@pytest.mark.parametrize("name", sorted(HINTS_03))
def test_the_message_names_the_mistake_in_03(name):
    [mutant] = [m for m in catalogue("03_spiral_softmax") if m.name == name]
    failed = _failed("03_spiral_softmax", _functions("03_spiral_softmax", mutant), seed=7)
    assert set(failed) == set(mutant.breaks)
    for gid in mutant.breaks:
        assert HINTS_03[name] in failed[gid], f"{gid}: {failed[gid]}"


# The visible checks name the mistake too, for the student's own run (no grader): the
# test cell's visible part, run on the mutant, says the same thing as the verdict.
VISIBLE_HINTS_03 = {
    "one_hot_whole_columns": ("test_one_hot", "des colonnes entières"),
    "ce_sum_instead_of_mean": ("test_cross_entropy", "il manque le facteur 1/N"),
    "ce_grad_wrong_sign": ("test_cross_entropy_grad", "le signe est inversé"),
    "ce_grad_missing_1_over_N": ("test_cross_entropy_grad", "il manque le facteur 1/N"),
    "hinge_counts_true_class": ("test_hinge_loss", "la bonne classe est comptée"),
    "hinge_margin_sign": ("test_hinge_loss", "la marge δ est retranchée"),
}


@pytest.mark.parametrize("name", sorted(VISIBLE_HINTS_03))
def test_the_visible_checks_of_03_name_the_mistake(name):
    from nncourse.checks import CheckFailed
    [mutant] = [m for m in catalogue("03_spiral_softmax") if m.name == name]
    gid, hint = VISIBLE_HINTS_03[name]
    nb = nbformat.read(course.SOURCE / "03_spiral_softmax" / "spiral_softmax.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
    visible = cell.source.split("### END HIDDEN TESTS\n")[-1]
    for functions, should_fail in ((_functions("03_spiral_softmax"), False),
                                   (_functions("03_spiral_softmax", mutant), True)):
        with contextlib.redirect_stdout(io.StringIO()), np.errstate(all="ignore"):
            if not should_fail:
                exec(visible, dict(functions))
                continue
            with pytest.raises(CheckFailed, match=hint):
                exec(visible, dict(functions))


# An independent correct solution of 02, written differently from the reference: reshape
# instead of view, clamp instead of minimum, a returned a (the same tensor), grads through
# torch.autograd.grad on named layers, an SGD loop with set_to_none, MoonsNet on
# nn.Sequential, predictions by rounding.
INDEPENDENT_02 = '''
import numpy as np
import torch
from torch import nn

def to_float_tensor(values):
    return torch.as_tensor(np.array(values), dtype=torch.float32)

def as_matrix_view(t, n_rows):
    return t.reshape(n_rows, t.numel() // n_rows)

def row_and_column(A, i, j):
    return A[i].clone(), A[:, j].clone()

def outer_sum(u, v):
    return u[:, None] + v[None, :]

def center_columns(A):
    return A - A.sum(0) / A.shape[0]

def grad_f(x0, x1):
    x = torch.tensor([float(x0), float(x1)], dtype=torch.float64, requires_grad=True)
    f = (2 * x[0] + 5 * x[1]) * (3 * x[0] * x[1])
    (g,) = torch.autograd.grad(f, x)
    return float(g[0]), float(g[1])

def neq_model(x, y, a):
    return torch.clamp(a * (x - y).abs(), max=1.0)

def neq_loss_loop(a, X, ref):
    terms = [(neq_model(X[i, 0], X[i, 1], a) - ref[i]) ** 2 for i in range(len(X))]
    return torch.stack(terms).sum()

def neq_loss_vectorized(a, X, ref):
    return ((neq_model(X[:, 0], X[:, 1], a) - ref) ** 2).sum()

def gradient_step(a, loss, lr):
    loss.backward()
    with torch.no_grad():
        a.sub_(lr * a.grad)
        a.grad.zero_()
    return a

def train_neq(X, ref, a0, lr, n_iter):
    a = torch.tensor(float(a0), requires_grad=True)
    losses = []
    for _ in range(n_iter):
        loss = neq_loss_vectorized(a, X, ref)
        losses.append(float(loss))
        gradient_step(a, loss, lr)
    return float(a), losses

def to_tensors(X, y):
    return torch.from_numpy(np.asarray(X, dtype=np.float32)), torch.from_numpy(np.asarray(y, dtype=np.float32)[:, None])

def build_model(d):
    model = nn.Sequential()
    model.append(nn.Linear(2, d))
    model.append(nn.Tanh())
    model.append(nn.Linear(d, 1))
    model.append(nn.Sigmoid())
    return model

def autograd_gradients(model, X, y):
    loss = nn.functional.binary_cross_entropy(model(X), y)
    W1, b1, W2, b2 = torch.autograd.grad(loss, [model[0].weight, model[0].bias, model[2].weight, model[2].bias])
    return dict(W1=W1, b1=b1, W2=W2, b2=b2)

def train_manual(model, X, y, lr, n_epochs):
    losses = []
    for _ in range(n_epochs):
        for p in model.parameters():
            p.grad = None
        loss = nn.functional.binary_cross_entropy(model(X), y)
        loss.backward()
        losses.append(loss.detach().item())
        with torch.no_grad():
            for p in model.parameters():
                p.add_(p.grad, alpha=-lr)
    return losses

def train_sgd(model, X, y, lr, n_epochs):
    opt = torch.optim.SGD(model.parameters(), lr)
    losses = []
    for _ in range(n_epochs):
        opt.zero_grad(set_to_none=True)
        loss = nn.BCELoss()(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses

class MoonsNet(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, d), nn.Tanh(), nn.Linear(d, 1))

    def forward(self, x):
        return torch.sigmoid(self.layers(x))

def accuracy(model, X, y):
    with torch.no_grad():
        return float((model(X).round() == y).double().mean())

def predict(model, points):
    with torch.no_grad():
        return model(torch.as_tensor(points, dtype=torch.float32)).round().long().numpy()[:, 0]
'''


def test_an_independent_correct_solution_of_02_gets_every_check():
    pytest.importorskip("torch")
    namespace: dict = {}
    exec(INDEPENDENT_02, namespace)
    functions = {k: v for k, v in namespace.items() if callable(v)}
    for seed in range(3):
        assert _failed("02_moons_pytorch", functions, seed) == {}, f"seed {seed}"


# The message a mistake of 02 gets names it, in the test of the function it is in (a mistake
# that also breaks a later test through the student's own function gets the general hint there).
HINTS_02 = {
    "float_tensor_int_dtype": "précisez dtype=torch.float32",
    "view_is_copy": "renvoie une copie, pas une vue",
    "row_column_swapped": "la colonne j de A est A[:, j]",
    "outer_sum_wrong_orientation": "orientation inversée",
    "center_rows": "ce sont les lignes qui ont été centrées",
    "neq_python_min": "torch.minimum",
    "neq_loss_loop_item": "ne dépend plus de a pour autograd",
    "step_no_zero_grad": "a.grad n'est pas remis à zéro",
    "step_plus": "le signe de la mise à jour est inversé",
    "to_tensors_flat_y": "reshape(-1, 1)",
    "model_no_sigmoid": "la Sigmoid finale manque",
    "model_hardcoded_10": "avec le d donné",
    "grads_no_zero_grad": "les gradients s'accumulent",
    "manual_plus": "mauvais sens",
    "manual_no_zero_grad": "zero_grad() oublié",
    "net_no_sigmoid": "la Sigmoid finale manque",
    "accuracy_threshold_logits": "toutes les prédictions valent 1",
    "predict_no_ravel": "aplatissez",
}


@pytest.mark.parametrize("name", sorted(HINTS_02))
def test_the_message_names_the_mistake_in_02(name):
    [mutant] = [m for m in catalogue("02_moons_pytorch") if m.name == name]
    failed = _failed("02_moons_pytorch", _functions("02_moons_pytorch", mutant), seed=7)
    assert set(failed) == set(mutant.breaks)
    own = [gid for gid in mutant.breaks if gid == f"test_{mutant.cell}"] or mutant.breaks
    for gid in own:
        assert HINTS_02[name] in failed[gid], f"{gid}: {failed[gid]}"


def test_the_probe_leaves_the_global_random_generators_as_they_were(tmp_path, monkeypatch):
    # the probe runs first in a test cell: what the visible part draws must not change
    import random

    import torch
    plan = {"nonce": "0" * 16, "calls": [Call("draw", (), torch_seed=7).to_plan()]}
    (tmp_path / "test_draw.json").write_text(json.dumps(plan))
    monkeypatch.setattr(kernel_side, "plan_path", lambda check: tmp_path / f"{check}.json")
    monkeypatch.setattr("IPython.display.publish_display_data", lambda data: None)

    def draw():
        return [random.random(), float(np.random.rand()), float(torch.rand(()))]
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = draw()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    kernel_side.probe("test_draw", draw=draw)
    assert draw() == expected
