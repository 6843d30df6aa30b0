"""Probe and verdict for 05_mlp: the object capabilities of the probe (classes built in the
kernel, steps on objects, tapes), and the checks of 05 against independent solutions."""

from __future__ import annotations

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
                           steps=(Set(("value",), 3, on=0, before=True), Get(0, "value"), Get(1, "value"))),
                      Call("TABLE", as_object=True, steps=(Get("k"),))]
        assert [s.value for s in a.steps[1:]] == [3, 10] and a.steps[0] is None
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


# ----------------------------------------------- 05's probed checks (the notebook is mixed
# while its trainings still run in the kernel, so test_probe's generic tests skip it)
def test_05_reference_passes_the_probed_checks_over_many_seeds():
    from tests.test_probe import _failed, _functions
    functions = _functions("05_mlp")
    for seed in range(12):
        assert _failed("05_mlp", functions, seed) == {}, f"seed {seed}"


def test_05_mutants_are_caught_by_the_probed_checks_exactly_where_they_break():
    from autograder import judging
    from autograder.mutants import catalogue
    from tests.test_probe import _failed, _functions
    probed = set(judging.checks_of("05_mlp"))
    wrong = {}
    for mutant in catalogue("05_mlp"):
        failed = set(_failed("05_mlp", _functions("05_mlp", mutant)))
        # cells a mutant breaks through their visible asserts are not judged in process
        if not failed <= mutant.breaks or not failed >= (mutant.breaks & probed) - VISIBLE_ONLY.get(mutant.name, set()):
            wrong[mutant.name] = sorted(failed ^ (mutant.breaks & probed))
    assert not wrong


# mutant -> probed cells it breaks only through the visible asserts (the student's whole library)
VISIBLE_ONLY = {
    "zero_grad_only_creates": {"test_sequentiel_update", "test_sgd"},
    "update_parameters_plus": {"test_optim_step", "test_sgd"},
    "mse_backward_sign": {"test_optim_step", "test_sgd"},
    "linear_backward_delta_no_transpose": {"test_sequentiel_backward"},
    "optim_step_no_zero_grad": {"test_sgd"},
}
