"""Where the notebook is running: on a student's hub, or under the course autograder."""

from __future__ import annotations

import os

GRADING_ENV_VAR = "NNCOURSE_GRADING"


def under_autograder() -> bool:
    """True when the notebook is being run by the instructor's grading pipeline.

    Long trainings use it to load the weights the student handed in instead of training
    again (the autograder sets ``NNCOURSE_GRADING=1`` for the grading kernel).
    """
    return os.environ.get(GRADING_ENV_VAR) == "1"
