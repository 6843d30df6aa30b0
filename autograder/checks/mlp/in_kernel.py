"""Hidden tests of notebook 05 (modular numpy library of seed 001, MNIST MLP, PyTorch MLPs).

Every check draws fresh data (``common.new_rng``; replay with ``NNCOURSE_TEST_SEED``),
compares the student's classes with :mod:`mlp_reference` or with float64 centered
differences, and fails with a French message naming the likely mistake.

Isolation: a check of one class only uses that class of the student; what it is combined
with (sub-modules of a ``Sequentiel``, the net and loss given to ``Optim``, the ``Optim``
used by ``SGD``) comes from the reference library, so a mistake costs points where it is.
The integration checks (regression, moons, MNIST, auto-encoder) use the student's library.

Thresholds (``python -m autograder calibrate 05_mlp --seeds 20``): see the
constants below and the calibration notes next to them.
"""

from __future__ import annotations


import numpy as np

from .. import mlp_reference as ref
from ..common import (as_array, call_student, check_close, fail, grad_check, likely_mistake, new_rng,
                     numerical_gradient, passed, relative_error, swapped_globals)

GRAD_TOL = 1e-6

# --- calibrated thresholds (see calibrate() and the module docstring) -------------------
# MNIST, library recipe of the notebook (784-128 ReLU-10, LogSoftmax + CELoss, SGD batch 64,
# eps = 0.3/64, 3 epochs), 20 seeds (init + shuffling): see CALIBRATION below.
MNIST_MIN_ACCURACY = 0.95
# Moons (make_moons n=100/class, 2-10 tanh-1 sigmoide, BCE, batch 20, lr 1.0, 300 epochs).
MOONS_MIN_ACCURACY = 0.97
# PyTorch, Adam 1e-3, batch 128, pre-loaded normalised tensors.
TORCH_MIN_ACCURACY = {"linear": 0.90, "mlp1": 0.95, "mlp2": 0.95}
# Calibration (python -m autograder calibrate 05_mlp --seeds 20, seeds 0-19, 2026-11-22):
#   moons (held-out accuracy)  min 1.0000  median 1.0000  max 1.0000
#   MNIST library recipe       min 0.9642  median 0.9726  max 0.9746   -> threshold 0.95
#   torch linear (2 epochs)    min 0.9161  median 0.9194  max 0.9228   -> threshold 0.90
#   torch mlp1   (3 epochs)    min 0.9677  median 0.9717  max 0.9740   -> threshold 0.95
#   torch mlp2   (3 epochs)    min 0.9625  median 0.9705  max 0.9721   -> threshold 0.95
#   wrong answers: mlp1 without ReLU 0.9146-0.9231 (fails), linear + Softmax 0.9164-0.9219
#   (passes the accuracy test; the structure test catches it), mlp2 + Softmax 0.8719-0.9620
#   (straddles the threshold: not used as a mutant).

TORCH_SPECS = {  # name -> (Linear sizes, number of ReLU, parameter count)
    "linear": ([(784, 10)], 0, 7850),
    "mlp1": ([(784, 128), (128, 10)], 1, 101770),
    "mlp2": ([(784, 128), (128, 64), (64, 10)], 2, 109386),
}


# --------------------------------------------------------------------------- helpers
def _new(cls, *args, what=None):
    return call_student(cls, *args, what=what or f"le constructeur {getattr(cls, '__name__', cls)}")


def _dummy(Module, rng, with_gradients=True):
    """A subclass of the student's Module with two parameters (no student method but Module's)."""
    class Dummy(Module):
        def forward(self, X):
            return X @ self._parameters["W"] + self._parameters["b"]

    m = Dummy()
    m._parameters = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal((1, 4))}
    m._gradient = ({k: rng.standard_normal(v.shape) for k, v in m._parameters.items()}
                   if with_gradients else {})
    return m


def _module_zero_grad_works(cls):
    """Whether the zero_grad inherited by ``cls`` creates and resets gradients (checked apart)."""
    try:
        base = next(c for c in cls.__mro__ if c.__name__ == "Module")
        m = _dummy(base, np.random.default_rng(0), with_gradients=False)
        m.zero_grad()
        m._gradient = {k: np.ones_like(v) for k, v in m._parameters.items()}
        m.zero_grad()
        return all(np.array_equal(m._gradient[k], np.zeros_like(v)) for k, v in m._parameters.items())
    except Exception:
        return False


# ----------------------------------------------------------------- A1. Module
def check_zero_grad(Module):
    rng, seed = new_rng()
    m = _dummy(Module, rng, with_gradients=False)
    params = {k: v.copy() for k, v in m._parameters.items()}
    call_student(m.zero_grad, what="zero_grad")
    for name, value in params.items():
        if name not in m._gradient:
            fail(f"après zero_grad(), self._gradient n'a pas de clé {name!r} : zero_grad doit créer "
                 f"un gradient nul pour chaque paramètre (graine {seed}).",
                 "self._gradient[nom] = np.zeros_like(paramètre) pour chaque nom de self._parameters.")
        check_close(f"gradient {name!r} créé par zero_grad", m._gradient[name], np.zeros_like(value))
    for name in params:
        m._gradient[name] = rng.standard_normal(params[name].shape)
    call_student(m.zero_grad, what="zero_grad")
    for name, value in params.items():
        if not np.array_equal(np.asarray(m._gradient.get(name)), np.zeros_like(value)):
            fail(f"après zero_grad(), le gradient {name!r} n'est pas nul (graine {seed}).",
                 "réaffecter la variable de boucle (for g in ...: g = 0) ne modifie pas le "
                 "dictionnaire : écrivez self._gradient[nom] = np.zeros_like(...).")
        check_close(f"paramètre {name!r} après zero_grad (inchangé)", m._parameters[name], value, rtol=0, atol=0)
    passed(f"zero_grad crée et remet à zéro le gradient de chaque paramètre (graine {seed}).")


def check_update_parameters(Module):
    rng, seed = new_rng()
    m = _dummy(Module, rng)
    params = {k: v.copy() for k, v in m._parameters.items()}
    grads = {k: v.copy() for k, v in m._gradient.items()}
    step = float(rng.uniform(0.01, 0.5))
    call_student(m.update_parameters, step, what="update_parameters")
    for name in params:
        want = params[name] - step * grads[name]
        got = as_array(f"paramètre {name!r}", m._parameters[name])
        hint = None
        if got.shape == want.shape and np.allclose(got, params[name] + step * grads[name]):
            hint = "vous montez le long du gradient : W ← W - pas × gradient (signe -)."
        elif got.shape == want.shape and np.allclose(got, params[name]):
            hint = "les paramètres n'ont pas changé : modifiez self._parameters[nom] (ou en place, -=)."
        check_close(f"paramètre {name!r} après update_parameters({step:.3f})", got, want, rtol=1e-9,
                    hint=hint or "W ← W - gradient_step × gradient accumulé, pour chaque paramètre.")
        check_close(f"gradient {name!r} après update_parameters (inchangé)", m._gradient[name], grads[name],
                    rtol=0, atol=0, hint="update_parameters ne doit pas toucher au gradient accumulé.")
    passed(f"update_parameters fait un pas de descente sur chaque paramètre (graine {seed}).")


