"""06, part 7: the confusion matrix (torch tensors in, counts out), judged exactly."""

from __future__ import annotations

import numpy as np

from ..common import as_array, check_close, named_mistake
from ..probing import Call, Tensor, check


def confusion_verdict(value, y_true, y_pred, k, what="confusion_matrix(y_true, y_pred)"):
    got = as_array(what, value)
    want = np.zeros((k, k), dtype=np.int64)
    np.add.at(want, (y_true, y_pred), 1)
    hint = named_mistake(got, {"matrice transposée : ligne = vraie classe, colonne = classe prédite.": lambda: want.T,
                               "des proportions au lieu de nombres d'exemples : comptez, sans diviser.":
                                   lambda: want / max(len(y_true), 1)}, rtol=0, atol=1e-9)
    check_close(what, got, want, rtol=0, atol=0, hint=hint)


@check("test_confusion_matrix")
def confusion_matrix_counts(rng):
    """confusion_matrix(y_true, y_pred, k)[i, j] counts the examples of true class i predicted j."""
    k = int(rng.integers(3, 7))
    n = int(rng.integers(50, 120))
    y_true = rng.integers(0, k, size=n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, size=n))
    y_pred[0] = (y_true[0] + 1) % k
    [r] = yield [Call("confusion_matrix", (Tensor(y_true), Tensor(y_pred), k))]
    confusion_verdict(r.value, y_true, y_pred, k)
    return "confusion_matrix est correcte."
