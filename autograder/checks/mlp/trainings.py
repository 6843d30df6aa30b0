"""05, part A: the trainings with the student's whole library (regression, moons, MNIST) and
the auto-encoder's wiring, judged here.

These cells grade the library working together (their visible parts train with it too), so
the kernel runs the student's own code on the grader's data and sends back weights; the
grader replays (regression, from the initial weights the student's ``Linear`` drew for the
same seed) or measures accuracy (on the moons of the notebook's recipe; on the 10 000 MNIST
test images, which the kernel never receives), with the network rebuilt here from the module names and
parameters read in the kernel.

Thresholds: ``python -m autograder calibrate 05_mlp`` (see ``calibration``).
"""

from __future__ import annotations

import numpy as np

from .. import mlp_reference as ref
from ..common import as_array, check_close, fail, mnist, named_mistake
from ..probing import Call, Get, Method, New, Pixels, Set, check
from .reading import dict_of_arrays, value_of

# test_mnist: the student's build_mnist_net, SGD, CELoss on MNIST_SIZE training images drawn
# by the grader (the notebook's recipe: batches of 64, eps = 0.3 / 64), accuracy of the
# trained weights measured here on the 10 000 test images.
# Calibration (python -m autograder calibrate 05_mlp, seeds 0-23): reference 87.3-90.5 %;
# mutants that must keep the cell (8 seeds): ReLU's derivative written as ReLU 87.0-90.0 %,
# b's gradient summed over everything 87.8-90.6 %, W's gradient overwritten 87.5-90.5 %; that
# must lose it: 10-53 % (W's gradient divided by N, zero_grad that only creates, Optim
# without zero_grad, LogSoftmax's backward summed over the batch) or an error.
MNIST_SIZE, MNIST_EPOCHS, MNIST_HIDDEN = 3000, 3, 128
MNIST_MIN_ACCURACY = 0.80
# test_binary: the notebook's moons recipe and seeds (hidden 10, 300 epochs, batch 20,
# eps = 1/20), accuracy on its 200 points: the visible part's criterion, so that both agree
# (on fresh moons drawn here, SGD without shuffling still reaches 97 % for 7 draws in 10).
MOONS_EPOCHS, MOONS_MIN_ACCURACY = 300, 0.97

LIBRARY = {"Linear": None, "TanH": np.tanh, "Sigmoide": lambda Z: 0.5 * (1 + np.tanh(0.5 * Z)),
           "ReLU": lambda Z: np.maximum(Z, 0), "Softmax": lambda Z: ref.Softmax().forward(Z),
           "LogSoftmax": lambda Z: ref.LogSoftmax().forward(Z)}

def _names(step, what: str) -> list:
    mods = value_of(step, what)
    if not isinstance(mods, list):
        fail(f"{what} doit être la liste des modules (self.modules).")
    return [getattr(m, "type_name", type(m).__name__) for m in mods]


def _layers(names, params):
    """[(name, W, b) or (name,)] from module names and the parameters read in the kernel."""
    layers = []
    for name, p in zip(names, params):
        if name not in LIBRARY:
            fail(f"module {name} inattendu dans le réseau.")
        if name == "Linear":
            if not isinstance(p, dict) or "W" not in p or "b" not in p:
                fail("un module Linear n'a pas ses paramètres self._parameters['W'] et ['b'].")
            layers.append((name, as_array("W", p["W"]), as_array("b", p["b"]).reshape(1, -1)))
        else:
            layers.append((name,))
    return layers


def _forward(layers, X):
    Z = np.asarray(X, dtype=np.float64)
    with np.errstate(all="ignore"):
        for layer in layers:
            Z = Z @ layer[1] + layer[2] if layer[0] == "Linear" else LIBRARY[layer[0]](Z)
    return Z


def _architecture(names, shapes, want_names, want_shapes, builder):
    if names != want_names:
        fail(f"{builder} doit renvoyer Sequentiel({', '.join(want_names)}) ; reçu Sequentiel({', '.join(names)}).")
    if shapes != want_shapes:
        fail(f"{builder} : poids de formes {shapes}, attendu {want_shapes}.")


# ---------------------------------------------------------------------------- regression
def _regression_replay(W0, b0, X, Y, n_iter, eps, zero_grad=True, sign=1.0):
    W, b = W0.copy(), b0.copy()
    gW, gb = np.zeros_like(W), np.zeros_like(b)
    losses = []
    for _ in range(n_iter):
        if zero_grad:
            gW, gb = np.zeros_like(W), np.zeros_like(b)
        Yhat = X @ W + b
        losses.append(float(np.mean(np.sum((Y - Yhat) ** 2, axis=1))))
        delta = 2 * (Yhat - Y)
        gW, gb = gW + X.T @ delta, gb + delta.sum(axis=0, keepdims=True)
        W, b = W - sign * eps * gW, b - sign * eps * gb
    return W, b, np.array(losses)


