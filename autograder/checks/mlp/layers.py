"""05, part A: Module, Linear, the activations and Sequentiel, probed as objects.

Each check builds the student's class in the kernel (``Call("Linear", ...)``), sets the
grader's parameters and gradients, calls its methods and reads its attributes back
(:class:`Step`); the grader judges with :mod:`mlp_reference` and float64 centered
differences. ``Sequentiel`` is probed with *tapes* (recording stand-in modules answering the
grader's arrays), so a mistake in Linear or an activation does not cost its points.
"""

from __future__ import annotations

import numpy as np

from .. import mlp_reference as ref
from ..common import check_close, fail, likely_mistake, named_mistake, numerical_gradient, relative_error
from ..probing import Call, Get, Method, New, Set, Tape, check
from .reading import array_of, dict_of_arrays, value_of

GRAD_TOL = 1e-6


def _grad_ok(name, got, f, at, hint, n_examples=None):
    numeric = numerical_gradient(f, at.copy(), 1e-6)
    guess = likely_mistake(got, numeric, n_examples)
    if got.shape != numeric.shape:
        fail(f"{name} a la forme {got.shape}, attendu {numeric.shape}.", guess or hint)
    err = relative_error(got, numeric)
    if not err < GRAD_TOL:
        fail(f"{name} : le gradient ne correspond pas aux différences finies centrées "
             f"(erreur relative {err:.2e}).", guess or hint)


# ------------------------------------------------------------------------------ Module
@check("test_zero_grad")
def zero_grad_creates_and_resets(rng):
    """Module.zero_grad creates a zero gradient per parameter, then resets it to zero, parameters untouched."""
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal((1, 4))}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    r, = yield [Call("Module", steps=(
        Set(("_parameters",), params), Set(("_gradient",), {}), Method("zero_grad"), Get("_gradient"),
        Set(("_gradient",), grads), Method("zero_grad"), Get("_gradient"), Get("_parameters")))]
    value_of(r.steps[2], "zero_grad")
    first = value_of(r.steps[3], "self._gradient")
    for name, v in params.items():
        if not isinstance(first, dict) or name not in first:
            fail(f"après zero_grad(), self._gradient n'a pas de clé {name!r} : zero_grad doit créer "
                 f"un gradient nul pour chaque paramètre.",
                 "self._gradient[nom] = np.zeros_like(paramètre) pour chaque nom de self._parameters.")
        check_close(f"gradient {name!r} créé par zero_grad", first[name], np.zeros_like(v))
    value_of(r.steps[5], "zero_grad")
    second = dict_of_arrays(r.steps[6], "self._gradient", params)
    for name, v in params.items():
        if second[name].shape != v.shape or np.any(second[name] != 0):
            fail(f"après un second zero_grad(), le gradient {name!r} n'est pas nul.",
                 "réaffecter la variable de boucle (for g in ...: g = 0) ne modifie pas le "
                 "dictionnaire : écrivez self._gradient[nom] = np.zeros_like(...).")
    after = dict_of_arrays(r.steps[7], "self._parameters", params)
    for name, v in params.items():
        check_close(f"paramètre {name!r} après zero_grad (inchangé)", after[name], v, rtol=0, atol=0)
    return "zero_grad crée et remet à zéro le gradient de chaque paramètre."


@check("test_update_parameters")
def update_parameters_descends(rng):
    """Module.update_parameters makes one descent step on every parameter and leaves the gradient alone."""
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal((1, 4))}
    grads = {k: rng.standard_normal(v.shape) for k, v in params.items()}
    step = float(rng.uniform(0.01, 0.5))
    r, = yield [Call("Module", steps=(Set(("_parameters",), params), Set(("_gradient",), grads),
                                       Method("update_parameters", step), Get("_parameters"), Get("_gradient")))]
    value_of(r.steps[2], "update_parameters")
    got = dict_of_arrays(r.steps[3], "self._parameters", params)
    after_grads = dict_of_arrays(r.steps[4], "self._gradient", grads)
    for name in params:
        want = params[name] - step * grads[name]
        hint = named_mistake(got[name], {
            "vous montez le long du gradient : W ← W - pas × gradient (signe -).":
                lambda: params[name] + step * grads[name],
            "les paramètres n'ont pas changé : modifiez self._parameters[nom] (ou en place, -=).":
                lambda: params[name],
        }, rtol=1e-9)
        check_close(f"paramètre {name!r} après update_parameters({step:.3f})", got[name], want, rtol=1e-9,
                    hint=hint or "W ← W - gradient_step × gradient accumulé, pour chaque paramètre.")
        check_close(f"gradient {name!r} après update_parameters (inchangé)", after_grads[name], grads[name],
                    rtol=0, atol=0, hint="update_parameters ne doit pas toucher au gradient accumulé.")
    return "update_parameters fait un pas de descente sur chaque paramètre."


