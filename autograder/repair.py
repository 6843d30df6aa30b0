"""Damaged but gradable submissions: read them safely, repair them, say what was done.

``repair_submission`` turns a submitted folder into notebooks ready for nbgrader and a
list of checked extra files, with warnings (English, for the instructor) saying what
was repaired, or an error saying why the submission cannot be graded at all.

Reading is defensive: at most ``Limits.max_entries`` folder entries are scanned, a
symbolic link is never followed (nor read through), and no file is read past its size
cap. Repairs:

- a stray non-UTF-8 byte is replaced (U+FFFD);
- a lone notebook under another name (``moons_numpy (1).ipynb``) is taken;
- nbgrader metadata that was stripped or altered is restored from the release, cells
  being matched by cell id, then by the position of the unchanged (given, locked) cells
  and by source similarity for the answer cells;
- cells that claim a grade_id unknown to the release, or a grade_id already used
  earlier in the notebook, lose their nbgrader metadata (nbgrader ignores them);
- cells of the release that cannot be found (deleted) are put back from the release,
  after the cell that precedes them in the release.

The repaired notebooks pass nbformat's validation and nbgrader's CheckCellMetadata.
"""

from __future__ import annotations

import copy
import difflib
import os
import stat
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import CheckCellMetadata

MB = 1_000_000
# Written by nbgrader submit/collect: the submission time (late penalties) and the secret that
# `nbgrader release_feedback` names the feedback by (the student fetches it with the same secret).
NBGRADER_FILES = {"timestamp.txt": 1000, "submission_secret.txt": 1000}
IGNORED_NAMES = {"__pycache__", ".ipynb_checkpoints"}


@dataclass
class Limits:
    """Caps on what is read from one submission."""
    notebook_bytes: int = 50 * MB   # a bigger notebook is refused
    max_entries: int = 200          # folder entries scanned (recursively) before giving up


@dataclass
class Repaired:
    """A submission ready to grade (``error`` is None) or a reason why it cannot be."""
    notebooks: dict = field(default_factory=dict)   # name (no .ipynb) -> NotebookNode
    files: dict = field(default_factory=dict)       # declared file name -> Path (checked)
    warnings: list = field(default_factory=list)
    notes: list = field(default_factory=list)       # worth saying, nothing to look at (no warning)
    error: str | None = None


class Refused(Exception):
    """A file that is not read, with the reason."""


# ---------------------------------------------------------------- reading safely

@dataclass
class Entry:
    path: Path
    rel: str     # path relative to the submission folder, with /
    size: int


def _listing(directory: Path, limit: int, wanted: set) -> list:
    """At most ``limit`` entries of ``directory``, the ``wanted`` names and notebooks first."""
    with os.scandir(directory) as it:
        entries = [e for _, e in zip(range(limit), it)]
    return sorted(entries, key=lambda e: (e.name not in wanted and not e.name.endswith(".ipynb"), e.name))


