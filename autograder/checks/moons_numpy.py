"""Hidden checks of assignment 01 (two-layer network on the moons, numpy by hand).

Each check is a probe and a verdict (``probing.py``): it draws fresh inputs, yields the
calls the kernel makes with the student's functions, and judges the data that comes back
here, in the grader, against centered differences or the reference in
:mod:`two_layer_reference`. The reference never enters the kernel.

A check tests one function: where that function calls another notebook function, the
grader's value for it is handed in as a stub (``predict`` gets the reference ``forward``'s
output), or the call is traced and judged by its consequences (``train``: each update from
the gradient the student's own ``backward`` returned), so a mistake costs points where it
is made.
"""

from __future__ import annotations

import numpy as np

from . import two_layer_reference as ref
from .common import (as_array, check_close, constant_gradient_updates, fail, gradients_match_reference,
                     likely_mistake, named_mistake, numerical_gradient, relative_error, trained_run)
from .probing import Call, Generator, TestFunction, check

GRAD_TOL = 1e-5          # relative error allowed between a derivative and centered differences
UPDATE_TOL = 1e-9        # relative error allowed in one replayed gradient-descent update
TRACED_STEPS = 3         # first training iterations whose gradients are compared with the reference
STUBBED_STEPS = 300      # iterations of the loop run on a constant gradient

# Graded training (calibrated with ``python -m autograder calibrate 01_moons_numpy --seeds 500``):
# the TP3 recipe (d=10, lr=0.01, summed loss, W ~ 0.01 N(0,1), b = 0) run for
# TRAIN_ITERATIONS reaches 100 % on the training and held-out moons for seeds 0-499. A rare
# draw plateaus longer (a CI run's seed 521331274: 93.5 % / 88.5 % at 6000 iterations, 100 %
# at 10 000): under the thresholds, the check then runs the reference from the student's own
# start, as 02 does.
TRAIN_ITERATIONS = 6000
TRAIN_MIN_ACCURACY = 0.97
HELDOUT_MIN_ACCURACY = 0.95
ACCURACY_SLACK = 0.02   # on a draw slow for the reference too: what a train may lose to it from the same start

DERIVATIVE_LABELS = {
    "yhat": "∂L/∂ŷ", "Z2": "∂L/∂Z2", "W2": "∂L/∂W2", "b2": "∂L/∂b2",
    "A1": "∂L/∂A1", "Z1": "∂L/∂Z1", "W1": "∂L/∂W1", "b1": "∂L/∂b1",
}
PARAMS = ("W1", "b1", "W2", "b2")


