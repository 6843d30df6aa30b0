"""Hidden tests of assignment 03 (softmax, hinge loss, two-layer network on the spiral).

Every check draws fresh data with :func:`common.new_rng` (replay one run with
``NNCOURSE_TEST_SEED=<graine>``), compares the student's code with centered differences
or with the reference in :mod:`spiral_softmax_reference`, and fails with a French message.
A check tests one function: the notebook functions it calls are swapped for the
reference ones while it runs (:func:`reference_helpers`), so a mistake costs points where
it is made.

Calibration of the graded trainings: ``python -m autograder calibrate 03_spiral_softmax
--seeds 100`` (numbers recorded next to the thresholds below).
"""

from __future__ import annotations

import copy

import numpy as np

from . import spiral_softmax_reference as ref
from .common import (CheckFailed, as_array, call_student, check_close, fail, grad_check, likely_mistake,
                     new_rng, passed, swapped_globals, trained_parameters)

__all__ = ["CheckFailed", "check_softmax", "check_one_hot", "check_cross_entropy",
           "check_cross_entropy_grad", "check_hinge_loss", "check_hinge_grad", "check_forward",
           "check_gradient", "check_relu", "check_predict", "check_train", "check_spiral_net",
           "check_train_torch", "check_nll"]

GRAD_TOL = 1e-6

# Graded numpy training: d=30, tanh, lr=1.0, 1000 full-batch iterations on a fresh spiral
# (N=100 per class, K=3), init W1 ~ N(0,1), W2 ~ N(0,1)/sqrt(d), zero biases.
# Calibration (seeds 0..99, see calibrate()): training accuracy min 0.977, median 0.990,
# max 0.993 (tanh); ReLU same recipe: min 0.987, median 0.993, max 0.993. The three arms
# start at the same point, so about 2 of the 300 points can never be separated.
# Linear classifier, 300 iterations: cross-entropy min 0.473, median 0.527, max 0.553;
# hinge (delta=1) min 0.487, median 0.527, max 0.557.
TRAIN_D, TRAIN_LR, TRAIN_ITERATIONS = 30, 1.0, 1000
TRAIN_MIN_ACCURACY = 0.93

# Graded PyTorch training: Linear(2, 30)-ReLU-Linear(30, 3), default PyTorch init,
# CrossEntropyLoss, SGD lr 0.5 momentum 0.9, 300 full-batch epochs, fresh spiral.
# Calibration (seeds 0..99): min 0.973, median 0.990, max 0.993.
TORCH_D, TORCH_LR, TORCH_EPOCHS = 30, 0.5, 300
TORCH_MIN_ACCURACY = 0.93

REFERENCE_HELPERS = {
    "softmax": ref.softmax, "one_hot": ref.one_hot, "cross_entropy": ref.cross_entropy,
    "cross_entropy_grad": ref.cross_entropy_grad, "forward": ref.forward,
    "backward": ref.backward, "relu": lambda z: np.maximum(z, 0.0),
    "init_params": ref.init_params,
}


def reference_helpers(fn, names):
    """While inside, the notebook functions ``names`` that ``fn`` may call are the reference ones."""
    return swapped_globals(fn, {n: REFERENCE_HELPERS[n] for n in names})


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


