"""Every CLI error names its cause: nbgrader's own error lines, never its "see the above
traceback" (which the API does not show), nor a Python traceback (issue 10)."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest

from autograder import cli, course

A = "01_moons_numpy"


@pytest.fixture
def broken_source(tmp_path, monkeypatch):
    """A copy of the sources whose 01 notebook has two cells with one grade id."""
    root = tmp_path / "repo-source"
    shutil.copytree(course.SOURCE / A, root / A)
    path = next((root / A).glob("*.ipynb"))
    nb = nbformat.read(str(path), as_version=4)
    graded = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id"))
    twin = nbformat.from_dict(json.loads(json.dumps(graded)))
    twin["id"] = "twin-cell"
    nb.cells.append(twin)
    nbformat.write(nb, str(path))
    monkeypatch.setattr(course, "SOURCE", root)
    return graded.metadata.nbgrader.grade_id


def test_prepare_prints_nbgraders_cause(broken_source, tmp_path, capsys):
    rc = cli.main(["prepare", "-w", str(tmp_path / "course"), "-a", A])
    out = capsys.readouterr()
    text = out.out + out.err
    assert rc == 1
    assert f"Duplicate grade id: {broken_source}" in out.err  # nbgrader's real exception
    assert f"nbgrader generate_assignment {A} failed" in out.err
    assert "above traceback" not in text and "Traceback" not in text


def test_unwritable_course_folder_is_named(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    rc = cli.main(["prepare", "-w", str(blocker / "course"), "-a", A])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error: ") and str(blocker) in err
    assert "Traceback" not in err


def test_export_and_feedback_without_a_gradebook_say_what_to_do(tmp_path, capsys):
    for command in ("export", "feedback"):
        assert cli.main([command, "-w", str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert f"no gradebook in {tmp_path}" in err and "prepare" in err
    assert not (tmp_path / "gradebook.db").exists()  # nbgrader's Gradebook would have made one


def test_causes_leave_out_nbgraders_summary():
    result = {"success": False,
              "error": "Traceback (most recent call last):\n  File \"x.py\", line 1, in start\n"
                       "nbgrader.converters.base.NbGraderException: Please see the the above traceback for details",
              "log": "[INFO] Converting notebook x.ipynb\n[ERROR] Traceback (most recent call last):\n"
                     "      File \"y.py\", line 3, in preprocess\n"
                     "    nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{not json'\n"
                     "[ERROR] There was an error processing assignment 'a1' for student 'ana'\n"
                     "[ERROR] Please see the the above traceback for details on the specific errors"}
    assert course.nbgrader_causes(result) == [
        "nbformat.reader.NotJSONError: Notebook does not appear to be JSON: '{not json'",
        "There was an error processing assignment 'a1' for student 'ana'"]
