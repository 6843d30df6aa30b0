"""Errors said in French, in one line, about the student's own code.

In a notebook, an error raised from a student's answer shows IPython's traceback: frames
of numpy or torch, in English. :func:`install` (called when ``nncourse.checks`` is
imported inside IPython) replaces it, for the kinds a student meets, by what to do:

- an answer not written yet (``NotImplementedError``): which function, and where to write it;
- a name not defined (``NameError``): the earlier cell that creates it failed (that cell is
  named, from the kernel's history), or was not run;
- incompatible shapes (numpy and torch messages): the line of the student's code, and the
  shapes of the arrays it names;
- anything else raised in the student's code: the line, and the error in one line.

Errors raised elsewhere keep IPython's traceback, and ``%tb`` still shows the full one.
:func:`explain` is the pure part (no IPython), used by the tests.
"""

from __future__ import annotations

import linecache
import os
import re
import sys
import traceback

LIBRARY_ROOTS = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, os.path.dirname(__file__))})

SHAPE_ERRORS = (
    (re.compile(r"matmul|not aligned|cannot be multiplied|size mismatch, m1|mat1 and mat2"),
     "produit matriciel impossible", "A @ B demande A.shape[1] == B.shape[0] : une transposée manque-t-elle ?"),
    (re.compile(r"could not be broadcast|must match the size of tensor|The size of tensor a"),
     "formes incompatibles pour une opération élément par élément",
     "les deux formes doivent être égales, ou valoir 1 là où elles diffèrent (keepdims=True ?)."),
    (re.compile(r"cannot reshape|shape '\[.*\]' is invalid for input of size"),
     "reshape impossible", "le nombre total d'éléments doit rester le même."),
    (re.compile(r"out of bounds|index \d+ is out of range|out of range for dimension"),
     "indice hors limites", "vérifiez l'axe indexé et la taille de cet axe."),
)


def _is_notebook_code(filename: str) -> bool:
    """Code of a notebook cell or of the student's own files, not of a library."""
    if not filename or filename.startswith("<frozen"):
        return False
    real = os.path.realpath(filename)
    return not any(real == root or real.startswith(root + os.sep) for root in LIBRARY_ROOTS)


def _student_frame(tb):
    """The deepest frame of the student's code in a traceback, with its line number."""
    found = None
    for frame, lineno in traceback.walk_tb(tb):
        if _is_notebook_code(frame.f_code.co_filename):
            found = (frame, lineno)
    return found


def _where(frame, lineno) -> tuple[str, str]:
    code = frame.f_code
    # a method says its class (Linear.__init__, not __init__: every module of 05 has one);
    # a function defined inside another one says its own name only
    name = getattr(code, "co_qualname", code.co_name).rsplit("<locals>.", 1)[-1]
    place = "la cellule" if code.co_name == "<module>" else name
    line = linecache.getline(frame.f_code.co_filename, lineno, frame.f_globals).strip()
    return place, line


def _shapes_named(line: str, frame) -> list[str]:
    """``name (shape)`` for each array or tensor that ``line`` names (``X``, ``X.T``,
    ``params["W1"]``), looked up in the frame; nothing is evaluated."""
    shown, seen = [], set()
    for match in re.finditer(r"([A-Za-z_]\w*)(\[\s*(['\"])(\w+)\3\s*\])?(\.T\b)?", line):
        name, key, transposed = match.group(1), match.group(4), match.group(5)
        text = match.group(0)
        if text in seen:
            continue
        value = frame.f_locals.get(name, frame.f_globals.get(name))
        if key is not None:
            value = value.get(key) if isinstance(value, dict) else None
        shape = getattr(value, "shape", None)
        if not isinstance(shape, tuple) and type(shape).__name__ != "Size":
            continue
        shape = tuple(int(s) for s in shape)
        if transposed:
            shape = shape[::-1]
        seen.add(text)
        shown.append(f"{text} {shape}")
    return shown[:6]


