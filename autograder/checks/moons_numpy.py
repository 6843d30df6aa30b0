"""Hidden tests of assignment 01 (two-layer network on the moons, numpy by hand).

Every check draws fresh data with :func:`common.new_rng` (replay one run with
``NNCOURSE_TEST_SEED=<graine>``), compares the student's code with centered differences
or with the reference in :mod:`two_layer_reference`, and fails with a French message.

A check tests one function: the functions it calls are swapped for the reference ones
while it runs (:func:`reference_helpers`), so a mistake costs points where it is made.
"""

from __future__ import annotations


import numpy as np

from . import two_layer_reference as ref
from .common import (CheckFailed, as_array, call_student, check_close, fail, likely_mistake, new_rng,
                     numerical_gradient, passed, relative_error, swapped_globals, trained_parameters)

__all__ = ["CheckFailed", "check_err", "check_gradient_step", "check_backprop_f1",
           "check_backprop_f2", "check_numerical_gradient", "check_forward", "check_bce_loss",
           "check_derivative", "check_relu", "check_predict", "check_train",
           "TRAIN_ITERATIONS", "TRAIN_MIN_ACCURACY", "HELDOUT_MIN_ACCURACY"]

GRAD_TOL = 1e-5          # relative error allowed between a derivative and centered differences

# Graded training (calibrated with ``python -m autograder.checks.moons_numpy --calibrate``):
# the TP3 recipe (d=10, lr=0.01, summed loss, W ~ 0.01 N(0,1), b = 0) run for
# TRAIN_ITERATIONS reaches 100 % on the training and held-out moons for every seed tried.
TRAIN_ITERATIONS = 6000
TRAIN_MIN_ACCURACY = 0.97
HELDOUT_MIN_ACCURACY = 0.95

DERIVATIVE_LABELS = {
    "yhat": "∂L/∂ŷ", "Z2": "∂L/∂Z2", "W2": "∂L/∂W2", "b2": "∂L/∂b2",
    "A1": "∂L/∂A1", "Z1": "∂L/∂Z1", "W1": "∂L/∂W1", "b1": "∂L/∂b1",
}


# --------------------------------------------------------------------------- helpers
def _ref_forward(X, params, activation="tanh"):
    return ref.forward(X, params, activation)


def _ref_backward(X, y, params, cache, activation="tanh"):
    return ref.backward(X, y, params, cache, activation)


def _ref_bce_loss(yhat, y):
    return ref.loss(yhat, y)


def _ref_err(a, x=3.0):
    return a ** 2 + a * x + 1.0


def _ref_err_prime(a, x=3.0):
    return 2.0 * a + x


REFERENCE_HELPERS = {
    "forward": _ref_forward, "backward": _ref_backward, "bce_loss": _ref_bce_loss,
    "sigmoid": ref.sigmoid, "relu": lambda z: np.maximum(z, 0.0),
    "err": _ref_err, "err_prime": _ref_err_prime,
}


def reference_helpers(fn, names):
    """While inside, the notebook functions ``names`` that ``fn`` may call are the reference ones."""
    return swapped_globals(fn, {n: REFERENCE_HELPERS[n] for n in names})


