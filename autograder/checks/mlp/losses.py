"""05: the losses (MSE, BCE, CE), probed as objects: one value per example, the gradient of
their sum (float64 centered differences), finite for saturated outputs."""

from __future__ import annotations

import numpy as np

from .. import mlp_reference as ref
from ..common import check_close, fail, likely_mistake, named_mistake, numerical_gradient, relative_error
from ..probing import Call, Method, check
from .reading import array_of


def _gradient_of_sum(name, got, y, yhat, forward, hint):
    numeric = numerical_gradient(lambda v: float(np.sum(forward(y, v))), yhat.copy(), 1e-6)
    guess = likely_mistake(got, numeric, n_examples=len(y))
    if got.shape != numeric.shape:
        fail(f"{name}.backward a la forme {got.shape}, attendu {numeric.shape} (celle de yhat).", guess)
    err = relative_error(got, numeric)
    if err > 1e-5:
        fail(f"{name}.backward ne correspond pas aux différences finies centrées de la somme des coûts "
             f"(erreur relative {err:.2e}).", guess or hint)


def _per_example(name, got, want, hint):
    if got.shape != want.shape:
        fail(f"{name}.forward renvoie la forme {got.shape}, attendu {want.shape}.",
             "vous renvoyez un seul nombre (moyenne ou somme sur tout le tableau) : il faut une valeur par "
             "exemple, soit une somme sur l'axe 1 (np.sum(..., axis=1))." if got.size == 1 else
             "une valeur PAR EXEMPLE : sommez sur l'axe 1 seulement (forme (batch,)).")
    check_close(f"{name}.forward", got, want, rtol=1e-9, hint=hint)


@check("test_mse_forward")
def mse_forward(rng):
    """MSELoss.forward returns ||y - ŷ||² per example."""
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y, yhat = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    r, = yield [Call("MSELoss", steps=(Method("forward", y, yhat),))]
    got, want = array_of(r.steps[0], "MSELoss.forward"), ref.MSELoss().forward(y, yhat)
    _per_example("MSELoss", got, want, named_mistake(got, {
        "moyenne sur les d composantes au lieu de la somme ||y - yhat||².": lambda: want / d})
        or likely_mistake(got, want) or "||y_i - yhat_i||² pour chaque exemple i.")
    return "MSELoss.forward renvoie bien ||y - yhat||² par exemple."


@check("test_mse_backward")
def mse_backward(rng):
    """MSELoss.backward is the gradient of the sum of the per-example losses."""
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y, yhat = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    r, = yield [Call("MSELoss", steps=(Method("backward", y, yhat),))]
    _gradient_of_sum("MSELoss", array_of(r.steps[0], "MSELoss.backward"), y, yhat, ref.MSELoss().forward,
                     "∂/∂yhat de Σ_i ||y_i - yhat_i||² = 2 (yhat - y).")
    return "MSELoss.backward est le gradient de la somme des coûts."


@check("test_bce_forward")
def bce_forward(rng):
    """BCELoss.forward per example, with the log clipped at -100 when ŷ is exactly 0 or 1."""
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y = (rng.random((n, d)) < 0.5).astype(float)
    yhat = rng.uniform(0.02, 0.98, size=(n, d))
    y2, yhat2 = y.copy(), yhat.copy()
    yhat2[0, 0], y2[0, 0] = 1.0, 1.0
    yhat2[1, 0], y2[1, 0] = 0.0, 0.0
    yhat2[2, 0], y2[2, 0] = 0.0, 1.0
    r, = yield [Call("BCELoss", steps=(Method("forward", y, yhat), Method("forward", y2, yhat2)))]
    got, want = array_of(r.steps[0], "BCELoss.forward"), ref.BCELoss().forward(y, yhat)
    _per_example("BCELoss", got, want, likely_mistake(got, want) or
                 "-Σ_j [y log ŷ + (1 - y) log(1 - ŷ)] pour chaque exemple.")
    got = array_of(r.steps[1], "BCELoss.forward")
    if not np.all(np.isfinite(got)):
        fail("BCELoss.forward donne inf ou nan quand ŷ vaut exactement 0 ou 1.",
             "seuillez le logarithme : np.maximum(np.log(yhat), -100) (et de même pour log(1 - yhat)).")
    check_close("BCELoss.forward avec ŷ ∈ {0, 1}", got, ref.BCELoss().forward(y2, yhat2), rtol=1e-9,
                hint="log seuillé à -100 : max(log ŷ, -100) et max(log(1 - ŷ), -100).")
    return "BCELoss.forward est correcte, y compris pour des sorties saturées."


@check("test_bce_backward")
def bce_backward(rng):
    """BCELoss.backward is the gradient of the summed losses, and finite when ŷ is exactly 0 or 1."""
    n, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    y = (rng.random((n, d)) < 0.5).astype(float)
    yhat = rng.uniform(0.05, 0.95, size=(n, d))
    yhat2 = yhat.copy()
    yhat2[0, 0], yhat2[1, 0] = 0.0, 1.0
    r, = yield [Call("BCELoss", steps=(Method("backward", y, yhat), Method("backward", y, yhat2)))]
    got = array_of(r.steps[0], "BCELoss.backward")
    with np.errstate(all="ignore"):
        hint = named_mistake(got, {"le signe est inversé : ∂/∂ŷ = -y/ŷ + (1 - y)/(1 - ŷ).":
                                   lambda: y / yhat - (1 - y) / (1 - yhat)})
    _gradient_of_sum("BCELoss", got, y, yhat, ref.BCELoss().forward, hint or "∂/∂ŷ = -y/ŷ + (1 - y)/(1 - ŷ).")
    if not np.all(np.isfinite(array_of(r.steps[1], "BCELoss.backward"))):
        fail("BCELoss.backward donne inf ou nan quand ŷ vaut exactement 0 ou 1.",
             "bornez ŷ avant de diviser, par exemple np.clip(yhat, 1e-12, 1 - 1e-12).")
    return "BCELoss.backward est le gradient de la somme des coûts, fini même pour ŷ ∈ {0, 1}."


@check("test_celoss")
def celoss(rng):
    """CELoss on log-probabilities: -Σ y ŷ per example, and its gradient -y."""
    n, k = int(rng.integers(5, 9)), int(rng.integers(3, 6))
    y = ref.one_hot(rng.integers(0, k, size=n), k)
    logp = ref.LogSoftmax().forward(rng.standard_normal((n, k)))
    r, = yield [Call("CELoss", steps=(Method("forward", y, logp), Method("backward", y, logp)))]
    got, want = array_of(r.steps[0], "CELoss.forward"), ref.CELoss().forward(y, logp)
    with np.errstate(all="ignore"):
        named = named_mistake(got, {
            "ŷ contient déjà des LOG-probabilités (sortie de LogSoftmax) : ne reprenez pas leur log.":
                lambda: -np.sum(y * np.log(logp), axis=1)})
    _per_example("CELoss", got, want, named or likely_mistake(got, want)
                 or "-Σ_k y_k ŷ_k : ŷ contient déjà des LOG-probabilités (sortie de LogSoftmax).")
    _gradient_of_sum("CELoss", array_of(r.steps[1], "CELoss.backward"), y, logp, ref.CELoss().forward, "∂/∂ŷ = -y.")
    return "CELoss : valeurs et gradient corrects."
