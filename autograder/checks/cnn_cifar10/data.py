"""06, part 1: per-channel statistics, normalisation (the check shared with 05,
``concepts.training.normalize_pixels``), the dataset's statistics.

The grader reads CIFAR-10 itself (``grader_cifar``) for the expected statistics; the
kernel only sends what the student's code computed.
"""

from __future__ import annotations

import functools

import numpy as np

from ..common import check_close, fail, named_mistake
from ..concepts import training
from ..probing import Call, Tensor, check


@functools.lru_cache(maxsize=2)
def grader_cifar(train: bool):
    """CIFAR-10 read in the grader's process (uint8 images, int64 labels), once."""
    from nncourse.data import load_cifar10
    return load_cifar10(train=train)


def stats_of(x_u8) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (unbiased) std of the pixels / 255, in float64, chunked."""
    x = np.asarray(x_u8)
    s, s2 = np.zeros(3), np.zeros(3)
    for i in range(0, len(x), 5000):
        chunk = x[i:i + 5000].astype(np.float64)
        s += chunk.sum(axis=(0, 2, 3))
        s2 += (chunk * chunk).sum(axis=(0, 2, 3))
    n = len(x) * x.shape[2] * x.shape[3]
    mean = s / n
    std = np.sqrt((s2 / n - mean ** 2) * n / (n - 1))
    return mean / 255.0, std / 255.0


@functools.lru_cache(maxsize=1)
def train_stats() -> tuple[np.ndarray, np.ndarray]:
    return stats_of(grader_cifar(True)[0].numpy())


def normalized(x_u8, mean, std) -> np.ndarray:
    """(x / 255 - mean) / std per channel, float64."""
    return (np.asarray(x_u8, dtype=np.float64) / 255.0 - np.reshape(mean, (1, 3, 1, 1))) / np.reshape(std, (1, 3, 1, 1))


def random_images(rng, n, size=32) -> np.ndarray:
    """uint8 images whose three channels have clearly different statistics."""
    base = rng.integers(0, 256, size=(n, 3, size, size))
    scale = np.array([0.3, 0.6, 0.9]).reshape(1, 3, 1, 1)
    offset = np.array([150, 40, 10]).reshape(1, 3, 1, 1)
    return np.clip(base * scale + offset, 0, 255).astype(np.uint8)


def tensor_facts(r, k, what):
    items = (r.facts or {}).get("value") or []
    f = items[k] if k < len(items) else None
    if f is None:
        fail(f"{what} doit être un tenseur torch.")
    return f


def channel_stats_verdict(value, x_u8, what="channel_stats(x)"):
    """The (mean, std) a student returned for images ``x_u8``, judged against stats_of."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        fail(f"{what} doit renvoyer deux tenseurs (mean, std).")
    mean, std = (np.asarray(v, dtype=np.float64) for v in value)
    want_mean, want_std = stats_of(x_u8)
    if mean.shape != (3,) or std.shape != (3,):
        fail(f"mean et std ont les formes {mean.shape} et {std.shape}, attendu (3,) chacun.",
             "une valeur par canal : moyenne sur les images ET les pixels, dim=(0, 2, 3).")
    x = np.asarray(x_u8, dtype=np.float64)
    hint = named_mistake(np.concatenate([mean, std]), {
        "divisez les pixels (uint8, 0 à 255) par 255 avant de calculer les statistiques.":
            lambda: np.concatenate([want_mean * 255, want_std * 255]),
        "écart-type par canal sur les axes (0, 2, 3) (pas une moyenne d'écarts-types par image).":
            lambda: np.concatenate([want_mean, (x / 255).std(axis=(2, 3), ddof=1).mean(axis=0)]),
    }, rtol=1e-3, atol=1e-4)
    check_close(f"{what}[0] (moyennes)", mean, want_mean, rtol=1e-3, atol=1e-4,
                hint=hint or "moyenne par canal sur les axes (0, 2, 3) des pixels divisés par 255.")
    check_close(f"{what}[1] (écarts-types)", std, want_std, rtol=1e-2, atol=1e-4,
                hint=hint or "écart-type par canal sur les axes (0, 2, 3).")


