"""Hidden tests of notebook 02 (PyTorch: tensors, autograd by hand, moons with nn).

Every check draws fresh data (``common.new_rng``; torch is seeded from the same
generator), never reuses the values of the visible tests, and raises
``common.CheckFailed`` with a French message naming the likely mistake.

Gradient comparisons are done in float64 against the hand-derived numpy gradients of
notebook 01 (``two_layer_reference``: column convention, *summed* cross-entropy; the
notebook asks for the *mean* BCELoss, hence the factor 1/M).

Graded training (``check_train``): setting of the notebook ``D=20, LR=2.0,
N_EPOCHS=1000`` on ``make_moons(n_per_class=100)`` (noise 0.02), fresh moons and fresh
``nn.Linear`` default initialisation on each run; passes when the training accuracy is at
least ``ACCURACY_THRESHOLD``, or (rare bad initialisations, a local minimum) at least the
accuracy of the reference training from the same data and initialisation minus
``ACCURACY_SLACK``. Calibration: ``python -m autograder calibrate 02_moons_pytorch --seeds 100``
(``python -m autograder.checks.moons_pytorch N_SEEDS``).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from nncourse.data import make_moons

from . import two_layer_reference as ref
from .common import CheckFailed, call_student, check_close, fail, likely_mistake, new_rng, passed

# Setting of the graded training (must match the given cell of the notebook).
D_HIDDEN = 20
LR = 2.0
N_EPOCHS = 1000
# Calibration of the reference training, fresh moons + init per seed (seeds 0..399):
#   D=20, LR=2.0, 1000 epochs: min 0.930, median 1.000, max 1.000 (399/400 runs >= 0.97)
#   D=10, LR=2.0, 1000 epochs (100 seeds): min 0.880, median 1.000 -> not kept
#   D=10, LR=1.0, 1000 epochs (30 seeds): min 0.845, median 1.000 -> not kept
# The threshold alone would fail about one correct run in 400: hence the fallback on the
# reference run from the same initialisation (same float32 arithmetic up to rounding).
ACCURACY_THRESHOLD = 0.95
ACCURACY_SLACK = 0.02

PARAM_NAMES = ("W1", "b1", "W2", "b2")


# ------------------------------------------------------------------ helpers
def _seed_torch(rng) -> int:
    seed = int(rng.integers(2**31 - 1))
    torch.manual_seed(seed)
    return seed


def _np(value, what="la valeur renvoyée") -> np.ndarray:
    """A float64 numpy copy of a tensor / number / array (never an alias of .grad)."""
    if value is None:
        fail(f"{what} vaut None.", "avez-vous oublié le return ?")
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().to(torch.float64).numpy().copy()
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(f"{what} n'est pas numérique (type {type(value).__name__}).")


def _tensor_or_fail(value, what):
    if not isinstance(value, torch.Tensor):
        fail(f"{what} doit être un tenseur torch, reçu {type(value).__name__}.")
    return value


def _reference_model(d, dtype=torch.float64):
    return nn.Sequential(nn.Linear(2, d), nn.Tanh(), nn.Linear(d, 1), nn.Sigmoid()).to(dtype)


def _load_params(lin1: nn.Linear, lin2: nn.Linear, params: dict) -> None:
    with torch.no_grad():
        lin1.weight.copy_(torch.from_numpy(params["W1"]))
        lin1.bias.copy_(torch.from_numpy(params["b1"].ravel()))
        lin2.weight.copy_(torch.from_numpy(params["W2"]))
        lin2.bias.copy_(torch.from_numpy(params["b2"].ravel()))


def _linears(model, what):
    lins = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if len(lins) != 2:
        fail(f"{what} contient {len(lins)} couche(s) nn.Linear, attendu 2.",
             "Linear(2, d) puis Linear(d, 1).")
    return lins


def _moons(rng, n_per_class):
    X, y = make_moons(n_per_class=n_per_class, rng=rng)
    return X, y.reshape(-1, 1)


# ------------------------------------------------------------- 1. tensors
def check_to_float_tensor(fn):
    rng, seed = new_rng()
    n, m = (int(v) for v in rng.integers(2, 6, size=2))
    values = rng.integers(-9, 10, size=(n, m)).tolist()  # a list of lists of Python ints
    t = _tensor_or_fail(call_student(fn, values, what="to_float_tensor"), "to_float_tensor(...)")
    if t.dtype != torch.float32:
        fail(f"le tenseur a le type {t.dtype}, attendu torch.float32.",
             "torch.tensor(liste) garde des entiers (int64) : précisez dtype=torch.float32.")
    check_close("to_float_tensor(liste)", _np(t), np.array(values, dtype=np.float64))
    passed()


def check_as_matrix_view(fn):
    rng, seed = new_rng()
    n_rows, n_cols = int(rng.integers(2, 6)), int(rng.integers(6, 10))
    t = torch.from_numpy(rng.standard_normal(n_rows * n_cols).astype(np.float32))
    v = _tensor_or_fail(call_student(fn, t, n_rows, what="as_matrix_view"), "as_matrix_view(...)")
    check_close("as_matrix_view(t, n_rows)", _np(v), _np(t).reshape(n_rows, n_cols),
                hint="les valeurs doivent être rangées ligne par ligne : reshape(n_rows, -1).")
    k = int(rng.integers(t.numel()))
    new_value = float(rng.integers(100, 200)) + 0.5
    t[k] = new_value
    if float(v.reshape(-1)[k]) != new_value:
        fail("modifier t ne modifie pas le résultat : as_matrix_view renvoie une copie, pas une vue.",
             "pas de clone() ni de torch.tensor(...) : t.reshape(...) ou t.view(...) partage la mémoire.")
    if v.data_ptr() != t.data_ptr():
        fail("le résultat ne partage pas la mémoire de t (data_ptr différent).",
             "t.view(n_rows, -1) renvoie toujours une vue.")
    passed()


def check_row_and_column(fn):
    rng, seed = new_rng()
    n, m = int(rng.integers(3, 6)), int(rng.integers(6, 9))
    A = torch.from_numpy(rng.standard_normal((n, m)).astype(np.float32))
    i, j = int(rng.integers(n)), int(rng.integers(m))
    out = call_student(fn, A, i, j, what="row_and_column")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("row_and_column doit renvoyer deux tenseurs (ligne, colonne).")
    row, col = (_np(o) for o in out)
    a = A.numpy().astype(np.float64)
    if row.shape == (n,) and col.shape == (m,):
        fail("la ligne et la colonne semblent inversées.", "A[i, :] est la ligne i, A[:, j] la colonne j.")
    check_close(f"row_and_column(A, {i}, {j})[0] (ligne)", row, a[i, :],
                hint="la ligne i de A est A[i, :] (ou A[i]).")
    check_close(f"row_and_column(A, {i}, {j})[1] (colonne)", col, a[:, j],
                hint="la colonne j de A est A[:, j].")
    passed()


def check_outer_sum(fn):
    rng, seed = new_rng()
    n, m = int(rng.integers(2, 5)), int(rng.integers(5, 9))
    u = torch.from_numpy(rng.standard_normal(n).astype(np.float32))
    v = torch.from_numpy(rng.standard_normal(m).astype(np.float32))
    R = _np(call_student(fn, u, v, what="outer_sum"))
    expected = u.numpy()[:, None].astype(np.float64) + v.numpy()[None, :]
    if R.shape == (m, n):
        fail(f"outer_sum(u, v) a la forme {R.shape}, attendu {(n, m)}.",
             "orientation inversée : u doit être une colonne (n, 1) et v une ligne (1, m).")
    check_close("outer_sum(u, v)", R, expected, rtol=1e-5, atol=1e-6,
                hint="R[i, j] = u[i] + v[j] : u.reshape(-1, 1) + v.reshape(1, -1).")
    passed()


def check_center_columns(fn):
    rng, seed = new_rng()
    n, m = int(rng.integers(4, 8)), int(rng.integers(2, 4))
    A64 = rng.standard_normal((n, m)) * 2 + rng.uniform(-5, 5, size=(1, m))
    A = torch.from_numpy(A64.astype(np.float32))
    before = A.clone()
    C = _np(call_student(fn, A, what="center_columns"))
    a = before.numpy().astype(np.float64)
    expected = a - a.mean(axis=0, keepdims=True)
    hint = None
    if C.shape == expected.shape and np.allclose(C, a - a.mean(axis=1, keepdims=True), atol=1e-4):
        hint = "ce sont les lignes qui ont été centrées : moyenne sur dim=0 (les colonnes)."
    check_close("center_columns(A)", C, expected, rtol=1e-4, atol=1e-4, hint=hint)
    if not torch.equal(A, before):
        fail("center_columns a modifié A en place.", "renvoyez un nouveau tenseur A - moyenne.")
    passed()


# ------------------------------------------------------------- 2. autograd
def check_grad_f(fn):
    rng, seed = new_rng()
    for _ in range(2):
        x0, x1 = (float(np.round(v, 3)) for v in rng.uniform(-3, 3, size=2))
        out = call_student(fn, x0, x1, what="grad_f")
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail("grad_f doit renvoyer deux nombres (df/dx0, df/dx1).")
        got = np.array([float(_np(o)) for o in out])
        expected = np.array([12 * x0 * x1 + 15 * x1 ** 2, 6 * x0 ** 2 + 30 * x0 * x1])
        check_close(f"grad_f({x0}, {x1})", got, expected, rtol=1e-4, atol=1e-4,
                    hint=likely_mistake(got, expected))
    passed()


def _neq_reference(a, X, ref_vals):
    d = np.abs(X[:, 0] - X[:, 1])
    est = np.minimum(a * d, 1.0)
    loss = float(np.sum((est - ref_vals) ** 2))
    grad = float(np.sum(2 * (est - ref_vals) * d * (a * d < 1.0)))
    return loss, grad


def _neq_samples(rng, n):
    """Pairs of integers, about half of them equal, with the labels of '≠'."""
    x = rng.integers(-6, 7, size=n)
    y = x + rng.integers(1, 8, size=n) * rng.choice([-1, 1], size=n)
    same = rng.random(n) < 0.5
    same[:2] = [True, False]
    y = np.where(same, x, y)
    X = np.stack([x, y], axis=1).astype(np.float32)
    return X, (~same).astype(np.float32)


def check_neq_model(fn):
    rng, seed = new_rng()
    X, _ = _neq_samples(rng, 8)
    a0 = float(rng.uniform(0.05, 0.4))
    a = torch.tensor(a0, requires_grad=True)
    x_t, y_t = torch.from_numpy(X[:, 0]), torch.from_numpy(X[:, 1])
    try:
        out = fn(x_t, y_t, a)
    except NotImplementedError:
        fail("neq_model n'est pas encore écrite (NotImplementedError).")
    except RuntimeError as exc:
        if "ambiguous" in str(exc):
            fail("neq_model ne fonctionne pas sur des tenseurs de plusieurs valeurs.",
                 "le min de Python compare des nombres : utilisez torch.minimum (ou torch.clamp).")
        fail(f"neq_model a levé une erreur : {type(exc).__name__}: {exc}")
    except Exception as exc:
        fail(f"neq_model a levé une erreur : {type(exc).__name__}: {exc}")
    out = _tensor_or_fail(out, "neq_model(x, y, a)")
    d = np.abs(X[:, 0] - X[:, 1]).astype(np.float64)
    check_close("neq_model(x, y, a) sur des vecteurs", _np(out), np.minimum(a0 * d, 1.0),
                rtol=1e-5, atol=1e-6, hint="f(x, y, a) = min(a·|x − y|, 1), élément par élément.")
    if not out.requires_grad:
        fail("le résultat ne dépend plus de a pour autograd (requires_grad=False).",
             "restez en tenseurs torch (pas de .item(), float() ou numpy au milieu).")
    out.sum().backward()
    check_close("gradient de sum(neq_model) par rapport à a", _np(a.grad),
                float(np.sum(d * (a0 * d < 1.0))), rtol=1e-5, atol=1e-6)
    passed()


def check_neq_loss(fn, vectorized: bool):
    rng, seed = new_rng()
    name = "neq_loss_vectorized" if vectorized else "neq_loss_loop"
    n = int(rng.integers(5, 9))
    X, r = _neq_samples(rng, n)
    a0 = float(rng.uniform(0.05, 0.3))
    a = torch.tensor(a0, requires_grad=True)
    loss = _tensor_or_fail(call_student(fn, a, torch.from_numpy(X), torch.from_numpy(r), what=name),
                           f"{name}(a, X, ref)")
    if loss.numel() != 1:
        fail(f"{name} doit renvoyer une erreur totale (un seul nombre), reçu la forme {tuple(loss.shape)}.",
             "sommez les erreurs des échantillons (torch.sum).")
    exp_loss, exp_grad = _neq_reference(a0, X.astype(np.float64), r.astype(np.float64))
    got = float(_np(loss).reshape(()))
    check_close(f"{name}(a, X, ref)", got, exp_loss, rtol=1e-5, atol=1e-6,
                hint=likely_mistake(got, exp_loss, n_examples=n))
    if not loss.requires_grad:
        fail(f"{name} : l'erreur ne dépend plus de a pour autograd.",
             "pas de .item() / float() avant la fin : gardez des tenseurs.")
    loss.reshape(()).backward()
    check_close(f"gradient de {name} par rapport à a", _np(a.grad), exp_grad, rtol=1e-5, atol=1e-5)
    passed()


def check_gradient_step(fn):
    rng, seed = new_rng()
    a0 = float(rng.uniform(-2, 2))
    c = rng.uniform(0.5, 2.0, size=3).astype(np.float32)
    t = rng.uniform(-2, 2, size=3).astype(np.float32)
    lr = float(rng.uniform(0.01, 0.1))

    def make_loss(a):
        return torch.sum((torch.from_numpy(c) * a - torch.from_numpy(t)) ** 2)

    def grad_at(value):
        return float(np.sum(2 * c.astype(np.float64) * (c * value - t)))

    a = torch.tensor(a0, requires_grad=True)
    values = [a0]
    for step in (1, 2):
        before = float(a.detach())
        out = call_student(fn, a, make_loss(a), lr, what="gradient_step")
        if out is not None and out is not a and isinstance(out, torch.Tensor):
            fail("gradient_step doit modifier a sur place (a -= ...) et ne rien renvoyer.",
                 "a = a - lr * a.grad crée un nouveau tenseur : utilisez a -= lr * a.grad dans torch.no_grad().")
        after = float(a.detach())
        g = grad_at(before)
        expected = before - lr * g
        if after == before:
            fail(f"étape {step} : a n'a pas changé.",
                 "la mise à jour doit se faire sur place : a -= lr * a.grad (dans with torch.no_grad()).")
        hint = None
        if np.isclose(after, before + lr * g, rtol=1e-4, atol=1e-6):
            hint = "le signe de la mise à jour est inversé : on descend le gradient, a ← a − pas·grad."
        elif step == 2 and np.isclose(after, before - lr * (g + grad_at(values[0])), rtol=1e-4, atol=1e-6):
            hint = "le gradient de l'étape précédente s'est ajouté : a.grad.zero_() oublié."
        check_close(f"a après l'étape {step} (pas {lr:.3f})", after, expected, rtol=1e-4, atol=1e-5,
                    hint=hint)
        if not a.is_leaf or not a.requires_grad:
            fail("après gradient_step, a n'est plus une feuille qui demande son gradient.",
                 "faites la mise à jour dans with torch.no_grad().")
        if a.grad is not None and float(a.grad.abs().max()) != 0.0:
            fail("après gradient_step, a.grad n'est pas remis à zéro.",
                 "a.grad.zero_() après la mise à jour, sinon les gradients s'accumulent.")
        values.append(after)
    passed()


def _neq_train_reference(X, r, a0, lr, n_iter):
    a, losses = a0, []
    for _ in range(n_iter):
        loss, grad = _neq_reference(a, X, r)
        losses.append(loss)
        a -= lr * grad
    return a, np.array(losses)


def check_train_neq(fn):
    rng, seed = new_rng()
    X, r = _neq_samples(rng, int(rng.integers(4, 8)))
    a0 = float(rng.uniform(0.0, 0.1))
    lr = float(rng.uniform(0.002, 0.01))
    n_iter = int(rng.integers(15, 30))
    out = call_student(fn, torch.from_numpy(X), torch.from_numpy(r), a0, lr, n_iter, what="train_neq")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("train_neq doit renvoyer (a_final, pertes).")
    a_final, losses = float(_np(out[0])), np.array([float(_np(v)) for v in out[1]])
    exp_a, exp_losses = _neq_train_reference(X.astype(np.float64), r.astype(np.float64), a0, lr, n_iter)
    if losses.shape != exp_losses.shape:
        fail(f"train_neq a renvoyé {losses.size} pertes pour {n_iter} itérations.",
             "une perte par itération, calculée avant la mise à jour.")
    hint = None
    if not np.isclose(losses[0], exp_losses[0], rtol=1e-4):
        hint = likely_mistake(losses[0], exp_losses[0], n_examples=len(r))
    elif losses[-1] > losses[0]:
        hint = "la perte augmente : signe de la mise à jour ?"
    check_close(f"pertes de train_neq (a0={a0:.3f}, pas={lr:.4f})", losses, exp_losses,
                rtol=1e-3, atol=1e-6, hint=hint or "gradient remis à zéro à chaque itération ? "
                "perte enregistrée avant la mise à jour ?")
    check_close("a final de train_neq", a_final, exp_a, rtol=1e-3, atol=1e-6)
    passed()


# ------------------------------------------------------------------ 3. moons
def check_to_tensors(fn):
    rng, seed = new_rng()
    X, y = make_moons(n_per_class=int(rng.integers(5, 30)), rng=rng)
    out = call_student(fn, X, y, what="to_tensors")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("to_tensors doit renvoyer deux tenseurs (X_t, y_t).")
    Xt, yt = (_tensor_or_fail(o, "to_tensors(X, y)[k]") for o in out)
    M = len(y)
    for name, t in (("X_t", Xt), ("y_t", yt)):
        if t.dtype != torch.float32:
            fail(f"{name} a le type {t.dtype}, attendu torch.float32.",
                 "les couches nn.Linear travaillent en float32 : précisez dtype=torch.float32.")
    if tuple(yt.shape) == (M,):
        fail(f"y_t a la forme ({M},), attendu ({M}, 1).",
             "BCELoss veut des cibles de même forme que la sortie du réseau (M, 1) : reshape(-1, 1).")
    check_close("X_t", _np(Xt), X, rtol=1e-6, atol=1e-6)
    check_close("y_t", _np(yt), y.reshape(-1, 1))
    passed()


def _check_forward(model, d, rng, what):
    """Copy random weights into ``model`` (float64) and compare with the numpy reference."""
    lin1, lin2 = _linears(model, what)
    if tuple(lin1.weight.shape) != (d, 2) or tuple(lin2.weight.shape) != (1, d):
        fail(f"{what} : couches de formes {tuple(lin1.weight.shape)} et {tuple(lin2.weight.shape)}, "
             f"attendu {(d, 2)} et {(1, d)} pour d={d}.", "Linear(2, d) puis Linear(d, 1), avec le d donné.")
    model = model.double()
    params = ref.random_params(d, rng, scale=1.5)
    _load_params(lin1, lin2, params)
    X, _ = _moons(rng, int(rng.integers(5, 20)))
    with torch.no_grad():
        out = model(torch.from_numpy(X))
    out = _np(out)
    expected = ref.forward(X.T, params)[0].T
    hint = None
    if out.shape == expected.shape and (out.min() < 0 or out.max() > 1):
        hint = "des sorties hors de ]0, 1[ : la Sigmoid finale manque (BCELoss attend des probabilités)."
    elif out.shape == expected.shape:
        relu = ref.forward(X.T, params, kind="relu")[0].T
        if np.allclose(out, relu, rtol=1e-6):
            hint = "la couche cachée doit utiliser Tanh, pas ReLU."
    check_close(f"sortie de {what} (poids aléatoires)", out, expected, rtol=1e-6, atol=1e-9, hint=hint)


def check_build_model(fn):
    rng, seed = new_rng()
    d = int(rng.choice([3, 4, 5, 6, 7, 12, 13, 15]))
    model = call_student(fn, d, what="build_model")
    if not isinstance(model, nn.Module):
        fail(f"build_model doit renvoyer un nn.Module, reçu {type(model).__name__}.")
    _check_forward(model, d, rng, f"build_model({d})")
    passed()


def check_moons_net(cls):
    rng, seed = new_rng()
    d = int(rng.choice([3, 4, 5, 6, 7, 12, 13, 15]))
    net = call_student(cls, d, what="MoonsNet(d)")
    if not isinstance(net, nn.Module) or isinstance(net, nn.Sequential):
        fail("MoonsNet doit être une sous-classe de nn.Module (avec __init__ et forward).")
    n_params = sum(p.numel() for p in net.parameters())
    if n_params != 4 * d + 1:
        fail(f"MoonsNet({d}) a {n_params} paramètres, attendu {4 * d + 1}.",
             "Linear(2, d) puis Linear(d, 1), enregistrées comme attributs dans __init__.")
    try:
        _check_forward(net, d, rng, f"MoonsNet({d})")
    except CheckFailed:
        raise
    except Exception as exc:
        fail(f"MoonsNet.forward a levé une erreur : {type(exc).__name__}: {exc}")
    passed()


def _grad_problem(rng):
    d = int(rng.integers(3, 12))
    X, y = _moons(rng, int(rng.integers(10, 40)))
    params = ref.random_params(d, rng, scale=1.0)
    model = _reference_model(d)
    _load_params(model[0], model[2], params)
    yhat, cache = ref.forward(X.T, params)
    g = ref.backward(X.T, y.T, params, cache)
    M = X.shape[0]
    expected = {"W1": g["W1"] / M, "b1": g["b1"].ravel() / M,
                "W2": g["W2"] / M, "b2": g["b2"].ravel() / M}
    return model, torch.from_numpy(X), torch.from_numpy(y), expected, M


def check_autograd_gradient(fn, name: str):
    """Gradient ``name`` of the mean BCELoss, by the student's autograd, vs notebook 01."""
    rng, seed = new_rng()
    model, X, y, expected, M = _grad_problem(rng)
    calls = []
    for k in range(2):
        out = call_student(fn, model, X, y, what="autograd_gradients")
        if not isinstance(out, dict) or name not in out:
            keys = sorted(out) if isinstance(out, dict) else type(out).__name__
            fail(f"autograd_gradients doit renvoyer un dictionnaire avec les clés {PARAM_NAMES} (reçu {keys}).")
        calls.append(_np(out[name], f"le gradient {name}"))
    exp = expected[name]
    first, second = calls
    if first.shape != exp.shape and first.size == exp.size:
        first, second = first.reshape(exp.shape), second.reshape(exp.shape)
    check_close(f"gradient {name} (1er appel)", first, exp, rtol=1e-7, atol=1e-12,
                hint=likely_mistake(first, exp, n_examples=M)
                or "comparez avec les gradients calculés à la main au TP précédent (moyenne sur M exemples).")
    hint = None
    if np.allclose(second, 2 * exp, rtol=1e-6):
        hint = ("au 2e appel le gradient a doublé : les gradients s'accumulent, "
                "remettez-les à zéro (model.zero_grad()) avant backward().")
    check_close(f"gradient {name} (2e appel, mêmes poids)", second, exp, rtol=1e-7, atol=1e-12, hint=hint)
    passed()


