"""The data layer: where data are looked for, how missing or damaged files are reported,
and how fast the image datasets load from the mirror."""

from __future__ import annotations

import os
import shutil
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from nncourse import data

MIRROR = Path(os.environ.get("NNCOURSE_DATA", ""))
needs_mirror = pytest.mark.skipif(not (MIRROR / "MNIST").exists(), reason="dataset mirror not found")


def test_root_resolution_order(monkeypatch, tmp_path):
    monkeypatch.delenv(data.DATA_ENV_VAR, raising=False)
    assert data.data_root() == data.REPO_DATA_DIR
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "env"))
    assert data.data_root() == tmp_path / "env"
    assert data.data_root(tmp_path / "arg") == tmp_path / "arg"


def _offline(monkeypatch):
    def refuse(url, filename, *args, **kwargs):
        raise urllib.error.URLError("no network")
    monkeypatch.setattr("torchvision.datasets.utils._get_redirect_url", refuse)
    monkeypatch.setattr("torchvision.datasets.utils._urlretrieve", refuse)


@pytest.mark.parametrize("loader", [data.load_mnist, data.load_cifar10])
def test_offline_and_missing_gives_one_clear_message(monkeypatch, tmp_path, loader):
    _offline(monkeypatch)
    with pytest.raises(data.DatasetUnavailableError) as err:
        loader(root=tmp_path)
    text = str(err.value)
    assert "introuvable" in text and "missing" in text          # French and English
    assert str(tmp_path) in text and data.DATA_ENV_VAR in text  # which files, where
    assert "Traceback" not in text


def test_download_disabled_names_the_files(tmp_path):
    with pytest.raises(data.DatasetUnavailableError, match="data_batch_1"):
        data.load_cifar10(root=tmp_path, download=False)


def test_corrupt_download_fails_its_checksum(monkeypatch, tmp_path):
    def fake_download(url, filename, *args, **kwargs):
        Path(filename).write_bytes(b"not the CIFAR-10 archive")
    monkeypatch.setattr("torchvision.datasets.utils._get_redirect_url", lambda url, **kw: url)
    monkeypatch.setattr("torchvision.datasets.utils._urlretrieve", fake_download)
    with pytest.raises(data.DatasetUnavailableError, match="corrupted"):
        data.load_cifar10(root=tmp_path)


def test_unreadable_batch_is_reported(tmp_path):
    folder = tmp_path / data.CIFAR10_FOLDER
    folder.mkdir()
    for name in data.CIFAR10_TEST_FILES:
        (folder / name).write_bytes(b"garbage")
    with pytest.raises(data.DatasetUnavailableError, match="illisible"):
        data.load_cifar10(train=False, root=tmp_path, download=False)


@needs_mirror
def test_mnist_loads_fast_as_tensors():
    import torchvision  # noqa: F401  (import time is not loading time)
    t0 = time.perf_counter()
    x_train, y_train = data.load_mnist(train=True, download=False)
    x_test, y_test = data.load_mnist(train=False, download=False)
    seconds = time.perf_counter() - t0
    print(f"MNIST train+test loaded in {seconds:.2f} s")
    assert tuple(x_train.shape) == (60000, 28, 28) and tuple(x_test.shape) == (10000, 28, 28)
    assert np.bincount(y_test.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert abs(float(x_train.float().mean()) / 255 - 0.1307) < 1e-3
    assert seconds < 2.0


@needs_mirror
def test_mnist_as_numpy_rows_in_unit_range():
    X, y = data.load_mnist_numpy(train=False, download=False)
    assert X.shape == (10000, 784) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.dtype == np.int64 and y[:4].tolist() == [7, 2, 1, 0]


@needs_mirror
def test_cifar10_loads_fast_from_the_official_format():
    t0 = time.perf_counter()
    x_train, y_train = data.load_cifar10(train=True, download=False)
    x_test, y_test = data.load_cifar10(train=False, download=False)
    seconds = time.perf_counter() - t0
    print(f"CIFAR-10 train+test loaded in {seconds:.2f} s")
    assert tuple(x_train.shape) == (50000, 3, 32, 32) and str(x_train.dtype) == "torch.uint8"
    assert np.bincount(y_train.numpy()).tolist() == [5000] * 10
    assert np.bincount(y_test.numpy()).tolist() == [1000] * 10
    means = x_train.float().mean(dim=(0, 2, 3)) / 255
    assert np.allclose(means.numpy(), [0.4914, 0.4822, 0.4465], atol=0.002)
    assert seconds < 5.0


@needs_mirror
def test_mnist_reader_through_a_copied_root(tmp_path):
    """The root argument wins over the environment (a copy of the raw files only)."""
    shutil.copytree(MIRROR / "MNIST", tmp_path / "MNIST")
    x, y = data.load_mnist(train=False, root=tmp_path, download=False)
    assert len(x) == 10000


def test_moons_and_spiral_follow_the_recipes():
    X, y = data.make_moons(rng=0)
    assert X.shape == (200, 2) and set(np.unique(y)) == {0.0, 1.0}
    X2, _ = data.make_moons(rng=0)
    assert np.array_equal(X, X2)
    assert not np.array_equal(X, data.make_moons(rng=1)[0])
    assert X[y == 0, 1].mean() > X[y == 1, 1].mean()   # upper arc above the lower one
    S, k = data.make_spiral(rng=0)
    assert S.shape == (300, 2) and np.bincount(k).tolist() == [100, 100, 100]
    assert np.abs(np.linalg.norm(S, axis=1) - np.tile(np.linspace(0, 1, 100), 3)).max() < 1e-12


@needs_mirror
def test_mnist_numpy_reader_matches_torchvision():
    X, y = data.load_mnist_numpy(train=False, download=False)
    images, labels = data.load_mnist(train=False, download=False)
    assert np.array_equal((X * 255).round().astype(np.uint8), images.numpy().reshape(10000, -1))
    assert np.array_equal(y, labels.numpy())
    pixels, y8 = data.load_mnist_pixels(train=False, download=False)
    assert pixels.dtype == np.uint8 and np.array_equal(pixels, images.numpy().reshape(10000, -1))
    assert np.array_equal(X, pixels.astype(np.float32) / np.float32(255)) and np.array_equal(y8, y)