# ----------------------------------------------------------------- A2. losses
def _loss_values(cls, kind, y, yhat):
    loss = _new(cls)
    return as_array(f"{cls.__name__}().forward", call_student(loss.forward, y.copy(), yhat.copy(),
                                                         what=f"{cls.__name__}.forward"))


def check_mse_forward(MSELoss):
    rng, seed = new_rng()
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y, yhat = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    got = _loss_values(MSELoss, "mse", y, yhat)
    want = ref.MSELoss().forward(y, yhat)
    if got.shape != want.shape:
        hint = "une valeur PAR EXEMPLE : sommez sur l'axe 1 seulement (forme (batch,))."
        if got.size == 1:
            hint = ("vous renvoyez un seul nombre (moyenne ou somme sur tout le tableau) : il faut "
                    "une valeur par exemple, ||y_i - yhat_i||², soit np.sum(..., axis=1).")
        fail(f"MSELoss.forward renvoie la forme {got.shape}, attendu {want.shape} (graine {seed}).", hint)
    hint = likely_mistake(got, want)
    if np.allclose(got, want / d):
        hint = "moyenne sur les d composantes au lieu de la somme ||y - yhat||²."
    check_close("MSELoss.forward", got, want, rtol=1e-9, hint=hint or "||y_i - yhat_i||² pour chaque exemple i.")
    passed(f"MSELoss.forward renvoie bien ||y - yhat||² par exemple (graine {seed}).")


def _loss_backward_check(cls, name, y, yhat, ref_forward, seed, hint_extra=None):
    loss = _new(cls)
    got = as_array(f"{name}.backward", call_student(loss.backward, y.copy(), yhat.copy(), what=f"{name}.backward"))
    numeric = numerical_gradient(lambda v: float(np.sum(ref_forward(y, v))), yhat.copy(), 1e-6)
    hint = likely_mistake(got, numeric, n_examples=len(y))
    if got.shape != numeric.shape:
        fail(f"{name}.backward a la forme {got.shape}, attendu {numeric.shape} (celle de yhat).", hint)
    err = relative_error(got, numeric)
    if err > 1e-5:
        fail(f"{name}.backward ne correspond pas aux différences finies centrées de la somme des coûts "
             f"(erreur relative {err:.2e}, graine {seed}).", hint or hint_extra)


def check_mse_backward(MSELoss):
    rng, seed = new_rng()
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y, yhat = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    _loss_backward_check(MSELoss, "MSELoss", y, yhat, ref.MSELoss().forward, seed,
                         "∂/∂yhat de Σ_i ||y_i - yhat_i||² = 2 (yhat - y).")
    passed(f"MSELoss.backward est le gradient de la somme des coûts (graine {seed}).")


# ----------------------------------------------------------------- A2. Linear
def _student_linear(Linear, rng, n_in=None, n_out=None):
    n_in = n_in or int(rng.integers(3, 6))
    n_out = n_out or n_in + int(rng.integers(1, 3))       # never square: a missing .T shows
    lin = _new(Linear, n_in, n_out, int(rng.integers(2**31)), what=f"Linear({n_in}, {n_out}, rng)")
    W, b = rng.standard_normal((n_in, n_out)), rng.standard_normal((1, n_out))
    if not isinstance(getattr(lin, "_parameters", None), dict):
        fail("Linear doit ranger ses paramètres dans le dictionnaire self._parameters.")
    lin._parameters["W"], lin._parameters["b"] = W.copy(), b.copy()
    lin._gradient = {"W": np.zeros_like(W), "b": np.zeros_like(b)}
    return lin, W, b


def check_linear_forward(Linear):
    rng, seed = new_rng()
    n_in, n_out = int(rng.integers(3, 6)), 0
    n_out = n_in + 2
    lin0 = _new(Linear, n_in, n_out, 0, what=f"Linear({n_in}, {n_out}, rng=0)")
    params = getattr(lin0, "_parameters", None)
    if not isinstance(params, dict) or "W" not in params or "b" not in params:
        fail("Linear doit créer self._parameters['W'] et self._parameters['b'].")
    if np.shape(params["W"]) != (n_in, n_out) or np.shape(params["b"]) != (1, n_out):
        fail(f"Linear({n_in}, {n_out}) : W de forme {np.shape(params['W'])}, b de forme "
             f"{np.shape(params['b'])} ; attendu ({n_in}, {n_out}) et (1, {n_out}).")
    bound = 1 / np.sqrt(n_in)
    if np.all(np.asarray(params["W"]) == 0) or np.max(np.abs(params["W"])) > bound + 1e-12:
        fail(f"Linear({n_in}, {n_out}) : W doit être tiré uniformément dans [-1/√{n_in}, 1/√{n_in}].")
    grads = getattr(lin0, "_gradient", {})
    for k in ("W", "b") if _module_zero_grad_works(type(lin0)) else ():   # else: error carried forward
        if k not in grads or np.shape(grads[k]) != np.shape(params[k]) or np.any(np.asarray(grads[k]) != 0):
            fail(f"le constructeur de Linear doit créer un gradient nul self._gradient[{k!r}] "
                 f"(appelez self.zero_grad() après avoir créé les paramètres).")
    lin, W, b = _student_linear(Linear, rng)
    X = rng.standard_normal((int(rng.integers(4, 8)), W.shape[0]))
    got = as_array("Linear.forward", call_student(lin.forward, X.copy(), what="Linear.forward"))
    want = X @ W + b
    check_close("Linear.forward", got, want, rtol=1e-9, hint=likely_mistake(got, want) or
                "Z = X @ W + b (b ajouté à chaque ligne).")
    passed(f"Linear : initialisation et forward corrects (graine {seed}).")


def check_linear_gradient(Linear, which):
    rng, seed = new_rng()
    lin, W, b = _student_linear(Linear, rng)
    X = rng.standard_normal((int(rng.integers(6, 10)), W.shape[0]))
    delta = rng.standard_normal((len(X), W.shape[1]))
    call_student(lin.backward_update_gradient, X.copy(), delta.copy(), what="Linear.backward_update_gradient")
    got = as_array(f"gradient de {which}", lin._gradient.get(which))
    if which == "W":
        f = lambda v: float(np.sum(delta * (X @ v + b)))  # noqa: E731
        at = W.copy()
        hint = "∂L/∂W = Xᵀ δ, de forme (input, output)."
    else:
        f = lambda v: float(np.sum(delta * (X @ W + v)))  # noqa: E731
        at = b.copy()
        hint = "∂L/∂b = somme des lignes de δ (axis=0), de forme (1, output)."
        if got.shape == (1, W.shape[1]) or got.size == W.shape[1]:
            pass
        elif got.size == len(X) or got.shape == (len(X), 1):
            fail(f"le gradient de b a la forme {got.shape}, attendu (1, {W.shape[1]}) (graine {seed}).",
                 "la somme est faite sur le mauvais axe : sommez sur les exemples (axis=0).")
    if which == "b" and got.shape == (W.shape[1],):
        got = got.reshape(1, -1)
    grad_check(f"gradient de {which} (Linear.backward_update_gradient)", got, f, at, tol=GRAD_TOL,
               hint=hint, n_examples=len(X), seed=seed)
    passed(f"Linear : le gradient de {which} correspond aux différences finies (graine {seed}).")


