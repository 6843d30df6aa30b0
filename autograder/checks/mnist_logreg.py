"""Hidden tests of assignment 04 (MNIST logistic regression written with numpy).

Every check draws fresh data with :func:`common.new_rng` (replay one run with
``NNCOURSE_TEST_SEED=<graine>``) and compares the student's function with the reference
below (or with centered differences, in float64, for the gradients). A check tests one
function: the notebook functions it calls are swapped for the reference ones while it
runs (:func:`reference_helpers`), so a mistake costs points where it is made.

Calibration of the two accuracy thresholds::

    python -m autograder calibrate 04_mnist_logreg --seeds 20
"""

from __future__ import annotations


import numpy as np

from .common import (CheckFailed, call_student, check_close, fail, grad_check, likely_mistake,
                     new_rng, passed, swapped_globals)

__all__ = ["CheckFailed", "check_one_hot", "check_softmax", "check_forward", "check_cross_entropy",
           "check_grad_W", "check_grad_b", "check_accuracy", "check_train", "check_final_accuracy",
           "check_confusion_matrix", "FINAL_MIN_ACCURACY", "SORTED_MIN_ACCURACY"]

K = 10
GRAD_TOL = 1e-6

# Graded accuracies, calibrated with ``python -m autograder calibrate 04_mnist_logreg --seeds 20`` (reference in numpy float32,
# seeds 0-19, on the 10 000 test images):
# 1. The notebook's recipe (batch 100, lr 0.1, 20 epochs, W = 0, b = 0), graded on the
#    student's own W, b: min 92.04 %, median 92.29 %, max 92.41 % (the notebook's rng=0:
#    92.28 %). Threshold 91.5 %, half a point under the minimum. Wrong answers (8 seeds):
#    1/N missing in grad_W 87.2-91.1 % (chaotic: the step on W is 100 times too big), in
#    both gradients 86.7-91.1 %: below. 1/N missing in grad_b only 92.0-92.3 %, no
#    shuffling 92.24 %: above (MNIST is not sorted; test_train catches it).
FINAL_MIN_ACCURACY = 0.915
# 2. The student's train() re-run with reference helpers on SORTED_SIZE training images
#    sorted by class, SORTED_EPOCHS epochs, fresh seed: shuffled min 89.47 %, median 89.66 %,
#    max 89.80 %; the same loop without shuffling: min 20.5 %, median 21.6 %, max 22.8 %.
SORTED_SIZE = 20000
SORTED_EPOCHS = 2
SORTED_MIN_ACCURACY = 0.85


