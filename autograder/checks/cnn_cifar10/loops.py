"""06, part 2 and 3: the training loop (train_epoch), evaluate, predict, the baselines.

Behaviour is judged by its consequences, recomputed here: the kernel runs the student's
loop on a network built from the grader's weights (``Sequential``) and sends back its state
dict; the grader replays the same steps itself. A ``Monitor`` layer in those networks
counts the forward passes made in training mode and with gradients enabled, so
``model.train()``, ``model.eval()`` and ``torch.no_grad()`` are seen in the state dict.
The verdict functions take parameters (network, data, step) so that the shared training
concepts can take them over.
"""

from __future__ import annotations

import numpy as np

from ..common import check_close, fail, named_mistake
from ..probing import Call, ModuleState, Of, Sequential, Tensor, check
from .data import grader_cifar, normalized, stats_of

# Training-loop check ("learns"): small CNN (8-16 channels) from the grader's weights, 512
# random CIFAR training images, SGD lr 0.05 momentum 0.9, batch 64, 6 epochs of the
# student's train_epoch; passes when the loss on those images (computed here from the
# weights sent back) falls below LEARN_RATIO x its initial value.
# Calibration (after/before ratio; `calibrate 06_cnn_cifar10 --set loop_seeds=500`), the
# in-kernel version with the same network, data and recipe:
#   reference loop, 500 seeds: min 0.347, median 0.515, max 0.803
#   zero_grad forgotten, 30 seeds: min 1.195, median 1.408
#   softmax before CrossEntropyLoss, 30 seeds: min 1.192, median 1.439
# (see calibration() for the probe version, same distribution).
LEARN_N = 512
LEARN_EPOCHS = 6
LEARN_RATIO = 0.95
LEARN_LR = 0.05
LEARN_BATCH = 64

STEP_LR = 0.5          # train_epoch check: full-batch SGD step
STEP_GAMMA = 0.5       # the scheduler halves the step at each scheduler.step()


# ------------------------------------------------------------------ networks
def default_init(rng, fan_in: int, shape) -> np.ndarray:
    """Weights drawn as PyTorch's default init of Linear / Conv2d: U(±1/√fan_in)."""
    bound = 1 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def mlp_layers(rng, d_in, hidden, n_classes, dropout=None, monitor=True):
    layers = [("Monitor",)] if monitor else []
    layers += [("Linear", default_init(rng, d_in, (hidden, d_in)), default_init(rng, d_in, hidden)), ("ReLU",)]
    if dropout:
        layers.append(("Dropout", dropout))
    layers.append(("Linear", default_init(rng, hidden, (n_classes, hidden)), default_init(rng, hidden, n_classes)))
    return tuple(layers)


def small_cnn_layers(rng):
    def conv(c_in, c_out):
        return ("Conv2d", default_init(rng, c_in * 9, (c_out, c_in, 3, 3)), default_init(rng, c_in * 9, c_out), 1, 1)
    return (conv(3, 8), ("ReLU",), ("MaxPool2d", 2), conv(8, 16), ("ReLU",), ("MaxPool2d", 2), ("Flatten",),
            ("Linear", default_init(rng, 1024, (10, 1024)), default_init(rng, 1024, 10)))


def build(layers, dtype="f4", training=True):
    """The network the kernel builds from ``layers``, built the same way here."""
    from nncourse.probe import decode_input

    from ..probing import encode_input
    return decode_input(encode_input(Sequential(layers, dtype, training)))


def load(net, state: ModuleState, what: str):
    """``net`` holding the state dict the kernel sent (a failure if it is not that network's)."""
    import torch
    if not isinstance(state, ModuleState):
        fail(f"{what} : le réseau n'a pas pu être relu après l'appel.")
    own = net.state_dict()
    if set(state.state) != set(own) or any(tuple(np.shape(state.state[k])) != tuple(own[k].shape) for k in own):
        fail(f"{what} a changé la structure du réseau qu'on lui a donné.")
    net.load_state_dict({k: torch.from_numpy(np.asarray(v)).to(own[k].dtype) for k, v in state.state.items()})
    return net


