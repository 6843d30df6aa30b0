"""The student release: generated from source/ by nbgrader, committed, kept in sync."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import nbformat

from . import course


def normalized(path: Path) -> str:
    """A notebook's text with what nbgrader/Jupyter may vary removed (outputs, counts)."""
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nbformat.writes(nb)


def generate_into(dest: Path, names: list[str] | None = None) -> list[Path]:
    """Regenerate the release of ``names`` into ``dest/<assignment>/`` (from a scratch root)."""
    names = names or course.assignments()
    with tempfile.TemporaryDirectory(prefix="nncourse-release-") as tmp:
        root = Path(tmp)
        course.copy_sources(root, names)
        course.generate(root, names)
        written = []
        for a in names:
            target = dest / a
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / "release" / a, target)
            written += sorted(target.rglob("*.ipynb"))
    return written


def differences(names: list[str] | None = None) -> list[str]:
    """Files of release/ that differ from a fresh nbgrader release of source/."""
    names = names or course.assignments()
    with tempfile.TemporaryDirectory(prefix="nncourse-release-check-") as tmp:
        fresh = Path(tmp)
        generate_into(fresh, names)
        problems = []
        for a in names:
            new = {p.relative_to(fresh) for p in (fresh / a).rglob("*") if p.is_file()}
            old = {p.relative_to(course.RELEASE) for p in (course.RELEASE / a).rglob("*") if p.is_file()}
            problems += [f"missing from release/: {p}" for p in sorted(new - old)]
            problems += [f"not produced from source/: {p}" for p in sorted(old - new)]
            for p in sorted(new & old):
                same = (normalized(fresh / p) == normalized(course.RELEASE / p) if p.suffix == ".ipynb"
                        else (fresh / p).read_bytes() == (course.RELEASE / p).read_bytes())
                if not same:
                    problems.append(f"out of date: release/{p}")
    return problems
