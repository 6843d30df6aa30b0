"""Datasets of the course: the synthetic 2-D problems and the image datasets.

Image datasets live under a *data root* laid out like a torchvision ``root``::

    <root>/MNIST/raw/...               (torchvision.datasets.MNIST)
    <root>/cifar-10-batches-py/...     (official CIFAR-10 "python version")

The root is, in this order: the ``root`` argument, the ``NNCOURSE_DATA`` environment
variable, the ``data/`` folder of this repository (``~/nncourse-data`` when the package is
installed without the repository).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

DATA_ENV_VAR = "NNCOURSE_DATA"
_CHECKOUT = Path(__file__).resolve().parent.parent
# In a checkout of the course repository: its data/ folder; installed elsewhere: ~/nncourse-data.
REPO_DATA_DIR = _CHECKOUT / "data" if (_CHECKOUT / "pyproject.toml").exists() else Path.home() / "nncourse-data"

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST_FILES = ["test_batch"]
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_CLASSES_FR = ("avion", "automobile", "oiseau", "chat", "cerf",
                      "chien", "grenouille", "cheval", "bateau", "camion")


class DatasetUnavailableError(RuntimeError):
    """A dataset is missing (or corrupt) and could not be downloaded."""


def data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the data root: explicit argument, else $NNCOURSE_DATA, else repo ``data/``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return REPO_DATA_DIR


def _unavailable(name: str, root: Path, files: list[str], reason: str, origin: str) -> DatasetUnavailableError:
    listing = "\n".join(f"  {root / f}" for f in files)
    return DatasetUnavailableError(
        f"Jeu de données {name} introuvable ou incomplet ({reason}).\n"
        f"Placez ces fichiers (ou demandez-les à l'enseignant) :\n{listing}\n"
        f"ou indiquez un autre dossier avec la variable d'environnement {DATA_ENV_VAR}.\n"
        f"--\n"
        f"Dataset {name} is missing or incomplete ({reason}). Put these files in place:\n"
        f"{listing}\nor point the {DATA_ENV_VAR} environment variable at a folder that has them.\n"
        f"Official files: {origin}"
    )


# --------------------------------------------------------------------------- MNIST
def load_mnist(train: bool = True, root=None, download: bool = True):
    """All of MNIST as tensors: images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64.

    Goes through ``torchvision.datasets.MNIST`` (which checks the md5 of what it
    downloads) but returns its in-memory tensors, never PIL images one by one.
    """
    from torchvision.datasets import MNIST

    root = data_root(root)
    raw = [f"MNIST/raw/{name}" for name, _ in MNIST.resources]
    origin = MNIST.mirrors[0]
    present = all((root / f).exists() or (root / f[:-3]).exists() for f in raw)
    if not present and not download:
        raise _unavailable("MNIST", root, raw, "téléchargement désactivé / download disabled", origin)
    try:
        ds = MNIST(str(root), train=train, download=download and not present)
    except Exception as exc:  # network down, md5 mismatch, truncated file...
        raise _unavailable("MNIST", root, raw, f"{type(exc).__name__}: {exc}", origin) from None
    return ds.data, ds.targets


def _read_idx(path: Path) -> np.ndarray:
    """An MNIST "idx" file (the uncompressed one, else its .gz) as a numpy array."""
    import gzip

    raw = path.read_bytes() if path.exists() else gzip.decompress(path.with_name(path.name + ".gz").read_bytes())
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_mnist_pixels(train: bool = True, root=None, download: bool = True):
    """MNIST as raw pixels: ``X`` of shape ``(N, 784)`` uint8 (0-255, one flattened image per
    row) and ``y`` of shape ``(N,)`` int64 labels 0-9. Reads torchvision's raw files directly
    (no torch import); downloads them through :func:`load_mnist` when they are missing."""
    folder = data_root(root) / "MNIST" / "raw"
    prefix = "train" if train else "t10k"
    images_file, labels_file = folder / f"{prefix}-images-idx3-ubyte", folder / f"{prefix}-labels-idx1-ubyte"
    try:
        images, labels = _read_idx(images_file), _read_idx(labels_file)
        if images.shape[1:] != (28, 28) or len(images) != len(labels):
            raise ValueError(f"unexpected shapes {images.shape} / {labels.shape}")
    except (OSError, ValueError, EOFError, IndexError):  # missing or damaged: torchvision's path
        images, labels = (t.numpy() for t in load_mnist(train=train, root=root, download=download))
    return images.reshape(len(images), -1).astype(np.uint8, copy=False), labels.astype(np.int64)


def load_mnist_numpy(train: bool = True, root=None, download: bool = True, dtype=np.float32):
    """MNIST as numpy arrays for the from-scratch notebooks.

    Returns ``X`` of shape ``(N, 784)`` (one flattened image per row, pixels scaled to
    [0, 1], ``dtype``) and ``y`` of shape ``(N,)`` int64 labels 0-9 (see
    :func:`load_mnist_pixels`: no torch import, seconds saved in numpy-only notebooks).
    """
    pixels, labels = load_mnist_pixels(train=train, root=root, download=download)
    return pixels.astype(dtype) / dtype(255), labels


# ------------------------------------------------------------------------ CIFAR-10
def _cifar_files(train: bool) -> list[str]:
    return CIFAR10_TRAIN_FILES if train else CIFAR10_TEST_FILES


def download_cifar10(root=None) -> None:
    """Download and unpack the official CIFAR-10 archive, checking its md5."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import download_and_extract_archive

    root = data_root(root)
    download_and_extract_archive(CIFAR10.url, str(root), filename=CIFAR10.filename,
                                 md5=CIFAR10.tgz_md5, remove_finished=True)


