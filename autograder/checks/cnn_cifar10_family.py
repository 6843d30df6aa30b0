"""Three "reasonable student" CNNs for notebook 06's threshold (issue 14): small networks with
batch norm, trained the way the notebook's locked cell trains any ``MyCNN`` (``EpochImages``
augmentation, ``make_training`` of the student's own recipe, batches as given), each with a
recipe a student following section 6's text could write. None uses the airbench tricks.

``python -m autograder calibrate 06_cnn_cifar10 --set family=all --set family_seconds=360``
trains each of them for the epochs that the notebook's own ``epochs_within`` fits in the
6-minute budget on this machine (on the slow 2-core machine: 2, 1.5 and 5 epochs), over the
seeds; ``family_epochs=E`` instead holds them all to E epochs.
"""

from __future__ import annotations

import torch
from torch import nn


def conv_bn(c_in: int, c_out: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class Blocks(nn.Module):
    """The network section 6 describes: conv-BN-ReLU 32 | 64, 64 | 128, 128, max-pool after each group."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(3, 32), nn.MaxPool2d(2), conv_bn(32, 64), conv_bn(64, 64), nn.MaxPool2d(2),
                                      conv_bn(64, 128), conv_bn(128, 128), nn.MaxPool2d(2),
                                      nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(128, 10)

    def forward(self, x):
        return self.classifier(self.features(x.contiguous(memory_format=torch.channels_last)))


def blocks_training(model, total_steps):
    """The "simpler recipe" of section 6.2: Nesterov SGD 0.9, weight decay 5e-4, OneCycleLR to 0.2, smoothing 0.1."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decay, "weight_decay": 5e-4}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=0.02, momentum=0.9, nesterov=True)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.2, total_steps=total_steps, pct_start=0.25,
        anneal_strategy="linear", div_factor=10, final_div_factor=100, cycle_momentum=False)
    return optimizer, scheduler, nn.CrossEntropyLoss(label_smoothing=0.1)


class SmallVGG(nn.Module):
    """conv-BN-ReLU 32, 32 | 64, 64 | 128, max-pool after each group, flatten 128 x 4 x 4, Linear."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(3, 32), conv_bn(32, 32), nn.MaxPool2d(2), conv_bn(32, 64),
                                      conv_bn(64, 64), nn.MaxPool2d(2), conv_bn(64, 128), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Linear(128 * 4 * 4, 10)

    def forward(self, x):
        return self.classifier(self.features(x))


def adam_training(model, total_steps):
    """Adam with a one-cycle schedule to 3e-3, plain cross-entropy."""
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=total_steps)
    return optimizer, scheduler, nn.CrossEntropyLoss()


class SeedNetBN(nn.Module):
    """The course's network (part 5) with batch norm after each convolution."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(conv_bn(3, 32, 5), nn.MaxPool2d(2), conv_bn(32, 64), nn.MaxPool2d(2), nn.Flatten())
        self.classifier = nn.Sequential(nn.Linear(64 * 8 * 8, 256), nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def cosine_training(model, total_steps):
    """SGD momentum 0.9 at 0.05, cosine decay to 0 over the run, weight decay 5e-4 everywhere."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return optimizer, scheduler, nn.CrossEntropyLoss()


# name: (network, make_training, batch size)
FAMILY = {"blocks-onecycle": (Blocks, blocks_training, 256),
          "small-vgg-adam": (SmallVGG, adam_training, 128),
          "seednet-bn-cosine": (SeedNetBN, cosine_training, 128)}
