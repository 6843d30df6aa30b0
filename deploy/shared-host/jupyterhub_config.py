# JupyterHub on one shared host with real Unix users (The Littlest JupyterHub style).
# Copy to /etc/jupyterhub/jupyterhub_config.py and run, as root:
#     /opt/nncourse/venv/bin/jupyterhub -f /etc/jupyterhub/jupyterhub_config.py
# (with TLJH: put this file in /opt/tljh/config/jupyterhub_config.d/ and `tljh-config reload`).
# Edit the three lists below; every name must be an existing Unix account (`adduser NAME`).
import os

INSTRUCTORS = ["prof"]                        # run the course folder and the grader
STUDENTS = ["alice", "bob"]                   # one Unix account each (nbgrader's exchange needs it)
STUDENT_ENV = "/opt/nncourse/venv"            # made by install-student-env.sh
DATA = "/srv/nncourse/data"                   # MNIST/raw and cifar-10-batches-py, read-only
THREADS = "1"                                 # numpy/torch threads per kernel on a shared host

c = get_config()  # noqa: F821

c.JupyterHub.bind_url = os.environ.get("NNCOURSE_HUB_URL", "http://:8000")
# Authentication with the host's passwords (PAM, JupyterHub's default); local processes.
c.JupyterHub.authenticator_class = "pam"
c.JupyterHub.spawner_class = "localprocess"
c.Authenticator.allowed_users = set(STUDENTS) | set(INSTRUCTORS)
c.Authenticator.admin_users = set(INSTRUCTORS)
c.JupyterHub.load_groups = {"students": {"users": STUDENTS}, "instructors": {"users": INSTRUCTORS}}
# Instructors may look at (not only administer) their students' servers.
c.JupyterHub.load_roles = [{
    "name": "instructor",
    "groups": ["instructors"],
    "scopes": ["admin-ui", "list:users", "read:users", "access:servers!group=students",
               "servers!group=students"],
}]

c.Spawner.cmd = [f"{STUDENT_ENV}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {
    "NNCOURSE_DATA": DATA,
    "OMP_NUM_THREADS": THREADS,
    "OPENBLAS_NUM_THREADS": THREADS,
    "MKL_NUM_THREADS": THREADS,
    "TORCH_NUM_THREADS": THREADS,
}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def instructor_server(spawner):
    """An instructor's server runs from the course checkout's own environment (it holds the
    instructor package, which students never get) and opens in the course folder, so that the
    formgrader reads the course's nbgrader_config.py. See setup-instructor.sh."""
    if spawner.user.name in INSTRUCTORS:
        home = os.path.expanduser(f"~{spawner.user.name}")
        spawner.cmd = [f"{home}/nncourse/.venv/bin/jupyterhub-singleuser"]
        spawner.notebook_dir = f"{home}/course"


c.Spawner.pre_spawn_hook = instructor_server
