"""06, part 2 and 3: the training loop (train_epoch), evaluate, predict, the baselines.

train_epoch (one epoch of minibatches with a scheduler, replayed exactly) and evaluate are
the checks shared with 05 (``concepts.training``), registered here with 06's signatures;
"learns" (a small CNN on CIFAR images), predict and the baselines are 06's own. Behaviour
is judged by its consequences, recomputed here: the kernel runs the student's code on a
network built from the grader's weights (``Sequential``) and sends back its state dict. A
``Monitor`` layer in those networks counts the forward passes made in training mode and
with gradients enabled, so ``model.eval()`` and ``torch.no_grad()`` are seen in the state
dict (``training.monitor_verdict``).
"""

from __future__ import annotations

import functools

import numpy as np

from ..common import fail
from ..concepts import training
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

STEP_GAMMA = 0.8       # train_epoch check: the scheduler multiplies the step by 0.8 at each scheduler.step()
EVAL_BATCH = 16        # evaluate check: batches of 16 over 40 to 69 examples


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


# ------------------------------------------------------------ 2. train_epoch
# One epoch of minibatches replayed exactly (train mode, zero_grad, shuffling, one scheduler
# step per batch, the loss of the raw scores): the check shared with 05 (concepts.training).
check("test_train_epoch", module=__name__)(functools.partial(
    training.train_epoch_replay, fn="train_epoch", data="tensors", extra_kwargs={"progress": False},
    gamma=STEP_GAMMA))


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


# evaluate: the check shared with 05 (concepts.training), batches of unequal sizes; eval mode
# and no_grad seen by its Monitor layer.
check("test_evaluate", module=__name__)(functools.partial(
    training.evaluate_in_eval_mode, fn="evaluate", kwargs={"batch_size": EVAL_BATCH}))


@check("test_predict")
def predict_in_eval_mode(rng):
    """predict gives the argmax class of every example, in eval mode, without gradients, batches in order."""
    layers, x, _ = eval_problem(rng)
    [r] = yield [Call("predict", (Sequential(layers), Tensor(x), 100), watch=(0,), torch_threads=1)]
    training.monitor_verdict(r.after[0] if r.after else None, "predict")
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
