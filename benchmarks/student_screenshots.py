"""What a student sees, in a real browser, when a test cell fails: screenshots and a summary.

    python benchmarks/student_screenshots.py [--repo PATH] [--out DIR] [-a 01_moons_numpy ...]

For each assignment (all six by default), three small notebooks are built from the
RELEASE notebook of ``--repo`` (what students get) and its reference solution (source/):
the setup cells, the earlier answer cells the chosen answer needs (reference answers), the
chosen answer cell and its test cell, with the chosen answer

- ``unanswered``: as released (``raise NotImplementedError()``);
- ``wrong``: the reference with one mutant of ``autograder/mutants`` applied, one whose
  break is that test cell and that fails its visible checks;
- ``crash``: the reference with a realistic edit that raises inside the student's function
  (a missing transpose, a missing ``keepdims``, ...).

They are executed with nbclient (the python3 kernel of this interpreter, errors allowed,
``PYTHONPATH=--repo`` so that ``--repo``'s ``nncourse`` is the one imported, NNCOURSE_DATA
passed on) and saved as ``<out>/NN_<scenario>.ipynb``. JupyterLab is then started on a free
local port (token, no browser, root_dir ``<out>``), headless Debian chromium (Playwright,
``/usr/bin/chromium``; never ``playwright install``) opens each notebook, scrolls to the test
cell and takes a screenshot of that cell with its output: ``<out>/NN_<scenario>.png`` (a
JPEG ``.jpg`` instead when the PNG would be over ``--max-kb``). JupyterLab and its kernels
are stopped at the end, whatever happens.

``<out>/summary.md`` gives, for each notebook, the error output as displayed (ANSI codes
removed) and whether it is one French line naming the problem: it starts with ``✘`` and has
no ``Traceback``, no ``site-packages`` and no ``File "`` line. The exit status is 1 when any
scenario misses that (all screenshots are taken first), 2 on a setup error.

``--repo`` (default: this checkout) gives release/, source/, nncourse and the mutants, so an
older commit checked out in a worktree shows the "before"::

    git worktree add /tmp/wt-before 16f3421~1
    python benchmarks/student_screenshots.py --repo /tmp/wt-before --out /tmp/shots/before
    python benchmarks/student_screenshots.py --out /tmp/shots/after

Needs jupyterlab, nbclient, playwright (python) and /usr/bin/chromium; about 2 minutes for
the six assignments on two cores.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
SCENARIOS = ("unanswered", "wrong", "crash")

# Per assignment: the cells kept (grade_ids, in notebook order; answer cells among them get the
# reference answer), the chosen answer cell and its test cell, the mutant of the catalogue for
# "wrong", and the edit (find, replace) of the reference answer for "crash".
PLANS = {
    "01_moons_numpy": dict(
        keep=["imports", "data", "setup-network", "forward_code"],
        answer="backward_code", test="test_d_W2", mutant="dW2_transposed",
        crash=("d_W2 = d_Z2 @ A1.T", "d_W2 = d_Z2 @ A1")),                  # transpose forgotten
    "02_moons_pytorch": dict(
        keep=["imports"],
        answer="outer_sum", test="test_outer_sum", mutant="outer_sum_wrong_orientation",
        crash=("u.reshape(-1, 1) + v.reshape(1, -1)", "u + v")),            # no broadcasting axes
    "03_spiral_softmax": dict(
        keep=["imports"],
        answer="softmax_code", test="test_softmax", mutant="softmax_wrong_axis",
        crash=("S.max(axis=1, keepdims=True)", "S.max(axis=1)")),            # keepdims forgotten
    "04_mnist_logreg": dict(
        keep=["imports", "data", "softmax_code"],
        answer="forward_code", test="test_forward", mutant="forward_scores_not_probabilities",
        crash=("softmax(X @ W + b)", "softmax(W @ X + b)")),                 # 01's column convention
    "05_mlp": dict(
        keep=["imports", "module_code"],
        answer="linear_code", test="test_linear_accumulate", mutant="linear_gradient_overwritten",
        crash=('self._gradient["W"] += input.T @ delta', 'self._gradient["W"] += input @ delta')),
    "06_cnn_cifar10": dict(
        keep=["imports"],
        answer="channel_stats", test="test_channel_stats", mutant="stats_wrong_axes",
        crash=("x = images.to(torch.float32) / 255.0", "x = images")),       # mean of uint8 pixels
}

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
HIDDEN = re.compile(r"^\s*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\s*$", re.S | re.M)


def meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def strip_markers(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not MARKER.match(line))


def load_catalogue(repo: Path, assignment: str):
    """The mutants of ``assignment`` as ``repo`` has them (its autograder.mutants, in a
    subprocess so that this process imports no repository's code)."""
    code = ("import json, sys; from autograder.mutants import catalogue; "
            "print(json.dumps([dict(name=m.name, cell=m.cell, find=m.find, replace=m.replace, "
            "breaks=sorted(m.breaks)) for m in catalogue(sys.argv[1])]))")
    out = subprocess.run([sys.executable, "-c", code, assignment], cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(repo)}, timeout=120, check=True)
    return {m["name"]: m for m in json.loads(out.stdout)}


