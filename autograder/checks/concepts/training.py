"""PyTorch training-loop checks shared by several assignments: normalisation of uint8 images,
one epoch of training, evaluation.

Plain generator functions, registered by each assignment under its own test cell with its
own parameters (see :mod:`concepts.classification`)::

    check("test_train_epoch", module=__name__)(functools.partial(training.train_epoch_replay, fn="train_epoch"))

The behaviour is judged by its consequences, recomputed here: the kernel builds a small
network from the grader's weights (a ``BatchNorm1d`` inside, so that train and eval modes
give different numbers and evaluation leaves its running statistics alone), runs the
student's function on the grader's data, and sends back the network's state dict after
each epoch; the grader replays the same epochs with torch in float64 and compares tightly.
05 passes a ``DataLoader`` (no shuffling: batches in order); 06's ``train_epoch(model, x, y,
...)`` shuffles itself with ``torch.randperm``: the grader replays the generator from the
same ``torch_seed`` (the kernel seeds, builds the network, then the function draws).
"""

from __future__ import annotations

import numpy as np

from ..common import as_array, check_close, fail, named_mistake
from ..probing import Call, Loader, ModuleState, Of, Sequential, Tensor

BN_EPS = 1e-5


# ---------------------------------------------------------------------------- normalize
def normalize_pixels(rng, *, fn: str, shape: tuple, mean, std, flatten: bool = False,
                     stats_args: bool = False):
    """``fn(images)`` (or ``fn(images, mean, std)``) on random uint8 images of ``shape`` (per
    image): float32, ``(pixels / 255 - mean) / std`` channel by channel, flattened to one row
    per image if ``flatten``.

    ``mean``, ``std``: numbers (05: MNIST's constants, written in the notebook) or None to draw
    one per channel (the first axis of ``shape``) and pass them as float32 tensors
    (``stats_args``, 06). Images as wide as they have channels (06: ``(3, h, 3)``) make the
    statistics broadcast on the last axis (``mean`` not reshaped to ``(1, 3, 1, 1)``) give
    numbers instead of an error, so that mistake is named."""
    n = int(rng.integers(3, 7))
    images = rng.integers(0, 256, size=(n, *shape)).astype(np.uint8)
    images[0].flat[:3] = (0, 255, 128)
    channels = shape[0] if len(shape) == 3 else 1
    if stats_args:
        mean = rng.uniform(0.3, 0.6, size=channels).astype(np.float32)
        std = rng.uniform(0.15, 0.35, size=channels).astype(np.float32)
        args = (Tensor(images, dtype="uint8"), Tensor(mean), Tensor(std))
    else:
        args = (Tensor(images, dtype="uint8"),)
    r, = yield [Call(fn, args, facts=True)]
    got = as_array(f"{fn}(images)", r.value)
    m = np.asarray(mean, dtype=np.float64).reshape((1, -1) + (1,) * (len(shape) - 1)) if stats_args else float(mean)
    s = np.asarray(std, dtype=np.float64).reshape((1, -1) + (1,) * (len(shape) - 1)) if stats_args else float(std)
    x = images.astype(np.float64)
    want = (x / 255 - m) / s
    out_shape = (n, int(np.prod(shape))) if flatten else (n, *shape)
    if got.shape != out_shape:
        hint = None
        if flatten and got.shape == (n, *shape):
            hint = f"aplatissez chaque image en une ligne de {int(np.prod(shape))} valeurs (reshape(len(images), -1))."
        fail(f"{fn} renvoie la forme {got.shape} pour des images {images.shape}, attendu {out_shape}.", hint)
    shaped = (lambda a: a.reshape(out_shape))
    channel_last = stats_args and len(shape) == 3 and shape[-1] == channels   # images as wide as there are channels
    hint = named_mistake(got, {
        "les pixels doivent d'abord être ramenés dans [0, 1] (division par 255) : x / 255, puis "
        "(x - mean) / std.": lambda: shaped((x - m) / s),
        "mean et std s'appliquent canal par canal : vus comme (1, 3, 1, 1), pas (3,) sur le dernier axe "
        "(mean.reshape(1, -1, 1, 1)).":
            lambda: (x / 255 - np.reshape(mean, (1, 1, 1, -1))) / np.reshape(std, (1, 1, 1, -1)) if channel_last
            else None,
        "la moyenne n'est pas retranchée avant la division par l'écart-type.": lambda: shaped(x / 255 / s),
        "il faut DIVISER par l'écart-type, pas multiplier.": lambda: shaped((x / 255 - m) * s),
        "seule la division par 255 est faite : retranchez la moyenne puis divisez par l'écart-type.":
            lambda: shaped(x / 255),
    }, rtol=1e-5, atol=1e-5)
    check_close(fn, got, shaped(want), rtol=1e-5, atol=1e-5,
                hint=hint or "((pixels / 255) - moyenne) / écart-type.")
    facts = (r.facts or {}).get("value") or [None]
    if facts[0] is None or facts[0]["dtype"] != "torch.float32":
        fail(f"{fn} doit renvoyer un tenseur torch.float32 (reçu {facts[0]['dtype'] if facts[0] else 'autre chose'}).",
             "convertissez avec images.to(torch.float32) (ou .float()) avant de diviser.")
    return f"{fn} : forme, type et valeurs corrects."


