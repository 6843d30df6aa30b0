"""Hidden tests of notebook 06 (convolutional networks on CIFAR-10).

Every check draws fresh data (``common.new_rng``; torch is seeded from the same
generator) and raises ``common.CheckFailed`` with a French message naming the likely
mistake.

Grading without retraining: the student hands in ``cnn_weights.pt`` (the ``state_dict``
of their ``MyCNN``) next to the notebook. ``check_accuracy`` loads it itself with
``torch.load(..., weights_only=True)`` into a fresh ``MyCNN()`` and measures the test
accuracy in one batched pass, the test images being normalised with the training-set
statistics computed here (not the student's numbers). Every failure of the file
(missing, unreadable, code inside the pickle, not a state_dict, wrong dtype, wrong
architecture, NaN) gives a French message and zero for that test only.

Reference weights: ``reference_files(cache_dir)`` trains ``ReferenceCNN`` (the same
architecture as the notebook's solution ``MyCNN``) once with the recipe of
``cnn_cifar10_reference`` and caches the file under a versioned name.

Calibration (``python -m autograder calibrate 06_cnn_cifar10 --seeds N``): the reference
recipe cut short (see ``CALIBRATION_*`` below), one run per seed, and the "learns" check of
the student's training loop; the graded threshold ``ACCURACY_THRESHOLD`` is chosen well
below the minimum of that short run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import cnn_cifar10_reference as ref
from .common import CheckFailed, call_student, check_close, fail, new_rng, passed

REFERENCE_VERSION = "h279k-e5-s0-v1"   # bump when the reference architecture or recipe changes
WEIGHTS_NAME = "cnn_weights.pt"
MAX_WEIGHTS_BYTES = 200 * 2**20

# Graded test accuracy of the handed-in network (CIFAR-10 test set, 10 000 images).
# Reference (ReferenceCNN, 5 epochs, seed 0, stand-in pixels): test accuracy per epoch
# 0.466, 0.629, 0.701, 0.779, 0.804 (2949 s on the shared 2-core host under load 4-9;
# ~4.7 min expected on idle cores, notes/cpu-performance.md).
# Short run actually calibrated here (the machine was too loaded for longer runs):
# the reference recipe with 1 epoch on the first 25 000 training images, batch 128
# (196 OneCycle steps), seeds 1000.. :
#   8 seeds: 0.478 0.477 0.461 0.490 0.510 0.432 0.485 0.505 -> min 0.432, median 0.481,
#   max 0.510 (mean 0.480, sd 0.024); 39-343 s per seed on the loaded host.
#   (The exact 1-epoch/20 000-image/batch-256 cut, 79 steps, reached only 0.263: too few
#   OneCycle steps.)
# A longer cut, 2 epochs on all 50 000 images (batch 256), reached 0.691 (seed 1000; 656 s
# under load; more seeds did not fit in the session).
# Full recipe (5 epochs, 50 000 images, batch 256) on 2 idle cores, seeds 1000-1002:
#   0.8001 (316 s), 0.8020 (320 s), 0.8022 (335 s) -> min 0.800, median 0.802.
# Threshold 0.55: 25 points under the full reference, 14 under the 2-epoch cut, and above
# what a barely trained network (the 1-epoch/25 000-image cut, 0.43-0.51) or the non-
# convolutional baselines (~0.41 / ~0.48) reach. It does not ask for a great network, only
# one that was really trained as the notebook says. Raise it only after running
#   python -m autograder calibrate 06_cnn_cifar10 --seeds 20 --set epochs=5 --set n_train=50000 --set batch_size=256
# on a quiet machine (or a GPU), and keep a margin of about 15 points under its minimum.
ACCURACY_THRESHOLD = 0.55
CALIBRATION_EPOCHS = 1
CALIBRATION_N_TRAIN = 25_000

# Training-loop check ("learns"): small CNN (8-16 channels), 512 random CIFAR training
# images, SGD lr 0.05 momentum 0.9, batch 64, 6 epochs of the student's train_epoch;
# passes when the loss on those images falls below LEARN_RATIO x its initial value.
# Calibration (after/before ratio; reference: `calibrate 06_cnn_cifar10 --set loop_seeds=500`):
#   reference loop, 500 seeds: min 0.347, median 0.515, max 0.803
#   zero_grad forgotten, 30 seeds: min 1.195, median 1.408
#   softmax before CrossEntropyLoss, 30 seeds: min 1.192, median 1.439
# (With 3 epochs and a 0.90 threshold the reference reached 0.906 once under nbgrader:
# the tail of the 3-epoch ratio was too close; 6 epochs separate the two groups.)
LEARN_N = 512
LEARN_EPOCHS = 6
LEARN_RATIO = 0.95
LEARN_LR = 0.05


# ------------------------------------------------------------------ helpers
def _seed_torch(rng) -> int:
    seed = int(rng.integers(2**31 - 1))
    torch.manual_seed(seed)
    return seed


def _tensor(value, what):
    if value is None:
        fail(f"{what} vaut None.", "avez-vous oublié le return ?")
    if not isinstance(value, torch.Tensor):
        fail(f"{what} doit être un tenseur torch, reçu {type(value).__name__}.")
    return value


def _np64(t):
    return t.detach().cpu().to(torch.float64).numpy()


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


_STATS_CACHE: dict = {}


def _reference_stats(x_u8: torch.Tensor):
    """Per-channel mean/std (pixels scaled to [0, 1]) in float64, chunked (low memory).

    Cached per tensor (the training set is used by several checks of one notebook run)."""
    key = (x_u8.data_ptr(), tuple(x_u8.shape), x_u8.dtype, int(x_u8[..., 0, 0].sum()), int(x_u8[..., -1, -1].sum()))
    if key in _STATS_CACHE:
        return _STATS_CACHE[key]
    s = torch.zeros(3, dtype=torch.float64)
    s2 = torch.zeros(3, dtype=torch.float64)
    for i in range(0, len(x_u8), 5000):
        chunk = x_u8[i:i + 5000].to(torch.float32)
        s += chunk.sum(dim=(0, 2, 3), dtype=torch.float64)
        s2 += (chunk * chunk).sum(dim=(0, 2, 3), dtype=torch.float64)
    n = len(x_u8) * x_u8.shape[2] * x_u8.shape[3]
    mean = s / n
    std = torch.sqrt((s2 / n - mean ** 2) * n / (n - 1))
    if len(_STATS_CACHE) >= 3:
        _STATS_CACHE.pop(next(iter(_STATS_CACHE)))
    _STATS_CACHE[key] = (mean / 255.0, std / 255.0)
    return _STATS_CACHE[key]


def _random_images(rng, n, size=32):
    """uint8 images whose three channels have clearly different statistics."""
    base = rng.integers(0, 256, size=(n, 3, size, size))
    scale = np.array([0.3, 0.6, 0.9]).reshape(1, 3, 1, 1)
    offset = np.array([150, 40, 10]).reshape(1, 3, 1, 1)
    return torch.from_numpy(np.clip(base * scale + offset, 0, 255).astype(np.uint8))


# --------------------------------------------------------------- 1. données
def check_channel_stats(fn):
    rng, seed = new_rng()
    x = _random_images(rng, int(rng.integers(60, 120)))
    out = call_student(fn, x, what="channel_stats")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("channel_stats doit renvoyer deux tenseurs (mean, std).")
    mean, std = (_tensor(o, "channel_stats(...)") for o in out)
    exp_mean, exp_std = _reference_stats(x)
    if mean.shape != (3,) or std.shape != (3,):
        fail(f"mean et std ont les formes {tuple(mean.shape)} et {tuple(std.shape)}, attendu (3,) chacun.",
             "une valeur par canal : moyenne sur les images ET les pixels, dim=(0, 2, 3).")
    if float(mean.max()) > 1.5:
        fail(f"mean = {mean.tolist()} : les pixels n'ont pas été ramenés dans [0, 1].",
             "divisez les pixels (uint8, 0 à 255) par 255 avant de calculer les statistiques.")
    check_close("channel_stats(x)[0] (moyennes)", _np64(mean), exp_mean.numpy(), rtol=1e-3, atol=1e-4,
                hint="moyenne par canal sur les axes (0, 2, 3) des pixels divisés par 255.")
    check_close("channel_stats(x)[1] (écarts-types)", _np64(std), exp_std.numpy(), rtol=1e-2, atol=1e-4,
                hint="écart-type par canal sur les axes (0, 2, 3) (pas une moyenne d'écarts-types par image).")
    passed()


def check_normalize(fn):
    rng, seed = new_rng()
    x = _random_images(rng, int(rng.integers(5, 12)))
    mean = torch.from_numpy(rng.uniform(0.3, 0.6, size=3).astype(np.float32))
    std = torch.from_numpy(rng.uniform(0.15, 0.3, size=3).astype(np.float32))
    out = _tensor(call_student(fn, x, mean, std, what="normalize"), "normalize(...)")
    if out.dtype != torch.float32:
        fail(f"normalize renvoie le type {out.dtype}, attendu torch.float32.",
             "convertissez les pixels avec .float() (ou .to(torch.float32)).")
    expected = (x.to(torch.float64) / 255.0 - mean.double().view(1, 3, 1, 1)) / std.double().view(1, 3, 1, 1)
    if out.shape == expected.shape and torch.allclose(out.double(), (x.double() - mean.double().view(1, 3, 1, 1))
                                                      / std.double().view(1, 3, 1, 1), atol=1e-3):
        fail("normalize n'a pas divisé les pixels par 255.", "x / 255, puis (x - mean) / std canal par canal.")
    check_close("normalize(x, mean, std)", _np64(out), expected.numpy(), rtol=1e-4, atol=1e-4,
                hint="(x / 255 - mean) / std, avec mean et std vus comme (1, 3, 1, 1) pour le broadcasting.")
    passed()


def check_dataset_stats(MEAN, STD, x_test, x_train_u8, x_test_u8):
    rng, seed = new_rng()
    mean, std = _reference_stats(x_train_u8)
    MEAN, STD = _tensor(MEAN, "MEAN"), _tensor(STD, "STD")
    if tuple(MEAN.shape) != (3,) or tuple(STD.shape) != (3,):
        fail(f"MEAN et STD ont les formes {tuple(MEAN.shape)}, {tuple(STD.shape)}, attendu (3,).")
    if not np.allclose(_np64(MEAN), mean.numpy(), rtol=1e-3, atol=1e-4):
        test_mean = x_test_u8.to(torch.float32).mean(dim=(0, 2, 3), dtype=torch.float64) / 255.0
        if np.allclose(_np64(MEAN), test_mean.numpy(), atol=2e-5):
            fail("MEAN et STD sont ceux de l'ensemble de test.",
                 "les statistiques se calculent sur les images d'ENTRAÎNEMENT seulement (le test ne sert qu'à "
                 "mesurer).")
    check_close("MEAN", _np64(MEAN), mean.numpy(), rtol=1e-3, atol=1e-4,
                hint="MEAN, STD = channel_stats(x_train_u8).")
    check_close("STD", _np64(STD), std.numpy(), rtol=1e-3, atol=1e-4,
                hint="MEAN, STD = channel_stats(x_train_u8).")
    x_test = _tensor(x_test, "x_test")
    if tuple(x_test.shape) != tuple(x_test_u8.shape):
        fail(f"x_test a la forme {tuple(x_test.shape)}, attendu {tuple(x_test_u8.shape)}.")
    idx = torch.from_numpy(rng.choice(len(x_test_u8), size=20, replace=False))
    expected = (x_test_u8[idx].double() / 255 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    got = _np64(x_test[idx])
    if not np.allclose(got, expected.numpy(), rtol=1e-3, atol=1e-3):
        own_mean = _np64(x_test[:2000].mean(dim=(0, 2, 3)))
        fail(f"x_test n'est pas normalisé avec MEAN et STD (écart max {np.max(np.abs(got - expected.numpy())):.3g} "
             f"sur 20 images ; moyenne par canal de x_test[:2000] : {np.round(own_mean, 3).tolist()}).",
             "les images de test se normalisent avec MEAN et STD de l'ENTRAÎNEMENT, pas avec leurs propres "
             "statistiques (le test ne doit rien influencer).")
    passed()


# ------------------------------------------------------ 2. boucle d'entraînement
class _Recorder(nn.Module):
    """Identity layer that records, at each forward, grad mode and train/eval mode."""

    def __init__(self):
        super().__init__()
        self.grad_enabled, self.training_seen = [], []

    def forward(self, x):
        self.grad_enabled.append(torch.is_grad_enabled())
        self.training_seen.append(self.training)
        return x


def _mlp(rng, d_in=20, hidden=16, n_classes=5, dropout=None, dtype=torch.float32):
    _seed_torch(rng)
    layers = [nn.Linear(d_in, hidden), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, n_classes))
    return nn.Sequential(*layers).to(dtype)


def check_train_epoch(fn):
    """One full-batch epoch = one SGD step; a second epoch = a second step from the new point."""
    rng, seed = new_rng()
    n, d, k, lr = 64, 20, 5, 0.5
    x = torch.from_numpy(rng.standard_normal((n, d))).double()
    y = torch.from_numpy(rng.integers(0, k, size=n))
    model = _mlp(rng, d, 16, k, dtype=torch.float64)
    rec = _Recorder()
    model.append(rec)
    model.eval()
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=1.0)
    loss_fn = nn.CrossEntropyLoss()
    twin = copy_model(model)
    losses = []
    for epoch in range(2):
        ret = call_student(fn, model, x, y, opt, loss_fn, batch_size=n, scheduler=sched, progress=False,
                           what="train_epoch")
        if ret is None:
            fail("train_epoch ne renvoie rien.", "renvoyez la perte moyenne de l'époque (un float).")
        try:
            ret = float(ret)
        except (TypeError, ValueError):
            fail(f"train_epoch doit renvoyer un nombre (la perte moyenne), reçu {type(ret).__name__}.")
        # reference step on the twin
        out = twin(x)
        loss = F.cross_entropy(out, y)
        losses.append(loss.item())
        twin.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in twin.parameters():
                p -= lr * p.grad
        if not rec.training_seen or not rec.training_seen[-1]:
            fail("le modèle était en mode évaluation pendant l'entraînement.",
                 "appelez model.train() au début de train_epoch (dropout et batch norm en dépendent).")
        check_close(f"perte renvoyée à l'époque {epoch + 1}", ret, losses[-1], rtol=1e-6, atol=1e-9,
                    hint="renvoyez la moyenne des pertes des lots (pondérée par leur taille), calculée "
                         "sur les scores bruts : CrossEntropyLoss applique déjà softmax.")
        for (name, p), q in zip(model.named_parameters(), twin.parameters()):
            if not torch.allclose(p, q, rtol=1e-8, atol=1e-10):
                hint = ("il manque optimizer.zero_grad() : les gradients s'accumulent d'un lot à l'autre."
                        if epoch == 1 else
                        "un pas = zero_grad(), loss.backward(), optimizer.step(), sur la perte des scores "
                        "bruts (pas de softmax avant CrossEntropyLoss).")
                fail(f"après {epoch + 1} époque(s) d'un seul lot, le paramètre {name} ne vaut pas "
                     "celui d'un pas de descente de gradient.", hint)
    if sched.last_epoch != 2:
        fail(f"le scheduler a avancé de {sched.last_epoch} pas pour 2 lots.",
             "appelez scheduler.step() après chaque optimizer.step() (si scheduler n'est pas None).")
    passed()


def copy_model(model):
    import copy
    return copy.deepcopy(model)


def _small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def _learn_run(fn, x_u8, y, rng):
    idx = torch.from_numpy(rng.choice(len(x_u8), size=LEARN_N, replace=False))
    xs = x_u8[idx]
    mean, std = _reference_stats(xs)
    x = ((xs.double() / 255 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)).float()
    ys = y[idx]
    _seed_torch(rng)
    model = _small_cnn()
    with torch.no_grad():
        before = float(F.cross_entropy(model(x), ys))
    opt = torch.optim.SGD(model.parameters(), lr=LEARN_LR, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(LEARN_EPOCHS):
        call_student(fn, model, x, ys, opt, loss_fn, batch_size=64, progress=False, what="train_epoch")
    model.eval()
    with torch.no_grad():
        after = float(F.cross_entropy(model(x), ys))
    return before, after


def check_train_epoch_learns(fn, x_train_u8, y_train):
    rng, seed = new_rng()
    before, after = _learn_run(fn, x_train_u8, y_train, rng)
    if not np.isfinite(after):
        fail(f"la perte devient {after} après {LEARN_EPOCHS} époques de train_epoch.",
             "un pas trop grand ? une perte calculée sur des probabilités ?")
    if not after < LEARN_RATIO * before:
        fail(f"après {LEARN_EPOCHS} époques de train_epoch (petit CNN, {LEARN_N} images, SGD {LEARN_LR} moment 0.9), la perte "
             f"passe de {before:.3f} à {after:.3f} : elle ne baisse pas assez (attendu < {LEARN_RATIO:.2f} x "
             "la perte initiale).",
             "vérifiez l'ordre zero_grad / backward / step, le mélange des exemples, et que tous les lots "
             "sont parcourus.")
    passed(f"la perte baisse de {before:.3f} à {after:.3f}.")


def _eval_fixture(rng):
    n, d, k = 256, 20, 5
    x = torch.from_numpy(rng.standard_normal((n, d))).float()
    y = torch.from_numpy(rng.integers(0, k, size=n))
    model = _mlp(rng, d, 64, k, dropout=0.5)
    rec = _Recorder()
    model.insert(0, rec)
    model.train()
    with torch.no_grad():
        model.eval()
        logits = model(x)
        model.train()
    rec.grad_enabled.clear()
    rec.training_seen.clear()
    return model, rec, x, y, logits


def _mode_checks(rec, model, what):
    if not rec.training_seen:
        fail(f"{what} n'a pas appelé le modèle.")
    if any(rec.training_seen):
        fail(f"{what} a utilisé le modèle en mode entraînement (dropout actif, résultats aléatoires).",
             "appelez model.eval() avant la passe de test.")
    if any(rec.grad_enabled):
        fail(f"{what} calcule les gradients pendant la passe de test (mémoire et temps perdus).",
             "entourez la boucle de test de `with torch.no_grad():`.")


def check_evaluate(fn):
    rng, seed = new_rng()
    model, rec, x, y, logits = _eval_fixture(rng)
    out = call_student(fn, model, x, y, nn.CrossEntropyLoss(), batch_size=128, what="evaluate")
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("evaluate doit renvoyer deux nombres (perte moyenne, exactitude).")
    _mode_checks(rec, model, "evaluate")
    loss, acc = float(out[0]), float(out[1])
    exp_loss = float(F.cross_entropy(logits, y))
    exp_acc = float((logits.argmax(dim=1) == y).double().mean())
    if abs(acc - 100 * exp_acc) < 1e-6 and exp_acc > 0:
        fail(f"exactitude = {acc}, attendu une proportion entre 0 et 1 ({exp_acc:.4f}).",
             "renvoyez la proportion d'exemples bien classés (pas un pourcentage).")
    check_close("exactitude renvoyée par evaluate", acc, exp_acc, rtol=1e-6, atol=1e-6,
                hint="proportion des exemples dont l'argmax des scores vaut l'étiquette.")
    check_close("perte renvoyée par evaluate", loss, exp_loss, rtol=1e-4, atol=1e-6,
                hint="moyenne des pertes de tous les exemples (lots pondérés par leur taille).")
    passed()


def check_predict(fn):
    rng, seed = new_rng()
    model, rec, x, y, logits = _eval_fixture(rng)
    pred = _tensor(call_student(fn, model, x, batch_size=100, what="predict"), "predict(...)")
    _mode_checks(rec, model, "predict")
    if tuple(pred.shape) != (len(x),):
        fail(f"predict renvoie la forme {tuple(pred.shape)}, attendu {(len(x),)}.",
             "une classe par image : argmax des scores sur dim=1.")
    if not torch.equal(pred.long(), logits.argmax(dim=1)):
        fail("les classes prédites ne sont pas l'argmax des scores du modèle.",
             "argmax sur dim=1 (les classes), pas dim=0 (les images) ; tous les lots concaténés dans l'ordre.")
    passed()


# --------------------------------------------------------------- 3. baselines
def check_baselines(make_linear, make_mlp):
    rng, seed = new_rng()
    x = torch.randn(int(rng.integers(2, 9)), 3, 32, 32)
    for fn, what, expected in ((make_linear, "make_linear()", 3072 * 10 + 10),
                               (make_mlp, "make_mlp()", 3072 * 256 + 256 + 256 * 10 + 10)):
        model = call_student(fn, what=what)
        if not isinstance(model, nn.Module):
            fail(f"{what} doit renvoyer un nn.Module.")
        out = _tensor(call_student(model, x, what=f"le modèle de {what}"), what)
        if tuple(out.shape) != (len(x), 10):
            fail(f"{what} appliqué à des images ({tuple(x.shape)}) donne {tuple(out.shape)}, attendu {(len(x), 10)}.",
                 "commencez par nn.Flatten() pour passer de (N, 3, 32, 32) à (N, 3072).")
        if _n_params(model) != expected:
            fail(f"{what} a {_n_params(model)} paramètres, attendu {expected}.")
    passed()


# --------------------------------------------------------- 4. convolution à la main
def _out_size(n, k, p, s):
    return (n + 2 * p - k) // s + 1


def check_conv_output_size(fn):
    rng, seed = new_rng()
    for _ in range(30):
        k = int(rng.integers(1, 8))
        n = int(rng.integers(k, 70))
        p = int(rng.integers(0, 4))
        s = int(rng.integers(1, 4))
        got = call_student(fn, n, k, padding=p, stride=s, what="conv_output_size")
        exp = _out_size(n, k, p, s)
        if got != exp:
            hint = None
            if got == exp - 1:
                hint = "il manque le « + 1 » : la première position du filtre compte aussi."
            elif got == (n + p - k) // s + 1:
                hint = "la marge s'ajoute des deux côtés : 2 x padding."
            elif isinstance(got, float):
                hint = "division entière // (une taille est un entier)."
            fail(f"conv_output_size(n={n}, k={k}, padding={p}, stride={s}) = {got}, attendu {exp}.", hint)
    passed()


def check_conv_params(fn):
    rng, seed = new_rng()
    for _ in range(10):
        c_in, c_out, k = (int(v) for v in rng.integers(1, 40, size=3))
        k = k % 7 + 1
        for bias in (True, False):
            got = call_student(fn, c_in, c_out, k, bias=bias, what="conv_param_count")
            exp = c_out * (c_in * k * k + int(bias))
            if got != exp:
                hint = None
                if got == c_out * c_in * k * k:
                    hint = "un biais par filtre (c_out biais) quand bias=True."
                elif got == c_out * (k * k + int(bias)):
                    hint = "chaque filtre a c_in x k x k poids : il voit tous les canaux d'entrée."
                fail(f"conv_param_count({c_in}, {c_out}, {k}, bias={bias}) = {got}, attendu {exp}.", hint)
    passed()


def check_conv2d_numpy(fn):
    rng, seed = new_rng()
    for padding, stride in ((0, 1), (int(rng.integers(1, 3)), 1), (int(rng.integers(0, 2)), 2)):
        c_in, c_out, k = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
        h, w = int(rng.integers(6, 10)), int(rng.integers(6, 10))
        image = rng.standard_normal((c_in, h, w))
        kernels = rng.standard_normal((c_out, c_in, k, k))
        bias = rng.standard_normal(c_out)
        got = call_student(fn, image.copy(), kernels.copy(), bias.copy(), stride=stride, padding=padding,
                           what="conv2d_numpy")
        got = np.asarray(got, dtype=np.float64)
        exp = F.conv2d(torch.from_numpy(image)[None], torch.from_numpy(kernels), torch.from_numpy(bias),
                       stride=stride, padding=padding)[0].numpy()
        hint = None
        if got.shape == exp.shape:
            flipped = F.conv2d(torch.from_numpy(image)[None], torch.from_numpy(kernels[:, :, ::-1, ::-1].copy()),
                               torch.from_numpy(bias), stride=stride, padding=padding)[0].numpy()
            if np.allclose(got, flipped, atol=1e-8):
                hint = "le filtre est retourné : conv2d (comme PyTorch) ne retourne pas le noyau (corrélation)."
            elif np.allclose(got, exp - bias[:, None, None], atol=1e-8):
                hint = "le biais du filtre j s'ajoute à toute la sortie j."
        elif padding and got.shape[1:] == (h - k + 1, w - k + 1) or got.shape[1:] == ((h - k) // stride + 1,
                                                                                        (w - k) // stride + 1):
            hint = "la marge (padding) n'est pas appliquée : np.pad sur les deux axes spatiaux."
        check_close(f"conv2d_numpy(image {image.shape}, noyaux {kernels.shape}, stride={stride}, padding={padding})",
                    got, exp, rtol=1e-7, atol=1e-9, hint=hint)
    passed()


def check_maxpool(fn):
    rng, seed = new_rng()
    for k in (2, 3):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(2 * k, 5 * k)), int(rng.integers(2 * k, 5 * k))
        x = rng.standard_normal((c, h, w))
        got = np.asarray(call_student(fn, x.copy(), k, what="maxpool2d_numpy"), dtype=np.float64)
        exp = F.max_pool2d(torch.from_numpy(x)[None], k)[0].numpy()
        hint = None
        if got.shape == exp.shape and np.allclose(got, F.avg_pool2d(torch.from_numpy(x)[None], k)[0].numpy()):
            hint = "c'est une moyenne : max-pooling garde le MAXIMUM de chaque bloc."
        check_close(f"maxpool2d_numpy(x {x.shape}, k={k})", got, exp, rtol=1e-9, atol=1e-12,
                    hint=hint or "blocs k x k sans recouvrement ; les lignes/colonnes en trop au bord sont ignorées.")
    passed()


# ------------------------------------------------------------------ 5. réseaux
def _check_network(cls, name, expected_params, counts, rng, extra=None):
    _seed_torch(rng)
    model = call_student(cls, what=f"{name}()")
    if not isinstance(model, nn.Module):
        fail(f"{name}() doit être un nn.Module.")
    n = int(rng.integers(2, 7))
    x = torch.randn(n, 3, 32, 32)
    out = _tensor(call_student(model, x, what=f"{name} (passe avant)"), f"{name}(x)")
    if tuple(out.shape) != (n, 10):
        fail(f"{name} appliqué à x de forme {tuple(x.shape)} donne {tuple(out.shape)}, attendu {(n, 10)}.")
    with torch.no_grad():
        s = out.detach().sum(dim=1)
    if bool((out.detach() >= 0).all()) and torch.allclose(s, torch.ones_like(s), atol=1e-4):
        fail(f"les sorties de {name} sont des probabilités (softmax).",
             "renvoyez les scores bruts : nn.CrossEntropyLoss applique déjà log-softmax.")
    layers = {t: sum(1 for m in model.modules() if isinstance(m, t)) for t in counts}
    for t, c in counts.items():
        if layers[t] != c:
            fail(f"{name} contient {layers[t]} couche(s) {t.__name__}, attendu {c}.")
    if extra is not None:
        extra(model)
    got = _n_params(model)
    if got != expected_params:
        fail(f"{name} a {got} paramètres, attendu {expected_params}.",
             "recomptez couche par couche : c_out x (c_in x k x k + 1) pour une convolution, "
             "n_out x (n_in + 1) pour une couche Linear.")
    return model


LENET5_PARAMS = (3 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
SEED_NET_PARAMS = (3 * 32 * 25 + 32) + (32 * 64 * 9 + 64) + (4096 * 256 + 256) + (256 * 10 + 10)


def check_lenet5(cls):
    rng, seed = new_rng()
    _check_network(cls, "LeNet5", LENET5_PARAMS, {nn.Conv2d: 2, nn.Linear: 3}, rng)
    passed(f"LeNet5 : {LENET5_PARAMS} paramètres.")


def _seed_net_convs(model):
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if tuple(convs[0].kernel_size) != (5, 5) or convs[0].out_channels != 32:
        fail("la première convolution doit avoir 32 filtres 5x5.")
    if tuple(convs[0].padding) != (2, 2):
        fail(f"la première convolution a padding={convs[0].padding} : sa sortie n'est pas 32x32.",
             "padding=2 pour un noyau 5x5 (2 pixels de zéros de chaque côté) : 32 + 4 - 5 + 1 = 32.")
    if tuple(convs[1].kernel_size) != (3, 3) or convs[1].out_channels != 64 or tuple(convs[1].padding) != (1, 1):
        fail("la seconde convolution doit avoir 64 filtres 3x3 avec padding=1 (sortie 16x16).")


def check_seed_net(cls):
    rng, seed = new_rng()
    _check_network(cls, "SeedNet", SEED_NET_PARAMS, {nn.Conv2d: 2, nn.Linear: 2}, rng, extra=_seed_net_convs)
    passed(f"SeedNet : {SEED_NET_PARAMS} paramètres.")


# ------------------------------------------------------------ 6. meilleur CNN
def _is_crop_of(out, img, pad=4):
    """Is ``out`` a 32x32 crop of ``img`` zero-padded by ``pad``, possibly flipped?"""
    c, h, w = img.shape
    padded = torch.zeros(c, h + 2 * pad, w + 2 * pad, dtype=img.dtype)
    padded[:, pad:pad + h, pad:pad + w] = img
    for source in (padded, padded.flip(-1)):
        windows = source.unfold(1, h, 1).unfold(2, w, 1)  # (c, 2p+1, 2p+1, h, w)
        if (windows == out[:, None, None]).all(dim=(0, 3, 4)).any():
            return True
    return False


def check_augment(fn):
    rng, seed = new_rng()
    _seed_torch(rng)
    n = 64
    x = torch.from_numpy(rng.integers(1, 256, size=(n, 3, 32, 32)).astype(np.uint8))
    before = x.clone()
    out = _tensor(call_student(fn, x, what="augment"), "augment(x)")
    if not torch.equal(x, before):
        fail("augment a modifié ses entrées en place.")
    if tuple(out.shape) != tuple(x.shape) or out.dtype != torch.uint8:
        fail(f"augment renvoie {tuple(out.shape)} {out.dtype}, attendu {tuple(x.shape)} torch.uint8.",
             "appliquez les transformations v2 aux images uint8 ; la normalisation vient après.")
    ok = [_is_crop_of(out[i], x[i]) for i in range(n)]
    if not all(ok):
        fail(f"{ok.count(False)} image(s) sur {n} ne sont ni un recadrage 32x32 de l'image entourée de 4 pixels "
             "noirs, ni son miroir horizontal.",
             "v2.RandomCrop(32, padding=4) puis v2.RandomHorizontalFlip(), appliqués à chaque image.")
    changed = [not torch.equal(out[i], x[i]) for i in range(n)]
    if sum(changed) < n // 2:
        fail(f"seulement {sum(changed)} image(s) sur {n} sont modifiées.",
             "les transformations doivent être aléatoires et appliquées à chaque image.")
    same_crop = _same_transform_for_all(out, x)
    if same_crop:
        fail("toutes les images ont reçu le même recadrage et le même retournement.",
             "une transformation v2 appliquée à un lot (N, 3, 32, 32) tire UN seul tirage pour tout le lot : "
             "appliquez-la image par image (par exemple torch.stack([t(img) for img in images])).")
    passed()


def _crop_params(out, img, pad=4):
    c, h, w = img.shape
    padded = torch.zeros(c, h + 2 * pad, w + 2 * pad, dtype=img.dtype)
    padded[:, pad:pad + h, pad:pad + w] = img
    found = set()
    for f, source in enumerate((padded, padded.flip(-1))):
        windows = source.unfold(1, h, 1).unfold(2, w, 1)
        hits = (windows == out[:, None, None]).all(dim=(0, 3, 4)).nonzero().tolist()
        found |= {(f, a, b) for a, b in hits}
    return found


def _same_transform_for_all(out, x):
    common = None
    for i in range(len(x)):
        p = _crop_params(out[i], x[i])
        common = p if common is None else common & p
        if not common:
            return False
    return True


def check_my_cnn(cls):
    rng, seed = new_rng()
    _seed_torch(rng)
    model = call_student(cls, what="MyCNN()")
    if not isinstance(model, nn.Module):
        fail("MyCNN() doit être un nn.Module.")
    n = int(rng.integers(2, 7))
    model.eval()
    with torch.no_grad():
        out = _tensor(call_student(model, torch.randn(n, 3, 32, 32), what="MyCNN (passe avant)"), "MyCNN()(x)")
    if tuple(out.shape) != (n, 10):
        fail(f"MyCNN donne la forme {tuple(out.shape)} pour {n} images, attendu {(n, 10)}.")
    if not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        fail("MyCNN ne contient aucune couche nn.BatchNorm2d.", "ajoutez une normalisation de lot après les convolutions.")
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        fail("MyCNN ne contient aucune convolution.")
    if _n_params(model) > 5_000_000:
        fail(f"MyCNN a {_n_params(model)} paramètres : trop pour un entraînement de quelques minutes sur CPU "
             "(limite 5 millions).")
    passed(f"MyCNN : {_n_params(model)} paramètres.")


def load_weights(cls, path=WEIGHTS_NAME):
    """A fresh ``cls()`` holding the handed-in state_dict, or CheckFailed with a French message."""
    path = Path(path)
    zero = "Ce test vaut 0 : rendez le fichier produit par la cellule d'entraînement (torch.save(model.state_dict(), ...))."
    if not path.exists():
        fail(f"le fichier {path.name} est absent : les poids entraînés n'ont pas été rendus avec le notebook.", zero)
    if path.stat().st_size > MAX_WEIGHTS_BYTES:
        fail(f"le fichier {path.name} fait {path.stat().st_size / 2**20:.0f} Mo (limite {MAX_WEIGHTS_BYTES // 2**20} Mo).",
             zero)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - anything unreadable is the student's file
        if "weights_only" in str(exc) or "Unsupported global" in str(exc) or "Unpickler" in type(exc).__name__:
            fail(f"{path.name} contient autre chose que des tenseurs (objets Python, code) : il est refusé "
                 "par torch.load(..., weights_only=True).",
                 "enregistrez model.state_dict(), pas le modèle entier ni d'autres objets.")
        fail(f"{path.name} est illisible ({type(exc).__name__}) : fichier corrompu ou d'un autre format.", zero)
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        fail(f"{path.name} ne contient pas un state_dict (dictionnaire nom -> tenseur), mais {type(state).__name__}.",
             "torch.save(model.state_dict(), 'cnn_weights.pt').")
    bad = sorted({str(v.dtype) for v in state.values() if v.is_floating_point() and v.dtype != torch.float32})
    if bad:
        fail(f"{path.name} contient des tenseurs de type {', '.join(bad)}, attendu torch.float32.",
             "n'appelez pas .double()/.half() sur le modèle avant de l'enregistrer.")
    if not all(bool(torch.isfinite(v).all()) for v in state.values() if v.is_floating_point()):
        fail(f"{path.name} contient des poids infinis ou NaN : l'entraînement a divergé.", zero)
    model = call_student(cls, what="MyCNN()")
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = [k for k in own if k in state and tuple(own[k].shape) != tuple(state[k].shape)]
    if missing or unexpected or shapes:
        detail = []
        if missing:
            detail.append(f"manquants : {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
        if unexpected:
            detail.append(f"en trop : {', '.join(unexpected[:4])}{' ...' if len(unexpected) > 4 else ''}")
        if shapes:
            detail.append("formes différentes : " + ", ".join(
                f"{k} {tuple(state[k].shape)} au lieu de {tuple(own[k].shape)}" for k in shapes[:3]))
        fail(f"les poids de {path.name} ne correspondent pas à l'architecture MyCNN actuelle ({'; '.join(detail)}).",
             "ré-entraînez après avoir modifié MyCNN, ou revenez à l'architecture qui a produit le fichier.")
    try:
        model.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001
        fail(f"load_state_dict a échoué : {type(exc).__name__}: {str(exc)[:200]}", zero)
    return model


def test_accuracy(model, x_train_u8, x_test_u8, y_test, batch_size=1000):
    mean, std = _reference_stats(x_train_u8)
    mean, std = mean.float().view(1, 3, 1, 1), std.float().view(1, 3, 1, 1)
    model = model.to(memory_format=torch.channels_last)
    model.eval()
    correct = 0
    with torch.inference_mode():
        for i in range(0, len(x_test_u8), batch_size):
            xb = ((x_test_u8[i:i + batch_size].float() / 255 - mean) / std).contiguous(memory_format=torch.channels_last)
            correct += int((model(xb).argmax(dim=1) == y_test[i:i + batch_size]).sum())
    return correct / len(x_test_u8)


def check_accuracy(cls, x_train_u8, x_test_u8, y_test, path=WEIGHTS_NAME):
    model = load_weights(cls, path)
    try:
        acc = test_accuracy(model, x_train_u8, x_test_u8, y_test)
    except CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"le réseau chargé depuis {Path(path).name} a levé une erreur sur les images de test : "
             f"{type(exc).__name__}: {str(exc)[:200]}")
    if not acc >= ACCURACY_THRESHOLD:
        fail(f"exactitude sur les 10 000 images de test : {acc:.4f}, attendu au moins {ACCURACY_THRESHOLD:.2f}.",
             "batch norm, augmentation, planification du pas, quelques époques de plus ; vérifiez aussi la "
             "normalisation (statistiques de l'entraînement).")
    passed(f"exactitude test mesurée par la correction : {acc:.4f} (seuil {ACCURACY_THRESHOLD:.2f}).")


# ----------------------------------------------------------------- 7. analyse
def check_confusion_matrix(fn):
    rng, seed = new_rng()
    k = int(rng.integers(3, 7))
    n = int(rng.integers(50, 120))
    y_true = torch.from_numpy(rng.integers(0, k, size=n))
    y_pred = torch.from_numpy(np.where(rng.random(n) < 0.6, y_true.numpy(), rng.integers(0, k, size=n)))
    y_pred[0] = (y_true[0] + 1) % k
    m = call_student(fn, y_true, y_pred, k, what="confusion_matrix")
    m = np.asarray(m.numpy() if isinstance(m, torch.Tensor) else m)
    exp = np.zeros((k, k), dtype=np.int64)
    np.add.at(exp, (y_true.numpy(), y_pred.numpy()), 1)
    hint = None
    if m.shape == exp.shape and np.array_equal(m, exp.T):
        hint = "matrice transposée : ligne = vraie classe, colonne = classe prédite."
    check_close("confusion_matrix(y_true, y_pred)", m, exp, rtol=0, atol=0, hint=hint)
    passed()


# ----------------------------------------------------------- reference weights
def reference_files(cache_dir: Path) -> dict:
    """{"cnn_weights.pt": path}: the reference network trained once (fixed seed), cached."""
    cache_dir = Path(cache_dir)
    path = cache_dir / f"cnn_cifar10_{REFERENCE_VERSION}.pt"
    if not path.exists():
        print("cnn_cifar10 : entraînement du réseau de référence (une seule fois, ~5 min sur 2 cœurs)...")
        model, history, seconds = ref.train_reference(seed=0)
        print(f"cnn_cifar10 : exactitude test de la référence {history[-1]:.4f} "
              f"après {len(history)} époques ({seconds:.0f} s)")
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
    return {WEIGHTS_NAME: path}


# ------------------------------------------------------------------ calibration
def calibrate(seeds: int, epochs: int = CALIBRATION_EPOCHS, n_train: int | None = CALIBRATION_N_TRAIN,
              batch_size: int = 128):
    from nncourse.data import load_cifar10
    data = (load_cifar10(train=True), load_cifar10(train=False))
    accs, times = [], []
    for s in range(seeds):
        _, history, seconds = ref.train_reference(seed=1000 + s, epochs=epochs, n_train=n_train,
                                                  progress=False, data=data, batch_size=batch_size)
        accs.append(history[-1])
        times.append(seconds)
        print(f"seed {1000 + s}: accuracy {history[-1]:.4f}, {seconds:.0f} s", flush=True)
    return np.array(accs), np.array(times)


def calibrate_loop(seeds: int, fn=None):
    from nncourse.data import load_cifar10
    x, y = load_cifar10(train=True)
    fn = fn or _reference_train_epoch
    ratios = []
    for s in range(seeds):
        before, after = _learn_run(fn, x, y, np.random.default_rng(s))
        ratios.append(after / before)
    return np.array(ratios)


def _reference_train_epoch(model, x, y, optimizer, loss_fn, batch_size=256, scheduler=None, progress=True):
    model.train()
    perm = torch.randperm(len(x))
    total = 0.0
    for i in range(0, len(x), batch_size):
        idx = perm[i:i + batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(idx)
    return total / len(x)


def calibration(seeds: int = 8, epochs: int = CALIBRATION_EPOCHS, n_train: int = CALIBRATION_N_TRAIN,
                batch_size: int = 128, loop_seeds: int = 30) -> dict:
    """For ``python -m autograder calibrate``: {label: (values over seeds, graded threshold)}."""
    accs, seconds = calibrate(seeds, epochs, n_train or None, batch_size)
    return {"accuracy": (accs, ACCURACY_THRESHOLD), "seconds": (seconds, None),
            "learn check, loss after/before (must stay below)": (calibrate_loop(loop_seeds), LEARN_RATIO)}
