"""The verdicts' imports are loaded in a thread while the sandbox runs (``judging.warm_up``)."""

from __future__ import annotations

import sys
import types

from autograder import judging
from nncourse import probe


def test_warm_up_loads_what_the_verdicts_of_05_need(monkeypatch):
    from autograder.checks import common
    monkeypatch.setattr(common, "_MNIST", {})
    judging.warm_up("05_mlp")
    assert "torch" in sys.modules and (False, False) in common._MNIST


def test_a_failing_warm_up_is_left_to_the_verdict(monkeypatch):
    from autograder.checks import mlp

    calls = []

    def broken():
        calls.append("05")
        raise OSError("no data here")
    monkeypatch.setattr(mlp, "warm_up", broken)
    assert judging.warm_up("05_mlp") is None    # no exception: the verdict meets it again, reported
    assert calls == ["05"]                      # the hook did run, and failed
    assert judging.warm_up("01_moons_numpy") is None  # no hook: nothing to do
    assert calls == ["05"]


def test_a_half_imported_torch_is_not_used_to_encode(monkeypatch):
    half = types.ModuleType("torch")
    half.__spec__ = types.SimpleNamespace(_initializing=True)
    monkeypatch.setitem(sys.modules, "torch", half)
    assert probe._loaded_torch() is None
    assert probe.encode([1.0, 2.0]) is not None  # plain values still encode