def monitor_counts(state: ModuleState, prefix="0.") -> dict:
    return {k: int(np.asarray(state.state.get(prefix + k, -1)).reshape(-1)[0])
            for k in ("calls", "train_calls", "grad_calls")}


def parameters(net) -> list:
    return [p.detach().clone() for p in net.parameters()]


# ------------------------------------------------------------ 2. train_epoch
def sgd_replay(layers, x, y, lr, epochs, gamma=1.0, zero_grad=True, softmax=False, dtype="f8"):
    """What full-batch epochs of SGD give from ``layers``: [(mean loss, parameters)] per
    epoch, the step multiplied by ``gamma`` after each one (the scheduler). ``zero_grad``
    False: gradients accumulate; ``softmax``: the loss of softmax probabilities."""
    import torch
    import torch.nn.functional as F
    net = build(tuple(layer for layer in layers if layer[0] != "Monitor"), dtype)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    out = []
    for epoch in range(epochs):
        scores = net(xt)
        loss = F.cross_entropy(torch.softmax(scores, dim=1) if softmax else scores, yt)
        if zero_grad:
            net.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in net.parameters():
                p -= lr * gamma ** epoch * p.grad
        out.append((float(loss.detach()), parameters(net)))
    return out


def train_epoch_verdict(results, layers, x, y, lr, gamma):
    """Two full-batch epochs of the student's train_epoch (results: the call and its repeat)
    against the reference replay: returned losses, parameters after each epoch, train mode,
    one scheduler step per batch."""
    import torch
    want = sgd_replay(layers, x, y, lr, 2, gamma)
    mistakes = {
        "il manque optimizer.zero_grad() : les gradients s'accumulent d'un lot à l'autre.":
            lambda: sgd_replay(layers, x, y, lr, 2, gamma, zero_grad=False),
        "la perte est calculée sur des probabilités : pas de softmax avant CrossEntropyLoss (elle l'applique déjà).":
            lambda: sgd_replay(layers, x, y, lr, 2, gamma, softmax=True),
        "appelez scheduler.step() après chaque optimizer.step() (si scheduler n'est pas None).":
            lambda: sgd_replay(layers, x, y, lr, 2, 1.0),
    }
    got_states = [results.after[0] if results.after else None] + [a.after[0] if a.after else None
                                                                  for a in results.again]
    got_losses = [results.value] + [a.value for a in results.again]
    for epoch, (state, ret) in enumerate(zip(got_states, got_losses)):
        counts = monitor_counts(state) if isinstance(state, ModuleState) else {}
        if counts.get("train_calls", 0) <= 0:
            fail("le modèle était en mode évaluation pendant l'entraînement.",
                 "appelez model.train() au début de train_epoch (dropout et batch norm en dépendent).")
        if ret is None:
            fail("train_epoch ne renvoie rien.", "renvoyez la perte moyenne de l'époque (un float).")
        try:
            ret = float(np.asarray(ret, dtype=np.float64).reshape(()))
        except (TypeError, ValueError):
            fail(f"train_epoch doit renvoyer un nombre (la perte moyenne), reçu {type(ret).__name__}.")
        net = load(build(layers, "f8", training=False), state, "train_epoch")
        got = torch.cat([p.detach().reshape(-1) for p in net.parameters()]).numpy()

        def flat(run):
            return torch.cat([p.reshape(-1) for p in run[epoch][1]]).numpy()
        if not np.allclose(got, flat(want), rtol=1e-7, atol=1e-10):
            hint = named_mistake(got, {h: (lambda c=c: flat(c())) for h, c in mistakes.items()}, rtol=1e-7, atol=1e-10)
            fail(f"après {epoch + 1} époque(s) d'un seul lot, les paramètres ne valent pas ceux "
                 f"d'{'un pas' if epoch == 0 else 'un second pas'} de descente de gradient.",
                 hint or "un pas = zero_grad(), loss.backward(), optimizer.step() (puis scheduler.step()), "
                         "sur la perte des scores bruts.")
        check_close(f"perte renvoyée à l'époque {epoch + 1}", ret, want[epoch][0], rtol=1e-6, atol=1e-9,
                    hint="renvoyez la moyenne des pertes des lots (pondérée par leur taille), calculée "
                         "sur les scores bruts : CrossEntropyLoss applique déjà softmax.")