def check_linear_accumulate(Linear):
    rng, seed = new_rng()
    lin, W, b = _student_linear(Linear, rng)
    X1, X2 = (rng.standard_normal((6, W.shape[0])) for _ in range(2))
    d1, d2 = (rng.standard_normal((6, W.shape[1])) for _ in range(2))
    call_student(lin.backward_update_gradient, X1.copy(), d1.copy(), what="Linear.backward_update_gradient")
    call_student(lin.backward_update_gradient, X2.copy(), d2.copy(), what="Linear.backward_update_gradient")
    want = {"W": X1.T @ d1 + X2.T @ d2, "b": (d1 + d2).sum(axis=0, keepdims=True)}
    second = {"W": X2.T @ d2, "b": d2.sum(axis=0, keepdims=True)}
    for k in ("W", "b"):
        got = as_array(f"gradient de {k}", lin._gradient.get(k)).reshape(want[k].shape)
        hint = None
        if np.allclose(got, second[k]):
            hint = ("le gradient est écrasé à chaque appel (=) au lieu d'être ajouté (+=) : "
                    "backward_update_gradient doit ACCUMULER.")
        check_close(f"gradient de {k} après deux backward_update_gradient", got, want[k], rtol=1e-8, hint=hint)
    for k, v in (("W", W), ("b", b)):
        check_close(f"paramètre {k} (inchangé avant update_parameters)", lin._parameters[k], v, rtol=0, atol=0,
                    hint="la passe arrière ne doit pas modifier les paramètres : seul update_parameters le fait.")
    got = as_array("Linear.forward", call_student(lin.forward, X1.copy(), what="Linear.forward"))
    check_close("Linear.forward après les passes arrière", got, X1 @ W + b, rtol=1e-9)
    passed(f"Linear : les gradients s'accumulent sur deux passes, les paramètres ne bougent pas (graine {seed}).")


def check_linear_backward_delta(Linear):
    rng, seed = new_rng()
    lin, W, b = _student_linear(Linear, rng)
    X = rng.standard_normal((int(rng.integers(6, 10)), W.shape[0]))
    delta = rng.standard_normal((len(X), W.shape[1]))
    got = as_array("Linear.backward_delta", call_student(lin.backward_delta, X.copy(), delta.copy(),
                                                     what="Linear.backward_delta"))
    grad_check("Linear.backward_delta", got, lambda v: float(np.sum(delta * (v @ W + b))), X.copy(),
               tol=GRAD_TOL, hint="∂L/∂X = δ Wᵀ, de forme (batch, input).", seed=seed)
    for k, v in (("W", W), ("b", b)):
        check_close(f"paramètre {k} après backward_delta (inchangé)", lin._parameters[k], v, rtol=0, atol=0)
    passed(f"Linear.backward_delta correspond aux différences finies (graine {seed}).")


# -------------------------------------------------------------- A3. activations
_ACT = {"tanh": ref.TanH, "sigmoide": ref.Sigmoide, "relu": ref.ReLU, "softmax": ref.Softmax,
        "logsoftmax": ref.LogSoftmax}
_ACT_HINTS = {
    "tanh": ("np.tanh(X).", "la dérivée de tanh en x est 1 - tanh²(x), calculée sur l'ENTRÉE."),
    "sigmoide": ("σ(x) = 1 / (1 + exp(-x)), stable pour |x| grand (0.5 (1 + tanh(x/2))).",
                 "σ'(x) = σ(x) (1 - σ(x)), avec σ calculée sur l'ENTRÉE."),
    "relu": ("max(x, 0).", "la dérivée vaut 1 où l'entrée est > 0, 0 ailleurs (multipliée par delta)."),
    "softmax": ("exp(z - max) / somme des exp(z - max), ligne par ligne.",
                "s ⊙ (δ - Σ_k δ_k s_k), la somme étant faite par ligne (axis=1, keepdims=True)."),
    "logsoftmax": ("(z - max) - log Σ exp(z - max), ligne par ligne.",
                   "δ - s × Σ_k δ_k (s = softmax), somme par ligne (axis=1, keepdims=True)."),
}


def check_activation_forward(cls, kind):
    rng, seed = new_rng()
    n, d = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    X = rng.normal(0, 3, size=(n, d))
    if kind in ("sigmoide", "softmax", "logsoftmax"):
        X[0] = rng.uniform(700, 900, size=d) * (1 if kind != "sigmoide" else -1)   # overflow of exp
        X[0, 0] += 5.0
    module = _new(cls)
    with np.errstate(all="ignore"):
        got = as_array(f"{cls.__name__}.forward", call_student(module.forward, X.copy(), what=f"{cls.__name__}.forward"))
    want = _ACT[kind]().forward(X)
    hint = _ACT_HINTS[kind][0]
    if got.shape == want.shape and not np.all(np.isfinite(got)):
        hint = ("des inf/nan pour de grandes entrées (ligne 0, valeurs vers 800) : exp déborde. "
                + ("Retranchez le maximum de chaque ligne avant l'exponentielle."
                   if kind != "sigmoide" else "Utilisez une forme stable, par exemple 0.5 (1 + tanh(x/2))."))
    check_close(f"{cls.__name__}.forward", got, want, rtol=1e-7, atol=1e-10, hint=hint)
    passed(f"{cls.__name__}.forward est correcte, y compris pour de grandes entrées (graine {seed}).")


def check_activation_backward(cls, kind):
    rng, seed = new_rng()
    n, d = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    X = rng.normal(0, 1.5, size=(n, d))
    if kind == "relu":
        X[np.abs(X) < 0.05] = 0.3           # stay away from the kink
    delta = rng.standard_normal((n, d))
    module = _new(cls)
    call_student(module.forward, X.copy(), what=f"{cls.__name__}.forward")
    got = as_array(f"{cls.__name__}.backward_delta", call_student(module.backward_delta, X.copy(), delta.copy(),
                                                              what=f"{cls.__name__}.backward_delta"))
    f_ref = _ACT[kind]().forward
    grad_check(f"{cls.__name__}.backward_delta", got, lambda v: float(np.sum(delta * f_ref(v))), X.copy(),
               tol=GRAD_TOL, hint=_ACT_HINTS[kind][1], seed=seed)
    passed(f"{cls.__name__}.backward_delta correspond aux différences finies (graine {seed}).")


