"""Hidden checks of assignment 03 (softmax, hinge loss, two-layer network on the spiral).

Each check is a probe and a verdict (``probing.py``): it draws fresh inputs, yields the
calls the kernel makes with the student's functions, and judges the data that comes back
here, in the grader, against centered differences or the reference in
:mod:`spiral_softmax_reference`. The reference never enters the kernel.

A check tests one function: where that function calls another notebook function once on
inputs the grader knows, the grader's value is handed in as a stub (``cross_entropy_grad``
gets the reference ``softmax(S)`` and ``one_hot(y, K)``, ``predict`` the reference
``forward``); the training loops are judged by their consequences (``train``: a run on a
constant gradient, then a traced real run, errors carried forward; ``train_torch``: its
losses and final weights against a reference SGD run from the same initial weights).

Calibration of the graded trainings: ``python -m autograder calibrate 03_spiral_softmax
--seeds 100`` (numbers recorded next to the thresholds below).
"""

from __future__ import annotations

import functools

import numpy as np

from . import spiral_softmax_reference as ref
from .common import (as_array, check_close, constant_gradient_updates, fail, gradients_match_reference,
                     likely_mistake, named_mistake, numerical_gradient, relative_error, trained_run)
from .concepts import classification
from .probing import Call, Generator, ModuleState, Sequential, Tensor, check

GRAD_TOL = 1e-6
UPDATE_TOL = 1e-9        # relative error allowed in one replayed gradient-descent update
TRACED_STEPS = 3         # first training iterations whose gradients are compared with the reference
STUBBED_STEPS = 300      # iterations of the loop run on a constant gradient

# Graded numpy training: d=30, tanh, lr=1.0, 1000 full-batch iterations on a fresh spiral
# (N=100 per class, K=3), init W1 ~ N(0,1), W2 ~ N(0,1)/sqrt(d), zero biases.
# Calibration (seeds 0..99, see calibrate()): training accuracy min 0.977, median 0.990,
# max 0.993 (tanh); ReLU same recipe: min 0.987, median 0.993, max 0.993. The three arms
# start at the same point, so about 2 of the 300 points can never be separated.
# Linear classifier, 300 iterations: cross-entropy min 0.473, median 0.527, max 0.553;
# hinge (delta=1) min 0.487, median 0.527, max 0.557.
TRAIN_D, TRAIN_LR, TRAIN_ITERATIONS = 30, 1.0, 1000
TRAIN_MIN_ACCURACY = 0.93

# Graded PyTorch training: Linear(2, 30)-ReLU-Linear(30, 3), PyTorch's default init
# distribution (drawn by the grader), CrossEntropyLoss, SGD lr 0.5 momentum 0.9, 300
# full-batch epochs, fresh spiral. Calibration (seeds 0..99, the grader's init as graded):
# min 0.973, median 0.990, max 0.993 (torch's own init gave the same spread).
TORCH_D, TORCH_LR, TORCH_EPOCHS = 30, 0.5, 300
TORCH_MIN_ACCURACY = 0.93
TORCH_HEAD = 10          # first epochs whose losses are compared with the float64 replay (400 seeds: largest
                         # relative deviation of a correct float32 run 2e-5 over 10 epochs, 1.6e-4 over 20)


def _scalar(name, value):
    arr = as_array(name, value)
    if arr.size != 1:
        fail(f"{name} doit renvoyer un nombre (la moyenne sur les exemples), reçu un tableau de forme "
             f"{arr.shape}.", "faites la moyenne sur les N exemples (et la somme sur les classes).")
    return float(arr.reshape(()))


def _random_scores(rng, N=None, K=None, scale=3.0):
    """Scores (N, K) with N != K, labels with every class present when possible."""
    K = K or int(rng.integers(3, 6))
    N = N or int(rng.integers(7, 12))
    if N == K:
        N += 1
    S = rng.standard_normal((N, K)) * scale
    y = rng.permutation(np.arange(N) % K)
    return S, y


def _big_scores(S, y):
    """Scores of order ±1000, one true class far below its row's best: log(softmax) gives log(0)."""
    big = S * 400.0
    big[0, y[0]] = big[0].max() - 1500.0
    return big


def _helpers(S, y):
    """Stubs: the reference softmax(S) and one_hot(y, K) that a loss may call once."""
    return {"softmax": ref.softmax(S), "one_hot": ref.one_hot(y, S.shape[1])}


