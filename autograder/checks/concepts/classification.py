"""Classification checks shared by several assignments: softmax by rows, one-hot labels,
the confusion matrix.

They are plain generator functions (not registered): each assignment registers them under
its own test cell with its own parameters, e.g. in its checks module::

    check("test_softmax", module=__name__)(functools.partial(classification.softmax_rows, K=10))

so one implementation (and one set of French hints) serves 03, 04 and 06. The reference is
here, in the grader: the kernel only receives the grader's inputs.
"""

from __future__ import annotations

import numpy as np

from ..common import as_array, check_close, fail, likely_mistake, named_mistake
from ..probing import Call, Tensor


def _softmax(S, axis=1, shift=None):
    S = np.asarray(S, dtype=np.float64)
    E = np.exp(S - (S.max(axis=axis, keepdims=True) if shift is None else shift))
    return E / E.sum(axis=axis, keepdims=True)


def _as_input(array, tensor: bool):
    return Tensor(array) if tensor else array


def softmax_rows(rng, *, fn: str = "softmax", K: int | None = None, shift: float = 1000.0,
                 tensor: bool = False, rtol: float = 1e-7, atol: float = 1e-12):
    """softmax by rows on random scores, and on the same scores shifted by a constant per row
    of ±shift (same result expected: stable, maximum of each row).

    ``fn``: the notebook's function, called ``fn(S)`` with ``S`` (N, K). ``K``: the number of
    classes (None: 3 to 5 at random). ``tensor``: ``S`` given as a float32 torch tensor
    (then loosen ``rtol``/``atol``)."""
    with np.errstate(all="ignore"):
        K = K or int(rng.integers(3, 6))
        N = int(rng.integers(7, 12))
        if N == K:
            N += 1
        S = rng.standard_normal((N, K)) * 3.0
        offsets = rng.choice([-1.0, 1.0, -0.6, 0.7], size=(N, 1)) * shift
        offsets[0, 0], offsets[1, 0] = shift, -shift
        big = S + offsets
        dtype = np.float32 if tensor else np.float64
        r, r_big = yield [Call(fn, (_as_input(S.astype(dtype), tensor),)),
                          Call(fn, (_as_input(big.astype(dtype), tensor),))]
        if tensor:
            S, big = S.astype(np.float32).astype(np.float64), big.astype(np.float32).astype(np.float64)
        want = _softmax(S)
        got = as_array(f"{fn}(S)", r.value)
        hint = named_mistake(got, {
            "la normalisation se fait sur tout le tableau : chaque LIGNE doit sommer à 1 "
            "(somme sur les classes, axis=1, keepdims=True).": lambda: np.exp(S) / np.exp(S).sum(),
        }, rtol=1e-5)
        columns = got.shape == want.shape and np.all(np.isfinite(got)) and np.allclose(got.sum(axis=0), 1.0)
        if hint is None and columns and not np.allclose(got.sum(axis=1), 1.0):
            hint = ("ce sont les colonnes qui somment à 1 : la normalisation se fait sur le mauvais axe "
                    "(sommez sur les classes, axis=1, keepdims=True).")
        elif hint is None and got.shape == want.shape and np.allclose(got.sum(axis=1), 1.0):
            hint = "chaque ligne somme bien à 1 mais les valeurs sont fausses : p_k = exp(s_k) / Σ_j exp(s_j)."
        check_close(f"{fn}(S) pour S de forme {S.shape}", got, want, rtol=rtol, atol=atol,
                    hint=hint or likely_mistake(got, want))
        got = as_array(f"{fn}(S + décalage)", r_big.value)
        hint = named_mistake(got, {
            "soustraire le maximum GLOBAL ne suffit pas : pour une ligne dont les scores sont très "
            "inférieurs à ce maximum, toutes les exponentielles valent 0 (0/0 = NaN). Soustrayez à "
            "chaque LIGNE son maximum (S - S.max(axis=1, keepdims=True)).": lambda: _softmax(big, shift=big.max()),
            f"exp déborde pour des scores de l'ordre de ±{shift:g} (exp(1000) = inf, inf/inf = NaN) : "
            "soustrayez à chaque LIGNE son maximum (S - S.max(axis=1, keepdims=True)) avant "
            "l'exponentielle ; cela ne change pas le résultat.": lambda: _softmax(big, shift=0.0),
        }, rtol=1e-5)
        if hint is None and (got.shape != want.shape or not np.all(np.isfinite(got))):
            hint = (f"exp déborde pour des scores de l'ordre de ±{shift:g} : soustrayez à chaque LIGNE son "
                    "maximum (S - S.max(axis=1, keepdims=True)) avant l'exponentielle.")
        check_close(f"{fn}(S + c) (une constante c de l'ordre de ±{shift:g} par ligne : même résultat attendu "
                    f"que {fn}(S))", got, want, rtol=rtol, atol=atol,
                    hint=hint or "softmax est invariante par ajout d'une constante à toute une ligne ; "
                                 "soustrayez le maximum de chaque ligne, pas le maximum global.")
    return f"{fn} est correcte et stable pour des scores de ±{shift:g}."


