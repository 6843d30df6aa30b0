# Global nbgrader configuration of the student image (/etc/jupyter/nbgrader_config.py).
# Only Validate is used on Kubernetes: assignments come by nbgitpuller, submissions go
# through the LMS (see deploy/README.md), so no exchange is configured.
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "nncourse"
# Per-cell limit of Validate, locked training cells included (2 guaranteed cores per pod,
# see config.yaml): 06's CNN training takes ~330 s on 2 idle cores; 3.6x margin. (A pod
# whose 2 cores are shared the way a shared host's are needs 3600 s: 06 took 1221 s there.)
c.Execute.timeout = 1200
c.Execute.interrupt_on_timeout = True
c.Execute.startup_timeout = 300