# ------------------------------------------------------------------- small networks
def _network(rng, d: int, h: int, K: int, dropout: float | None = None):
    """Monitor -> Linear(d, h) -> BatchNorm1d(h) (running statistics away from 0 and 1) -> ReLU
    [-> Dropout] -> Linear(h, K), in float64, as layer descriptions. The ``Monitor`` (the
    identity, counting in its buffers the forward passes, those in training mode and those
    with gradients enabled: ``nncourse.probe``) makes ``model.eval()`` and ``torch.no_grad()``
    visible in the state dict sent back."""
    W1, b1 = rng.normal(0, 1 / np.sqrt(d), (h, d)), rng.normal(0, 0.1, h)
    W2, b2 = rng.normal(0, 1 / np.sqrt(h), (K, h)), rng.normal(0, 0.1, K)
    mean, var = rng.normal(0, 0.5, h), rng.uniform(0.5, 2.0, h)
    layers = [("Monitor",), ("Linear", W1, b1), ("BatchNorm1d", h, mean, var), ("ReLU",)]
    if dropout:
        layers.append(("Dropout", dropout))
    layers.append(("Linear", W2, b2))
    return tuple(layers)


def _torch_network(layers):
    """The same network as the kernel's (``nncourse.probe._sequential``), in this process; the
    Monitor as ``nn.Identity`` (same indices, no counters: the replay's state dict holds only
    the weights and running statistics to compare)."""
    import torch
    modules = []
    for layer in layers:
        if layer[0] == "Linear":
            lin = torch.nn.Linear(layer[1].shape[1], layer[1].shape[0]).double()
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.asarray(layer[1], dtype=np.float64)))
                lin.bias.copy_(torch.from_numpy(np.asarray(layer[2], dtype=np.float64)))
            modules.append(lin)
        elif layer[0] == "BatchNorm1d":
            norm = torch.nn.BatchNorm1d(layer[1]).double()
            with torch.no_grad():
                norm.running_mean.copy_(torch.from_numpy(np.asarray(layer[2], dtype=np.float64)))
                norm.running_var.copy_(torch.from_numpy(np.asarray(layer[3], dtype=np.float64)))
            modules.append(norm)
        elif layer[0] == "Dropout":
            modules.append(torch.nn.Dropout(layer[1]))
        elif layer[0] == "Monitor":
            modules.append(torch.nn.Identity())
        else:
            modules.append(getattr(torch.nn, layer[0])())
    return torch.nn.Sequential(*modules)