# ------------------------------------------------------------------------------ Linear
def _linear_steps(W, b, *then):
    return (Set(("_parameters", "W"), W), Set(("_parameters", "b"), b),
            Set(("_gradient",), {"W": np.zeros_like(W), "b": np.zeros_like(b)}), *then)


def _shapes(rng):
    n_in = int(rng.integers(3, 6))
    return n_in, n_in + int(rng.integers(1, 3))           # never square: a missing .T shows


@check("test_linear_forward")
def linear_init_and_forward(rng):
    """Linear(input, output, rng): W, b uniform in ±1/√input, zero gradients, and forward = X W + b."""
    n_in, n_out = _shapes(rng)
    W, b = rng.standard_normal((n_in, n_out)), rng.standard_normal((1, n_out))
    X = rng.standard_normal((int(rng.integers(4, 8)), n_in))
    init, r = yield [Call("Linear", (n_in, n_out, int(rng.integers(2**31))), steps=(Get("_parameters"), Get("_gradient"))),
                     Call("Linear", (n_in, n_out, 0), steps=_linear_steps(W, b, Method("forward", X)))]
    params = dict_of_arrays(init.steps[0], "self._parameters", ("W", "b"))
    if params["W"].shape != (n_in, n_out) or params["b"].shape != (1, n_out):
        fail(f"Linear({n_in}, {n_out}) : W de forme {params['W'].shape}, b de forme {params['b'].shape} ; "
             f"attendu ({n_in}, {n_out}) et (1, {n_out}).")
    bound = 1 / np.sqrt(n_in)
    for k in ("W", "b"):
        if np.all(params[k] == 0) or np.max(np.abs(params[k])) > bound + 1e-12 or np.unique(params[k]).size < params[k].size:
            fail(f"Linear({n_in}, {n_out}) : {k} doit être tiré uniformément dans [-1/√{n_in}, 1/√{n_in}] "
                 f"(valeurs entre {params[k].min():.3f} et {params[k].max():.3f}).",
                 "rng.uniform(-1/np.sqrt(input), 1/np.sqrt(input), size=...) pour W et pour b.")
    grads = value_of(init.steps[1], "self._gradient")
    for k in ("W", "b"):
        g = grads.get(k) if isinstance(grads, dict) else None
        if g is None or np.shape(g) != params[k].shape or np.any(np.asarray(g) != 0):
            fail(f"le constructeur de Linear doit créer un gradient nul self._gradient[{k!r}] "
                 f"(appelez self.zero_grad() après avoir créé les paramètres).")
    got = array_of(r.steps[3], "Linear.forward")
    want = X @ W + b
    check_close("Linear.forward", got, want, rtol=1e-9, hint=named_mistake(got, {
        "le biais b n'est pas ajouté : Z = X @ W + b.": lambda: X @ W}) or likely_mistake(got, want)
        or "Z = X @ W + b (b ajouté à chaque ligne).")
    return "Linear : initialisation et forward corrects."


