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


def _feedback_html(db, tmp_path) -> str:
    """The feedback page of ``ana``, made by nbgrader's own generate_feedback with the course's
    settings (GetGrades, PendingManualGrades, the feedback template), as `feedback` makes it."""
    test = nbformat.v4.new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "test_x", "points": 1, "schema_version": 3}})
    written = nbformat.v4.new_markdown_cell("ma réponse : $\\sigma(z) = \\frac{1}{1+e^{-z}}$", metadata={"nbgrader": {
        "grade": True, "solution": True, "locked": False, "grade_id": "q_written", "points": 2, "schema_version": 3}})
    folder = tmp_path / "autograded" / "ana" / "a1"
    folder.mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(cells=[test, written]), str(folder / "nb.ipynb"))
    result = course.api(tmp_path, db=db).generate_feedback("a1", "ana", force=True)
    assert result["success"], result
    return (tmp_path / "feedback" / "ana" / "a1" / "nb.html").read_text()


def test_feedback_page_shows_pending_answers_as_pending_not_zero(tmp_path):
    html = _feedback_html(_gradebook(tmp_path), tmp_path)
    assert "Réponse rédigée</a> (<span class=\"pending\">en attente de correction (2.0 pt)</span>)" in html
    assert html.count("en attente de correction (2.0 pt)") == 2  # the list at the top and the cell itself
    assert "0.0 / 2.0" not in html                                # never shown as lost points
    assert "Cellule de test</a> (Note : 1.0 / 1.0)" in html               # autograded cells as before
    assert "(note : 1.0 / 3.0) <span class=\"pending\">dont 2.0 pt en attente de correction" in html


def test_feedback_page_of_a_graded_answer_shows_its_score(tmp_path):
    db = _gradebook(tmp_path)
    with Gradebook(course.db_url(db)) as gb:
        for grade in gb.find_submission_notebook("nb", "a1", "ana").grades:
            if grade.name == "q_written":
                grade.manual_score = 1.5
                grade.needs_manual_grade = False
        gb.db.commit()
    html = _feedback_html(db, tmp_path)
    assert "en attente" not in html
    assert "Réponse rédigée</a> (Note : 1.5 / 2.0)" in html and "(note : 2.5 / 3.0)" in html


def test_feedback_page_is_french_and_its_math_renders_offline(tmp_path):
    html = _feedback_html(_gradebook(tmp_path), tmp_path)
    assert '<html lang="fr">' in html and "Votre réponse" in html
    assert "<math" in html and "<mfrac>" in html and "\\frac" not in html    # MathML, made with the page
    assert "mathjax" not in html.lower()                                     # nothing fetched from a CDN
    for english in ("Score:", "Test cell", "Student's answer", "(Top)"):
        assert english not in html
