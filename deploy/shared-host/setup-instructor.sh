#!/usr/bin/env bash
# The instructor's side of the shared host, run ONCE AS THE INSTRUCTOR (not root), in a
# terminal of the hub or over ssh:
#     bash setup-instructor.sh https://example.org/nncourse.git     (or a path to a checkout)
# Makes ~/nncourse (checkout + .venv with the instructor package) and ~/course (the course
# folder: sources, solutions, gradebook), both readable by the instructor only.
set -euo pipefail
REPO=${1:?usage: setup-instructor.sh GIT_URL_OR_PATH}
umask 077                                   # everything created below: owner only
chmod 700 "$HOME"
[ -d ~/nncourse ] || git clone "$REPO" ~/nncourse
chmod 700 ~/nncourse
cd ~/nncourse
python3 -m venv .venv
.venv/bin/pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 torchvision==0.28.0
.venv/bin/pip install -r requirements.txt
.venv/bin/pip install -e . -e instructor/   # the instructor package: grader, hidden checks
# nbgrader's instructor tools (hidden from students in the shared environment) are on here;
# these two lines matter only if you use the students' environment yourself.
.venv/bin/jupyter labextension enable --level=user @jupyter/nbgrader:formgrader
.venv/bin/jupyter labextension enable --level=user @jupyter/nbgrader:create-assignment
# The course folder (mode 700, checked by the test suite); `python -m autograder` works from
# any folder once the instructor package is installed.
.venv/bin/python -m autograder prepare -w ~/course
chmod 700 ~/course
# nbgrader's course root for the formgrader and the instructor's nbgrader commands (the
# server runs in ~/course, but nbgrader takes its root from the process's working folder).
mkdir -p ~/.jupyter
echo "c = get_config(); c.CourseDirectory.root = '$HOME/course'" > ~/.jupyter/nbgrader_config.py
echo "course folder ready: ~/course. Log out and in again on the hub; then see deploy/README.md"
