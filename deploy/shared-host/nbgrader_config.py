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
# then blames the next test. Longest cell, 2 idle cores, 2 threads (README "Measured"):
# 01-03 under 10 s, 04 ~20 s, 05 ~60 s, 06 ~330 s (CNN training). On a shared host with
# OMP_NUM_THREADS=1 and four kernels per 2 cores, count 4-6x: 06 then needs ~30 min.
c.Execute.timeout = 2400            # seconds per cell (06's training on a loaded host)
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 300      # a kernel start on a loaded host

# French stubs, as in the course's own configuration (only used by generate_assignment).
c.ClearSolutions.code_stub = {"python": "# VOTRE CODE ICI\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "VOTRE RÉPONSE ICI"
