"""Hidden checks of assignment 04 (MNIST logistic regression written with numpy).

Each check is a probe and a verdict (``probing.py``): it draws fresh inputs, yields the
calls the kernel makes with the student's functions, and judges the data that comes back
here, in the grader, against centered differences or the reference in
:mod:`mnist_logreg_reference`. The reference and the MNIST test images never enter the
kernel. softmax, one_hot and the confusion matrix are the shared checks of
:mod:`concepts.classification`.

A check tests one function: ``forward``'s call of softmax is traced (its argument and what
it returned are judged, not the student's softmax), ``predict`` and ``accuracy`` get the
reference ``forward``/``predict`` values as stubs. ``train`` is judged by its consequences
on a small problem of the grader, every step traced: each epoch's mini-batches cover every
example once, in a new order, with the labels of the same rows; each step's ``forward``
sees the current weights W₀ - pas·Σ(earlier gradients), from W₀ = 0; the returned W, b are
exactly the start minus pas times the sum of the gradients ``gradients`` returned; and
those gradients are the reference's (else the mistake is carried forward, not charged).
``test_final_accuracy`` trains with the student's ``train`` and functions on MNIST images
drawn by the grader and measures the accuracy of the returned W, b here on the 10 000 test
images.

Calibration: ``python -m autograder calibrate 04_mnist_logreg --seeds 20``.
"""

from __future__ import annotations

import functools

import numpy as np

from . import mnist_logreg_reference as ref
from .common import (as_array, check_close, fail, gradient_verdict, likely_mistake, mnist, named_mistake,
                     relative_error)
from .concepts import classification
from .probing import Call, Pixels, check

K = ref.K
GRAD_TOL = 1e-6
STEP_TOL = 1e-9          # relative error allowed on the weights replayed from traced gradients

# test_train: a small problem of the grader, every step traced.
TRAIN_N, TRAIN_D, TRAIN_BATCH, TRAIN_EPOCHS = 130, 12, 50, 2

# test_final_accuracy: the student's train (and functions) on FINAL_SIZE training images
# drawn by the grader, FINAL_EPOCHS epochs of the notebook's recipe (batch 100, lr 0.1),
# accuracy of the returned W, b measured here on the 10 000 test images.
# Calibration (python -m autograder calibrate 04_mnist_logreg --seeds 40, reference in
# float32): min 85.59 %, median 86.16 %, max 86.63 %. Threshold 80 %, far under the
# minimum: grad_b without 1/N (a mistake test_grad_b charges) ends at 84.6-85.7 % (seeds
# 1-3) and must not lose this cell too; the mistakes that spoil the training end at 63 %
# or less (softmax on the wrong axis 55-63 %, one update per epoch 42-54 %, labels not
# shuffled with the images 8-14 %, ascent 11 %) or crash.
FINAL_SIZE, FINAL_EPOCHS, FINAL_VALIDATION = 3000, 3, 200
FINAL_MIN_ACCURACY = 0.80

def _random_problem(rng, N=None, d=None):
    """A small float64 batch: X (N, d), W (d, K), b (K,), labels with N != d != K."""
    N = N or int(rng.integers(13, 21))
    d = d or int(rng.integers(4, 9))
    X = rng.standard_normal((N, d))
    W = 0.8 * rng.standard_normal((d, K))
    b = 0.5 * rng.standard_normal(K)
    y = rng.integers(0, K, size=N)
    return X, W, b, y


# -------------------------------------------------------- shared classification checks
check("test_one_hot", module=__name__)(
    functools.partial(classification.one_hot_rows, fn="one_hot", default_K=K, dtype="float32"))
check("test_softmax", module=__name__)(functools.partial(classification.softmax_rows, fn="softmax", K=K))
check("test_confusion", module=__name__)(
    functools.partial(classification.confusion_matrix_counts, fn="confusion_matrix", default_K=K))


