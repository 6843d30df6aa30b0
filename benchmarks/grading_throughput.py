"""Throughput of cohort grading against the number of local Dask workers (issue 12).

    python benchmarks/grading_throughput.py [-n 24] [-w 1 -w 2 -w 4] [-a 01_moons_numpy ...]

A synthetic cohort of ``n`` submissions (the reference and mutants of 01–04, round-robin
over the assignments) is graded from scratch with each worker count (``-j``: one sandboxed
kernel per worker, the cores shared between them). Prints wall time, throughput
(submissions per minute), speed-up and efficiency against one worker, then extrapolates to
300 students × 6 notebooks on a 16-core machine and on 4 such machines. Not a test: the
figures depend on the machine and on what else runs on it (print ``uptime`` with them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import course, grading  # noqa: E402
from autograder.mutants import catalogue  # noqa: E402
from autograder.submissions import (apply_mutants, course_notebooks, reference_files,  # noqa: E402
                                    reference_submission, write_files, write_submission)

COHORT_SUBMISSIONS = 300 * 6
MACHINE_CORES = 16
# The course's six notebooks cost ~62 s per student on an idle 2-core machine (issue 12):
COURSE_SECONDS_PER_NOTEBOOK = 62 / 6


def write_cohort(workdir: Path, assignments: list[str], n: int) -> int:
    """``n`` submissions: per assignment the reference, then its mutants one by one."""
    plans = {}
    for a in assignments:
        name, src, rel = next(course_notebooks(workdir, a))
        ref = reference_submission(src, rel)
        plans[a] = [("reference", name, ref)] + [(f"mutant-{m.name}", name, apply_mutants(ref, [m]))
                                                  for m in catalogue(a)]
    made = 0
    for i in range(n):
        a = assignments[i % len(assignments)]
        plan = plans[a]
        label, name, nb = plan[(i // len(assignments)) % len(plan)]
        student = f"s{i:03d}-{label}"
        write_submission(workdir, student, a, name, nb)
        write_files(workdir, student, a, reference_files(a))
        made += 1
    return made


def fmt_hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=24, help="submissions in the synthetic cohort (default 24)")
    ap.add_argument("-w", "--workers", type=int, action="append", help="worker counts (default 1, 2, 4 up to the cores)")
    ap.add_argument("-a", "--assignment", action="append", help="assignments (default: 01 to 04)")
    ap.add_argument("--threads", type=int, help="threads per kernel, the same for every worker count "
                    "(default: cores ÷ workers, so one worker's kernel gets them all)")
    args = ap.parse_args(argv)
    config = course.load_config(Sandbox={"threads": args.threads}) if args.threads else None
    cores = os.cpu_count() or 1
    workers = args.workers or [w for w in (1, 2, 4, 8, 16) if w <= cores]
    assignments = args.assignment or course.assignments()[:4]
    os.environ.setdefault("NNCOURSE_DATA", str(REPO.parent / "shared" / "datasets"))
    print(f"{args.n} submissions of {', '.join(assignments)}; {cores} cores; "
          f"threads per kernel {args.threads or 'cores ÷ workers'}; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    base = Path(tempfile.mkdtemp(prefix="nncourse-bench-"))
    try:
        grading.prepare(base / "prepared", assignments)
        rows = []
        for w in workers:
            workdir = base / f"w{w}"
            shutil.copytree(base / "prepared", workdir)
            n = write_cohort(workdir, assignments, args.n)
            t0 = time.monotonic()
            outcomes = grading.grade_all(workdir, assignments, config=config, progress=False, jobs=w)
            wall = time.monotonic() - t0
            bad = [o for o in outcomes if o.status != "ok"]
            rows.append({"workers": w, "n": n, "wall": wall, "per_min": n / wall * 60,
                         "median_s": statistics.median(o.seconds for o in outcomes), "not_ok": len(bad)})
            print(f"  {w} worker(s): {n} graded in {wall:.0f} s ({len(bad)} not ok)", flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)

    one = rows[0]["per_min"]
    print("\n| workers | submissions | wall (s) | throughput (subs/min) | speed-up | efficiency | median s/sub |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        s = r["per_min"] / one
        print(f"| {r['workers']} | {r['n']} | {r['wall']:.0f} | {r['per_min']:.1f} | {s:.2f} | "
              f"{s / r['workers']:.2f} | {r['median_s']:.1f} |")

    best = rows[-1]
    cores_used = min(best["workers"], cores)
    core_seconds = cores_used * 60 / best["per_min"]  # core-seconds per submission at the best worker count
    efficiency = best["per_min"] / one / best["workers"]
    print(f"\nExtrapolation to {COHORT_SUBMISSIONS} submissions (300 students × 6 notebooks), one worker per "
          f"core, scaling linearly from {best['workers']} worker(s) here (efficiency {efficiency:.2f} measured):")
    for label, per_sub in (("notebooks like this cohort's (01–04), measured", core_seconds),
                           ("the course's average notebook (62 s per student on 2 cores, issue 12; "
                            "upper bound: both cores busy)", COURSE_SECONDS_PER_NOTEBOOK * 2)):
        print(f"  {label}: {per_sub:.1f} core-seconds per submission")
        for machines in (1, 4):
            print(f"    {machines} machine(s) × {MACHINE_CORES} cores: "
                  f"{fmt_hours(COHORT_SUBMISSIONS * per_sub / (machines * MACHINE_CORES))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