def _replay(layers, X, y, lr, orders, *, mode="train", zero_grad=True, torch_seed=None, gamma=None,
            schedule="batch", softmax=False):
    """Epochs of SGD(lr) on cross-entropy through the batches ``orders`` (one list of index
    arrays per epoch), from the grader's weights: (state dict after each epoch, the mean loss
    per example of each epoch, the mean of its batch means). One optimizer for all epochs;
    ``gamma``: a ``StepLR(step_size=1, gamma)`` scheduler stepped after every batch's step
    (``schedule`` "batch") or once at the end of each epoch ("epoch", a mistake).
    ``zero_grad`` False, ``softmax`` (the loss of the probabilities): mistakes."""
    import torch
    if torch_seed is not None:
        torch.manual_seed(torch_seed)
    model = _torch_network(layers)
    model.train(mode == "train")
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()
    states, means, batch_means = [], [], []
    params = list(model.parameters())
    # SGD and StepLR(1, gamma) written out (what torch.optim does for them, no momentum): the
    # first torch.optim optimizer of a process imports torch._dynamo, about a second.
    step = lr
    for batches in orders:
        total, losses = 0.0, []
        for idx in batches:
            idx = torch.from_numpy(np.asarray(idx))
            if zero_grad:
                for p in params:
                    p.grad = None
            scores = model(Xt[idx])
            loss = loss_fn(torch.softmax(scores, dim=1) if softmax else scores, yt[idx])
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p.add_(p.grad, alpha=-step)
            if gamma is not None and schedule == "batch":
                step *= gamma
            total += loss.item() * len(idx)
            losses.append(loss.item())
        if gamma is not None and schedule == "epoch":
            step *= gamma
        states.append({k: v.detach().numpy().astype(np.float64).copy() for k, v in model.state_dict().items()})
        means.append(total / len(X))
        batch_means.append(float(np.mean(losses)))
    return states, means, batch_means


def _randperm_orders(layers, n, batch, epochs, torch_seed):
    """The batches a function drawing ``torch.randperm(n)`` at each epoch makes after the
    kernel seeded torch and built the network (which draws its default initialisation)."""
    import torch
    torch.manual_seed(torch_seed)
    _torch_network(layers)
    orders = []
    for _ in range(epochs):
        perm = torch.randperm(n).numpy()
        orders.append([perm[s:s + batch] for s in range(0, n, batch)])
    return orders


def _state(value, what: str) -> dict:
    if not isinstance(value, ModuleState):
        fail(f"{what} : le réseau n'a pas pu être relu.")
    return value.state


def _same_state(got: dict, want: dict, keys, rtol: float) -> bool:
    return all(k in got and np.shape(got[k]) == want[k].shape
               and np.allclose(got[k], want[k], rtol=rtol, atol=1e-10) for k in keys)