def _linear_gradient(rng, which):
    n_in, n_out = _shapes(rng)
    W, b = rng.standard_normal((n_in, n_out)), rng.standard_normal((1, n_out))
    X = rng.standard_normal((int(rng.integers(6, 10)), n_in))
    delta = rng.standard_normal((len(X), n_out))
    r, = yield [Call("Linear", (n_in, n_out, 0), steps=_linear_steps(
        W, b, Method("backward_update_gradient", X, delta), Get("_gradient", which)))]
    value_of(r.steps[3], "Linear.backward_update_gradient")
    got = array_of(r.steps[4], f"gradient de {which}")
    if which == "W":
        _grad_ok("gradient de W (Linear.backward_update_gradient)", got,
                 lambda v: float(np.sum(delta * (X @ v + b))), W,
                 named_mistake(got, {"le gradient de W est Xᵀ δ, pas δᵀ X (transposée) : forme (input, output).":
                                     lambda: delta.T @ X}) or "∂L/∂W = Xᵀ δ, de forme (input, output).", len(X))
    else:
        if got.shape == (n_out,):
            got = got.reshape(1, -1)
        if got.shape != (1, n_out) and got.size == len(X):
            fail(f"le gradient de b a la forme {got.shape}, attendu (1, {n_out}).",
                 "la somme est faite sur le mauvais axe : sommez sur les exemples (axis=0).")
        _grad_ok("gradient de b (Linear.backward_update_gradient)", got,
                 lambda v: float(np.sum(delta * (X @ W + v))), b,
                 "∂L/∂b = somme des lignes de δ (axis=0), de forme (1, output).", len(X))
    return f"Linear : le gradient de {which} correspond aux différences finies."


@check("test_linear_grad_W")
def linear_grad_W(rng):
    """Linear.backward_update_gradient adds Xᵀδ to the gradient of W (centered differences)."""
    return (yield from _linear_gradient(rng, "W"))


@check("test_linear_grad_b")
def linear_grad_b(rng):
    """Linear.backward_update_gradient adds the column sums of δ to the gradient of b (centered differences)."""
    return (yield from _linear_gradient(rng, "b"))


@check("test_linear_accumulate")
def linear_accumulates(rng):
    """Two backward passes add up in the gradients; parameters move only with update_parameters."""
    n_in, n_out = _shapes(rng)
    W, b = rng.standard_normal((n_in, n_out)), rng.standard_normal((1, n_out))
    X1, X2 = (rng.standard_normal((6, n_in)) for _ in range(2))
    d1, d2 = (rng.standard_normal((6, n_out)) for _ in range(2))
    r, = yield [Call("Linear", (n_in, n_out, 0), steps=_linear_steps(
        W, b, Method("backward_update_gradient", X1, d1), Method("backward_update_gradient", X2, d2),
        Get("_gradient"), Get("_parameters"), Method("forward", X1)))]
    value_of(r.steps[4], "Linear.backward_update_gradient")
    got = dict_of_arrays(r.steps[5], "self._gradient", ("W", "b"))
    want = {"W": X1.T @ d1 + X2.T @ d2, "b": (d1 + d2).sum(axis=0, keepdims=True)}
    second = {"W": X2.T @ d2, "b": d2.sum(axis=0, keepdims=True)}
    for k in ("W", "b"):
        g = got[k].reshape(want[k].shape) if got[k].size == want[k].size else got[k]
        check_close(f"gradient de {k} après deux backward_update_gradient", g, want[k], rtol=1e-8,
                    hint=named_mistake(g, {"le gradient est écrasé à chaque appel (=) au lieu d'être ajouté (+=) : "
                                           "backward_update_gradient doit ACCUMULER.": lambda: second[k]}))
    params = dict_of_arrays(r.steps[6], "self._parameters", ("W", "b"))
    for k, v in (("W", W), ("b", b)):
        check_close(f"paramètre {k} (inchangé avant update_parameters)", params[k], v, rtol=0, atol=0,
                    hint="la passe arrière ne doit pas modifier les paramètres : seul update_parameters le fait.")
    check_close("Linear.forward après les passes arrière", array_of(r.steps[7], "Linear.forward"), X1 @ W + b, rtol=1e-9)
    return "Linear : les gradients s'accumulent sur deux passes, les paramètres ne bougent pas."