def _train_reference(model, X, y, lr, n_epochs, sign=-1.0, zero=True, lag=False):
    """Plain full-batch gradient descent on the mean BCELoss, with a few known variants."""
    loss_fn = nn.BCELoss()
    losses = []
    params = list(model.parameters())
    prev = None
    for _ in range(n_epochs):
        loss = loss_fn(model(X), y)
        losses.append(loss.item())
        if zero:
            model.zero_grad()
        loss.backward()
        grads = [p.grad.clone() for p in params]
        use = prev if lag else grads
        with torch.no_grad():
            if use is not None:
                for p, g in zip(params, use):
                    p += sign * lr * g
        prev = grads
    return np.array(losses)


def _train_diagnosis(losses, variants):
    for text, traj in variants:
        if traj.shape == losses.shape and np.allclose(losses, traj, rtol=1e-7, atol=1e-12):
            return text
    if losses.size > 1 and losses[-1] > losses[0]:
        return "la perte augmente : signe de la mise à jour ?"
    return None


def check_train(fn, kind: str = "manual"):
    """Exact trajectory in float64 on a small problem, then accuracy of the graded setting."""
    what = {"manual": "train_manual", "sgd": "train_sgd"}[kind]
    rng, seed = new_rng()
    _seed_torch(rng)
    # (a) trajectory, float64, a few epochs: must be plain gradient descent on the mean loss
    d = int(rng.integers(3, 9))
    X, y = _moons(rng, int(rng.integers(10, 25)))
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    base = _reference_model(d)
    lr = float(rng.uniform(0.5, 2.0))
    n_epochs = int(rng.integers(6, 12))
    student = copy.deepcopy(base)
    out = call_student(fn, student, X, y, lr, n_epochs, what=what)
    if out is None:
        fail(f"{what} doit renvoyer la liste des pertes (une par époque).")
    losses = np.array([float(_np(v)) for v in out])
    expected = _train_reference(copy.deepcopy(base), X, y, lr, n_epochs)
    if losses.shape != expected.shape:
        fail(f"{what} a renvoyé {losses.size} pertes pour {n_epochs} époques.",
             "une perte par époque, calculée avant la mise à jour.")
    variants = [
        ("mise à jour dans le mauvais sens : p ← p − pas·grad.",
         _train_reference(copy.deepcopy(base), X, y, lr, n_epochs, sign=+1.0)),
        ("les gradients s'accumulent d'une époque à l'autre : zero_grad() oublié.",
         _train_reference(copy.deepcopy(base), X, y, lr, n_epochs, zero=False)),
        ("la mise à jour utilise le gradient de l'époque précédente : step() avant backward() ?",
         _train_reference(copy.deepcopy(base), X, y, lr, n_epochs, lag=True)),
    ]
    hint = _train_diagnosis(losses, variants)
    if hint is None and not np.isclose(losses[0], expected[0], rtol=1e-9):
        hint = likely_mistake(losses[0], expected[0], n_examples=len(y)) or "la perte doit être BCELoss (moyenne)."
    check_close(f"pertes de {what} (d={d}, pas={lr:.3f}, {n_epochs} époques, float64)", losses, expected,
                rtol=1e-7, atol=1e-12, hint=hint or "descente de gradient à pas constant sur tous les paramètres.")
    # (b) graded setting: fresh moons and a fresh default-initialised model
    Xb, yb = _moons(rng, 100)
    Xb = torch.tensor(Xb, dtype=torch.float32)
    yb = torch.tensor(yb, dtype=torch.float32)
    model = _reference_model(D_HIDDEN, torch.float32)
    initial = copy.deepcopy(model)
    call_student(fn, model, Xb, yb, LR, N_EPOCHS, what=what)
    acc = _accuracy(model, Xb, yb)
    if not acc >= ACCURACY_THRESHOLD:
        _train_reference(initial, Xb, yb, LR, N_EPOCHS)
        ref_acc = _accuracy(initial, Xb, yb)
        if not acc >= ref_acc - ACCURACY_SLACK:
            fail(f"{what} : précision {acc:.3f} après {N_EPOCHS} époques (pas {LR}), attendu au moins "
                 f"{min(ACCURACY_THRESHOLD, ref_acc - ACCURACY_SLACK):.3f} (graine {seed}).",
                 "le réseau n'apprend pas : vérifiez la boucle.")
    passed(f"Test réussi (précision {acc:.3f}).")


