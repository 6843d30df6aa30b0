"""The shared-host deployment (deploy/shared-host/) on a real JupyterHub, in a real browser.

JupyterHub (requirements.txt) with configurable-http-proxy (npm) on 127.0.0.1 loads
deploy/shared-host/jupyterhub_config.py as is, then this test's overrides: DummyAuthenticator
with a password instead of PAM, and this checkout's environment for every server. The two
users are real Unix accounts (``useradd``), so nbgrader's exchange and the course folder's
permissions are the real ones. Headless Debian chromium, driven by Playwright (never
``playwright install``), takes the student from fetch to feedback; the instructor's steps are
the README's commands. Screenshots go to $NNCOURSE_ARTIFACTS (default: a temporary folder).

Needs root, /usr/bin/chromium, ``configurable-http-proxy`` on PATH and a checkout whose
folders other users may traverse (``.ci/run`` sees to all of it). Run: ``pytest -m hub``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from autograder import course

pytestmark = [pytest.mark.hub, pytest.mark.slow]

REPO = course.REPO
DEPLOY = REPO / "deploy" / "shared-host"
CHROMIUM = Path("/usr/bin/chromium")
CHP = shutil.which("configurable-http-proxy")
BIN = Path(sys.executable).parent
STUDENT, INSTRUCTOR = "nnstudent", "nnprof"
PASSWORD = "nncourse-test-password"
ASSIGNMENT, NOTEBOOK = "01_moons_numpy", "moons_numpy"
# The student's answer to the first question (gradient_descent_1d): typed into the cell.
ANSWER = '''def err(a, x=3.0):
    return a ** 2 + a * x + 1


def err_prime(a, x=3.0):
    return 2 * a + x


def gradient_step(a, grad, lr):
    return a - lr * grad
'''

WRITTEN = "Deux demi-lunes entrelacées, bruitées : une frontière non linéaire."

if os.geteuid() != 0:
    pytest.skip("needs root (creates Unix users, runs JupyterHub's local spawner)", allow_module_level=True)
if not CHROMIUM.exists():
    pytest.skip("no /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
if not CHP:
    pytest.skip("no configurable-http-proxy (npm install -g configurable-http-proxy)", allow_module_level=True)
playwright = pytest.importorskip("playwright.sync_api")


def _artifacts() -> Path:
    path = Path(os.environ.get("NNCOURSE_ARTIFACTS") or tempfile.mkdtemp(prefix="nncourse-artifacts-")) / "hub"
    path.mkdir(parents=True, exist_ok=True)
    return path


ARTIFACTS = _artifacts()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_user_processes(name: str) -> None:
    """The processes of one of the test's own accounts (its servers and kernels)."""
    try:
        subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    except FileNotFoundError:  # no procps: userdel --force still removes the account
        pass


def _admin(command: str) -> str:
    """An administration command (useradd, userdel) even where PATH lacks the sbin folders."""
    return shutil.which(command, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])) or command


def _fresh_user(name: str) -> Path:
    """A Unix account with an empty home (a previous run's account is removed first)."""
    if subprocess.run(["id", name], capture_output=True).returncode == 0:
        _kill_user_processes(name)
        subprocess.run([_admin("userdel"), "--remove", "--force", name], capture_output=True)
    subprocess.run([_admin("useradd"), "--create-home", "--shell", "/bin/bash", name], check=True)
    home = Path(os.path.expanduser(f"~{name}"))
    home.chmod(0o700)
    return home


def _as_user(user: str, command: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["su", user, "-s", "/bin/sh", "-c", command], capture_output=True, text=True, **kw)


def _run(cmd: list[str], cwd: Path, env: dict, timeout: int = 600) -> str:
    """An instructor's command; its output goes into the failure message."""
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"{' '.join(cmd)} failed ({p.returncode}):\n{out[-4000:]}"
    return out