@check("test_train_epoch")
def train_epoch_steps(rng):
    """Two full-batch epochs of train_epoch are two SGD steps (train mode, zero_grad, one scheduler step each) from the grader's weights."""
    n, d, k = 64, 20, 5
    x = rng.standard_normal((n, d))
    y = rng.integers(0, k, size=n)
    layers = mlp_layers(rng, d, 16, k)
    net = Sequential(layers, "f8", training=False)   # starts in eval mode: train_epoch must call train()
    [r] = yield [Call("train_epoch", (net, Tensor(x), Tensor(y), Of("sgd", 0, {"lr": STEP_LR}, keep=True),
                                      Of("cross_entropy_loss", 0, {}, keep=True), n,
                                      Of("step_lr", 3, {"gamma": STEP_GAMMA}, keep=True), False),
                      watch=(0,), repeat=2, torch_threads=1)]
    train_epoch_verdict(r, layers, x, y, STEP_LR, STEP_GAMMA)
    return "train_epoch fait bien un pas de descente par lot."


def learn_problem(rng):
    """(layers, x float32 normalised, y, torch seed) of the 'learns' check."""
    x_u8, labels = (t.numpy() for t in grader_cifar(True))
    rows = rng.choice(len(x_u8), size=LEARN_N, replace=False)
    xs = x_u8[rows]
    x = normalized(xs, *stats_of(xs)).astype(np.float32)
    return small_cnn_layers(rng), x, labels[rows].astype(np.int64), int(rng.integers(2 ** 31 - 1))


def loss_of(layers, x, y, state=None) -> float:
    import torch
    import torch.nn.functional as F
    net = build(layers)
    if state is not None:
        net = load(net, state, "train_epoch")
    net.eval()
    with torch.no_grad():
        return float(F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y)))


@check("test_train_epoch_learns")
def train_epoch_learns(rng):
    """Six epochs of train_epoch (minibatches, momentum) lower the loss of a small CNN on 512 CIFAR images clearly."""
    layers, x, y, seed = learn_problem(rng)
    [r] = yield [Call("train_epoch", (Sequential(layers), Tensor(x), Tensor(y),
                                      Of("sgd", 0, {"lr": LEARN_LR, "momentum": 0.9}, keep=True),
                                      Of("cross_entropy_loss", 0, {}, keep=True), LEARN_BATCH, None, False),
                      watch=(0,), repeat=LEARN_EPOCHS, torch_seed=seed, torch_threads=1)]
    final = r.again[-1].after[0] if len(r.again) == LEARN_EPOCHS - 1 and r.again[-1].after else None
    before, after = loss_of(layers, x, y), loss_of(layers, x, y, final)
    if not np.isfinite(after):
        fail(f"la perte devient {after} après {LEARN_EPOCHS} époques de train_epoch.",
             "un pas trop grand ? une perte calculée sur des probabilités ?")
    if not after < LEARN_RATIO * before:
        fail(f"après {LEARN_EPOCHS} époques de train_epoch (petit CNN, {LEARN_N} images, SGD {LEARN_LR} moment 0.9), "
             f"la perte passe de {before:.3f} à {after:.3f} : elle ne baisse pas assez (attendu < {LEARN_RATIO:.2f} x "
             "la perte initiale).",
             "vérifiez l'ordre zero_grad / backward / step, le mélange des exemples, et que tous les lots "
             "sont parcourus.")
    return f"la perte baisse de {before:.3f} à {after:.3f}."