def one_hot_rows(rng, *, fn: str = "one_hot", K: int | None = None, default_K: int | None = None,
                 dtype: str | None = None, tensor: bool = False):
    """one_hot(y, K): one 1 per row, in column y[i], shape (N, K) (and its default K, its dtype).

    ``fn``: the notebook's function, called ``fn(y, K)`` with K positional. ``K``: the number of
    classes of that call (None: 3 to 6 at random). ``default_K``: if given, also ``fn(y)`` on
    labels in ``0..default_K-1`` must give ``(N, default_K)``. ``dtype``: the numpy dtype name
    the result must have ("float32"), None for any. ``tensor``: ``y`` given as an int64 tensor."""
    K = K or int(rng.integers(3, 7))
    N = int(rng.integers(K + 2, K + 8))
    y = rng.integers(0, K, size=N)
    cases = [(y, K, Call(fn, (_as_input(y, tensor), K)))]
    if default_K:
        y0 = rng.permutation(np.arange(default_K + 3) % default_K)
        cases.append((y0, default_K, Call(fn, (_as_input(y0, tensor),))))
    results = yield [call for *_, call in cases]
    for (labels, k, call), r in zip(cases, results):
        what = f"{fn}(y, K={k})" if len(call.args) == 2 else f"{fn}(y) (K={k} par défaut)"
        got = as_array(what, r.value)
        want = np.zeros((len(labels), k))
        want[np.arange(len(labels)), labels] = 1.0
        hint = named_mistake(got, {
            "exactement un 1 par ligne i, dans la colonne y[i] : Y[np.arange(N), y] = 1, et non "
            "Y[:, y] = 1 (qui allume, sur chaque ligne, toutes les classes présentes dans y).":
                lambda: np.isin(np.arange(k)[None, :].repeat(len(labels), 0), labels).astype(float),
            "la forme attendue est (N, K) : une ligne par exemple, une colonne par classe.": lambda: want.T,
        }, rtol=0, atol=0)
        if hint is None and got.shape == want.shape:
            hint = "exactement un 1 par ligne i, dans la colonne y[i] (indexation Y[np.arange(N), y])."
        check_close(what, got, want, rtol=0, atol=0, hint=hint)
        if dtype and not tensor and np.asarray(r.value).dtype != np.dtype(dtype):
            fail(f"{what} est de type {np.asarray(r.value).dtype}, attendu {dtype}.",
                 f"créez le tableau avec np.zeros((N, K), dtype=np.{dtype}).")
    return f"{fn} est correcte."


def confusion_matrix_counts(rng, *, fn: str = "confusion_matrix", default_K: int | None = 10,
                            tensor: bool = False):
    """confusion_matrix(y_true, y_pred, K): C[i, j] counts the examples of true class i predicted j,
    with repeated pairs, for the default number of classes and for a few classes.

    ``fn``: the notebook's function, called ``fn(y_true, y_pred)`` (its default number of
    classes, ``default_K``; skipped if None) and ``fn(y_true, y_pred, k)`` with k (3 to 5)
    positional, whatever the parameter's name (``K`` in 04, ``n_classes`` in 06). ``tensor``:
    labels given as int64 torch tensors (06); the result may be a tensor or an array."""
    cases = []
    for k, n in ((default_K, 300), (int(rng.integers(3, 6)), 40)):
        if not k:
            continue
        y_true = rng.integers(0, k, size=n)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, size=n))
        y_true[:2], y_pred[:2] = k - 1, 0          # a pair off the diagonal, repeated
        args = (_as_input(y_true, tensor), _as_input(y_pred, tensor))
        cases.append((y_true, y_pred, k, Call(fn, args if k == default_K and len(cases) == 0 else args + (k,))))
    results = yield [call for *_, call in cases]
    for (y_true, y_pred, k, call), r in zip(cases, results):
        what = f"{fn}(y_true, y_pred" + (f", {k})" if len(call.args) == 3 else f") ({k} classes par défaut)")
        got = as_array(what, r.value)
        want = np.zeros((k, k))
        np.add.at(want, (y_true, y_pred), 1)
        once = np.zeros((k, k))
        once[y_true, y_pred] = 1
        hint = named_mistake(got, {
            "la matrice est transposée : ligne = vraie classe, colonne = classe prédite.": lambda: want.T,
            "on attend des effectifs (des comptes), pas des proportions.": lambda: want / want.sum(),
            "on attend des effectifs, pas des proportions par ligne.":
                lambda: want / np.maximum(want.sum(axis=1, keepdims=True), 1),
            "C[y_true, y_pred] += 1 avec des indices répétés ne compte chaque case qu'une fois : "
            "utilisez np.add.at(C, (y_true, y_pred), 1), une boucle, ou bincount.": lambda: once,
        }, rtol=0, atol=1e-12)
        check_close(what, got, want, rtol=0, atol=0,
                    hint=hint or "C[i, j] = nombre d'exemples de vraie classe i prédits dans la classe j.")
    return f"{fn} est correcte."