# ------------------------------------------------------------- 1. softmax & co
# softmax and one_hot are shared with 04 (concepts.classification).
softmax_is_stable = check("test_softmax", module=__name__)(functools.partial(classification.softmax_rows, fn="softmax"))
one_hot_rows = check("test_one_hot", module=__name__)(functools.partial(classification.one_hot_rows, fn="one_hot"))


@check("test_cross_entropy")
def cross_entropy_is_stable(rng):
    """The mean cross-entropy on random scores and on scores of ±1000 (reference softmax/one_hot stubbed)."""
    S, y = _random_scores(rng)
    N = S.shape[0]
    big = _big_scores(S, y)
    r, r_big = yield [Call("cross_entropy", (S, y), stub=_helpers(S, y)),
                      Call("cross_entropy", (big, y), stub=_helpers(big, y))]
    got, want = _scalar("cross_entropy", r.value), ref.cross_entropy(S, y)
    hint = named_mistake(got, {
        "le signe est inversé : la perte est -log p_y (positive).": lambda: -want,
        f"c'est la SOMME sur les N={N} exemples : il faut la moyenne (facteur 1/N oublié).": lambda: want * N,
    }) or likely_mistake(got, want, n_examples=N)
    check_close(f"cross_entropy(S, y) pour N={N} exemples", got, want, rtol=1e-7,
                hint=hint or "L = -(1/N) Σ_i log softmax(S)[i, y_i] (log de la probabilité de la BONNE classe).")
    got = _scalar("cross_entropy", r_big.value)
    if not np.isfinite(got):
        fail(f"cross_entropy renvoie {got} pour des scores de l'ordre de ±1000.",
             "log(softmax) donne log(0) = -inf quand une probabilité s'arrondit à 0 : calculez directement "
             "log softmax = (s - m) - log Σ exp(s_j - m), avec m le maximum de la ligne.")
    check_close("cross_entropy pour des scores de l'ordre de ±1000", got, ref.cross_entropy(big, y), rtol=1e-7,
                hint="calculez log softmax = (s - m) - log Σ exp(s_j - m), avec m le maximum de chaque ligne.")
    return "cross_entropy est correcte, y compris pour des scores énormes."


def _grad_verdict(name, got, f, at, n_examples, hint):
    """Shape and centered differences of ``f`` at ``at`` (float64)."""
    numeric = numerical_gradient(f, np.array(at, dtype=np.float64, copy=True), 1e-6)
    got = as_array(name, got)
    guess = likely_mistake(got, numeric, n_examples)
    if got.shape != numeric.shape:
        fail(f"{name} a la forme {got.shape}, attendu {numeric.shape}.", guess or hint)
    err = relative_error(got, numeric)
    if not err < GRAD_TOL:
        fail(f"{name} : le gradient ne correspond pas aux différences finies centrées "
             f"(erreur relative {err:.2e} > {GRAD_TOL:.0e}).", guess or hint)


@check("test_cross_entropy_grad")
def cross_entropy_grad_matches_differences(rng):
    """∂L/∂S of the cross-entropy against centered differences (reference softmax/one_hot stubbed)."""
    S, y = _random_scores(rng)
    [r] = yield [Call("cross_entropy_grad", (S, y), stub=_helpers(S, y))]
    _grad_verdict("∂L/∂S (entropie croisée)", r.value, lambda v: ref.cross_entropy(v, y), S, S.shape[0],
                  "∂L/∂S = (softmax(S) - one_hot(y)) / N : la perte est une moyenne sur les N exemples.")
    return "cross_entropy_grad correspond aux différences finies centrées."


# ----------------------------------------------------------------- hinge loss
def _hinge_problem(rng):
    """Scores whose margins s_j - s_y + delta all stay away from 0 (no kink under ±eps)."""
    for _ in range(1000):
        S, y = _random_scores(rng, scale=1.5)
        delta = float(rng.choice([1.0, 2.0]))
        idx = np.arange(len(y))
        m = S - S[idx, y][:, None] + delta
        m[idx, y] = 10.0
        if np.min(np.abs(m)) > 1e-3 and np.any(m[m != 10.0] > 0) and np.any(m < 0):
            return S, y, delta
    raise RuntimeError("could not draw a hinge problem")