# --------------------------------------------------------------- A4. Sequentiel
def _ref_stack(rng, sizes=(3, 5, 4, 2)):
    mods = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = ref.Linear(a, b, rng=int(rng.integers(2**31)))
        lin._parameters["W"] = rng.standard_normal((a, b))
        lin._parameters["b"] = rng.standard_normal((1, b))
        lin.zero_grad()
        mods.append(lin)
        if i < len(sizes) - 2:
            mods.append(ref.TanH() if i % 2 == 0 else ref.Sigmoide())
    return mods


def _chain(mods, X):
    for m in mods:
        X = m.forward(X)
    return X


def check_sequentiel_forward(Sequentiel):
    rng, seed = new_rng()
    mods = _ref_stack(rng)
    net = _new(Sequentiel, *mods)
    X = rng.standard_normal((int(rng.integers(5, 9)), 3))
    got = as_array("Sequentiel.forward", call_student(net.forward, X.copy(), what="Sequentiel.forward"))
    check_close("Sequentiel.forward", got, _chain(mods, X), rtol=1e-9,
                hint="appliquez les modules dans l'ordre, la sortie de l'un étant l'entrée du suivant.")
    X2 = rng.standard_normal((3, 3))
    got = as_array("Sequentiel.forward", call_student(net.forward, X2.copy(), what="Sequentiel.forward"))
    check_close("Sequentiel.forward (second appel)", got, _chain(mods, X2), rtol=1e-9)
    passed(f"Sequentiel.forward est égal au chaînage à la main (graine {seed}).")


def check_sequentiel_backward(Sequentiel):
    rng, seed = new_rng()
    mods = _ref_stack(rng)
    net = _new(Sequentiel, *mods)
    X = rng.standard_normal((int(rng.integers(5, 9)), 3))
    delta = rng.standard_normal((len(X), 2))
    call_student(net.forward, X.copy(), what="Sequentiel.forward")
    call_student(net.backward_update_gradient, X.copy(), delta.copy(), what="Sequentiel.backward_update_gradient")
    linears = [m for m in mods if isinstance(m, ref.Linear)]

    def loss_of(values, li, key):
        saved = linears[li]._parameters[key]
        linears[li]._parameters[key] = values
        out = float(np.sum(delta * _chain(mods, X)))
        linears[li]._parameters[key] = saved
        return out

    for li, lin in enumerate(linears):
        for key in ("W", "b"):
            numeric = numerical_gradient(lambda v: loss_of(v, li, key), lin._parameters[key].copy(), 1e-6)
            got = lin._gradient[key]
            err = relative_error(got, numeric)
            if err > 1e-5:
                fail(f"après Sequentiel.backward_update_gradient, le gradient de {key} de la couche "
                     f"linéaire n°{li + 1} est faux (erreur relative {err:.2e}, graine {seed}).",
                     "parcourez les modules du DERNIER au premier ; chacun reçoit SON entrée mémorisée "
                     "pendant forward, ajoute son gradient, puis calcule le delta pour le module précédent.")
    for li, lin in enumerate(linears):
        lin.zero_grad()
    call_student(net.forward, X.copy(), what="Sequentiel.forward")
    got = as_array("Sequentiel.backward_delta", call_student(net.backward_delta, X.copy(), delta.copy(),
                                                         what="Sequentiel.backward_delta"))
    grad_check("Sequentiel.backward_delta", got, lambda v: float(np.sum(delta * _chain(mods, v))), X.copy(),
               tol=1e-5, hint="les deltas se propagent du dernier module au premier, chacun avec son entrée.",
               seed=seed)
    for li, lin in enumerate(linears):
        if np.any(lin._gradient["W"] != 0):
            fail("Sequentiel.backward_delta a modifié les gradients des modules : elle doit seulement "
                 "renvoyer ∂L/∂input.")
    passed(f"Sequentiel : gradients de toutes les couches et backward_delta corrects (graine {seed}).")


def check_sequentiel_update(Sequentiel):
    rng, seed = new_rng()
    mods = _ref_stack(rng)
    net = _new(Sequentiel, *mods)
    linears = [m for m in mods if isinstance(m, ref.Linear)]
    for lin in linears:
        lin._gradient = {k: rng.standard_normal(v.shape) for k, v in lin._parameters.items()}
    before = [{k: v.copy() for k, v in lin._parameters.items()} for lin in linears]
    grads = [{k: v.copy() for k, v in lin._gradient.items()} for lin in linears]
    step = float(rng.uniform(0.01, 0.3))
    call_student(net.update_parameters, step, what="Sequentiel.update_parameters")
    for i, lin in enumerate(linears):
        for k in ("W", "b"):
            check_close(f"couche {i + 1}, {k} après net.update_parameters({step:.3f})", lin._parameters[k],
                        before[i][k] - step * grads[i][k], rtol=1e-9,
                        hint="update_parameters doit appeler update_parameters(gradient_step) de chaque module.")
    call_student(net.zero_grad, what="Sequentiel.zero_grad")
    for i, lin in enumerate(linears):
        for k in ("W", "b"):
            check_close(f"couche {i + 1}, gradient de {k} après net.zero_grad()", lin._gradient[k],
                        np.zeros_like(lin._parameters[k]), hint="zero_grad doit appeler zero_grad() de chaque module.")
    passed(f"Sequentiel : zero_grad et update_parameters s'appliquent à tous les modules (graine {seed}).")


# ------------------------------------------------------------- A4. Optim / SGD
def check_optim_step(Optim):
    rng, seed = new_rng()
    mods = _ref_stack(rng, sizes=(3, 4, 2))
    twin = _ref_stack(np.random.default_rng(0), sizes=(3, 4, 2))
    for a, b in zip(mods, twin):
        if isinstance(a, ref.Linear):
            b._parameters = {k: v.copy() for k, v in a._parameters.items()}
            b.zero_grad()
    net, ref_net = ref.Sequentiel(*mods), ref.Sequentiel(*twin)
    eps = float(rng.uniform(0.005, 0.05))
    opt = _new(Optim, net, ref.MSELoss(), eps, what="Optim(net, loss, eps)")
    ref_opt = ref.Optim(ref_net, ref.MSELoss(), eps)
    for it in range(3):
        X, Y = rng.standard_normal((7, 3)), rng.standard_normal((7, 2))
        got = call_student(opt.step, X.copy(), Y.copy(), what="Optim.step")
        want = ref_opt.step(X, Y)
        try:
            got_f = float(got)
        except (TypeError, ValueError):
            fail(f"Optim.step doit renvoyer le coût moyen du batch (un nombre), reçu {type(got).__name__}.")
        check_close(f"valeur renvoyée par step (itération {it + 1})", got_f, want, rtol=1e-7,
                    hint="le coût MOYEN du batch (np.mean de loss.forward), calculé avant la mise à jour.")
        for i, (a, b) in enumerate(zip(net.modules, ref_net.modules)):
            for k in a._parameters:
                if not np.allclose(a._parameters[k], b._parameters[k], rtol=1e-8, atol=1e-12):
                    hint = "zero_grad, forward, coût, backward du coût, backward_update_gradient du réseau, update_parameters(eps)."
                    if it > 0:
                        hint = ("le premier pas est juste mais pas les suivants : les gradients ne sont pas "
                                "remis à zéro au début de step (ils s'accumulent d'un pas à l'autre).")
                    fail(f"après {it + 1} appel(s) à step, le paramètre {k} du module {i + 1} n'a pas "
                         f"la valeur attendue (graine {seed}).", hint)
    passed(f"Optim.step fait exactement une itération de descente de gradient (graine {seed}).")