def learn_ratio(train_epoch, seed: int) -> float:
    """after/before of the 'learns' check for a local ``train_epoch`` (calibration)."""
    import torch
    layers, x, y, torch_seed = learn_problem(np.random.default_rng(seed))
    net = build(layers)
    opt = torch.optim.SGD(net.parameters(), lr=LEARN_LR, momentum=0.9)
    torch.manual_seed(torch_seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(LEARN_EPOCHS):
        train_epoch(net, xt, yt, opt, torch.nn.CrossEntropyLoss(), LEARN_BATCH, None, False)
    from nncourse.probe import ModuleState as State
    state = State("Sequential", {k: v.numpy() for k, v in net.state_dict().items()})
    return loss_of(layers, x, y, state) / loss_of(layers, x, y)


# ------------------------------------------------------- evaluate / predict
def eval_problem(rng):
    n, d, k = 256, 20, 5
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, k, size=n)
    layers = mlp_layers(rng, d, 64, k, dropout=0.5)
    return layers, x, y


def eval_scores(layers, x) -> np.ndarray:
    """The network's scores in evaluation mode (dropout off), float32 as in the kernel."""
    import torch
    net = build(layers).eval()
    with torch.no_grad():
        return net(torch.from_numpy(x)).double().numpy()


def mode_verdict(state, what):
    """What the Monitor saw: the model called, in eval mode, without gradients."""
    counts = monitor_counts(state) if isinstance(state, ModuleState) else {}
    if counts.get("calls", 0) <= 0:
        fail(f"{what} n'a pas appelé le modèle.")
    if counts.get("train_calls", 0) > 0:
        fail(f"{what} a utilisé le modèle en mode entraînement (dropout actif, résultats aléatoires).",
             "appelez model.eval() avant la passe de test.")
    if counts.get("grad_calls", 0) > 0:
        fail(f"{what} calcule les gradients pendant la passe de test (mémoire et temps perdus).",
             "entourez la boucle de test de `with torch.no_grad():`.")


def cross_entropy(scores, y) -> float:
    s = scores - scores.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(s).sum(axis=1)) - s[np.arange(len(y)), y]))


def evaluate_verdict(value, scores, y):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail("evaluate doit renvoyer deux nombres (perte moyenne, exactitude).")
    loss, acc = (float(np.asarray(v, dtype=np.float64).reshape(())) for v in value)
    want_acc = float(np.mean(scores.argmax(axis=1) == y))
    want_loss = cross_entropy(scores, y)
    hint = named_mistake(acc, {"renvoyez la proportion d'exemples bien classés (entre 0 et 1), pas un pourcentage.":
                               lambda: 100 * want_acc}, rtol=1e-6, atol=1e-6)
    check_close("exactitude renvoyée par evaluate", acc, want_acc, rtol=1e-6, atol=1e-6,
                hint=hint or "proportion des exemples dont l'argmax des scores vaut l'étiquette.")
    check_close("perte renvoyée par evaluate", loss, want_loss, rtol=1e-4, atol=1e-6,
                hint="moyenne des pertes de tous les exemples (lots pondérés par leur taille).")


@check("test_evaluate")
def evaluate_in_eval_mode(rng):
    """evaluate gives the mean loss and the accuracy of the network in eval mode, without gradients (batches weighted)."""
    layers, x, y = eval_problem(rng)
    [r] = yield [Call("evaluate", (Sequential(layers), Tensor(x), Tensor(y), Of("cross_entropy_loss", 0, {}), 128),
                      watch=(0,), torch_threads=1)]
    mode_verdict(r.after[0] if r.after else None, "evaluate")
    evaluate_verdict(r.value, eval_scores(layers, x), y)
    return "evaluate est correcte."