def _accuracy(model, X, y):
    with torch.no_grad():
        return float(((model(X) > 0.5).float() == y).float().mean())


def _classifier_problem(rng):
    d = int(rng.integers(3, 8))
    model = _reference_model(d, torch.float32)
    _load_params(model[0], model[2], {k: v.astype(np.float32) for k, v in
                                      ref.random_params(d, rng, scale=2.0).items()})
    for _ in range(50):
        X = rng.uniform(-2, 2, size=(int(rng.integers(30, 60)), 2))
        with torch.no_grad():
            p = model(torch.tensor(X, dtype=torch.float32)).numpy().ravel()
        if 0.2 < np.mean(p > 0.5) < 0.8:
            break
    return model, X, (p > 0.5).astype(np.float64)


def check_accuracy(fn):
    rng, seed = new_rng()
    model, X, pred = _classifier_problem(rng)
    M = len(pred)
    flip = rng.random(M) < rng.uniform(0.1, 0.3)
    y = np.where(flip, 1 - pred, pred)
    expected = float(np.mean(pred == y))
    out = call_student(fn, model, torch.tensor(X, dtype=torch.float32),
                       torch.tensor(y, dtype=torch.float32).reshape(-1, 1), what="accuracy")
    got = _np(out)
    if got.size != 1:
        fail(f"accuracy doit renvoyer un nombre, reçu la forme {got.shape}.")
    got = float(got.reshape(()))
    hint = None
    if np.isclose(got, np.mean(y == 1)):
        hint = "toutes les prédictions valent 1 : le seuil est 0.5 sur une probabilité (sortie de Sigmoid)."
    elif np.isclose(got, np.mean(pred[:, None] == y[None, :])):
        hint = "comparaison (M,) avec (M, 1) : le broadcasting donne une matrice (M, M)."
    check_close("accuracy(model, X, y)", got, expected, hint=hint)
    passed()


