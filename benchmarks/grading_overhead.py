"""Cost of sandboxed grading against an earlier grader, side by side, per assignment.

    python benchmarks/grading_overhead.py --baseline a5b22c5 [-a 01_moons_numpy ...] [--rounds 3] [--per-process 3]

For each assignment, the reference submission is graded by the baseline revision (checked
out in a temporary git worktree) and by this checkout, alternately, ``rounds`` times each,
each grading in a fresh process (nbgrader included). Prints the median wall seconds of
both and their ratio; machines are noisy, so compare ratios, not seconds. (CPU time is not
compared: a sandboxed kernel's CPU time does not reach the grader's RUSAGE_CHILDREN.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRADE_ONE = """
import sys, json
from pathlib import Path
from autograder import course, grading
from autograder.submissions import course_notebooks, reference_files, reference_submission, write_files, write_submission
workdir, a, student, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
students = [f"{student}-{i}" for i in range(count)]
for s in students:
    for name, src, rel in course_notebooks(workdir, a):
        write_submission(workdir, s, a, name, reference_submission(src, rel))
    write_files(workdir, s, a, reference_files(a))
outcomes = grading.grade_all(workdir, [a], students, progress=False)
bad = [o for o in outcomes if o.status != "ok"]
print(json.dumps({"status": bad[0].status if bad else "ok", "reason": bad[0].reason if bad else ""}))
"""


def timed(code_dir: Path, args: list) -> tuple[float, dict]:
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", GRADE_ONE, *args], cwd=code_dir, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        raise SystemExit(f"grading failed in {code_dir}:\n{out.stderr[-2000:]}")
    return wall, json.loads(out.stdout.strip().splitlines()[-1])


def prepare(code_dir: Path, workdir: Path, assignment: str) -> None:
    code = f"from pathlib import Path; from autograder import grading; grading.prepare(Path({str(workdir)!r}), [{assignment!r}])"
    subprocess.run([sys.executable, "-c", code], cwd=code_dir, check=True, capture_output=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="git revision of the grader to compare with")
    ap.add_argument("-a", "--assignment", action="append", help="assignments (default: 01 to 05)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-process", type=int, default=1,
                    help="submissions graded by each grading process (a batch: one-time imports, such as "
                         "torch for the verdicts of 03, are then shared); the figures are per submission")
    args = ap.parse_args(argv)
    assignments = args.assignment or ["01_moons_numpy", "02_moons_pytorch", "03_spiral_softmax",
                                      "04_mnist_logreg", "05_mlp"]
    with tempfile.TemporaryDirectory(prefix="nncourse-bench-") as tmp:
        tmp = Path(tmp)
        base = tmp / "baseline"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(base), args.baseline],
                       check=True, capture_output=True)
        try:
            print(f"{'assignment':18s} {'baseline wall':>13s} {'sandbox wall':>12s} {'ratio':>6s}")
            for a in assignments:
                runs = {"baseline": [], "sandbox": []}
                for label, code in (("baseline", base), ("sandbox", REPO)):
                    prepare(code, tmp / f"{label}-{a}", a)
                for k in range(args.rounds):
                    for label, code in (("baseline", base), ("sandbox", REPO)):
                        wall, outcome = timed(code, [str(tmp / f"{label}-{a}"), a, f"ref{k}", str(args.per_process)])
                        assert outcome["status"] == "ok", (label, a, outcome)
                        runs[label].append(wall / args.per_process)
                bw, sw = statistics.median(runs["baseline"]), statistics.median(runs["sandbox"])
                print(f"{a:18s} {bw:12.1f}s {sw:11.1f}s {sw / bw:6.2f}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(base)], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
