"""autograder.repair: damaged submissions of 01_moons_numpy, built in code from the release."""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.preprocessors import CheckCellMetadata

from autograder.repair import Limits, copy_capped, Refused, repair_submission, write_repaired

RELEASE_DIR = Path(__file__).resolve().parents[1] / "release" / "01_moons_numpy"
NAME = "moons_numpy"


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


@pytest.fixture(scope="module")
def release():
    return nbformat.read(str(RELEASE_DIR / f"{NAME}.ipynb"), as_version=4)


@pytest.fixture
def answered(release):
    """The release with every answer cell written in (a recognisable answer per cell)."""
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        if meta(cell).get("solution"):
            gid = meta(cell)["grade_id"]
            if cell.cell_type == "code":
                cell.source = cell.source.replace("raise NotImplementedError()", f"return 42  # réponse {gid}")
            else:
                cell.source = f"Ma réponse à {gid} : les deux lunes."
    return nb


def answers(nb) -> dict:
    return {meta(c)["grade_id"]: c.source for c in nb.cells if meta(c).get("solution")}


def grade_ids(nb) -> list:
    return [meta(c)["grade_id"] for c in nb.cells if meta(c).get("grade_id")]


def submit(tmp_path: Path, nb, name=f"{NAME}.ipynb") -> Path:
    folder = tmp_path / "submitted"
    folder.mkdir(exist_ok=True)
    data = nb if isinstance(nb, bytes) else nbformat.writes(nb).encode("utf-8")
    (folder / name).write_bytes(data)
    return folder


def repair(folder, declared=None, limits=None):
    return repair_submission(folder, RELEASE_DIR, declared or {}, limits)


def assert_gradable(result, release, expected_answers=None):
    assert result.error is None, result.error
    nb = result.notebooks[NAME]
    nbformat.validate(nb)
    CheckCellMetadata().preprocess(copy.deepcopy(nb), {})
    assert grade_ids(nb) == grade_ids(release)
    for cell in nb.cells:
        if meta(cell).get("grade_id"):
            rel = next(c for c in release.cells if meta(c).get("grade_id") == meta(cell)["grade_id"])
            assert meta(cell) == meta(rel)
    if expected_answers is not None:
        assert answers(nb) == expected_answers
    return nb


def test_intact_submission_needs_nothing(tmp_path, release, answered):
    result = repair(submit(tmp_path, answered))
    assert result.warnings == []
    assert_gradable(result, release, answers(answered))


def test_not_utf8_byte_is_replaced_with_a_warning(tmp_path, release, answered):
    data = nbformat.writes(answered).encode("utf-8").replace("les deux lunes".encode(), b"les deux \xfflunes", 1)
    result = repair(submit(tmp_path, data))
    assert any("not UTF-8" in w for w in result.warnings)
    nb = assert_gradable(result, release)
    assert "\ufffdlunes" in "".join(answers(nb).values())


@pytest.mark.parametrize("data, reason", [
    (b'{"cells": [', "moons_numpy.ipynb is not valid JSON (damaged or truncated file)"),
    (b"", "moons_numpy.ipynb is not valid JSON (damaged or truncated file)"),
    (b'{"a": 1}', "moons_numpy.ipynb is not a valid notebook ("),
    (b'[1, 2]', "moons_numpy.ipynb is not a valid notebook ("),
])
def test_unreadable_notebook_is_an_error_with_a_reason(tmp_path, data, reason):
    result = repair(submit(tmp_path, data))
    assert result.error is not None and result.error.startswith(reason), result.error
    assert result.notebooks == {}


def test_missing_notebook_is_an_error(tmp_path):
    folder = tmp_path / "submitted"
    folder.mkdir()
    (folder / "notes.txt").write_text("rien")
    assert repair(folder).error == "notebook moons_numpy.ipynb missing from the submission"


@pytest.mark.parametrize("other_name", ["moons_numpy (1).ipynb", "Copie de moons_numpy.ipynb", "tp1.ipynb"])
def test_a_lone_notebook_under_another_name_is_taken(tmp_path, release, answered, other_name):
    result = repair(submit(tmp_path, answered, other_name))
    assert any(repr(other_name) in w for w in result.warnings)
    assert_gradable(result, release, answers(answered))


def test_two_unknown_notebooks_are_not_guessed(tmp_path, answered):
    folder = submit(tmp_path, answered, "a.ipynb")
    submit(tmp_path, answered, "b.ipynb")
    assert "missing from the submission" in repair(folder).error


