"""Grade one assignment's reference, blank and every mutant through nbgrader and the sandbox,
and say whether each lost points exactly where it should.

    NNCOURSE_DATA=../shared/datasets python benchmarks/grade_catalogue.py WORKDIR 06_cnn_cifar10 [--reference-only]

WORKDIR is a new course folder. The reference must get full marks, the blank 0 everywhere,
and each mutant must fail exactly its ``breaks``; the last line is ``ALL OK`` or ``N BAD``.
The test suite does the same for every assignment at once (``graded`` in test_grading.py);
this is the quicker loop for one assignment while its checks change. jobs=1: the figures
are per submission.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder import grading
from autograder.mutants import catalogue
from autograder.submissions import (apply_mutants, course_notebooks, reference_files, reference_submission,
                                    write_files, write_submission)


def scores(workdir: Path, assignment: str, student: str) -> dict:
    out = {}
    with Gradebook(f"sqlite:///{workdir / 'gradebook.db'}") as gb:
        for nb in gb.find_submission(assignment, student).notebooks:
            for g in nb.grades:
                if g.cell.cell_type == "code":
                    out[g.name] = (g.score, g.max_score)
    return out


def main(workdir: Path, assignment: str, reference_only: bool) -> int:
    t0 = time.time()
    grading.prepare(workdir, [assignment])
    mutants = [] if reference_only else catalogue(assignment)
    for name, source_nb, release_nb in course_notebooks(workdir, assignment):
        reference = reference_submission(source_nb, release_nb)
        write_submission(workdir, "reference", assignment, name, reference)
        if not reference_only:
            write_submission(workdir, "blank", assignment, name, release_nb)
        for m in mutants:
            write_submission(workdir, f"mutant-{m.name}", assignment, name, apply_mutants(reference, [m]))
    files = reference_files(assignment)          # handed-in files (06's weights); never the blank's
    for student in ["reference"] + [f"mutant-{m.name}" for m in mutants]:
        write_files(workdir, student, assignment, files)
    bad = 0
    for o in grading.grade_all(workdir, names=[assignment], progress=False, jobs=1):
        s = scores(workdir, assignment, o.student)
        failing = {k for k, (got, most) in s.items() if got < most}
        if o.student == "reference":
            ok = not failing
        elif o.student == "blank":
            ok = all(got == 0 for got, _ in s.values())
        else:
            ok = next(m for m in mutants if f"mutant-{m.name}" == o.student).lost_as_expected(failing)
        bad += not ok
        print(f"{'OK ' if ok else 'BAD'} {o.student:45s} {o.status} {o.seconds:6.1f}s failing={sorted(failing)} "
              f"{o.reason[:200]}", flush=True)
    print(f"({time.time() - t0:.0f} s)")
    print("ALL OK" if not bad else f"{bad} BAD")
    return 1 if bad else 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 2:
        raise SystemExit(__doc__)
    raise SystemExit(main(Path(args[0]), args[1], "--reference-only" in sys.argv))
