"""Reference network and training recipe of notebook 06 (CNN on CIFAR-10), after airbench
(Keller Jordan, arXiv 2404.00498), keeping what needs no GPU.

The architecture below must stay identical to the class ``MyCNN`` of the notebook's solution
(same ``state_dict`` keys and shapes): the trained reference weights (``reference_files`` of
``cnn_cifar10``) are loaded into the notebook's class. ``tests/test_cnn_cifar10.py`` checks that
they agree, and that the notebook's provided helpers and ``make_training`` are these.

The recipe, one function each, in the order of the notebook's part 6:

- per-channel normalisation with the training set's statistics;
- ``whitening_filters``: the first layer is a frozen 2x2 convolution whose 24 filters whiten
  the 2x2 patches of 5000 training images (eigenvectors of their covariance, and their
  opposites);
- 3x3 convolutions initialised as the identity (``nn.init.dirac_``), groups
  conv-maxpool-BN-GELU-conv-BN-GELU, batch norm without a learned scale, global max-pooling,
  one Linear without bias, scores divided by 9;
- ``EpochImages``: augmentation on whole tensors (no per-image Python loop): each image
  shifted by -2..2 pixels (reflected borders), one slice per shift, and the alternating flip
  (a random half of the images mirrored once; every odd epoch mirrors all of them);
- ``make_training``: Nesterov SGD (momentum 0.85), batches of 512, a triangular learning-rate
  schedule (0.2 -> 1 at 23 % of the steps -> 0.07), a 64-times larger step for the batch-norm
  biases, weight decay, cross-entropy with label smoothing 0.2, and ``add_lookahead``: from 45 %
  of the steps (the third epoch of 4.5), every 5 steps, the weights (and batch-norm
  statistics) move back towards a running average of themselves;
- in eval mode, the scores are averaged over the image and its mirror (test-time augmentation).

``train_reference`` runs that recipe the way the notebook's ``fit`` does (the half of a last
partial epoch included), without a test pass between epochs.
"""

from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

BATCH_SIZE = 512
EPOCHS = 4.5
WIDTHS = (32, 128, 128)
LR, MOMENTUM, DECAY, BIAS_LR_FACTOR = 0.75, 0.85, 1e-3, 64
LABEL_SMOOTHING = 0.2
SHIFT = 2


def whitening_filters(x: torch.Tensor, size: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """The 2 * 3 * size**2 filters of a patch-whitening convolution, from normalised images."""
    patches = x.unfold(2, size, 1).unfold(3, size, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 3 * size * size)
    cov = patches.T @ patches / len(patches)
    values, vectors = torch.linalg.eigh(cov.double())
    filters = (vectors.T / torch.sqrt(values + eps)[:, None]).float().reshape(-1, 3, size, size)
    return torch.cat([filters, -filters])


class Group(nn.Module):
    """conv 3x3 -> max-pool 2x2 -> BN -> GELU -> conv 3x3 -> BN -> GELU, identity-initialised."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.norm1 = nn.BatchNorm2d(c_out, momentum=0.4)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(c_out, momentum=0.4)
        for conv in (self.conv1, self.conv2):
            nn.init.dirac_(conv.weight.data[:conv.in_channels])
        for norm in (self.norm1, self.norm2):
            norm.weight.requires_grad_(False)

    def forward(self, x):
        x = F.gelu(self.norm1(F.max_pool2d(self.conv1(x), 2)))
        return F.gelu(self.norm2(self.conv2(x)))


class ReferenceCNN(nn.Module):
    """Frozen 2x2 whitening conv (24 filters), groups 32 | 128 | 128, global max-pool, Linear (498k parameters)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2)
        self.whiten.weight.requires_grad_(False)
        self.groups = nn.Sequential(Group(24, WIDTHS[0]), Group(WIDTHS[0], WIDTHS[1]), Group(WIDTHS[1], WIDTHS[2]))
        self.head = nn.Linear(WIDTHS[2], n_classes, bias=False)

    def scores(self, x):
        x = self.groups(F.gelu(self.whiten(x)))
        return self.head(F.adaptive_max_pool2d(x, 1).flatten(1)) / 9

    def forward(self, x):
        x = x.contiguous(memory_format=torch.channels_last)
        if self.training:
            return self.scores(x)
        return (self.scores(x) + self.scores(x.flip(-1))) / 2


def channel_stats(images: torch.Tensor):
    x = images.to(torch.float32) / 255.0
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    x = images.to(torch.float32) / 255.0
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


class EpochImages:
    """``EpochImages(images_u8, mean, std)(epoch)``: the normalised training images of an epoch,
    each shifted by -SHIFT..SHIFT pixels (reflected borders, drawn per image), and mirrored on
    alternate epochs (a random half of the images starts mirrored)."""

    def __init__(self, images: torch.Tensor, mean, std, shift: int = SHIFT):
        self.mean, self.std, self.shift = mean, std, shift
        mirrored = torch.rand(len(images)) < 0.5
        images = torch.where(mirrored.view(-1, 1, 1, 1), images.flip(-1), images)
        size = images.shape[-1]
        rows = torch.arange(-shift, size + shift).abs()
        rows = torch.where(rows >= size, 2 * (size - 1) - rows, rows)          # reflected borders
        self.padded = images[:, :, rows][:, :, :, rows]                        # uint8, (N, 3, size + 2s, size + 2s)

    def __call__(self, epoch: int) -> torch.Tensor:
        n, s = len(self.padded), self.shift
        size = self.padded.shape[-1] - 2 * s
        shifts = torch.randint(0, 2 * s + 1, (n, 2))
        out = torch.empty(n, 3, size, size, dtype=self.padded.dtype)
        for dy in range(2 * s + 1):
            for dx in range(2 * s + 1):
                pick = ((shifts[:, 0] == dy) & (shifts[:, 1] == dx)).nonzero().flatten()
                out[pick] = self.padded[pick, :, dy:dy + size, dx:dx + size]
        if epoch % 2 == 1:
            out = out.flip(-1)
        return normalize(out, self.mean, self.std)