@check("test_hinge_loss")
def hinge_loss_value(rng):
    """The mean multiclass hinge loss, true class excluded from the sum."""
    S, y, delta = _hinge_problem(rng)
    N = S.shape[0]
    [r] = yield [Call("hinge_loss", (S, y, delta))]
    got, want = _scalar("hinge_loss", r.value), ref.hinge_loss(S, y, delta)
    hint = named_mistake(got, {
        f"votre perte vaut exactement δ={delta:g} de trop : la bonne classe est comptée dans la somme "
        f"(son terme vaut max(0, s_y - s_y + δ) = δ) ; sommez sur j ≠ y seulement.": lambda: want + delta,
        f"c'est la somme sur les N={N} exemples : il faut la moyenne.": lambda: want * N,
    }, rtol=1e-9) or likely_mistake(got, want, n_examples=N)
    check_close(f"hinge_loss(S, y, delta={delta:g})", got, want, rtol=1e-9,
                hint=hint or "L = (1/N) Σ_i Σ_{j≠y_i} max(0, s_ij - s_iy_i + δ).")
    return "hinge_loss est correcte."


@check("test_hinge_grad")
def hinge_grad_matches_differences(rng):
    """The hinge subgradient against centered differences, away from the kinks."""
    S, y, delta = _hinge_problem(rng)
    N = S.shape[0]
    [r] = yield [Call("hinge_grad", (S, y, delta))]
    got, want = as_array("hinge_grad", r.value), ref.hinge_grad(S, y, delta)
    hint = None
    if got.shape == want.shape:
        idx = np.arange(N)
        off = np.ones_like(want, dtype=bool)
        off[idx, y] = False
        if np.allclose(got[off], want[off]) and not np.allclose(got[idx, y], want[idx, y]):
            hint = ("les dérivées par rapport aux mauvaises classes sont justes, pas celle de la bonne classe : "
                    "s_y apparaît (avec un signe -) dans chaque terme actif, donc ∂L/∂s_y = -(nombre de marges "
                    "actives) / N.")
    _grad_verdict(f"∂L/∂S (hinge, δ={delta:g})", got, lambda v: ref.hinge_loss(v, y, delta), S, N,
                  hint or "pour j ≠ y : 1/N si s_j - s_y + δ > 0, 0 sinon ; pour j = y : -(nombre de marges > 0)/N.")
    return "hinge_grad correspond aux différences finies centrées."


# ------------------------------------------------------------------ 2. network
def _random_problem(rng, activation="tanh"):
    """X (N, 2), labels, parameters with non-zero biases; N, d, K all different."""
    for _ in range(1000):
        K = int(rng.integers(3, 5))
        d = int(rng.integers(5, 8))
        N = int(rng.integers(9, 14))
        X = rng.standard_normal((N, 2))
        y = rng.permutation(np.arange(N) % K)
        params = {"W1": rng.standard_normal((2, d)), "b1": 0.5 * rng.standard_normal((1, d)),
                  "W2": rng.standard_normal((d, K)), "b2": 0.5 * rng.standard_normal((1, K))}
        Z1 = X @ params["W1"] + params["b1"]
        if activation != "relu" or (np.min(np.abs(Z1)) > 1e-3 and np.any(Z1 < 0) and np.any(Z1 > 0)):
            return X, y, params
    raise RuntimeError("could not draw a problem")


def _relu_call(rng):
    z = rng.standard_normal((4, 6))
    return z, Call("relu", (z,))


def _relu_verdict(z, r):
    check_close("relu(z)", as_array("relu(z)", r.value), np.maximum(z, 0.0), rtol=0, atol=0,
                hint="ReLU(z) = max(z, 0), élément par élément (np.maximum, pas np.max).")


@check("test_forward")
def forward_pass(rng):
    """relu on random z, and forward's scores and cache with tanh and ReLU (reference relu stubbed)."""
    z, relu_call = _relu_call(rng)
    X, y, params = _random_problem(rng)
    stub = {"relu": np.maximum(X @ params["W1"] + params["b1"], 0.0)}
    r_relu, *r_forward = yield [relu_call] + [Call("forward", (X, params, a), stub=stub) for a in ("tanh", "relu")]
    _relu_verdict(z, r_relu)
    for activation, r in zip(("tanh", "relu"), r_forward):
        out = r.value
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
            fail("forward doit renvoyer le couple (S, cache) où cache est un dictionnaire.")
        S, cache = out
        want_S, want_cache = ref.forward(X, params, activation)
        for key in ("Z1", "A1"):
            if key not in cache:
                fail(f"le cache de forward n'a pas de clé {key!r} (clés attendues : 'Z1', 'A1', 'S').")
            got = as_array(f"cache[{key!r}]", cache[key])
            check_close(f"cache[{key!r}] (activation={activation!r})", got, want_cache[key], rtol=1e-9, atol=1e-12,
                        hint=likely_mistake(got, want_cache[key]) or "Z1 = X @ W1 + b1 (forme (N, d)), A1 = g(Z1).")
        got = as_array("S", S)
        check_close(f"S (activation={activation!r})", got, want_S, rtol=1e-9, atol=1e-12,
                    hint=likely_mistake(got, want_S) or "S = A1 @ W2 + b2 : les scores bruts (pas de softmax ici).")
    return "relu et forward sont correctes avec tanh et ReLU."


