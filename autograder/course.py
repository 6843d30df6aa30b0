"""Where things are: the repository's assignments and nbgrader course folders."""

from __future__ import annotations

import copy
import os
import re
import shutil
import sys
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "source"
RELEASE = REPO / "release"
CONFIG_FILE = REPO / "nbgrader_config.py"
DB_BUSY_TIMEOUT = 300  # seconds a gradebook writer waits for another one

# nbgrader runs helper programs (alembic) found on PATH: make this environment's own win.
_BIN = str(Path(sys.executable).parent)
if _BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _BIN + os.pathsep + os.environ.get("PATH", "")


def assignments() -> list[str]:
    """Assignment ids, in course order (the folders of ``source/``)."""
    return sorted(p.name for p in SOURCE.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def notebook_names(assignment: str, root: Path = REPO) -> list[str]:
    """Notebook names (without .ipynb) of an assignment, from its source folder."""
    return sorted(p.stem for p in (root / "source" / assignment).glob("*.ipynb"))


def load_config(**overrides) -> Config:
    """The repository's nbgrader_config.py, plus ``Section={key: value}`` overrides."""
    cfg = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    for section, values in overrides.items():
        for key, value in values.items():
            setattr(cfg[section], key, value)
    return cfg


def with_jobs(config: Config, jobs: int) -> Config:
    """A copy of ``config`` for grading ``jobs`` submissions at once (the cores are shared)."""
    config = copy.deepcopy(config)
    config.Sandbox.jobs = jobs
    return config


def db_url(db: Path) -> str:
    """SQLAlchemy URL of a gradebook file. Parallel graders share one SQLite gradebook:
    a writer waits for the lock (up to DB_BUSY_TIMEOUT) instead of failing."""
    return f"sqlite:///{db.resolve()}?timeout={DB_BUSY_TIMEOUT}"


def api(root: Path, db: Path | None = None, config: Config | None = None, **coursedir) -> NbGraderAPI:
    """An nbgrader API on the course root ``root`` (gradebook ``db``, default root/gradebook.db)."""
    cfg = Config(config or load_config())
    cfg.CourseDirectory.root = str(root)
    cfg.CourseDirectory.db_url = db_url(db or root / "gradebook.db")
    cfg.Exchange.root = str(root / "exchange")  # unused here; keeps nbgrader from probing /usr/local
    for key, value in coursedir.items():
        setattr(cfg.CourseDirectory, key, value)
    return NbGraderAPI(config=cfg)


def copy_sources(dest_root: Path, names: list[str] | None = None) -> None:
    """Copy ``source/<assignment>`` folders into a course root (replacing older copies)."""
    for a in names or assignments():
        dest = dest_root / "source" / a
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(SOURCE / a, dest, ignore=shutil.ignore_patterns(
            ".ipynb_checkpoints", "__pycache__", "*.pt"))


_EXCEPTION = re.compile(r"^(\[ERROR\] )?[A-Za-z_][\w.]*(Error|Exception|Entry|Exit|Unavailable|Warning)\b:?")
_NO_CAUSE = ("above traceback", "NbGraderException", "Traceback (most recent call last)")


def nbgrader_causes(result: dict, limit: int = 8) -> list[str]:
    """Why an nbgrader API call failed, from its result: the exceptions and ``[ERROR]`` lines
    of its log, in order, without nbgrader's own summary ("Please see the above traceback",
    which the API does not show) nor tracebacks' frames."""
    text = (result.get("log") or "") + "\n" + (result.get("error") or "")
    causes = []
    for line in (ln.strip() for ln in text.splitlines()):
        if not (line.startswith("[ERROR]") or _EXCEPTION.match(line)) or any(x in line for x in _NO_CAUSE):
            continue
        line = line.removeprefix("[ERROR]").strip()
        if line and line not in causes:
            causes.append(line[:500])
    if not causes:  # nothing recognisable: the last lines say the most
        causes = [ln.strip() for ln in text.splitlines() if ln.strip() and not any(x in ln for x in _NO_CAUSE)][-3:]
    return causes[-limit:] or ["nbgrader gave no reason"]


class NbgraderFailed(RuntimeError):
    """An nbgrader step failed; ``causes`` are nbgrader's own error lines."""

    def __init__(self, step: str, result: dict):
        self.step, self.causes = step, nbgrader_causes(result)
        super().__init__(f"{step} failed:\n" + "\n".join(f"  {c}" for c in self.causes))


def generate(root: Path, names: list[str] | None = None) -> None:
    """``nbgrader generate_assignment --force`` for each assignment (release + gradebook)."""
    nb = api(root)
    for a in names or assignments():
        result = nb.generate_assignment(a, force=True, create=True)
        if not result["success"]:
            raise NbgraderFailed(f"nbgrader generate_assignment {a}", result)