# ------------------------------------------------------------- 1. softmax & co
def check_softmax(softmax):
    rng, seed = new_rng()
    S, _ = _random_scores(rng)
    N, K = S.shape
    got = as_array("softmax(S)", call_student(softmax, S.copy(), what="softmax"))
    want = ref.softmax(S)
    hint = None
    if got.shape == want.shape and np.all(np.isfinite(got)):
        if np.allclose(got.sum(axis=0), 1.0) and not np.allclose(got.sum(axis=1), 1.0):
            hint = ("ce sont les colonnes qui somment à 1 : la normalisation se fait sur le mauvais axe "
                    "(sommez sur les classes, axis=1, keepdims=True).")
        elif np.allclose(got.sum(axis=1), 1.0):
            hint = "chaque ligne somme bien à 1 mais les valeurs sont fausses : p_k = exp(s_k) / Σ_j exp(s_j)."
    check_close(f"softmax(S) pour S de forme {S.shape} (graine {seed})", got, want, rtol=1e-7, atol=1e-12,
                hint=hint or likely_mistake(got, want))
    # Very large and very small scores, different from one row to the next.
    offsets = rng.choice([-1000.0, 1000.0, -600.0, 700.0], size=(N, 1))
    offsets[0, 0], offsets[1, 0] = 1000.0, -1000.0
    big = S + offsets
    with np.errstate(all="ignore"):
        got = as_array("softmax(S + décalage)", call_student(softmax, big.copy(), what="softmax"))
    if got.shape != want.shape or not np.all(np.isfinite(got)):
        fail(f"softmax déborde pour des scores de l'ordre de ±1000 (valeurs infinies ou NaN, graine {seed}).",
             "exp(1000) vaut +inf et exp(-1000) vaut 0 : soustrayez à chaque LIGNE son maximum "
             "(S - S.max(axis=1, keepdims=True)) avant l'exponentielle ; cela ne change pas le résultat.")
    check_close("softmax(S + c) (une constante c par ligne : même résultat attendu que softmax(S))",
                got, want, rtol=1e-7, atol=1e-12,
                hint="softmax est invariante par ajout d'une constante à toute une ligne ; "
                     "soustrayez le maximum de chaque ligne, pas le maximum global.")
    passed(f"softmax est correcte et stable pour des scores de ±1000 (graine {seed}).")


def check_one_hot(one_hot):
    rng, seed = new_rng()
    K = int(rng.integers(3, 7))
    N = int(rng.integers(K + 2, K + 8))
    y = rng.integers(0, K, size=N)
    got = as_array("one_hot(y, K)", call_student(one_hot, y.copy(), K, what="one_hot"))
    want = ref.one_hot(y, K)
    hint = None
    if got.shape == want.shape[::-1]:
        hint = "la forme attendue est (N, K) : une ligne par exemple, une colonne par classe."
    elif got.shape == want.shape and np.allclose(got.sum(axis=1), 1) and not np.array_equal(got, want):
        hint = "un seul 1 par ligne, mais pas dans la colonne y[i] : Y[i, y[i]] = 1."
    elif got.shape == want.shape:
        hint = "exactement un 1 par ligne i, dans la colonne y[i] (indexation Y[np.arange(N), y])."
    check_close(f"one_hot(y, K={K}) (graine {seed})", got, want, rtol=0, atol=0, hint=hint)
    passed(f"one_hot est correcte (graine {seed}).")


def check_cross_entropy(cross_entropy):
    rng, seed = new_rng()
    S, y = _random_scores(rng)
    N = S.shape[0]
    with reference_helpers(cross_entropy, ["softmax", "one_hot"]):
        got = _scalar("cross_entropy", call_student(cross_entropy, S.copy(), y.copy(), what="cross_entropy"))
    want = ref.cross_entropy(S, y)
    hint = likely_mistake(got, want, n_examples=N)
    if np.isclose(got, -want, rtol=1e-6):
        hint = "le signe est inversé : la perte est -log p_y (positive)."
    elif np.isclose(got, want * N, rtol=1e-6):
        hint = f"c'est la SOMME sur les N={N} exemples : il faut la moyenne (facteur 1/N oublié)."
    check_close(f"cross_entropy(S, y) pour N={N} exemples (graine {seed})", got, want, rtol=1e-7,
                hint=hint or "L = -(1/N) Σ_i log softmax(S)[i, y_i] (log de la probabilité de la BONNE classe).")
    big = S * 400.0  # scores of order ±1000: log(softmax) would give log(0)
    big[0, y[0]] = big[0].max() - 1500.0  # at least one true class far below the best score
    with np.errstate(all="ignore"), reference_helpers(cross_entropy, ["softmax", "one_hot"]):
        got = _scalar("cross_entropy", call_student(cross_entropy, big.copy(), y.copy(), what="cross_entropy"))
    if not np.isfinite(got):
        fail(f"cross_entropy renvoie {got} pour des scores de l'ordre de ±1000 (graine {seed}).",
             "log(softmax) donne log(0) = -inf quand une probabilité s'arrondit à 0 : calculez directement "
             "log softmax = (s - m) - log Σ exp(s_j - m), avec m le maximum de la ligne.")
    check_close(f"cross_entropy pour des scores de l'ordre de ±1000 (graine {seed})", got,
                ref.cross_entropy(big, y), rtol=1e-7,
                hint="calculez log softmax = (s - m) - log Σ exp(s_j - m), avec m le maximum de chaque ligne.")
    passed(f"cross_entropy est correcte, y compris pour des scores énormes (graine {seed}).")


