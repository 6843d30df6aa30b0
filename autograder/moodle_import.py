"""Moodle's "Download all submissions" zip into ``workdir/submitted/``, as nbgrader collect would.

    python -m autograder import-moodle ZIP -a 01_moons_numpy [-w DIR] [--participants WORKSHEET.csv]

Moodle names each file of the archive after the student and the assignment's
*participant id* (the number of "Participant 12345" in the grading worksheet; it is
neither the user id nor the idnumber). Three layouts have been used:

    Full Name_12345_assignsubmission_file/notebook.ipynb      (Moodle >= 3.1, "with folders")
    Full Name_12345_assignsubmission_file_/notebook.ipynb     (older folder layout)
    Full Name_12345_assignsubmission_file_notebook.ipynb      (pre-3.1 flat layout)

A student's id here is ``p`` + participant id (``p12345``): stable for the assignment
(Moodle gives each participant of an assignment its own number), free of names, and the
same under blind marking, where the archive says "Participant" instead of the name. Team
submissions (group name + group id) are not handled. ``workdir/moodle_participants.csv``
maps it back to the full name, and to the email and idnumber when a worksheet or
participants CSV gave them (``--participants``).

Nothing is extracted blindly: members are read one at a time, capped in size and number,
written under names chosen here (never the archive's path), and every file that is not
taken is listed with its reason. Re-importing a newer archive replaces only the
submissions whose files changed (SHA-256 of each file).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import course

MAX_MEMBERS = 5000               # entries in the archive (and in a nested zip)
MAX_FILE_BYTES = 100 * 2**20     # one file, uncompressed
MAX_TOTAL_BYTES = 2 * 2**30      # everything taken from one archive
PARTICIPANTS_FILE = "moodle_participants.csv"
BLIND_NAME = "Participant"       # the name Moodle writes under blind marking: not a name
PARTICIPANT_FIELDS = ["student_id", "participant_id", "full_name", "email", "idnumber"]

_PREFIX = r"(?P<name>.*?)_(?P<pid>\d+)_assignsubmission_(?P<plugin>file|onlinetext|[a-z]+?)"
_FOLDER = re.compile(_PREFIX + r"_?$")            # first path component of the folder layouts
_FLAT = re.compile(_PREFIX + r"_(?P<file>.+)$")   # the pre-3.1 flat layout
_JUNK = ("__MACOSX", ".DS_Store", ".ipynb_checkpoints", "Thumbs.db", "desktop.ini")

# Worksheet / participants headers, English and French Moodle.
HEADERS = {
    "identifier": ("Identifier", "Identifiant"),
    "full_name": ("Full name", "Nom complet"),
    "email": ("Email address", "Adresse de courriel", "Adresse courriel", "Courriel"),
    "idnumber": ("ID number", "Numéro d'identification"),
}


def student_id(participant_id: str | int) -> str:
    return f"p{participant_id}"


@dataclass
class Upload:
    """One file a student handed in: where it was in the archive, and its bytes."""
    entry: str     # path in the archive (nested: outer.zip!inner/path)
    path: str      # path inside the student's submission
    data: bytes


@dataclass
class ImportResult:
    new: list = field(default_factory=list)          # student ids
    changed: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    refused: list = field(default_factory=list)      # (student id, reason): nothing written
    not_taken: list = field(default_factory=list)    # (archive entry, reason)
    taken: dict = field(default_factory=dict)        # student id -> {file name: archive entry}

    def summary(self) -> str:
        lines = [f"new: {len(self.new)}, changed: {len(self.changed)}, unchanged: {len(self.unchanged)}, "
                 f"refused: {len(self.refused)}, files not taken: {len(self.not_taken)}"]
        for label, ids in (("new", self.new), ("changed", self.changed), ("unchanged", self.unchanged)):
            if ids:
                lines.append(f"  {label}: {', '.join(ids)}")
        lines += [f"  REFUSED {s}: {reason}" for s, reason in self.refused]
        lines += [f"  not taken: {entry}: {reason}" for entry, reason in self.not_taken]
        return "\n".join(lines)


def entry_name(info: zipfile.ZipInfo) -> str:
    """The member's real name. zipfile decodes names as UTF-8 when the entry's UTF-8 flag
    (bit 11) is set and as cp437 otherwise; many zippers write UTF-8 without the flag, so
    an unflagged name that is valid UTF-8 is read as UTF-8."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _unsafe(name: str) -> str | None:
    """Why a member path must not be used, if it must not."""
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in re.split(r"[/\\]", name):
        return "path leaves the archive (..)"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes | None:
    """The member's bytes, or None when it is larger than MAX_FILE_BYTES (whatever its header says)."""
    if info.file_size > MAX_FILE_BYTES:
        return None
    with zf.open(info) as f:
        data = f.read(MAX_FILE_BYTES + 1)
    return None if len(data) > MAX_FILE_BYTES else data