def test_stripped_metadata_is_restored_by_cell_id(tmp_path, release, answered):
    expected = answers(answered)
    for cell in answered.cells:
        cell.metadata = {}
    result = repair(submit(tmp_path, answered))
    assert any("nbgrader metadata missing, restored from the release" in w for w in result.warnings)
    assert not any("deleted" in w for w in result.warnings)
    assert_gradable(result, release, expected)


def test_stripped_metadata_and_ids_are_restored_by_position(tmp_path, release, answered):
    expected = answers(answered)
    for n, cell in enumerate(answered.cells):
        cell.metadata = {}
        cell["id"] = f"other-{n}"
    # the student also added a scratch cell after an answer and edited a given cell
    answered.cells.insert(4, nbformat.v4.new_code_cell("print(err(1))", id="scratch"))
    next(c for c in answered.cells if c.source.startswith("import numpy")).source += "\nimport os"
    result = repair(submit(tmp_path, answered))
    nb = assert_gradable(result, release, expected)
    assert any(c.source == "print(err(1))" and not meta(c) for c in nb.cells)
    assert not any("deleted" in w for w in result.warnings)


def test_altered_metadata_is_restored(tmp_path, release, answered):
    test_cell = next(c for c in answered.cells if meta(c).get("grade_id") == "test_err")
    test_cell.metadata.nbgrader.update(grade=False, points=100)
    result = repair(submit(tmp_path, answered))
    assert any("altered" in w and "test_err" in w for w in result.warnings)
    assert_gradable(result, release, answers(answered))


def test_unknown_graded_cell_is_ignored(tmp_path, release, answered):
    extra = nbformat.v4.new_code_cell("print('bonus')", id="bonus")
    extra.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "locked": True, "points": 50,
                                  "solution": False, "schema_version": 3}
    answered.cells.append(extra)
    result = repair(submit(tmp_path, answered))
    assert "graded cells unknown to the release, ignored: bonus" in result.warnings
    nb = assert_gradable(result, release, answers(answered))
    assert nb.cells[-1].source == "print('bonus')" and "nbgrader" not in nb.cells[-1].metadata


def test_duplicated_grade_id_keeps_the_first(tmp_path, release, answered):
    first = next(c for c in answered.cells if meta(c).get("grade_id") == "test_err")
    copy_ = copy.deepcopy(first)
    copy_["id"] = "copy"
    copy_.source = "pass  # copie"
    answered.cells.append(copy_)
    result = repair(submit(tmp_path, answered))
    assert "grade ids used twice, the later cells ignored: test_err" in result.warnings
    nb = assert_gradable(result, release, answers(answered))
    assert "nbgrader" not in nb.cells[-1].metadata


def test_deleted_cells_are_put_back_in_place(tmp_path, release, answered):
    answered.cells = [c for c in answered.cells if meta(c).get("grade_id") not in ("test_err", "q1_data")]
    result = repair(submit(tmp_path, answered))
    assert "cells deleted by the student, re-added from the release: test_err, q1_data" in result.warnings
    nb = assert_gradable(result, release)
    ids = grade_ids(nb)
    assert ids.index("test_err") == ids.index("gradient_descent_1d") + 1
    assert [c.source for c in nb.cells if meta(c).get("grade_id") == "test_err"] == \
           [c.source for c in release.cells if meta(c).get("grade_id") == "test_err"]


def test_symlinked_notebook_is_refused_not_read(tmp_path):
    secret = tmp_path / "secret.ipynb"
    secret.write_text("{}")
    folder = tmp_path / "submitted"
    folder.mkdir()
    os.symlink(secret, folder / f"{NAME}.ipynb")
    result = repair(folder)
    assert "moons_numpy.ipynb is a symbolic link: refused" in result.warnings
    assert result.error == "notebook moons_numpy.ipynb missing from the submission"


def test_symlinked_extra_file_is_refused(tmp_path, release, answered):
    folder = submit(tmp_path, answered)
    os.symlink("/etc/passwd", folder / "cnn_weights.pt")
    result = repair(folder, {"cnn_weights.pt": 1000})
    assert "cnn_weights.pt is a symbolic link: refused" in result.warnings
    assert result.files == {}
    assert_gradable(result, release)


def test_copy_capped_never_follows_a_link(tmp_path):
    os.symlink("/etc/passwd", tmp_path / "link")
    with pytest.raises(Refused, match="symbolic link"):
        copy_capped(tmp_path / "link", tmp_path / "out", 10_000)
    assert not (tmp_path / "out").exists()