class _SpyOptim:
    """Reference Optim that records the batches it receives."""
    batches: list = []

    def __init__(self, net, loss, eps):
        self.inner = ref.Optim(net, loss, eps)
        _SpyOptim.batches = getattr(_SpyOptim, "batches", [])

    def step(self, batch_x, batch_y):
        _SpyOptim.batches.append(np.asarray(batch_x)[:, 0].copy())
        return self.inner.step(batch_x, batch_y)


def check_sgd(SGD):
    rng, seed = new_rng()
    n = int(rng.integers(150, 220))
    batch = int(rng.integers(16, 40))
    n_epochs = 4
    X = rng.standard_normal((n, 3))
    X[:, 0] = np.arange(n)                        # identifies each example
    W = rng.standard_normal((3, 2)) * np.array([[0.0], [1], [1]])
    Y = X @ W + 0.5
    net = ref.Sequentiel(ref.Linear(3, 2, rng=1))
    _SpyOptim.batches = []
    with swapped_globals(SGD, {"Optim": _SpyOptim}):
        out = call_student(SGD, net, ref.MSELoss(), X.copy(), Y.copy(), batch, n_epochs, 1e-6,
                           rng=int(rng.integers(2**31)), what="SGD")
    batches = list(_SpyOptim.batches)
    if not batches:
        fail("SGD n'a appelé aucun Optim(...).step : utilisez Optim(net, loss, eps) et sa méthode step.")
    per_epoch = -(-n // batch)
    if len(batches) != per_epoch * n_epochs:
        fail(f"SGD a fait {len(batches)} pas pour {n} exemples, batchs de {batch}, {n_epochs} époques ; "
             f"attendu {per_epoch * n_epochs} ({per_epoch} par époque, le dernier batch plus petit).")
    if max(len(b) for b in batches) > batch:
        fail(f"un batch de {max(len(b) for b in batches)} exemples pour batch_size={batch}.")
    orders = []
    for e in range(n_epochs):
        seen = np.concatenate(batches[e * per_epoch:(e + 1) * per_epoch])
        if sorted(seen.astype(int).tolist()) != list(range(n)):
            fail(f"à l'époque {e + 1}, les exemples ne sont pas tous vus exactement une fois "
                 f"(graine {seed}).", "découpez une permutation des indices en tranches de batch_size.")
        orders.append(seen)
    if np.array_equal(orders[0], np.arange(n)) or all(np.array_equal(orders[0], o) for o in orders[1:]):
        fail("SGD ne mélange pas les exemples à chaque époque (même ordre à chaque époque).",
             "tirez une nouvelle permutation rng.permutation(len(X)) au début de chaque époque.")
    values = as_array("valeur renvoyée par SGD", out).ravel()
    if values.size != n_epochs:
        fail(f"SGD doit renvoyer une liste de {n_epochs} coûts moyens (un par époque), reçu {values.size} valeurs.")
    # Real training with the student's SGD and reference optimisation: the loss must drop.
    net = ref.Sequentiel(ref.Linear(3, 2, rng=2))
    Xs = rng.standard_normal((200, 3))
    Ys = Xs @ rng.standard_normal((3, 2)) + 0.3
    with swapped_globals(SGD, {"Optim": ref.Optim}):
        losses = as_array("SGD", call_student(SGD, net, ref.MSELoss(), Xs, Ys, 20, 5, 0.05 / 20, rng=3, what="SGD")).ravel()
    first = float(np.mean(ref.MSELoss().forward(Ys, ref.Linear(3, 2, rng=2).forward(Xs))))
    if not (losses[-1] < 0.2 * first and np.isclose(losses[0], losses[0])):
        fail(f"avec SGD, la régression linéaire n'apprend pas (coût moyen {first:.3g} au départ, "
             f"{losses[-1]:.3g} après 5 époques, graine {seed}).")
    passed(f"SGD : batchs mélangés, chaque exemple une fois par époque, coûts par époque (graine {seed}).")


# ----------------------------------------------------------------- A5. BCE
def check_bce_forward(BCELoss):
    rng, seed = new_rng()
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y = (rng.random((n, d)) < 0.5).astype(float)
    yhat = rng.uniform(0.02, 0.98, size=(n, d))
    got = _loss_values(BCELoss, "bce", y, yhat)
    want = ref.BCELoss().forward(y, yhat)
    if got.shape != want.shape:
        fail(f"BCELoss.forward renvoie la forme {got.shape}, attendu {want.shape}.",
             "une valeur par exemple : somme sur l'axe 1 seulement.")
    check_close("BCELoss.forward", got, want, rtol=1e-9, hint=likely_mistake(got, want) or
                "-Σ_j [y log ŷ + (1 - y) log(1 - ŷ)] pour chaque exemple.")
    # saturated outputs: exact 0 and 1
    yhat2 = yhat.copy()
    yhat2[0, 0], y[0, 0] = 1.0, 1.0
    yhat2[1, 0], y[1, 0] = 0.0, 0.0
    yhat2[2, 0], y[2, 0] = 0.0, 1.0
    with np.errstate(all="ignore"):
        got = _loss_values(BCELoss, "bce", y, yhat2)
    want = ref.BCELoss().forward(y, yhat2)
    if not np.all(np.isfinite(got)):
        fail(f"BCELoss.forward donne inf ou nan quand ŷ vaut exactement 0 ou 1 (graine {seed}).",
             "seuillez le logarithme : np.maximum(np.log(yhat), -100) (et de même pour log(1 - yhat)).")
    check_close("BCELoss.forward avec ŷ ∈ {0, 1}", got, want, rtol=1e-9,
                hint="log seuillé à -100 : max(log ŷ, -100) et max(log(1 - ŷ), -100).")
    passed(f"BCELoss.forward est correcte, y compris pour des sorties saturées (graine {seed}).")


def check_bce_backward(BCELoss):
    rng, seed = new_rng()
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y = (rng.random((n, d)) < 0.5).astype(float)
    yhat = rng.uniform(0.05, 0.95, size=(n, d))
    _loss_backward_check(BCELoss, "BCELoss", y, yhat, ref.BCELoss().forward, seed,
                         "∂/∂ŷ = -y/ŷ + (1 - y)/(1 - ŷ).")
    loss = _new(BCELoss)
    yhat2 = yhat.copy()
    yhat2[0, 0], yhat2[1, 0] = 0.0, 1.0
    with np.errstate(all="ignore"):
        got = as_array("BCELoss.backward", call_student(loss.backward, y.copy(), yhat2, what="BCELoss.backward"))
    if not np.all(np.isfinite(got)):
        fail("BCELoss.backward donne inf ou nan quand ŷ vaut exactement 0 ou 1.",
             "bornez ŷ avant de diviser, par exemple np.clip(yhat, 1e-12, 1 - 1e-12).")
    passed(f"BCELoss.backward est le gradient de la somme des coûts, fini même pour ŷ ∈ {{0, 1}} (graine {seed}).")


# ----------------------------------------------------------------- A6. CE
def check_celoss(CELoss):
    rng, seed = new_rng()
    n, k = int(rng.integers(5, 9)), int(rng.integers(3, 6))
    y = ref.one_hot(rng.integers(0, k, size=n), k)
    logp = ref.LogSoftmax().forward(rng.standard_normal((n, k)))
    got = _loss_values(CELoss, "ce", y, logp)
    want = ref.CELoss().forward(y, logp)
    if got.shape != want.shape:
        fail(f"CELoss.forward renvoie la forme {got.shape}, attendu {want.shape}.", "une valeur par exemple.")
    check_close("CELoss.forward", got, want, rtol=1e-9, hint=likely_mistake(got, want) or
                "-Σ_k y_k ŷ_k : ŷ contient déjà des LOG-probabilités (sortie de LogSoftmax).")
    _loss_backward_check(CELoss, "CELoss", y, logp, ref.CELoss().forward, seed, "∂/∂ŷ = -y.")
    passed(f"CELoss : valeurs et gradient corrects (graine {seed}).")


# ----------------------------------------------------------- integration tests
def check_regression(train_regression):
    rng, seed = new_rng()
    d_in, d_out = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    W = rng.uniform(-2, 2, size=(d_in, d_out))
    # well separated biases: a bias gradient summed over the wrong axis cannot fit them all
    b = (rng.permutation(np.linspace(-2, 2, d_out)) + rng.uniform(-0.2, 0.2, d_out)).reshape(1, d_out)
    X = rng.standard_normal((200, d_in))
    Y = X @ W + b + 0.05 * rng.standard_normal((200, d_out))
    out = call_student(train_regression, X, Y, n_iter=300, eps=1e-3, rng=int(rng.integers(2**31)),
                       what="train_regression")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("train_regression doit renvoyer le couple (module, pertes).")
    module, losses = out
    losses = as_array("pertes", losses).ravel()
    if losses.size != 300:
        fail(f"{losses.size} pertes pour 300 itérations.")
    if not losses[-1] < losses[0]:
        fail(f"la perte n'a pas diminué ({losses[0]:.3g} → {losses[-1]:.3g}, graine {seed}).",
             "pas de descente : paramètres - eps × gradient, après zero_grad et backward à chaque itération.")
    params = getattr(module, "_parameters", {})
    check_close("W appris", params.get("W"), W, rtol=0, atol=0.05,
                hint="300 itérations de pas 1e-3 sur le gradient de la SOMME des coûts suffisent.")
    check_close("b appris", params.get("b"), b, rtol=0, atol=0.05)
    passed(f"régression linéaire : W et b retrouvés à 0.05 près (graine {seed}).")


def check_binary(build_binary_net, SGD=None, BCELoss=None):
    """Architecture of the moons network, compared with the reference chain on the same weights.

    The training itself is graded by the visible part of the cell (the notebook's run with
    fixed seeds), so that the result does not depend on the draw for a wrong library.
    """
    rng, seed = new_rng()
    hidden = int(rng.integers(3, 12))
    net = call_student(build_binary_net, hidden, rng=int(rng.integers(2**31)), what="build_binary_net")
    mods = getattr(net, "modules", None)
    names = [type(m).__name__ for m in mods] if isinstance(mods, list) else []
    if names != ["Linear", "TanH", "Linear", "Sigmoide"]:
        fail(f"build_binary_net doit renvoyer Sequentiel(Linear, TanH, Linear, Sigmoide) ; reçu "
             f"{names or type(net).__name__}.")
    shapes = [np.shape(mods[i]._parameters.get("W")) for i in (0, 2)]
    if shapes != [(2, hidden), (hidden, 1)]:
        fail(f"build_binary_net({hidden}) : poids de formes {shapes}, attendu [(2, {hidden}), ({hidden}, 1)].")
    if np.allclose(mods[0]._parameters["W"], 0):
        fail("les poids de la première couche sont nuls : initialisez-les au hasard (symétrie).")
    chain = [ref.Linear(2, hidden), ref.TanH(), ref.Linear(hidden, 1), ref.Sigmoide()]
    for i in (0, 2):
        chain[i]._parameters = {k: np.array(v, dtype=float) for k, v in mods[i]._parameters.items()}
    X = rng.standard_normal((9, 2))
    with np.errstate(all="ignore"):
        got = as_array("sortie du réseau", call_student(net.forward, X.copy(), what="build_binary_net(...).forward"))
    check_close("sortie du réseau", got, _chain(chain, X), rtol=1e-7,
                hint="Linear(2, hidden) → TanH → Linear(hidden, 1) → Sigmoide, dans cet ordre.")
    passed(f"build_binary_net({hidden}) : architecture et sortie correctes (graine {seed}).")


def check_mnist(net, X_test, y_test):
    with np.errstate(all="ignore"):
        pred = np.concatenate([as_array("sortie", call_student(net.forward, X_test[i:i + 2000], what="mnist_net.forward"))
                               .argmax(axis=1) for i in range(0, len(X_test), 2000)])
    acc = float(np.mean(pred == np.asarray(y_test)))
    if not acc >= MNIST_MIN_ACCURACY:
        fail(f"le réseau entraîné classe correctement {acc:.2%} des 10 000 images de test, attendu au "
             f"moins {MNIST_MIN_ACCURACY:.0%}.",
             "784 → 128 (ReLU) → 10 → LogSoftmax ; vérifiez Linear, ReLU, LogSoftmax, CELoss, Optim et SGD.")
    passed(f"MNIST : {acc:.2%} de précision sur les 10 000 images de test.")


def check_autoencoder(build_autoencoder):
    rng, seed = new_rng()
    latent = int(rng.integers(2, 12))
    out = call_student(build_autoencoder, latent, rng=int(rng.integers(2**31)), what="build_autoencoder")
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("build_autoencoder doit renvoyer le triplet (encodeur, décodeur, autoencodeur).")
    enc, dec, ae = out
    X = rng.random((5, 784))
    code = as_array("code", call_student(enc.forward, X, what="encodeur.forward"))
    if code.shape != (5, latent) or np.any(np.abs(code) > 1):
        fail(f"le code a la forme {code.shape}, attendu (5, {latent}), valeurs dans [-1, 1] (TanH final).")
    rec = as_array("reconstruction", call_student(ae.forward, X, what="autoencodeur.forward"))
    if rec.shape != (5, 784) or np.any(rec < 0) or np.any(rec > 1):
        fail(f"la reconstruction a la forme {rec.shape}, attendu (5, 784), valeurs dans [0, 1] (Sigmoide finale).")
    check_close("décodeur(encodeur(X))", as_array("décodeur", dec.forward(code)), rec, rtol=1e-9,
                hint="l'autoencodeur doit enchaîner l'encodeur puis le décodeur (les mêmes objets).")
    passed(f"auto-encodeur : code de dimension {latent}, reconstruction dans [0, 1] (graine {seed}).")


# ------------------------------------------------------------------ Part B (torch)
def check_normalize(normalize_images):
    import torch
    rng, seed = new_rng()
    n = int(rng.integers(3, 8))
    imgs = torch.from_numpy(rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8))
    got = call_student(normalize_images, imgs.clone(), what="normalize_images")
    if not isinstance(got, torch.Tensor) or got.dtype != torch.float32:
        fail(f"normalize_images doit renvoyer un tenseur float32 (reçu {type(got).__name__} "
             f"{getattr(got, 'dtype', '')}).")
    want = (imgs.reshape(n, -1).double() / 255 - 0.1307) / 0.3081
    hint = None
    if got.shape == want.shape and np.allclose(got.double().numpy(), (imgs.reshape(n, -1).double() - 0.1307) / 0.3081):
        hint = "les pixels doivent d'abord être ramenés dans [0, 1] (division par 255)."
    elif got.shape == want.shape and np.allclose(got.double().numpy(), imgs.reshape(n, -1).double().numpy() / 255 / 0.3081,
                                                 atol=1e-5):
        hint = "la moyenne 0.1307 n'est pas retranchée avant la division par l'écart-type."
    check_close("normalize_images", got.double().numpy(), want.numpy(), rtol=1e-5, atol=1e-5,
                hint=hint or "((pixels / 255) - 0.1307) / 0.3081, image aplatie en 784 valeurs par ligne.")
    passed(f"normalize_images : forme, type et valeurs corrects (graine {seed}).")