@check("test_linear_backward_delta")
def linear_backward_delta(rng):
    """Linear.backward_delta returns δWᵀ (centered differences) and leaves the parameters alone."""
    n_in, n_out = _shapes(rng)
    W, b = rng.standard_normal((n_in, n_out)), rng.standard_normal((1, n_out))
    X = rng.standard_normal((int(rng.integers(6, 10)), n_in))
    delta = rng.standard_normal((len(X), n_out))
    r, = yield [Call("Linear", (n_in, n_out, 0), steps=_linear_steps(
        W, b, Method("backward_delta", X, delta), Get("_parameters")))]
    got = array_of(r.steps[3], "Linear.backward_delta")
    _grad_ok("Linear.backward_delta", got, lambda v: float(np.sum(delta * (v @ W + b))), X,
             "∂L/∂X = δ Wᵀ, de forme (batch, input).")
    params = dict_of_arrays(r.steps[4], "self._parameters", ("W", "b"))
    for k, v in (("W", W), ("b", b)):
        check_close(f"paramètre {k} après backward_delta (inchangé)", params[k], v, rtol=0, atol=0)
    return "Linear.backward_delta correspond aux différences finies."


# ------------------------------------------------------------------------ activations
ACTIVATIONS = {"TanH": ref.TanH, "Sigmoide": ref.Sigmoide, "ReLU": ref.ReLU, "Softmax": ref.Softmax,
               "LogSoftmax": ref.LogSoftmax}
HINTS = {
    "TanH": ("np.tanh(X).", "la dérivée de tanh en x est 1 - tanh²(x), calculée sur l'ENTRÉE."),
    "Sigmoide": ("σ(x) = 1 / (1 + exp(-x)), stable pour |x| grand (0.5 (1 + tanh(x/2))).",
                 "σ'(x) = σ(x) (1 - σ(x)), avec σ calculée sur l'ENTRÉE."),
    "ReLU": ("max(x, 0).", "la dérivée vaut 1 où l'entrée est > 0, 0 ailleurs (multipliée par delta)."),
    "Softmax": ("exp(z - max) / somme des exp(z - max), ligne par ligne.",
                "s ⊙ (δ - Σ_k δ_k s_k), la somme étant faite par ligne (axis=1, keepdims=True)."),
    "LogSoftmax": ("(z - max) - log Σ exp(z - max), ligne par ligne.",
                   "δ - s × Σ_k δ_k (s = softmax), somme par ligne (axis=1, keepdims=True)."),
}


def _forward_mistakes(cls, X):
    with np.errstate(all="ignore"):
        return {
            "TanH": {"tanh calculée comme sinh / cosh sur de grandes entrées déborde : utilisez np.tanh.":
                     lambda: np.sinh(X) / np.cosh(X)},
            "Sigmoide": {"σ(x) = 1 / (1 + exp(-x)) : le signe de l'exponentielle est inversé.":
                         lambda: 1 / (1 + np.exp(X))},
            "Softmax": {"normalisation sur le mauvais axe (axis=0 au lieu de axis=1).":
                        lambda: np.exp(X - X.max(axis=0)) / np.exp(X - X.max(axis=0)).sum(axis=0)},
            "LogSoftmax": {"le log de la somme des exponentielles n'est pas retranché : c'est z - max, pas log softmax.":
                           lambda: X - X.max(axis=1, keepdims=True)},
        }.get(cls, {})


def _activation_forward(rng, cls):
    n, d = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    X = rng.normal(0, 3, size=(n, d))
    if cls in ("Sigmoide", "Softmax", "LogSoftmax", "TanH"):
        X[0] = rng.uniform(700, 900, size=d)       # overflow of exp
        X[0, 0] += 5.0
        if cls == "Sigmoide":
            X[1] = -rng.uniform(700, 900, size=d)  # both tails of the sigmoid
    r, = yield [Call(cls, steps=(Method("forward", X),))]
    got = array_of(r.steps[0], f"{cls}.forward")
    want = ACTIVATIONS[cls]().forward(X)
    with np.errstate(all="ignore"):
        named = named_mistake(got, _forward_mistakes(cls, X), rtol=1e-7)
    hint = named or HINTS[cls][0]
    if named is None and got.shape == want.shape and not np.all(np.isfinite(got)):
        hint = ("des inf/nan pour de grandes entrées (ligne 0, valeurs vers 800) : exp déborde. "
                + {"Sigmoide": "Utilisez une forme stable, par exemple 0.5 (1 + tanh(x/2)).",
                   "TanH": "Utilisez np.tanh, stable."}.get(cls, "Retranchez le maximum de chaque ligne avant l'exponentielle."))
    check_close(f"{cls}.forward", got, want, rtol=1e-7, atol=1e-10, hint=hint)
    return f"{cls}.forward est correcte, y compris pour de grandes entrées."


