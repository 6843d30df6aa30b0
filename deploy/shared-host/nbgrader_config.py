# Global nbgrader configuration of the shared host: copy to /etc/jupyter/nbgrader_config.py.
# Every user's nbgrader (students' Assignments tab and Validate button, the instructor's
# release/collect commands) reads it. The instructor's course folder has its own
# nbgrader_config.py (written by `python -m autograder prepare`), read on top of this one
# when nbgrader runs in that folder; it sets the grading timeouts and the sandbox.
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "nncourse"
# Created once by root: mkdir -p /srv/nbgrader/exchange && chmod 1777 /srv/nbgrader/exchange
c.Exchange.root = "/srv/nbgrader/exchange"

# Validate (the students' button) runs the whole notebook, locked training cells included,
# with this per-cell limit; nbgrader's default, 30 s, cuts off the training of 04-06 and
# then blames the next test. Measured (benchmarks/validate_under_load.py, deploy/README.md):
# a correct notebook's slowest cell, 1 thread per kernel, 2 cores shared with 3 other
# kernels and more (load average 6-12): 01-04 under 10 s, 05 15 s, 06 1221 s (the CNN's
# training; 20 min). 2400 s left only a 2x margin: 3600 s gives 3x.
c.Execute.timeout = 3600            # seconds per cell (06's training on a loaded host)
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 300      # a kernel start on a loaded host

# French stubs, as in the course's own configuration (only used by generate_assignment).
c.ClearSolutions.code_stub = {"python": "# VOTRE CODE ICI\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "VOTRE RÉPONSE ICI"
