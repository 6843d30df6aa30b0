"""The sandbox around each submission's execution (notebook client and kernel together).

Modes, chosen at start (``Sandbox.mode = "auto"``) and printed by the CLI:

``bwrap``
    bubblewrap: own user, PID, IPC, UTS, cgroup and network namespaces (only the sandbox's
    own loopback, for the kernel's messages), no capabilities, a read-only system and
    Python environment, size-capped private tmpfs for ``HOME`` (the student's work folder
    is inside), ``/tmp`` and ``/dev/shm``; nothing of the course folder, the gradebook,
    the repository, caches, the grader's processes or other submissions is visible. When
    the sandbox's first process ends, the kernel sees to it that every process in it goes.
``seccomp``
    the weaker fallback where user namespaces are not allowed (an unprivileged
    JupyterHub pod): rlimits, a private scratch folder as ``HOME`` and ``/tmp``, the kernel
    on Unix sockets, and a seccomp filter that refuses network sockets, signals to other
    processes and ptrace (see ``runner/confine.py``). It cannot hide files that the
    grader's user can read: see the README's limits table.
``none``
    only with ``--unsafe-no-sandbox``: a separate process with the limits above, nothing more.

In every mode: rlimits on address space, file size, open files and core dumps; a
process cap and a memory cap for the whole sandbox through a cgroup when the grader may
create one (as root), else through ``RLIMIT_NPROC``; CPU threads pinned; a wall-clock
backstop; capped output. What comes back is JSON lines, read with a size cap, never
unpickled (see ``runner/protocol.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from traitlets import Dict, Enum, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from nncourse.probe import PLAN_DIR_ENV

from .runner import protocol

RUNNER = Path(__file__).resolve().parent / "runner"
STUDENT_PACKAGE = Path(find_spec("nncourse").origin).parent  # the nncourse the grader itself uses
SCRATCH_PREFIX = "nncourse-sandbox-"
GiB, MiB = 1 << 30, 1 << 20
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS")
PASSED_THROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "NNCOURSE_TEST_SEED")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "fonts", "localtime",
             "nsswitch.conf", "hosts", "mime.types", "matplotlibrc")
INSIDE_HOME = "/home/student"


class SandboxUnavailable(RuntimeError):
    """No sandbox can run here and the unsafe mode was not asked for."""


class Sandbox(LoggingConfigurable):
    """Limits of the grading sandbox. Defaults: what a correct solution never reaches (see
    the README's limits table, measured per assignment)."""

    mode = Enum(["auto", "bwrap", "seccomp", "none"], "auto",
                help="auto: bubblewrap if it works here, else the seccomp fallback; none: no sandbox "
                     "(only with --unsafe-no-sandbox)").tag(config=True)
    memory_bytes = Integer(6 * GiB, help="Memory of the whole sandbox (cgroup), and data segment of "
                                         "each of its processes (RLIMIT_DATA)").tag(config=True)
    processes = Integer(128, help="Processes and threads in the sandbox").tag(config=True)
    file_size_bytes = Integer(1 * GiB, help="Largest file a submission may write (RLIMIT_FSIZE)").tag(config=True)
    home_bytes = Integer(2 * GiB, help="Size of the private HOME, which holds the work folder (tmpfs)").tag(config=True)
    tmp_bytes = Integer(1 * GiB, help="Size of the private /tmp and /dev/shm (tmpfs)").tag(config=True)
    open_files = Integer(1024, help="Open files per process (RLIMIT_NOFILE)").tag(config=True)
    output_bytes_per_cell = Integer(2 * MiB, help="Largest single output (images included); bigger ones are "
                                                  "replaced by a note").tag(config=True)
    output_bytes_total = Integer(64 * MiB, help="All that may come back from one notebook").tag(config=True)
    threads = Integer(0, help="CPU threads of each kernel (BLAS, OpenMP, torch); 0: cores / jobs").tag(config=True)
    jobs = Integer(1, help="Submissions graded at once on this machine (sets the default thread budget)").tag(config=True)
    wall_margin = Integer(120, help="Seconds past the notebook limit after which the sandbox is killed").tag(config=True)
    data_root = Unicode("", help="Dataset folder, read-only inside (default: $NNCOURSE_DATA)").tag(config=True)
    submission_files = Dict(
        {}, help="Files other than notebooks that students hand in, per assignment "
                 "({'06_cnn_cifar10': ['cnn_weights.pt']}); nothing else enters the sandbox").tag(config=True)
    submission_file_bytes = Integer(50 * MiB, help="Largest handed-in file").tag(config=True)
    extra_ro_paths = List(Unicode(), [], help="More host paths to show read-only inside (bwrap)").tag(config=True)

    # -- the mode ---------------------------------------------------------------------------------
    def resolved_mode(self) -> str:
        mode = self.mode if self.mode != "auto" else ("bwrap" if bwrap_works() else
                                                       "seccomp" if seccomp_works() else "")
        if not mode or (mode == "bwrap" and not bwrap_works()) or (mode == "seccomp" and not seccomp_works()):
            raise SandboxUnavailable(
                "no sandbox works on this machine (bubblewrap: install Debian's `bubblewrap` and allow user "
                "namespaces; seccomp: `pip install pyseccomp`). Grading without one lets student code read the "
                "gradebook and the solutions: pass --unsafe-no-sandbox only if you accept that.")
        return mode

    def thread_budget(self) -> int:
        return self.threads or max(1, (os.cpu_count() or 1) // max(1, self.jobs))

    # -- one run ----------------------------------------------------------------------------------
    def run(self, notebook: Path, files: dict, execution: dict, plans: dict | None = None) -> "Run":
        """Execute ``notebook`` (with the handed-in ``files``) in a fresh sandbox; return what
        came back, untrusted. ``execution`` holds the client settings (kernel, timeouts);
        ``plans`` (file name -> bytes) the probe plans of the hidden checks, read-only inside.
        Nothing of the instructor side enters: the checks stay in the grader (probe and
        verdict), and only the student package ``nncourse`` is on the kernel's path."""
        mode = self.resolved_mode()
        scratch = new_scratch()
        try:
            ro = scratch / "ro"
            (ro / "input" / "files").mkdir(parents=True)
            shutil.copyfile(notebook, ro / "input" / "notebook.ipynb")
            for name, path in files.items():
                shutil.copyfile(path, ro / "input" / "files" / name)
            shutil.copytree(RUNNER, ro / "runner" / "autograder_runner",
                            ignore=shutil.ignore_patterns("__pycache__"))
            (ro / "input" / "plans").mkdir()
            for name, data in (plans or {}).items():
                (ro / "input" / "plans" / name).write_bytes(data)
            shutil.copytree(STUDENT_PACKAGE, ro / "lib" / "nncourse", ignore=shutil.ignore_patterns("__pycache__"))
            inside = Path("/grading") if mode == "bwrap" else ro
            home = Path(INSIDE_HOME) if mode == "bwrap" else scratch / "home"
            settings = {**execution, "notebook": str(inside / "input" / "notebook.ipynb"),
                        "files": str(inside / "input" / "files"), "workdir": str(home / "submission"),
                        "kernel_pythonpath": str(inside / "lib"), "max_output_bytes": self.output_bytes_per_cell,
                        "rlimits": self.rlimits(), "confine": mode == "seccomp",
                        "ipc_path": str(scratch / "tmp" / "kernel") if mode != "bwrap" else "",
                        "matplotlib_cache": str(inside / "mplcache") if matplotlib_cache() else ""}
            if matplotlib_cache():
                shutil.copytree(matplotlib_cache(), ro / "mplcache")
            (ro / "settings.json").write_text(json.dumps(settings))
            env = self.environment(inside, home, mode, scratch)
            env[PLAN_DIR_ENV] = str(inside / "input" / "plans")
            if mode == "bwrap":
                argv = self.bwrap_argv(ro, env) + [sys.executable, "-m", "autograder_runner", "/grading/settings.json"]
                env, cwd = None, "/"
            else:
                for d in ("home", "tmp"):
                    (scratch / d).mkdir(mode=0o700)
                argv = [sys.executable, "-m", "autograder_runner", str(ro / "settings.json")]
                cwd = scratch / "home"
            deadline = execution["notebook_timeout"] + self.wall_margin
            return self.launch(argv, env, cwd, deadline, scratch, mode)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def rlimits(self) -> dict:
        limits = {"DATA": self.memory_bytes, "FSIZE": self.file_size_bytes, "NOFILE": self.open_files, "CORE": 0}
        if os.geteuid() != 0:  # RLIMIT_NPROC never binds root: the cgroup does it then
            limits["NPROC"] = self.processes
        return limits

    def environment(self, inside: Path, home: Path, mode: str, scratch: Path) -> dict:
        threads = str(self.thread_budget())
        env = {"HOME": str(home), "USER": "student", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
               "TMPDIR": "/tmp" if mode == "bwrap" else str(scratch / "tmp"),
               "MPLCONFIGDIR": str(home / ".config" / "matplotlib"),
               "PYTHONPATH": str(inside / "runner"), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
               "JUPYTER_PLATFORM_DIRS": "1", "NBGRADER_EXECUTION": "autograde", "NNCOURSE_GRADING": "1",
               **{v: threads for v in THREAD_VARS}}
        data = self.data_root or os.environ.get("NNCOURSE_DATA", "")
        if data and Path(data).is_dir():
            env["NNCOURSE_DATA"] = "/data" if mode == "bwrap" else str(Path(data).resolve())
        env.update({k: os.environ[k] for k in PASSED_THROUGH if k in os.environ})
        return env

    def bwrap_argv(self, ro: Path, env: dict) -> list:
        argv = ["bwrap", "--unshare-all", "--unshare-user", "--uid", "1000", "--gid", "1000",
                "--hostname", "grader", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
                "--ro-bind", "/usr", "/usr"]
        for top in ("bin", "lib", "lib64", "lib32", "sbin"):
            p = Path("/" + top)
            if p.is_symlink():
                argv += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                argv += ["--ro-bind", str(p), str(p)]
        for name in ETC_FILES:
            argv += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        argv += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu",
                 "--proc", "/proc", "--dev", "/dev",
                 "--size", str(self.tmp_bytes), "--tmpfs", "/tmp",
                 "--size", str(self.tmp_bytes), "--tmpfs", "/dev/shm",
                 "--size", str(self.home_bytes), "--tmpfs", INSIDE_HOME]
        # Binds after the tmpfs mounts: a checkout (and its .venv) may live under /tmp.
        for path in python_paths() + list(self.extra_ro_paths):
            argv += ["--ro-bind", path, path]
        data = self.data_root or os.environ.get("NNCOURSE_DATA", "")
        if data and Path(data).is_dir():
            argv += ["--ro-bind", str(Path(data).resolve()), "/data"]
        argv += ["--ro-bind", str(ro), "/grading", "--chdir", INSIDE_HOME, "--clearenv"]
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return argv + ["--"]

    def launch(self, argv, env, cwd, deadline: float, scratch: Path, mode: str) -> "Run":
        run = Run(mode=mode)
        group = ControlGroup.create(scratch.name, self.memory_bytes, self.processes)
        if group:  # join the cgroup before anything else starts
            argv = ["/bin/sh", "-c", 'echo $$ > "$1" && echo $$ > "$2" && shift 2 && exec "$@"', "sh",
                    *group.procs_files()] + argv
        started = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=cwd, start_new_session=True)
        reader = threading.Thread(target=run.read_protocol, args=(proc.stdout, self.output_bytes_total), daemon=True)
        errors = threading.Thread(target=run.read_stderr, args=(proc.stderr,), daemon=True)
        reader.start()
        errors.start()
        timer = threading.Timer(deadline, run.kill, args=(proc, "the sandbox outlived the notebook time limit"))
        timer.start()
        if group:
            threading.Thread(target=run.watch_tasks, args=(group,), daemon=True).start()
        try:  # the only place that reaps the sandbox (other threads never poll it)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        finally:
            run.ended.set()
            timer.cancel()
            try:  # what the runner left in its process group (the fallback modes have no PID namespace)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            reader.join(10)
            errors.join(10)
            if group:
                run.peak_memory_mb = group.peak_mb()
                group.remove()
        run.seconds = round(time.monotonic() - started, 2)
        run.peak_memory_mb = run.peak_memory_mb or round(usage.ru_maxrss / 1024, 1)
        run.returncode = proc.returncode
        return run