def _activation_backward(rng, cls):
    n, d = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    X = rng.normal(0, 1.5, size=(n, d))
    if cls == "ReLU":
        X[np.abs(X) < 0.05] = 0.3           # stay away from the kink
    delta = rng.standard_normal((n, d))
    r, = yield [Call(cls, steps=(Method("forward", X), Method("backward_delta", X, delta)))]
    got = array_of(r.steps[1], f"{cls}.backward_delta")
    f_ref = ACTIVATIONS[cls]().forward
    _grad_ok(f"{cls}.backward_delta", got, lambda v: float(np.sum(delta * f_ref(v))), X, HINTS[cls][1])
    return f"{cls}.backward_delta correspond aux différences finies."


def _register_activation(cls, forward_id, backward_id):
    def forward(rng):
        return (yield from _activation_forward(rng, cls))
    forward.__name__ = f"{cls.lower()}_forward"
    forward.__doc__ = f"{cls}.forward equals the reference, also for inputs near ±800 (stable)."

    def backward(rng):
        return (yield from _activation_backward(rng, cls))
    backward.__name__ = f"{cls.lower()}_backward"
    backward.__doc__ = f"{cls}.backward_delta is the gradient of Σ δ ⊙ forward (centered differences)."
    check(forward_id)(forward)
    check(backward_id)(backward)


for _cls in ("TanH", "Sigmoide", "Softmax", "LogSoftmax"):
    _register_activation(_cls, f"test_{_cls.lower()}_forward", f"test_{_cls.lower()}_backward")


@check("test_relu")
def relu_forward_and_backward(rng):
    """ReLU.forward is max(x, 0) and backward_delta its gradient (centered differences, away from 0)."""
    n, d = int(rng.integers(4, 8)), int(rng.integers(3, 6))
    X = rng.normal(0, 1.5, size=(n, d))
    X[np.abs(X) < 0.05] = 0.3           # stay away from the kink
    delta = rng.standard_normal((n, d))
    r, = yield [Call("ReLU", steps=(Method("forward", X), Method("backward_delta", X, delta)))]
    check_close("ReLU.forward", array_of(r.steps[0], "ReLU.forward"), np.maximum(X, 0), rtol=1e-12, hint=HINTS["ReLU"][0])
    got = array_of(r.steps[1], "ReLU.backward_delta")
    _grad_ok("ReLU.backward_delta", got, lambda v: float(np.sum(delta * np.maximum(v, 0))), X,
             named_mistake(got, {"la dérivée de ReLU n'est pas ReLU : elle vaut 1 où l'entrée est > 0, 0 ailleurs.":
                                 lambda: delta * np.maximum(X, 0)}) or HINTS["ReLU"][1])
    return "ReLU : forward et backward_delta corrects."


# ------------------------------------------------------------------------ Sequentiel
def _tapes(rng, batch, sizes):
    """Stand-in modules: module i answers forward with O[i], backward_delta with D[i]."""
    outs = [rng.standard_normal((batch, s)) for s in sizes[1:]]
    deltas = [rng.standard_normal((batch, s)) for s in sizes[:-1]]
    return outs, deltas, tuple(Tape(f"m{i}", {"forward": [outs[i]], "backward_delta": [deltas[i]]})
                               for i in range(len(outs)))


def _calls(log, method):
    return [(name, args) for name, m, args in log if m == method]


