"""Build Moodle "Download all submissions" archives and grading worksheets for the tests
(no binary fixture is committed). Layouts as in ``autograder/moodle_import.py``."""

from __future__ import annotations

import csv
import io
import stat
import zipfile
from pathlib import Path

LAYOUTS = ("folders", "folders_", "flat")
WORKSHEET_EN = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                "Feedback comments"]
WORKSHEET_FR = ["Identifiant", "Nom complet", "Adresse de courriel", "Statut", "Note", "Note maximale",
                "La note peut être modifiée", "Dernière modification (travail remis)",
                "Dernière modification (note)", "Commentaires de feedback"]


def entry(full_name: str, pid: int, filename: str, layout: str = "folders", plugin: str = "file") -> str:
    """The archive path Moodle gives one file of one student."""
    prefix = f"{full_name}_{pid}_assignsubmission_{plugin}"
    if layout == "folders":
        return f"{prefix}/{filename}"
    if layout == "folders_":
        return f"{prefix}_/{filename}"
    return f"{prefix}_{filename}"


def zip_bytes(members: dict) -> bytes:
    """A zip (in memory) of {name: bytes}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def write_zip(path: Path, members: dict, symlinks: dict | None = None) -> Path:
    """Write a zip of {name: bytes} (non-ASCII names get the UTF-8 flag, as Moodle writes
    them); ``symlinks`` {name: target} become symbolic-link entries."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def write_unflagged(path: Path, members: dict, encoding: str) -> Path:
    """A zip whose names are stored as ``encoding`` bytes WITHOUT the UTF-8 flag: "utf-8"
    as macOS / Info-ZIP do, "cp437" as old Windows zippers do. Python would set the flag,
    so ASCII placeholders of the same length are written, then replaced byte for byte."""
    raw = {name.encode(encoding): data for name, data in members.items()}
    placeholders = {f"~{i}".rjust(len(r), "~"): r for i, r in enumerate(raw)}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for ph, r in placeholders.items():
            zf.writestr(ph, raw[r])
    data = buf.getvalue()
    for ph, r in placeholders.items():
        assert data.count(ph.encode()) == 2, "placeholder must appear in the local and central headers only"
        data = data.replace(ph.encode(), r)
    path.write_bytes(data)
    return path


def write_worksheet(path: Path, rows: list[dict], french: bool = False) -> Path:
    """A grading worksheet as Moodle writes it (rows: pid, name, email, maxgrade)."""
    header = WORKSHEET_FR if french else WORKSHEET_EN
    dec = "," if french else "."
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            ident = ("Participant " if not french else "Participant ") + str(r["pid"])
            maxgrade = f"{r.get('max', 20):.2f}".replace(".", dec)
            w.writerow([ident, r["name"], r["email"], "Remis pour évaluation" if french else "Submitted for grading",
                        "", maxgrade, "Oui" if french else "Yes", "lundi 30 novembre 2026, 10:00",
                        "-", ""])
    return path
