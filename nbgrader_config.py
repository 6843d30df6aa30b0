"""nbgrader configuration of the course (read by `nbgrader ...` run in a course root and
by `python -m autograder`, which copies it into its work folders).

Traps this file avoids (nbgrader 0.9.6):
- the per-cell timeout is `Execute.timeout`; `ExecutePreprocessor.timeout` is ignored;
- nbgrader has no per-notebook limit: `CappedExecute` adds a wall-clock cap;
- deleted test cells are put back (`OverwriteCells.add_missing_cells`).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

c.CourseDirectory.course_id = "nncourse"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Student-facing stubs, in French.
c.ClearSolutions.code_stub = {"python": "# VOTRE CODE ICI\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "VOTRE RÉPONSE ICI"

# Execution during autograding: pinned kernel, per-cell and per-notebook limits.
c.Execute.kernel_name = "python3"
c.Execute.timeout = 120              # seconds per cell
c.Execute.interrupt_on_timeout = True
c.Execute.execute_retries = 0
# No history database per kernel; the kernel's own warnings (e.g. about its TCP
# transport on localhost) would otherwise repeat once per graded notebook.
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
c.CappedExecute.notebook_timeout = 600  # seconds for the whole notebook

# Output floods are cut before they reach the gradebook/feedback.
c.LimitOutput.max_lines = 300
c.LimitOutput.max_traceback = 60

# Deleted test cells are re-added (and reported by the pipeline).
c.OverwriteCells.add_missing_cells = True

from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades)
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import GetGrades  # noqa: E402

from autograder.execute import CappedExecute  # noqa: E402
from autograder.feedback import HideHiddenTests  # noqa: E402

c.Autograde.autograde_preprocessors = [
    CappedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
]
# Feedback shows the student what failed (the French message), never the hidden test code.
c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CSSHTMLHeaderPreprocessor]