def check_cross_entropy_grad(cross_entropy_grad):
    rng, seed = new_rng()
    S, y = _random_scores(rng)
    N = S.shape[0]
    with reference_helpers(cross_entropy_grad, ["softmax", "one_hot"]):
        got = as_array("cross_entropy_grad",
                        call_student(cross_entropy_grad, S.copy(), y.copy(), what="cross_entropy_grad"))
    at = S.copy()
    grad_check("∂L/∂S (entropie croisée)", got, lambda v: ref.cross_entropy(v, y), at, tol=GRAD_TOL,
               n_examples=N, seed=seed,
               hint="∂L/∂S = (softmax(S) - one_hot(y)) / N : la perte est une moyenne sur les N exemples.")
    passed(f"cross_entropy_grad correspond aux différences finies centrées (graine {seed}).")


# ----------------------------------------------------------------- hinge loss
def _hinge_problem(rng):
    """Scores whose margins s_j - s_y + delta all stay away from 0 (no kink under ±eps)."""
    for _ in range(1000):
        S, y = _random_scores(rng, scale=1.5)
        delta = float(rng.choice([1.0, 2.0]))
        idx = np.arange(len(y))
        m = S - S[idx, y][:, None] + delta
        m[idx, y] = 10.0
        # every row has at least one active and (when K > 2) some inactive margins: a mix
        if np.min(np.abs(m)) > 1e-3 and np.any(m[m != 10.0] > 0) and np.any(m < 0):
            return S, y, delta
    raise RuntimeError("could not draw a hinge problem")


def check_hinge_loss(hinge_loss):
    rng, seed = new_rng()
    S, y, delta = _hinge_problem(rng)
    N = S.shape[0]
    got = _scalar("hinge_loss", call_student(hinge_loss, S.copy(), y.copy(), delta, what="hinge_loss"))
    want = ref.hinge_loss(S, y, delta)
    hint = likely_mistake(got, want, n_examples=N)
    if np.isclose(got, want + delta, rtol=1e-9):
        hint = (f"votre perte vaut exactement δ={delta:g} de trop : la bonne classe est comptée dans la somme "
                f"(son terme vaut max(0, s_y - s_y + δ) = δ) ; sommez sur j ≠ y seulement.")
    elif np.isclose(got, want * N, rtol=1e-9):
        hint = f"c'est la somme sur les N={N} exemples : il faut la moyenne."
    check_close(f"hinge_loss(S, y, delta={delta:g}) (graine {seed})", got, want, rtol=1e-9,
                hint=hint or "L = (1/N) Σ_i Σ_{j≠y_i} max(0, s_ij - s_iy_i + δ).")
    passed(f"hinge_loss est correcte (graine {seed}).")


def check_hinge_grad(hinge_grad):
    rng, seed = new_rng()
    S, y, delta = _hinge_problem(rng)
    N = S.shape[0]
    got = as_array("hinge_grad", call_student(hinge_grad, S.copy(), y.copy(), delta, what="hinge_grad"))
    want = ref.hinge_grad(S, y, delta)
    hint = None
    if got.shape == want.shape:
        idx = np.arange(N)
        off = np.ones_like(want, dtype=bool)
        off[idx, y] = False
        if np.allclose(got[off], want[off]) and not np.allclose(got[idx, y], want[idx, y]):
            hint = ("les dérivées par rapport aux mauvaises classes sont justes, pas celle de la bonne classe : "
                    "s_y apparaît (avec un signe -) dans chaque terme actif, donc ∂L/∂s_y = -(nombre de marges "
                    "actives) / N.")
    grad_check(f"∂L/∂S (hinge, δ={delta:g})", got, lambda v: ref.hinge_loss(v, y, delta), S.copy(),
               tol=GRAD_TOL, n_examples=N, seed=seed,
               hint=hint or "pour j ≠ y : 1/N si s_j - s_y + δ > 0, 0 sinon ; pour j = y : -(nombre de marges > 0)/N.")
    passed(f"hinge_grad correspond aux différences finies centrées (graine {seed}).")


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


