"""Feedback without the hidden tests' code.

Autograded notebooks carry the full test cells (nbgrader puts the hidden part back to
run it). In the feedback a student sees the visible part of each test cell, a note that
hidden tests ran, and only the last line of an error (the French message of the check),
never the traceback through instructor code.
"""

from __future__ import annotations

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