def check_model(builder, name):
    import torch
    from torch import nn
    sizes, n_relu, n_params = TORCH_SPECS[name]
    model = call_student(builder, what=f"build_{name}")
    if not isinstance(model, nn.Module):
        fail(f"build_{name} doit renvoyer un nn.Module (nn.Sequential), reçu {type(model).__name__}.")
    layers = [m for m in model.modules() if not list(m.children())]
    linears = [(m.in_features, m.out_features) for m in layers if isinstance(m, nn.Linear)]
    if linears != sizes:
        fail(f"build_{name} : couches linéaires {linears}, attendu {sizes}.")
    relus = sum(isinstance(m, nn.ReLU) for m in layers)
    if relus != n_relu:
        fail(f"build_{name} : {relus} ReLU, attendu {n_relu} (une après chaque couche cachée).",
             "sans activation entre deux couches linéaires, le réseau reste linéaire.")
    if any(isinstance(m, (nn.Softmax, nn.LogSoftmax, nn.Sigmoid)) for m in layers):
        fail(f"build_{name} se termine par une softmax (ou sigmoïde) : nn.CrossEntropyLoss attend les "
             f"scores bruts et applique log_softmax elle-même.", "retirez la dernière activation.")
    count = sum(p.numel() for p in model.parameters())
    if count != n_params:
        fail(f"build_{name} a {count} paramètres, attendu {n_params}.")
    x = torch.randn(4, 784)
    with torch.no_grad():
        out = model(x)
    if tuple(out.shape) != (4, 10):
        fail(f"build_{name} renvoie la forme {tuple(out.shape)} pour un batch (4, 784), attendu (4, 10).")
    passed(f"build_{name} : architecture, activations et nombre de paramètres ({n_params}) corrects.")


