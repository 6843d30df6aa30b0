"""What a correct solution uses in the sandbox, per assignment: the evidence behind the
defaults of ``c.Sandbox.*`` (README, "The grading sandbox").

    python benchmarks/sandbox_limits.py [-a 01_moons_numpy ...]

Grades the reference submission of each assignment once and prints its wall time, the
longest cell, peak memory and peak number of tasks (processes + threads) of the sandbox.
Memory and tasks are read from the sandbox's cgroup, so run it as root (as CI does).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from autograder import course, grading
from autograder.sandbox import Sandbox
from autograder.submissions import course_notebooks, reference_files, reference_submission, write_files, write_submission


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-a", "--assignment", action="append")
    args = ap.parse_args(argv)
    names = args.assignment or course.assignments()
    limits = Sandbox(config=course.load_config())
    print(f"{'assignment':18s} {'seconds':>8s} {'peak MiB':>9s} {'tasks':>6s}  status")
    with tempfile.TemporaryDirectory(prefix="nncourse-limits-") as tmp:
        workdir = Path(tmp)
        grading.prepare(workdir, names)
        for a in names:
            for name, src, rel in course_notebooks(workdir, a):
                write_submission(workdir, "reference", a, name, reference_submission(src, rel))
            write_files(workdir, "reference", a, reference_files(a))
            [o] = grading.grade_all(workdir, [a], ["reference"], progress=False)
            reports = [json.loads(p.read_text()) for p in (workdir / "autograded" / "reference" / a).glob("*.grading.json")]
            tasks = max((r.get("peak_tasks", 0) for r in reports), default=0)
            print(f"{a:18s} {o.seconds:8.1f} {o.peak_memory_mb:9.0f} {tasks:6d}  {o.status} {o.reason}", flush=True)
    print(f"limits: memory {limits.memory_bytes >> 20} MiB, tasks {limits.processes}, "
          f"cell {course.load_config().Execute.timeout} s, notebook {course.load_config().SandboxedExecute.notebook_timeout} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
