"""Hostile submissions (the catalogue in tests/attacks.py) graded through the real
pipeline, one at a time and two at a time.

One batch per mode (``-j 2``: every attack; ``-j 1``: the kinds aimed at the grading
process and at the next student), two CORRECT neighbours and one honest WRONG student
(the victim, graded after the attacks that target later students), through
``grading.grade_all`` run in a child process (an attack may kill the grading process;
with ``-j 1`` that is the one calling ``grade_all``). After the batch, for each attack:
it gains nothing, it was graded (or reported), it left no file, process or connection
behind, its outputs leak no reference answer, and its feedback holds nothing executable
and nothing huge. And for the batch: the neighbours keep full marks, the victim keeps
0, every submission has an outcome, the export works, the gradebook's cells are intact.

Run: ``NNCOURSE_DATA=../shared/datasets python -m pytest tests/test_attacks.py -m attacks``
(both modes, 4 to 7 minutes each on 2 cores; ``-k j1`` or ``-k j2`` for one; ``NNCOURSE_ATTACKS=a,b``
grades only those attacks; ``NNCOURSE_ALL_MODES=1`` grades every attack in both modes;
``NNCOURSE_KEEP_ATTACKS=1`` keeps the course folders).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import site
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook, MissingEntry

from autograder import course, grading
from autograder.export import export
from autograder.feedback import generate_feedback
from autograder.samples import prepend_to_first_answer
from autograder.submissions import course_notebooks, reference_submission
from autograder.submissions import write_submission as submit

from attacks import ATTACKS, KINDS, MARKER_PREFIX, Attack, render

pytestmark = [pytest.mark.slow, pytest.mark.attacks]

A = "01_moons_numpy"
TOKEN = "r" + secrets.token_hex(4)            # this test run: in every student id and attack file
CELL_TIMEOUT, NOTEBOOK_TIMEOUT = 20, 90       # seconds (short: some attacks hang on purpose)
BATCH_TIMEOUT = 1200
MAX_GRADED_BYTES = 10 << 20                   # graded copy and feedback of one submission
HEAD = 65536                                  # bytes of each new file searched for markers

# Grading order is the order of student ids. Neighbour attacks sit between the correct
# students; attacks on later students come before the victim; kills come last.
ORDER = ["neighbour-exec", "correct-a", "neighbour-sigstop", "neighbour-scratch", "correct-b",
         "neighbour-sigkill"]
LATE = {"persistence": 60, "course": 70, "kill": 95}
VICTIM = f"90-victim-wrong-{TOKEN}"
# While developing: NNCOURSE_ATTACKS=name,name grades only those attacks (the others skip).
_ONLY = [n for n in os.environ.get("NNCOURSE_ATTACKS", "").split(",") if n]
ACTIVE = [a for a in ATTACKS if not _ONLY or a.name in _ONLY]
# -j 2 grades every attack, with two kernels side by side (what neighbour and resource attacks
# need). -j 1 grades in the very process that calls grade_all, one student after the other: it
# grades the kinds aimed at that process and at the next student (the others meet the same
# sandbox either way; NNCOURSE_ALL_MODES=1 grades every attack in both modes).
KINDS_AT_J1 = set(KINDS) if os.environ.get("NNCOURSE_ALL_MODES") else {"kill", "persistence"}


def graded_at(jobs: int) -> list[Attack]:
    return [a for a in ACTIVE if jobs > 1 or a.kind in KINDS_AT_J1]


def student_of(name: str) -> str:
    if name in ORDER:
        rank = ORDER.index(name)
    else:
        attack = next(a for a in ATTACKS if a.name == name)
        rank = LATE.get(attack.kind, 10) + [a.name for a in ATTACKS if a.kind == attack.kind].index(name)
        if attack.kind == "course" and name.startswith("gradebook"):
            rank = 80 + [a.name for a in ATTACKS].index(name) % 10  # just before the victim
    return f"{rank:02d}-{name}-{TOKEN}"


CORRECT = [student_of("correct-a"), student_of("correct-b")]


def host_pidns() -> str:
    return os.readlink("/proc/self/ns/pid")


# ------------------------------------------------------------------ what a batch leaves
@dataclass
class Batch:
    jobs: int
    workdir: Path
    returncode: int | None = None
    log: str = ""
    seconds: float = 0.0
    outcomes: dict = field(default_factory=dict)        # student -> dict (returned by grade_all)
    report: dict = field(default_factory=dict)          # student -> dict (grading_report.json)
    files: list = field(default_factory=list)           # (path, text searched) of new files with the token
    processes: list = field(default_factory=list)       # (pid, cmdline + environ) with the token or a marker
    received: list = field(default_factory=list)        # bytes received by the loopback listeners
    export_error: str = ""
    exported: dict = field(default_factory=dict)        # student -> row of grades.csv
    feedback_failures: list = field(default_factory=list)
    cells_before: list = field(default_factory=list)
    cells_after: list = field(default_factory=list)
    logs: Path | None = None                              # the batch's stdout/stderr (ours)


class Listener:
    """TCP listeners on the host's 127.0.0.1 and ::1; records whatever reaches them."""

    def __init__(self):
        self.received, self.sockets = [], []
        self.port = self._listen(socket.AF_INET, "127.0.0.1")
        try:
            self.port6 = self._listen(socket.AF_INET6, "::1")
        except OSError:
            self.port6 = 9  # no IPv6 loopback here: the attack's try fails, as it should

    def _listen(self, family, host):
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((host, 0))
        s.listen(64)
        s.settimeout(0.5)
        self.sockets.append(s)
        threading.Thread(target=self._serve, args=(s,), daemon=True).start()
        return s.getsockname()[1]

    def _serve(self, s):
        while s in self.sockets:
            try:
                conn, _ = s.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(3)
            try:
                self.received.append(conn.recv(4096) or b"(connected, sent nothing)")
            except OSError:
                self.received.append(b"(connected, sent nothing)")
            finally:
                conn.close()

    def close(self):
        socks, self.sockets = self.sockets, []
        for s in socks:
            s.close()


