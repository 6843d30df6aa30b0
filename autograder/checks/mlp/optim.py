"""05: Optim and SGD, judged by what they ask of stand-ins (tapes): the network and the
loss given to Optim, the Optim used by SGD, record every call and answer the grader's values.

Each check also repeats its cell's visible test with the student's whole library (the
notebook's data, one step lowers the loss / the regression learns): the visible part already
charges those library mistakes to the cell, so the verdict says so too."""

from __future__ import annotations

import numpy as np

from ..common import check_close, fail
from ..probing import Call, Get, Method, New, Tape, TapeClass, check
from .reading import dict_of_arrays, value_of


def notebook_regression_data():
    """X_reg, Y_reg of the notebook (its data cell, seed 0): the visible tests train on them."""
    rng = np.random.default_rng(0)
    W_true = np.array([[2.0, -1.0], [0.5, 0.0], [-1.5, 3.0]])
    b_true = np.array([[1.0, -2.0]])
    X = rng.standard_normal((200, 3))
    return X, X @ W_true + b_true + 0.1 * rng.standard_normal((200, 2))


@check("test_optim_step")
def optim_step_order(rng):
    """Optim.step: zero_grad, forward, loss, backward of the loss into the network, update_parameters(eps); returns the mean loss; with the student's library one step lowers the loss."""
    eps = float(rng.uniform(0.005, 0.05))
    batch = int(rng.integers(4, 8))
    X, Y = rng.standard_normal((batch, 3)), rng.standard_normal((batch, 2))
    yhat, delta = rng.standard_normal((batch, 2)), rng.standard_normal((batch, 2))
    values = [rng.uniform(0, 3, size=batch), rng.uniform(0, 3, size=batch)]
    net = Tape("net", {"forward": [yhat]})
    loss = Tape("loss", {"forward": values, "backward": [delta]})
    ones, zeros = np.ones((4, 3)), np.zeros((4, 2))
    r, lib = yield [Call("Optim", (net, loss, eps), steps=(Method("step", X, Y), Method("step", X, Y))),
                    Call("Optim", (New("Linear", (3, 2), {"rng": 0}), New("MSELoss"), 1e-2),
                         steps=(Get("_parameters", on=0), Method("step", ones, zeros), Get("_parameters", on=0)))]
    hint = "zero_grad, forward, coût, backward du coût, backward_update_gradient du réseau, update_parameters(eps)."
    for k in range(2):
        got = value_of(r.steps[k], "Optim.step")
        try:
            got = float(got)
        except (TypeError, ValueError):
            fail(f"Optim.step doit renvoyer le coût moyen du batch (un nombre), reçu {type(got).__name__}.")
        check_close(f"valeur renvoyée par step (appel {k + 1})", got, float(np.mean(values[k])), rtol=1e-9,
                    hint="le coût MOYEN du batch : np.mean(loss.forward(batch_y, yhat)).")
    calls = [(name, method, args) for name, method, args in r.log if method != "__init__"]
    updates = [i for i, c in enumerate(calls) if c[1] == "update_parameters"]
    if len(updates) != 2:
        fail(f"deux appels à step ont fait {len(updates)} appel(s) à net.update_parameters, attendu 2.", hint)
    start = 0
    for k, end in enumerate(updates):
        one = calls[start:end + 1]
        start = end + 1
        names = [f"{n}.{m}" for n, m, _ in one]
        bug = [a for n, m, a in one if (n, m) == ("net", "backward_update_gradient")]
        if "net.zero_grad" not in names or "net.backward_update_gradient" not in names \
                or names.index("net.zero_grad") > names.index("net.backward_update_gradient"):
            fail(f"au pas {k + 1}, les gradients ne sont pas remis à zéro avant la passe arrière "
                 f"(appels : {', '.join(names)}) : ils s'accumulent d'un pas à l'autre.",
                 "appelez self.net.zero_grad() au début de step.")
        if len(bug) != 1 or len(bug[0]) != 2 or not np.array_equal(bug[0][0], X) or not np.array_equal(bug[0][1], delta):
            fail(f"au pas {k + 1}, net.backward_update_gradient n'a pas reçu (batch_x, loss.backward(batch_y, yhat)).", hint)
        eps_given = [a for n, m, a in one if m == "update_parameters"][0]
        if len(eps_given) != 1 or not np.isclose(float(eps_given[0]), eps):
            fail(f"au pas {k + 1}, update_parameters n'a pas reçu le pas eps = {eps:.4f}.", hint)
        fwd = [a for n, m, a in one if (n, m) == ("loss", "forward")]
        if not fwd or not (np.array_equal(fwd[0][0], Y) and np.array_equal(fwd[0][1], yhat)):
            fail(f"au pas {k + 1}, loss.forward n'a pas reçu (batch_y, sortie du réseau) dans cet ordre.", hint)
    # with the student's whole library, as the visible test: one step lowers the loss
    before = dict_of_arrays(lib.steps[0], "Linear(3, 2)._parameters", ("W", "b"))
    value_of(lib.steps[1], "Optim(Linear(3, 2), MSELoss(), 0.01).step")
    after = dict_of_arrays(lib.steps[2], "Linear(3, 2)._parameters", ("W", "b"))
    mse = [float(np.mean(np.sum((zeros - (ones @ p["W"] + p["b"].reshape(1, -1))) ** 2, axis=1))) for p in (before, after)]
    if not mse[1] < mse[0]:
        fail(f"avec votre bibliothèque (Linear, MSELoss, Optim), un pas de step n'a pas fait baisser le coût "
             f"({mse[0]:.4g} → {mse[1]:.4g}).", "vérifiez les tests de Module.update_parameters et de MSELoss.backward.")
    return "Optim.step fait exactement une itération de descente de gradient, dans le bon ordre."


