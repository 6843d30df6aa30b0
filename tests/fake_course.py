"""A small graded course folder without running nbgrader: gradebook rows written with
nbgrader's Gradebook API, a grading_report.json, and autograded notebooks whose test cells
carry the French failure messages a real grading run leaves there."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

from autograder import course
from autograder.grading import REPORT_FILE

ASSIGNMENT, NOTEBOOK = "01_moons_numpy", "moons_numpy"
CELLS = [("test_sigmoid", 2.0, "code"), ("test_forward", 3.0, "code"), ("explain", 1.0, "markdown")]
HINTS = {"test_sigmoid": "sigmoid(0) doit valoir 0.5", "test_forward": "forward : mauvaise forme de sortie"}


def student(points: dict, status="ok", reason="", seconds=3.0, peak=None, manual=None) -> dict:
    """One submission: points per autograded cell (missing = full marks), manual points or None."""
    return {"points": points, "status": status, "reason": reason, "seconds": seconds,
            "peak": peak, "manual": manual}


def _autograded_notebook(points: dict):
    nb = nbformat.v4.new_notebook()
    for grade_id, max_score, kind in CELLS:
        meta = {"nbgrader": {"grade": True, "solution": kind == "markdown", "grade_id": grade_id,
                             "points": max_score, "locked": kind != "markdown"}}
        if kind == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell("Réponse", metadata=meta))
            continue
        cell = nbformat.v4.new_code_cell("assert True", metadata=meta)
        if points.get(grade_id, max_score) < max_score:
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=HINTS[grade_id],
                                                   traceback=["..."])]
        nb.cells.append(cell)
    return nb


def build(workdir: Path, students: dict, assignment: str = ASSIGNMENT) -> Path:
    """Write gradebook.db, grading_report.json and autograded/ for ``students``
    (student id -> ``student(...)``). Submissions with status error have no gradebook row."""
    workdir.mkdir(parents=True, exist_ok=True)
    report = {}
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        gb.update_or_create_assignment(assignment)
        gb.update_or_create_notebook(NOTEBOOK, assignment)
        for grade_id, max_score, kind in CELLS:
            gb.update_or_create_grade_cell(grade_id, NOTEBOOK, assignment, max_score=max_score, cell_type=kind)
        for sid, s in students.items():
            gb.update_or_create_student(sid)
            report[f"{sid}/{assignment}"] = {"student": sid, "assignment": assignment, "status": s["status"],
                                             "reason": s["reason"], "seconds": s["seconds"], "notes": []}
            if s["peak"] is not None:
                report[f"{sid}/{assignment}"]["peak_memory_mb"] = s["peak"]
            if s["status"] == "error":
                continue
            gb.add_submission(assignment, sid)
            for grade_id, max_score, kind in CELLS:
                grade = gb.find_grade(grade_id, NOTEBOOK, assignment, sid)
                if kind == "markdown":
                    grade.manual_score = s["manual"]
                    grade.needs_manual_grade = s["manual"] is None
                else:
                    grade.auto_score = s["points"].get(grade_id, max_score)
                    grade.needs_manual_grade = False
            gb.db.commit()
            out = workdir / "autograded" / sid / assignment / f"{NOTEBOOK}.ipynb"
            out.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(_autograded_notebook(s["points"]), str(out))
    (workdir / REPORT_FILE).write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return workdir