def _read(path, limit=None) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(limit) if limit else f.read()
    except OSError:
        return b""


def run_processes() -> list:
    """(pid, cmdline + environ) of every process of this run (token or marker), us excluded."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        text = _read(f"/proc/{entry}/cmdline") + b"\0" + _read(f"/proc/{entry}/environ")
        if TOKEN.encode() in text or MARKER_PREFIX.encode() in text and TOKEN.encode() in text:
            found.append((int(entry), text.decode(errors="replace")))
    return found


def nncourse_repo() -> Path:
    """Where the kernels' ``import nncourse`` comes from (an editable install: a checkout)."""
    out = subprocess.run([sys.executable, "-c", "import nncourse; print(nncourse.__file__)"],
                         capture_output=True, text=True, cwd="/", timeout=60).stdout.strip()
    return Path(out).resolve().parent.parent if out else course.REPO


def scan_roots() -> list[Path]:
    roots = [Path("/tmp"), Path("/dev/shm"), Path.home(), *map(Path, site.getsitepackages()),
             nncourse_repo(), course.REPO]
    return sorted({r.resolve() for r in roots if r.exists()})


def new_files(since: float) -> list:
    """(path, name + first bytes) of files changed since ``since`` whose name or first bytes
    hold this run's token or an attack marker."""
    found, seen = [], set()
    for root in scan_roots():
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.startswith(("/proc", "/sys")):
                dirnames[:] = []
                continue
            for name in filenames:
                path = os.path.join(dirpath, name)
                if path in seen:
                    continue
                seen.add(path)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                if st.st_ctime < since:
                    continue
                text = path + "\n" + _read(path, HEAD).decode(errors="replace")
                if TOKEN in text or MARKER_PREFIX in text:
                    found.append((path, text))
    return found


def cell_tables(workdir: Path) -> list:
    import sqlite3
    db = sqlite3.connect(workdir / "gradebook.db")
    try:
        return (db.execute("SELECT name, cell_type, locked, source, checksum FROM source_cell ORDER BY id").fetchall()
                + db.execute("SELECT b.name, g.max_score, g.cell_type FROM grade_cells g JOIN base_cell b "
                             "ON b.id = g.id ORDER BY g.id").fetchall())
    finally:
        db.close()


def scores_of(workdir: Path, student: str) -> dict:
    """grade_id -> (score, max_score) for every graded cell of a submission ({} if none)."""
    out = {}
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        try:
            sub = gb.find_submission(A, student)
        except MissingEntry:
            return out
        for nb in sub.notebooks:
            for g in nb.grades:
                out[g.name] = (g.score, g.max_score, g.cell.cell_type)
    return out