@check("test_sgd")
def sgd_batches(rng):
    """SGD: every example once per epoch in shuffled batches of batch_size through Optim.step; one mean loss per epoch; with the student's library the notebook's regression learns."""
    n, batch, n_epochs = int(rng.integers(150, 220)), int(rng.integers(16, 40)), 4
    X = rng.standard_normal((n, 3))
    X[:, 0] = np.arange(n)                        # identifies each example
    Y = rng.standard_normal((n, 2))
    step_values = list(rng.uniform(0.5, 2.0, size=7))
    X_reg, Y_reg = notebook_regression_data()
    r, lib = yield [Call("SGD", (Tape("net"), Tape("loss"), X, Y, batch, n_epochs, 1e-3),
                         kwargs={"rng": int(rng.integers(2**31))},
                         replace={"Optim": TapeClass("optim", {"step": step_values})}),
                    Call("SGD", (New("Sequentiel", (New("Linear", (3, 2), {"rng": 0}),)), New("MSELoss"), X_reg, Y_reg),
                         {"batch_size": 32, "n_epochs": 5, "eps": 0.05 / 32, "rng": 0})]
    steps = [args for name, method, args in r.log if (name, method) == ("optim", "step")]
    inits = [args for name, method, args in r.log if (name, method) == ("optim", "__init__")]
    if not steps:
        fail("SGD n'a appelé aucun Optim(...).step : utilisez Optim(net, loss, eps) et sa méthode step.")
    if len(inits) != 1 or len(inits[0]) < 3 or not np.isclose(float(inits[0][2]), 1e-3):
        fail("SGD doit créer un seul Optim(net, loss, eps) avec le pas eps donné.")
    per_epoch = -(-n // batch)
    if len(steps) != per_epoch * n_epochs:
        fail(f"SGD a fait {len(steps)} pas pour {n} exemples, batchs de {batch}, {n_epochs} époques ; "
             f"attendu {per_epoch * n_epochs} ({per_epoch} par époque, le dernier batch plus petit).")
    firsts = []
    for k, args in enumerate(steps):
        bx, by = np.asarray(args[0]), np.asarray(args[1])
        ids = bx[:, 0].astype(int)
        if len(bx) > batch or not np.array_equal(by, Y[ids]):
            fail(f"le pas {k + 1} a reçu un batch de {len(bx)} exemples (batch_size={batch}) ou des "
                 "supervisions qui ne sont pas celles de ses entrées.", "X[idx] et Y[idx] avec les mêmes indices.")
        firsts.append(ids)
    orders = []
    for e in range(n_epochs):
        seen = np.concatenate(firsts[e * per_epoch:(e + 1) * per_epoch])
        if sorted(seen.tolist()) != list(range(n)):
            fail(f"à l'époque {e + 1}, les exemples ne sont pas tous vus exactement une fois.",
                 "découpez une permutation des indices en tranches de batch_size.")
        orders.append(seen)
    if np.array_equal(orders[0], np.arange(n)) or all(np.array_equal(orders[0], o) for o in orders[1:]):
        fail("SGD ne mélange pas les exemples à chaque époque (même ordre à chaque époque).",
             "tirez une nouvelle permutation rng.permutation(len(X)) au début de chaque époque.")
    out = np.asarray(r.value, dtype=float).ravel() if r.value is not None else np.zeros(0)
    answered = [step_values[min(k, len(step_values) - 1)] for k in range(len(steps))]
    want = [sum(answered[e * per_epoch + j] * len(firsts[e * per_epoch + j]) for j in range(per_epoch)) / n
            for e in range(n_epochs)]
    if out.size != n_epochs:
        fail(f"SGD doit renvoyer une liste de {n_epochs} coûts moyens (un par époque), reçu {out.size} valeurs.")
    check_close("coûts moyens par époque renvoyés par SGD", out, want, rtol=1e-9,
                hint="moyenne PAR EXEMPLE de l'époque : somme des step(...) × taille du batch, divisée par len(X).")
    # with the student's whole library, as the visible test: the regression learns
    losses = np.asarray(lib.value, dtype=float).ravel() if lib.value is not None else np.zeros(0)
    if losses.size != 5 or not losses[-1] < losses[0]:
        fail("avec votre bibliothèque (Sequentiel, Linear, MSELoss, Optim, SGD), la régression linéaire du notebook "
             f"n'apprend pas en 5 époques (coûts {np.round(losses, 4).tolist()}).",
             "vérifiez les tests de Module, Linear, MSELoss, Sequentiel et Optim.")
    return "SGD : batchs mélangés, chaque exemple une fois par époque, coûts moyens par époque."
