"""Feedback without the hidden tests' code.

Autograded notebooks carry the full test cells (nbgrader puts the hidden part back to
run it). In the feedback a student sees the visible part of each test cell, a note that
hidden tests ran, and only the last line of an error (the French message of the check),
never the traceback through instructor code.
"""

from __future__ import annotations

import nbformat
from nbgrader.preprocessors.base import NbGraderPreprocessor
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearHiddenTests

HIDDEN_NOTE = "# (tests cachés exécutés par le correcteur)"


class HideHiddenTests(ClearHiddenTests):
    """nbgrader's ClearHiddenTests for the feedback: each hidden region of a code cell
    becomes the note HIDDEN_NOTE, and an error in such a cell shows only its last line
    (``ename: evalue``). Delimiters come from ``ClearHiddenTests.begin_test_delimeter``
    / ``end_test_delimeter``; a nested or unclosed region raises, as in nbgrader."""

    def _remove_hidden_test_region(self, cell) -> bool:
        """Remove the hidden regions (nbgrader's code), leaving the note in their place."""
        lines = []
        for line in cell.source.split("\n"):
            if self.begin_test_delimeter in line:
                indent = line[:len(line) - len(line.lstrip())]
                lines.append(indent + HIDDEN_NOTE)
            lines.append(line)
        original, cell.source = cell.source, "\n".join(lines)
        removed = super()._remove_hidden_test_region(cell)
        if not removed:
            cell.source = original
        return removed

    def preprocess_cell(self, cell, resources, index):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        is_test = meta.get("grade", False) and not meta.get("solution", False)
        if cell.cell_type != "code" or not is_test or self.begin_test_delimeter not in cell.source:
            return cell, resources  # markers a student typed in an answer are only text
        cell, resources = super().preprocess_cell(cell, resources, index)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


PENDING_TITLE = "points des réponses rédigées en attente de correction"


def _pending_grades(gradebook, notebook_id: str, assignment: str, student: str) -> dict:
    """grade id -> max points, for each grade of a submitted notebook still waiting for a
    person (written answers)."""
    nb = gradebook.find_submission_notebook(notebook_id, assignment, student)
    return {g.name: g.max_score for g in nb.grades if g.needs_manual_grade}


class PendingManualGrades(NbGraderPreprocessor):
    """Feedback released before the written answers are graded says so at the top (the
    notebook's title line and a first cell, in French), and each such answer shows
    « en attente de correction » instead of a score of 0 (``nbgrader.pending`` in the cell's
    metadata, read by the feedback template ``templates/feedback``): those points are
    not lost, only not graded yet. Comes after nbgrader's GetGrades (which leaves them at 0)."""

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            pending = _pending_grades(gb, info["notebook"], info["assignment"], info["student"])
        if not pending:
            return nb, resources
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id") in pending:
                meta["pending"] = True
        points = sum(pending.values())
        info["pending_points"] = points
        info["notebook"] = f"{info['notebook']} — {PENDING_TITLE} ({points:g} pt)"
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(
            f"**⚠ {PENDING_TITLE[0].upper() + PENDING_TITLE[1:]}.** "
            f"{len(pending)} réponse(s) rédigée(s), {points:g} point(s) au total, n'ont pas encore été "
            "corrigées par l'enseignant : elles comptent 0 dans le score ci-dessus pour l'instant. "
            "Ce ne sont pas des points perdus ; un nouveau retour suivra la correction."))
        return nb, resources


def pending_manual_grades(workdir, pairs) -> list:
    """(student, assignment, points) for each pair whose written answers still await grading."""
    from pathlib import Path

    from . import course

    out = []
    with Gradebook(course.db_url(Path(workdir) / "gradebook.db")) as gb:
        for student, assignment in pairs:
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            points = sum(g.max_score for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
            if points:
                out.append((student, assignment, points))
    return out


def generate_feedback(workdir, pairs) -> list:
    """HTML feedback for each (student, assignment) that was graded; returns the failures,
    as (student, assignment, nbgrader's error lines)."""
    from pathlib import Path

    from . import course

    nb_api = course.api(Path(workdir))
    failures = []
    for student, assignment in pairs:
        result = nb_api.generate_feedback(assignment, student, force=True)
        if not result["success"]:  # nbgrader's own error lines, not its "see the above traceback"
            failures.append((student, assignment, course.nbgrader_causes(result)))
    return failures
