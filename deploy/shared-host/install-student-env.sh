#!/usr/bin/env bash
# The student environment of the shared host, run once as root from a checkout of the course:
#     sudo bash deploy/shared-host/install-student-env.sh
# Makes /opt/nncourse/venv (JupyterHub, JupyterLab, nbgrader, CPU torch, the nncourse package;
# never the instructor package), the nbgrader exchange, the global student-side nbgrader
# configuration, and hides nbgrader's instructor tools from students.
set -euo pipefail
cd "$(dirname "$0")/../.."                 # the checkout's root
ENV=/opt/nncourse/venv
DATA=/srv/nncourse/data

apt-get update && apt-get install -y python3-venv nodejs npm bubblewrap
npm install -g configurable-http-proxy@4.6.3
python3 -m venv "$ENV"
# CPU wheels of torch first (~200 MB instead of ~5 GB), then the pins, then the student package.
"$ENV/bin/pip" install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 torchvision==0.28.0
"$ENV/bin/pip" install -r requirements.txt
"$ENV/bin/pip" install .                  # copies nncourse only: the checkout is not needed by students

# nbgrader's instructor tools are hidden from everyone using this environment; an instructor
# who uses it too re-enables them at --level=user (setup-instructor.sh).
"$ENV/bin/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:formgrader
"$ENV/bin/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:create-assignment
"$ENV/bin/jupyter" labextension disable --level=sys_prefix @jupyter/nbgrader:course-list
"$ENV/bin/jupyter" server extension disable --sys-prefix nbgrader.server_extensions.formgrader
"$ENV/bin/jupyter" server extension disable --sys-prefix nbgrader.server_extensions.course_list

# The exchange: everyone writes, nobody deletes others' files (777 + sticky).
mkdir -p /srv/nbgrader/exchange
chmod 1777 /srv/nbgrader/exchange
install -D -m 644 deploy/shared-host/nbgrader_config.py /etc/jupyter/nbgrader_config.py
install -D -m 644 deploy/shared-host/jupyterhub_config.py /etc/jupyterhub/jupyterhub_config.py

# The datasets, read-only for everyone (md5-checked on download).
mkdir -p "$DATA"
NNCOURSE_DATA="$DATA" "$ENV/bin/python" -c "import nncourse as n; n.load_mnist(); n.load_cifar10()"
chmod -R a+rX,go-w "$DATA"
echo "student environment ready in $ENV; edit /etc/jupyterhub/jupyterhub_config.py (users) and start the hub"