# ------------------------------------------------------------------------- train_epoch
def train_epoch_replay(rng, *, fn: str = "train_epoch", data: str = "loader", epochs: int = 2,
                       batch_kwarg: str = "batch_size", extra_kwargs: dict | None = None, rtol: float = 1e-7,
                       gamma: float | None = None):
    """One call of ``fn`` per epoch on a network built from the grader's weights (Linear,
    BatchNorm1d, ReLU, Linear; handed over in eval mode), SGD and cross-entropy: after each
    epoch the weights and running statistics equal those of the grader's torch replay, and
    the returned number is the epoch's mean loss per example (a Python float).

    ``data``: "loader" (05: ``fn(model, loader, optimizer, loss_fn)``, a DataLoader without
    shuffling, the last batch smaller) or "tensors" (06: ``fn(model, x, y, optimizer, loss_fn,
    batch_size=...)``, the function shuffles with ``torch.randperm``, replayed here from the
    same seed). ``extra_kwargs``: more keyword arguments (06: ``{"progress": False}``).
    ``gamma`` (with "tensors"): a learning-rate scheduler ``StepLR(optimizer, 1, gamma)`` is
    passed as the argument after the batch size (``fn(model, x, y, optimizer, loss_fn,
    batch_size, scheduler)``, both positional); the function must call ``scheduler.step()``
    after every ``optimizer.step()``: the optimizer and the scheduler are kept over the
    repeated calls (``Of(..., keep=True)``) and the replay multiplies the step by ``gamma``
    after every batch, across the epochs."""
    d, h, K = int(rng.integers(5, 9)), int(rng.integers(6, 10)), int(rng.integers(3, 6))
    batch = int(rng.integers(8, 16))
    n = batch * int(rng.integers(3, 5)) + int(rng.integers(2, batch))      # a smaller last batch (≥ 2: BatchNorm)
    X, y = rng.standard_normal((n, d)), rng.integers(0, K, size=n)
    layers = _network(rng, d, h, K)
    lr = float(rng.uniform(0.05, 0.3))
    seed = int(rng.integers(2 ** 31))
    optimizer = Of("sgd", 0, {"lr": lr}, keep=True)
    if data == "loader":
        args, kwargs = (Sequential(layers, dtype="f8", training=False), Loader(Tensor(X), Tensor(y), batch), optimizer,
                        Of("cross_entropy_loss", 0, {})), {}
        orders = [[np.arange(s, min(s + batch, n)) for s in range(0, n, batch)]] * epochs
    else:
        args = (Sequential(layers, dtype="f8", training=False), Tensor(X), Tensor(y), optimizer,
                Of("cross_entropy_loss", 0, {}))
        kwargs = {batch_kwarg: batch, **(extra_kwargs or {})}
        if gamma is not None:   # positional: an argument computed from the optimizer (3) cannot be a keyword
            args += (batch, Of("step_lr", 3, {"gamma": gamma}, keep=True))
            kwargs.pop(batch_kwarg)
        orders = _randperm_orders(layers, n, batch, epochs, seed)
    r, = yield [Call(fn, args, kwargs, watch=(0,), repeat=epochs, torch_seed=seed)]
    states, means, batch_means = _replay(layers, X, y, lr, orders, gamma=gamma)
    runs = [(r.value, r.after)] + [(a.value, a.after) for a in r.again]
    if len(runs) != epochs:
        fail(f"{fn} n'a pas pu être appelée {epochs} fois de suite.")
    keys = list(states[0])
    mistakes = {
        "le modèle n'est pas mis en mode apprentissage : appelez model.train() au début de l'époque "
        "(en mode évaluation, BatchNorm et Dropout ne se comportent pas comme à l'apprentissage).":
            lambda: _replay(layers, X, y, lr, orders, mode="eval", gamma=gamma)[0],
        "optimizer.zero_grad() oublié : les gradients des batchs précédents s'ajoutent.":
            lambda: _replay(layers, X, y, lr, orders, zero_grad=False, gamma=gamma)[0],
        "la perte est calculée sur des probabilités : pas de softmax avant CrossEntropyLoss (elle applique "
        "déjà log_softmax aux scores bruts).":
            lambda: _replay(layers, X, y, lr, orders, softmax=True, gamma=gamma)[0],
    }
    if gamma is not None:
        mistakes["scheduler.step() oublié : appelez-le après chaque optimizer.step() (quand scheduler n'est pas "
                 "None), le pas d'apprentissage doit diminuer à chaque lot."] = \
            lambda: _replay(layers, X, y, lr, orders)[0]
        mistakes["scheduler.step() appelé une fois par époque : appelez-le après CHAQUE optimizer.step(), "
                 "dans la boucle des lots."] = \
            lambda: _replay(layers, X, y, lr, orders, gamma=gamma, schedule="epoch")[0]
    if data != "loader":
        mistakes["les exemples ne sont pas mélangés : tirez un nouvel ordre torch.randperm(n) à chaque époque."] = \
            lambda: _replay(layers, X, y, lr, [[np.arange(s, min(s + batch, n)) for s in range(0, n, batch)]] * epochs,
                            gamma=gamma)[0]
    for e, (value, after) in enumerate(runs):
        got = _state(after[0] if after else None, f"après l'époque {e + 1}")
        if int(np.asarray(got.get("0.calls", 0)).reshape(-1)[0]) > 0 \
                and int(np.asarray(got.get("0.train_calls", 1)).reshape(-1)[0]) == 0:      # seen by the Monitor
            fail(f"{fn} a utilisé le modèle en mode évaluation pendant l'apprentissage (on le lui donne en mode "
                 "évaluation).", next(iter(mistakes)))
        if not _same_state(got, states[e], keys, rtol):
            # a mistake is named when it gives every epoch's state that came back (a scheduler
            # stepped once per epoch only shows from the second epoch on)
            seen = [a[0] if a and isinstance(a[0], ModuleState) else None for _, a in runs]
            hint = None
            for text, compute in mistakes.items():
                try:
                    wrong = compute()
                except Exception:  # noqa: BLE001 - a variant that cannot be replayed
                    continue
                if all(s is None or _same_state(s.state, wrong[k], keys, 1e-6) for k, s in enumerate(seen)) \
                        and _same_state(got, wrong[e], keys, 1e-6):
                    hint = text
                    break
            bad = [k for k in keys if not _same_state(got, states[e], [k], rtol)]
            fail(f"après {e + 1} appel(s) de {fn} (une époque chacun), {', '.join(bad[:3])} n'ont pas la valeur "
                 f"d'une époque de descente de gradient depuis les poids donnés.",
                 hint or "pour chaque batch : optimizer.zero_grad(), sortie, coût, loss.backward(), optimizer.step().")
        if isinstance(value, np.ndarray) or not isinstance(value, (int, float)) or isinstance(value, bool):
            fail(f"{fn} doit renvoyer un nombre Python (reçu {type(value).__name__}).",
                 "loss.item() donne la valeur d'un tenseur à un élément.")
        check_close(f"coût moyen renvoyé par {fn} (époque {e + 1})", float(value), means[e], rtol=rtol,
                    hint=named_mistake(float(value), {
                        "moyenne des coûts des batchs au lieu de la moyenne par exemple (le dernier batch est "
                        "plus petit) : additionnez loss.item() × len(xb), divisez par le nombre d'exemples.":
                            lambda: batch_means[e],
                        "c'est la somme des coûts par exemple : divisez par le nombre d'exemples.":
                            lambda: means[e] * n,
                    }) or "moyenne PAR EXEMPLE : somme des loss.item() × len(xb), divisée par le nombre d'exemples.")
    return f"{fn} : mêmes poids et même coût moyen que la boucle de référence, époque après époque."