def _random_problem(rng, M=None, d=None):
    """Random inputs (2, M), labels (1, M) with both classes, parameters with non-zero biases."""
    M = M or int(rng.integers(9, 14))
    d = d or int(rng.integers(3, 7))       # always d < M: a sum on the wrong axis changes the shape
    X = rng.standard_normal((2, M))
    y = np.zeros((1, M))
    y[0, rng.permutation(M)[: M // 2]] = 1.0
    params = ref.random_params(d, rng, scale=0.7)
    return X, y, params


# ----------------------------------------------------------------- 1. warm-up
@check("test_err")
def err_and_derivative(rng):
    """err(a, x) = a² + a·x + 1 and err_prime(a, x) = 2a + x at five random points."""
    points = rng.uniform(-10, 10, size=(5, 2))
    results = yield ([Call("err", (a, x)) for a, x in points] + [Call("err_prime", (a, x)) for a, x in points])
    for (a, x), r in zip(points, results[:5]):
        check_close(f"err({a:.3f}, x={x:.3f})", r.value, a ** 2 + a * x + 1.0, rtol=1e-9,
                    hint="Err(a) = a² + a·x + 1.")
    for (a, x), r in zip(points, results[5:]):
        check_close(f"err_prime({a:.3f}, x={x:.3f})", r.value, 2.0 * a + x, rtol=1e-9,
                    hint="dérivez a² + a·x + 1 par rapport à a (x est une constante).")
    return "err et err_prime sont correctes."


@check("test_gradient_step")
def gradient_step_descends(rng):
    """gradient_step(a, grad, lr) = a - lr·grad, with the usual wrong directions named."""
    cases = [(*rng.uniform(-10, 10, size=2), rng.uniform(0.01, 0.5)) for _ in range(5)]
    results = yield [Call("gradient_step", case) for case in cases]
    for (a, grad, lr), r in zip(cases, results):
        got = as_array("gradient_step", r.value)
        hint = None
        if got.shape == () and np.isclose(got, a + lr * grad):
            hint = "vous montez le long du gradient : il faut aller dans la direction opposée (a - pas·Err'(a))."
        elif got.shape == () and np.isclose(got, -lr * grad):
            hint = "la fonction renvoie le déplacement, pas la nouvelle valeur de a."
        elif got.shape == () and np.isclose(got, a - grad / lr):
            hint = "le pas multiplie la dérivée (a - pas·Err'(a)), il ne la divise pas."
        check_close(f"gradient_step(a={a:.3f}, grad={grad:.3f}, lr={lr:.3f})", got, a - lr * grad,
                    rtol=1e-9, hint=hint)
    return "gradient_step fait bien un pas de descente."


# ----------------------------------------------------------- 1b. backprop by hand
def _f1(v):
    return (2 * v[0] + 5 * v[1]) * (3 * v[0] * v[1])


def _f2(v):
    return (v[0] * v[1] + abs(v[1])) ** 2


def _forward1(x0, x1):
    y0, y1 = 2 * x0 + 5 * x1, 3 * x0 * x1
    return y0, y1, y0 * y1


def _forward2(x0, x1):
    y0, y1 = x0 * x1, abs(x1)
    return y0, y1, (y0 + y1) ** 2


def _hand_backprop(fname, ref_f, ref_forward, rng):
    # both signs of x1 every time (|x1| has two branches), never near 0 (not differentiable)
    points = [(rng.uniform(-4, 4), (1.0 if k % 2 else -1.0) * rng.uniform(0.2, 4)) for k in range(4)]
    results = yield ([Call(f"{fname}_forward", p) for p in points] + [Call(f"{fname}_backward", p) for p in points])
    for (x0, x1), r in zip(points, results[:4]):
        out = r.value
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            fail(f"{fname}_forward doit renvoyer le triplet (y0, y1, f) ; reçu {out!r}.")
        for label, got, want in zip(("y0", "y1", "f"), out, ref_forward(x0, x1)):
            check_close(f"{fname}_forward({x0:.3f}, {x1:.3f}) : {label}", got, want, rtol=1e-9)
    for (x0, x1), r in zip(points, results[4:]):
        got = as_array(f"{fname}_backward", r.value)
        numeric = numerical_gradient(ref_f, np.array([x0, x1]), 1e-6)
        if got.shape != (2,):
            fail(f"{fname}_backward({x0:.3f}, {x1:.3f}) a la forme {got.shape}, attendu (2,) : "
                 f"le vecteur (∂f/∂x0, ∂f/∂x1).")
        if relative_error(got, numeric) > 1e-6:
            which = [n for n, g, w in zip(("∂f/∂x0", "∂f/∂x1"), got, numeric)
                     if not np.isclose(g, w, rtol=1e-5, atol=1e-6)]
            fail(f"{fname}_backward({x0:.3f}, {x1:.3f}) = {np.round(got, 4)}, attendu {np.round(numeric, 4)}.",
                 f"{' et '.join(which)} faux : n'oubliez aucun chemin du graphe de calcul "
                 f"(règle de dérivation en chaîne, somme sur tous les yj qui dépendent de xi).")
    return f"{fname} : passe avant et rétropropagation correctes en des points aléatoires."


@check("test_backprop_f1")
def backprop_f1(rng):
    """f1's forward values and its gradient by backpropagation, at four random points."""
    return (yield from _hand_backprop("f1", _f1, _forward1, rng))


@check("test_backprop_f2")
def backprop_f2(rng):
    """f2's forward values and its gradient (both signs of x1), at four random points."""
    return (yield from _hand_backprop("f2", _f2, _forward2, rng))


# ------------------------------------------------------ 1c. numerical gradient
@check("test_numerical_gradient")
def numerical_gradient_is_centered(rng):
    """Centered differences (not forward ones) of a curved function, x left as it was."""
    shape = (int(rng.integers(2, 4)), int(rng.integers(2, 4)))
    c = rng.standard_normal(shape)
    f = TestFunction("cubic", {"c": c})
    x = rng.uniform(-2, 2, size=shape)
    eps = 1e-3
    [r] = yield [Call("numerical_gradient", (f, x, eps), watch=(1,))]
    if not r.after or not np.allclose(as_array("x", r.after[0]), x, rtol=0, atol=1e-12):
        fail("numerical_gradient modifie le tableau x qu'on lui passe : après l'appel, x n'a plus "
             "sa valeur de départ.", "remettez chaque coordonnée à sa valeur initiale après les deux évaluations.")
    got = as_array("numerical_gradient", r.value)
    if got.shape != x.shape:
        fail(f"numerical_gradient renvoie la forme {got.shape}, attendu {x.shape} (celle de x).")
    f = _cubic(c)
    centered, forward_diff, fx = np.zeros_like(x), np.zeros_like(x), f(x)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        centered[i] = (f(x + e) - f(x - e)) / (2 * eps)
        forward_diff[i] = (f(x + e) - fx) / eps
    if relative_error(got, centered) > 1e-6:
        if relative_error(got, forward_diff) < 1e-6:
            hint = "ce sont des différences avant (f(x+ε) - f(x))/ε : utilisez (f(x+ε) - f(x-ε)) / (2ε)."
        else:
            hint = likely_mistake(got, centered) or ("formule attendue : (f(x+ε·eᵢ) - f(x-ε·eᵢ)) / (2ε) "
                                                    "pour chaque coordonnée i, les autres inchangées.")
        fail(f"numerical_gradient ne donne pas les différences finies centrées avec ε={eps} "
             f"(erreur relative {relative_error(got, centered):.2e}).", hint)
    return "numerical_gradient calcule bien des différences centrées et rend x intact."


def _cubic(c):
    from nncourse.probe import TEST_FUNCTIONS
    return TEST_FUNCTIONS["cubic"](c)


# ------------------------------------------------------------------ 3. network
@check("test_forward")
def forward_pass(rng):
    """sigmoid on large |z|, and forward's ŷ and cache on random parameters with biases."""
    z = rng.uniform(-20, 20, size=(3, 5))
    X, y, params = _random_problem(rng)
    r_sigmoid, r_forward = yield [Call("sigmoid", (z,)), Call("forward", (X, params))]
    check_close("sigmoid(z)", r_sigmoid.value, ref.sigmoid(z), rtol=1e-9, hint="σ(z) = 1 / (1 + exp(-z)).")
    out = r_forward.value
    if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
        fail("forward doit renvoyer le couple (yhat, cache) où cache est un dictionnaire.")
    yhat, cache = out
    want_yhat, want_cache = ref.forward(X, params, "tanh")
    for key in ("Z1", "A1", "Z2"):
        if key not in cache:
            fail(f"le cache de forward n'a pas de clé {key!r} (clés attendues : 'Z1', 'A1', 'Z2', 'yhat').")
        got = as_array(f"cache[{key!r}]", cache[key])
        check_close(f"cache[{key!r}]", got, want_cache[key], rtol=1e-9, atol=1e-12,
                    hint=likely_mistake(got, want_cache[key]) or
                    "Z1 = W1 X + b1, A1 = tanh(Z1), Z2 = W2 A1 + b2 (produits matriciels @).")
    check_close("yhat", as_array("yhat", yhat), want_yhat, rtol=1e-9, atol=1e-12, hint="ŷ = σ(Z2), de forme (1, M).")
    return "sigmoid et forward sont correctes."


@check("test_bce_loss")
def bce_loss_is_a_sum(rng):
    """The summed binary cross-entropy (a mean is named as such)."""
    M = int(rng.integers(5, 20))
    yhat = rng.uniform(0.02, 0.98, size=(1, M))
    y = (rng.random((1, M)) < 0.5).astype(np.float64)
    [r] = yield [Call("bce_loss", (yhat, y))]
    got, want = as_array("bce_loss", r.value), ref.loss(yhat, y)
    hint = likely_mistake(got, want, n_examples=M)
    if hint and "divisé par N" in hint:
        hint = "la perte du TP est une SOMME sur les exemples, pas une moyenne."
    check_close("bce_loss", got, want, rtol=1e-9, hint=hint or
                "L = -Σ [y log ŷ + (1 - y) log(1 - ŷ)] (scalaire, somme sur les M exemples).")
    return "bce_loss est correcte."


def _grads(r) -> dict:
    if not isinstance(r.value, dict):
        fail(f"backward doit renvoyer un dictionnaire (reçu {type(r.value).__name__}).")
    return r.value


def _wrong_bias_shape_hint(name, got, want):
    if name in ("b1", "b2") and got.shape == (want.shape[0],):
        return "la somme sur les exemples est faite sans keepdims=True : gardez la forme (d, 1)."
    return None


def _activation_mistake(name, got, g, cache, activation) -> str | None:
    """∂L/∂Z1 = ∂L/∂A1 * (the activation's derivative): which wrong derivative was used, from
    the student's own ∂L/∂A1 (a mistake upstream is charged there, not here)."""
    if name != "Z1" or "A1" not in g:
        return None
    try:
        dA1 = np.asarray(g["A1"], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    Z1, A1 = np.asarray(cache["Z1"], dtype=np.float64), np.asarray(cache["A1"], dtype=np.float64)
    if activation == "relu":
        return named_mistake(got, {
            "la dérivée de l'activation est oubliée : ∂L/∂Z1 = ∂L/∂A1 * 1[Z1 > 0] (dérivée de ReLU).": lambda: dA1,
            "c'est A1 = max(Z1, 0) qui multiplie ∂L/∂A1 : la dérivée de ReLU est l'indicatrice 1[Z1 > 0] "
            "(1 où Z1 > 0, 0 ailleurs).": lambda: dA1 * A1,
            "c'est la dérivée de tanh (1 - A1²) : avec activation='relu', utilisez 1[Z1 > 0].":
                lambda: dA1 * (1 - A1 ** 2),
            "l'indicatrice est inversée : la dérivée de ReLU vaut 1 où Z1 > 0, 0 ailleurs.": lambda: dA1 * (Z1 <= 0),
        })
    return named_mistake(got, {
        "la dérivée de l'activation est oubliée : ∂L/∂Z1 = ∂L/∂A1 * (1 - A1²) (dérivée de tanh).": lambda: dA1,
        "c'est la dérivée de la sigmoïde, A1 (1 - A1) : celle de tanh est 1 - A1² = 1 - tanh(Z1)².":
            lambda: dA1 * A1 * (1 - A1),
        "1 - Z1² au lieu de 1 - A1² : la dérivée de tanh s'écrit avec sa valeur A1 = tanh(Z1).":
            lambda: dA1 * (1 - Z1 ** 2),
        "1 - A1 au lieu de 1 - A1² : la dérivée de tanh est 1 - tanh(Z1)², au carré.": lambda: dA1 * (1 - A1),
    })


def _derivative_verdict(name, g, X, y, params, cache, activation):
    """Pass, pass with 'error carried forward', or fail; returns the message of a pass."""
    label = DERIVATIVE_LABELS[name]
    if name not in g:
        fail(f"le dictionnaire renvoyé par backward n'a pas de clé {name!r} "
             f"(clés attendues : {', '.join(ref.DERIVATIVES)}).")
    got = as_array(f"{label} (clé {name!r})", g[name])
    at = np.array(cache[name] if name in cache else params[name], dtype=np.float64, copy=True)
    numeric = numerical_gradient(lambda v: ref.loss_from(name, v, X, y, params, activation), at, 1e-6)
    if got.shape == numeric.shape and relative_error(got, numeric) < GRAD_TOL:
        return f"{label} est correcte."
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
        except (TypeError, ValueError):
            upstream_wrong, local = True, None
        if upstream_wrong and local is not None and got.shape == np.shape(local) \
                and relative_error(got, local) < GRAD_TOL:
            return (f"{label} est correctement calculée à partir de votre {DERIVATIVE_LABELS[up]}, "
                    f"qui est fausse : erreur reportée, pas de pénalité ici.")
        if not upstream_wrong:
            local = None
    want = numeric if local is None else local
    hint = (_wrong_bias_shape_hint(name, got, want) or _activation_mistake(name, got, g, cache, activation)
            or likely_mistake(got, want, X.shape[1]))
    if got.shape != numeric.shape:
        fail(f"{label} a la forme {got.shape}, attendu {numeric.shape} (la forme de {name}).", hint)
    fail(f"{label} ne correspond pas aux différences finies centrées de la perte (erreur relative "
         f"{relative_error(got, numeric):.2e} > {GRAD_TOL:.0e}).",
         hint or ("revoyez la règle de dérivation en chaîne pour cette étape "
                  "(produit terme à terme * ou produit matriciel @ ? transposée ?)."))


def _backward_call(rng, activation):
    X, y, params = _random_problem(rng)
    _, cache = ref.forward(X, params, activation)
    return (X, y, params, cache), Call("backward", (X, y, params, cache), {"activation": activation})


def _derivative_check(name):
    @check(f"test_d_{name}")
    def derivative(rng):
        (X, y, params, cache), call = _backward_call(rng, "tanh")
        [r] = yield [call]
        return _derivative_verdict(name, _grads(r), X, y, params, cache, "tanh")
    derivative.__name__ = derivative.__qualname__ = f"derivative_{name}"
    derivative.__doc__ = (f"backward's {name} matches the centered differences of the loss, or is "
                          f"right from the student's own wrong upstream derivative (error carried forward).")
    return derivative


DERIVATIVE_CHECKS = {name: _derivative_check(name) for name in ref.DERIVATIVES}


@check("test_relu")
def relu_and_its_derivative(rng):
    """relu on random z, and backward's ∂L/∂Z1 with activation='relu'."""
    z = rng.standard_normal((4, 6))
    (X, y, params, cache), call = _backward_call(rng, "relu")
    r_relu, r_backward = yield [Call("relu", (z,)), call]
    check_close("relu(z)", as_array("relu(z)", r_relu.value), np.maximum(z, 0.0), rtol=0, atol=0,
                hint="ReLU(z) = max(z, 0), élément par élément.")
    note = _derivative_verdict("Z1", _grads(r_backward), X, y, params, cache, "relu")
    return "avec activation='relu' : " + note[0].lower() + note[1:]


@check("test_predict")
def predict_and_accuracy(rng):
    """predict thresholds the reference forward's ŷ at 0.5 (handed in as a stub); accuracy."""
    X, y, params = _random_problem(rng, M=40)
    params["b2"] = params["b2"] * 0.1
    labels = (rng.random((1, 50)) < 0.5).astype(np.float64)
    pred = (rng.random((1, 50)) < 0.5).astype(np.float64)
    r_predict, r_accuracy = yield [
        Call("predict", (X, params), stub={"forward": ref.forward(X, params, "tanh")}),
        Call("accuracy", (pred, labels))]
    got, want = as_array("predict", r_predict.value), ref.predict(X, params)
    if got.size != want.size:
        fail(f"predict renvoie {got.size} valeurs pour {want.size} points.")
    if not np.array_equal(got.reshape(want.shape), want):
        hint = None
        if np.array_equal(got.reshape(want.shape), 1 - want):
            hint = "les classes sont inversées : la classe 1 correspond à ŷ > 0.5."
        fail(f"predict ne renvoie pas les bonnes classes ({int(np.sum(got.reshape(want.shape) != want))} "
             f"erreurs sur {want.size}).", hint or "prédire 1 si ŷ > 0.5, 0 sinon.")
    check_close("accuracy", as_array("accuracy", r_accuracy.value), np.mean(pred == labels), rtol=1e-9,
                hint="la proportion (entre 0 et 1) de prédictions égales aux étiquettes.")
    return "predict et accuracy sont correctes."


# ------------------------------------------------------------------ 5. training
SHAPES = {"W1": (10, 2), "b1": (10, 1), "W2": (1, 10), "b2": (1, 1)}


@check("test_train")
def train_descends(rng, n_iter=TRAIN_ITERATIONS, steps=STUBBED_STEPS):
    """train's loop, judged by its consequences, in two runs.

    1. With the notebook's init_params, forward, backward and bce_loss replaced by stubs
       returning the grader's values (a constant gradient g): after ``steps`` iterations
       every parameter must be exactly θ0 - steps·lr·g, and each recorded loss the stub's.
    2. With the student's own functions, traced: if their backward is right at the first
       iterations, the gradients must stay those of the current parameters, and the
       training and held-out accuracies must pass the calibrated thresholds (or, on a draw
       slow for the reference too, reach what it reaches from the same start). A mistake in
       those functions is carried forward, not charged here."""
    from nncourse import make_moons

    X, y = make_moons(rng=rng)
    Xh, yh = make_moons(rng=rng)          # held out: never leaves the grader
    X, y, Xh, yh = X.T, y[None, :], Xh.T, yh[None, :]
    lr, p0, g = 0.01, ref.init_params(10, rng), ref.random_params(10, rng)
    loss_value = float(rng.uniform(50, 150))
    kwargs = {"d": 10, "lr": lr, "activation": "tanh"}
    stubbed = Call("train", (X, y), {**kwargs, "n_iter": steps, "rng": Generator(int(rng.integers(2 ** 31)))},
                   stub={"init_params": p0, "forward": ref.forward(X, p0, "tanh"), "backward": g,
                         "bce_loss": loss_value},
                   trace={"init_params": {}, "bce_loss": {}, "forward": {},
                          "backward": {"calls": 1, "args": ["params"]}})
    real = Call("train", (X, y), {**kwargs, "n_iter": n_iter, "rng": Generator(int(rng.integers(2 ** 31)))},
                trace={"backward": {"calls": TRACED_STEPS, "args": ["params"]}, "forward": {}, "bce_loss": {}},
                judge_errors=True)
    r_stubbed, r_real = yield [stubbed, real]
    loop_judged = _judge_constant_gradient(r_stubbed, steps, lr, p0, g, loss_value)
    if r_real.error:
        if loop_judged or any(t["errors"] for t in r_real.traces.values()):
            return ("la boucle de train est correcte ; avec vos fonctions forward/backward/bce_loss, "
                    f"l'entraînement lève une erreur ({r_real.error}) : erreur reportée, pas de pénalité ici.")
        fail(r_real.error_message())
    params, losses = trained_run(r_real.value, SHAPES, n_iter, "bce_loss")
    traced = r_real.traces["backward"]
    if traced["count"] and not gradients_match_reference(traced["calls"], X, y, ref, PARAMS, GRAD_TOL):
        return ("les mises à jour de train sont correctes ; vos forward/backward ne donnent pas le bon "
                "gradient : erreur reportée, pas de pénalité ici.")
    if not (np.all(np.isfinite(losses)) and losses[-1] < losses[0]):
        fail(f"la perte n'a pas diminué pendant l'entraînement ({losses[0]:.3g} → {losses[-1]:.3g}).",
             "la mise à jour est θ ← θ - pas·∂L/∂θ (signe -), pour W1, b1, W2 et b2.")
    acc, acc_h = ref.accuracy(params, X, y), ref.accuracy(params, Xh, yh)
    if acc < TRAIN_MIN_ACCURACY or acc_h < HELDOUT_MIN_ACCURACY:
        slow = _reference_from_the_same_start(traced, X, y, Xh, yh, n_iter)
        if slow and (slow[0] < TRAIN_MIN_ACCURACY or slow[1] < HELDOUT_MIN_ACCURACY) \
                and acc >= slow[0] - ACCURACY_SLACK and acc_h >= slow[1] - ACCURACY_SLACK:
            return (f"entraînement correct : précision {acc:.1%} (apprentissage), {acc_h:.1%} (nouvelles "
                    f"données) après {n_iter} itérations, comme la solution de référence partie des mêmes "
                    f"poids initiaux ({slow[0]:.1%}, {slow[1]:.1%}) : ce tirage converge lentement.")
        fail(f"après {n_iter} itérations (d=10, pas 0.01), précision {acc:.1%} sur l'apprentissage "
             f"et {acc_h:.1%} sur de nouvelles données ; attendu au moins {TRAIN_MIN_ACCURACY:.0%} et "
             f"{HELDOUT_MIN_ACCURACY:.0%}.",
             "mettez à jour les quatre paramètres (W1, b1, W2, b2) à chaque itération, et "
             "initialisez les poids au hasard (0.01·N(0,1)) : des poids tous égaux restent égaux (symétrie).")
    return (f"entraînement réussi : précision {acc:.1%} (apprentissage), {acc_h:.1%} (nouvelles "
            f"données) après {n_iter} itérations.")


def _reference_from_the_same_start(traced, X, y, Xh, yh, n_iter):
    """(train, held-out) accuracies of the reference recipe run from the parameters of the
    student's first backward call, or None when they are not a proper start (shapes, finite,
    zero biases, weights not all equal). A rare draw plateaus past n_iter, under the
    thresholds, for the reference too; a correct train then gets what the reference gets."""
    start = _first_params(traced)
    if start is None or any(start[k].shape != SHAPES[k] or not np.all(np.isfinite(start[k])) for k in PARAMS) \
            or np.any(start["b1"]) or np.any(start["b2"]) \
            or np.ptp(start["W1"]) == 0 or np.ptp(start["W2"]) == 0:
        return None
    params, _ = ref.train(X, y, n_iter=n_iter, start=start)
    return ref.accuracy(params, X, y), ref.accuracy(params, Xh, yh)


def _first_params(traced_backward):
    """The ``params`` of the first traced backward call as float64 arrays, or None."""
    start = traced_backward["calls"][0]["args"].get("params") if traced_backward["calls"] else None
    if not isinstance(start, dict) or any(k not in start for k in PARAMS):
        return None
    return {k: as_array(k, start[k]) for k in PARAMS}


def _judge_constant_gradient(r, steps, lr, p0, g, loss_value) -> bool:
    """Run 1 of test_train: the loop alone, fed by stubs. False when train calls none of the
    notebook's functions (run 2 judges it whole then)."""
    params, losses = trained_run(r.value, SHAPES, steps, "bce_loss")
    backward = r.traces["backward"]
    if backward["count"] == 0:
        return False
    if backward["count"] != steps:
        fail(f"backward a été appelée {backward['count']} fois pour {steps} itérations, attendu une fois par itération.")
    if 0 < r.traces["forward"]["count"] < steps:
        fail(f"forward n'est appelée que {r.traces['forward']['count']} fois pour {steps} itérations : les dérivées "
             f"sont calculées sur des paramètres périmés.",
             "appelez forward puis backward sur les paramètres à jour, à chaque itération.")
    start = _first_params(backward)
    if start is None:  # backward's signature changed
        if r.traces["init_params"]["count"] == 0:
            fail("train doit appeler backward(X, y, params, cache, ...) avec le dictionnaire des paramètres.")
        start = {k: as_array(k, p0[k]) for k in PARAMS}
    if r.traces["init_params"]["count"] == 0 and np.all(start["W1"] == start["W1"].flat[0]):
        fail("les poids initiaux sont tous égaux : la symétrie entre neurones n'est jamais brisée.",
             "initialisez avec init_params(d, rng) (poids 0.01·N(0,1), biais nuls).")
    constant_gradient_updates(params, start, {k: g[k] for k in PARAMS}, steps, lr, UPDATE_TOL)
    if r.traces["bce_loss"]["count"] and not np.allclose(losses, loss_value, rtol=1e-12):
        fail("les pertes enregistrées ne sont pas les valeurs renvoyées par bce_loss.",
             "enregistrez bce_loss(yhat, y) de l'itération en cours, toutes les 100 itérations (t % 100 == 0).")
    return True



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


def calibration(seeds: int = 100, iterations: int = TRAIN_ITERATIONS, activation: str = "tanh") -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    tr, ho = calibrate(seeds, iterations, activation)
    return {f"accuracy, training ({activation}, {iterations} iterations)": (tr, TRAIN_MIN_ACCURACY),
            "accuracy, held-out": (ho, HELDOUT_MIN_ACCURACY)}