@check("test_predict")
def predict_in_eval_mode(rng):
    """predict gives the argmax class of every example, in eval mode, without gradients, batches in order."""
    layers, x, _ = eval_problem(rng)
    [r] = yield [Call("predict", (Sequential(layers), Tensor(x), 100), watch=(0,), torch_threads=1)]
    mode_verdict(r.after[0] if r.after else None, "predict")
    pred = np.asarray(r.value) if r.value is not None else None
    if pred is None or pred.shape != (len(x),):
        fail(f"predict renvoie la forme {None if pred is None else pred.shape}, attendu {(len(x),)}.",
             "une classe par image : argmax des scores sur dim=1.")
    if not np.array_equal(pred.astype(np.int64), eval_scores(layers, x).argmax(axis=1)):
        fail("les classes prédites ne sont pas l'argmax des scores du modèle.",
             "argmax sur dim=1 (les classes), pas dim=0 (les images) ; tous les lots concaténés dans l'ordre.")
    return "predict est correcte."


# ----------------------------------------------------------------- 3. baselines
LINEAR_PARAMS = 3072 * 10 + 10
MLP_PARAMS = 3072 * 256 + 256 + 256 * 10 + 10


def n_parameters(summary) -> int:
    params = summary.get("parameters", {}) if isinstance(summary, dict) else {}
    return int(sum(np.prod(s, dtype=np.int64) for s in params.values()))


def affine_gap(out) -> float:
    """How far f(a) + f(b) - f(0) is from f(a + b) (rows 0, 1, 3, 2 of the outputs), relative."""
    gap = out[0] + out[1] - out[3] - out[2]
    return float(np.max(np.abs(gap)) / (np.max(np.abs(out[:4])) + 1e-12))


def baseline_verdict(r, what, expected_params, affine: bool, n):
    out = np.asarray(r.result_value, dtype=np.float64) if r.result_value is not None else None
    if out is None or out.shape != (n, 10):
        fail(f"{what} appliqué à des images ({n}, 3, 32, 32) donne {None if out is None else out.shape}, "
             f"attendu {(n, 10)}.", "commencez par nn.Flatten() pour passer de (N, 3, 32, 32) à (N, 3072).")
    got = n_parameters(r.value)
    if got != expected_params:
        fail(f"{what} a {got} paramètres, attendu {expected_params}.")
    gap = affine_gap(out)
    if affine and gap > 1e-4:
        fail(f"{what} n'est pas une fonction affine des pixels (écart relatif {gap:.2g}).",
             "une seule couche Linear après Flatten, sans activation.")
    if not affine and gap < 1e-4:
        fail(f"{what} est une fonction affine des pixels : f(a) + f(b) - f(0) = f(a + b).",
             "il manque la ReLU entre les deux couches Linear : sans elle, le MLP reste un modèle linéaire.")


@check("test_baselines")
def baselines_architectures(rng):
    """make_linear() is one affine map 3072 -> 10 and make_mlp() a 3072-256-10 network that is not affine (ReLU)."""
    a, b = (rng.standard_normal((3, 32, 32)) for _ in range(2))
    others = rng.standard_normal((int(rng.integers(0, 4)), 3, 32, 32))
    x = np.concatenate([np.stack([a, b, a + b, np.zeros_like(a)]), others]).astype(np.float32)
    seed = int(rng.integers(2 ** 31 - 1))
    lin, mlp = yield [Call(name, (), torch_seed=seed, summary=True, call_result=(Tensor(x),), torch_threads=1)
                      for name in ("make_linear", "make_mlp")]
    baseline_verdict(lin, "make_linear()", LINEAR_PARAMS, True, len(x))
    baseline_verdict(mlp, "make_mlp()", MLP_PARAMS, False, len(x))
    return "make_linear et make_mlp sont correctes."