@check("test_regression")
def regression_replayed(rng):
    """train_regression with the student's library: from the weights the student's Linear draws
    for the same seed, each iteration is one descent step on the summed MSE (replayed here: the
    returned W, b and the list of mean losses); if the initial weights cannot be matched, W and
    b must still be found to 0.05."""
    d_in, d_out = int(rng.integers(2, 5)), int(rng.integers(2, 4))
    W_true = rng.uniform(-2, 2, size=(d_in, d_out))
    # well separated biases: a bias gradient summed over the wrong axis cannot fit them all
    b_true = (rng.permutation(np.linspace(-2, 2, d_out)) + rng.uniform(-0.2, 0.2, d_out)).reshape(1, d_out)
    X = rng.standard_normal((200, d_in))
    Y = X @ W_true + b_true + 0.05 * rng.standard_normal((200, d_out))
    seed, n_iter, eps = int(rng.integers(2 ** 31)), 300, 1e-3
    init, r = yield [Call("Linear", (d_in, d_out), {"rng": seed}, steps=(Get("_parameters"),)),
                     Call("train_regression", (X, Y), {"n_iter": n_iter, "eps": eps, "rng": seed},
                          steps=(Get(0, "_parameters"),))]
    out = r.value
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("train_regression doit renvoyer le couple (module, pertes).")
    losses = as_array("pertes", out[1]).ravel()
    if losses.size != n_iter:
        fail(f"{losses.size} pertes pour {n_iter} itérations (une par itération attendue).")
    params = dict_of_arrays(r.steps[0], "le module renvoyé (self._parameters)", ("W", "b"))
    W, b = params["W"], params["b"].reshape(1, -1)
    start = dict_of_arrays(init.steps[0], f"Linear({d_in}, {d_out}, rng)._parameters", ("W", "b")) \
        if init.error is None else None
    if start is not None and start["W"].shape == (d_in, d_out) and start["b"].size == d_out:
        W0, b0 = start["W"], start["b"].reshape(1, d_out)
        Wr, br, lr_ = _regression_replay(W0, b0, X, Y, n_iter, eps)
        if np.isclose(losses[0], lr_[0], rtol=1e-9):        # same initial weights: exact replay
            hint = named_mistake(W, {
                "les gradients ne sont jamais remis à zéro : appelez module.zero_grad() à chaque itération.":
                    lambda: _regression_replay(W0, b0, X, Y, n_iter, eps, zero_grad=False)[0],
                "la mise à jour monte le long du gradient : W ← W - eps × gradient.":
                    lambda: _regression_replay(W0, b0, X, Y, n_iter, eps, sign=-1.0)[0],
            }, rtol=1e-6) or ("à chaque itération : zero_grad, forward, coût, backward_update_gradient(X, "
                              "loss.backward(Y, Yhat)), update_parameters(eps) ; vérifiez aussi les tests de Linear, "
                              "MSELoss et Module.")
            check_close(f"W après {n_iter} itérations", W, Wr, rtol=1e-6, atol=1e-9, hint=hint)
            check_close(f"b après {n_iter} itérations", b, br, rtol=1e-6, atol=1e-9, hint=hint)
            check_close("pertes moyennes renvoyées", losses, lr_, rtol=1e-6, atol=1e-12,
                        hint=named_mistake(losses, {"c'est la somme des coûts : enregistrez leur MOYENNE (np.mean).":
                                                    lambda: lr_ * len(X)}) or
                        "la perte MOYENNE du batch à chaque itération, avant la mise à jour.")
            return f"régression linéaire : {n_iter} pas de descente exacts depuis les poids initiaux."
    if not losses[-1] < losses[0]:
        fail(f"la perte n'a pas diminué ({losses[0]:.3g} → {losses[-1]:.3g}).",
             "pas de descente : paramètres - eps × gradient, après zero_grad et backward à chaque itération.")
    check_close("W appris", W, W_true, rtol=0, atol=0.05,
                hint="300 itérations de pas 1e-3 sur le gradient de la SOMME des coûts suffisent.")
    check_close("b appris", b, b_true, rtol=0, atol=0.05)
    return "régression linéaire : W et b retrouvés à 0.05 près."


# ---------------------------------------------------------------------------------- moons
def _read_net(r, count: int, what: str, on: int = 0):
    names = _names(r.steps[0], f"{what}.modules")
    params = [value_of(s, f"{what}.modules[{i}]._parameters") if i < len(names) else None
              for i, s in enumerate(r.steps[1:1 + count])]
    return names, params


def _net_steps(count: int, on: int = 0):
    return (Get("modules", on=on), *(Get("modules", i, "_parameters", on=on, f4=True) for i in range(count)))