def _backward_call(X, y, params, activation):
    """backward on the reference cache, the loss helpers it may call stubbed with the reference's values."""
    S, cache = ref.forward(X, params, activation)
    stub = {"cross_entropy_grad": ref.cross_entropy_grad(S, y), **_helpers(S, y),
            "relu": np.maximum(cache["Z1"], 0.0)}
    return Call("backward", (X, y, params, cache, activation), stub=stub)


def _param_grad_verdict(name, g, X, y, params, activation):
    if not isinstance(g, dict):
        fail(f"backward doit renvoyer un dictionnaire (reçu {type(g).__name__}).")
    if name not in g:
        fail(f"le dictionnaire renvoyé par backward n'a pas de clé {name!r} (clés attendues : W1, b1, W2, b2).")
    got = as_array(f"∂L/∂{name}", g[name])
    want_shape = params[name].shape
    hint = None
    if name.startswith("b") and got.shape != want_shape:
        if got.shape == (want_shape[1],):
            hint = "somme sur les exemples sans keepdims=True : gardez la forme (1, ·)."
        elif got.shape == (X.shape[0], 1):
            hint = "la somme est faite sur le mauvais axe : sommez sur les exemples (axis=0), pas sur les neurones."
    _grad_verdict(f"∂L/∂{name} (activation={activation!r})", got,
                  lambda v: ref.loss_of(name, v, X, y, params, activation), params[name], X.shape[0],
                  hint or "revoyez la règle de dérivation en chaîne pour ce paramètre "
                          "(produit matriciel @ ou terme à terme * ? transposée ? axe de la somme ?).")


def _gradient_check(name):
    @check(f"test_grad_{name}")
    def gradient(rng):
        X, y, params = _random_problem(rng)
        [r] = yield [_backward_call(X, y, params, "tanh")]
        _param_grad_verdict(name, r.value, X, y, params, "tanh")
        return f"∂L/∂{name} correspond aux différences finies centrées."
    gradient.__name__ = gradient.__qualname__ = f"gradient_{name}"
    gradient.__doc__ = f"backward's ∂L/∂{name} (tanh) against centered differences of the reference loss."
    return gradient


GRADIENT_CHECKS = {name: _gradient_check(name) for name in ref.PARAMS}


@check("test_relu")
def relu_and_its_derivative(rng):
    """relu on random z, and backward's ∂L/∂W1 with activation='relu' (where ReLU's derivative enters)."""
    z, relu_call = _relu_call(rng)
    X, y, params = _random_problem(rng, "relu")
    r_relu, r_backward = yield [relu_call, _backward_call(X, y, params, "relu")]
    _relu_verdict(z, r_relu)
    # ReLU's derivative enters ∂L/∂W1 and ∂L/∂b1 alike; W1 alone is checked here so that a
    # wrong bias gradient is not counted twice (test_grad_b1 covers it).
    _param_grad_verdict("W1", r_backward.value, X, y, params, "relu")
    return "relu et la rétropropagation avec ReLU sont correctes."


@check("test_predict")
def predict_argmax(rng):
    """predict is the argmax of the reference forward's scores (handed in as a stub)."""
    X, y, params = _random_problem(rng)
    S, cache = ref.forward(X, params, "tanh")
    [r] = yield [Call("predict", (X, params, "tanh"), stub={"forward": (S, cache), "softmax": ref.softmax(S)})]
    got, want = as_array("predict", r.value), S.argmax(axis=1)
    if got.shape != want.shape:
        fail(f"predict renvoie la forme {got.shape}, attendu {want.shape} (une classe par exemple).",
             "argmax sur l'axe des classes : S.argmax(axis=1)." if got.size != want.size else None)
    if not np.array_equal(got, want):
        fail(f"predict ne renvoie pas les bonnes classes ({int(np.sum(got != want))} erreurs sur {want.size}).",
             "la classe prédite est celle du plus grand score de chaque ligne : argmax(axis=1).")
    return "predict est correcte."