@check("test_sequentiel_forward")
def sequentiel_forward_chains(rng):
    """Sequentiel.forward feeds each module the previous one's output and returns the last (twice), and remembers the inputs of its last call only."""
    sizes = [int(v) for v in rng.integers(2, 6, size=4)]
    batch = int(rng.integers(3, 7))
    X = rng.standard_normal((batch, sizes[0]))
    outs, _, tapes = _tapes(rng, batch, sizes)
    X2 = rng.standard_normal((batch + 1, sizes[0]))
    r, = yield [Call("Sequentiel", tapes, steps=(Method("forward", X), Method("forward", X), Method("forward", X2),
                                                 Get("_inputs")))]
    got = array_of(r.steps[0], "Sequentiel.forward")
    calls = _calls(r.log, "forward")
    want_calls = [(f"m{i}", x) for i, x in enumerate([X, *outs[:-1]])] * 2 + \
        [(f"m{i}", x) for i, x in enumerate([X2, *outs[:-1]])]
    names = [n for n, _ in calls]
    if names != [n for n, _ in want_calls]:
        fail(f"Sequentiel.forward (appelé trois fois) a appelé forward des modules dans l'ordre {names}, "
             f"attendu {[n for n, _ in want_calls]}.",
             "appliquez chaque module une fois, dans l'ordre, la sortie de l'un étant l'entrée du suivant.")
    for (name, args), (_, x) in zip(calls, want_calls):
        if len(args) != 1 or np.shape(args[0]) != x.shape or not np.allclose(args[0], x, rtol=0, atol=0):
            fail(f"le module {name} n'a pas reçu la sortie du module précédent.",
                 "X = module.forward(X) pour chaque module, dans l'ordre.")
    check_close("Sequentiel.forward", got, outs[-1], rtol=0, atol=0, hint="renvoyez la sortie du dernier module.")
    kept = value_of(r.steps[3], "self._inputs")
    want_inputs = [X2, *outs[:-1]]
    if not isinstance(kept, list) or len(kept) != len(want_inputs) or not all(
            np.shape(k) == w.shape and np.array_equal(k, w) for k, w in zip(kept, want_inputs)):
        hint = None
        if isinstance(kept, list) and len(kept) > len(want_inputs):
            hint = ("self._inputs garde les entrées des appels précédents : remettez-la à [] au début de forward "
                    "(sinon la passe arrière utilise les entrées d'un ancien batch).")
        fail(f"après forward, self._inputs doit contenir l'entrée de chacun des {len(want_inputs)} modules lors de ce "
             f"dernier appel (reçu {len(kept) if isinstance(kept, list) else type(kept).__name__} éléments).",
             hint or "self._inputs.append(X) juste avant X = module.forward(X), pour chaque module.")
    return "Sequentiel.forward enchaîne les modules dans l'ordre et mémorise leurs entrées."