BATCH_SCRIPT = """
import json, sys
from pathlib import Path
from autograder import course, grading
workdir, jobs, cell, notebook = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
config = course.load_config(Execute={"timeout": cell}, SandboxedExecute={"notebook_timeout": notebook})
outcomes = grading.grade_all(workdir, [sys.argv[5]], None, config, progress=False, jobs=jobs)
print("OUTCOMES " + json.dumps([o.__dict__ for o in outcomes]), flush=True)
"""


def submissions(workdir: Path, listener: Listener, jobs: int) -> dict:
    """student -> notebook, for the whole batch."""
    [(name, source_nb, release_nb)] = list(course_notebooks(workdir, A))
    values = {"TOKEN": TOKEN, "VICTIM": VICTIM, "HOST_PIDNS": host_pidns(),
              "PORT": listener.port, "PORT6": listener.port6}
    subs = {VICTIM: release_nb}
    for student in CORRECT:
        subs[student] = reference_submission(source_nb, release_nb)
    for attack in graded_at(jobs):
        nb = release_nb
        if attack.edit:
            nb = attack.edit(nbformat.from_dict(json.loads(json.dumps(release_nb))), attack.marker)
        if attack.code:
            nb = prepend_to_first_answer(nb, render(attack, **values))
        subs[student_of(attack.name)] = nb
    return subs, name


def cleanup(since: float) -> None:
    """Kill this run's leftover processes and remove its files (also when a test failed)."""
    for _ in range(3):
        procs = run_processes()
        for pid, _ in procs:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not procs:
            break
        time.sleep(0.5)
    for path, _ in new_files(since):
        p = Path(path)
        scratch = next((q for q in p.parents if q.name.startswith("nncourse-grade-")), None)
        if scratch is not None:  # a scratch folder left by a killed grader
            shutil.rmtree(scratch, ignore_errors=True)
        elif MARKER_PREFIX in p.name or MARKER_PREFIX.encode() in _read(p, 200):
            try:
                p.unlink()
            except OSError:
                pass


