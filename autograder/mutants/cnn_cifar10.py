"""Wrong answers for 06_cnn_cifar10: realistic CNN / training-loop mistakes, and the tests
that catch them.

``breaks`` lists every test cell that must lose points. The hidden tests build their own
models and data (the accuracy test loads the handed-in weights into a fresh ``MyCNN`` and
normalises the test images with statistics it computes itself), so a mistake costs points
only where it is, except where the mistake is in the architecture the weights belong to
(``my_cnn_no_batchnorm``: the file no longer fits the class).
"""

from . import Mutant

MUTANTS = [
    # ---------------------------------------------------------------- 1. data
    Mutant("stats_wrong_axes", "channel_stats",
           "x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))", "x.mean(dim=(1, 2, 3)), x.std(dim=(1, 2, 3))",
           {"test_channel_stats", "test_dataset_stats"},
           "statistics per image instead of per channel (wrong axes)"),
    Mutant("stats_not_scaled", "channel_stats",
           "x = images.to(torch.float32) / 255.0", "x = images.to(torch.float32)",
           {"test_channel_stats", "test_dataset_stats"},
           "statistics of the 0-255 pixels while normalize divides by 255"),
    Mutant("normalize_no_255", "normalize",
           "x = images.to(torch.float32) / 255.0", "x = images.to(torch.float32)",
           {"test_normalize", "test_dataset_stats"}, "pixels not divided by 255 before normalising"),
    Mutant("test_set_statistics", "dataset_stats",
           "return mean, std, normalize(test_images, mean, std)",
           "return mean, std, normalize(test_images, *channel_stats(test_images))",
           {"test_dataset_stats"}, "the test images normalised with their own statistics"),
    # ---------------------------------------------------------------- 2. training loop
    Mutant("no_zero_grad", "training_loop",
           "        optimizer.zero_grad()\n", "",
           {"test_train_epoch", "test_train_epoch_learns"},
           "optimizer.zero_grad() forgotten: gradients accumulate (the small CNN no longer learns)"),
    Mutant("softmax_before_ce", "training_loop",
           "loss = loss_fn(model(xb), yb)", "loss = loss_fn(torch.softmax(model(xb), dim=1), yb)",
           {"test_train_epoch", "test_train_epoch_learns"},
           "softmax applied before CrossEntropyLoss (gradients vanish, the small CNN does not learn)"),
    Mutant("scheduler_never_stepped", "training_loop",
           "        if scheduler is not None:\n            scheduler.step()\n", "",
           {"test_train_epoch"}, "scheduler.step() never called: the learning rate does not decay"),
    Mutant("train_no_train_mode", "training_loop",
           "    model.train()\n    n = len(x)", "    n = len(x)",
           {"test_train_epoch"}, "model.train() never called (stays in eval mode after evaluate)"),
    Mutant("evaluate_no_eval", "training_loop",
           "    model.eval()\n    total, correct = 0.0, 0", "    total, correct = 0.0, 0",
           {"test_evaluate"}, "model.eval() forgotten in the test pass (dropout active)"),
    Mutant("evaluate_no_grad_tracking", "training_loop",
           "    with torch.no_grad():\n        for start", "    if True:\n        for start",
           {"test_evaluate"}, "no torch.no_grad() in the test pass"),
    Mutant("predict_no_eval", "training_loop",
           "    model.eval()\n    with torch.no_grad():\n        return", "    with torch.no_grad():\n        return",
           {"test_predict"}, "model.eval() forgotten in predict"),
    # ---------------------------------------------------------------- 3. baselines
    Mutant("mlp_no_relu", "baselines",
           "nn.Linear(3 * 32 * 32, hidden), nn.ReLU(), nn.Linear(hidden, 10)",
           "nn.Linear(3 * 32 * 32, hidden), nn.Linear(hidden, 10)",
           {"test_baselines"}, "the ReLU of the MLP forgotten: same parameter count, but a linear model"),
    # ---------------------------------------------------------------- 4. convolution
    Mutant("conv_size_off_by_one", "conv_sizes",
           "return (n + 2 * padding - k) // stride + 1", "return (n + 2 * padding - k) // stride",
           {"test_conv_output_size"}, "the + 1 of the output-size formula forgotten"),
    Mutant("conv_size_one_sided_padding", "conv_sizes",
           "return (n + 2 * padding - k) // stride + 1", "return (n + padding - k) // stride + 1",
           {"test_conv_output_size"}, "padding counted on one side only"),
    Mutant("conv_params_no_channels", "conv_sizes",
           "return c_out * (c_in * k * k + (1 if bias else 0))", "return c_out * (k * k + (1 if bias else 0))",
           {"test_conv_params"}, "each filter counted as k x k, ignoring the input channels"),
    Mutant("conv_flipped_kernel", "conv2d_numpy",
           "out[:, i, j] = np.tensordot(kernels, patch, axes=3) + bias",
           "out[:, i, j] = np.tensordot(kernels[:, :, ::-1, ::-1], patch, axes=3) + bias",
           {"test_conv2d_numpy"}, "kernel flipped (true convolution; PyTorch computes a correlation)"),
    Mutant("conv_padding_ignored", "conv2d_numpy",
           "x = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))", "x = image",
           {"test_conv2d_numpy"}, "padding ignored"),
    Mutant("avg_instead_of_max", "conv2d_numpy",
           ".reshape(c, h2, k, w2, k).max(axis=(2, 4))", ".reshape(c, h2, k, w2, k).mean(axis=(2, 4))",
           {"test_maxpool"}, "average pooling instead of max pooling"),
    # ---------------------------------------------------------------- 5. networks
    Mutant("lenet_flatten_wrong", "lenet5",
           "nn.Flatten(), nn.Linear(16 * 5 * 5, 120)", "nn.Flatten(), nn.Linear(16 * 4 * 4, 120)",
           {"test_lenet5"}, "flatten size wrong (16x4x4 instead of 16x5x5)"),
    Mutant("seed_net_no_padding", "seed_net",
           "self.conv1 = nn.Conv2d(3, 32, 5, padding=2)", "self.conv1 = nn.Conv2d(3, 32, 5)",
           {"test_seed_net"}, "same-padding missing: 28x28 maps, the Linear(4096, 256) no longer fits"),
    Mutant("seed_net_no_padding_adapted", "seed_net",
           "nn.Conv2d(3, 32, 5, padding=2)\n        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)\n"
           "        self.pool = nn.MaxPool2d(2)\n        self.fc1 = nn.Linear(64 * 8 * 8, 256)",
           "nn.Conv2d(3, 32, 5)\n        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)\n"
           "        self.pool = nn.MaxPool2d(2)\n        self.fc1 = nn.Linear(64 * 7 * 7, 256)",
           {"test_seed_net"}, "same-padding missing, flatten size adapted to the 7x7 maps"),
    Mutant("seed_net_softmax_output", "seed_net",
           "return self.fc2(x)", "return F.softmax(self.fc2(x), dim=1)",
           {"test_seed_net"}, "softmax at the end of the network, before CrossEntropyLoss"),
    # ---------------------------------------------------------------- 6. my CNN
    Mutant("augment_whole_batch", "augment",
           "return torch.stack([transform(img) for img in images])", "return transform(images)",
           {"test_augment"}, "one random crop/flip drawn for the whole batch"),
    Mutant("my_cnn_no_batchnorm", "my_cnn",
           '"norm1": nn.BatchNorm2d(c_out, momentum=0.4),\n                               "conv2": nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),\n'
           '                               "norm2": nn.BatchNorm2d(c_out, momentum=0.4)})',
           '"norm1": nn.GroupNorm(1, c_out),\n                               "conv2": nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),\n'
           '                               "norm2": nn.GroupNorm(1, c_out)})',
           {"test_my_cnn", "test_my_cnn_accuracy"},
           "group norm instead of batch norm (and the handed-in weights no longer fit the class)"),
    Mutant("my_cnn_softmax_output", "my_cnn",
           "return self.head(F.adaptive_max_pool2d(x, 1).flatten(1)) / 9",
           "return F.softmax(self.head(F.adaptive_max_pool2d(x, 1).flatten(1)) / 9, dim=1)",
           {"test_my_cnn"}, "softmax at the end of MyCNN (the scores become probabilities; the accuracy stays)"),
    # ---------------------------------------------------------------- 7. analysis
    Mutant("confusion_transposed", "confusion",
           "y_true.long() * n_classes + y_pred.long()", "y_pred.long() * n_classes + y_true.long()",
           {"test_confusion_matrix"}, "rows and columns swapped (predicted class in rows)"),
]