def build(repo: Path, assignment: str) -> dict:
    """scenario -> notebook (nbformat node), built from ``repo``'s release and source notebooks."""
    import nbformat
    plan = PLANS[assignment]
    release_path = next((repo / "release" / assignment).glob("*.ipynb"))
    release = nbformat.read(str(release_path), as_version=4)
    source = nbformat.read(str(repo / "source" / assignment / release_path.name), as_version=4)
    solutions = {meta(c)["grade_id"]: strip_markers(c.source) for c in source.cells
                 if meta(c).get("solution") and meta(c).get("grade_id")}
    wanted = set(plan["keep"]) | {plan["answer"], plan["test"]}
    cells = [c for c in release.cells if c.cell_type == "code" and meta(c).get("grade_id") in wanted]
    found = {meta(c)["grade_id"] for c in cells}
    if found != wanted:
        raise KeyError(f"{assignment}: cells not found in {release_path}: {sorted(wanted - found)}")
    for c in cells:
        c.outputs, c.execution_count = [], None
        if meta(c).get("solution") and meta(c)["grade_id"] != plan["answer"]:
            c.source = solutions[meta(c)["grade_id"]]
        c.source = HIDDEN.sub("", c.source).strip("\n")        # release cells have none; be sure
    mutant = load_catalogue(repo, assignment)[plan["mutant"]]
    if mutant["cell"] != plan["answer"] or plan["test"] not in mutant["breaks"]:
        raise ValueError(f"{assignment}: mutant {mutant['name']} does not break {plan['test']}")
    reference = solutions[plan["answer"]]
    answers = {"unanswered": None,
               "wrong": (mutant["find"], mutant["replace"]),
               "crash": plan["crash"]}
    notebooks = {}
    for scenario, edit in answers.items():
        nb = copy.deepcopy(release)
        nb.cells = copy.deepcopy(cells)
        answer = next(c for c in nb.cells if meta(c)["grade_id"] == plan["answer"])
        if edit is not None:
            find, replace = edit
            if reference.count(find) != 1:
                raise ValueError(f"{assignment} {scenario}: {find!r} found {reference.count(find)} times")
            answer.source = reference.replace(find, replace)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        notebooks[scenario] = nb
    return notebooks


def execute(nb, out: Path, repo: Path, timeout: int):
    from nbclient import NotebookClient
    env = {**os.environ, "PYTHONPATH": str(repo)}
    env.setdefault("NNCOURSE_DATA", str(repo / "data"))
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=timeout,
                            resources={"metadata": {"path": str(out)}})
    client.execute(env=env)
    return nb


