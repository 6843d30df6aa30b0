"""Feedback without the hidden tests' code.

Autograded notebooks carry the full test cells (nbgrader puts the hidden part back to
run it). In the feedback a student sees the visible part of each test cell, a note that
hidden tests ran, and only the last line of an error (the French message of the check),
never the traceback through instructor code.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import NbGraderPreprocessor

HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[ \t]*$", re.S | re.M)
HIDDEN_NOTE = "# (tests cachés exécutés par le correcteur)"


def strip_hidden(source: str) -> str:
    return HIDDEN.sub(HIDDEN_NOTE, source)


class HideHiddenTests(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code" or "BEGIN HIDDEN TESTS" not in cell.source:
            return cell, resources
        cell.source = strip_hidden(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources


def generate_feedback(workdir, pairs) -> list:
    """HTML feedback for each (student, assignment) that was graded; returns the failures."""
    from pathlib import Path

    from . import course

    nb_api = course.api(Path(workdir))
    failures = []
    for student, assignment in pairs:
        result = nb_api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            failures.append((student, assignment, (result.get("error") or "").strip().splitlines()[-1:]))
    return failures
