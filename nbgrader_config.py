"""nbgrader configuration of the course, read by `nbgrader ...` run at the repository root
and by `python -m autograder`. The settings live in `autograder/course_config.py`;
`python -m autograder prepare` writes the same few lines into each course folder.
Override a setting after `apply(c)`, e.g. `c.Execute.timeout = 300`.
"""

from autograder.course_config import apply

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)
apply(c)