@dataclass
class Run:
    """What came back from one sandbox: cell outputs (untrusted), timeouts, problems."""
    mode: str
    cells: dict = field(default_factory=dict)      # cell index -> {"outputs", "execution_count"}
    timeouts: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    finished: bool = False
    killed: str | None = None
    stderr_tail: str = ""
    seconds: float = 0.0
    peak_memory_mb: float = 0.0
    peak_tasks: int = 0                             # processes and threads at once (when a cgroup is used)
    returncode: int | None = None

    ended: threading.Event = field(default_factory=threading.Event)

    def watch_tasks(self, group) -> None:
        while not self.ended.wait(0.25):
            self.peak_tasks = max(self.peak_tasks, group.tasks())

    def read_protocol(self, stream, cap: int) -> None:
        total = 0
        for raw in stream:
            total += len(raw)
            if total > cap:
                self.problems.append(f"more than {cap // MiB} MiB came back; the rest was dropped")
                break
            try:
                line = json.loads(raw)
            except ValueError:
                self.problems.append("a line of the runner's output was not JSON")
                continue
            if not isinstance(line, dict):
                continue
            if line.get(protocol.DONE) is True:
                self.finished = True
                self.timeouts = [t for t in line.get(protocol.TIMEOUTS, []) if isinstance(t, dict)][:1000]
                self.problems += [str(p)[:500] for p in line.get(protocol.PROBLEMS, []) if isinstance(p, str)][:100]
            elif isinstance(line.get(protocol.CELL), int) and isinstance(line.get("outputs"), list):
                self.cells[line[protocol.CELL]] = line
        for _ in stream:  # keep draining so the runner never blocks on a full pipe
            pass

    def read_stderr(self, stream) -> None:
        tail = b""
        for chunk in iter(lambda: stream.read(65536), b""):
            tail = (tail + chunk)[-4000:]
        self.stderr_tail = tail.decode(errors="replace")

    def kill(self, proc, reason: str) -> None:
        """The wall-clock backstop: kill the sandbox (bwrap's --die-with-parent and the PID
        namespace take everything in it along)."""
        if self.ended.is_set():
            return
        self.killed = self.killed or reason
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def why_unfinished(self) -> str:
        """One line for the instructor: why the runner did not report its end."""
        if self.killed:
            return self.killed
        last = [ln for ln in self.stderr_tail.splitlines() if ln.strip()]
        detail = f" ({last[-1][:200]})" if last else ""
        if self.returncode is not None and self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            return f"the grading sandbox was killed by {name} (out of memory, or the submission's code killed it){detail}"
        return f"the grading sandbox stopped early (exit status {self.returncode}){detail}"


