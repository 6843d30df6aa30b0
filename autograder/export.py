"""Grades out of the gradebook, with the grading status next to every score.

``nbgrader export`` writes a plain 0 for a submission that could not be graded; here a
submission that failed has an empty score, ``status=error`` and the reason, and one
marked ``to regrade`` (a given cell ran out of time) has an empty score too. The plugin
works from the nbgrader CLI too::

    nbgrader export --exporter=autograder.export.StatusCsvExportPlugin
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin
from traitlets import Unicode

from . import course
from .grading import BATCH, REPORT_FILE, load_report

FIXED_COLUMNS = ["assignment", "student_id", "status", "reason", "score", "max_score",
                 "needs_manual_grade"]


def _cell_order(gb: Gradebook, assignment: str) -> list:
    """(notebook, grade_id, max_score, is_manual) for every graded cell, in notebook order."""
    cells = []
    for nb in gb.find_assignment(assignment).notebooks:
        for gc in nb.grade_cells:
            manual = gc.cell_type == "markdown"
            cells.append((nb.name, gc.name, gc.max_score, manual))
    return cells


def collect_rows(gb: Gradebook, report: dict) -> tuple[list[dict], dict]:
    """One row per (assignment, student) that was submitted, graded, or failed."""
    rows, cells_by_assignment = [], {}
    pairs = set()
    for a in gb.assignments:
        cells_by_assignment[a.name] = _cell_order(gb, a.name)
        for sub in a.submissions:
            pairs.add((a.name, sub.student.id))
    for outcome in report.values():
        if isinstance(outcome, dict) and outcome.get("assignment") in cells_by_assignment:
            pairs.add((outcome["assignment"], outcome["student"]))
    for assignment, student in sorted(pairs):
        outcome = report.get(f"{student}/{assignment}")
        row = {"assignment": assignment, "student_id": student,
               "status": outcome["status"] if outcome else "unknown",
               "reason": outcome["reason"] if outcome else "graded outside this pipeline",
               "score": "", "max_score": 0.0, "needs_manual_grade": False}
        failed = outcome is not None and outcome["status"] == "error"
        withheld = outcome is not None and outcome["status"] == "to regrade"  # not the student's fault
        auto_score = 0.0
        for nb_name, grade_id, max_score, manual in cells_by_assignment[assignment]:
            row["max_score"] += 0.0 if manual else max_score
            key = f"{nb_name}:{grade_id}"
            if failed:
                row[key] = ""
                continue
            try:
                grade = gb.find_grade(grade_id, nb_name, assignment, student)
            except MissingEntry:
                row[key] = ""
                continue
            if manual:
                row["needs_manual_grade"] |= bool(grade.needs_manual_grade)
                row[key] = "" if grade.score is None or grade.needs_manual_grade else grade.score
            else:
                row[key] = grade.score
                auto_score += grade.score or 0.0
        if not failed and not withheld:
            row["score"] = auto_score
        rows.append(row)
    return rows, cells_by_assignment


class StatusCsvExportPlugin(ExportPlugin):
    """CSV of autograded scores, per cell, with the grading status and its reason."""

    report = Unicode(REPORT_FILE, help="grading report written by `python -m autograder autograde`").tag(config=True)

    def export(self, gradebook: Gradebook) -> None:
        to = self.to or "grades.csv"
        path = Path(self.report)
        report = json.loads(path.read_text()) if path.exists() else {}
        report.pop(BATCH, None)  # the entry about the last batch, not a submission
        write_csv(Path(to), *collect_rows(gradebook, report))


def write_csv(path: Path, rows: list[dict], cells_by_assignment: dict) -> None:
    cell_columns = [f"{nb}:{gid}" for cells in cells_by_assignment.values() for nb, gid, _, _ in cells]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIXED_COLUMNS + cell_columns, restval="")
        writer.writeheader()
        writer.writerows(rows)


def export(workdir: Path, to: Path | None = None) -> tuple[Path, list[dict], dict]:
    """Write ``grades.csv`` for a course folder; return its path, the rows and the cells."""
    to = to or workdir / "grades.csv"
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        rows, cells = collect_rows(gb, load_report(workdir))
    write_csv(to, rows, cells)
    return to, rows, cells


def format_table(rows: list[dict], cells_by_assignment: dict) -> str:
    """Per assignment: one line per graded cell, one column per student."""
    out = []
    for assignment, cells in cells_by_assignment.items():
        arows = [r for r in rows if r["assignment"] == assignment]
        if not arows:
            continue
        students = [r["student_id"] for r in arows]
        width = max(8, *(len(s) for s in students))
        first = max(len("status"), *(len(gid) + 6 for _, gid, _, _ in cells))
        out.append(f"\n{assignment}")
        out.append(f"{'question (points)':<{first}}  " + "  ".join(f"{s:>{width}}" for s in students))
        for nb, gid, max_score, manual in cells:
            vals = []
            for r in arows:
                v = r.get(f"{nb}:{gid}", "")
                if r["status"] == "error":
                    vals.append("-")
                elif manual:
                    vals.append("manual" if v == "" else f"{v:g}")
                else:
                    vals.append("" if v == "" else f"{v:g}")
            out.append(f"{gid + f' ({max_score:g})':<{first}}  " + "  ".join(f"{v:>{width}}" for v in vals))
        out.append(f"{'autograded total':<{first}}  " + "  ".join(
            f"{('-' if r['score'] == '' else format(r['score'], 'g')) + '/' + format(r['max_score'], 'g'):>{width}}"
            for r in arows))
        out.append(f"{'status':<{first}}  " + "  ".join(f"{r['status']:>{width}}" for r in arows))
        for r in arows:
            if r["reason"]:
                out.append(f"  {r['student_id']}: {r['reason']}")
    return "\n".join(out)
