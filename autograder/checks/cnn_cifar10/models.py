"""06, parts 5 and 6: LeNet5, SeedNet, MyCNN's architecture, augment.

A network class is instantiated in the kernel (torch seeded by the grader) and run on the
grader's random images; it comes back as its summary (``Call.summary``: parameter and
buffer shapes, module type counts), never as code or weights."""

from __future__ import annotations

import numpy as np

from ..common import fail
from ..probing import Call, Tensor, check
from .data import tensor_facts
from .loops import n_parameters

LENET5_PARAMS = (3 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
SEED_NET_PARAMS = (3 * 32 * 25 + 32) + (32 * 64 * 9 + 64) + (4096 * 256 + 256) + (256 * 10 + 10)
MAX_MY_CNN_PARAMS = 5_000_000


def network_call(rng, name, eval_mode=False):
    n = int(rng.integers(2, 7))
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    return n, Call(name, (), torch_seed=int(rng.integers(2 ** 31 - 1)), summary=True, eval_mode=eval_mode,
                   call_result=(Tensor(x),))


def summary_of(r, name) -> dict:
    s = r.value
    if not isinstance(s, dict) or not isinstance(s.get("modules"), dict) or not isinstance(s.get("parameters"), dict):
        fail(f"{name}() doit être un nn.Module.")
    return s


def network_verdict(r, name, n, expected_params=None, counts=None):
    """Output (n, 10) of raw scores, the expected layer counts and parameter count."""
    summary = summary_of(r, name)
    out = np.asarray(r.result_value, dtype=np.float64) if r.result_value is not None else None
    if out is None or out.shape != (n, 10):
        fail(f"{name} appliqué à x de forme {(n, 3, 32, 32)} donne {None if out is None else out.shape}, "
             f"attendu {(n, 10)}.")
    if np.all(out >= 0) and np.allclose(out.sum(axis=1), 1, atol=1e-4):
        fail(f"les sorties de {name} sont des probabilités (softmax).",
             "renvoyez les scores bruts : nn.CrossEntropyLoss applique déjà log-softmax.")
    for layer, c in (counts or {}).items():
        got = int(summary["modules"].get(layer, 0))
        if got != c:
            fail(f"{name} contient {got} couche(s) {layer}, attendu {c}.")
    got = n_parameters(summary)
    if expected_params is not None and got != expected_params:
        fail(f"{name} a {got} paramètres, attendu {expected_params}.",
             "recomptez couche par couche : c_out x (c_in x k x k + 1) pour une convolution, "
             "n_out x (n_in + 1) pour une couche Linear.")
    return summary


@check("test_lenet5")
def lenet5_architecture(rng):
    """LeNet5() maps (n, 3, 32, 32) to (n, 10) raw scores with 2 convolutions, 3 Linear layers and 62 006 parameters."""
    n, call = network_call(rng, "LeNet5")
    [r] = yield [call]
    network_verdict(r, "LeNet5", n, LENET5_PARAMS, {"Conv2d": 2, "Linear": 3})
    return f"LeNet5 : {LENET5_PARAMS} paramètres."


@check("test_seed_net")
def seed_net_architecture(rng):
    """SeedNet() maps (n, 3, 32, 32) to (n, 10) raw scores: conv 5x5 (32), conv 3x3 (64), 2 Linear layers, 1 134 826 parameters."""
    n, call = network_call(rng, "SeedNet")
    [r] = yield [call]
    summary = network_verdict(r, "SeedNet", n, None, {"Conv2d": 2, "Linear": 2})
    convs = [s for s in summary["parameters"].values() if len(s) == 4]
    if len(convs) != 2 or tuple(convs[0][:2]) != (32, 3) or tuple(convs[0][2:]) != (5, 5):
        fail("la première convolution doit avoir 32 filtres 5x5.")
    if tuple(convs[1][:2]) != (64, 32) or tuple(convs[1][2:]) != (3, 3):
        fail("la seconde convolution doit avoir 64 filtres 3x3.")
    got = n_parameters(summary)
    if got != SEED_NET_PARAMS:
        fail(f"SeedNet a {got} paramètres, attendu {SEED_NET_PARAMS}.",
             "padding=2 pour la convolution 5x5 et padding=1 pour la 3x3 (cartes 32x32 puis 16x16) : "
             "après deux max-pooling, 64 x 8 x 8 = 4096 entrées pour fc1.")
    return f"SeedNet : {SEED_NET_PARAMS} paramètres."


@check("test_my_cnn")
def my_cnn_architecture(rng):
    """MyCNN() maps (n, 3, 32, 32) to (n, 10) in eval mode, with convolutions, batch norm and at most 5 million parameters."""
    n, call = network_call(rng, "MyCNN", eval_mode=True)
    [r] = yield [call]
    summary = network_verdict(r, "MyCNN", n)
    if not summary["modules"].get("BatchNorm2d"):
        fail("MyCNN ne contient aucune couche nn.BatchNorm2d.", "ajoutez une normalisation de lot après les convolutions.")
    if not summary["modules"].get("Conv2d"):
        fail("MyCNN ne contient aucune convolution.")
    got = n_parameters(summary)
    if got > MAX_MY_CNN_PARAMS:
        fail(f"MyCNN a {got} paramètres : trop pour un entraînement de quelques minutes sur CPU (limite 5 millions).")
    return f"MyCNN : {got} paramètres."


# ------------------------------------------------------------------ augment
def crops(out, img, pad=4) -> set:
    """{(flipped, top, left)}: the windows of ``img`` zero-padded by ``pad`` (or its mirror) equal to ``out``."""
    c, h, w = img.shape
    padded = np.zeros((c, h + 2 * pad, w + 2 * pad), dtype=img.dtype)
    padded[:, pad:pad + h, pad:pad + w] = img
    found = set()
    for flipped, source in enumerate((padded, padded[:, :, ::-1])):
        windows = np.lib.stride_tricks.sliding_window_view(source, (h, w), axis=(1, 2))  # (c, 2p+1, 2p+1, h, w)
        hits = np.argwhere((windows == out[:, None, None]).all(axis=(0, 3, 4)))
        found |= {(flipped, int(a), int(b)) for a, b in hits}
    return found


@check("test_augment")
def augment_per_image(rng):
    """augment returns uint8 images, each a random 32x32 crop of the image padded by 4 (maybe mirrored), drawn per image, inputs unchanged."""
    n = 64
    x = rng.integers(1, 256, size=(n, 3, 32, 32)).astype(np.uint8)
    [r] = yield [Call("augment", (Tensor(x),), torch_seed=int(rng.integers(2 ** 31 - 1)), facts=True, watch=(0,))]
    f = tensor_facts(r, 0, "augment(x)")
    if not r.after or not np.array_equal(np.asarray(r.after[0]), x):
        fail("augment a modifié ses entrées en place.")
    out = np.asarray(r.value)
    if out.shape != x.shape or f["dtype"] != "torch.uint8":
        fail(f"augment renvoie {out.shape} {f['dtype']}, attendu {x.shape} torch.uint8.",
             "appliquez les transformations v2 aux images uint8 ; la normalisation vient après.")
    found = [crops(out[i].astype(np.uint8), x[i]) for i in range(n)]
    if not all(found):
        fail(f"{sum(1 for c in found if not c)} image(s) sur {n} ne sont ni un recadrage 32x32 de l'image entourée "
             "de 4 pixels noirs, ni son miroir horizontal.",
             "v2.RandomCrop(32, padding=4) puis v2.RandomHorizontalFlip(), appliqués à chaque image.")
    changed = sum(not np.array_equal(out[i], x[i]) for i in range(n))
    if changed < n // 2:
        fail(f"seulement {changed} image(s) sur {n} sont modifiées.",
             "les transformations doivent être aléatoires et appliquées à chaque image.")
    if set.intersection(*found):
        fail("toutes les images ont reçu le même recadrage et le même retournement.",
             "une transformation v2 appliquée à un lot (N, 3, 32, 32) tire UN seul tirage pour tout le lot : "
             "appliquez-la image par image (par exemple torch.stack([t(img) for img in images])).")
    return "augment tire un recadrage et un miroir par image."
