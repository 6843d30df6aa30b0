"""Packaging: students get `nncourse` alone; the instructor side installs on its own and works
from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile

from autograder import course


def run_outside_repo(code: list, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, *code], cwd=tmp_path, env=env, capture_output=True, text=True)


def test_student_package_ships_nncourse_only(tmp_path):
    """What `pip install .` gives a student: the nncourse package, no instructor code."""
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                             "-w", str(tmp_path), str(course.REPO)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("nncourse-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"nncourse", wheel.name.split("-py3")[0] + ".dist-info"}, tops


def test_student_environment_has_nncourse(tmp_path):
    result = run_outside_repo(["-c", "import nncourse; print(nncourse.make_moons(rng=1)[0].shape)"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(200, 2)" in result.stdout


def test_instructor_cli_works_from_any_folder(tmp_path):
    result = run_outside_repo(["-m", "autograder", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "autograde" in result.stdout