def explain(exc: BaseException, tb=None) -> list[str] | None:
    """The French lines to show instead of the traceback, or None (keep IPython's)."""
    if hasattr(exc, "_render_traceback_"):         # CheckFailed says it itself
        return None
    tb = tb if tb is not None else exc.__traceback__
    found = _student_frame(tb)
    if isinstance(exc, NameError) and not isinstance(exc, UnboundLocalError):
        name = getattr(exc, "name", None) or str(exc)
        cell = defining_cell(name, _executed_cells())
        if cell:
            return [f"✘ {name} n'est pas défini : la cellule qui le crée (« {cell} ») a été exécutée mais a échoué "
                    f"avant de le créer.", "  Piste : corrigez d'abord cette cellule-là (son erreur est affichée "
                    "sous elle), exécutez-la, puis exécutez de nouveau cette cellule-ci."]
        return [f"✘ {name} n'est pas défini : la cellule qui le crée, plus haut, n'a pas été exécutée ou a "
                f"échoué.", "  Piste : exécutez les cellules au-dessus (menu Exécuter › Exécuter les cellules "
                "au-dessus) et corrigez la première qui affiche une erreur."]
    if found is None:
        return None
    frame, lineno = found
    place, line = _where(frame, lineno)
    if isinstance(exc, NotImplementedError):
        if place == "la cellule":
            return ["✘ Cette cellule n'est pas encore écrite : remplacez raise NotImplementedError() par votre code."]
        return [f"✘ {place} n'est pas encore écrite : dans sa cellule, remplacez raise NotImplementedError() par "
                f"votre code, exécutez-la, puis exécutez de nouveau cette cellule-ci."]
    message = str(exc).splitlines()[0] if str(exc) else ""
    problem = shape_problem(message)
    if problem:
        shapes = _shapes_named(line, frame)
        detail = f" : {', '.join(shapes)}" if shapes else ""
        return [f"✘ Dans {place}, ligne « {line} » : {problem[0]}{detail}.", f"  Piste : {problem[1]}",
                f"  (message d'origine : {type(exc).__name__}: {message[:200]})"]
    return [f"✘ Dans {place}, ligne « {line} » : {type(exc).__name__}: {message[:300]}",
            "  (la trace complète : exécutez %tb dans une nouvelle cellule)"]


def _executed_cells() -> list[str]:
    """The sources of the cells this kernel has run, oldest first (IPython's ``In``)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    history = shell.user_ns.get("In", []) if shell is not None else []
    return [c for c in history if isinstance(c, str)]


def _names_bound(source: str) -> set[str]:
    """The names a cell binds in the notebook's namespace (not a function's locals)."""
    import ast
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    bound, todo = set(), list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            continue                                 # its body binds locals, not notebook names
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.alias):
            bound.add((node.asname or node.name).split(".")[0])
        todo.extend(ast.iter_child_nodes(node))
    return bound


def defining_cell(name: str, cells: list[str]) -> str | None:
    """The first line of the last cell run that binds ``name`` in the notebook's namespace
    (``x = ...``, ``def x``, ``import x``), shortened; None if no cell run binds it (that
    cell was never run)."""
    for source in reversed(cells[:-1] if cells else cells):   # the last one is the failing cell itself
        if name in _names_bound(source):
            first = next((line.strip() for line in source.splitlines()
                          if line.strip() and not line.strip().startswith("#")), "")
            return first[:80] + ("…" if len(first) > 80 else "")
    return None


def where(exc: BaseException) -> str:
    """Where the student's code raised ``exc``, for the grader's message (one line, or "")::

        dans backward, ligne « dW1 = X.T @ dZ1 » (X.T (2, 200), dZ1 (100, 30))"""
    found = _student_frame(exc.__traceback__)
    if found is None:
        return ""
    place, line = _where(*found)
    shapes = _shapes_named(line, found[0])
    return f"dans {place}, ligne « {line[:150]} »" + (f" ({', '.join(shapes)})" if shapes else "")


def shape_problem(message: str) -> tuple[str, str] | None:
    """(what, hint) in French when an error message is numpy's or torch's about shapes."""
    for pattern, what, hint in SHAPE_ERRORS:
        if pattern.search(message or ""):
            return what, hint
    return None


def _show(shell, etype, value, tb, tb_offset=None):
    try:
        lines = explain(value, tb)
    except Exception:  # noqa: BLE001 - never hide the student's error behind ours
        lines = None
    if lines is None:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
    else:
        sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb     # for %tb and %debug
        sys.last_exc = value
        shell._showtraceback(etype, value, lines)
    return None


def install() -> bool:
    """Show the student's errors in French in this IPython kernel (once; False outside IPython)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "_nncourse_messages", False):
        return shell is not None
    shell.set_custom_exc((Exception,), _show)
    shell._nncourse_messages = True
    return True