def check_predict(fn):
    rng, seed = new_rng()
    model, X, pred = _classifier_problem(rng)
    out = np.asarray(_np(call_student(fn, model, X, what="predict")))
    M = len(pred)
    if out.shape != (M,):
        fail(f"predict renvoie la forme {out.shape}, attendu ({M},).",
             "une étiquette par point : aplatissez avec .ravel() / .reshape(-1).")
    hint = "toutes les étiquettes valent 1 : seuil 0.5 sur la probabilité." if np.all(out == 1) else None
    check_close("predict(model, points)", out, pred, hint=hint)
    passed()


# ------------------------------------------------------------- calibration
def calibrate(n_seeds: int = 100, lr: float = LR, n_epochs: int = N_EPOCHS, d: int = D_HIDDEN,
              start: int = 0):
    """Accuracy of the reference training (fresh moons + init per seed): (min, median, max)."""
    accs = []
    for s in range(start, start + n_seeds):
        rng = np.random.default_rng(s)
        torch.manual_seed(int(rng.integers(2**31 - 1)))
        X, y = _moons(rng, 100)
        X = torch.tensor(X, dtype=torch.float32)
        y = torch.tensor(y, dtype=torch.float32)
        model = _reference_model(d, torch.float32)
        _train_reference(model, X, y, lr, n_epochs)
        accs.append(_accuracy(model, X, y))
    accs = np.array(accs)
    return float(accs.min()), float(np.median(accs)), float(accs.max()), accs


def calibration(seeds: int = 100, lr: float = LR) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    *_, accs = calibrate(seeds, lr=lr)
    return {f"accuracy (d={D_HIDDEN}, lr={lr}, {N_EPOCHS} epochs)": (accs, ACCURACY_THRESHOLD)}