@pytest.fixture(scope="module", params=[1, 2], ids=["j1", "j2"])
def batch(request, tmp_path_factory) -> Batch:
    jobs = request.param
    since = time.time() - 1
    listener = Listener()
    request.addfinalizer(lambda: cleanup(since))
    request.addfinalizer(listener.close)

    workdir = tmp_path_factory.mktemp(f"attacks-j{jobs}")
    if not os.environ.get("NNCOURSE_KEEP_ATTACKS"):  # gigabytes (the disk attacks' graded copies)
        request.addfinalizer(lambda: shutil.rmtree(workdir, ignore_errors=True))
    grading.prepare(workdir, [A])
    subs, nb_name = submissions(workdir, listener, jobs)
    for student, nb in subs.items():
        submit(workdir, student, A, nb_name, nb)
    result = Batch(jobs, workdir, cells_before=cell_tables(workdir))

    logs = result.logs = tmp_path_factory.mktemp(f"attacks-log-j{jobs}")
    out, err = open(logs / "stdout", "w+"), open(logs / "stderr", "w+")
    env = dict(os.environ, NNCOURSE_ATTACK_RUN=TOKEN)
    env.setdefault("NNCOURSE_DATA", str(course.REPO.parent / "shared" / "datasets"))
    t0 = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", BATCH_SCRIPT, str(workdir), str(jobs), str(CELL_TIMEOUT),
                             str(NOTEBOOK_TIMEOUT), A], cwd=course.REPO, env=env, stdout=out, stderr=err,
                            start_new_session=True)
    try:
        result.returncode = proc.wait(BATCH_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        result.returncode = proc.wait()
    result.seconds = round(time.monotonic() - t0, 1)
    out.seek(0), err.seek(0)
    stdout = out.read()
    result.log = stdout[-3000:] + "\n" + err.read()[-3000:]
    for line in stdout.splitlines():
        if line.startswith("OUTCOMES "):
            result.outcomes = {o["student"]: o for o in json.loads(line[len("OUTCOMES "):])}
    result.report = {v["student"]: v for v in grading.load_report(workdir).values()}

    time.sleep(2)  # whatever was left running gets a moment to show itself
    result.processes = run_processes()
    result.files = new_files(since)
    result.received = list(listener.received)
    try:
        _, rows, _ = export(workdir)
        result.exported = {r["student_id"]: r for r in rows}
    except Exception as exc:  # noqa: BLE001 (reported by a test)
        result.export_error = f"{type(exc).__name__}: {exc}"
    graded = [(s, A) for s in subs if (workdir / "autograded" / s / A).exists()]
    try:
        result.feedback_failures = generate_feedback(workdir, graded)
    except Exception as exc:  # noqa: BLE001
        result.feedback_failures = [("*", A, f"{type(exc).__name__}: {exc}")]
    result.cells_after = cell_tables(workdir)
    print(f"\n[-j {jobs}] batch of {len(subs)} graded in {result.seconds} s, exit code {result.returncode}")
    return result


# ------------------------------------------------------------------ per-attack verdicts
INSTRUCTOR_LINES: set = set()


def instructor_lines() -> set:
    """Distinctive lines of the hidden checks, reference answers and solutions of 01."""
    if not INSTRUCTOR_LINES:
        release = "\n".join(c.source for c in nbformat.read(str(course.RELEASE / A / "moons_numpy.ipynb"),
                                                             as_version=4).cells)
        texts = [p.read_text() for p in (course.REPO / "autograder" / "checks").glob("*.py")]
        source = nbformat.read(str(course.SOURCE / A / "moons_numpy.ipynb"), as_version=4)
        texts += [c.source for c in source.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution")]
        for text in texts:
            for line in text.splitlines():
                line = line.strip()
                if len(line) >= 30 and line not in release:
                    INSTRUCTOR_LINES.add(line)
    return INSTRUCTOR_LINES


EXECUTABLE = {
    "<script>": r"<script\b[^>]*>[^<]*{m}",
    "event handler": r"<[a-zA-Z][^>]*\son[a-z]+\s*=[^>]*{m}",
    "javascript: link": r"""(href|src|xlink:href)\s*=\s*["']?\s*javascript:[^>]*{m}""",
}


def output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            parts += [str(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
            parts += [str(out.get("evalue", ""))] + [str(t) for t in out.get("traceback", [])]
    return "\n".join(parts)


def problems_of(b: Batch, attack: Attack) -> list[str]:
    student, marker = student_of(attack.name), attack.marker
    problems = []
    # it was graded, or reported
    outcome = b.outcomes.get(student) or b.report.get(student)
    if outcome is None:
        problems.append("no outcome: the batch ended before this submission was graded or reported")
    # it gains nothing
    scores = scores_of(b.workdir, student)
    earned = sum(s or 0 for s, _, _ in scores.values())
    status = outcome["status"] if outcome else None
    row_score = b.exported.get(student, {}).get("score", "")
    if earned and not (status in ("error", "to regrade") and row_score == ""):
        total = sum(m for _, m, _ in scores.values())
        problems.append(f"GAINED {earned:g}/{total:g} points (status {status}): "
                        + ", ".join(k for k, (s, _, _) in scores.items() if s))
    # it left nothing behind
    own = [b.workdir / d / student for d in ("submitted", "autograded", "feedback")]
    own += [b.workdir / grading.REPORT_FILE, b.workdir / "grades.csv"]
    left = [p for p, text in b.files if marker in text and not any(Path(p) == o or o in Path(p).parents for o in own)]
    if left:
        problems.append(f"left {len(left)} file(s): " + ", ".join(sorted(left)[:6]))
    procs = [pid for pid, text in b.processes if marker in text]
    if procs:
        problems.append(f"left {len(procs)} process(es) running, e.g. pids {procs[:5]}")
    if any(marker.encode() in data for data in b.received):
        problems.append("reached the TCP listener on the host's loopback")
    # its outputs and feedback: no instructor code, nothing executable, nothing huge
    graded = list((b.workdir / "autograded" / student / A).glob("*.ipynb"))
    size = sum(p.stat().st_size for p in (b.workdir / "autograded" / student).rglob("*") if p.is_file())
    if size > MAX_GRADED_BYTES:
        problems.append(f"graded copy is {size / 2**20:.0f} MB")
    for path in graded:
        try:
            text = output_text(nbformat.read(str(path), as_version=4))
        except Exception:  # noqa: BLE001
            continue
        leaked = sorted(instructor_lines() & {line.strip() for line in text.splitlines()})
        if leaked:
            problems.append(f"its outputs show {len(leaked)} line(s) of instructor code, e.g. {leaked[0]!r}")
    for html in (b.workdir / "feedback" / student / A).glob("*.html"):
        if html.stat().st_size > MAX_GRADED_BYTES:
            problems.append(f"feedback {html.name} is {html.stat().st_size / 2**20:.0f} MB")
        text = html.read_text(errors="replace")
        for what, pattern in EXECUTABLE.items():
            if re.search(pattern.format(m=re.escape(marker)), text, re.I):
                problems.append(f"feedback holds an executable {what}")
    return problems


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
def test_attack_gains_nothing_and_leaves_nothing(batch, attack):
    if attack not in ACTIVE:
        pytest.skip("not selected by NNCOURSE_ATTACKS")
    if attack not in graded_at(batch.jobs):
        pytest.skip(f"{attack.kind}: graded with -j 2 only (NNCOURSE_ALL_MODES=1 grades it with -j 1)")
    problems = problems_of(batch, attack)
    if attack.known_gap:  # a gap named in the catalogue; it must still gain nothing and leave nothing
        problems = [p for p in problems if "line(s) of instructor code" not in p]
    assert not problems, f"[-j {batch.jobs}] {attack.name} ({attack.kind}: {attack.description}):\n  " + \
        "\n  ".join(problems)


# ------------------------------------------------------------------ the batch as a whole
def test_batch_completed_and_exports(batch):
    expected = {student_of(a.name) for a in graded_at(batch.jobs)} | set(CORRECT) | {VICTIM}
    missing = sorted(expected - set(batch.outcomes))
    assert batch.returncode == 0 and not missing, (
        f"grade_all did not return (exit code {batch.returncode}); no outcome for {len(missing)}: "
        f"{missing[:8]}\n{batch.log[-2500:]}")
    assert not batch.export_error, batch.export_error


def test_correct_neighbours_keep_full_marks(batch):
    bad = {}
    for student in CORRECT:
        outcome = batch.outcomes.get(student) or batch.report.get(student)
        code = {k: (s, m) for k, (s, m, t) in scores_of(batch.workdir, student).items() if t == "code"}
        lost = {k: v for k, v in code.items() if v[0] != v[1]}
        if outcome is None or outcome["status"] != "ok" or not code or lost:
            bad[student] = (outcome and outcome["status"], outcome and outcome["reason"][:200], lost)
    assert not bad, f"[-j {batch.jobs}] correct neighbours harmed: {bad}"


def test_honest_wrong_student_keeps_zero(batch):
    outcome = batch.outcomes.get(VICTIM) or batch.report.get(VICTIM)
    assert outcome is not None, "the honest student was never graded (the batch died before it)"
    scores = scores_of(batch.workdir, VICTIM)
    earned = {k: s for k, (s, _, _) in scores.items() if s}
    assert scores and not earned, f"[-j {batch.jobs}] honest WRONG student earned points: {earned}"


def test_gradebook_cells_unchanged(batch):
    changed = [row for row in batch.cells_after if row not in batch.cells_before]
    assert batch.cells_after == batch.cells_before, f"gradebook cells changed, e.g. {changed[:2]}"


def test_feedback_generated(batch):
    assert not batch.feedback_failures, batch.feedback_failures[:5]


def test_nothing_unattributed_left(batch):
    """Leftovers of the run that no attack marker explains: the grader's own (scratch
    folders of a killed grader, orphan kernels and workers) or an attack's forks."""
    markers = [a.marker for a in ATTACKS]
    procs = [(pid, text.split("\0")[0:4]) for pid, text in batch.processes
             if not any(m in text for m in markers)]
    files = [p for p, text in batch.files
             if not any(m in text for m in markers)
             and not p.startswith((str(batch.workdir), str(batch.logs)))]
    silent = [d for d in batch.received if not any(m.encode() in d for m in markers)]
    assert not procs and not files and not silent, (
        f"processes: {procs[:5]}\nfiles: {files[:8]}\nconnections: {silent[:3]}")


def test_catalogue_is_well_formed():
    names = [a.name for a in ATTACKS]
    assert len(names) == len(set(names)) and len(names) >= 24
    assert {a.kind for a in ATTACKS} == set(KINDS)
    assert all(a.kind in KINDS and bool(a.code) or a.edit for a in ATTACKS)
    clash = [(x, y) for x in names for y in names if x != y and y.startswith(x + "-")]
    assert not clash, f"a marker must not be the start of another: {clash}"
    assert len({student_of(n) for n in names}) == len(names)