def _copy(d):
    return {k: np.array(v, dtype=np.float64, copy=True) for k, v in d.items()}


def check_forward(forward):
    rng, seed = new_rng()
    X, y, params = _random_problem(rng)
    for activation in ("tanh", "relu"):
        with reference_helpers(forward, ["relu"]):
            out = call_student(forward, X.copy(), _copy(params), activation, what="forward")
        if not isinstance(out, (tuple, list)) or len(out) != 2 or not isinstance(out[1], dict):
            fail("forward doit renvoyer le couple (S, cache) où cache est un dictionnaire.")
        S, cache = out
        want_S, want_cache = ref.forward(X, params, activation)
        for key in ("Z1", "A1"):
            if key not in cache:
                fail(f"le cache de forward n'a pas de clé {key!r} (clés attendues : 'Z1', 'A1', 'S').")
            check_close(f"cache[{key!r}] (activation={activation!r}, graine {seed})", cache[key], want_cache[key],
                        rtol=1e-9, atol=1e-12,
                        hint=likely_mistake(cache[key], want_cache[key]) or
                        "Z1 = X @ W1 + b1 (forme (N, d)), A1 = g(Z1).")
        check_close(f"S (activation={activation!r}, graine {seed})", S, want_S, rtol=1e-9, atol=1e-12,
                    hint=likely_mistake(S, want_S) or "S = A1 @ W2 + b2 : les scores bruts (pas de softmax ici).")
    passed(f"forward est correcte avec tanh et ReLU (graine {seed}).")


def _student_grads(backward, X, y, params, cache, activation):
    with reference_helpers(backward, ["softmax", "one_hot", "cross_entropy_grad", "relu"]):
        g = call_student(backward, X.copy(), y.copy(), _copy(params), _copy(cache),
                         activation, what="backward")
    if not isinstance(g, dict):
        fail(f"backward doit renvoyer un dictionnaire (reçu {type(g).__name__}).")
    return g


def _check_param_grad(name, g, X, y, params, activation, seed):
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
    at = np.array(params[name], dtype=np.float64, copy=True)
    grad_check(f"∂L/∂{name} (activation={activation!r})", got,
               lambda v: ref.loss_of(name, v, X, y, params, activation), at, tol=GRAD_TOL,
               n_examples=X.shape[0], seed=seed,
               hint=hint or "revoyez la règle de dérivation en chaîne pour ce paramètre "
                            "(produit matriciel @ ou terme à terme * ? transposée ? axe de la somme ?).")


def check_gradient(name, backward, activation="tanh"):
    """One parameter gradient of ``backward`` against centered differences (reference cache)."""
    rng, seed = new_rng()
    X, y, params = _random_problem(rng, activation)
    _, cache = ref.forward(X, params, activation)
    g = _student_grads(backward, X, y, params, cache, activation)
    _check_param_grad(name, g, X, y, params, activation, seed)
    passed(f"∂L/∂{name} correspond aux différences finies centrées (graine {seed}).")


def check_relu(relu, backward):
    rng, seed = new_rng()
    z = rng.standard_normal((4, 6))
    check_close("relu(z)", call_student(relu, z.copy(), what="relu"), np.maximum(z, 0.0), rtol=0, atol=0,
                hint="ReLU(z) = max(z, 0), élément par élément (np.maximum, pas np.max).")
    X, y, params = _random_problem(rng, "relu")
    _, cache = ref.forward(X, params, "relu")
    g = _student_grads(backward, X, y, params, cache, "relu")
    # The ReLU derivative enters ∂L/∂W1 and ∂L/∂b1 alike; W1 alone is checked here so that a
    # wrong bias gradient is not counted twice (test_grad_b1 covers it).
    _check_param_grad("W1", g, X, y, params, "relu", seed)
    passed(f"relu et la rétropropagation avec ReLU sont correctes (graine {seed}).")


def check_predict(predict):
    rng, seed = new_rng()
    X, y, params = _random_problem(rng)
    with reference_helpers(predict, ["forward", "softmax", "relu"]):
        got = as_array("predict", call_student(predict, X.copy(), _copy(params), "tanh", what="predict"))
    want = ref.predict(X, params, "tanh")
    if got.shape != want.shape:
        fail(f"predict renvoie la forme {got.shape}, attendu {want.shape} (une classe par exemple).",
             "argmax sur l'axe des classes : S.argmax(axis=1)." if got.size != want.size else None)
    if not np.array_equal(got, want):
        fail(f"predict ne renvoie pas les bonnes classes ({int(np.sum(got != want))} erreurs sur {want.size}, "
             f"graine {seed}).", "la classe prédite est celle du plus grand score de chaque ligne : argmax(axis=1).")
    passed(f"predict est correcte (graine {seed}).")