# ------------------------------------------------------------------ 2b. training
SHAPES = {"W1": (2, TRAIN_D), "b1": (1, TRAIN_D), "W2": (TRAIN_D, 3), "b2": (1, 3)}


@check("test_train")
def train_descends(rng, n_iter=TRAIN_ITERATIONS, steps=STUBBED_STEPS):
    """train's loop, judged by its consequences, in two runs.

    1. With the notebook's init_params, forward, backward and cross_entropy replaced by stubs
       returning the grader's values (a constant gradient g): after ``steps`` iterations
       every parameter must be exactly θ0 - steps·lr·g, and each recorded loss the stub's.
    2. With the student's own functions, traced: if their backward is right at the first
       iterations, the training accuracy must pass the calibrated threshold. A mistake in
       those functions is carried forward, not charged here."""
    from nncourse import make_spiral

    X, y = make_spiral(rng=rng)
    lr, p0 = TRAIN_LR, ref.init_params(TRAIN_D, 3, rng)
    g = {k: rng.standard_normal(s) * 0.01 for k, s in SHAPES.items()}
    loss_value = float(rng.uniform(0.5, 1.5))
    kwargs = {"d": TRAIN_D, "lr": lr, "activation": "tanh"}
    stubbed = Call("train", (X, y), {**kwargs, "n_iter": steps, "rng": Generator(int(rng.integers(2 ** 31)))},
                   stub={"init_params": p0, "forward": ref.forward(X, p0, "tanh"), "backward": g,
                         "cross_entropy": loss_value},
                   trace={"init_params": {}, "cross_entropy": {}, "forward": {},
                          "backward": {"calls": 1, "args": ["params"]}})
    real = Call("train", (X, y), {**kwargs, "n_iter": n_iter, "rng": Generator(int(rng.integers(2 ** 31)))},
                trace={"backward": {"calls": TRACED_STEPS, "args": ["params"]}, "forward": {}, "cross_entropy": {}},
                judge_errors=True)
    r_stubbed, r_real = yield [stubbed, real]
    loop_judged = _judge_constant_gradient(r_stubbed, steps, lr, p0, g, loss_value)
    if r_real.error:
        if loop_judged or any(t["errors"] for t in r_real.traces.values()):
            return ("la boucle de train est correcte ; avec vos fonctions forward/backward/cross_entropy, "
                    f"l'entraînement lève une erreur ({r_real.error}) : erreur reportée, pas de pénalité ici.")
        fail(r_real.error_message())
    params, losses = trained_run(r_real.value, SHAPES, n_iter, "cross_entropy")
    traced = r_real.traces["backward"]
    if traced["count"] and not gradients_match_reference(traced["calls"], X, y, ref, ref.PARAMS, GRAD_TOL):
        return ("les mises à jour de train sont correctes ; vos forward/backward ne donnent pas le bon "
                "gradient : erreur reportée, pas de pénalité ici.")
    acc = ref.accuracy(params, X, y, "tanh")
    if acc < TRAIN_MIN_ACCURACY:
        fail(f"après {n_iter} itérations (d={TRAIN_D}, pas {TRAIN_LR}, tanh), précision d'apprentissage "
             f"{acc:.1%} ; attendu au moins {TRAIN_MIN_ACCURACY:.0%}.",
             "mettez à jour les quatre paramètres à chaque itération, initialisez avec init_params(d, K, rng) "
             "(des poids tous égaux restent égaux) et utilisez le pas demandé.")
    return f"entraînement réussi : précision d'apprentissage {acc:.1%} après {n_iter} itérations."