@check("test_binary")
def moons_trained_with_the_library(rng):
    """build_binary_net(h) is Linear(2, h) → TanH → Linear(h, 1) → Sigmoide (a random h, its
    output compared with that chain on the same weights); and the student's library (SGD,
    BCELoss, the modules) trains it with the notebook's recipe and seeds to at least 97 % of the
    moons, measured here with the trained weights (the visible part's criterion)."""
    from nncourse.data import make_moons
    hidden = int(rng.integers(3, 12))
    probe_X = rng.standard_normal((7, 2))
    X, y = make_moons(n_per_class=100, rng=0)            # the notebook's data and seeds
    built, r = yield [
        Call("build_binary_net", (hidden,), {"rng": int(rng.integers(2 ** 31))},
             steps=(Get("modules"), *(Get("modules", i, "_parameters") for i in range(4)), Method("forward", probe_X))),
        Call("SGD", (New("build_binary_net", (10,), {"rng": 1}), New("BCELoss"), X, y.reshape(-1, 1).astype(float),
                     20, MOONS_EPOCHS, 1.0 / 20), {"rng": 2}, steps=_net_steps(4))]
    names = _names(built.steps[0], f"build_binary_net({hidden}).modules")
    layers = _layers(names, [value_of(s, "self._parameters") if i < len(names) else None
                             for i, s in enumerate(built.steps[1:5])])
    _architecture(names, [np.shape(l[1]) for l in layers if l[0] == "Linear"],
                  ["Linear", "TanH", "Linear", "Sigmoide"], [(2, hidden), (hidden, 1)], f"build_binary_net({hidden})")
    got = as_array("sortie du réseau", value_of(built.steps[5], f"build_binary_net({hidden}).forward"))
    check_close(f"build_binary_net({hidden}).forward", got, _forward(layers, probe_X), rtol=1e-7,
                hint="Linear(2, hidden) → TanH → Linear(hidden, 1) → Sigmoide, dans cet ordre.")
    names, params = _read_net(r, 4, "build_binary_net(10)")
    acc = float(np.mean((_forward(_layers(names, params), X)[:, 0] > 0.5) == y))
    if not acc >= MOONS_MIN_ACCURACY:
        fail(f"entraîné avec votre bibliothèque (SGD, BCELoss, {MOONS_EPOCHS} époques, la recette du notebook), le réseau "
             f"classe correctement {acc:.1%} des points des deux lunes, attendu au moins {MOONS_MIN_ACCURACY:.0%}.",
             "vérifiez les tests de Linear, TanH, Sigmoide, Sequentiel, Optim, SGD (mélange à chaque époque) et BCELoss.")
    return f"build_binary_net({hidden}) : architecture correcte ; entraîné, {acc:.1%} des deux lunes bien classées."


# ---------------------------------------------------------------------------------- MNIST
def mnist_draw(rng, size=MNIST_SIZE):
    X, y = mnist(True, pixels=True)
    pick = rng.choice(len(X), size=size, replace=False)
    return X[pick], y[pick]


@check("test_mnist")
def mnist_trained_with_the_library(rng):
    """build_mnist_net(h) is Linear(784, h) → ReLU → Linear(h, 10) → LogSoftmax, and the
    student's library (SGD, CELoss, the modules) trains it on MNIST images drawn here (batches of
    64, eps = 0.3/64, a few epochs); the trained weights classify the 10 000 test images here."""
    pixels, labels = mnist_draw(rng)
    Y = ref.one_hot(labels).astype(np.float32)
    r, = yield [Call("SGD", (New("build_mnist_net", (MNIST_HIDDEN,), {"rng": int(rng.integers(2 ** 31))}), New("CELoss"),
                             Pixels(pixels), Y, 64, MNIST_EPOCHS, 0.3 / 64), {"rng": int(rng.integers(2 ** 31))},
                     steps=_net_steps(4))]
    names, params = _read_net(r, 4, f"build_mnist_net({MNIST_HIDDEN})")
    layers = _layers(names, params)
    _architecture(names, [np.shape(l[1]) for l in layers if l[0] == "Linear"],
                  ["Linear", "ReLU", "Linear", "LogSoftmax"], [(784, MNIST_HIDDEN), (MNIST_HIDDEN, 10)],
                  f"build_mnist_net({MNIST_HIDDEN})")
    acc = mnist_accuracy(layers)
    if not acc >= MNIST_MIN_ACCURACY:
        fail(f"entraîné avec votre bibliothèque ({MNIST_EPOCHS} époques sur {MNIST_SIZE} images), le réseau classe "
             f"correctement {acc:.2%} des 10 000 images de test, attendu au moins {MNIST_MIN_ACCURACY:.0%}.",
             "784 → 128 (ReLU) → 10 → LogSoftmax ; vérifiez les tests de Linear, ReLU, LogSoftmax, CELoss, "
             "Sequentiel, Optim et SGD.")
    return f"MNIST : {acc:.2%} de précision sur les 10 000 images de test ({MNIST_EPOCHS} époques sur {MNIST_SIZE} images)."