class ControlGroup:
    """A cgroup (v2, or v1 memory + pids) capping the whole sandbox, when we may make one."""

    def __init__(self, dirs: dict):
        self.dirs = dirs  # controller -> folder

    @classmethod
    def create(cls, name: str, memory: int, processes: int) -> "ControlGroup | None":
        if os.geteuid() != 0:
            return None
        try:
            dirs = cls._make_dirs(name)
            if not dirs:
                return None
            group = cls(dirs)
            group._write("memory", ("memory.max", "memory.limit_in_bytes"), str(memory))
            group._write("memory", ("memory.swap.max", "memory.memsw.limit_in_bytes"), "0" if "v2" in dirs else str(memory))
            group._write("pids", ("pids.max",), str(processes))
            return group
        except OSError:
            return None

    @staticmethod
    def _make_dirs(name: str) -> dict:
        root = Path("/sys/fs/cgroup")
        if (root / "cgroup.controllers").exists():  # unified hierarchy
            own = Path(Path("/proc/self/cgroup").read_text().strip().split("::", 1)[-1].lstrip("/"))
            parent = root / own
            wanted = {"memory", "pids"}
            if not wanted <= set((parent / "cgroup.controllers").read_text().split()):
                return {}
            d = parent / f"{SCRATCH_PREFIX}{name}"
            d.mkdir()
            return {"v2": d, "memory": d, "pids": d}
        dirs = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in ("memory", "pids"):
                if c in controllers.split(",") and (root / c).is_dir():
                    d = root / c / path.lstrip("/") / f"{SCRATCH_PREFIX}{name}"
                    d.mkdir()
                    dirs[c] = d
        return dirs if set(dirs) == {"memory", "pids"} else {}

    def _write(self, controller, names, value):
        for n in names:
            f = self.dirs[controller] / n
            if f.exists():
                f.write_text(value)
                return

    def procs_files(self) -> list[str]:
        return [str(self.dirs[c] / "cgroup.procs") for c in ("memory", "pids")]

    def tasks(self) -> int:
        try:
            return int((self.dirs["pids"] / "pids.current").read_text())
        except (OSError, ValueError):
            return 0

    def peak_mb(self) -> float:
        for n in ("memory.peak", "memory.max_usage_in_bytes"):
            f = self.dirs["memory"] / n
            if f.exists():
                try:
                    return round(int(f.read_text()) / MiB, 1)
                except (OSError, ValueError):
                    pass
        return 0.0

    def remove(self) -> None:
        """Kill whatever is still in the group (a daemon that left the process group), then remove it."""
        for d in set(self.dirs.values()):
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for d in set(self.dirs.values()):
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)


