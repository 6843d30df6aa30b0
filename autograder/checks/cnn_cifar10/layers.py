"""06, part 4: convolution by hand (output size, parameter count, conv2d and max-pooling in
numpy), judged against torch's own layers in the grader."""

from __future__ import annotations

import numpy as np

from ..common import as_array, check_close, fail, named_mistake
from ..probing import Call, check


def out_size(n, k, p, s):
    return (n + 2 * p - k) // s + 1


@check("test_conv_output_size")
def conv_output_size_formula(rng):
    """conv_output_size(n, k, padding, stride) = (n + 2p - k) // s + 1 on 30 random settings."""
    cases = []
    for _ in range(30):
        k = int(rng.integers(1, 8))
        cases.append((int(rng.integers(k, 70)), k, int(rng.integers(0, 4)), int(rng.integers(1, 4))))
    results = yield [Call("conv_output_size", (n, k), {"padding": p, "stride": s}) for n, k, p, s in cases]
    for (n, k, p, s), r in zip(cases, results):
        want = out_size(n, k, p, s)
        if not isinstance(r.value, int) or isinstance(r.value, bool) or r.value != want:
            got = r.value
            hint = "division entière // (une taille est un entier)." if isinstance(got, float) else None
            hint = hint or named_mistake(got, {
                "il manque le « + 1 » : la première position du filtre compte aussi.": lambda: want - 1,
                "la marge s'ajoute des deux côtés : 2 x padding.": lambda: (n + p - k) // s + 1,
                "le pas (stride) divise (n + 2p - k), pas le tout.": lambda: (n + 2 * p - k + 1) // s,
            })
            fail(f"conv_output_size(n={n}, k={k}, padding={p}, stride={s}) = {got!r}, attendu {want}.", hint)
    return "conv_output_size est correcte."


@check("test_conv_params")
def conv_param_count_formula(rng):
    """conv_param_count(c_in, c_out, k, bias) = c_out (c_in k² + bias) on 20 random settings."""
    cases = []
    for _ in range(10):
        c_in, c_out, k = (int(v) for v in rng.integers(1, 40, size=3))
        cases += [(c_in, c_out, k % 7 + 1, bias) for bias in (True, False)]
    results = yield [Call("conv_param_count", (c_in, c_out, k), {"bias": bias}) for c_in, c_out, k, bias in cases]
    for (c_in, c_out, k, bias), r in zip(cases, results):
        want = c_out * (c_in * k * k + int(bias))
        if r.value != want:
            hint = named_mistake(r.value, {
                "un biais par filtre (c_out biais) quand bias=True.": lambda: c_out * c_in * k * k,
                "chaque filtre a c_in x k x k poids : il voit tous les canaux d'entrée.":
                    lambda: c_out * (k * k + int(bias)),
                "bias=False : pas de biais du tout.": lambda: c_out * (c_in * k * k + 1),
            })
            fail(f"conv_param_count({c_in}, {c_out}, {k}, bias={bias}) = {r.value!r}, attendu {want}.", hint)
    return "conv_param_count est correcte."


def torch_conv(image, kernels, bias, stride, padding):
    import torch
    import torch.nn.functional as F
    return F.conv2d(torch.from_numpy(image)[None], torch.from_numpy(np.ascontiguousarray(kernels)),
                    torch.from_numpy(bias), stride=stride, padding=padding)[0].numpy()


@check("test_conv2d_numpy")
def conv2d_numpy_matches_torch(rng):
    """conv2d_numpy equals torch's conv2d (a correlation, bias per filter) for three stride/padding settings."""
    cases = []
    for padding, stride in ((0, 1), (int(rng.integers(1, 3)), 1), (int(rng.integers(0, 2)), 2)):
        c_in, c_out, k = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(2, 4))
        h, w = int(rng.integers(6, 10)), int(rng.integers(6, 10))
        cases.append((rng.standard_normal((c_in, h, w)), rng.standard_normal((c_out, c_in, k, k)),
                      rng.standard_normal(c_out), stride, padding))
    results = yield [Call("conv2d_numpy", (img, ker, b), {"stride": s, "padding": p}) for img, ker, b, s, p in cases]
    for (img, ker, b, s, p), r in zip(cases, results):
        got = as_array("conv2d_numpy", r.value)
        want = torch_conv(img, ker, b, s, p)
        hint = named_mistake(got, {
            "le filtre est retourné : conv2d (comme PyTorch) ne retourne pas le noyau (corrélation).":
                lambda: torch_conv(img, ker[:, :, ::-1, ::-1], b, s, p),
            "le biais du filtre j s'ajoute à toute la sortie j.": lambda: want - b[:, None, None],
            "la marge (padding) n'est pas appliquée : np.pad sur les deux axes spatiaux.":
                lambda: torch_conv(img, ker, b, s, 0) if p else None,
            "le pas (stride) n'est pas appliqué : la fenêtre avance de stride pixels.":
                lambda: torch_conv(img, ker, b, 1, p) if s > 1 else None,
        }, rtol=1e-7, atol=1e-9)
        check_close(f"conv2d_numpy(image {img.shape}, noyaux {ker.shape}, stride={s}, padding={p})",
                    got, want, rtol=1e-7, atol=1e-9, hint=hint)
    return "conv2d_numpy est correcte."


def torch_pool(x, k, kind="max"):
    import torch
    import torch.nn.functional as F
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    return pool(torch.from_numpy(x)[None], k)[0].numpy()


@check("test_maxpool")
def maxpool_matches_torch(rng):
    """maxpool2d_numpy(x, k) equals torch's max_pool2d (k x k blocks, borders dropped) for k = 2 and 3."""
    cases = []
    for k in (2, 3):
        c, h, w = int(rng.integers(1, 4)), int(rng.integers(2 * k, 5 * k)), int(rng.integers(2 * k, 5 * k))
        cases.append((rng.standard_normal((c, h, w)), k))
    results = yield [Call("maxpool2d_numpy", (x, k)) for x, k in cases]
    for (x, k), r in zip(cases, results):
        got = as_array("maxpool2d_numpy", r.value)
        hint = named_mistake(got, {"c'est une moyenne : max-pooling garde le MAXIMUM de chaque bloc.":
                                   lambda: torch_pool(x, k, "avg")})
        check_close(f"maxpool2d_numpy(x {x.shape}, k={k})", got, torch_pool(x, k), rtol=1e-9, atol=1e-12,
                    hint=hint or "blocs k x k sans recouvrement ; les lignes/colonnes en trop au bord sont ignorées.")
    return "maxpool2d_numpy est correcte."