# ------------------------------------------------------------------------- model
@check("test_forward")
def forward_is_softmax_of_scores(rng):
    """forward(X, W, b) = softmax(X W + b): the scores it hands to softmax (traced) and what it
    returns; the student's softmax itself is judged by test_softmax."""
    X, W, b, _ = _random_problem(rng)
    [r] = yield [Call("forward", (X, W, b), trace={"softmax": {"calls": 1, "args": ["S"]}})]
    S = X @ W + b
    got = as_array("forward(X, W, b)", r.value)
    traced = r.traces["softmax"]["calls"]
    if traced and "S" in traced[0]["args"]:
        scores = as_array("les scores passés à softmax", traced[0]["args"]["S"])
        hint = named_mistake(scores, {"le biais b est oublié : s = X W + b.": lambda: X @ W,
                                      "W est transposée ou mal placée : s = X @ W + b.": lambda: (W.T @ X.T).T + b})
        check_close("les scores X W + b que forward passe à softmax", scores, S, rtol=1e-9, atol=1e-12,
                    hint=hint or likely_mistake(scores, S) or "s = X @ W + b, de forme (N, 10).")
        want = as_array("softmax", traced[0]["value"])
        hint = named_mistake(got, {"forward doit renvoyer les probabilités softmax(X W + b), pas les scores.":
                                   lambda: S})
        check_close("forward(X, W, b) (ce que renvoie votre softmax des scores)", got, want, rtol=1e-12,
                    atol=1e-15, hint=hint or "renvoyez softmax(X @ W + b).")
        return "forward est correcte : softmax(X W + b)."
    want = ref.forward(X, W, b)
    hint = named_mistake(got, {"le biais b est oublié : s = X W + b.": lambda: ref.softmax(X @ W),
                               "forward doit renvoyer les probabilités softmax(X W + b), pas les scores.": lambda: S})
    check_close("forward(X, W, b)", got, want, rtol=1e-9, atol=1e-12,
                hint=hint or likely_mistake(got, want) or "Ŷ = softmax(X @ W + b), de forme (N, 10).")
    return "forward est correcte : softmax(X W + b)."


@check("test_cross_entropy")
def cross_entropy_is_the_mean(rng):
    """The mean cross-entropy over the N examples of random probabilities and one-hot labels."""
    X, W, b, y = _random_problem(rng)
    Y_hat, Y_star = ref.forward(X, W, b), ref.one_hot(y, dtype=np.float64)
    [r] = yield [Call("cross_entropy", (Y_hat, Y_star))]
    got = as_array("cross_entropy", r.value)
    if got.size != 1:
        fail(f"cross_entropy doit renvoyer un nombre (la moyenne sur les exemples), reçu un tableau "
             f"de forme {got.shape}.", "sommez sur les classes (axis=1) puis moyennez sur les exemples.")
    got, want = float(got.reshape(())), ref.cross_entropy(Y_hat, Y_star)
    hint = named_mistake(got, {
        "np.mean sur tout le tableau (N × 10 cases) divise par 10 de trop : sommez sur les classes, "
        "puis moyennez sur les N exemples.": lambda: want / K,
        f"c'est la SOMME sur les N={len(X)} exemples : il faut la moyenne (facteur 1/N oublié).": lambda: want * len(X),
        "le signe est inversé : L = -(1/N) Σ log ŷ de la bonne classe (positive).": lambda: -want,
    }) or likely_mistake(got, want, n_examples=len(X))
    check_close("cross_entropy(Ŷ, Y*)", got, want, rtol=1e-6, hint=hint or
                "L = -(1/N) Σ_i Σ_c y*_ic log(ŷ_ic) (un nombre, moyenne sur les N exemples).")
    return "cross_entropy est correcte."


# --------------------------------------------------------------------- gradients
def _gradients_call(rng):
    X, W, b, y = _random_problem(rng)
    Y_star = ref.one_hot(y, dtype=np.float64)
    return X, W, b, Y_star, Call("gradients", (X, ref.forward(X, W, b), Y_star))