def check_param_counts(N_PARAMS):
    for name, (_, _, n) in TORCH_SPECS.items():
        got = N_PARAMS.get(name) if isinstance(N_PARAMS, dict) else None
        if got is None or int(got) != n:
            fail(f"N_PARAMS[{name!r}] = {got}, ce n'est pas le bon nombre de paramètres.",
                 "une couche Linear(n_in, n_out) a n_in × n_out poids ET n_out biais.")
    passed("les trois nombres de paramètres sont justes.")


def _torch_problem(rng):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    batch = int(rng.integers(16, 40))
    n = batch * int(rng.integers(3, 6)) + int(rng.integers(1, batch))   # a smaller last batch
    X = torch.from_numpy(rng.standard_normal((n, 784)).astype(np.float32))
    y = torch.from_numpy(rng.integers(0, 10, size=n))
    return X, y, DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=False)


def check_train_epoch(train_epoch):
    import copy
    import torch
    from torch import nn
    rng, seed = new_rng()
    torch.manual_seed(int(rng.integers(2**31)))
    X, y, loader = _torch_problem(rng)
    model = nn.Sequential(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)).double()
    twin = copy.deepcopy(model)
    X, loader = X.double(), torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X.double(), y),
                                                        batch_size=loader.batch_size, shuffle=False)
    model.eval()                                     # train_epoch must switch to train mode itself
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    twin_opt = torch.optim.SGD(twin.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(2):
        got = call_student(train_epoch, model, loader, opt, loss_fn, what="train_epoch")
        total = 0.0
        for xb, yb in loader:
            twin_opt.zero_grad()
            loss = loss_fn(twin(xb), yb)
            loss.backward()
            twin_opt.step()
            total += loss.item() * len(xb)
        want = total / len(X)
        for (pn, p), q in zip(model.named_parameters(), twin.parameters()):
            if not torch.allclose(p, q, rtol=1e-9, atol=1e-12):
                fail(f"après {epoch + 1} époque(s), le paramètre {pn} n'a pas la valeur attendue (graine {seed}).",
                     "pour chaque batch : optimizer.zero_grad(), coût, loss.backward(), optimizer.step() "
                     "(sans zero_grad, les gradients des batchs précédents s'ajoutent).")
        try:
            got = float(got)
        except (TypeError, ValueError):
            fail(f"train_epoch doit renvoyer un nombre (reçu {type(got).__name__}).")
        check_close(f"coût moyen renvoyé par train_epoch (époque {epoch + 1})", got, want, rtol=1e-6,
                    hint="moyenne PAR EXEMPLE : somme des loss.item() × len(xb), divisée par le nombre d'exemples.")
    if not model.training:
        fail("train_epoch doit mettre le modèle en mode apprentissage (model.train()).")
    passed(f"train_epoch : mêmes paramètres et même coût moyen que la boucle de référence (graine {seed}).")


def check_evaluate(evaluate):
    import torch
    from torch import nn
    rng, seed = new_rng()
    torch.manual_seed(int(rng.integers(2**31)))
    X, y, _ = _torch_problem(rng)

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 10))
            self.grad_enabled = []

        def forward(self, x):
            self.grad_enabled.append(torch.is_grad_enabled())
            return self.net(x)

    model = Spy()
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    out = call_student(evaluate, model, X, y, loss_fn, what="evaluate")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("evaluate doit renvoyer le couple (coût, précision).")
    if not model.grad_enabled:
        fail("evaluate n'a pas appelé le modèle.")
    if any(model.grad_enabled):
        fail("le modèle est appelé avec le calcul de gradient activé : évaluez sous torch.no_grad().",
             "with torch.no_grad(): scores = model(X)")
    if model.training:
        fail("evaluate laisse le modèle en mode apprentissage : le dropout reste actif et les résultats "
             "changent d'un appel à l'autre.", "appelez model.eval() avant d'évaluer.")
    with torch.no_grad():
        scores = model.net(X)
        want_loss = loss_fn(scores, y).item()
        want_acc = (scores.argmax(1) == y).double().mean().item()
    try:
        loss, acc = float(out[0]), float(out[1])
    except (TypeError, ValueError):
        fail("evaluate doit renvoyer deux nombres (coût, précision).")
    check_close("coût renvoyé par evaluate", loss, want_loss, rtol=1e-5, hint="le coût moyen loss_fn(scores, y).")
    check_close("précision renvoyée par evaluate", acc, want_acc, rtol=1e-6,
                hint="proportion (entre 0 et 1) des argmax des scores égaux aux étiquettes.")
    passed(f"evaluate : mode évaluation, sans gradient, coût et précision corrects (graine {seed}).")