def add_lookahead(optimizer, model: nn.Module, total_steps: int, start: int, every: int = 5) -> None:
    """After each of the optimizer's steps from ``start`` on, every ``every`` steps: the running
    average of the weights moves towards them, and the weights are set to that average."""
    state = {"step": 0, "average": None}

    def after_step(opt, args, kwargs):
        state["step"] += 1
        step = state["step"]
        if step < start or (step % every and step != total_steps):
            return
        weights = [v for v in model.state_dict().values() if v.is_floating_point()]
        if state["average"] is None:
            state["average"] = [w.detach().clone() for w in weights]
            return
        keep = 0.95 ** every * min(1.0, step / total_steps) ** 3
        with torch.no_grad():
            for a, w in zip(state["average"], weights):
                a.lerp_(w, 1 - keep)
                w.copy_(a)

    optimizer.register_step_post_hook(after_step)


def count_steps(n_images: int, batch_size: int, epochs: float) -> int:
    """The optimizer steps of ``epochs`` epochs (a last partial epoch sees a random part of the images)."""
    whole, part = math.floor(epochs), round((epochs - math.floor(epochs)) * n_images)
    return whole * math.ceil(n_images / batch_size) + math.ceil(part / batch_size)


def make_training(model: nn.Module, total_steps: int):
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    biases = {id(m.bias) for m in norms}
    bn_biases = [p for p in model.parameters() if id(p) in biases and p.requires_grad]
    others = [p for p in model.parameters() if id(p) not in biases and p.requires_grad]
    optimizer = torch.optim.SGD(
        [{"params": bn_biases, "lr": BIAS_LR_FACTOR * LR, "weight_decay": DECAY / (BIAS_LR_FACTOR * LR)},
         {"params": others, "lr": LR, "weight_decay": DECAY / LR}],
        momentum=MOMENTUM, nesterov=True)
    peak = max(1, int(0.23 * total_steps))

    def triangle(step):
        return 0.2 + 0.8 * step / peak if step < peak else 1 - 0.93 * (step - peak) / max(1, total_steps - peak)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, triangle)
    add_lookahead(optimizer, model, total_steps, start=int(0.45 * total_steps))
    return optimizer, scheduler, nn.CrossEntropyLoss(label_smoothing=LABEL_SMOOTHING)


def train_epoch(model, x, y, optimizer, loss_fn, batch_size=256, scheduler=None, progress=True, desc="lots"):
    """One epoch of shuffled minibatches, the scheduler stepped after each (the notebook's
    ``train_epoch``); returns the mean loss."""
    from tqdm.auto import tqdm
    model.train()
    perm = torch.randperm(len(x))
    total = 0.0
    for i in tqdm(range(0, len(x), batch_size), desc=desc, disable=not progress, leave=False):
        idx = perm[i:i + batch_size]
        loss = loss_fn(model(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += loss.item() * len(idx)
    return total / len(x)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    was_training = model.training
    model.eval()
    correct = sum(int((model(x[i:i + batch_size]).argmax(dim=1) == y[i:i + batch_size]).sum())
                  for i in range(0, len(x), batch_size))
    model.train(was_training)
    return correct / len(x)


def train_reference(seed: int = 0, epochs: float = EPOCHS, n_train: int | None = None,
                    progress: bool = True, data=None, batch_size: int = BATCH_SIZE,
                    network=ReferenceCNN, training=make_training, n_test: int | None = None):
    """Train the reference network (or ``network`` with its ``training`` recipe, as the notebook's
    training cell would); returns (model, test accuracy, training seconds).

    The seconds count data preparation, augmentation and training, not the test pass."""
    from nncourse.data import load_cifar10

    torch.manual_seed(seed)
    if data is None:
        data = (load_cifar10(train=True), load_cifar10(train=False))
    (x_train_u8, y_train), (x_test_u8, y_test) = data
    if n_train is not None:
        x_train_u8, y_train = x_train_u8[:n_train], y_train[:n_train]
    t0 = time.time()
    mean, std = channel_stats(x_train_u8)
    model = network().to(memory_format=torch.channels_last)
    whiten = getattr(model, "whiten", None)
    if isinstance(whiten, nn.Conv2d) and tuple(whiten.weight.shape) == (24, 3, 2, 2):
        whiten.weight.data.copy_(whitening_filters(normalize(x_train_u8[:5000], mean, std)))
    epoch_images = EpochImages(x_train_u8, mean, std)
    optimizer, scheduler, loss_fn = training(model, count_steps(len(x_train_u8), batch_size, epochs))
    for epoch in range(math.ceil(epochs)):
        x, y = epoch_images(epoch), y_train
        if epoch + 1 > epochs:                           # a last partial epoch: a random part of the images
            keep = torch.randperm(len(x))[:round((epochs - epoch) * len(x))]
            x, y = x[keep], y[keep]
        train_epoch(model, x, y, optimizer, loss_fn, batch_size, scheduler, progress,
                    desc=f"référence, époque {epoch + 1}/{math.ceil(epochs)}")
    seconds = time.time() - t0
    acc = accuracy(model, normalize(x_test_u8[:n_test], mean, std), y_test[:n_test])
    if progress:
        print(f"référence : exactitude test {acc:.4f} après {epochs:g} époques ({seconds:.0f} s)")
    return model, acc, seconds