def _judge_constant_gradient(r, steps, lr, p0, g, loss_value) -> bool:
    """Run 1 of test_train: the loop alone, fed by stubs. False when train calls none of the
    notebook's functions (run 2 judges it whole then)."""
    params, losses = trained_run(r.value, SHAPES, steps, "cross_entropy")
    backward = r.traces["backward"]
    if backward["count"] == 0:
        return False
    if backward["count"] != steps:
        fail(f"backward a été appelée {backward['count']} fois pour {steps} itérations, attendu une fois par itération.")
    if 0 < r.traces["forward"]["count"] < steps:
        fail(f"forward n'est appelée que {r.traces['forward']['count']} fois pour {steps} itérations : les gradients "
             f"sont calculés sur des paramètres périmés.",
             "appelez forward puis backward sur les paramètres à jour, à chaque itération.")
    start = backward["calls"][0]["args"].get("params") if backward["calls"] else None
    if not isinstance(start, dict) or any(k not in start for k in ref.PARAMS):  # backward's signature changed
        if r.traces["init_params"]["count"] == 0:
            fail("train doit appeler backward(X, y, params, cache, ...) avec le dictionnaire des paramètres.")
        start = p0
    start = {k: as_array(k, start[k]) for k in ref.PARAMS}
    if r.traces["init_params"]["count"] == 0 and np.all(start["W1"] == start["W1"].flat[0]):
        fail("les poids initiaux sont tous égaux : la symétrie entre neurones n'est jamais brisée.",
             "initialisez avec init_params(d, K, rng) (poids aléatoires, biais nuls).")
    constant_gradient_updates(params, start, {k: g[k] for k in ref.PARAMS}, steps, lr, UPDATE_TOL)
    if r.traces["cross_entropy"]["count"] and not np.allclose(losses, loss_value, rtol=1e-12):
        fail("les pertes enregistrées ne sont pas les valeurs renvoyées par cross_entropy.",
             "enregistrez cross_entropy(S, y) de l'itération en cours, toutes les 100 itérations (t % 100 == 0).")
    return True



# ------------------------------------------------------------------ 3. PyTorch
def _linear_params(state: dict, d: int, K: int) -> dict:
    """(W1, b1, W2, b2) of a 2 -> d -> K network's state dict, found by their shapes."""
    found = {}
    for value in state.values():
        shape = tuple(np.shape(value))
        key = {(d, 2): "W1", (d,): "b1", (K, d): "W2", (K,): "b2"}.get(shape)
        if key is None or key in found:
            fail(f"SpiralNet({d}, {K}) a un paramètre inattendu de forme {shape} ; attendu exactement deux "
                 f"couches nn.Linear(2, {d}) et nn.Linear({d}, {K}).")
        found[key] = np.asarray(value, dtype=np.float64)
    if len(found) != 4:
        fail(f"SpiralNet({d}, {K}) doit avoir 4 tenseurs de paramètres (poids et biais de deux couches "
             f"nn.Linear), trouvé {sorted(found)}.")
    return found