def check_torch_accuracy(model, name, X_test, y_test):
    import torch
    was_training = model.training
    model.eval()
    with torch.no_grad():
        acc = (model(X_test).argmax(dim=1) == y_test).double().mean().item()
    model.train(was_training)
    thr = TORCH_MIN_ACCURACY[name]
    if not acc >= thr:
        fail(f"build_{name} entraîné : {acc:.2%} de précision sur les 10 000 images de test, attendu au "
             f"moins {thr:.0%}.", "vérifiez l'architecture (ReLU, pas de softmax finale) et train_epoch.")
    passed(f"build_{name} : {acc:.2%} de précision sur le test (seuil {thr:.0%}).")


# ------------------------------------------------------------------ calibration
def calibrate(n_seeds=20, parts=("mnist", "moons", "torch"), first_seed=0):
    """Accuracies of the notebook's recipes over seeds; returns {name: array}."""
    import time
    from nncourse.data import load_mnist, load_mnist_numpy, make_moons
    results = {}
    if "moons" in parts:
        accs = []
        for s in range(first_seed, first_seed + n_seeds):
            rng = np.random.default_rng(s)
            net = ref.Sequentiel(ref.Linear(2, 10, rng), ref.TanH(), ref.Linear(10, 1, rng), ref.Sigmoide())
            X, y = make_moons(n_per_class=100, rng=rng)
            ref.SGD(net, ref.BCELoss(), X, y.reshape(-1, 1).astype(float), 20, 300, 1.0 / 20, rng)
            Xh, yh = make_moons(n_per_class=100, rng=rng)
            accs.append(float(np.mean((net.forward(Xh)[:, 0] > 0.5) == yh)))
        results["moons"] = np.array(accs)
    if "mnist" in parts:
        X, y = load_mnist_numpy(True)
        Xt, yt = load_mnist_numpy(False)
        Y = ref.one_hot(y)
        accs = []
        for s in range(first_seed, first_seed + n_seeds):
            rng = np.random.default_rng(s)
            net = ref.Sequentiel(ref.Linear(784, 128, rng), ref.ReLU(), ref.Linear(128, 10, rng), ref.LogSoftmax())
            t0 = time.time()
            ref.SGD(net, ref.CELoss(), X, Y, 64, 3, 0.3 / 64, rng)
            accs.append(ref.accuracy(net, Xt, yt))
            print(f"  mnist seed {s}: {accs[-1]:.4f} ({time.time() - t0:.1f} s)", flush=True)
        results["mnist"] = np.array(accs)
    if "torch" in parts:
        import torch
        from torch import nn
        from torch.utils.data import DataLoader, TensorDataset
        torch.set_num_threads(1)
        imgs, labels = load_mnist(True)
        timgs, tlabels = load_mnist(False)
        Xtr = (imgs.reshape(len(imgs), -1).float() / 255 - 0.1307) / 0.3081
        Xte = (timgs.reshape(len(timgs), -1).float() / 255 - 0.1307) / 0.3081
        builders = {
            "linear": (lambda: nn.Sequential(nn.Linear(784, 10)), 2),
            "mlp1": (lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)), 3),
            "mlp2": (lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                           nn.Linear(64, 10)), 3),
            # wrong answers, to see where they land
            "mlp1_no_relu": (lambda: nn.Sequential(nn.Linear(784, 128), nn.Linear(128, 10)), 3),
            "linear_softmax": (lambda: nn.Sequential(nn.Linear(784, 10), nn.Softmax(dim=1)), 2),
            "mlp2_softmax": (lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                                   nn.Linear(64, 10), nn.Softmax(dim=1)), 3),
        }
        for name, (build, epochs) in builders.items():
            accs = []
            for s in range(first_seed, first_seed + n_seeds):
                torch.manual_seed(s)
                model = build()
                loader = DataLoader(TensorDataset(Xtr, labels), batch_size=128, shuffle=True)
                opt = torch.optim.Adam(model.parameters(), lr=1e-3)
                loss_fn = nn.CrossEntropyLoss()
                for _ in range(epochs):
                    model.train()
                    for xb, yb in loader:
                        opt.zero_grad()
                        loss_fn(model(xb), yb).backward()
                        opt.step()
                model.eval()
                with torch.no_grad():
                    accs.append((model(Xte).argmax(1) == tlabels).float().mean().item())
            results["torch_" + name] = np.array(accs)
            print(f"  torch {name}: {np.round(accs, 4)}", flush=True)
    return results


def calibration(seeds: int = 20, parts: str = "moons,mnist,torch") -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    thresholds = {"moons": MOONS_MIN_ACCURACY, "mnist": MNIST_MIN_ACCURACY,
                  **{"torch_" + k: v for k, v in TORCH_MIN_ACCURACY.items()}}
    return {f"accuracy, {name}": (a, thresholds.get(name)) for name, a in calibrate(seeds, tuple(parts.split(","))).items()}