def scan(folder: Path, max_entries: int, wanted: set = frozenset()) -> tuple[dict, list]:
    """Regular files under ``folder`` (rel path -> Entry) and warnings.

    Guarantees: no symbolic link is followed (a link is reported and skipped), at most
    ``max_entries`` entries are looked at, top-level notebooks and ``wanted`` names
    first (then scanning stops, with a warning); hidden entries and caches are skipped.
    """
    files, warnings, seen = {}, [], 0
    todo = [(folder, "")]
    while todo:
        directory, prefix = todo.pop(0)
        try:
            listing = _listing(directory, 50 * max_entries, wanted if not prefix else set())
        except OSError as exc:
            warnings.append(f"{prefix or 'the submission folder'} cannot be read ({exc.strerror}): refused")
            continue
        for entry in listing:
            if entry.name.startswith(".") or entry.name in IGNORED_NAMES:
                continue
            seen += 1
            if seen > max_entries:
                warnings.append(f"more than {max_entries} files or folders in the submission: "
                                f"only the first {max_entries} were looked at")
                return files, warnings
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                warnings.append(f"{rel} is a symbolic link: refused")
            elif stat.S_ISDIR(st.st_mode):
                todo.append((Path(entry.path), rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                files[rel] = Entry(Path(entry.path), rel, st.st_size)
            else:
                warnings.append(f"{rel} is not a regular file: refused")
    return files, warnings


def _open_nofollow(path: Path) -> int:
    """A descriptor on ``path`` if it is a regular file and not a symbolic link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if os.path.islink(path):
            raise Refused(f"{path.name} is a symbolic link: refused") from None
        raise Refused(f"{path.name} cannot be read ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise Refused(f"{path.name} is not a regular file: refused")
    return fd


def read_capped(path: Path, cap: int) -> bytes:
    """The bytes of ``path``; raises Refused for a link, a non-file or more than ``cap`` bytes."""
    fd = _open_nofollow(path)
    with os.fdopen(fd, "rb") as f:
        data = f.read(cap + 1)
    if len(data) > cap:
        raise Refused(f"{path.name} is over the {cap // MB} MB limit: refused")
    return data


def copy_capped(src: Path, dest: Path, cap: int) -> None:
    """Copy ``src`` to ``dest`` without following a link and without copying more than
    ``cap`` bytes (raises Refused). Use it to copy ``Repaired.files``: the file may have
    changed since it was checked."""
    fd = _open_nofollow(src)
    copied = 0
    with os.fdopen(fd, "rb") as f, open(dest, "wb") as out:
        while chunk := f.read(1 << 20):
            copied += len(chunk)
            if copied > cap:
                out.close()
                dest.unlink()
                raise Refused(f"{src.name} is over its {cap / MB:g} MB limit: refused")
            out.write(chunk)


def decode(data: bytes, name: str, warnings: list) -> str:
    """UTF-8 text; bytes that are not UTF-8 become U+FFFD, with a warning."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", errors="replace")
        warnings.append(f"{name}: {text.count(chr(0xFFFD))} byte(s) that are not UTF-8 "
                        "replaced by U+FFFD")
    return text.removeprefix("\ufeff")


def parse(text: str, name: str) -> NotebookNode:
    """A v4 notebook; raises ValueError with this project's wording for the instructor."""
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.reader.NotJSONError:
        raise ValueError(f"{name} is not valid JSON (damaged or truncated file)") from None
    except Exception as exc:  # not a notebook, bad schema
        first_line = (str(exc).strip().splitlines() or [""])[0][:160]
        raise ValueError(f"{name} is not a valid notebook ({type(exc).__name__}: {first_line})") from None
    return with_cell_ids(nb)


def with_cell_ids(nb) -> NotebookNode:
    """The notebook as nbformat 4.5 or later: every cell has a unique id (older tools,
    e.g. Colab, write 4.0-4.4 notebooks without ids)."""
    if nb.nbformat_minor < 5:
        nb.nbformat_minor = 5
    used = set()
    for cell in nb.cells:
        if not cell.get("id") or cell["id"] in used:
            cell["id"] = _fresh_id(nb)
        used.add(cell["id"])
    return nb


# ---------------------------------------------------------------- finding the notebooks

def pick_notebooks(names: list[str], found: dict, warnings: list) -> dict:
    """release name -> Entry of the submitted notebook (missing names are left out).

    ``name.ipynb`` first; else, for a single-notebook assignment, the only notebook handed
    in; else a unique notebook whose file name contains the name (``Copie de name.ipynb``).
    """
    notebooks = {e.rel: e for e in found.values() if e.rel.endswith(".ipynb") and "/" not in e.rel}
    picked = {n: notebooks[f"{n}.ipynb"] for n in names if f"{n}.ipynb" in notebooks}
    spare = [e for rel, e in notebooks.items() if rel[:-6] not in names]
    for name in [n for n in names if n not in picked]:
        candidates = [e for e in spare if name in e.rel]
        if len(names) == 1 and len(spare) == 1:
            candidates = spare
        if len(candidates) == 1:
            chosen = candidates[0]
            picked[name] = chosen
            spare.remove(chosen)
            warnings.append(f"{name}.ipynb handed in as {chosen.rel!r}: used it")
    return picked


# ---------------------------------------------------------------- nbgrader metadata

def nbgrader_meta(cell) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _strip_meta(cell) -> None:
    cell.metadata.pop("nbgrader", None)


def _key(cell) -> tuple:
    return cell.cell_type, "\n".join(line.rstrip() for line in cell.source.strip().splitlines())


# Lines of the release's answer stubs (ClearSolutions.code_stub / text_stub): not evidence.
STUB_LINES = {"# VOTRE CODE ICI", "raise NotImplementedError()", "VOTRE RÉPONSE ICI"}


def _similarity(release_cell, cell) -> float:
    """How much ``cell`` looks like ``release_cell`` (0-1): the larger of difflib's ratio
    and the share of the release cell's lines (stubs left out) found in ``cell``; a
    function signature and docstring kept by the student weigh much more than the
    length of the answer."""
    ratio = difflib.SequenceMatcher(None, release_cell.source, cell.source, autojunk=False).ratio()
    lines = {ln.strip() for ln in release_cell.source.splitlines()} - STUB_LINES - {""}
    if not lines:
        return ratio
    present = {ln.strip() for ln in cell.source.splitlines()}
    return max(ratio, len(lines & present) / len(lines))


def _valid_cell_meta(cell) -> bool:
    try:
        MetadataValidator().validate_cell(copy.deepcopy(cell))
        return True
    except Exception:
        return False


def keep_known_metadata(nb, release_ids: dict, warnings: list) -> None:
    """Strip the nbgrader metadata of cells that are unknown to the release, that repeat
    an earlier grade_id, or that are malformed; warn for each kind."""
    seen, unknown, repeated, broken = set(), [], [], []
    for cell in nb.cells:
        if "nbgrader" not in cell.get("metadata", {}):
            continue
        meta = nbgrader_meta(cell)
        grade_id = meta.get("grade_id")
        claims = meta.get("grade") or meta.get("solution") or meta.get("locked") or meta.get("task")
        if not claims and grade_id not in release_ids:
            _strip_meta(cell)  # a plain cell: nothing to grade, nothing to say
        elif grade_id in seen:
            repeated.append(str(grade_id))
            _strip_meta(cell)
        elif grade_id not in release_ids:
            unknown.append(str(grade_id))
            _strip_meta(cell)
        elif not _valid_cell_meta(cell):
            broken.append(str(grade_id))
            _strip_meta(cell)
        else:
            seen.add(grade_id)
    if unknown:
        warnings.append(f"graded cells unknown to the release, ignored: {', '.join(unknown)}")
    if repeated:
        warnings.append(f"grade ids used twice, the later cells ignored: {', '.join(repeated)}")
    if broken:
        warnings.append(f"malformed nbgrader metadata, cells matched again: {', '.join(broken)}")


def _match_by_id(nb, release, wanted: list, free: set) -> dict:
    """release index -> submitted index, for free cells that kept the release cell's id."""
    by_id = {cell.get("id"): j for j, cell in enumerate(nb.cells) if j in free and cell.get("id")}
    found = {}
    for i in wanted:
        j = by_id.get(release.cells[i].get("id"))
        if j is not None and nb.cells[j].cell_type == release.cells[i].cell_type:
            found[i] = j
            free.discard(j)
    return found


def _match_in_block(nb, release, wanted: list, candidates: list, guesses: list) -> dict:
    """Pair release cells with submitted cells inside one changed block (same cell type,
    in order): one-to-one by position when the counts agree, else by source similarity
    (a written markdown answer that resembles nothing: the first free markdown cell,
    its grade_id added to ``guesses`` when there was a choice)."""
    found = {}
    for cell_type in {release.cells[i].cell_type for i in wanted}:
        rel = [i for i in wanted if release.cells[i].cell_type == cell_type]
        sub = [j for j in candidates if nb.cells[j].cell_type == cell_type]
        if len(rel) == len(sub):
            found.update(zip(rel, sub))
            continue
        after = -1
        for i in rel:
            scored = [(_similarity(release.cells[i], nb.cells[j]), -j) for j in sub if j > after]
            best, j = max(scored, default=(0, 1))
            if best >= 0.5:
                found[i] = after = -j
            elif cell_type == "markdown" and nbgrader_meta(release.cells[i]).get("solution") and scored:
                found[i] = after = min(-j for _, j in scored)  # a written answer: the first one
                if len(scored) > 1:
                    guesses.append(nbgrader_meta(release.cells[i])["grade_id"])
    return found


def _match_by_alignment(nb, release, wanted: list, free: set, guesses: list) -> dict:
    """release index -> submitted index, found by aligning the two notebooks: cells equal
    to the release (given, locked or unanswered) anchor the alignment; a wanted cell in a
    changed block is paired with a free cell of the matching block."""
    matcher = difflib.SequenceMatcher(None, [_key(c) for c in release.cells],
                                      [_key(c) for c in nb.cells], autojunk=False)
    found = {}
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        block = [i for i in wanted if i1 <= i < i2]
        if not block:
            continue
        if tag == "equal":
            pairs = {i: j1 + (i - i1) for i in block}
            found.update({i: j for i, j in pairs.items() if j in free})
        elif tag == "replace":
            candidates = [j for j in range(j1, j2) if j in free]
            found.update(_match_in_block(nb, release, block, candidates, guesses))
        free.difference_update(found.values())
    return found


def _fresh_id(nb) -> str:
    used = {c.get("id") for c in nb.cells}
    while (new := uuid.uuid4().hex[:8]) in used:
        pass
    return new


def _put_back(nb, release, missing: list, placed: dict) -> None:
    """Insert copies of the release cells ``missing`` after the submitted cell of the
    nearest earlier release cell that is in ``placed`` (release index -> cell)."""
    for i in missing:
        cell = copy.deepcopy(release.cells[i])
        if any(c.get("id") == cell.get("id") for c in nb.cells):
            cell["id"] = _fresh_id(nb)
        earlier = [placed[k] for k in sorted(placed) if k < i]
        position = next((n for n, c in enumerate(nb.cells) if c is earlier[-1]), -1) + 1 if earlier else 0
        nb.cells.insert(position, cell)
        placed[i] = cell


def restore_metadata(nb, release, warnings: list) -> None:
    """Give every nbgrader cell of the release exactly one cell in ``nb``, with the
    release's nbgrader metadata; put back those that cannot be found."""
    release_ids = {nbgrader_meta(c)["grade_id"]: i for i, c in enumerate(release.cells)
                   if nbgrader_meta(c).get("grade_id")}
    keep_known_metadata(nb, release_ids, warnings)
    placed_idx = {release_ids[nbgrader_meta(c)["grade_id"]]: j for j, c in enumerate(nb.cells)
                  if nbgrader_meta(c).get("grade_id")}
    altered = [gid for gid, i in release_ids.items() if i in placed_idx
               and nbgrader_meta(nb.cells[placed_idx[i]]) != nbgrader_meta(release.cells[i])]
    free = {j for j, c in enumerate(nb.cells) if "nbgrader" not in c.metadata}
    wanted = sorted(i for i in release_ids.values() if i not in placed_idx)
    by_id = _match_by_id(nb, release, wanted, free)
    guesses = []
    by_place = _match_by_alignment(nb, release, [i for i in wanted if i not in by_id], free, guesses)
    matched = {**by_id, **by_place}
    placed_idx.update(matched)
    for i, j in placed_idx.items():
        nb.cells[j].metadata["nbgrader"] = copy.deepcopy(release.cells[i].metadata["nbgrader"])
    if altered:
        warnings.append(f"nbgrader metadata altered, restored from the release: {', '.join(altered)}")
    if matched:
        names = ", ".join(nbgrader_meta(release.cells[i])["grade_id"] for i in sorted(matched))
        warnings.append(f"nbgrader metadata missing, restored from the release: {names}")
    if guesses:
        warnings.append("answer cells matched by position among several cells, check them: "
                        + ", ".join(guesses))
    missing = [i for i in sorted(release_ids.values()) if i not in placed_idx]
    if missing:
        _put_back(nb, release, missing, {i: nb.cells[j] for i, j in placed_idx.items()})
        names = ", ".join(nbgrader_meta(release.cells[i])["grade_id"] for i in missing)
        warnings.append(f"cells deleted by the student, re-added from the release: {names}")


def check_gradable(nb, name: str) -> None:
    """Raise ValueError unless ``nb`` passes nbformat's validation and CheckCellMetadata."""
    try:
        nbformat.validate(nb)
        CheckCellMetadata().preprocess(nb, {})
    except Exception as exc:
        raise ValueError(f"{name}.ipynb could not be repaired ({type(exc).__name__}: {exc})") from None


# ---------------------------------------------------------------- the whole submission

def _declared(found: dict, declared_files: dict, repaired: Repaired) -> None:
    """Checked declared files (and nbgrader's timestamp.txt) into ``repaired.files``."""
    for name, cap in {**NBGRADER_FILES, **declared_files}.items():
        entry = found.get(name)
        if entry is None:
            if name in declared_files:
                repaired.notes.append(f"{name} not handed in")  # its tests say so to the student
        elif entry.size > cap:
            repaired.warnings.append(f"{name} is {entry.size / MB:.1f} MB, over its {cap / MB:g} MB "
                                     "limit: not used")
        else:
            repaired.files[name] = entry.path


def _ignored(found: dict, used: set) -> list:
    others = sorted(rel for rel in found if rel not in used)
    if not others:
        return []
    shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return [f"files not part of the assignment, ignored: {shown}"]


def repair_submission(submitted_dir: Path, release_dir: Path, declared_files: dict,
                      limits: Limits | None = None) -> Repaired:
    """Read, check and repair one submission (one student, one assignment).

    ``release_dir`` holds the release notebooks ``<name>.ipynb``; ``declared_files``
    maps the other file names a student may hand in to their size cap in bytes
    (nbgrader's ``timestamp.txt`` is always kept).
    Guarantees: never raises for a bad submission (``error`` says why it cannot be
    graded); each notebook in ``notebooks`` has one cell per nbgrader cell of its release
    and passes nbformat.validate and CheckCellMetadata; ``files`` holds only regular
    files within their cap (copy them with ``copy_capped``).
    """
    limits = limits or Limits()
    repaired = Repaired()
    submitted_dir, release_dir = Path(submitted_dir), Path(release_dir)
    if os.path.islink(submitted_dir) or not submitted_dir.is_dir():
        repaired.error = "submission folder missing (or a symbolic link)"
        return repaired
    names = sorted(p.stem for p in release_dir.glob("*.ipynb"))
    wanted = {f"{n}.ipynb" for n in names} | set(declared_files) | set(NBGRADER_FILES)
    found, repaired.warnings = scan(submitted_dir, limits.max_entries, wanted)
    picked = pick_notebooks(names, found, repaired.warnings)
    errors = []
    for name in names:
        if name not in picked:
            errors.append(f"notebook {name}.ipynb missing from the submission")
            continue
        try:
            entry = picked[name]
            text = decode(read_capped(entry.path, limits.notebook_bytes), entry.rel, repaired.warnings)
            nb = parse(text, entry.rel)
            release = nbformat.read(str(release_dir / f"{name}.ipynb"), as_version=4)
            restore_metadata(nb, release, repaired.warnings)
            check_gradable(nb, name)
            repaired.notebooks[name] = nb
        except (Refused, ValueError) as exc:
            errors.append(str(exc))
    _declared(found, declared_files, repaired)
    used = {e.rel for e in picked.values()} | set(declared_files) | set(NBGRADER_FILES)
    repaired.notes += _ignored(found, used)
    if errors:
        repaired.error = "; ".join(errors)
    return repaired


def write_repaired(repaired: Repaired, dest: Path, declared_files: dict) -> None:
    """Write the repaired notebooks as ``dest/<name>.ipynb`` and copy the declared files
    and nbgrader's timestamp.txt (without following links, within their caps) into ``dest``."""
    caps = {**NBGRADER_FILES, **declared_files}
    dest.mkdir(parents=True, exist_ok=True)
    for name, nb in repaired.notebooks.items():
        nbformat.write(nb, str(dest / f"{name}.ipynb"))
    for name, path in repaired.files.items():
        copy_capped(path, dest / name, caps[name])
