"""Run a source notebook (or a mutant of it) directly, without nbgrader, and report which
test cells pass. For authors: a fast loop while writing tests and mutants. The test suite
checks the same things through real ``nbgrader autograde``.

    python -m autograder.quickgrade 01_moons_numpy            # reference + every mutant
    python -m autograder.quickgrade 01_moons_numpy --repeat 20 # the reference 20 times
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from nbclient import NotebookClient

from nncourse.probe import PLAN_DIR_ENV
from nncourse.runtime import GRADING_ENV_VAR

from .judging import apply_verdicts, plan_checks, plans_json
from .mutants import catalogue, module_name
from .submissions import apply_mutants, autograded_tests, read, reference_files

REPO = Path(__file__).resolve().parent.parent


def source_notebook_path(assignment: str) -> Path:
    return REPO / "source" / assignment / f"{module_name(assignment)}.ipynb"


def execute(nb, assignment: str, timeout: int = 120, files: dict | None = None):
    """Execute ``nb`` as the autograder would (plans for the probes, verdicts after), in a
    scratch folder holding ``files``, with the instructor package importable (for the
    assignments whose checks still run in the kernel). No sandbox: for the author's own
    notebooks only."""
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{REPO}{os.pathsep}{env_path}" if env_path else str(REPO)
    os.environ[GRADING_ENV_VAR] = "1"
    pending = plan_checks(nb, assignment, {k: Path(v) for k, v in (files or {}).items()})
    with tempfile.TemporaryDirectory(prefix="quickgrade-") as tmp:
        for name, path in (files or {}).items():
            shutil.copy(path, Path(tmp) / name)
        plans = Path(tmp) / ".plans"
        plans.mkdir()
        for name, data in plans_json(pending).items():
            (plans / name).write_bytes(data)
        os.environ[PLAN_DIR_ENV] = str(plans)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": tmp}})
        client.execute()
    apply_verdicts(nb, pending, {})
    return nb


def failed_tests(executed_nb) -> dict:
    """grade_id -> short error text, for the test cells that raised."""
    out = {}
    for grade_id, cell in autograded_tests(executed_nb).items():
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                out[grade_id] = f"{o.get('ename')}: {o.get('evalue', '')}"[:300]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment")
    ap.add_argument("--repeat", type=int, default=0, help="run only the reference, this many times")
    ap.add_argument("--mutant", action="append", help="only these mutants")
    args = ap.parse_args(argv)
    source = read(source_notebook_path(args.assignment))
    files = reference_files(args.assignment)
    ok = True
    runs = [("reference", [])] * max(args.repeat, 1)
    if not args.repeat:
        runs += [(m.name, [m]) for m in catalogue(args.assignment)
                 if not args.mutant or m.name in args.mutant]
    for name, mutants in runs:
        t0 = time.time()
        failed = failed_tests(execute(apply_mutants(source, mutants), args.assignment, files=files))
        expected = set().union(*(m.breaks for m in mutants))
        good = expected <= set(failed) <= expected.union(*(m.may_break for m in mutants))
        ok &= good
        print(f"{'OK ' if good else 'BAD'} {name:32s} {time.time() - t0:5.1f}s failed={sorted(failed)}"
              + ("" if good else f" expected={sorted(expected)}"))
        if not good:
            for gid, err in failed.items():
                print(f"      {gid}: {err}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
