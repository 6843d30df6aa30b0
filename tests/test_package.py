"""The student environment: nncourse importable, instructor code not."""

from __future__ import annotations

import os
import subprocess
import sys


def run_outside_repo(code: str, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True)


def test_student_environment_cannot_import_autograder(tmp_path):
    result = run_outside_repo("import autograder", tmp_path)
    assert result.returncode != 0
    assert "No module named 'autograder'" in result.stderr


def test_student_environment_has_nncourse(tmp_path):
    result = run_outside_repo("import nncourse; print(nncourse.make_moons(rng=1)[0].shape)", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "(200, 2)" in result.stdout
