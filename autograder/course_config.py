"""The course's nbgrader settings, in one place.

``nbgrader_config.py`` at the repository root and the one that ``prepare`` writes into each
course folder both call :func:`apply`, so that ``python -m autograder``, plain ``nbgrader``
commands and the formgrader's buttons grade the same way (in the sandbox).

Traps this avoids (nbgrader 0.9.6):
- the per-cell timeout is ``Execute.timeout`` (``ExecutePreprocessor.timeout`` is ignored);
- nbgrader has no per-notebook limit: ``SandboxedExecute.notebook_timeout`` adds one;
- deleted test cells are put back (``OverwriteCells.add_missing_cells``);
- feedback would show the hidden tests: ``HideHiddenTests`` strips them.
"""

from __future__ import annotations

from pathlib import Path

import nbgrader
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (AssignLatePenalties, CheckCellMetadata, GetGrades, IgnorePattern, LimitOutput,
                                    SaveAutoGrades)

from .execute import SandboxedExecute
from .feedback import HideHiddenTests, PendingManualGrades
from .safe_output import CapOutputs, SanitizeFeedback

COURSE_ID = "nncourse"
TEMPLATES = Path(__file__).resolve().parent / "templates"
NBGRADER_TEMPLATES = Path(nbgrader.__file__).resolve().parent / "server_extensions" / "formgrader" / "templates"
HANDED_IN = {"06_cnn_cifar10": ["cnn_weights.pt"]}  # files other than notebooks, per assignment


def apply(c) -> None:
    """Put the course's settings into the traitlets config ``c``."""
    c.CourseDirectory.course_id = COURSE_ID
    c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]
    # Only notebooks and declared files are taken from a submission folder, and nbgrader's own
    # timestamp.txt and submission_secret.txt: without them `nbgrader collect` drops the
    # submission time and secret, and then late penalties and `nbgrader release_feedback`
    # (which reads both) fail.
    c.CourseDirectory.include = (["*.ipynb", "timestamp.txt", "submission_secret.txt"]
                                 + sorted({f for files in HANDED_IN.values() for f in files}))

    # Student-facing stubs, in French.
    c.ClearSolutions.code_stub = {"python": "# VOTRE CODE ICI\nraise NotImplementedError()"}
    c.ClearSolutions.text_stub = "VOTRE RÉPONSE ICI"

    # Execution during autograding: in the sandbox, pinned kernel, per-cell and per-notebook limits.
    c.Execute.kernel_name = "python3"
    c.Execute.timeout = 120              # seconds per cell
    c.Execute.interrupt_on_timeout = True
    c.Execute.execute_retries = 0
    # No history database per kernel; no warning per kernel about its transport.
    c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
    c.SandboxedExecute.notebook_timeout = 600  # seconds for the whole notebook
    c.Sandbox.submission_files = HANDED_IN

    # Output floods are cut before they reach the gradebook/feedback.
    c.LimitOutput.max_lines = 300
    c.LimitOutput.max_traceback = 60

    # Deleted test cells are re-added (and reported by the pipeline).
    c.OverwriteCells.add_missing_cells = True

    # Outputs (images included) are capped per cell and per notebook; CapOutputs keeps every
    # error, so truncation never changes a grade (it must come before SaveAutoGrades).
    c.Autograde.autograde_preprocessors = [
        SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, CapOutputs,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    # Feedback shows the student what failed (the French message), never the hidden test code,
    # and nothing executable that student code produced (scripts, handlers, external loads).
    # Written answers not graded yet are announced at the top, never shown as lost points.
    c.GenerateFeedback.preprocessors = [GetGrades, PendingManualGrades, HideHiddenTests, CapOutputs,
                                        SanitizeFeedback, CSSHTMLHeaderPreprocessor]
    c.HTMLExporter.sanitize_html = True
    # nbgrader's feedback page, except that a written answer not graded yet reads
    # « en attente de correction » instead of a score of 0: templates/feedback takes the place
    # of nbgrader's template of that name (nbgrader's API always asks for "feedback").
    # The formgrader's own templates stay on the list: this setting replaces the one nbgrader's
    # formgrader and feedback make, and without them the formgrader does not load (404).
    c.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(NBGRADER_TEMPLATES)]
    # Its formulas are MathML made with the page: they render offline (no MathJax CDN).
    c.HTMLExporter.filters = {"offline_math": "autograder.feedback_math.offline_math"}