def check_train(train, n_iter=TRAIN_ITERATIONS):
    """Train on a fresh spiral with the student's loop (reference forward/backward/loss inside)."""
    from nncourse import make_spiral

    rng, seed = new_rng()
    X, y = make_spiral(rng=rng)
    names = ["forward", "backward", "cross_entropy", "cross_entropy_grad", "softmax", "one_hot", "relu"]
    with reference_helpers(train, names):
        with np.errstate(all="ignore"):
            out = call_student(train, X.copy(), y.copy(), d=TRAIN_D, lr=TRAIN_LR, n_iter=n_iter,
                               activation="tanh", rng=rng, what="train")
    shapes = {"W1": (2, TRAIN_D), "b1": (1, TRAIN_D), "W2": (TRAIN_D, 3), "b2": (1, 3)}
    p = trained_parameters(out, shapes, n_iter, seed)
    acc = ref.accuracy(p, X, y, "tanh")
    if acc < TRAIN_MIN_ACCURACY:
        fail(f"après {n_iter} itérations (d={TRAIN_D}, pas {TRAIN_LR}, tanh), précision d'apprentissage "
             f"{acc:.1%} ; attendu au moins {TRAIN_MIN_ACCURACY:.0%} (graine {seed}).",
             "mettez à jour les quatre paramètres à chaque itération, initialisez avec init_params(d, K, rng) "
             "(des poids tous égaux restent égaux) et utilisez le pas demandé.")
    passed(f"entraînement réussi : précision d'apprentissage {acc:.1%} après {n_iter} itérations "
           f"(graine {seed}).")


# ------------------------------------------------------------------ 3. PyTorch
def _seed_torch(rng):
    import torch

    s = int(rng.integers(2**31 - 1))
    torch.manual_seed(s)
    return s


def _torch_linear_params(model, d, K):
    """(W1, b1, W2, b2) of a 2 -> d -> K network, found by their shapes."""
    found = {}
    for p in model.parameters():
        shape = tuple(p.shape)
        key = {(d, 2): "W1", (d,): "b1", (K, d): "W2", (K,): "b2"}.get(shape)
        if key is None or key in found:
            fail(f"SpiralNet({d}, {K}) a un paramètre inattendu de forme {shape} ; attendu exactement deux "
                 f"couches nn.Linear(2, {d}) et nn.Linear({d}, {K}).")
        found[key] = p.detach().double().numpy()
    if len(found) != 4:
        fail(f"SpiralNet({d}, {K}) doit avoir 4 tenseurs de paramètres (poids et biais de deux couches "
             f"nn.Linear), trouvé {sorted(found)}.")
    return found


def check_spiral_net(SpiralNet):
    import torch

    rng, seed = new_rng()
    _seed_torch(rng)
    d, K = int(rng.integers(5, 10)), int(rng.integers(3, 5))
    model = call_student(SpiralNet, d, K, what="SpiralNet")
    if not isinstance(model, torch.nn.Module):
        fail("SpiralNet doit être une sous-classe de nn.Module.")
    p = _torch_linear_params(model, d, K)
    X = rng.standard_normal((11, 2))
    with torch.no_grad():
        out = call_student(model, torch.tensor(X, dtype=torch.float32), what="SpiralNet.forward")
    got = as_array("SpiralNet(X)", out.detach().double().numpy() if isinstance(out, torch.Tensor) else out)
    want = np.maximum(X @ p["W1"].T + p["b1"], 0) @ p["W2"].T + p["b2"]
    hint = None
    if got.shape == want.shape:
        if np.allclose(got, ref.softmax(want), atol=1e-5):
            hint = ("forward renvoie des probabilités (softmax) : renvoyez les scores bruts, CrossEntropyLoss "
                    "applique elle-même log_softmax.")
        elif np.allclose(got, np.tanh(X @ p["W1"].T + p["b1"]) @ p["W2"].T + p["b2"], atol=1e-5):
            hint = "l'activation cachée attendue est ReLU (torch.relu), pas tanh."
    check_close(f"SpiralNet({d}, {K})(X) (graine {seed})", got, want, rtol=1e-4, atol=1e-5,
                hint=hint or "scores = Linear(d → K)(ReLU(Linear(2 → d)(x))), sans softmax à la fin.")
    passed(f"SpiralNet a la bonne architecture et renvoie les scores bruts (graine {seed}).")


