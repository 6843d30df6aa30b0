"""Reading what the kernel sent back for 05's objects (steps on instances), in French."""

from __future__ import annotations

import numpy as np

from ..common import as_array, fail


def value_of(step, what: str):
    """The value of one step (a read or a method call), or a French failure naming the error."""
    if step.error == "NotImplementedError":
        fail(f"{what} n'est pas encore écrite : remplacez raise NotImplementedError() par votre code.")
    if step.error:
        fail(f"{what} a levé une erreur : {step.error}: {step.message}".rstrip(": "))
    return step.value


def array_of(step, what: str) -> np.ndarray:
    return as_array(what, value_of(step, what))


def dict_of_arrays(step, what: str, keys) -> dict:
    d = value_of(step, what)
    if not isinstance(d, dict):
        fail(f"{what} doit être un dictionnaire (reçu {type(d).__name__}).")
    for k in keys:
        if k not in d:
            fail(f"{what} n'a pas de clé {k!r}.")
    return {k: as_array(f"{what}[{k!r}]", d[k]) for k in keys}