@check("test_channel_stats")
def channel_stats_per_channel(rng):
    """channel_stats(images uint8) is the per-channel mean and std of the pixels / 255, as tensors."""
    x = random_images(rng, int(rng.integers(60, 120)))
    [r] = yield [Call("channel_stats", (Tensor(x),), facts=True)]
    tensor_facts(r, 0, "channel_stats(x)[0]")
    channel_stats_verdict(r.value, x)
    return "channel_stats est correcte."


# normalize(images, mean, std): the check shared with 05 (``concepts.training``), on images as
# wide as they have channels, so that statistics broadcast on the last axis are named.
check("test_normalize", module=__name__)(functools.partial(
    training.normalize_pixels, fn="normalize", shape=(3, 5, 3), mean=None, std=None, stats_args=True))


def shifted_images(rng, n, offsets) -> np.ndarray:
    """uint8 images whose channel means depend on ``offsets`` (train and test sets that differ)."""
    base = rng.integers(0, 120, size=(n, 3, 8, 8)) + np.reshape(offsets, (1, 3, 1, 1))
    return np.clip(base, 0, 255).astype(np.uint8)


@check("test_dataset_stats")
def dataset_normalized_with_training_stats(rng):
    """dataset_stats(train, test) gives the training images' MEAN and STD and the test images normalised with them (float32)."""
    train = shifted_images(rng, int(rng.integers(30, 60)), rng.integers(0, 60, size=3))
    test = shifted_images(rng, int(rng.integers(10, 20)), rng.integers(80, 130, size=3))
    [r] = yield [Call("dataset_stats", (Tensor(train), Tensor(test)), facts=True)]
    if not isinstance(r.value, (tuple, list)) or len(r.value) != 3:
        fail("dataset_stats doit renvoyer trois valeurs : MEAN, STD et les images de test normalisées.")
    got_mean, got_std = (np.asarray(v, dtype=np.float64) for v in r.value[:2])
    mean, std = stats_of(train)
    if got_mean.shape != (3,) or got_std.shape != (3,):
        fail(f"MEAN et STD ont les formes {got_mean.shape}, {got_std.shape}, attendu (3,).")
    test_set = "les statistiques se calculent sur les images d'ENTRAÎNEMENT seulement (le test ne sert qu'à mesurer)."
    hint = named_mistake(got_mean, {test_set: lambda: stats_of(test)[0]}, rtol=1e-4, atol=2e-5)
    check_close("MEAN", got_mean, mean, rtol=1e-3, atol=1e-4, hint=hint or "MEAN, STD = channel_stats(images d'entraînement).")
    check_close("STD", got_std, std, rtol=1e-3, atol=1e-4, hint="MEAN, STD = channel_stats(images d'entraînement).")
    f = tensor_facts(r, 2, "les images de test normalisées")
    if f["dtype"] != "torch.float32":
        fail(f"les images de test normalisées sont de type {f['dtype']}, attendu torch.float32.")
    got = np.asarray(r.value[2], dtype=np.float64)
    hint = named_mistake(got, {
        "les images de test se normalisent avec MEAN et STD de l'ENTRAÎNEMENT, pas avec leurs propres "
        "statistiques (le test ne doit rien influencer).": lambda: normalized(test, *stats_of(test)),
        "normalize n'a pas divisé les pixels par 255 : x / 255, puis (x - mean) / std canal par canal.":
            lambda: normalized(test.astype(np.float64) * 255, mean, std)},
        rtol=1e-3, atol=1e-3)
    check_close("images de test normalisées", got, normalized(test, mean, std), rtol=1e-3, atol=1e-3,
                hint=hint or "normalize(images de test, MEAN, STD).")
    return "dataset_stats est correcte."