def test_declared_files_are_checked(tmp_path, release, answered):
    folder = submit(tmp_path, answered)
    (folder / "weights.pt").write_bytes(b"x" * 100)
    (folder / "big.pt").write_bytes(b"x" * 2_000)
    (folder / "brouillon.py").write_text("x = 1")
    (folder / "timestamp.txt").write_text("2026-11-30 18:00:00.000000 UTC")
    (folder / "submission_secret.txt").write_text("ab" * 64)  # nbgrader submit's; release_feedback needs it
    result = repair(folder, {"weights.pt": 1000, "big.pt": 1000, "absent.pt": 1000})
    assert result.files == {"weights.pt": folder / "weights.pt", "timestamp.txt": folder / "timestamp.txt",
                            "submission_secret.txt": folder / "submission_secret.txt"}
    assert "absent.pt not handed in" in result.notes
    assert any(w.startswith("big.pt is") and "limit: not used" in w for w in result.warnings)
    assert "files not part of the assignment, ignored: brouillon.py" in result.notes
    out = tmp_path / "out"
    write_repaired(result, out, {"weights.pt": 1000})
    assert (out / "weights.pt").read_bytes() == b"x" * 100
    assert (out / "timestamp.txt").read_text().startswith("2026-11-30")
    assert (out / "submission_secret.txt").read_text() == "ab" * 64
    assert_gradable(repair(out), release, answers(answered))


def test_notebook_over_the_size_cap_is_refused(tmp_path, answered):
    result = repair(submit(tmp_path, answered), limits=Limits(notebook_bytes=10_000))
    assert result.error is not None and "over the" in result.error and "limit: refused" in result.error


def test_thousands_of_files_are_not_all_scanned(tmp_path, release, answered):
    folder = submit(tmp_path, answered)
    junk = folder / "junk"
    junk.mkdir()
    for n in range(5000):
        (folder / f"f{n:04}.txt").write_bytes(b"")
    t0 = time.monotonic()
    result = repair(folder)
    assert time.monotonic() - t0 < 5
    assert any("more than 200 files or folders" in w for w in result.warnings)
    assert_gradable(result, release, answers(answered))  # the notebook is looked at first


def test_result_is_json_serialisable_notebook(tmp_path, release, answered):
    for cell in answered.cells:
        cell.metadata = {}
    nb = repair(submit(tmp_path, answered)).notebooks[NAME]
    again = nbformat.reads(nbformat.writes(nb), as_version=4)
    assert json.loads(nbformat.writes(again))["cells"]


def test_old_notebook_without_ids_gets_its_deleted_cell_back(tmp_path, release, answered):
    """nbformat 4.4 (no cell ids, as Colab writes) with stripped metadata and a deleted test."""
    expected = answers(answered)
    data = json.loads(nbformat.writes(answered))
    data["nbformat_minor"] = 4
    data["cells"] = [c for c in data["cells"] if c["id"] != "test_err"]
    for cell in data["cells"]:
        del cell["id"]
        cell["metadata"] = {}
    result = repair(submit(tmp_path, json.dumps(data).encode()))
    assert "cells deleted by the student, re-added from the release: test_err" in result.warnings
    assert_gradable(result, release, expected)


def test_ambiguous_markdown_answer_is_flagged(tmp_path, release, answered):
    """Stripped metadata, new ids, a scratch markdown cell just before a written answer
    and a scratch code cell before a code answer: code answers are found by their
    signature; the markdown answer is a guess, and the warning says so."""
    expected = answers(answered)
    for n, cell in enumerate(answered.cells):
        cell.metadata = {}
        cell["id"] = f"other-{n}"
    q1 = next(n for n, c in enumerate(answered.cells) if c.source.startswith("Ma réponse à q1_data"))
    answered.cells.insert(q1, nbformat.v4.new_markdown_cell("brouillon"))
    code = next(n for n, c in enumerate(answered.cells) if c.source.startswith("def train("))
    answered.cells.insert(code, nbformat.v4.new_code_cell("print('essai')"))
    result = repair(submit(tmp_path, answered))
    assert "answer cells matched by position among several cells, check them: q1_data" in result.warnings
    nb = assert_gradable(result, release)
    got = answers(nb)
    assert {k: v for k, v in got.items() if k != "q1_data"} == {k: v for k, v in expected.items() if k != "q1_data"}