def mnist_accuracy(layers) -> float:
    Xt, yt = mnist(False)
    pred = np.concatenate([_forward(layers, Xt[i:i + 2500]).argmax(axis=1) for i in range(0, len(Xt), 2500)])
    return float(np.mean(pred == yt))


# ---------------------------------------------------------------------------- autoencoder
ENCODER = ["Linear", "TanH", "Linear", "TanH"]
DECODER = ["Linear", "TanH", "Linear", "Sigmoide"]


@check("test_autoencoder")
def autoencoder_wiring(rng):
    """build_autoencoder(latent): encoder Linear(784, 128) → TanH → Linear(128, latent) → TanH,
    decoder Linear(latent, 128) → TanH → Linear(128, 784) → Sigmoide, and the auto-encoder chains
    those very two objects (weights set here through the encoder and decoder show in its output)."""
    latent = int(rng.integers(2, 10))           # never the notebook's 10: a size written in the code shows
    sizes = {(0, 0): (784, 128), (0, 2): (128, latent), (1, 0): (latent, 128), (1, 2): (128, 784)}
    weights = {k: (rng.uniform(-1, 1, (a, b)) / np.sqrt(a), rng.uniform(-1, 1, (1, b)) / np.sqrt(a))
               for k, (a, b) in sizes.items()}
    X = rng.random((5, 784))
    shapes = [Get(part, "modules", i, "_parameters", key, "shape") for (part, i) in sizes for key in ("W", "b")]
    sets = [Set((part, "modules", i, "_parameters", key), w.astype(np.float32))
            for (part, i), (W, b) in weights.items() for key, w in (("W", W), ("b", b))]
    r, = yield [Call("build_autoencoder", (latent,), {"rng": int(rng.integers(2 ** 31))},
                     steps=(Get(0, "modules"), Get(1, "modules"), Get(2, "modules"), *shapes, *sets,
                            Method("forward", X, path=(0,)), Method("forward", X, path=(2,))))]
    out = r.value
    if not isinstance(out, (tuple, list)) or len(out) != 3:
        fail("build_autoencoder doit renvoyer le triplet (encodeur, décodeur, autoencodeur).")
    enc, dec = _names(r.steps[0], "encodeur.modules"), _names(r.steps[1], "décodeur.modules")
    if enc != ENCODER:
        fail(f"l'encodeur doit être Sequentiel({', '.join(ENCODER)}) ; reçu Sequentiel({', '.join(enc)}).")
    if dec != DECODER:
        fail(f"le décodeur doit être Sequentiel({', '.join(DECODER)}) ; reçu Sequentiel({', '.join(dec)}).",
             "la reconstruction doit être dans [0, 1] (Sigmoide finale), comme les pixels." if dec[-1:] != ["Sigmoide"] else None)
    got_shapes = [tuple(value_of(s, "forme d'un paramètre")) for s in r.steps[3:3 + len(shapes)]]
    want_shapes = [shape for (a, b) in sizes.values() for shape in ((a, b), (1, b))]
    if got_shapes != want_shapes:
        fail(f"build_autoencoder({latent}) : paramètres de formes {got_shapes[::2]}, attendu {want_shapes[::2]} "
             f"(code de dimension latent = {latent}).")
    encoder = [("Linear", *weights[(0, 0)]), ("TanH",), ("Linear", *weights[(0, 2)]), ("TanH",)]
    decoder = [("Linear", *weights[(1, 0)]), ("TanH",), ("Linear", *weights[(1, 2)]), ("Sigmoide",)]
    f32 = [(l[0], l[1].astype(np.float32).astype(np.float64), l[2].astype(np.float32).astype(np.float64))
           if l[0] == "Linear" else l for l in encoder + decoder]
    n_sets = len(sets)
    code = as_array("code", value_of(r.steps[3 + len(shapes) + n_sets], "encodeur.forward"))
    check_close("encodeur.forward (avec les poids du correcteur)", code, _forward(f32[:4], X), rtol=1e-6)
    rec = as_array("reconstruction", value_of(r.steps[4 + len(shapes) + n_sets], "autoencodeur.forward"))
    check_close("autoencodeur.forward (avec les poids du correcteur, posés dans l'encodeur et le décodeur)",
                rec, _forward(f32, X), rtol=1e-6,
                hint="l'autoencodeur doit enchaîner CES encodeur et décodeur : Sequentiel(encoder, decoder).")
    return f"auto-encodeur : architecture correcte (code de dimension {latent}), encodeur et décodeur partagés."