@check("test_spiral_net")
def spiral_net_architecture(rng):
    """SpiralNet(d, K) holds Linear(2, d) and Linear(d, K), and returns ReLU-network raw scores."""
    d, K = int(rng.integers(5, 10)), int(rng.integers(3, 5))
    X = rng.standard_normal((11, 2)).astype(np.float32)
    [r] = yield [Call("SpiralNet", (d, K), torch_seed=int(rng.integers(2 ** 31)), call_result=(Tensor(X),))]
    if not isinstance(r.value, ModuleState):
        fail("SpiralNet doit être une sous-classe de nn.Module.")
    p = _linear_params(r.value.state, d, K)
    X = X.astype(np.float64)
    got = as_array(f"SpiralNet({d}, {K})(X)", r.result_value)
    want = np.maximum(X @ p["W1"].T + p["b1"], 0) @ p["W2"].T + p["b2"]
    hint = named_mistake(got, {
        "forward renvoie des probabilités (softmax) : renvoyez les scores bruts, CrossEntropyLoss "
        "applique elle-même log_softmax.": lambda: ref.softmax(want),
        "l'activation cachée attendue est ReLU (torch.relu), pas tanh.":
            lambda: np.tanh(X @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"],
    }, rtol=0, atol=1e-5)
    check_close(f"SpiralNet({d}, {K})(X)", got, want, rtol=1e-4, atol=1e-5,
                hint=hint or "scores = Linear(d → K)(ReLU(Linear(2 → d)(x))), sans softmax à la fin.")
    return "SpiralNet a la bonne architecture et renvoie les scores bruts."


def _torch_layers(rng, d=TORCH_D, K=3) -> Sequential:
    """Linear(2, d)-ReLU-Linear(d, K) with weights drawn as PyTorch's default init does
    (uniform in ±1/√fan_in), float32."""
    def linear(n_in, n_out):
        bound = 1 / np.sqrt(n_in)
        return ("Linear", rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                rng.uniform(-bound, bound, n_out).astype(np.float32))
    return Sequential((linear(2, d), ("ReLU",), linear(d, K)))


def _numpy_params(layers: Sequential) -> dict:
    """The reference's parameters (W (in, out), b (1, out), float64) of a Linear-ReLU-Linear
    ``Sequential`` (PyTorch's layout: weight (out, in))."""
    (_, W1, b1), _, (_, W2, b2) = layers.layers
    return {"W1": W1.T.astype(np.float64), "b1": b1[None].astype(np.float64),
            "W2": W2.T.astype(np.float64), "b2": b2[None].astype(np.float64)}


def _state_accuracy(state, X, y) -> float | None:
    """Training accuracy of a Linear-ReLU-Linear state dict (keys 0.* and 2.*), None if not one."""
    keys = ("0.weight", "0.bias", "2.weight", "2.bias")
    if not isinstance(state, ModuleState) or any(k not in state.state for k in keys):
        return None
    W1, b1, W2, b2 = (np.asarray(state.state[k], dtype=np.float64) for k in keys)
    try:
        scores = np.maximum(X @ W1.T + b1, 0) @ W2.T + b2
    except ValueError:
        return None
    return float(np.mean(scores.argmax(axis=1) == y))


def _floats(losses, n_epochs) -> np.ndarray:
    if losses is None or not isinstance(losses, (list, tuple, np.ndarray)):
        fail("train_torch doit renvoyer la liste des pertes (un nombre par époque).")
    try:
        values = np.asarray([float(np.asarray(v, dtype=np.float64).reshape(())) for v in losses])
    except (TypeError, ValueError):
        fail("train_torch doit renvoyer une liste de nombres (loss.item()), un par époque.")
    if values.size != n_epochs:
        fail(f"train_torch a renvoyé {values.size} pertes pour {n_epochs} époques (une par époque attendue).")
    return values


@check("test_train_torch")
def train_torch_follows_sgd(rng, n_epochs=TORCH_EPOCHS):
    """train_torch on a network the grader built: first loss, the first epochs' losses against a
    reference SGD(momentum 0.9) run from the same weights, and the final weights' accuracy
    (computed here; named hints for softmax before the loss, zero_grad and momentum)."""
    from nncourse import make_spiral

    Xn, yn = make_spiral(rng=rng)
    Xn = Xn.astype(np.float32)
    layers = _torch_layers(rng)
    [r] = yield [Call("train_torch", (Sequential(layers.layers), Tensor(Xn), Tensor(yn.astype(np.int64))),
                      {"lr": TORCH_LR, "n_epochs": n_epochs}, watch=(0,), torch_threads=1)]
    losses = _floats(r.value, n_epochs)
    X, params = Xn.astype(np.float64), _numpy_params(layers)     # the reference replays in float64 numpy
    S0 = ref.forward(X, params, "relu")[0]
    ce0 = ref.cross_entropy(S0, yn)
    if not np.isclose(losses[0], ce0, rtol=1e-4):
        hint = named_mistake(losses[0], {
            "softmax appliquée avant CrossEntropyLoss : cette perte applique déjà log_softmax aux scores "
            "bruts ; ne mettez pas de softmax avant.": lambda: ref.cross_entropy(ref.softmax(S0), yn)}, rtol=1e-4)
        fail(f"la première perte enregistrée ({losses[0]:.5f}) n'est pas l'entropie croisée du modèle initial "
             f"sur les données ({ce0:.5f}).",
             hint or "enregistrez CrossEntropyLoss()(model(X), y).item() AVANT la mise à jour de chaque époque.")
    acc = _state_accuracy(r.after[0] if r.after else None, X, yn)
    if acc is None:
        fail("après train_torch, le modèle reçu n'a plus la forme Linear-ReLU-Linear : entraînez-le en place.")
    head = min(TORCH_HEAD, n_epochs)

    def replay(**variant):
        return ref.sgd_momentum(params, X, yn, TORCH_LR, head, **variant)[0]
    same = np.allclose(losses[:head], replay(), rtol=1e-3, atol=1e-6)
    if acc < TORCH_MIN_ACCURACY or not same:
        hint = named_mistake(losses[:head], {
            "zero_grad oublié : backward() ajoute le nouveau gradient à l'ancien.": lambda: replay(zero_grad=False),
            "le momentum 0.9 demandé manque dans torch.optim.SGD.": lambda: replay(momentum=0.0)},
            rtol=1e-3, atol=1e-6)
        what = (f"précision d'apprentissage {acc:.1%} (au moins {TORCH_MIN_ACCURACY:.0%} attendu)"
                if acc < TORCH_MIN_ACCURACY else
                "les pertes s'écartent de celles d'une descente SGD(lr, momentum=0.9) partie du même modèle")
        fail(f"après {n_epochs} époques (lr {TORCH_LR}) : {what}.",
             hint or "à chaque époque : scores = model(X), perte, enregistrement de loss.item(), "
                     "optimizer.zero_grad(), loss.backward(), optimizer.step().")
    return f"train_torch : précision d'apprentissage {acc:.1%} après {n_epochs} époques."


@check("test_nll")
def nll_is_stable_and_differentiable(rng):
    """nll_from_scores's value and its gradient with respect to the scores, on ordinary scores
    and on scores of ±1000 (a true class whose probability is 0 in float32)."""
    S, y = _random_scores(rng)
    N = S.shape[0]
    cases = [(S.astype(np.float32), "scores ordinaires"),
             ((_big_scores(S * 1.25, y)).astype(np.float32), "scores de l'ordre de ±1000")]
    results = yield [Call("nll_from_scores", (Tensor(Sf, requires_grad=True), Tensor(y.astype(np.int64))),
                          grad_of=(0,)) for Sf, _ in cases]
    for (Sf, label), r in zip(cases, results):
        Sd = Sf.astype(np.float64)
        value = as_array("nll_from_scores", r.value)
        if value.size != 1:
            fail("nll_from_scores doit renvoyer un tenseur scalaire (la perte moyenne), relié au graphe.")
        got, want = float(value.reshape(())), ref.cross_entropy(Sd, y)
        if not np.isfinite(got):
            fail(f"nll_from_scores renvoie {got} pour des {label}.",
                 "log(softmax(S)) donne log(0) = -inf en float32 : utilisez F.log_softmax, qui calcule "
                 "s - m - log Σ exp(s_j - m) sans passer par la probabilité.")
        hint = named_mistake(got, {
            "reduction='sum' : la perte attendue est la moyenne (reduction par défaut de nll_loss).":
                lambda: want * N,
            "nll_loss a reçu les scores bruts : appliquez d'abord F.log_softmax(S, dim=1).":
                lambda: -np.mean(Sd[np.arange(N), y]),
        }, rtol=1e-4)
        check_close(f"nll_from_scores ({label})", got, want, rtol=1e-4, atol=1e-5,
                    hint=hint or "F.nll_loss(F.log_softmax(S, dim=1), y) : log_softmax sur l'axe des classes.")
        if not isinstance(r.grads, list) or not r.grads or r.grads[0] is None:
            fail("la valeur renvoyée par nll_from_scores n'est pas reliée au graphe de calcul "
                 "(pas de .item(), ni de numpy).")
        check_close(f"gradient de nll_from_scores par rapport aux scores ({label})",
                    as_array("gradient", r.grads[0]), ref.cross_entropy_grad(Sd, y), rtol=1e-3, atol=1e-5)
    return "nll_from_scores est correcte et stable."


# ------------------------------------------------------------------ calibration
def calibrate(n_seeds=100, first_seed=0, torch_seeds=None):
    """Accuracy spreads of the graded recipes (and of the linear classifier) over seeds."""
    from nncourse import make_spiral

    res = {"tanh": [], "relu": [], "linear_ce": [], "linear_hinge": [], "torch": []}
    for s in range(first_seed, first_seed + n_seeds):
        rng = np.random.default_rng(s)
        X, y = make_spiral(rng=rng)
        for act in ("tanh", "relu"):
            p, _ = ref.train(X, y, d=TRAIN_D, lr=TRAIN_LR, n_iter=TRAIN_ITERATIONS, activation=act,
                             rng=np.random.default_rng(s + 10_000))
            res[act].append(ref.accuracy(p, X, y, act))
        for kind in ("ce", "hinge"):
            W, b = ref.train_linear(X, y, loss=kind)
            res[f"linear_{kind}"].append(float(np.mean((X @ W + b).argmax(1) == y)))
    for s in range(first_seed, first_seed + (torch_seeds or n_seeds)):
        rng = np.random.default_rng(s)
        X, y = make_spiral(rng=rng)
        params = _numpy_params(_torch_layers(np.random.default_rng(s + 20_000)))   # the graded init
        _, params = ref.sgd_momentum(params, X, y, TORCH_LR, TORCH_EPOCHS)      # what train_torch must do
        res["torch"].append(ref.accuracy(params, X, y, "relu"))
    return {k: np.array(v) for k, v in res.items()}


def calibration(seeds: int = 100) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    thresholds = {"tanh": TRAIN_MIN_ACCURACY, "relu": TRAIN_MIN_ACCURACY, "torch": TORCH_MIN_ACCURACY}
    return {f"accuracy, {name}": (a, thresholds.get(name)) for name, a in calibrate(seeds).items()}
