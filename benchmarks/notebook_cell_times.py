"""How long a student waits for each cell: a release notebook with the reference answers
typed in (what a student runs on a hub, not under the autograder), executed once by
nbclient in a scratch folder, timed per cell and per part (## heading).

    NNCOURSE_DATA=../shared/datasets python benchmarks/notebook_cell_times.py 06_cnn_cifar10

Prints every cell that took at least --min seconds (with the first line of its source and
the last three lines it printed, where a training states its epochs and accuracy), then each part's total
and the notebook's. Run it on idle cores: the notebook's own figures come from it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from autograder import course  # noqa: E402
from autograder.submissions import course_notebooks, reference_submission  # noqa: E402


def seconds(cell) -> float | None:
    timing = cell.metadata.get("execution", {})
    if "iopub.execute_input" not in timing or "shell.execute_reply" not in timing:
        return None
    start, end = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                  for k in ("iopub.execute_input", "shell.execute_reply"))
    return (end - start).total_seconds()


def last_printed_lines(cell, n: int = 3) -> list[str]:
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("name") == "stdout")
    return [line[:110] for line in text.splitlines() if line.strip()][-n:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("assignment", choices=course.assignments())
    ap.add_argument("--min", type=float, default=1.0, help="list the cells that took at least this long (s)")
    args = ap.parse_args()
    [(_, source_nb, release_nb)] = list(course_notebooks(course.REPO, args.assignment))
    nb = reference_submission(source_nb, release_nb)
    with tempfile.TemporaryDirectory(prefix="nncourse-times-") as scratch:
        client = NotebookClient(nb, timeout=1800, kernel_name="python3", record_timing=True,
                                resources={"metadata": {"path": scratch}})
        t0 = time.time()
        client.execute()
        wall = time.time() - t0
    part, parts = "(début)", {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.startswith("## "):
            part = cell.source.splitlines()[0][3:]
        took = seconds(cell) if cell.cell_type == "code" else None
        if took is None:
            continue
        parts[part] = parts.get(part, 0.0) + took
        if took >= args.min:
            first = cell.source.strip().splitlines()[0][:60]
            print(f"{took:7.1f} s  cell {i:3d}  {first}")
            for line in last_printed_lines(cell):
                print(f"{'':20s}-> {line}")
    for name, total in parts.items():
        print(f"{total:7.1f} s  part {name}")
    print(f"{wall:7.1f} s  whole notebook (kernel start included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
