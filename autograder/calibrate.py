"""``python -m autograder calibrate NN_name [--seeds N] [--set key=value ...]``: the spread of
an assignment's graded quantities (accuracies of the reference recipe, ratios of a check)
over seeds, next to the thresholds the hidden checks use. Calibration never runs while
grading; each checks module says what it measures in its ``calibration()`` function.
"""

from __future__ import annotations

import importlib
import inspect
import time

import numpy as np

from nncourse.data import DatasetUnavailableError

from .mutants import module_name


def parse_settings(pairs: list[str], function) -> dict:
    """``key=value`` pairs as keyword arguments of ``function``, typed like its defaults."""
    params = inspect.signature(function).parameters
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in params or key == "seeds":
            raise SystemExit(f"error: --set {pair!r}: expected key=value with key among "
                             f"{', '.join(k for k in params if k != 'seeds')}")
        default = params[key].default
        settings[key] = type(default)(value) if default is not None else value
    return settings


def line(label: str, values: np.ndarray, threshold) -> str:
    text = (f"{label}: mean {values.mean():.4g} min {values.min():.4g} max {values.max():.4g} "
            f"median {np.median(values):.4g} (n={values.size})")
    if threshold is not None:
        text += f"; threshold {threshold}: {int(np.sum(values < threshold))} below"
    return text


def summary(results: dict) -> str:
    parts = []
    for label, (values, _) in results.items():
        if label == "seconds":
            parts.append(f"seconds mean {values.mean():.0f}")
        else:
            parts.append(f"{label} mean {values.mean():.3f} min {values.min():.3f} max {values.max():.3f}")
    return "summary: " + "; ".join(parts)


def main(assignment: str, seeds: int | None, settings: list[str]) -> int:
    module = importlib.import_module(f"autograder.checks.{module_name(assignment)}")
    function = getattr(module, "calibration", None)
    if function is None:
        raise SystemExit(f"error: {assignment} has nothing to calibrate")
    kwargs = parse_settings(settings, function)
    if seeds is not None:
        kwargs["seeds"] = seeds
    t0 = time.time()
    try:
        raw = function(**kwargs)
    except DatasetUnavailableError as exc:
        raise SystemExit(f"error: {exc}") from None
    results = {label: (np.asarray(values, dtype=np.float64), threshold) for label, (values, threshold) in raw.items()}
    for label, (values, threshold) in results.items():
        print(line(label, values, threshold))
    print(f"({time.time() - t0:.0f} s)")
    print(summary(results))
    return 0