def _reference_torch_train(model, X, y, lr, n_epochs, softmax_first=False, zero=True, momentum=0.9):
    import torch

    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(n_epochs):
        out = model(X)
        loss = loss_fn(torch.softmax(out, dim=1) if softmax_first else out, y)
        losses.append(loss.item())
        if zero:
            opt.zero_grad()
        loss.backward()
        opt.step()
    return losses


def _torch_accuracy(model, X, y):
    import torch

    with torch.no_grad():
        return float((model(X).argmax(dim=1) == y).float().mean())


def check_train_torch(train_torch, n_epochs=TORCH_EPOCHS):
    """Train a reference model with the student's loop, compare with the reference loop."""
    import torch

    threads = torch.get_num_threads()
    # Tiny matrices: one thread is fastest, and several threads that spin-wait on a busy
    # grading host made this check 30x slower in a measurement (0.7 s -> 23 s).
    torch.set_num_threads(1)
    try:
        _check_train_torch(train_torch, n_epochs)
    finally:
        torch.set_num_threads(threads)


def _check_train_torch(train_torch, n_epochs):
    import torch
    from nncourse import make_spiral

    rng, seed = new_rng()
    Xn, yn = make_spiral(rng=rng)
    X, y = torch.tensor(Xn, dtype=torch.float32), torch.tensor(yn, dtype=torch.int64)
    _seed_torch(rng)
    model = torch.nn.Sequential(torch.nn.Linear(2, TORCH_D), torch.nn.ReLU(), torch.nn.Linear(TORCH_D, 3))
    initial = copy.deepcopy(model)
    losses = call_student(train_torch, model, X, y, lr=TORCH_LR, n_epochs=n_epochs, what="train_torch")
    if losses is None or not hasattr(losses, "__len__"):
        fail("train_torch doit renvoyer la liste des pertes (un nombre par époque).")
    try:
        losses = np.asarray([float(v) for v in losses], dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        fail("train_torch doit renvoyer une liste de nombres (loss.item()), pas de tenseurs du graphe.")
    if losses.size != n_epochs:
        fail(f"train_torch a renvoyé {losses.size} pertes pour {n_epochs} époques (une par époque attendue).")
    with torch.no_grad():
        out0 = initial(X)
        ce0 = torch.nn.functional.cross_entropy(out0, y).item()
        soft0 = torch.nn.functional.cross_entropy(torch.softmax(out0, dim=1), y).item()
    if not np.isclose(losses[0], ce0, rtol=1e-4):
        hint = None
        if np.isclose(losses[0], soft0, rtol=1e-4):
            hint = ("softmax appliquée avant CrossEntropyLoss : cette perte applique déjà log_softmax aux "
                    "scores bruts ; ne mettez pas de softmax avant.")
        fail(f"la première perte enregistrée ({losses[0]:.5f}) n'est pas l'entropie croisée du modèle initial "
             f"sur les données ({ce0:.5f}, graine {seed}).",
             hint or "enregistrez CrossEntropyLoss()(model(X), y).item() AVANT la mise à jour de chaque époque.")
    acc = _torch_accuracy(model, X, y)
    ref_losses = _reference_torch_train(copy.deepcopy(initial), X, y, TORCH_LR, n_epochs)
    head = min(20, n_epochs)
    same = np.allclose(losses[:head], ref_losses[:head], rtol=1e-3, atol=1e-6)
    if acc < TORCH_MIN_ACCURACY or not same:
        hint = None
        variants = {
            "zero_grad oublié : backward() ajoute le nouveau gradient à l'ancien.":
                dict(zero=False),
            "le momentum 0.9 demandé manque dans torch.optim.SGD.": dict(momentum=0.0),
        }
        for text, kw in variants.items():
            other = _reference_torch_train(copy.deepcopy(initial), X, y, TORCH_LR, head, **kw)
            if np.allclose(losses[:head], other, rtol=1e-3, atol=1e-6):
                hint = text
                break
        what = (f"précision d'apprentissage {acc:.1%} (au moins {TORCH_MIN_ACCURACY:.0%} attendu)"
                if acc < TORCH_MIN_ACCURACY else
                "les pertes s'écartent de celles d'une descente SGD(lr, momentum=0.9) partie du même modèle")
        fail(f"après {n_epochs} époques (lr {TORCH_LR}) : {what} (graine {seed}).",
             hint or "à chaque époque : scores = model(X), perte, enregistrement de loss.item(), "
                     "optimizer.zero_grad(), loss.backward(), optimizer.step().")
    passed(f"train_torch : précision d'apprentissage {acc:.1%} après {n_epochs} époques (graine {seed}).")


def check_nll(nll_from_scores):
    import torch

    rng, seed = new_rng()
    S, y = _random_scores(rng)
    N, K = S.shape
    for scale, label in ((1.0, "scores ordinaires"), (500.0, "scores de l'ordre de ±1000")):
        Sd = S * scale
        if scale > 1:
            Sd[0, y[0]] = Sd[0].max() - 1500.0  # a true class whose probability is 0 in float32
        St = torch.tensor(Sd, dtype=torch.float32, requires_grad=True)
        yt = torch.tensor(y, dtype=torch.int64)
        out = call_student(nll_from_scores, St, yt, what="nll_from_scores")
        if not isinstance(out, torch.Tensor) or out.numel() != 1:
            fail("nll_from_scores doit renvoyer un tenseur scalaire (la perte moyenne), relié au graphe.")
        got = float(out.detach())
        want = ref.cross_entropy(np.asarray(St.detach().double()), y)
        if not np.isfinite(got):
            fail(f"nll_from_scores renvoie {got} pour des {label} (graine {seed}).",
                 "log(softmax(S)) donne log(0) = -inf en float32 : utilisez F.log_softmax, qui calcule "
                 "s - m - log Σ exp(s_j - m) sans passer par la probabilité.")
        hint = None
        if np.isclose(got, want * N, rtol=1e-4):
            hint = "reduction='sum' : la perte attendue est la moyenne (reduction par défaut de nll_loss)."
        elif np.isclose(got, float(torch.nn.functional.nll_loss(torch.tensor(Sd), yt)), rtol=1e-4):
            hint = "nll_loss a reçu les scores bruts : appliquez d'abord F.log_softmax(S, dim=1)."
        check_close(f"nll_from_scores ({label}, graine {seed})", got, want, rtol=1e-4, atol=1e-5,
                    hint=hint or "F.nll_loss(F.log_softmax(S, dim=1), y) : log_softmax sur l'axe des classes.")
        if out.requires_grad:
            out.backward()
            check_close(f"gradient de nll_from_scores par rapport aux scores ({label})", St.grad.double().numpy(),
                        ref.cross_entropy_grad(np.asarray(St.detach().double()), y), rtol=1e-3, atol=1e-5)
        else:
            fail("la valeur renvoyée par nll_from_scores n'est pas reliée au graphe de calcul "
                 "(pas de .item(), ni de numpy).")
    passed(f"nll_from_scores est correcte et stable (graine {seed}).")


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
    import torch

    torch.set_num_threads(1)
    for s in range(first_seed, first_seed + (torch_seeds or n_seeds)):
        rng = np.random.default_rng(s)
        X, y = make_spiral(rng=rng)
        X, y = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
        torch.manual_seed(s)
        m = torch.nn.Sequential(torch.nn.Linear(2, TORCH_D), torch.nn.ReLU(), torch.nn.Linear(TORCH_D, 3))
        _reference_torch_train(m, X, y, TORCH_LR, TORCH_EPOCHS)
        res["torch"].append(_torch_accuracy(m, X, y))
    return {k: np.array(v) for k, v in res.items()}


def calibration(seeds: int = 100) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    thresholds = {"tanh": TRAIN_MIN_ACCURACY, "relu": TRAIN_MIN_ACCURACY, "torch": TORCH_MIN_ACCURACY}
    return {f"accuracy, {name}": (a, thresholds.get(name)) for name, a in calibrate(seeds).items()}