# --------------------------------------------------------------------------- reference
def ref_one_hot(y, K=K, dtype=np.float32):
    Y = np.zeros((len(y), K), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y


def ref_softmax(S):
    E = np.exp(S - S.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def ref_forward(X, W, b):
    return ref_softmax(X @ W + b)


def ref_cross_entropy(Y_hat, Y_star):
    return float(-np.mean(np.sum(Y_star * np.log(np.clip(Y_hat, 1e-12, 1.0)), axis=1)))


def ref_gradients(X, Y_hat, Y_star):
    delta = Y_hat - Y_star
    return X.T @ delta / len(X), delta.mean(axis=0)


def ref_predict(X, W, b):
    return np.argmax(X @ W + b, axis=1)


def ref_accuracy(W, b, X, y):
    return float(np.mean(ref_predict(X, W, b) == y))


def ref_confusion_matrix(y_true, y_pred, K=K):
    return np.bincount(K * np.asarray(y_true) + np.asarray(y_pred), minlength=K * K).reshape(K, K)


def ref_train(X, y, n_epochs=20, batch_size=100, lr=0.1, rng=0, shuffle=True):
    rng = np.random.default_rng(rng)
    N, d = X.shape
    W = np.zeros((d, K), dtype=X.dtype)
    b = np.zeros(K, dtype=X.dtype)
    Y_star = ref_one_hot(y)
    for _ in range(n_epochs):
        order = rng.permutation(N) if shuffle else np.arange(N)
        for start in range(0, N, batch_size):
            batch = order[start:start + batch_size]
            gW, gb = ref_gradients(X[batch], ref_forward(X[batch], W, b), Y_star[batch])
            W -= lr * gW
            b -= lr * gb
    return W, b


REFERENCE_HELPERS = {
    "one_hot": lambda y, K=K: ref_one_hot(y, K),
    "softmax": ref_softmax, "forward": ref_forward, "cross_entropy": ref_cross_entropy,
    "gradients": ref_gradients, "predict": ref_predict, "accuracy": ref_accuracy,
    "confusion_matrix": ref_confusion_matrix,
}


def reference_helpers(fn, names):
    """While inside, the notebook functions ``names`` that ``fn`` may call are the reference ones."""
    return swapped_globals(fn, {n: REFERENCE_HELPERS[n] for n in names})


_MNIST = {}


def _mnist(train):
    """MNIST through the course's data layer, read once per kernel."""
    if train not in _MNIST:
        from nncourse.data import load_mnist_numpy
        _MNIST[train] = load_mnist_numpy(train=train)
    return _MNIST[train]


def _as_array(name, value, dtype=np.float64):
    if value is None:
        fail(f"{name} : votre fonction a renvoyé None (oubli du return ?).")
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        fail(f"{name} : la valeur renvoyée n'est pas un tableau de nombres ({type(value).__name__}).")


def _random_problem(rng, N=None, d=None):
    """A small float64 batch: X (N, d), W (d, K), b (K,), labels with N != d != K."""
    N = N or int(rng.integers(13, 21))
    d = d or int(rng.integers(4, 9))
    X = rng.standard_normal((N, d))
    W = 0.8 * rng.standard_normal((d, K))
    b = 0.5 * rng.standard_normal(K)
    y = rng.integers(0, K, size=N)
    return X, W, b, y


# ------------------------------------------------------------------------- checks
def check_one_hot(one_hot):
    rng, seed = new_rng()
    for k in (K, int(rng.integers(3, 7))):
        y = rng.integers(0, k, size=int(rng.integers(12, 30)))
        y[:k] = rng.permutation(k)             # every class present
        got = _as_array(f"one_hot(y, K={k})", call_student(one_hot, y.copy(), k, what="one_hot"))
        want = ref_one_hot(y, k)
        hint = None
        if got.shape == want.T.shape:
            hint = "le résultat doit avoir une LIGNE par exemple et une colonne par classe : forme (N, K)."
        elif got.shape == want.shape and np.all(got.sum(axis=1) != 1):
            hint = ("chaque ligne doit contenir exactement un 1 (à la colonne y[i]) : "
                    "Y[np.arange(N), y] = 1, et non Y[:, y] = 1.")
        check_close(f"one_hot(y, K={k}) (graine {seed})", got, want, rtol=0, atol=0,
                    hint=hint or "Y[i, c] = 1 si y[i] == c, 0 sinon.")
    passed(f"one_hot est correcte (graine {seed}).")


def check_softmax(softmax):
    rng, seed = new_rng()
    N = int(rng.integers(12, 20))
    S = rng.uniform(-4, 4, size=(N, K))
    got = _as_array("softmax(S)", call_student(softmax, S.copy(), what="softmax"))
    want = ref_softmax(S)
    hint = None
    if got.shape == want.shape and np.allclose(got.sum(axis=0), 1) and not np.allclose(got.sum(axis=1), 1):
        hint = ("ce sont les COLONNES qui somment à 1 : la somme doit porter sur les classes de "
                "chaque exemple (axis=1, keepdims=True), pas sur les exemples.")
    check_close(f"softmax(S) pour des scores modérés (graine {seed})", got, want, rtol=1e-9,
                atol=1e-12, hint=hint or likely_mistake(got, want) or "softmax(s)_c = exp(s_c) / Σ_c' exp(s_c').")
    # Scores of very different sizes from one row to the next: exp overflows without care.
    offsets = rng.uniform(-2000, 2000, size=(N, 1))
    offsets[0, 0], offsets[1, 0] = 1500.0, -1500.0
    S = rng.uniform(-4, 4, size=(N, K)) + offsets
    with np.errstate(all="ignore"):
        got = _as_array("softmax(S)", call_student(softmax, S.copy(), what="softmax"))
    want = ref_softmax(S)
    hint = None
    if not np.all(np.isfinite(got)):
        row_max_ok = np.isfinite(got[0]).all()
        hint = ("exp déborde (inf, puis NaN) pour de grands scores. Soustrayez à chaque ligne son "
                "maximum avant l'exponentielle : le résultat est le même et exp ne dépasse jamais 1.")
        if row_max_ok:
            hint = ("soustraire le maximum GLOBAL ne suffit pas : pour une ligne dont les scores sont "
                    "très inférieurs à ce maximum, toutes les exponentielles valent 0 (0/0 = NaN). "
                    "Soustrayez le maximum de CHAQUE ligne (S.max(axis=1, keepdims=True)).")
    check_close(f"softmax(S) pour des scores de l'ordre de ±2000 (graine {seed})", got, want,
                rtol=1e-9, atol=1e-12, hint=hint)
    passed(f"softmax est correcte et stable numériquement (graine {seed}).")


def check_forward(forward):
    rng, seed = new_rng()
    X, W, b, _ = _random_problem(rng)
    with reference_helpers(forward, ["softmax"]):
        got = _as_array("forward(X, W, b)", call_student(forward, X.copy(), W.copy(), b.copy(), what="forward"))
    want = ref_forward(X, W, b)
    hint = likely_mistake(got, want)
    if got.shape == want.shape and np.allclose(got, ref_forward(X, W, 0 * b)):
        hint = "le biais b est oublié : s = X W + b."
    elif got.shape == want.shape and np.allclose(got, X @ W + b):
        hint = "forward doit renvoyer les probabilités softmax(X W + b), pas les scores."
    check_close(f"forward(X, W, b) (graine {seed})", got, want, rtol=1e-9, atol=1e-12,
                hint=hint or "Ŷ = softmax(X @ W + b), de forme (N, 10).")
    passed(f"forward est correcte (graine {seed}).")


def check_cross_entropy(cross_entropy):
    rng, seed = new_rng()
    X, W, b, y = _random_problem(rng)
    Y_hat, Y_star = ref_forward(X, W, b), ref_one_hot(y).astype(np.float64)
    got = call_student(cross_entropy, Y_hat.copy(), Y_star.copy(), what="cross_entropy")
    got = _as_array("cross_entropy", got)
    want = ref_cross_entropy(Y_hat, Y_star)
    if got.size != 1:
        fail(f"cross_entropy doit renvoyer un nombre (la moyenne sur les exemples), reçu un tableau "
             f"de forme {got.shape}.", "sommez sur les classes (axis=1) puis moyennez sur les exemples.")
    got = float(got.reshape(()))
    hint = likely_mistake(got, want, n_examples=len(X))
    if np.isclose(got, want / K, rtol=1e-6):
        hint = ("np.mean sur tout le tableau (N × 10 cases) divise par 10 de trop : sommez sur les "
                "classes, puis moyennez sur les N exemples.")
    check_close(f"cross_entropy (graine {seed})", got, want, rtol=1e-6, hint=hint or
                "L = -(1/N) Σ_i Σ_c y*_ic log(ŷ_ic) (un nombre, moyenne sur les N exemples).")
    passed(f"cross_entropy est correcte (graine {seed}).")


def _student_gradients(gradients, X, W, b, y):
    Y_hat, Y_star = ref_forward(X, W, b), ref_one_hot(y).astype(np.float64)
    out = call_student(gradients, X.copy(), Y_hat.copy(), Y_star.copy(), what="gradients")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("gradients doit renvoyer le couple (grad_W, grad_b).")
    return out, Y_star


def check_grad_W(gradients):
    rng, seed = new_rng()
    X, W, b, y = _random_problem(rng)
    (grad_W, _), Y_star = _student_gradients(gradients, X, W, b, y)
    grad_W = _as_array("grad_W", grad_W)
    W0 = W.copy()
    grad_check("grad_W = ∂L/∂W", grad_W, lambda v: ref_cross_entropy(ref_forward(X, v, b), Y_star), W0,
               tol=GRAD_TOL, n_examples=len(X), seed=seed,
               hint="∂L/∂W = (1/N) Xᵀ (Ŷ - Y*), de forme (784, 10) comme W.")
    passed(f"grad_W est correct : il coïncide avec les différences finies (graine {seed}).")


def check_grad_b(gradients):
    rng, seed = new_rng()
    X, W, b, y = _random_problem(rng)
    (_, grad_b), Y_star = _student_gradients(gradients, X, W, b, y)
    grad_b = _as_array("grad_b", grad_b)
    if grad_b.shape == (1, K):            # the lab's (1, 10) row also works with a (10,) b
        grad_b = grad_b.reshape(K)
    if grad_b.shape == (len(X),):
        fail(f"grad_b a la forme {grad_b.shape} : une valeur par exemple au lieu d'une par classe (10,).",
             "la somme (ou la moyenne) doit porter sur les exemples (axis=0), pas sur les classes.")
    if grad_b.shape != (K,):
        fail(f"grad_b a la forme {grad_b.shape}, attendu (10,) comme b.",
             "∂L/∂b = (1/N) Σ_i (ŷ_i - y*_i) : la moyenne des lignes de Δ = Ŷ - Y* (axis=0).")
    hint = None
    grad_check("grad_b = ∂L/∂b", grad_b, lambda v: ref_cross_entropy(ref_forward(X, W, v), Y_star),
               b.copy(), tol=GRAD_TOL, n_examples=len(X), seed=seed,
               hint=hint or "∂L/∂b = (1/N) Σ_i (ŷ_i - y*_i), de forme (10,) comme b.")
    passed(f"grad_b est correct : il coïncide avec les différences finies (graine {seed}).")


def check_accuracy(predict, accuracy):
    rng, seed = new_rng()
    X, W, b, y = _random_problem(rng, N=60)
    with reference_helpers(predict, ["forward", "softmax"]):
        got = _as_array("predict(X, W, b)", call_student(predict, X.copy(), W.copy(), b.copy(), what="predict"))
    want = ref_predict(X, W, b)
    if got.shape != want.shape:
        hint = None
        if got.shape == (K,):
            hint = "l'argmax est pris sur les exemples (axis=0) : il faut la classe la plus probable de CHAQUE exemple (axis=1)."
        fail(f"predict renvoie la forme {got.shape}, attendu {want.shape} (une classe par exemple).", hint)
    if not np.array_equal(got, want):
        fail(f"predict se trompe de classe pour {int(np.sum(got != want))} exemples sur {len(want)} "
             f"(graine {seed}).", "la classe prédite est l'indice de la plus grande probabilité de chaque ligne.")
    y = rng.integers(0, K, size=80)
    W = rng.standard_normal((X.shape[1], K))
    X = rng.standard_normal((80, X.shape[1]))
    with reference_helpers(accuracy, ["forward", "softmax", "predict"]):
        got = call_student(accuracy, W.copy(), b.copy(), X.copy(), y.copy(), what="accuracy")
    want = ref_accuracy(W, b, X, y)
    got = _as_array("accuracy", got)
    hint = None
    if got.size == 1 and np.isclose(float(got.reshape(())), 100 * want):
        hint = "renvoyez une proportion entre 0 et 1, pas un pourcentage."
    check_close(f"accuracy(W, b, X, y) (graine {seed})", got, want, rtol=1e-9, hint=hint or
                "la proportion des exemples dont la classe prédite est égale à l'étiquette y.")
    passed(f"predict et accuracy sont correctes (graine {seed}).")


def _sorted_subset(rng, size=SORTED_SIZE):
    X, y = _mnist(True)
    idx = np.sort(rng.choice(len(X), size=size, replace=False))
    idx = idx[np.argsort(y[idx], kind="stable")]   # all the 0s, then all the 1s, ...
    return X[idx], y[idx]


def check_train(train):
    """The student's loop, with reference helpers, on training images sorted by class."""
    rng, seed = new_rng()
    Xs, ys = _sorted_subset(rng)
    Xt, yt = _mnist(False)
    run_seed = int(rng.integers(2 ** 31))
    names = list(REFERENCE_HELPERS)
    with reference_helpers(train, names), np.errstate(all="ignore"):
        out = call_student(train, Xs, ys, n_epochs=SORTED_EPOCHS, batch_size=100, lr=0.1,
                           rng=run_seed, X_test=Xt, y_test=yt, what="train")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("train doit renvoyer le triplet (W, b, test_acc).")
    W, b, history = out
    W, b = _as_array("W", W), _as_array("b", b)
    if W.shape != (784, K) or b.size != K:
        fail(f"train renvoie W de forme {W.shape} et b de forme {b.shape}, attendu (784, 10) et (10,).")
    if len(history) != SORTED_EPOCHS:
        fail(f"test_acc contient {len(history)} valeurs pour {SORTED_EPOCHS} époques (une par époque attendue).")
    acc = ref_accuracy(W, b.reshape(K), Xt, yt) if np.all(np.isfinite(W)) else 0.0
    if acc < SORTED_MIN_ACCURACY:
        hint = ("à chaque époque : tirez un nouvel ordre des exemples (rng.permutation(N)), "
                "parcourez TOUS les mini-lots de cet ordre, prenez les lignes de X ET de Y* aux mêmes "
                "indices, et faites un pas de DESCENTE (W ← W - pas·grad_W, de même pour b).")
        with reference_helpers(train, names), np.errstate(all="ignore"):
            W2, _, _ = call_student(train, Xs, ys, n_epochs=1, batch_size=100, lr=0.1,
                                    rng=run_seed + 1, what="train")
            W3, _, _ = call_student(train, Xs, ys, n_epochs=1, batch_size=100, lr=0.1,
                                    rng=run_seed + 2, what="train")
        if np.array_equal(np.asarray(W2), np.asarray(W3)):
            hint = ("deux entraînements avec des graines différentes donnent exactement les mêmes poids : "
                    "les exemples ne sont pas mélangés. Ici les images sont rangées par classe (tous "
                    "les 0, puis tous les 1...) : sans mélange, les derniers mini-lots ne contiennent "
                    "que des 9 et le modèle oublie le reste. Tirez order = rng.permutation(N) à chaque époque.")
        fail(f"train sur {SORTED_SIZE} images d'apprentissage rangées par classe, {SORTED_EPOCHS} époques "
             f"(lots de 100, pas 0.1) : précision sur le test {acc:.1%}, attendu au moins "
             f"{SORTED_MIN_ACCURACY:.0%} (graine {seed}).", hint)
    passed(f"train fonctionne même sur des données rangées par classe : précision test {acc:.1%} "
           f"après {SORTED_EPOCHS} époques (graine {seed}).")


def check_final_accuracy(W, b):
    """The W, b the student trained in the notebook, evaluated here on the test set."""
    Xt, yt = _mnist(False)
    W = _as_array("W", W)
    b = _as_array("b", b)
    if W.shape != (784, K) or b.size != K:
        fail(f"W de forme {W.shape} et b de forme {b.shape}, attendu (784, 10) et (10,).")
    if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
        fail("W ou b contient des valeurs infinies ou NaN : l'apprentissage a divergé.")
    acc = ref_accuracy(W, b.reshape(K), Xt.astype(np.float64), yt)
    if acc < FINAL_MIN_ACCURACY:
        fail(f"votre modèle (W, b) classe correctement {acc:.2%} des 10 000 images de test ; la recette "
             f"(lots de 100, pas 0.1, 20 époques) donne environ 92.2 %, attendu au moins "
             f"{FINAL_MIN_ACCURACY:.1%}.",
             "vérifiez dans l'ordre les tests de forward, des gradients (facteur 1/N ?) et de train.")
    passed(f"précision de votre modèle sur les 10 000 images de test : {acc:.2%}.")


def check_confusion_matrix(confusion_matrix):
    rng, seed = new_rng()
    for k, n in ((K, 300), (int(rng.integers(3, 6)), 40)):
        y_true = rng.integers(0, k, size=n)
        y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, k, size=n))
        got = _as_array(f"confusion_matrix (K={k})",
                        call_student(confusion_matrix, y_true.copy(), y_pred.copy(), k, what="confusion_matrix"))
        want = ref_confusion_matrix(y_true, y_pred, k)
        hint = None
        if got.shape == want.shape and np.array_equal(got, want.T):
            hint = "la matrice est transposée : ligne = vraie classe, colonne = classe prédite."
        elif got.shape == want.shape and np.isclose(got.sum(), 1.0):
            hint = "on attend des effectifs (des comptes), pas des proportions."
        check_close(f"confusion_matrix(y_true, y_pred, K={k}) (graine {seed})", got, want, rtol=0,
                    atol=0, hint=hint or "C[i, j] = nombre d'exemples de vraie classe i prédits j.")
    passed(f"confusion_matrix est correcte (graine {seed}).")


