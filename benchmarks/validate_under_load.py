"""Students' Validate on a loaded shared host: does a correct notebook pass in time?

    python benchmarks/validate_under_load.py [-a 01_moons_numpy ...] [--burners 3]
        [--burner-threads 2] [--kernel-threads 1] [--config deploy/shared-host/nbgrader_config.py]
        [--json out.json]

For each assignment, a *correct notebook* (the release notebook with the instructor's
solutions typed in, hidden tests absent: ``submissions.reference_submission``, plus the
files a correct student hands in) is validated with nbgrader's own ``Validator`` and the
student-side configuration (the per-cell ``Execute.timeout`` of the deployment), while
``--burners`` processes stand in for the other students' kernels on the same cores: numpy
matrix products in a loop, ``--burner-threads`` threads each. The validated kernel gets
``--kernel-threads`` threads (the shared-host spawner sets OMP_NUM_THREADS=1).
Every process is pinned to the first two CPUs (``--cpus``) so that a larger machine
measures a 2-core one. Reports, per assignment: whether Validate passed, its wall time, the
slowest cell (nbclient's own timing) and the margin ``timeout / slowest cell``.

Run it on an otherwise quiet machine: other work on the same cores adds to the load.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "TORCH_NUM_THREADS")


def burn(threads: int, stop) -> None:
    """Another student's kernel: ``threads`` threads of dense numpy work until told to stop.
    Each thread runs single-threaded BLAS (numpy releases the GIL in it): a multi-threaded
    OpenBLAS call yields its CPU when the cores are contended, and then loads them far less
    than a student's training does."""
    import threading

    for var in THREAD_VARS:
        os.environ[var] = "1"
    import numpy as np

    def work():
        a = np.random.default_rng(0).standard_normal((384, 384))
        while not stop.is_set():
            a = np.tanh(a @ a / 384.0)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def correct_notebook(assignment: str, dest: Path) -> Path:
    """Write the correct notebook (and handed-in files) of ``assignment`` into ``dest``."""
    import nbformat

    from autograder import course
    from autograder.submissions import reference_files, reference_submission

    [name] = course.notebook_names(assignment)
    source = nbformat.read(str(course.SOURCE / assignment / f"{name}.ipynb"), as_version=4)
    release = nbformat.read(str(course.RELEASE / assignment / f"{name}.ipynb"), as_version=4)
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / f"{name}.ipynb"
    nbformat.write(reference_submission(source, release), str(path))
    for file_name, file_path in reference_files(assignment).items():
        (dest / file_name).write_bytes(Path(file_path).read_bytes())
    return path


def cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def validate(path: Path, config_file: Path) -> dict:
    """nbgrader's Validator with the deployment's config; the executed notebook is kept."""
    from nbgrader.validator import Validator
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    kept = {}

    class Keeping(Validator):
        def _preprocess(self, nb):
            kept["nb"] = super()._preprocess(nb)
            return kept["nb"]

    validator = Keeping(config=config)
    t0 = time.monotonic()
    results = validator.validate(str(path))
    wall = time.monotonic() - t0
    timed = [(cell_seconds(c), i, c.source.strip().splitlines()[:1]) for i, c in enumerate(kept["nb"].cells)
             if c.cell_type == "code"]
    timed = [t for t in timed if t[0] is not None]
    slowest = max(timed, default=(0.0, -1, [""]))
    return {"passed": not results, "problems": {k: len(v) for k, v in results.items()},
            "first_problem": next((v[0].get("raw_error", v[0].get("source", ""))[-300:] for v in results.values()), ""),
            "wall_s": round(wall, 1), "slowest_cell_s": round(slowest[0], 1), "slowest_cell_index": slowest[1],
            "slowest_cell_first_line": (slowest[2] or [""])[0][:80],
            "timeout_s": config.Execute.timeout}


def main(argv=None) -> int:
    from autograder import course

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    parser.add_argument("--burners", type=int, default=3, help="other students' kernels (default 3)")
    parser.add_argument("--burner-threads", type=int, default=2, help="threads of each (default 2)")
    parser.add_argument("--kernel-threads", type=int, default=1, help="threads of the validated kernel (default 1)")
    parser.add_argument("--cpus", default="0,1", help="CPUs everything is pinned to (default 0,1)")
    parser.add_argument("--config", type=Path, default=REPO / "deploy" / "shared-host" / "nbgrader_config.py")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    cpus = {int(c) for c in args.cpus.split(",")} & os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)  # inherited by the burners and the kernels
    for var in THREAD_VARS:
        os.environ[var] = str(args.kernel_threads)  # the validated kernel inherits these
    names = args.assignment or course.assignments()
    print(f"cpus {sorted(os.sched_getaffinity(0))}, {args.burners} burners x {args.burner_threads} threads, "
          f"kernel {args.kernel_threads} thread(s), config {args.config}, load average before: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    stop = multiprocessing.Event()
    burners = [multiprocessing.Process(target=burn, args=(args.burner_threads, stop), daemon=True)
               for _ in range(args.burners)]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="validate-load-") as tmp:
        paths = {a: correct_notebook(a, Path(tmp) / a) for a in names}  # before the load starts
        for b in burners:
            b.start()
        try:
            time.sleep(2)
            for a in names:
                fig = validate(paths[a], args.config)
                fig["margin"] = round(fig["timeout_s"] / max(fig["slowest_cell_s"], 0.1), 1)
                fig["load_average_1min"] = round(os.getloadavg()[0], 2)
                figures[a] = fig
                print(f"{a}: {'passed' if fig['passed'] else 'FAILED ' + json.dumps(fig['problems'])} in "
                      f"{fig['wall_s']} s; slowest cell {fig['slowest_cell_s']} s (#{fig['slowest_cell_index']}: "
                      f"{fig['slowest_cell_first_line']!r}); timeout {fig['timeout_s']} s -> margin "
                      f"{fig['margin']}x; load {fig['load_average_1min']}", flush=True)
                if not fig["passed"]:
                    print(f"   {fig['first_problem']}", flush=True)
        finally:
            stop.set()
            for b in burners:
                b.join(10)
                if b.is_alive():
                    b.terminate()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0 if all(f["passed"] for f in figures.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