def _members(zf: zipfile.ZipFile, prefix: str, not_taken: list):
    """(name, info) of the plain files of an archive that are safe to read; the rest go to not_taken."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        not_taken.append((prefix or "(archive)", f"{len(infos)} entries, more than {MAX_MEMBERS}: not read"))
        return
    for info in infos:
        name = entry_name(info).replace("\\", "/")  # Windows zippers
        where = prefix + name
        if info.is_dir():
            continue
        reason = _unsafe(name) or ("symbolic link" if _is_symlink(info) else None)
        if reason is None and any(part in _JUNK for part in PurePosixPath(name).parts):
            reason = "system file (not part of the work)"
        if reason:
            not_taken.append((where, reason))
            continue
        yield name, info


def _split(name: str):
    """(participant id, full name, plugin, path inside the submission) of a Moodle entry, or None."""
    first, _, rest = name.partition("/")
    m = _FOLDER.match(first) if rest else None
    if m:
        return m["pid"], m["name"], m["plugin"], rest
    m = _FLAT.match(name) if "/" not in name else None
    if m:
        return m["pid"], m["name"], m["plugin"], m["file"]
    return None


def _nested(data: bytes, where: str, not_taken: list) -> list:
    """The files of a zip a student uploaded (one level deep)."""
    try:
        inner = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        not_taken.append((where, "damaged zip file"))
        return []
    uploads = []
    with inner:
        for name, info in _members(inner, where + "!", not_taken):
            inner_data = _read_capped(inner, info)
            if inner_data is None:
                not_taken.append((f"{where}!{name}", f"larger than {MAX_FILE_BYTES // 2**20} MB"))
            else:
                uploads.append(Upload(f"{where}!{name}", name, inner_data))
    return uploads


def read_archive(path: Path, result: ImportResult) -> tuple[dict, dict]:
    """participant id -> [Upload], participant id -> full name, from a Moodle archive."""
    uploads, names, total = {}, {}, 0
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        result.not_taken.append((str(path), f"not a readable zip file ({exc})"))
        return uploads, names
    with zf:
        for name, info in _members(zf, "", result.not_taken):
            parts = _split(name)
            if parts is None:
                result.not_taken.append((name, "not named like a Moodle submission file"))
                continue
            pid, full_name, plugin, inner = parts
            names[pid] = full_name
            if plugin != "file":
                result.not_taken.append((name, f"{plugin} submission (only uploaded files are graded)"))
                continue
            data = _read_capped(zf, info)
            if data is None:
                result.not_taken.append((name, f"larger than {MAX_FILE_BYTES // 2**20} MB"))
                continue
            found = (_nested(data, name, result.not_taken) if inner.lower().endswith(".zip")
                     else [Upload(name, inner, data)])
            total += sum(len(u.data) for u in found)
            if total > MAX_TOTAL_BYTES:
                result.not_taken.append((name, f"over {MAX_TOTAL_BYTES // 2**30} GB in all: the rest is not read"))
                break
            uploads.setdefault(pid, []).extend(found)
    return uploads, names


def expected_notebooks(workdir: Path, assignment: str) -> list[str]:
    """Notebook file names of the assignment: the course folder's release, else the repository's source."""
    for folder in (workdir / "release" / assignment, course.SOURCE / assignment):
        found = sorted(p.name for p in folder.glob("*.ipynb"))
        if found:
            return found
    return []


def _choose_notebooks(notebooks: list[Upload], expected: list[str]):
    """{expected name: upload} or a reason to refuse the submission."""
    if not notebooks:
        return "no notebook (.ipynb) in the submission"
    chosen = {}
    for name in expected:
        exact = [u for u in notebooks if PurePosixPath(u.path).name == name]
        if len(exact) == 1:
            chosen[name] = exact[0]
        elif len(exact) > 1:
            return f"{len(exact)} notebooks named {name}: " + ", ".join(u.path for u in exact)
    missing = [n for n in expected if n not in chosen]
    others = [u for u in notebooks if u not in chosen.values()]
    if len(missing) == 1 and len(others) == 1:
        chosen[missing[0]] = others[0]        # the notebook under another name: renamed
    elif missing:
        return (f"{len(notebooks)} notebooks, none named {', '.join(missing)}: "
                + ", ".join(u.path for u in notebooks))
    return chosen


def select_files(uploads: list[Upload], expected: list[str], not_taken: list):
    """{file name in the submission folder: upload}, or a reason to refuse the submission."""
    usable = []
    for u in uploads:
        if not u.data:
            not_taken.append((u.entry, "empty file"))
        else:
            usable.append(u)
    notebooks = [u for u in usable if u.path.lower().endswith(".ipynb")]
    chosen = _choose_notebooks(notebooks, expected)
    if isinstance(chosen, str):
        not_taken += [(u.entry, "submission refused (see above)") for u in usable]
        return chosen
    files = dict(chosen)
    for u in usable:
        base = PurePosixPath(u.path).name
        if u in chosen.values():
            continue
        if u in notebooks:
            not_taken.append((u.entry, f"another notebook; {', '.join(expected)} taken instead"))
        elif base.startswith("."):
            not_taken.append((u.entry, "hidden file"))
        elif base in files:
            not_taken.append((u.entry, f"a second file named {base}"))
        else:
            files[base] = u
    return files


def _digests(files: dict) -> dict:
    return {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}


def _folder_digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def store(dest: Path, files: dict) -> str:
    """Write a submission folder unless it already holds exactly these files: new / changed / unchanged."""
    if dest.exists():
        if _folder_digests(dest) == _digests(files):
            return "unchanged"
        state = "changed"
    else:
        state = "new"
    dest.parent.mkdir(parents=True, exist_ok=True)
    workdir = dest.parents[2]  # workdir/submitted/<student>/<assignment>: a leftover is no submission
    tmp = Path(tempfile.mkdtemp(prefix=".moodle-import-", dir=workdir))
    for name, data in files.items():
        (tmp / name).write_bytes(data)
    if dest.exists():
        shutil.rmtree(dest)
    tmp.rename(dest)
    return state


def _column(header: list[str], key: str) -> str | None:
    wanted = {h.casefold() for h in HEADERS[key]}
    return next((h for h in header if h.strip().lstrip("\ufeff").casefold() in wanted), None)


def read_participants_csv(path: Path) -> dict:
    """participant id -> {full_name, email, idnumber} from a grading worksheet or participants CSV
    (English or French headers; "Participant 12345" identifiers)."""
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        cols = {k: _column(header, k) for k in HEADERS}
        if cols["identifier"] is None:
            raise ValueError(f"{path}: no 'Identifier' / 'Identifiant' column")
        found = {}
        for row in reader:
            m = re.search(r"(\d+)\s*$", row.get(cols["identifier"]) or "")
            if m:
                found[m.group(1)] = {k: (row.get(c) or "").strip() for k, c in cols.items()
                                     if c and k != "identifier"}
    return found


def load_participants(workdir: Path) -> dict:
    """student id -> row of ``moodle_participants.csv``."""
    path = workdir / PARTICIPANTS_FILE
    if not path.exists():
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def save_participants(workdir: Path, names: dict, extra: dict | None = None) -> Path:
    """Merge participant ids and names (and email / idnumber when known) into the mapping file."""
    rows = load_participants(workdir)
    for pid in set(names) | set(extra or {}):
        sid = student_id(pid)
        row = rows.setdefault(sid, {k: "" for k in PARTICIPANT_FIELDS})
        row.update(student_id=sid, participant_id=pid)
        if names.get(pid) and names[pid] != BLIND_NAME:
            row["full_name"] = names[pid]
        for key, value in (extra or {}).get(pid, {}).items():
            if value:
                row[key] = value
    path = workdir / PARTICIPANTS_FILE
    workdir.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=PARTICIPANT_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(sorted(rows.values(), key=lambda r: int(r["participant_id"] or 0)))
    return path


def import_archive(archive: Path, assignment: str, workdir: Path, participants: Path | None = None) -> ImportResult:
    """Import one assignment's "Download all submissions" zip into ``workdir/submitted``."""
    result = ImportResult()
    expected = expected_notebooks(workdir, assignment)
    if not expected:
        result.refused.append(("(all)", f"unknown assignment {assignment}: no notebook in release/ or source/"))
        return result
    uploads, names = read_archive(archive, result)
    for pid in sorted(uploads, key=int):
        sid = student_id(pid)
        files = select_files(uploads[pid], expected, result.not_taken)
        if isinstance(files, str):
            result.refused.append((sid, files))
            continue
        state = store(workdir / "submitted" / sid / assignment, {n: u.data for n, u in files.items()})
        getattr(result, state).append(sid)
        result.taken[sid] = {n: u.entry for n, u in files.items()}
    for pid in sorted(set(names) - set(uploads), key=int):
        result.refused.append((student_id(pid), "no uploaded file"))
    extra = read_participants_csv(participants) if participants else None
    save_participants(workdir, names, extra)
    return result
