"""Feedback made before the written answers are graded says so at the top (issue 10)."""

from __future__ import annotations

import nbformat
from nbgrader.api import Gradebook

from autograder import course
from autograder.feedback import PENDING_TITLE, PendingManualGrades, pending_manual_grades


def _gradebook(tmp_path):
    db = tmp_path / "gradebook.db"
    with Gradebook(course.db_url(db)) as gb:
        gb.add_assignment("a1")
        gb.add_notebook("nb", "a1")
        gb.add_grade_cell("test_x", "nb", "a1", max_score=1, cell_type="code")
        gb.add_grade_cell("q_written", "nb", "a1", max_score=2, cell_type="markdown")
        gb.add_solution_cell("q_written", "nb", "a1")
        gb.add_student("ana")
        gb.add_submission("a1", "ana")
        for grade in gb.find_submission_notebook("nb", "a1", "ana").grades:  # autograded: the test cell
            if grade.name == "test_x":  # what nbgrader's SaveAutoGrades records
                grade.auto_score = 1
                grade.needs_manual_grade = False
        gb.db.commit()
    return db


def test_pending_written_answers_are_announced(tmp_path):
    db = _gradebook(tmp_path)
    assert pending_manual_grades(tmp_path, [("ana", "a1")]) == [("ana", "a1", 2.0)]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("réponse")])
    resources = {"nbgrader": {"db_url": course.db_url(db), "notebook": "nb", "assignment": "a1", "student": "ana"}}
    nb, resources = PendingManualGrades().preprocess(nb, resources)
    assert PENDING_TITLE in resources["nbgrader"]["notebook"]  # the feedback's title line
    assert PENDING_TITLE in nb.cells[0].source.lower() and "pas des points perdus" in nb.cells[0].source
    assert len(nb.cells) == 2


def test_graded_written_answers_leave_the_feedback_alone(tmp_path):
    db = _gradebook(tmp_path)
    with Gradebook(course.db_url(db)) as gb:
        for grade in gb.find_submission_notebook("nb", "a1", "ana").grades:
            if grade.name == "q_written":  # what the formgrader records
                grade.manual_score = 2
                grade.needs_manual_grade = False
        gb.db.commit()
    assert pending_manual_grades(tmp_path, [("ana", "a1")]) == []
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("réponse")])
    resources = {"nbgrader": {"db_url": course.db_url(db), "notebook": "nb", "assignment": "a1", "student": "ana"}}
    nb, resources = PendingManualGrades().preprocess(nb, resources)
    assert resources["nbgrader"]["notebook"] == "nb" and len(nb.cells) == 1