def _pair(value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail("gradients doit renvoyer le couple (grad_W, grad_b).")
    return value


def _grad_verdict(name, got, f, at, n_examples, hint):
    gradient_verdict(name, got, f, at, n_examples, hint, GRAD_TOL)


@check("test_grad_W")
def grad_W_matches_differences(rng):
    """gradients' grad_W against centered differences of the reference loss (float64)."""
    X, W, b, Y_star, call = _gradients_call(rng)
    [r] = yield [call]
    grad_W = as_array("grad_W", _pair(r.value)[0])
    _grad_verdict("grad_W = ∂L/∂W", grad_W, lambda v: ref.cross_entropy(ref.forward(X, v, b), Y_star), W,
                  len(X), "∂L/∂W = (1/N) Xᵀ (Ŷ - Y*), de forme (784, 10) comme W.")
    return "grad_W coïncide avec les différences finies centrées."


@check("test_grad_b")
def grad_b_matches_differences(rng):
    """gradients' grad_b against centered differences of the reference loss (float64)."""
    X, W, b, Y_star, call = _gradients_call(rng)
    [r] = yield [call]
    grad_b = as_array("grad_b", _pair(r.value)[1])
    if grad_b.shape == (1, K):            # a (1, 10) row also works with a (10,) b
        grad_b = grad_b.reshape(K)
    if grad_b.shape == (len(X),):
        fail(f"grad_b a la forme {grad_b.shape} : une valeur par exemple au lieu d'une par classe (10,).",
             "la somme (ou la moyenne) doit porter sur les exemples (axis=0), pas sur les classes.")
    _grad_verdict("grad_b = ∂L/∂b", grad_b, lambda v: ref.cross_entropy(ref.forward(X, W, v), Y_star), b,
                  len(X), "∂L/∂b = (1/N) Σ_i (ŷ_i - y*_i), de forme (10,) comme b.")
    return "grad_b coïncide avec les différences finies centrées."


# ---------------------------------------------------------------------- accuracy
@check("test_accuracy")
def predict_and_accuracy(rng):
    """predict is the argmax of each row (reference forward stubbed); accuracy the proportion of
    labels equal to the predictions (reference predict stubbed)."""
    X, W, b, _ = _random_problem(rng, N=60)
    X2, _, _, y2 = _random_problem(rng, N=80, d=X.shape[1])
    W2 = rng.standard_normal(W.shape)
    pred2 = ref.predict(X2, W2, b)
    r_pred, r_acc = yield [
        Call("predict", (X, W, b), stub={"forward": ref.forward(X, W, b), "softmax": ref.forward(X, W, b)}),
        Call("accuracy", (W2, b, X2, y2), stub={"predict": pred2, "forward": ref.forward(X2, W2, b),
                                                "softmax": ref.forward(X2, W2, b)})]
    got, want = as_array("predict(X, W, b)", r_pred.value), ref.predict(X, W, b)
    if got.shape != want.shape:
        fail(f"predict renvoie la forme {got.shape}, attendu {want.shape} (une classe par exemple).",
             "l'argmax est pris sur les exemples (axis=0) : il faut la classe la plus probable de CHAQUE "
             "exemple (axis=1)." if got.shape == (K,) else None)
    if not np.array_equal(got, want):
        fail(f"predict se trompe de classe pour {int(np.sum(got != want))} exemples sur {len(want)}.",
             "la classe prédite est l'indice de la plus grande probabilité de chaque ligne.")
    got, want = as_array("accuracy", r_acc.value), float(np.mean(pred2 == y2))
    hint = named_mistake(got, {"renvoyez une proportion entre 0 et 1, pas un pourcentage.": lambda: 100 * want,
                               "c'est le nombre d'exemples bien classés : divisez par N.": lambda: want * len(y2)})
    check_close("accuracy(W, b, X, y)", got, want, rtol=1e-9, hint=hint or
                "la proportion des exemples dont la classe prédite est égale à l'étiquette y.")
    return "predict et accuracy sont correctes."


# ------------------------------------------------------------------------- train
def _rows(X: np.ndarray) -> dict:
    return {row.tobytes(): i for i, row in enumerate(X)}


def _batch_indices(index: dict, Xb, what: str) -> np.ndarray:
    Xb = as_array(what, Xb)
    try:
        return np.array([index[np.ascontiguousarray(row, dtype=np.float64).tobytes()] for row in Xb], dtype=np.int64)
    except (KeyError, TypeError):
        fail(f"{what} ne sont pas des lignes de X : les mini-lots doivent être X[batch] (sans autre calcul).")


@check("test_train")
def train_steps(rng, n=TRAIN_N, d=TRAIN_D, batch=TRAIN_BATCH, epochs=TRAIN_EPOCHS):
    """train's loop judged by its consequences on a small problem of the grader, every step
    traced: each epoch's mini-batches cover every example once in a new order, with the labels
    of the same rows; each step's forward sees the current weights from W₀ = 0; the returned
    W, b are the start minus pas·Σ(the gradients returned), and those gradients the reference's
    (a wrong gradient is carried forward, not charged here)."""
    X = rng.standard_normal((n, d))
    y = rng.permutation(np.arange(n) % K)
    Xv, yv = rng.standard_normal((20, d)), rng.integers(0, K, size=20)
    lr = float(rng.choice([0.05, 0.1, 0.2]))
    steps = epochs * -(-n // batch)
    [r] = yield [Call("train", (X, y), {"n_epochs": epochs, "batch_size": batch, "lr": lr,
                                        "rng": int(rng.integers(2 ** 31)), "X_test": Xv, "y_test": yv},
                      trace={"gradients": {"calls": steps + 1, "args": ["X", "Y_hat", "Y_star"]},
                             "forward": {"calls": steps + epochs + 1, "args": ["X", "W", "b"]},
                             "one_hot": {"calls": 1}, "accuracy": {}},
                      judge_errors=True)]
    calls = r.traces["gradients"]["calls"]
    if r.error:
        helpers_failed = any(t["errors"] for t in r.traces.values())
        if helpers_failed or not _gradients_are_reference(calls, 1e-6):
            return ("avec vos fonctions forward/gradients/one_hot, l'entraînement lève une erreur "
                    f"({r.error}) : erreur reportée, pas de pénalité ici.")
        fail(r.error_message())
    out = r.value
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("train doit renvoyer le triplet (W, b, test_acc).")
    W, b, history = as_array("W", out[0]), as_array("b", out[1]), out[2]
    if W.shape != (d, K) or b.size != K:
        fail(f"train renvoie W de forme {W.shape} et b de forme {b.shape}, attendu ({d}, 10) et (10,) "
             f"pour X de forme {X.shape}.")
    count = r.traces["gradients"]["count"]
    inline = count == 0          # gradients computed in the loop itself: judged from forward's calls
    if inline:
        calls = _steps_seen_by_forward(r.traces["forward"]["calls"], X, y)
        if not calls:
            fail("train doit calculer les gradients de chaque mini-lot : gradients(X_batch, "
                 "forward(X_batch, W, b), Y_star[batch]).")
        count = len(calls)
    if count != steps:
        hint = None
        if count == epochs:
            hint = ("un seul pas par époque : le calcul des gradients et la mise à jour doivent être DANS "
                    "la boucle sur les mini-lots.")
        fail(f"gradients a été appelée {count} fois pour {epochs} époques de {n} exemples en lots de {batch} "
             f"(attendu {steps} : une fois par mini-lot, le dernier lot peut être plus petit).", hint)
    if len(history) != epochs:
        fail(f"test_acc contient {len(history)} valeurs pour {epochs} époques (une par époque attendue).")
    _judge_batches(calls, X, y, r.traces["one_hot"]["calls"], n, batch, epochs)
    index = _rows(X)       # forward's calls on mini-batches (not those of accuracy on X_test)
    on_batches = [f for f in r.traces["forward"]["calls"] if isinstance(f["args"].get("X"), np.ndarray)
                  and f["args"]["X"].ndim == 2 and len(f["args"]["X"])
                  and np.ascontiguousarray(f["args"]["X"][0], dtype=np.float64).tobytes() in index]
    _judge_steps(calls, on_batches, W, b.reshape(K), lr, d)
    if not inline and not _gradients_are_reference(calls, 1e-6):
        return ("la boucle de train est correcte ; vos gradients ne sont pas ceux de la référence : erreur "
                "reportée, pas de pénalité ici.")
    return f"train : {steps} pas de descente corrects (lots, mélange, mises à jour) sur {epochs} époques."


def _steps_seen_by_forward(forward_calls, X, y) -> list:
    """For a loop that computes its gradients without calling ``gradients``: one step per
    forward call on a mini-batch of X, with the reference gradient at the weights forward saw
    (so the weights of the next step must follow from it), as if ``gradients`` had returned it."""
    index, Y_all, steps = _rows(X), ref.one_hot(y, dtype=np.float64), []
    for f in forward_calls:
        Xb, W, b = (f["args"].get(k) for k in ("X", "W", "b"))
        if not isinstance(Xb, np.ndarray) or Xb.ndim != 2 or not len(Xb) or W is None or b is None \
                or np.ascontiguousarray(Xb[0], dtype=np.float64).tobytes() not in index:
            continue                     # accuracy on X_test, or not a mini-batch
        rows = _batch_indices(index, Xb, "les images passées à forward")
        Xb = np.asarray(Xb, dtype=np.float64)
        Y_hat = ref.forward(Xb, as_array("W", W), as_array("b", b).reshape(-1))
        steps.append({"args": {"X": Xb, "Y_hat": Y_hat, "Y_star": Y_all[rows]},
                      "value": ref.gradients(Xb, Y_hat, Y_all[rows])})
    return steps


def _gradients_are_reference(calls, tol) -> bool:
    """Whether each traced gradients(X, Y_hat, Y_star) call returned the reference's gradients
    of its own arguments."""
    for c in calls:
        args, value = c["args"], c["value"]
        if any(k not in args for k in ("X", "Y_hat", "Y_star")) or not isinstance(value, (tuple, list)) \
                or len(value) != 2:
            return False
        try:
            want = ref.gradients(*(np.asarray(args[k], dtype=np.float64) for k in ("X", "Y_hat", "Y_star")))
            got = [np.asarray(v, dtype=np.float64) for v in value]
        except (TypeError, ValueError):
            return False
        if got[1].shape == (1, K):
            got[1] = got[1].reshape(K)
        if any(g.shape != w.shape or relative_error(g, w) > tol for g, w in zip(got, want)):
            return False
    return bool(calls)


def _judge_batches(calls, X, y, one_hot_calls, n, batch, epochs):
    """Each epoch: every example once, in a new shuffled order, labels of the same rows."""
    index = _rows(X)
    per_epoch = -(-n // batch)
    Y_all = None
    if one_hot_calls and one_hot_calls[0].get("value") is not None:
        Y_all = as_array("one_hot(y)", one_hot_calls[0]["value"])
    if Y_all is None or Y_all.shape != (n, K):
        Y_all = ref.one_hot(y, dtype=np.float64)
    orders = []
    for e in range(epochs):
        idx = []
        for c in calls[e * per_epoch:(e + 1) * per_epoch]:
            if "X" not in c["args"] or "Y_star" not in c["args"]:
                fail("train doit appeler gradients(X_batch, Y_hat, Y_star_batch) (arguments introuvables).")
            rows = _batch_indices(index, c["args"]["X"], "les images passées à gradients")
            Yb = as_array("Y_star du lot", c["args"]["Y_star"])
            if Yb.shape != (len(rows), K) or not np.array_equal(Yb, Y_all[rows]):
                start = len(idx)
                hint = named_mistake(Yb, {
                    "les images du lot sont mélangées mais les étiquettes sont prises dans l'ordre : prenez "
                    "Y_star[batch] avec les MÊMES indices que X[batch].":
                        lambda: Y_all[start:start + batch]}, rtol=0, atol=0)
                fail("les étiquettes Y* passées à gradients ne sont pas celles des images du lot.",
                     hint or "X_batch = X[batch] et Y_star[batch], avec le même tableau d'indices batch.")
            idx.extend(rows.tolist())
        idx = np.array(idx)
        if len(idx) != n or len(set(idx.tolist())) != n:
            fail(f"à l'époque {e + 1}, les mini-lots ne parcourent pas chaque exemple exactement une fois "
                 f"({len(set(idx.tolist()))} exemples distincts vus sur {n}).",
                 "for start in range(0, N, batch_size): batch = order[start:start + batch_size].")
        orders.append(idx)
    if any(np.array_equal(o, np.arange(n)) for o in orders) or \
            any(np.array_equal(a, b) for a, b in zip(orders, orders[1:])):
        fail("les exemples ne sont pas mélangés (ou pas de nouvel ordre à chaque époque).",
             "à chaque époque, tirez un nouvel ordre order = rng.permutation(N) et parcourez les lots "
             "dans cet ordre : des mini-lots d'exemples consécutifs (par exemple tous de la même classe) "
             "biaisent la descente.")


def _judge_steps(calls, forward_calls, W, b, lr, d):
    """Weights seen by forward at each step and returned at the end: W₀ = 0 minus pas times the
    sum of the gradients gradients returned so far."""
    gW = [as_array("grad_W", c["value"][0]) if isinstance(c["value"], (tuple, list)) and len(c["value"]) == 2
          else fail("gradients doit renvoyer le couple (grad_W, grad_b).") for c in calls]
    gb = [as_array("grad_b", c["value"][1]).reshape(-1) for c in calls]
    if any(g.shape != (d, K) for g in gW) or any(g.shape != (K,) for g in gb):
        fail("train a reçu des gradients de forme inattendue.")
    Wt, bt = np.zeros((d, K)), np.zeros(K)
    for t, f in enumerate(forward_calls[:len(calls)]):
        if "W" in f["args"] and "b" in f["args"]:
            Wf, bf = as_array("W", f["args"]["W"]), as_array("b", f["args"]["b"]).reshape(-1)
            if Wf.shape != Wt.shape or not np.allclose(Wf, Wt, rtol=STEP_TOL, atol=1e-12) \
                    or not np.allclose(bf, bt, rtol=STEP_TOL, atol=1e-12):
                hint = None
                if t == 0:
                    hint = "au départ W et b doivent être nuls (le code donné : np.zeros)."
                elif np.allclose(Wf, lr * sum(gW[:t]), rtol=1e-6, atol=1e-12):
                    hint = "la mise à jour monte le long du gradient : W ← W - pas·grad_W (signe -)."
                fail(f"au pas {t + 1}, forward ne reçoit pas les poids attendus W₀ - pas·Σ(gradients précédents).",
                     hint or "mettez à jour W et b en place après chaque mini-lot : W -= lr * grad_W ; b -= lr * grad_b.")
        Wt, bt = Wt - lr * gW[t], bt - lr * gb[t]
    for name, got, want, g in (("W", W, Wt, gW), ("b", b, bt, gb)):
        if not np.allclose(got, want, rtol=STEP_TOL, atol=1e-12):
            hint = named_mistake(got, {
                "la mise à jour monte le long du gradient : W ← W - pas·grad_W (signe -).": lambda g=g: lr * sum(g),
                f"{name} n'est jamais mis à jour.": lambda: np.zeros_like(want)}, rtol=1e-6, atol=1e-12)
            fail(f"le {name} renvoyé n'est pas {name}₀ - pas·Σ(gradients renvoyés par gradients) "
                 f"après {len(calls)} pas.",
                 hint or f"{name} -= lr * grad_{name} après chaque mini-lot, puis renvoyez {name}.")


# ---------------------------------------------------------------- final accuracy
@check("test_final_accuracy")
def final_accuracy(rng):
    """The student's train and functions, on MNIST training images drawn here (the notebook's
    recipe, a few epochs): accuracy of the returned W, b measured here on the 10 000 test images.
    The images go to the kernel as uint8 pixels, received as the notebook's float32 pixels / 255."""
    pixels, y = mnist(True, pixels=True)
    pick = rng.choice(len(pixels), size=FINAL_SIZE + FINAL_VALIDATION, replace=False)
    train_idx, val_idx = pick[:FINAL_SIZE], pick[FINAL_SIZE:]
    [r] = yield [Call("train", (Pixels(pixels[train_idx]), y[train_idx]),
                      {"n_epochs": FINAL_EPOCHS, "batch_size": 100, "lr": 0.1, "rng": int(rng.integers(2 ** 31)),
                       "X_test": Pixels(pixels[val_idx]), "y_test": y[val_idx]})]
    out = r.value
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("train doit renvoyer le triplet (W, b, test_acc).")
    W, b = as_array("W", out[0]), as_array("b", out[1])
    if W.shape != (784, K) or b.size != K:
        fail(f"train renvoie W de forme {W.shape} et b de forme {b.shape}, attendu (784, 10) et (10,).")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        fail("W ou b contient des valeurs infinies ou NaN : l'apprentissage a divergé.")
    Xt, yt = mnist(False)
    acc = ref.accuracy(W, b.reshape(K), Xt.astype(np.float64), yt)
    if acc < FINAL_MIN_ACCURACY:
        fail(f"train sur {FINAL_SIZE} images d'apprentissage, {FINAL_EPOCHS} époques (lots de 100, pas 0.1) : "
             f"le modèle obtenu classe correctement {acc:.2%} des 10 000 images de test, attendu au moins "
             f"{FINAL_MIN_ACCURACY:.0%}.",
             "vérifiez dans l'ordre les tests de one_hot, softmax, forward, des gradients et de train.")
    return (f"précision sur les 10 000 images de test après {FINAL_EPOCHS} époques sur {FINAL_SIZE} "
            f"images : {acc:.2%}.")


# ------------------------------------------------------------------ calibration
def calibrate(n_seeds=20, first_seed=0):
    """Test accuracies of the reference recipe of test_final_accuracy over seeds."""
    X, y = mnist(True)
    Xt, yt = mnist(False)
    accs = []
    for s in range(first_seed, first_seed + n_seeds):
        rng = np.random.default_rng(s)
        pick = rng.choice(len(X), size=FINAL_SIZE + FINAL_VALIDATION, replace=False)[:FINAL_SIZE]
        W, b = ref.train(X[pick], y[pick], n_epochs=FINAL_EPOCHS, rng=int(rng.integers(2 ** 31)))
        accs.append(ref.accuracy(W, b, Xt, yt))
    return np.array(accs)


def calibration(seeds: int = 20, first_seed: int = 0) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    return {f"accuracy, {FINAL_SIZE} images, {FINAL_EPOCHS} epochs (test_final_accuracy)":
            (calibrate(seeds, first_seed), FINAL_MIN_ACCURACY)}