def _random_problem(rng, M=None, d=None):
    """Random inputs (2, M), labels (1, M) with both classes, parameters with non-zero biases."""
    M = M or int(rng.integers(9, 14))
    d = d or int(rng.integers(3, 7))       # always d < M: a sum on the wrong axis changes the shape
    X = rng.standard_normal((2, M))
    y = np.zeros((1, M))
    y[0, rng.permutation(M)[: M // 2]] = 1.0
    params = ref.random_params(d, rng, scale=0.7)
    return X, y, params


def _copy(d):
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in d.items()}


# ----------------------------------------------------------------- 1. warm-up
def check_err(err, err_prime):
    rng, seed = new_rng()
    for _ in range(5):
        a, x = rng.uniform(-10, 10, size=2)
        got = call_student(err, a, x, what="err")
        check_close(f"err({a:.3f}, x={x:.3f})", got, _ref_err(a, x), rtol=1e-9,
                    hint="Err(a) = a² + a·x + 1.")
        got = call_student(err_prime, a, x, what="err_prime")
        check_close(f"err_prime({a:.3f}, x={x:.3f})", got, _ref_err_prime(a, x), rtol=1e-9,
                    hint="dérivez a² + a·x + 1 par rapport à a (x est une constante).")
    passed(f"err et err_prime sont correctes (graine {seed}).")


def check_gradient_step(gradient_step):
    rng, seed = new_rng()
    for _ in range(5):
        a, grad = rng.uniform(-10, 10, size=2)
        lr = rng.uniform(0.01, 0.5)
        got = call_student(gradient_step, a, grad, lr, what="gradient_step")
        hint = None
        if np.isclose(got, a + lr * grad):
            hint = "vous montez le long du gradient : il faut aller dans la direction opposée (a - pas·Err'(a))."
        elif np.isclose(got, -lr * grad):
            hint = "la fonction renvoie le déplacement, pas la nouvelle valeur de a."
        elif np.isclose(got, a - grad / lr):
            hint = "le pas multiplie la dérivée (a - pas·Err'(a)), il ne la divise pas."
        check_close(f"gradient_step(a={a:.3f}, grad={grad:.3f}, lr={lr:.3f})", got, a - lr * grad,
                    rtol=1e-9, hint=hint)
    passed(f"gradient_step fait bien un pas de descente (graine {seed}).")


# ----------------------------------------------------------- 1b. backprop by hand
def _f1(v):
    return (2 * v[0] + 5 * v[1]) * (3 * v[0] * v[1])


def _f2(v):
    return (v[0] * v[1] + abs(v[1])) ** 2


def _check_hand(fname, f_forward, f_backward, ref_f, ref_forward, rng, seed):
    for k in range(4):
        # both signs of x1 every time (|x1| has two branches), never near 0 (not differentiable)
        x0 = rng.uniform(-4, 4)
        x1 = (1.0 if k % 2 else -1.0) * rng.uniform(0.2, 4)
        out = call_student(f_forward, x0, x1, what=f"{fname}_forward")
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            fail(f"{fname}_forward doit renvoyer le triplet (y0, y1, f) ; reçu {out!r}.")
        for label, got, want in zip(("y0", "y1", "f"), out, ref_forward(x0, x1)):
            check_close(f"{fname}_forward({x0:.3f}, {x1:.3f}) : {label}", got, want, rtol=1e-9)
        got = as_array(f"{fname}_backward", call_student(f_backward, x0, x1, what=f"{fname}_backward"))
        point = np.array([x0, x1])
        numeric = numerical_gradient(ref_f, point.copy(), 1e-6)
        if got.shape != (2,):
            fail(f"{fname}_backward({x0:.3f}, {x1:.3f}) a la forme {got.shape}, attendu (2,) : "
                 f"le vecteur (∂f/∂x0, ∂f/∂x1).")
        if relative_error(got, numeric) > 1e-6:
            which = [n for n, g, w in zip(("∂f/∂x0", "∂f/∂x1"), got, numeric)
                     if not np.isclose(g, w, rtol=1e-5, atol=1e-6)]
            fail(f"{fname}_backward({x0:.3f}, {x1:.3f}) = {np.round(got, 4)}, attendu "
                 f"{np.round(numeric, 4)} (graine {seed}).",
                 f"{' et '.join(which)} faux : n'oubliez aucun chemin du graphe de calcul "
                 f"(règle de dérivation en chaîne, somme sur tous les yj qui dépendent de xi).")


def check_backprop_f1(f1_forward, f1_backward):
    rng, seed = new_rng()

    def forward1(x0, x1):
        y0, y1 = 2 * x0 + 5 * x1, 3 * x0 * x1
        return y0, y1, y0 * y1

    _check_hand("f1", f1_forward, f1_backward, _f1, forward1, rng, seed)
    passed(f"f1 : passe avant et rétropropagation correctes en des points aléatoires (graine {seed}).")


def check_backprop_f2(f2_forward, f2_backward):
    rng, seed = new_rng()

    def forward2(x0, x1):
        y0, y1 = x0 * x1, abs(x1)
        return y0, y1, (y0 + y1) ** 2

    _check_hand("f2", f2_forward, f2_backward, _f2, forward2, rng, seed)
    passed(f"f2 : passe avant et rétropropagation correctes en des points aléatoires (graine {seed}).")


# ------------------------------------------------------ 1c. numerical gradient
def check_numerical_gradient(student_numerical_gradient):
    rng, seed = new_rng()
    shape = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    c = rng.standard_normal(shape)

    def f(v):  # strongly curved: forward differences are visibly off
        return float(np.sum(c * v ** 3) + np.sum(v ** 2) * np.sum(v))

    x = rng.uniform(-2, 2, size=shape)
    x_before = x.copy()
    eps = 1e-3
    got = call_student(student_numerical_gradient, f, x, eps, what="numerical_gradient")
    if not np.allclose(x, x_before, rtol=0, atol=1e-12):
        fail("numerical_gradient modifie le tableau x qu'on lui passe : après l'appel, x n'a plus "
             "sa valeur de départ.", "remettez chaque coordonnée à sa valeur initiale après les deux évaluations.")
    got = as_array("numerical_gradient", got)
    if got.shape != x.shape:
        fail(f"numerical_gradient renvoie la forme {got.shape}, attendu {x.shape} (celle de x).")
    centered = np.zeros_like(x)
    forward_diff = np.zeros_like(x)
    fx = f(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        centered[i] = (f(x + e) - f(x - e)) / (2 * eps)
        forward_diff[i] = (f(x + e) - fx) / eps
    if relative_error(got, centered) > 1e-6:
        hint = None
        if relative_error(got, forward_diff) < 1e-6:
            hint = "ce sont des différences avant (f(x+ε) - f(x))/ε : utilisez (f(x+ε) - f(x-ε)) / (2ε)."
        else:
            hint = likely_mistake(got, centered) or ("formule attendue : (f(x+ε·eᵢ) - f(x-ε·eᵢ)) / (2ε) "
                                                    "pour chaque coordonnée i, les autres inchangées.")
        fail(f"numerical_gradient ne donne pas les différences finies centrées avec ε={eps} "
             f"(erreur relative {relative_error(got, centered):.2e}, graine {seed}).", hint)
    passed(f"numerical_gradient calcule bien des différences centrées et rend x intact (graine {seed}).")


# ------------------------------------------------------------------ 3. network
def check_forward(sigmoid, forward):
    rng, seed = new_rng()
    z = rng.uniform(-20, 20, size=(3, 5))
    check_close("sigmoid(z)", call_student(sigmoid, z.copy(), what="sigmoid"), ref.sigmoid(z),
                rtol=1e-9, hint="σ(z) = 1 / (1 + exp(-z)).")
    X, y, params = _random_problem(rng)
    with reference_helpers(forward, ["sigmoid"]):
        out = call_student(forward, X.copy(), _copy(params), what="forward")
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
        fail("forward doit renvoyer le couple (yhat, cache) où cache est un dictionnaire.")
    yhat, cache = out
    want_yhat, want_cache = ref.forward(X, params, "tanh")
    for key in ("Z1", "A1", "Z2"):
        if key not in cache:
            fail(f"le cache de forward n'a pas de clé {key!r} (clés attendues : 'Z1', 'A1', 'Z2', 'yhat').")
        check_close(f"cache[{key!r}]", cache[key], want_cache[key], rtol=1e-9, atol=1e-12,
                    hint=likely_mistake(cache[key], want_cache[key]) or
                    "Z1 = W1 X + b1, A1 = tanh(Z1), Z2 = W2 A1 + b2 (produits matriciels @).")
    check_close("yhat", yhat, want_yhat, rtol=1e-9, atol=1e-12, hint="ŷ = σ(Z2), de forme (1, M).")
    passed(f"sigmoid et forward sont correctes (graine {seed}).")


def check_bce_loss(bce_loss):
    rng, seed = new_rng()
    M = int(rng.integers(5, 20))
    yhat = rng.uniform(0.02, 0.98, size=(1, M))
    y = (rng.random((1, M)) < 0.5).astype(np.float64)
    got = call_student(bce_loss, yhat.copy(), y.copy(), what="bce_loss")
    want = ref.loss(yhat, y)
    hint = likely_mistake(got, want, n_examples=M)
    if hint and "divisé par N" in hint:
        hint = "la perte du TP est une SOMME sur les exemples, pas une moyenne."
    check_close("bce_loss", got, want, rtol=1e-9, hint=hint or
                "L = -Σ [y log ŷ + (1 - y) log(1 - ŷ)] (scalaire, somme sur les M exemples).")
    passed(f"bce_loss est correcte (graine {seed}).")


def _student_grads(backward, X, y, params, cache, activation):
    g = call_student(backward, X.copy(), y.copy(), _copy(params), _copy(cache),
                     activation=activation, what="backward")
    if not isinstance(g, dict):
        fail(f"backward doit renvoyer un dictionnaire (reçu {type(g).__name__}).")
    return g


def _wrong_bias_shape_hint(name, got, want):
    if name in ("b1", "b2") and got.shape == (want.shape[0],):
        return "la somme sur les exemples est faite sans keepdims=True : gardez la forme (d, 1)."
    return None


def _derivative_verdict(name, g, X, y, params, cache, activation, seed):
    """Pass, pass with 'error carried forward', or fail; returns the message of a pass."""
    label = DERIVATIVE_LABELS[name]
    if name not in g:
        fail(f"le dictionnaire renvoyé par backward n'a pas de clé {name!r} "
             f"(clés attendues : {', '.join(ref.DERIVATIVES)}).")
    got = as_array(f"{label} (clé {name!r})", g[name])
    at = np.array(cache[name] if name in cache else params[name], dtype=np.float64, copy=True)
    numeric = numerical_gradient(lambda v: ref.loss_from(name, v, X, y, params, activation), at, 1e-6)
    if got.shape == numeric.shape and relative_error(got, numeric) < GRAD_TOL:
        return f"{label} est correcte (graine {seed})."
    # Error carried forward: the upstream derivative is wrong, but this step is right from it.
    up = ref.UPSTREAM[name]
    local = None
    if up is not None and up in g:
        true_up = ref.backward(X, y, params, cache, activation)[up]
        try:
            up_val = np.asarray(g[up], dtype=np.float64)
            upstream_wrong = up_val.shape != true_up.shape or relative_error(up_val, true_up) > GRAD_TOL
            with np.errstate(all="ignore"):
                local = ref.local_backward(name, {up: up_val}, X, params, cache, activation)
        except Exception:
            upstream_wrong, local = True, None
        if upstream_wrong and local is not None and got.shape == np.shape(local) \
                and relative_error(got, local) < GRAD_TOL:
            return (f"{label} est correctement calculée à partir de votre {DERIVATIVE_LABELS[up]}, "
                    f"qui est fausse : erreur reportée, pas de pénalité ici (graine {seed}).")
        if not upstream_wrong:
            local = None
    want = numeric if local is None else local
    hint = (_wrong_bias_shape_hint(name, got, want) or likely_mistake(got, want, X.shape[1]))
    if got.shape != numeric.shape:
        fail(f"{label} a la forme {got.shape}, attendu {numeric.shape} (la forme de {name}).", hint)
    fail(f"{label} ne correspond pas aux différences finies centrées de la perte (erreur relative "
         f"{relative_error(got, numeric):.2e} > {GRAD_TOL:.0e}, graine {seed}).",
         hint or ("revoyez la règle de dérivation en chaîne pour cette étape "
                  "(produit terme à terme * ou produit matriciel @ ? transposée ?)."))


def check_derivative(name, backward, activation="tanh"):
    """One derivative of ``backward``, with the reference forward pass as cache."""
    rng, seed = new_rng()
    X, y, params = _random_problem(rng)
    _, cache = ref.forward(X, params, activation)
    g = _student_grads(backward, X, y, params, cache, activation)
    passed(_derivative_verdict(name, g, X, y, params, cache, activation, seed))


def check_relu(relu, backward):
    rng, seed = new_rng()
    z = rng.standard_normal((4, 6))
    check_close("relu(z)", call_student(relu, z.copy(), what="relu"), np.maximum(z, 0.0),
                rtol=0, atol=0, hint="ReLU(z) = max(z, 0), élément par élément.")
    X, y, params = _random_problem(rng)
    _, cache = ref.forward(X, params, "relu")
    g = _student_grads(backward, X, y, params, cache, "relu")
    note = _derivative_verdict("Z1", g, X, y, params, cache, "relu", seed)
    passed("avec activation='relu' : " + note[0].lower() + note[1:])


def check_predict(predict, accuracy):
    rng, seed = new_rng()
    X, y, params = _random_problem(rng, M=40)
    params["b2"] = params["b2"] * 0.1
    with reference_helpers(predict, ["forward", "sigmoid"]):
        got = as_array("predict", call_student(predict, X.copy(), _copy(params), what="predict"))
    want = ref.predict(X, params)
    if got.size != want.size:
        fail(f"predict renvoie {got.size} valeurs pour {want.size} points.")
    if not np.array_equal(got.reshape(want.shape), want):
        hint = None
        if np.array_equal(got.reshape(want.shape), 1 - want):
            hint = "les classes sont inversées : la classe 1 correspond à ŷ > 0.5."
        fail(f"predict ne renvoie pas les bonnes classes ({int(np.sum(got.reshape(want.shape) != want))} "
             f"erreurs sur {want.size}, graine {seed}).", hint or "prédire 1 si ŷ > 0.5, 0 sinon.")
    labels = (rng.random((1, 50)) < 0.5).astype(np.float64)
    pred = (rng.random((1, 50)) < 0.5).astype(np.float64)
    got_acc = call_student(accuracy, pred.copy(), labels.copy(), what="accuracy")
    check_close("accuracy", got_acc, np.mean(pred == labels), rtol=1e-9,
                hint="la proportion (entre 0 et 1) de prédictions égales aux étiquettes.")
    passed(f"predict et accuracy sont correctes (graine {seed}).")


# ------------------------------------------------------------------ 5. training
def check_train(train, n_iter=TRAIN_ITERATIONS):
    """Train on fresh moons with the student's loop (reference forward/backward/loss inside)."""
    from nncourse import make_moons

    rng, seed = new_rng()
    X, y = make_moons(rng=rng)
    Xh, yh = make_moons(rng=rng)
    X, y, Xh, yh = X.T, y[None, :], Xh.T, yh[None, :]
    with reference_helpers(train, ["forward", "backward", "bce_loss", "sigmoid", "relu"]):
        with np.errstate(all="ignore"):
            out = call_student(train, X.copy(), y.copy(), d=10, lr=0.01, n_iter=n_iter,
                               activation="tanh", rng=rng, what="train")
    p = trained_parameters(out, {"W1": (10, 2), "b1": (10, 1), "W2": (1, 10), "b2": (1, 1)}, n_iter, seed)
    acc = ref.accuracy(p, X, y)
    acc_h = ref.accuracy(p, Xh, yh)
    if acc < TRAIN_MIN_ACCURACY or acc_h < HELDOUT_MIN_ACCURACY:
        fail(f"après {n_iter} itérations (d=10, pas 0.01), précision {acc:.1%} sur l'apprentissage "
             f"et {acc_h:.1%} sur de nouvelles données ; attendu au moins {TRAIN_MIN_ACCURACY:.0%} et "
             f"{HELDOUT_MIN_ACCURACY:.0%} (graine {seed}).",
             "mettez à jour les quatre paramètres (W1, b1, W2, b2) à chaque itération, et "
             "initialisez les poids au hasard (0.01·N(0,1)) : des poids tous égaux restent égaux (symétrie).")
    passed(f"entraînement réussi : précision {acc:.1%} (apprentissage), {acc_h:.1%} (nouvelles "
           f"données) après {n_iter} itérations (graine {seed}).")


# ------------------------------------------------------------------ calibration
def calibrate(n_seeds=100, n_iter=TRAIN_ITERATIONS, kind="tanh", first_seed=0):
    """Spread of the reference recipe's accuracies over seeds (train, held-out)."""
    from nncourse import make_moons

    train_acc, held_acc = [], []
    for s in range(first_seed, first_seed + n_seeds):
        rng = np.random.default_rng(s)
        X, y = make_moons(rng=rng)
        Xh, yh = make_moons(rng=rng)
        p, _ = ref.train(X.T, y[None, :], n_iter=n_iter, kind=kind, rng=rng)
        train_acc.append(ref.accuracy(p, X.T, y[None, :], kind))
        held_acc.append(ref.accuracy(p, Xh.T, yh[None, :], kind))
    return np.array(train_acc), np.array(held_acc)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Calibrate the graded training of assignment 01.")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--seeds", type=int, default=100)
    ap.add_argument("--iterations", type=int, default=TRAIN_ITERATIONS)
    ap.add_argument("--activation", default="tanh")
    args = ap.parse_args()
    tr, ho = calibrate(args.seeds, args.iterations, args.activation)
    print(f"{args.activation}, {args.iterations} iterations, {args.seeds} seeds")
    for label, a, thr in (("train", tr, TRAIN_MIN_ACCURACY), ("held-out", ho, HELDOUT_MIN_ACCURACY)):
        print(f"  {label:8s}: min {a.min():.3f}  median {np.median(a):.3f}  max {a.max():.3f}  "
              f"below threshold {thr}: {int(np.sum(a < thr))}")
