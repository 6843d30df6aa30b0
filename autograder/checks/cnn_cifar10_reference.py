"""Reference network and training recipe of notebook 06 (CNN on CIFAR-10).

The architecture below must stay identical to the class ``MyCNN`` of the notebook's
solution (same ``state_dict`` keys and shapes): the trained reference weights
(``reference_files`` of ``cnn_cifar10``) are loaded into the notebook's class.
``tests/test_cnn_cifar10.py`` checks that they agree.

Recipe ("H" net of ../shared/notes/cpu-performance.md): per-channel normalisation,
random crop (zero padding 4) + horizontal flip on the uint8 tensors with
``torchvision.transforms.v2`` (per image, once per epoch), SGD Nesterov momentum 0.9,
weight decay 5e-4 on weights only, batch 256, OneCycleLR per batch (max_lr 0.2,
pct_start 0.25, linear, div_factor 10, final_div_factor 100, no momentum cycling),
cross-entropy with label smoothing 0.1, channels_last.
"""

from __future__ import annotations

import time

import torch
from torch import nn

BATCH_SIZE = 256
MAX_LR = 0.2
EPOCHS = 5


def conv_bn(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class ReferenceCNN(nn.Module):
    """conv3x3-BN-ReLU blocks 32 | 64, 64 | 128, 128, max-pool after each block,
    global max-pool, one Linear (279k parameters)."""

    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(3, 32), nn.MaxPool2d(2),
            conv_bn(32, 64), conv_bn(64, 64), nn.MaxPool2d(2),
            conv_bn(64, 128), conv_bn(128, 128), nn.MaxPool2d(2),
            nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(128, n_classes)

    def forward(self, x):
        return self.classifier(self.features(x))


def channel_stats(images: torch.Tensor):
    x = images.to(torch.float32) / 255.0
    return x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))


def normalize(images: torch.Tensor, mean, std) -> torch.Tensor:
    x = images.to(torch.float32) / 255.0
    return (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)


def augment(images: torch.Tensor) -> torch.Tensor:
    from torchvision.transforms import v2
    t = v2.Compose([v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip(p=0.5)])
    return torch.stack([t(img) for img in images])


def make_training(model: nn.Module, steps_per_epoch: int, epochs: int = EPOCHS):
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    no_decay = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4},
                                 {"params": no_decay, "weight_decay": 0.0}],
                                lr=MAX_LR / 10, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=MAX_LR, epochs=epochs, steps_per_epoch=steps_per_epoch,
        pct_start=0.25, anneal_strategy="linear", div_factor=10, final_div_factor=100,
        cycle_momentum=False)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    return optimizer, scheduler, loss_fn


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x), batch_size):
        xb = x[i:i + batch_size].contiguous(memory_format=torch.channels_last)
        correct += int((model(xb).argmax(dim=1) == y[i:i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x)


def train_reference(seed: int = 0, epochs: int = EPOCHS, n_train: int | None = None,
                    progress: bool = True, data=None, batch_size: int = BATCH_SIZE):
    """Train the reference network; returns (model, per-epoch test accuracies, seconds)."""
    from tqdm.auto import tqdm

    from nncourse.data import load_cifar10

    torch.manual_seed(seed)
    if data is None:
        data = (load_cifar10(train=True), load_cifar10(train=False))
    (x_train_u8, y_train), (x_test_u8, y_test) = data
    if n_train is not None:
        x_train_u8, y_train = x_train_u8[:n_train], y_train[:n_train]
    mean, std = channel_stats(x_train_u8)
    x_test = normalize(x_test_u8, mean, std).contiguous(memory_format=torch.channels_last)
    model = ReferenceCNN().to(memory_format=torch.channels_last)
    steps = (len(x_train_u8) + batch_size - 1) // batch_size
    optimizer, scheduler, loss_fn = make_training(model, steps, epochs)
    history = []
    t0 = time.time()
    for epoch in range(epochs):
        model.train()
        x_epoch = normalize(augment(x_train_u8), mean, std)
        perm = torch.randperm(len(x_epoch))
        bar = tqdm(range(steps), desc=f"référence, époque {epoch + 1}/{epochs}", disable=not progress)
        for k in bar:
            idx = perm[k * batch_size:(k + 1) * batch_size]
            xb = x_epoch[idx].contiguous(memory_format=torch.channels_last)
            loss = loss_fn(model(xb), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if k % 20 == 0:
                bar.set_postfix(loss=f"{loss.item():.3f}")
        history.append(accuracy(model, x_test, y_test))
        if progress:
            print(f"époque {epoch + 1}: exactitude test {history[-1]:.4f} ({time.time() - t0:.0f} s)")
    return model, history, time.time() - t0