def _read_cifar_batch(path: Path):
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    data = np.asarray(entry["data"], dtype=np.uint8)
    labels = np.asarray(entry.get("labels", entry.get("fine_labels")), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"unexpected content in {path.name}: data {data.shape}, labels {labels.shape}")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(train: bool = True, root=None, download: bool = True):
    """All of CIFAR-10 as tensors: images ``(N, 3, 32, 32)`` uint8, labels ``(N,)`` int64.

    Reads the official python-pickle batches directly (torchvision's own class refuses
    files whose md5 differs, e.g. a re-encoded mirror). Downloads the official archive,
    md5-checked, when the batches are missing.
    """
    import torch
    from torchvision.datasets import CIFAR10

    root = data_root(root)
    folder = root / CIFAR10_FOLDER
    names = _cifar_files(train)
    wanted = [f"{CIFAR10_FOLDER}/{n}" for n in names]
    origin = f"{CIFAR10.url} (md5 {CIFAR10.tgz_md5}), unpacked into the data root"
    if not all((folder / n).exists() for n in names):
        if not download:
            raise _unavailable("CIFAR-10", root, wanted, "téléchargement désactivé / download disabled", origin)
        try:
            download_cifar10(root)
        except Exception as exc:
            raise _unavailable("CIFAR-10", root, wanted, f"{type(exc).__name__}: {exc}", origin) from None
    try:
        parts = [_read_cifar_batch(folder / n) for n in names]
    except Exception as exc:
        raise _unavailable("CIFAR-10", root, wanted, f"fichier illisible / unreadable file: {exc}", origin) from None
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(images), torch.from_numpy(labels)


# ------------------------------------------------------------------ synthetic data
def _rng(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def make_moons(n_per_class: int = 100, noise: float = 0.02, radius: float = 0.5, rng=None):
    """Two interleaved noisy half-circles (TP3 recipe).

    Returns ``X`` of shape ``(2N, 2)`` (one point per row) and ``y`` of shape ``(2N,)``
    with values 0.0 / 1.0. ``rng``: a ``numpy.random.Generator`` or a seed.
    """
    rng = _rng(rng)
    n, r = n_per_class, radius
    t0 = rng.random(n) * np.pi - np.pi / 2
    upper = np.c_[-0.3 + 2 * r * np.cos(t0), r * np.sin(t0)] + rng.standard_normal((n, 2)) * noise
    t1 = rng.random(n) * np.pi + np.pi / 2
    lower = np.c_[0.3 + 2 * r * np.cos(t1), -0.5 + r * np.sin(t1)] + rng.standard_normal((n, 2)) * noise
    X = np.concatenate([upper, lower])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    return X, y


def make_spiral(n_per_class: int = 100, n_classes: int = 3, angle_noise: float = 0.2, rng=None):
    """``n_classes`` interleaved spiral arms (TP3, question 6).

    Returns ``X`` of shape ``(K*N, 2)`` and integer labels ``y`` of shape ``(K*N,)``.
    """
    rng = _rng(rng)
    n = n_per_class
    X = np.zeros((n * n_classes, 2))
    y = np.zeros(n * n_classes, dtype=np.int64)
    for k in range(n_classes):
        idx = slice(n * k, n * (k + 1))
        r = np.linspace(0.0, 1.0, n)
        t = np.linspace(4 * k, 4 * (k + 1), n) + rng.standard_normal(n) * angle_noise
        X[idx] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[idx] = k
    return X, y
