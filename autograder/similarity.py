"""Pairs of students whose answers are suspiciously alike (MOSS-style), as evidence only.

Only the answer cells count (``metadata.nbgrader.solution``). Each code answer is parsed,
docstrings dropped, every identifier that is not a builtin renamed to one placeholder, and
the function definitions sorted, so renamed variables and reordered functions change
nothing. The normalised syntax tree becomes a token sequence; its k-grams are hashed and
winnowed (Schleimer, Wilkerson, Aiken 2003: the minimum hash of each window) into
fingerprints. Written answers (markdown) use their words as tokens.

Not evidence, and dropped:
  - the fingerprints of the release's answer-cell stub (what everybody is given);
  - fingerprints that more than ``common_fraction`` of the class share (the short answer
    every correct student writes the same way), with at least ``min_common`` students.

The other fingerprints weigh log(class size / students having it): a fingerprint two
students share weighs more than one ten share. A pair's score is the weight the two have
in common over the weight of the smaller of their two sets (1.0: one holds all the
other's distinctive code). Pairs at or above ``threshold`` are listed, best first, with
the matching cells side by side in the instructor report. It never changes a grade.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import nbformat

from . import course
from .submissions import answer_cells

K, WINDOW = 15, 4        # tokens per k-gram (about two statements), k-grams per winnowing window
THRESHOLD = 0.8          # planted copy: 1.0; most alike honest pair of the test cohort: 0.68
COMMON_FRACTION = 0.5    # fingerprints shared by more than this share of the class are ignored
MIN_FINGERPRINTS = 10    # less distinctive code than this says nothing either way
_BUILTINS = set(dir(builtins))


@dataclass
class Pair:
    a: str
    b: str
    score: float
    shared: int
    cells: list = field(default_factory=list)   # (grade_id, answer of a, answer of b)


class _Normalise(ast.NodeTransformer):
    """Identifiers -> "V" (builtins kept), docstrings and ``raise NotImplementedError`` dropped."""

    def visit_Name(self, node):
        return ast.copy_location(ast.Name(node.id if node.id in _BUILTINS else "V", node.ctx), node)

    def visit_arg(self, node):
        node.arg, node.annotation = "V", None
        return node

    def visit_FunctionDef(self, node):
        node.name = "V"
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        node.body = [s for s in body if not _raises_not_implemented(s)] or [ast.Pass()]
        self.generic_visit(node)
        return node


def _raises_not_implemented(stmt) -> bool:
    return isinstance(stmt, ast.Raise) and "NotImplementedError" in ast.dump(stmt)


def _tokens_of_tree(node) -> list[str]:
    """Pre-order node names; attribute names and short constants kept."""
    out = []

    def walk(n):
        if isinstance(n, (ast.Load, ast.Store, ast.Del)):
            return
        out.append(type(n).__name__)
        if isinstance(n, ast.Attribute):
            out.append("." + n.attr)
        elif isinstance(n, ast.Constant):
            out.append(repr(n.value) if isinstance(n.value, (int, float)) else type(n.value).__name__)
        elif isinstance(n, ast.Name) and n.id != "V":
            out.append(n.id)
        for child in ast.iter_child_nodes(n):
            walk(child)

    walk(node)
    return out


def code_tokens(source: str) -> list[str]:
    """Tokens of a code answer, independent of names and of the order of its functions."""
    source = "\n".join(ln for ln in source.splitlines() if not ln.lstrip().startswith(("%", "!")))
    try:
        tree = _Normalise().visit(ast.parse(source))
    except (SyntaxError, ValueError):
        return re.findall(r"\w+|[^\w\s]", source)  # does not parse: plain tokens
    defs = sorted((s for s in tree.body if isinstance(s, ast.FunctionDef)), key=ast.dump)
    rest = [s for s in tree.body if not isinstance(s, ast.FunctionDef)]
    return [t for s in defs + rest for t in _tokens_of_tree(s)]


def text_tokens(source: str) -> list[str]:
    return re.findall(r"\w+", source.lower())


def fingerprints(tokens: list[str], k: int = K, window: int = WINDOW) -> set[int]:
    """Winnowed k-gram hashes of a token sequence."""
    hashes = [int.from_bytes(hashlib.blake2b(" ".join(tokens[i:i + k]).encode(), digest_size=8).digest(), "big")
              for i in range(len(tokens) - k + 1)]
    if len(hashes) <= window:
        return set(hashes)
    return {min(hashes[i:i + window]) for i in range(len(hashes) - window + 1)}


def cell_fingerprints(cell) -> set[int]:
    tokens = code_tokens(cell.source) if cell.cell_type == "code" else text_tokens(cell.source)
    return fingerprints(tokens)


def _read(path: Path):
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception:
        return None


def answers(workdir: Path, assignment: str) -> tuple[dict, dict]:
    """student -> {grade_id: cell} from submitted/, and {grade_id: stub cell} from the release."""
    stubs, found = {}, {}
    root = workdir if (workdir / "source" / assignment).exists() else course.REPO
    for name in course.notebook_names(assignment, root):
        release = next((p for p in (workdir / "release" / assignment / f"{name}.ipynb",
                                    course.RELEASE / assignment / f"{name}.ipynb") if p.exists()), None)
        if release:
            stubs.update(answer_cells(_read(release) or nbformat.v4.new_notebook()))
        for path in sorted((workdir / "submitted").glob(f"*/{assignment}/{name}.ipynb")):
            nb = _read(path)
            if nb is not None:
                found.setdefault(path.parent.parent.name, {}).update(answer_cells(nb))
    return found, stubs


def rank_pairs(submissions: dict, stubs: dict, threshold: float = THRESHOLD,
               common_fraction: float = COMMON_FRACTION, min_common: int = 3) -> list[Pair]:
    """Pairs at or above ``threshold``, best first. submissions: student -> {grade_id: cell}."""
    stub_fp = {gid: cell_fingerprints(c) for gid, c in stubs.items()}
    prints = {s: {(gid, f) for gid, c in cells.items() for f in cell_fingerprints(c) - stub_fp.get(gid, set())}
              for s, cells in submissions.items()}
    counts = Counter(key for keys in prints.values() for key in keys)
    limit = max(min_common, common_fraction * len(prints))
    weight = {key: math.log(len(prints) / n) for key, n in counts.items() if n <= limit}
    kept = {s: {key for key in keys if key in weight} for s, keys in prints.items()}
    pairs = []
    for a, b in combinations(sorted(kept), 2):
        if min(len(kept[a]), len(kept[b])) < MIN_FINGERPRINTS:
            continue
        shared = kept[a] & kept[b]
        smaller = min(sum(weight[k] for k in kept[a]), sum(weight[k] for k in kept[b]))
        score = sum(weight[k] for k in shared) / smaller if smaller else 0.0
        if shared and score >= threshold:
            gids = sorted({gid for gid, _ in shared})
            pairs.append(Pair(a, b, round(score, 3), len(shared),
                              [(g, submissions[a][g].source, submissions[b][g].source) for g in gids]))
    return sorted(pairs, key=lambda p: -p.score)


def flagged_pairs(workdir: Path, assignment: str, threshold: float = THRESHOLD) -> list[Pair]:
    submissions, stubs = answers(workdir, assignment)
    return rank_pairs(submissions, stubs, threshold)
