"""Probe and verdict around one notebook's execution (the grader's side of the hidden tests).

Before execution, :func:`plan_checks` draws the inputs of every hidden check of the
notebook (``autograder/checks/probing.py``) and gives the sandbox one plan per test cell.
In the kernel, ``nncourse.probe.probe`` makes the planned calls and publishes plain data.
After execution, :func:`apply_verdicts` judges that data here, where student code cannot
reach, and writes each test cell's outcome into nbgrader's copy of the notebook: an error
output with the French message on failure, the pass line on success, whatever the kernel
left there overwritten. nbgrader then scores the cells from those outputs, as always.

A test cell that ran without error but sent no data (or data for another cell, or twice,
or malformed) is failed and reported as "suspected tampering".
"""

from __future__ import annotations

import importlib
import json
import re

from nbformat import NotebookNode

from nncourse.probe import MIME, ProbeDataError

from .checks.probing import REGISTRY, Pending
from .mutants import module_name


NOT_WRITTEN = "une fonction appelée par ce test n'est pas encore écrite (raise NotImplementedError() à remplacer)."


def cell_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def checks_of(assignment: str) -> dict:
    """grade_id -> check function of the assignment's probe/verdict checks (maybe none)."""
    name = module_name(assignment)
    try:
        importlib.import_module(f"autograder.checks.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"autograder.checks.{name}":  # a dependency of the checks is missing: say so
            raise
        return {}
    return REGISTRY.get(name, {})


def warm_up(assignment: str) -> None:
    """Load what the assignment's verdicts will need (torch, the test images...): its checks
    module's ``warm_up()``, if it has one. The grader calls it in a thread while the sandbox
    runs, so that the verdicts do not wait for imports afterwards. Never fails: a load that
    fails here fails again, reported, in the verdict."""
    checks_of(assignment)
    hook = getattr(importlib.import_module(f"autograder.checks.{module_name(assignment)}"), "warm_up", None)
    try:
        if hook is not None:
            hook()
    except Exception:  # noqa: BLE001 - see above
        pass


def plan_checks(nb, assignment: str, files: dict | None = None) -> dict:
    """grade_id -> Pending for every test cell of ``nb`` that probes (calls ``probe(``);
    ``files``: the files handed in with the notebook ({name: path}), for the checks that read
    them (``check(..., files=True)``)."""
    checks = checks_of(assignment)
    pending = {}
    for cell in nb.cells:
        gid = cell_id(cell)
        if cell.cell_type == "code" and gid in checks and "probe(" in cell.source:
            pending[gid] = Pending(checks[gid], files=dict(files or {}))
    return pending


def plans_json(pending: dict) -> dict:
    """file name -> bytes of the plans the kernel reads."""
    return {f"{gid}.json": json.dumps(p.plan()).encode() for gid, p in pending.items()}


def _judge(check: Pending, sent: list) -> tuple[bool, str, str | None]:
    """(passed, French message, what looked like tampering or None) for one cell's probe data."""
    if len(sent) != 1:
        return False, "", "no probe data came back" if not sent else "probe data came back more than once"
    if sent[0].get("nonce") != check.nonce:
        return False, "", "probe data does not carry this run's nonce"
    try:
        passed, message = check.verdict(sent[0].get("results"))
    except ProbeDataError as exc:
        return False, "", f"malformed probe data ({exc})"
    except Exception as exc:  # noqa: BLE001 - the student's values broke the judge: a failure, named
        return False, f"le test n'a pas pu lire les valeurs renvoyées ({type(exc).__name__}: {str(exc)[:200]}).", None
    return passed, message, None


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _kernel_error(output) -> NotebookNode:
    """The kernel's error output, cut to its name and message (no traceback into library code).
    When ``nncourse.messages`` wrote it in French (its lines start with ✘), those lines are the
    message: a NameError then names the earlier cell that failed, a crash the line and shapes."""
    ename, evalue = str(output.get("ename", "Error"))[:200], str(output.get("evalue", ""))[:2000]
    lines = [ANSI.sub("", str(line)) for line in (output.get("traceback") or [])[:20]]
    if lines and lines[0].startswith("✘ ") and ename != "CheckFailed":
        evalue = "\n".join(lines)[2:2000]
    elif ename == "NotImplementedError" and not evalue:
        evalue = NOT_WRITTEN
    return _error(ename, evalue)


def _error(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _stdout(text: str) -> NotebookNode:
    return NotebookNode(output_type="stream", name="stdout", text=text + "\n")


def take_probe_outputs(nb) -> dict:
    """Remove every probe output from ``nb``; return cell index -> list of their data."""
    found = {}
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data", {}) if out.get("output_type") in ("display_data", "execute_result") else {}
            if MIME in data:
                found.setdefault(index, []).append(data[MIME])
            else:
                kept.append(out)
        cell.outputs = kept
    return found


def apply_verdicts(nb, pending: dict, report: dict) -> None:
    """Judge the probed cells, write their outcome into ``nb`` and the report (in place)."""
    probes = take_probe_outputs(nb)
    report.setdefault("tampering", [])
    verdicts = report["verdicts"] = {}
    for index, cell in enumerate(nb.cells):
        gid = cell_id(cell)
        if gid not in pending:
            continue
        check = pending.pop(gid)
        kernel_errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        sent = [d for d in probes.pop(index, []) if isinstance(d, dict) and d.get("check") == gid]
        if kernel_errors and not sent:  # the visible part failed before the probe could run
            cell.outputs = [_kernel_error(kernel_errors[0])]
            verdicts[gid] = {"passed": False, "seed": check.seed, "source": "kernel"}
            continue
        passed, message, problem = _judge(check, sent)
        if problem:
            report["tampering"].append(f"{gid}: {problem}")
            message = "les tests cachés de cette cellule n'ont pas pu s'exécuter (cellule modifiée ?)."
        if kernel_errors and (passed or problem):
            # the hidden checks passed (or could not be read) but the visible ones failed: the
            # cell fails with the visible message; a failed verdict names the mistake better
            cell.outputs = [_kernel_error(kernel_errors[0])]
            verdicts[gid] = {"passed": False, "seed": check.seed, "source": "kernel"}
            continue
        cell.outputs = [_stdout(message)] if passed else [_error("CheckFailed", message)]
        verdicts[gid] = {"passed": passed, "seed": check.seed, "source": "verdict"}
    for index in probes:                # probe data printed where no probed cell is
        gid = cell_id(nb.cells[index]) or f"cell {index}"
        report["tampering"].append(f"{gid}: probe data in a cell that does not probe")