def shown_error(nb) -> str:
    """The error output of the last cell (the test cell), as the notebook shows it."""
    outputs = nb.cells[-1].get("outputs", [])
    texts = ["\n".join(o.get("traceback", [])) for o in outputs if o.get("output_type") == "error"]
    texts += ["".join(o.get("text", "")) for o in outputs
              if o.get("output_type") == "stream" and o.get("name") == "stderr"]
    return ANSI.sub("", "\n".join(t for t in texts if t)).strip("\n")


def verdict(text: str) -> tuple[bool, str]:
    """(is it one French line naming the problem, why not)."""
    if not text:
        return False, "no error shown"
    lines = text.splitlines()
    if not lines[0].lstrip().startswith("✘"):
        return False, "does not start with ✘"
    for bad in ("Traceback", "site-packages"):
        if bad in text:
            return False, f"contains {bad!r}"
    if any(line.lstrip().startswith('File "') for line in lines):
        return False, 'contains a File "..." line'
    return True, ""


def remark(text: str) -> str:
    """What the criterion lets through but a reader should know: the ✘ line broken over
    several lines (an array printed in it)."""
    extra = [line for line in text.splitlines()[1:] if not line.startswith(("  Piste", "  ("))]
    return f"the ✘ line goes on over {len(extra)} more line(s) (a printed array)" if extra else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """JupyterLab on 127.0.0.1, its own settings, runtime and workspaces; stopped by stop()."""

    def __init__(self, root: Path, timeout: float = 120):
        self.root, self.port, self.token = root, free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.home = Path(tempfile.mkdtemp(prefix="nncourse-shots-lab-"))
        settings = self.home / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        (settings / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(self.home / "settings"),
               "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
               "JUPYTER_RUNTIME_DIR": str(self.home / "runtime")}
        jupyter = Path(sys.executable).parent / "jupyter"
        self.log = open(self.home / "lab.log", "wb")
        self.proc = subprocess.Popen(
            [str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
             f"--ServerApp.token={self.token}", f"--ServerApp.root_dir={root}",
             "--ServerApp.port_retries=0", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            self._wait(timeout)
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                log = (self.home / "lab.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"JupyterLab exited ({self.proc.returncode}):\n{log}")
            try:
                self.api("GET", "/api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer in {timeout:.0f} s") from None
                time.sleep(0.5)

    def api(self, method: str, path: str):
        req = urllib.request.Request(f"{self.url}{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            body = r.read()
        return json.loads(body) if body else None

    def shutdown_kernels(self) -> None:
        """The kernels opened notebooks started: one at a time would pile up on a small machine."""
        try:
            for session in self.api("GET", "/api/sessions") or []:
                self.api("DELETE", f"/api/sessions/{session['id']}")
        except OSError:
            pass

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.shutdown_kernels()
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)     # its own session: Lab and its kernels
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def screenshot(page, lab: Lab, name: str, png: Path, max_kb: int, attempts: int = 3) -> Path:
    """Open ``name`` in JupyterLab, screenshot its last cell (the test cell) with its output."""
    for attempt in range(1, attempts + 1):
        try:
            data = _cell_image(page, lab, name)
            break
        except Exception:  # noqa: BLE001 - the page re-rendered under us (kernel start, layout): again
            if attempt == attempts:
                raise
            time.sleep(2)
    if len(data) <= max_kb * 1024:
        png.write_bytes(data)
        return png
    from PIL import Image
    jpg = png.with_suffix(".jpg")
    Image.open(io.BytesIO(data)).convert("RGB").save(jpg, quality=70, optimize=True)
    return jpg


def _cell_image(page, lab: Lab, name: str) -> bytes:
    page.goto(f"{lab.url}/doc/tree/{name}?reset&token={lab.token}")      # single document: no side panels
    page.wait_for_selector(".jp-Notebook .jp-Cell .jp-OutputArea-output", timeout=120_000)
    page.wait_for_load_state("networkidle", timeout=60_000)
    page.keyboard.press("Escape")                                # command mode
    page.evaluate("document.activeElement && document.activeElement.blur()")
    cell = page.locator(".jp-Notebook .jp-Cell").last
    cell.scroll_into_view_if_needed(timeout=30_000)
    cell.locator(".jp-OutputArea-output").first.wait_for(timeout=30_000)
    time.sleep(1)                                                # fonts and outputs settle
    return cell.screenshot(timeout=30_000, animations="disabled")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", type=Path, default=HERE, help="checkout whose release/, source/, nncourse "
                        "and mutants are used (default: this one)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/shots"), help="output folder (emptied of "
                        "this script's files first)")
    parser.add_argument("-a", "--assignment", action="append", choices=sorted(PLANS),
                        help="an assignment (repeatable; default: all six)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per notebook cell (default 300)")
    parser.add_argument("--max-kb", type=int, default=150, help="larger PNGs are saved as JPEG (quality 70)")
    args = parser.parse_args(argv)
    repo, out = args.repo.resolve(), args.out.resolve()
    assignments = args.assignment or sorted(PLANS)
    if not Path(CHROMIUM).exists():
        print(f"no {CHROMIUM}", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    for old in [*out.glob("0?_*.ipynb"), *out.glob("0?_*.png"), *out.glob("0?_*.jpg")]:
        old.unlink()
    commit = subprocess.run(["git", "-C", str(repo), "log", "-1", "--format=%h %s"], capture_output=True,
                            text=True).stdout.strip()

    results = []                                   # (assignment, scenario, notebook name, text, ok, why)
    import nbformat
    for a in assignments:
        t0 = time.monotonic()
        for scenario, nb in build(repo, a).items():
            name = f"{a[:2]}_{scenario}.ipynb"
            execute(nb, out, repo, args.timeout)
            nbformat.write(nb, str(out / name))
            text = shown_error(nb)
            ok, why = verdict(text)
            results.append([a, scenario, name, text, ok, why, None])
        print(f"{a}: executed in {time.monotonic() - t0:.0f} s", flush=True)

    from playwright.sync_api import sync_playwright
    lab = Lab(out)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page(viewport={"width": 1100, "height": 900})
                for row in results:
                    png = out / row[2].replace(".ipynb", ".png")
                    try:
                        row[6] = screenshot(page, lab, row[2], png, args.max_kb).name
                    except Exception as exc:  # noqa: BLE001 - the other screenshots still come
                        print(f"{row[2]}: no screenshot: {type(exc).__name__}: {exc}", file=sys.stderr)
                    lab.shutdown_kernels()
                    print(f"{row[2]}: {row[6] or 'no screenshot'}", flush=True)
            finally:
                browser.close()
    finally:
        lab.stop()

    lines = ["# What the student sees when a test cell fails", "",
             f"Commit: {commit}. Made by `benchmarks/student_screenshots.py`.", "",
             "Criterion: one French line naming the problem (starts with ✘; no `Traceback`, no "
             "`site-packages`, no `File \"` line; a `Piste :` line may follow).", ""]
    for a in assignments:
        plan = PLANS[a]
        lines += [f"## {a}", "", f"Answer cell `{plan['answer']}`, test cell `{plan['test']}`; wrong: mutant "
                  f"`{plan['mutant']}`; crash: `{plan['crash'][0]}` → `{plan['crash'][1]}`.", ""]
        for _, scenario, name, text, ok, why, image in (r for r in results if r[0] == a):
            mark = "yes" if ok else f"**NO** ({why})"
            note = remark(text)
            lines += [f"### {scenario}: one French line: {mark}", "", *([f"Note: {note}.", ""] if note else []),
                      f"Screenshot: {f'[{image}]({image})' if image else '**none**'}", "", "```text",
                      text or "(no error output)", "```", ""]
    (out / "summary.md").write_text("\n".join(lines))
    failed = [f"{r[0]} {r[1]}" for r in results if not r[4]]
    missing = [r[2] for r in results if not r[6]]
    print(f"summary: {out / 'summary.md'}; criterion failed: {', '.join(failed) or 'none'}; "
          f"screenshots missing: {', '.join(missing) or 'none'}")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
