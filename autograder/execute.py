"""nbgrader's Execute step, run in a sandbox: the preprocessor that every grading path uses.

``python -m autograder autograde``, plain ``nbgrader autograde`` in a course folder and the
formgrader's button all name ``SandboxedExecute`` in their ``nbgrader_config.py``. It keeps
nbgrader's ``Execute.*`` settings (timeout, kernel, extra arguments) and adds:

- the whole execution happens in a sandbox (``sandbox.py``), with only the notebook and
  the files the assignment declares;
- what comes back is untrusted: only cell outputs are kept, checked and size-capped, and
  grafted onto nbgrader's own copy of the notebook (sources and metadata never come back);
- a wall-clock cap on the whole notebook (``notebook_timeout``);
- a verdict on the run, written next to the autograded notebook (``<name>.grading.json``):
  a given (locked) cell that ran out of time, or a student cell that timed out while the
  machine was too busy to give it the CPU, makes the submission "to regrade"; a student
  cell that ran out of time costs that cell only (warning).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

from .judging import apply_verdicts, plan_checks, plans_json, warm_up
from .sandbox import Sandbox

REPORT_SUFFIX = ".grading.json"
OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error"}
BUSY_CPU_SHARE = 0.5  # below this share of CPU over a timed-out cell, the machine was too busy


def _error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


def _valid_outputs(outputs) -> list | None:
    """The outputs as notebook nodes if they are well-formed notebook outputs, else None."""
    cell = nbformat.v4.new_code_cell(outputs=[NotebookNode(o) for o in outputs if isinstance(o, dict)])
    if len(cell.outputs) != len(outputs) or any(o.get("output_type") not in OUTPUT_TYPES for o in cell.outputs):
        return None
    try:
        nbformat.validate(nbformat.v4.new_notebook(cells=[cell]))
    except nbformat.ValidationError:
        return None
    return nbformat.from_dict(cell).outputs


def cell_label(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") or cell.get("id") or "?"


def given_cells(resources: dict) -> set:
    """grade_ids of the code the student did not write (locked cells, tests), from the gradebook:
    a cell whose metadata claims to be locked but that the gradebook does not know is the
    student's own."""
    info = resources.get("nbgrader", {})
    if not info.get("db_url"):
        return set()
    from nbgrader.api import Gradebook, MissingEntry
    try:
        with Gradebook(info["db_url"]) as gb:
            notebook = gb.find_notebook(info["notebook"], info["assignment"])
            return {c.name for c in notebook.source_cells if c.locked}
    except MissingEntry:
        return set()


class SandboxedExecute(Execute):
    notebook_timeout = Integer(
        600, help="Wall-clock limit (seconds) for executing one whole notebook.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        resources = resources or {}
        folder = Path(resources.get("metadata", {}).get("path") or ".")
        assignment = resources.get("nbgrader", {}).get("assignment", "")
        sandbox = Sandbox(parent=self)
        files = handed_in_files(folder, sandbox.submission_files.get(assignment, []), sandbox.submission_file_bytes)
        t0 = time.monotonic()
        pending = plan_checks(nb, assignment, files)
        plans = plans_json(pending)
        planning = time.monotonic() - t0
        # while the sandbox runs: the verdicts' imports (after the plans, which look for torch
        # in sys.modules: a half-imported torch would confuse them)
        warming = threading.Thread(target=warm_up, args=(assignment,), daemon=True) if pending else None
        if warming is not None:
            warming.start()
        with tempfile.TemporaryDirectory(prefix="nncourse-nb-") as tmp:
            path = Path(tmp) / "notebook.ipynb"
            nbformat.write(nb, str(path))
            run = sandbox.run(path, files, {
                "kernel_name": self.kernel_name or "python3", "timeout": self.timeout,
                "notebook_timeout": self.notebook_timeout, "extra_arguments": list(self.extra_arguments)},
                plans=plans)
        report = merge(nb, run, given_cells(resources))
        t0 = time.monotonic()
        if warming is not None:
            warming.join()
        apply_verdicts(nb, pending, report)
        report["verdict_seconds"] = round(planning + time.monotonic() - t0, 2)
        for entry in report["tampering"]:
            flag(report, "suspected tampering", f"suspected tampering: {entry}")
        name = resources.get("unique_key") or resources.get("nbgrader", {}).get("notebook") or "notebook"
        (folder / f"{name}{REPORT_SUFFIX}").write_text(json.dumps(report, indent=1, ensure_ascii=False))
        return nb, resources


def handed_in_files(folder: Path, names, max_bytes: int) -> dict:
    """The declared extra files present in ``folder``: regular files only (never a symlink),
    each under the size cap."""
    found = {}
    for name in names:
        path = folder / name
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= max_bytes:
            found[name] = path
    return found


# from best to worst; "suspected tampering" is graded (it gains nothing) but wants a look
STATUSES = ("ok", "warning", "suspected tampering", "to regrade", "error")


def flag(report: dict, status: str, reason: str) -> None:
    """Add a reason to the run's report; its status becomes the worse of the two."""
    report["reasons"].append(reason)
    if STATUSES.index(status) > STATUSES.index(report["status"]):
        report["status"] = status


def merge(nb, run, given: set) -> dict:
    """Graft what the sandbox returned onto ``nb`` (in place); return the run's report."""
    report = {"mode": run.mode, "seconds": run.seconds, "peak_memory_mb": run.peak_memory_mb,
              "peak_tasks": run.peak_tasks,
              "finished": run.finished, "problems": list(run.problems), "timeouts": [],
              "status": "ok", "reasons": []}
    lost = not run.finished
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        back = run.cells.get(index)
        if back is not None:
            outputs = _valid_outputs(back["outputs"])
            cell.outputs = outputs if outputs is not None else [
                _error_output("InvalidOutput", "sortie invalide renvoyée par le noyau (ignorée)")]
            count = back.get("execution_count")
            cell.execution_count = count if isinstance(count, int) and count > 0 else None
        elif cell.source.strip() and lost:
            cell.outputs = [_error_output("SandboxStopped", "cellule non exécutée : l'exécution s'est arrêtée avant")]

    for t in run.timeouts:
        index = t.get("cell")
        if not isinstance(index, int) or not 0 <= index < len(nb.cells):
            continue
        cell = nb.cells[index]
        seconds, cpu = t.get("seconds"), t.get("cpu_seconds")
        busy = isinstance(cpu, (int, float)) and isinstance(seconds, (int, float)) and cpu < BUSY_CPU_SHARE * seconds
        entry = {"cell": cell_label(cell), "seconds": seconds, "cpu_seconds": cpu, "given": cell_label(cell) in given,
                 "busy": busy, "limit": t.get("limit") if t.get("limit") in ("cell", "notebook") else "cell"}
        report["timeouts"].append(entry)
        where = f"cell {entry['cell']} stopped after {seconds} s ({entry['limit']} time limit"
        where += f", {cpu} s of CPU)" if cpu is not None else ")"
        if entry["given"] or busy or entry["limit"] == "notebook":
            why = ("a given cell ran out of time" if entry["given"] else
                   "the machine was too busy to give it the CPU" if busy else "the notebook time limit was reached")
            flag(report, "to regrade", f"{where}: {why}; the student is not to blame, grade again on a quieter "
                               f"machine or with a longer limit")
        else:
            flag(report, "warning", f"{where}: the student's code ran too long; that cell costs its own points")
    for p in run.problems:
        flag(report, "warning", p)
    if lost:
        flag(report, "error" if not run.cells else "warning", run.why_unfinished())
    return report