# --------------------------------------------------------------------------- evaluate
def _eval_forward(layers, X):
    """The network in eval mode (running statistics, no dropout), float64 numpy."""
    Z = np.asarray(X, dtype=np.float64)
    for layer in layers:
        if layer[0] == "Linear":
            Z = Z @ np.asarray(layer[1]).T + layer[2]
        elif layer[0] == "BatchNorm1d":
            Z = (Z - layer[2]) / np.sqrt(layer[3] + BN_EPS)
        elif layer[0] == "ReLU":
            Z = np.maximum(Z, 0)
    return Z


def _cross_entropy(S, y):
    S = S - S.max(axis=1, keepdims=True)
    logp = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
    return float(-np.mean(logp[np.arange(len(y)), y]))


def monitor_verdict(state, what: str) -> None:
    """What the network's ``Monitor`` (its first layer, ``0.``) counted during ``what``: the
    model called, never in training mode, never with gradients enabled."""
    counts = {}
    if isinstance(state, ModuleState):
        for key in ("calls", "train_calls", "grad_calls"):
            try:
                counts[key] = int(np.asarray(state.state.get("0." + key, -1)).reshape(-1)[0])
            except (TypeError, ValueError, IndexError):
                counts[key] = -1
    if counts.get("calls", 0) <= 0:
        fail(f"{what} n'a pas appelé le modèle qu'on lui a donné.")
    if counts.get("train_calls", 0) != 0:
        fail(f"{what} a utilisé le modèle en mode apprentissage (Dropout et BatchNorm n'y calculent pas ce "
             "qu'ils calculent en test).", "appelez model.eval() avant la passe de test.")
    if counts.get("grad_calls", 0) != 0:
        fail(f"{what} calcule les gradients pendant la passe de test (mémoire et temps perdus).",
             "entourez la passe de test de `with torch.no_grad():`.")