# -- the machine --------------------------------------------------------------------------------
def scratch_root() -> Path:
    root = Path(tempfile.gettempdir()) / f"{SCRATCH_PREFIX}{os.geteuid()}"
    root.mkdir(mode=0o700, exist_ok=True)
    return root


def new_scratch() -> Path:
    d = scratch_root() / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    d.mkdir(mode=0o700)
    return d


def clean_stale_scratch() -> list[Path]:
    """Remove the scratch folders (and cgroups) left by graders that were killed."""
    removed = []
    for d in scratch_root().iterdir():
        pid = d.name.split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    for base in (Path("/sys/fs/cgroup"),):
        for stale in base.glob(f"**/{SCRATCH_PREFIX}*") if os.geteuid() == 0 else []:
            pid = stale.name[len(SCRATCH_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                try:
                    stale.rmdir()
                except OSError:
                    pass
    return removed


def python_paths() -> list[str]:
    """Read-only paths the kernel needs: this Python and its environment. (The student package
    is copied next to the hidden checks, so an editable install never exposes the repository.)"""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(os.path.realpath(sys.executable)).parent.parent)}
    paths = {p for p in paths if not p.startswith("/usr/") and p != "/usr"}
    return sorted(p for p in paths if not any(p != q and p.startswith(q + os.sep) for q in paths))


@lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether bubblewrap can make the namespaces we need here (a real start, not a guess)."""
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--unshare-all", "--unshare-user", "--die-with-parent", "--cap-drop", "ALL",
             "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@lru_cache(maxsize=1)
def seccomp_works() -> bool:
    code = "import autograder_runner.confine as c; c.install_filter()"
    try:
        import pyseccomp  # noqa: F401  (the filter itself is tried in a child process below)
    except ImportError:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(RUNNER, Path(tmp) / "autograder_runner", ignore=shutil.ignore_patterns("__pycache__"))
        try:
            return subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": tmp}, capture_output=True, timeout=30).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


@lru_cache(maxsize=1)
def matplotlib_cache() -> Path | None:
    """matplotlib's font cache, built once on the host, so that no kernel rebuilds it."""
    cache = Path(os.environ.get("NNCOURSE_CACHE") or Path.home() / ".cache" / "nncourse") / "matplotlib"
    if not any(cache.glob("fontlist-*.json")):
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-c", "import matplotlib.font_manager"],
                       env={**os.environ, "MPLCONFIGDIR": str(cache)}, capture_output=True, timeout=120)
    return cache if any(cache.glob("fontlist-*.json")) else None


def describe(sandbox: Sandbox) -> str:
    """One line for the instructor: the mode and its caps."""
    mode = sandbox.resolved_mode()
    what = {"bwrap": "bubblewrap namespaces (no network, private filesystem view)",
            "seccomp": "fallback: rlimits + seccomp, no namespaces (weaker: see the README)",
            "none": "NO SANDBOX (--unsafe-no-sandbox): student code can reach this machine"}[mode]
    return (f"sandbox: {what}; memory {sandbox.memory_bytes // GiB} GiB, {sandbox.processes} processes, "
            f"{sandbox.thread_budget()} CPU thread(s) per kernel")