@check("test_sequentiel_backward")
def sequentiel_backward_chains(rng):
    """Backward through a Sequentiel of stand-ins: each module gets its own remembered input and the delta of the next one; with the student's modules the passes run."""
    sizes = [int(v) for v in rng.integers(2, 6, size=4)]
    batch = int(rng.integers(3, 7))
    X = rng.standard_normal((batch, sizes[0]))
    delta = rng.standard_normal((batch, sizes[-1]))
    outs, deltas, tapes = _tapes(rng, batch, sizes)
    ones = np.ones((5, 3))
    r, w, lib = yield [
        Call("Sequentiel", tapes, steps=(Method("forward", X), Method("backward_update_gradient", X, delta))),
        Call("Sequentiel", tapes, steps=(Method("forward", X), Method("backward_delta", X, delta))),
        Call("Sequentiel", (New("Linear", (3, 4), {"rng": 0}), New("TanH"), New("Linear", (4, 2), {"rng": 1})),
             steps=(Method("forward", ones), Method("backward_update_gradient", ones, np.ones((5, 2))),
                    Method("backward_delta", ones, np.ones((5, 2)))))]
    value_of(r.steps[1], "Sequentiel.backward_update_gradient")
    inputs = [X, *outs[:-1]]
    incoming = [*deltas[1:], delta]                     # delta arriving at module i
    got = {n: args for n, args in _calls(r.log, "backward_update_gradient")}
    order = [n for n, _ in _calls(r.log, "backward_update_gradient")]
    hint = ("parcourez les modules du DERNIER au premier ; chacun reçoit SON entrée mémorisée "
            "pendant forward, ajoute son gradient, puis calcule le delta pour le module précédent.")
    if sorted(order) != sorted(got) or set(order) != {f"m{i}" for i in range(len(outs))}:
        fail(f"Sequentiel.backward_update_gradient a appelé backward_update_gradient des modules {order}, "
             f"attendu chacun une fois.", hint)
    for i in range(len(outs)):
        args = got[f"m{i}"]
        if len(args) != 2 or np.shape(args[0]) != inputs[i].shape or not np.array_equal(args[0], inputs[i]):
            fail(f"le module n°{i + 1} n'a pas reçu son entrée mémorisée pendant forward.", hint)
        if np.shape(args[1]) != incoming[i].shape or not np.array_equal(args[1], incoming[i]):
            fail(f"le module n°{i + 1} n'a pas reçu le delta renvoyé par backward_delta du module suivant.", hint)
    got_delta = array_of(w.steps[1], "Sequentiel.backward_delta")
    check_close("Sequentiel.backward_delta", got_delta, deltas[0], rtol=0, atol=0,
                hint="les deltas se propagent du dernier module au premier ; renvoyez celui du premier.")
    if _calls(w.log, "backward_update_gradient"):
        fail("Sequentiel.backward_delta a modifié les gradients des modules : elle doit seulement renvoyer ∂L/∂input.")
    # with the student's Linear and TanH, as the visible test: the passes run, shapes follow
    for k, what in ((0, "forward"), (1, "backward_update_gradient"), (2, "backward_delta")):
        value_of(lib.steps[k], f"Sequentiel(Linear(3, 4), TanH(), Linear(4, 2)).{what} (avec vos modules)")
    if np.shape(lib.steps[2].value) != (5, 3):
        fail(f"avec vos modules, Sequentiel(Linear(3, 4), TanH(), Linear(4, 2)).backward_delta renvoie la forme "
             f"{np.shape(lib.steps[2].value)}, attendu (5, 3).")
    return "Sequentiel : chaque module reçoit son entrée et son delta, backward_delta renvoie celui du premier."


@check("test_sequentiel_update")
def sequentiel_update_and_zero_grad(rng):
    """Sequentiel.update_parameters(step) and zero_grad() reach every module; with the student's Linear, zero_grad resets its gradient."""
    step = float(rng.uniform(0.01, 0.3))
    tapes = tuple(Tape(f"m{i}") for i in range(3))
    r, lib = yield [Call("Sequentiel", tapes, steps=(Method("update_parameters", step), Method("zero_grad"))),
                    Call("Sequentiel", (New("Linear", (3, 4), {"rng": 0}), New("TanH")),
                         steps=(Set(("_gradient", "W"), np.ones((3, 4)), on=0), Method("zero_grad"),
                                Get("_gradient", "W", on=0)))]
    value_of(r.steps[0], "Sequentiel.update_parameters")
    value_of(r.steps[1], "Sequentiel.zero_grad")
    for method, hint in (("update_parameters", "update_parameters doit appeler update_parameters(gradient_step) de chaque module."),
                         ("zero_grad", "zero_grad doit appeler zero_grad() de chaque module.")):
        calls = _calls(r.log, method)
        if sorted(n for n, _ in calls) != ["m0", "m1", "m2"]:
            fail(f"Sequentiel.{method} a appelé {method} des modules {[n for n, _ in calls]}, attendu chacun une fois.", hint)
        if method == "update_parameters" and not all(len(a) == 1 and np.isclose(float(a[0]), step) for _, a in calls):
            fail(f"Sequentiel.update_parameters({step:.3f}) n'a pas transmis le pas aux modules.", hint)
    value_of(lib.steps[1], "Sequentiel.zero_grad (avec vos modules)")
    grad = np.asarray(value_of(lib.steps[2], "gradient de W"), dtype=float)
    if grad.shape != (3, 4) or np.any(grad != 0):
        fail("avec vos modules, Sequentiel(Linear(3, 4), TanH()).zero_grad() ne remet pas à zéro le gradient de W "
             "de la couche linéaire.", "vérifiez le test de Module.zero_grad (il doit remettre à zéro, pas seulement créer).")
    return "Sequentiel : zero_grad et update_parameters s'appliquent à tous les modules."