# ------------------------------------------------------------------ calibration
def calibrate(n_seeds=20, first_seed=0):
    """Accuracies of the reference over seeds: (final recipe, sorted test, sorted test unshuffled)."""
    import time

    X, y = _mnist(True)
    Xt, yt = _mnist(False)
    final, sorted_ok, sorted_bad = [], [], []
    t0 = time.time()
    for s in range(first_seed, first_seed + n_seeds):
        W, b = ref_train(X, y, n_epochs=20, rng=s)
        final.append(ref_accuracy(W, b, Xt, yt))
        rng = np.random.default_rng(s)
        Xs, ys = _sorted_subset(rng)
        run_seed = int(rng.integers(2 ** 31))
        W, b = ref_train(Xs, ys, n_epochs=SORTED_EPOCHS, rng=run_seed)
        sorted_ok.append(ref_accuracy(W, b, Xt, yt))
        W, b = ref_train(Xs, ys, n_epochs=SORTED_EPOCHS, rng=run_seed, shuffle=False)
        sorted_bad.append(ref_accuracy(W, b, Xt, yt))
    print(f"{n_seeds} seeds, {time.time() - t0:.0f} s")
    return np.array(final), np.array(sorted_ok), np.array(sorted_bad)


def calibration(seeds: int = 20, first_seed: int = 0) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}.
    The last row is the mistake the sorted-subset check exists for: it must fall below."""
    final, ok, bad = calibrate(seeds, first_seed)
    return {"accuracy, recipe, 20 epochs (final test)": (final, FINAL_MIN_ACCURACY),
            f"accuracy, sorted {SORTED_SIZE}, {SORTED_EPOCHS} epochs, shuffled": (ok, SORTED_MIN_ACCURACY),
            f"accuracy, sorted {SORTED_SIZE}, {SORTED_EPOCHS} epochs, NOT shuffled (must fail)": (bad, SORTED_MIN_ACCURACY)}