def evaluate_in_eval_mode(rng, *, fn: str = "evaluate", kwargs: dict | None = None):
    """``fn(model, x, y, loss_fn)`` on a network in train mode with BatchNorm1d and Dropout:
    (mean loss, accuracy in [0, 1]) of the network in eval mode, as Python numbers; the
    network is unchanged (weights and running statistics: eval mode, no training), and its
    forward passes were made in eval mode under no_grad (counted by a ``Monitor`` layer).
    ``kwargs``: more keyword arguments (06: ``{"batch_size": 16}``; the loss is then the mean
    per example over batches of unequal sizes)."""
    d, h, K = int(rng.integers(5, 9)), int(rng.integers(8, 12)), int(rng.integers(3, 6))
    n = int(rng.integers(40, 70))
    batch = (kwargs or {}).get("batch_size")
    if batch and n % batch in (0, 1):      # a smaller last batch (not of one example: BatchNorm in train mode)
        n += 2
    X, y = rng.standard_normal((n, d)), rng.integers(0, K, size=n)
    layers = _network(rng, d, h, K, dropout=0.5)
    r, = yield [Call(fn, (Sequential(layers, dtype="f8"), Tensor(X), Tensor(y), Of("cross_entropy_loss", 0, {})),
                     dict(kwargs or {}), watch=(0,), facts=True, torch_seed=int(rng.integers(2 ** 31)))]
    out = r.value
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail(f"{fn} doit renvoyer le couple (coût moyen, précision).")
    for item, facts in zip(out, ((r.facts or {}).get("value") or [None, None])):
        if facts is not None and facts["requires_grad"]:
            fail(f"{fn} renvoie un tenseur relié au graphe de calcul : évaluez sous torch.no_grad().",
                 "with torch.no_grad(): scores = model(x) ; renvoyez des nombres (loss.item()).")
    state = _state(r.after[0] if r.after else None, f"le réseau après {fn}")
    monitor_verdict(r.after[0], fn)
    norm = next(i for i, layer in enumerate(layers) if layer[0] == "BatchNorm1d")
    key = f"{norm}.running_mean"
    if key in state and not np.allclose(state[key], layers[norm][2], rtol=0, atol=0):
        fail(f"{fn} a modifié les statistiques de BatchNorm du réseau : il est resté en mode apprentissage.",
             "appelez model.eval() avant d'évaluer (BatchNorm et Dropout passent alors en mode évaluation).")
    for i in (i for i, layer in enumerate(layers) if layer[0] == "Linear"):
        key = f"{i}.weight"
        if key in state and not np.allclose(state[key], layers[i][1], rtol=0, atol=0):
            fail(f"{fn} a modifié les poids du réseau : l'évaluation ne doit pas entraîner.")
    scores = _eval_forward(layers, X)
    want_loss, want_acc = _cross_entropy(scores, y), float(np.mean(scores.argmax(axis=1) == y))
    try:
        loss, acc = float(np.asarray(out[0]).reshape(())), float(np.asarray(out[1]).reshape(()))
    except (TypeError, ValueError):
        fail(f"{fn} doit renvoyer deux nombres (coût, précision).")
    check_close(f"coût renvoyé par {fn}", loss, want_loss, rtol=1e-6,
                hint=named_mistake(loss, {
                    "c'est la somme des coûts : renvoyez le coût moyen par exemple.": lambda: want_loss * n,
                    "moyenne des coûts des lots au lieu de la moyenne par exemple (le dernier lot est plus petit) : "
                    "additionnez loss.item() × len(yb), divisez par le nombre d'exemples.":
                        lambda: float(np.mean([_cross_entropy(scores[s:s + batch], y[s:s + batch])
                                               for s in range(0, n, batch)])) if batch else None,
                }) or "le coût moyen loss_fn(scores, y) par exemple, en mode évaluation.")
    check_close(f"précision renvoyée par {fn}", acc, want_acc, rtol=0, atol=1e-6,
                hint=named_mistake(acc, {"renvoyez une proportion entre 0 et 1, pas un pourcentage.": lambda: 100 * want_acc,
                                         "c'est le nombre d'exemples bien classés : divisez par leur nombre.":
                                             lambda: want_acc * n})
                or "proportion (entre 0 et 1) des argmax des scores égaux aux étiquettes.")
    return f"{fn} : mode évaluation, réseau inchangé, coût et précision corrects."