def _write_config_dirs(run: Path) -> tuple[Path, Path]:
    """The global nbgrader config (deploy's file + this run's exchange) and the students'
    extra config folder hiding nbgrader's instructor tools (what the deploy script's
    ``--level=sys_prefix`` commands write, here on JUPYTER_CONFIG_PATH)."""
    etc = run / "etc-jupyter"
    etc.mkdir()
    (etc / "nbgrader_config.py").write_text(
        (DEPLOY / "nbgrader_config.py").read_text() + f'\nc.Exchange.root = "{run / "exchange"}"\n')
    students = run / "student-jupyter"
    (students / "labconfig").mkdir(parents=True)
    (students / "labconfig" / "page_config.json").write_text(json.dumps({"disabledExtensions": {
        "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True,
        "@jupyter/nbgrader:course-list": True}}))
    (students / "jupyter_server_config.json").write_text(json.dumps({"ServerApp": {"jpserver_extensions": {
        "nbgrader.server_extensions.formgrader": False, "nbgrader.server_extensions.course_list": False}}}))
    for d in (etc, students):
        for p in [d, *d.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    return etc, students


HUB_CONFIG = """\
# Written by tests/test_hub.py: the deployment's config, then the test's differences.
load_subconfig({deploy!r})
c.JupyterHub.bind_url = "http://127.0.0.1:{port}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{hub_port}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{run}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{run}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{run}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allowed_users = {{{student!r}, {instructor!r}}}
c.Authenticator.admin_users = {{{instructor!r}}}
c.JupyterHub.load_groups = {{"students": {{"users": [{student!r}]}}, "instructors": {{"users": [{instructor!r}]}}}}
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300


def per_user(spawner):
    env = dict(spawner.environment)
    paths = [{etc!r}] if spawner.user.name == {instructor!r} else [{students!r}, {etc!r}]
    env["JUPYTER_CONFIG_PATH"] = ":".join(paths)
    env["PATH"] = {bin!r} + ":/usr/local/bin:/usr/bin:/bin"
    spawner.environment = env
    if spawner.user.name == {instructor!r}:
        spawner.notebook_dir = {course!r}


c.Spawner.pre_spawn_hook = per_user
"""


@pytest.fixture(scope="module")
def hub():
    """JupyterHub on 127.0.0.1 with the two users, a course folder and 01 released."""
    homes = {user: _fresh_user(user) for user in (STUDENT, INSTRUCTOR)}
    check = _as_user(STUDENT, f"{sys.executable} -c 'import nncourse, jupyterhub, nbgrader'")
    assert check.returncode == 0, (
        "other users cannot run this checkout's environment; make its folders traversable "
        f"(chmod o+x on {REPO} and every folder above it, as .ci/run does):\n{check.stderr}")
    run = Path(tempfile.mkdtemp(prefix="nncourse-hub-"))
    run.chmod(0o755)
    (run / "exchange").mkdir()
    (run / "exchange").chmod(0o1777)
    etc, students = _write_config_dirs(run)
    course_dir = run / "course"
    # The instructor's commands use this checkout's autograder (the course config imports it).
    env = dict(os.environ, JUPYTER_CONFIG_PATH=str(etc), PATH=f"{BIN}:{os.environ['PATH']}", PYTHONPATH=str(REPO))
    _run([sys.executable, "-m", "autograder", "prepare", "-w", str(course_dir), "-a", ASSIGNMENT], REPO, env)
    _run([sys.executable, "-m", "nbgrader", "release_assignment", ASSIGNMENT], course_dir, env)
    port = _free_port()
    (run / "jupyterhub_config.py").write_text(HUB_CONFIG.format(
        deploy=str(DEPLOY / "jupyterhub_config.py"), port=port, hub_port=_free_port(), api_port=_free_port(),
        chp=CHP, run=run, password=PASSWORD, student=STUDENT, instructor=INSTRUCTOR,
        singleuser=str(BIN / "jupyterhub-singleuser"), etc=str(etc), students=str(students),
        bin=str(BIN), course=str(course_dir)))
    log = open(run / "hub.log", "w")
    proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(run / "jupyterhub_config.py")], cwd=run,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}"))
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/hub/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"JupyterHub exited:\n{(run / 'hub.log').read_text()[-4000:]}"
            assert time.monotonic() < deadline, f"JupyterHub did not answer:\n{(run / 'hub.log').read_text()[-4000:]}"
            time.sleep(1)
        yield {"url": url, "run": run, "course": course_dir, "env": env, "homes": homes}
    finally:
        proc.send_signal(signal.SIGTERM)  # the hub stops the users' servers
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        shutil.copy(run / "hub.log", ARTIFACTS / "hub.log")
        for user in (STUDENT, INSTRUCTOR):  # servers the hub could not stop
            _kill_user_processes(user)
        shutil.rmtree(run, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def _login(browser, hub, user: str):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(120_000)
    page = context.new_page()
    page.goto(f"{hub['url']}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=300_000)  # spawn + JupyterLab
    page.wait_for_selector(".jp-LabShell", timeout=300_000)
    page.wait_for_selector(".lm-MenuBar-item", timeout=300_000)
    return context, page


def _open_menu(page, top: str):
    """Open a menu of JupyterLab's menu bar (a click on a menu bar that is still active
    right after another menu closed can be swallowed: try again)."""
    for attempt in range(5):
        page.keyboard.press("Escape")
        page.locator(".lm-MenuBar-item", has_text=top).first.click()
        menu = page.locator(".lm-Menu").last
        try:
            menu.wait_for(timeout=10_000)
            return menu
        except playwright.TimeoutError:
            time.sleep(1)
    raise AssertionError(f"the {top} menu did not open")


def _menu(page, top: str, item: str) -> None:
    _open_menu(page, top).locator(".lm-Menu-item", has_text=item).first.click()


def _kernel_idle(page) -> None:
    page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=300_000)


def _assignment_list(page):
    _menu(page, "Nbgrader", "Assignment List")
    panel = page.locator(".jp-MainAreaWidget", has_text="Released assignments").last
    panel.wait_for()
    return panel


def test_student_fetch_validate_submit_then_feedback(hub, browser):
    t0 = time.monotonic()
    context, page = _login(browser, hub, STUDENT)
    try:
        _student_flow(hub, page)
    except BaseException:
        _shot(page, "failure")  # what the page showed when the test failed
        raise
    finally:
        context.close()
    print(f"\nstudent flow, fetch to feedback: {time.monotonic() - t0:.0f} s; screenshots in {ARTIFACTS}")


def _student_flow(hub, page):

    # The student's Nbgrader menu has the assignment list but none of the instructor's tools.
    menu = _open_menu(page, "Nbgrader")
    assert "Assignment List" in menu.inner_text()
    assert "Formgrader" not in menu.inner_text()
    page.keyboard.press("Escape")

    # Fetch 01 from the Assignments tab.
    panel = _assignment_list(page)
    released = panel.locator("#released_assignments_list")
    released.get_by_text(ASSIGNMENT).wait_for()
    _shot(page, "01-student-assignment-list")
    released.get_by_role("button", name="Fetch").click()
    fetched = panel.locator("#fetched_assignments_list")
    fetched.get_by_text(ASSIGNMENT).wait_for()
    _shot(page, "02-student-fetched")

    # Open the notebook, answer the first question, run the notebook.
    page.goto(f"{hub['url']}/user/{STUDENT}/lab/tree/{ASSIGNMENT}/{NOTEBOOK}.ipynb")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=300_000)
    _kernel_idle(page)  # Run All before the kernel is connected only moves to the last cell
    cell = page.locator(".jp-Notebook .jp-Cell", has_text="def err(a, x=3.0)").first
    editor = cell.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(ANSWER)
    page.keyboard.press("Escape")
    # ... and one written answer (graded by hand later: the feedback says it is pending).
    # (the first cell whose whole text is the stub: the introduction also mentions it)
    written = page.locator(".jp-Notebook .jp-MarkdownCell").filter(
        has=page.get_by_text("VOTRE RÉPONSE ICI", exact=True)).first
    written.dblclick()
    written.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRITTEN)
    page.keyboard.press("Escape")
    _menu(page, "Run", "Run All Cells")
    # The notebook stops at the next unanswered question; the tests of this one pass.
    failing = page.locator(".jp-Notebook .jp-Cell", has_text='check_close("f1_forward(2, 1)"').first
    failing.locator(".jp-OutputArea-output", has_text="NotImplementedError").wait_for(timeout=300_000)
    test_err = page.locator(".jp-Notebook .jp-Cell", has_text='check_close("err(5)"').first
    assert "Error" not in test_err.locator(".jp-OutputArea").inner_text()
    assert test_err.locator(".jp-InputPrompt").inner_text().strip() not in ("[ ]:", "[*]:")
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.jp-mod-current.jp-mod-dirty')", timeout=60_000)
    time.sleep(1)

    # Validate (the notebook's toolbar): the answered tests pass, the others are listed.
    page.locator(".jp-Toolbar-item", has_text="Validate").first.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=600_000)
    dialog.locator(".jp-Dialog-body pre, .jp-Dialog-body p").first.wait_for(timeout=600_000)
    text = dialog.inner_text()
    _shot(page, "03-student-validate")
    assert "failed" in text.lower() or "échou" in text.lower(), text[:2000]
    assert "f1_forward" in text, text[:2000]
    assert 'check_close("err(5)"' not in text, text[:2000]
    dialog.locator(".jp-Dialog-button").last.click()

    # Submit from the Assignments tab.
    panel = _assignment_list(page)
    panel.locator("#fetched_assignments_list").get_by_role("button", name="Submit").first.click()
    submitted = panel.locator("#submitted_assignments_list")
    submitted.get_by_text(ASSIGNMENT).wait_for()
    _shot(page, "04-student-submitted")

    # The instructor: collect, grade with the project's grader, feedback, release it.
    course_dir, env = hub["course"], hub["env"]
    _run([sys.executable, "-m", "nbgrader", "collect", ASSIGNMENT], course_dir, env)
    assert (course_dir / "submitted" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.ipynb").exists()
    out = _run([sys.executable, "-m", "autograder", "autograde", "-w", str(course_dir), "-a", ASSIGNMENT], REPO, env)
    assert "graded 1/1" in out, out
    out = _run([sys.executable, "-m", "autograder", "feedback", "-w", str(course_dir)], REPO, env)
    assert "still await manual grading" in out, out  # the written answer is not graded yet
    html = course_dir / "feedback" / STUDENT / ASSIGNMENT / f"{NOTEBOOK}.html"
    assert html.exists(), out
    _run([sys.executable, "-m", "nbgrader", "release_feedback", ASSIGNMENT], course_dir, env)

    # The student fetches the feedback and opens it.
    page.reload()
    page.wait_for_selector(".lm-MenuBar-item", timeout=300_000)
    panel = _assignment_list(page)
    submitted = panel.locator("#submitted_assignments_list")
    submitted.get_by_role("button", name="Fetch Feedback").click()
    view = submitted.get_by_text("view feedback")
    view.wait_for()
    _shot(page, "05-student-feedback-fetched")
    found = sorted((hub["homes"][STUDENT] / ASSIGNMENT / "feedback").glob(f"*/{NOTEBOOK}.html"))
    assert found, "no feedback in the student's folder"
    rel = found[-1].relative_to(hub["homes"][STUDENT])
    page.goto(f"{hub['url']}/user/{STUDENT}/files/{rel}")
    page.get_by_text("gradient_step").first.wait_for()
    body = page.inner_text("body")
    _shot(page, "06-student-feedback")
    # The two tests of the answered question; the written answer is announced as pending.
    assert "(note : 2.0 / 33.0)" in body
    assert "points des réponses rédigées en attente de correction" in body
    assert WRITTEN in body
    assert "a - lr * grad" in body            # the student's own answer
    assert "NotImplementedError" in body      # what failed, for the questions not answered


def test_students_cannot_read_the_course_folder(hub):
    """The course folder that `prepare` made (solutions, gradebook) is the instructor's only."""
    course_dir = hub["course"]
    assert (course_dir.stat().st_mode & 0o777) == 0o700
    control = hub["run"] / "readable.txt"
    control.write_text("ok")
    control.chmod(0o644)
    assert _as_user(STUDENT, f"cat {control}").stdout == "ok"  # su works; the folder above is open
    for target in ("gradebook.db", f"source/{ASSIGNMENT}/{NOTEBOOK}.ipynb", "nbgrader_config.py"):
        p = _as_user(STUDENT, f"cat {course_dir / target}")
        assert p.returncode != 0 and "Permission denied" in p.stderr, (target, p.stdout[:200], p.stderr)
    p = _as_user(STUDENT, f"ls {course_dir}")
    assert p.returncode != 0 and "Permission denied" in p.stderr


def test_instructor_formgrader_in_its_own_tab(hub, browser):
    """The instructor's server (in the course folder) has nbgrader's tools; the formgrader
    opens in its own tab (inside JupyterLab it is blank under JupyterHub >= 4.1)."""
    course_dir = hub["course"]
    home = hub["homes"][INSTRUCTOR]
    # What setup-instructor.sh does: the course folder is the instructor's, and nbgrader finds it.
    subprocess.run(["chown", "-R", f"{INSTRUCTOR}:{INSTRUCTOR}", str(course_dir)], check=True)
    (home / ".jupyter").mkdir(exist_ok=True)
    (home / ".jupyter" / "nbgrader_config.py").write_text(f'c = get_config()\nc.CourseDirectory.root = "{course_dir}"\n')
    subprocess.run(["chown", "-R", f"{INSTRUCTOR}:{INSTRUCTOR}", str(home / ".jupyter")], check=True)
    context, page = _login(browser, hub, INSTRUCTOR)
    try:
        assert "Formgrader" in _open_menu(page, "Nbgrader").inner_text()
        page.keyboard.press("Escape")
        page.goto(f"{hub['url']}/user/{INSTRUCTOR}/formgrader")
        page.get_by_text("Manage Assignments").first.wait_for()
        page.get_by_text(ASSIGNMENT).first.wait_for()
        _shot(page, "07-instructor-formgrader")
    except BaseException:
        _shot(page, "failure-instructor")
        raise
    finally:
        context.close()
