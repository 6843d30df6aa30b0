"""Built-in samples: extra files (trained weights) go to the students who hand them in."""

from __future__ import annotations

import shutil

import nbformat

from autograder import course, samples


def test_samples_hand_in_reference_files(monkeypatch, tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"weights")
    monkeypatch.setattr(samples, "reference_files", lambda a: {"model_weights.pt": weights})
    workdir = tmp_path / "course"
    a = course.assignments()[0]
    course.copy_sources(workdir, [a])
    # the committed release stands in for the one `prepare` would build
    shutil.copytree(course.RELEASE / a, workdir / "release" / a)
    written = samples.write_samples(workdir, [a])
    assert {s for s, _ in written} == set(samples.STUDENTS)
    for student in samples.STUDENTS:
        folder = workdir / "submitted" / student / a
        assert (folder / "model_weights.pt").exists() == (student in samples.WITH_FILES), student
    nb = nbformat.read(str(next((workdir / "submitted" / "correct" / a).glob("*.ipynb"))), as_version=4)
    assert "NotImplementedError" not in "".join(c.source for c in nb.cells if c.cell_type == "code")
