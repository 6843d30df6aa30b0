"""Hidden checks as probe and verdict: the grader's half.

A check is a generator function registered with :func:`check` under the grade_id of its
test cell. It receives a fresh random generator, **yields** the calls the kernel must make
(:class:`Call`, inputs chosen here), receives their results as plain data
(:class:`Result`), and judges them here, in the grader's process, with the reference:
it raises ``CheckFailed`` with a French message, or returns the pass line::

    @check("test_err")
    def err_matches(rng):
        \"\"\"err(a, x) = a² + a·x + 1 at five random points.\"\"\"
        points = rng.uniform(-10, 10, size=(5, 2))
        results = yield [Call("err", (a, x)) for a, x in points]
        for (a, x), r in zip(points, results):
            check_close(f"err({a:.3f}, {x:.3f})", r.value, a * a + a * x + 1)
        return "err est correcte."

The decorator owns the rest: the seed (fresh from ``secrets``, or ``$NNCOURSE_TEST_SEED``
to replay one, read in the grader only), « pas encore écrite » when a call raised
``NotImplementedError``, the student's own error named in one line, and the seed at the end
of every message.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass, field

import numpy as np

from nncourse.checks import CheckFailed, fail
from nncourse.messages import shape_problem
from nncourse.probe import MAX_REPEAT, ModuleState, ProbeDataError, decode, encode  # noqa: F401

SEED_ENV_VAR = "NNCOURSE_TEST_SEED"
REGISTRY: dict[str, dict] = {}      # checks module name -> {grade_id: check function}


@dataclass
class Call:
    """One call the probe makes in the kernel: ``fn(*args, **kwargs)`` with the grader's inputs.

    ``watch``: indices of arguments whose value after the call is sent back (mutation checks).
    ``trace``: notebook functions that ``fn`` calls, recorded while it runs:
    ``{"backward": {"calls": 3, "args": ["params"]}}`` keeps the named arguments and the value
    of the first 3 calls, and counts them all.
    ``stub``: notebook functions replaced, while ``fn`` runs, by one returning the given value
    (traced too when also named in ``trace``).
    ``judge_errors``: the check reads this call's error itself (by default an error fails the
    check at once, « pas encore écrite » for NotImplementedError).
    ``torch_seed``: ``torch.manual_seed`` before the call. ``call_result``: arguments to call
    what ``fn`` returned with, under ``no_grad`` (a class, then its instance); its value comes
    back as ``Result.result_value``. ``grad_of``: indices of tensor arguments whose gradient
    of the scalar result comes back as ``Result.grads`` (a French reason instead if none).
    ``torch_threads``: torch's threads during the call (1 for tiny networks).
    Objects: ``as_object`` (``fn`` names an object of the notebook, e.g. a trained network or
    a dict, used as is instead of being called; its value is not sent, read it with steps);
    ``steps``: :class:`Step` s run on what ``fn`` returned or on its arguments (after the
    call, or before it with ``before=True``), each one's value in ``Result.steps``;
    ``replace``: notebook names swapped while the call runs, e.g. ``{"Optim": TapeClass("optim")}``
    (what tapes were asked comes back in ``Result.log``). Arguments may be :class:`New`
    (an instance of a notebook class built in the kernel) or :class:`Tape` (a recording
    stand-in answering with the grader's values). Data sets: :class:`Pixels` (uint8 images
    received as floats), :class:`Loader` (a torch DataLoader), ``Of("sgd"|"adam", i, {"lr": ...})`` (an optimizer
    over the network argument i), ``Of("cross_entropy_loss", i, {})`` (a loss).
    ``repeat`` (up to 8): the call made again on the same objects (see ``Of.keep``).
    A call of a notebook *variable* (not callable) reads it: ``Call("MEAN")`` sends its value,
    ``Call("x_test", (Tensor(rows),))`` sends ``x_test[rows]``.
    For a call returning an ``nn.Module`` (a class called): ``load_state`` (name -> array) is
    loaded into it (strict) and ``eval_mode`` puts it in evaluation mode, both before
    ``call_result``; ``summary`` sends back its summary (``nncourse.probe.module_summary``:
    parameter and buffer shapes, module type counts) and ``state_digest`` the digest of its
    state dict after ``call_result`` (``nncourse.probe.state_digest``) instead of the state
    dict itself (a network too big to come back).
    """
    fn: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    watch: tuple = ()
    trace: dict = field(default_factory=dict)
    stub: dict = field(default_factory=dict)
    judge_errors: bool = False
    torch_seed: int | None = None
    call_result: tuple | None = None
    grad_of: tuple = ()
    torch_threads: int | None = None
    facts: bool = False
    grad_sum: bool = False
    repeat: int = 1
    steps: tuple = ()
    replace: dict = field(default_factory=dict)
    as_object: bool = False
    load_state: dict | None = None
    eval_mode: bool = False
    summary: bool = False
    state_digest: bool = False

    def to_plan(self) -> dict:
        plan = {"fn": self.fn, "args": [encode_input(a) for a in self.args],
                "kwargs": {k: encode_input(v) for k, v in self.kwargs.items()},
                "watch": list(self.watch), "trace": self.trace,
                "stub": {k: encode_input(v) for k, v in self.stub.items()}}
        if self.torch_seed is not None:
            plan["torch_seed"] = int(self.torch_seed)
        if self.call_result is not None:
            plan["call_result"] = [encode_input(a) for a in self.call_result]
        if self.grad_of:
            plan["grad_of"] = [int(i) for i in self.grad_of]
        if self.torch_threads:
            plan["torch_threads"] = int(self.torch_threads)
        if self.facts:
            plan["facts"] = True
        if self.grad_sum:
            plan["grad_sum"] = True
        if self.repeat > 1:
            plan["repeat"] = min(int(self.repeat), MAX_REPEAT)
        if self.steps:
            plan["steps"] = [s.to_plan() for s in self.steps]
        if self.replace:
            plan["replace"] = {k: encode_input(v) for k, v in self.replace.items()}
        if self.as_object:
            plan["as_object"] = True
        if self.load_state is not None:
            plan["load_state"] = encode({str(k): np.asarray(v) for k, v in self.load_state.items()})
        for flag in ("eval_mode", "summary", "state_digest"):
            if getattr(self, flag):
                plan[flag] = True
        return plan


_UNSET = object()


@dataclass
class Step:
    """An operation the kernel makes after a call (or before it: ``before``): on what the call
    returned (``on`` None) or on its argument ``on``, follow ``path`` (attribute names, dict
    keys, list indices), then assign ``set`` there, or call what is there with ``call``
    (a tuple of arguments) and ``kwargs``, or just read it. ``Result.steps[i]`` is
    ``{"value": ...}`` or ``{"error": name, "message": ...}`` (a step's error does not stop the
    next ones; an error in a ``before`` step is the call's error). ``f4``: its floats come back
    as float32 (half the bytes: a large network's weights)."""
    path: tuple = ()
    on: int | None = None
    call: tuple | None = None
    kwargs: dict = field(default_factory=dict)
    set: object = _UNSET
    before: bool = False
    f4: bool = False

    def to_plan(self) -> dict:
        plan = {"path": list(self.path), "on": self.on}
        if self.call is not None:
            plan["call"] = [encode_input(a) for a in self.call]
            plan["kwargs"] = {k: encode_input(v) for k, v in self.kwargs.items()}
        if self.set is not _UNSET:
            plan["set"] = encode_input(self.set)
        if self.before:
            plan["before"] = True
        if self.f4:
            plan["f4"] = True
        return plan


def Get(*path, on=None, f4=False) -> Step:  # noqa: N802 - reads like a Step
    """A step that reads ``path`` (from what the call returned, or from argument ``on``)."""
    return Step(path=path, on=on, f4=f4)


def Method(name, *args, on=None, path=(), before=False, **kwargs) -> Step:  # noqa: N802
    """A step that calls method ``name`` of the object at ``path`` with ``args`` and ``kwargs``
    (after the call, or before it with ``before=True``)."""
    return Step(path=(*path, name), on=on, call=args, kwargs=kwargs, before=before)


def Set(path, value, on=None, before=False) -> Step:  # noqa: N802
    """A step that assigns ``value`` at ``path``."""
    return Step(path=tuple(path), on=on, set=value, before=before)


@dataclass(frozen=True, eq=False)
class New:
    """An argument the kernel builds: ``name(*args, **kwargs)`` with the notebook class (or
    function) ``name``, which the probe must be given."""
    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Tape:
    """An argument the kernel receives as a recording stand-in: every method called on it is
    logged (``Result.log``: ``[name, method, [args]]``, keyword arguments' values after the
    positional ones) and answered with the next value of
    ``answers[method]`` (the last repeated; None if absent)."""
    name: str
    answers: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class TapeClass:
    """For ``Call.replace``: called like a class, it logs ``[name, "__init__", args]`` and
    returns a :class:`Tape` of that name and answers."""
    name: str
    answers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Generator:
    """An argument the kernel receives as ``np.random.default_rng(seed)``."""
    seed: int


@dataclass(frozen=True)
class TestFunction:
    """An argument the kernel receives as one of ``nncourse.probe.TEST_FUNCTIONS``."""
    name: str
    params: dict


@dataclass(frozen=True, eq=False)
class Tensor:
    """An argument the kernel receives as a torch tensor (of ``array``'s dtype: pass float32,
    float64, int64 or uint8 arrays; or cast to ``dtype``: "uint8", "float32", "float64", "int64")."""
    array: np.ndarray
    requires_grad: bool = False
    dtype: str | None = None


@dataclass(frozen=True, eq=False)
class Sequential:
    """An argument the kernel receives as ``nn.Sequential`` of the given layers:
    ``("Linear", weight (out, in), bias (out,))``, ``("Conv2d", weight (out, in, k, k), bias,
    stride, padding)``, ``("MaxPool2d", k)``, ``("Dropout", p)``, ``("ReLU",)``, ``("Tanh",)``,
    ``("Sigmoid",)``, ``("Flatten",)``, ``("BatchNorm1d", features)`` or ``("BatchNorm1d",
    features, running_mean, running_var)``, ``("Monitor",)`` (the identity counting its forward
    passes, in training mode and with gradients, in its buffers: ``nncourse.probe``). The
    weights are the grader's, so it can replay from the same start. ``dtype``: "f4"
    (float32) or "f8" (float64); ``training=False``: the network starts in evaluation mode."""
    layers: tuple
    dtype: str = "f4"
    training: bool = True


@dataclass(frozen=True, eq=False)
class Pixels:
    """An argument the kernel receives as ``(pixels / 255 - mean) / std`` (``dtype`` "f4" or
    "f8"; a torch tensor if ``tensor``), sent as the uint8 ``pixels`` (4 times smaller than
    float32): images for the kernel to train on."""
    pixels: np.ndarray
    mean: float = 0.0
    std: float = 1.0
    dtype: str = "f4"
    tensor: bool = False


@dataclass(frozen=True, eq=False)
class Loader:
    """An argument the kernel receives as ``DataLoader(TensorDataset(x, y), batch_size,
    shuffle)`` (``x``, ``y``: :class:`Tensor` or :class:`Pixels` with ``tensor=True``); when it
    shuffles, a generator seeded with ``seed`` draws the order."""
    x: object
    y: object
    batch_size: int
    shuffle: bool = False
    seed: int | None = None


@dataclass(frozen=True, eq=False)
class Of:
    """An argument the kernel computes from argument ``arg`` of the same call (plain, or
    computed earlier in the list) with ``nncourse.probe.TENSOR_FUNCTIONS[name](that argument,
    **params)`` (a loss of a parameter tensor; "sgd" (lr, momentum) of a network,
    "step_lr" (gamma) of that optimizer, "cross_entropy_loss"), before each call when the call
    is repeated, or once for all of them with ``keep`` (an optimizer and its momentum)."""
    name: str
    arg: int
    params: dict
    keep: bool = False


def encode_input(value):
    if isinstance(value, Of):
        data = {"__of__": value.name, "arg": int(value.arg), "params": encode(value.params)}
        if value.keep:
            data["keep"] = True
        return data
    if isinstance(value, Generator):
        return {"__rng__": int(value.seed)}
    if isinstance(value, TestFunction):
        return {"__function__": value.name, "params": encode(value.params)}
    if isinstance(value, Tensor):
        data = {"__tensor__": encode(np.asarray(value.array)), "requires_grad": bool(value.requires_grad)}
        if value.dtype is not None:
            data["dtype"] = value.dtype
        return data
    if isinstance(value, Pixels):
        pixels = np.ascontiguousarray(value.pixels, dtype=np.uint8)
        return {"__pixels__": {"__nd__": base64.b64encode(pixels.tobytes()).decode("ascii"), "dtype": "u1",
                               "shape": list(pixels.shape)},
                "mean": float(value.mean), "std": float(value.std), "dtype": value.dtype, "tensor": bool(value.tensor)}
    if isinstance(value, Loader):
        return {"__loader__": [encode_input(value.x), encode_input(value.y)], "batch_size": int(value.batch_size),
                "shuffle": bool(value.shuffle), "seed": None if value.seed is None else int(value.seed)}
    if isinstance(value, New):
        return {"__new__": value.name, "args": [encode_input(a) for a in value.args],
                "kwargs": {k: encode_input(v) for k, v in value.kwargs.items()}}
    if isinstance(value, Tape):
        return {"__tape__": value.name, "answers": encode({k: list(v) for k, v in value.answers.items()})}
    if isinstance(value, TapeClass):
        return {"__tape_class__": value.name, "answers": encode({k: list(v) for k, v in value.answers.items()})}
    if isinstance(value, (list, tuple)) and any(isinstance(v, (New, Tape, Tensor, Sequential, Pixels, Loader)) for v in value):
        items = [encode_input(v) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, Sequential):
        dtype = {"f4": np.float32, "f8": np.float64}[value.dtype]
        data = {"__sequential__": [_layer_spec(layer, dtype) for layer in value.layers]}
        if value.dtype != "f4":
            data["dtype"] = value.dtype
        if not value.training:
            data["training"] = False
        return data
    return encode(value)


def _layer_spec(layer: tuple, dtype) -> dict:
    kind = layer[0]
    if kind == "Linear":
        return {"layer": kind, "weight": encode(np.asarray(layer[1], dtype=dtype)),
                "bias": encode(np.asarray(layer[2], dtype=dtype))}
    if kind == "Conv2d":
        return {"layer": kind, "weight": encode(np.asarray(layer[1], dtype=dtype)),
                "bias": encode(np.asarray(layer[2], dtype=dtype)), "stride": int(layer[3]), "padding": int(layer[4])}
    if kind == "MaxPool2d":
        return {"layer": kind, "kernel": int(layer[1])}
    if kind == "BatchNorm1d":
        spec = {"layer": kind, "features": int(layer[1])}
        if len(layer) == 4:
            spec["mean"], spec["var"] = (encode(np.asarray(v, dtype=dtype)) for v in layer[2:])
        return spec
    if kind == "Dropout":
        return {"layer": kind, "p": float(layer[1])}
    return {"layer": kind}


@dataclass
class Result:
    """What one call gave back: ``value`` (decoded data), ``after`` (watched arguments),
    ``traces`` (name -> {"calls": [{"args": {...}, "value": ...}], "count": n, "errors": n}),
    ``result_value`` (see ``Call.call_result``), ``grads`` (list, or the French reason there
    is none; see ``Call.grad_of``), ``facts`` (see ``Call.facts`` and ``read_facts``). An
    ``nn.Module`` comes back as ``ModuleState``."""
    fn: str
    value: object = None
    error: str | None = None
    message: str = ""
    after: list = field(default_factory=list)
    traces: dict = field(default_factory=dict)
    result_value: object = None
    grads: object = None
    facts: dict | None = None
    again: list = field(default_factory=list)
    steps: list = field(default_factory=list)
    log: list = field(default_factory=list)
    where: str = ""          # the student's line that raised, with the shapes it names

    def error_message(self) -> str:
        """The student's error in French, one line (shape errors named, with the line)."""
        place = f" {self.where}" if self.where else ""
        problem = shape_problem(self.message)
        if problem:
            return (f"{self.fn} : {problem[0]}{place}.\n  Piste : {problem[1]} "
                    f"(message d'origine : {self.error}: {self.message[:200]})")
        return f"{self.fn} a levé une erreur{place} : {self.error}: {self.message}".rstrip(": ")


def check(grade_id: str, module: str | None = None, files: bool = False):
    """Register a generator function as the hidden check of test cell ``grade_id``.

    ``files``: the check also receives the files the student handed in with the notebook,
    ``fn(rng, files)`` with ``files`` {name: Path} (read here, in the grader, before the
    notebook runs; untrusted), or None outside grading (unit tests, calibration).

    The check belongs to the assignment whose checks module (or package) defines it. A check
    shared by two assignments (``concepts``) is registered by each of them:
    ``check("test_softmax", module=__name__)(concepts.softmax_rows)``, or a
    ``functools.partial`` of it with the assignment's own parameters."""
    def register(fn):
        owner = (module or fn.__module__).split("autograder.checks.", 1)[-1].split(".")[0]
        target = getattr(fn, "func", fn)         # a functools.partial: the shared function

        def run(rng, files=None):
            return fn(rng, files) if run.wants_files else fn(rng)
        run.wants_files = files
        run.__name__ = run.__qualname__ = getattr(target, "__name__", grade_id)
        run.__doc__ = target.__doc__
        run.grade_id = grade_id
        REGISTRY.setdefault(owner, {})[grade_id] = run
        return run
    return register


def fresh_seed() -> int:
    return int(os.environ.get(SEED_ENV_VAR) or secrets.randbits(32))


class Pending:
    """A check between its plan and its verdict (the generator waits on its ``yield``)."""

    def __init__(self, fn, seed: int | None = None, files: dict | None = None):
        self.fn, self.seed = fn, fresh_seed() if seed is None else seed
        self.nonce = secrets.token_hex(8)
        self.generator = fn(np.random.default_rng(self.seed), files) if getattr(fn, "wants_files", False) \
            else fn(np.random.default_rng(self.seed))
        self.calls = next(self.generator)

    def plan(self) -> dict:
        return {"check": self.fn.grade_id, "nonce": self.nonce, "calls": [c.to_plan() for c in self.calls]}

    def verdict(self, raw_results) -> tuple[bool, str]:
        """(passed, French message) from the data the kernel sent (untrusted)."""
        try:
            results = self.read(raw_results)
            for call, r in zip(self.calls, results):
                if call.judge_errors:
                    continue
                if r.error == "NotImplementedError":
                    fail(f"{r.fn} n'est pas encore écrite : remplacez raise NotImplementedError() par votre code.")
                if r.error:
                    fail(r.error_message())
            try:
                self.generator.send(results)
            except StopIteration as done:
                return True, f"✔ {done.value or 'Test réussi.'} (graine {self.seed})"
            raise RuntimeError(f"check {self.fn.__name__} yielded twice")
        except CheckFailed as exc:
            return False, f"{exc} (graine {self.seed})" if "\n" not in str(exc) else \
                str(exc).replace("\n", f" (graine {self.seed})\n", 1)
        finally:
            self.generator.close()

    def read(self, raw_results) -> list[Result]:
        if not isinstance(raw_results, list) or len(raw_results) != len(self.calls):
            raise ProbeDataError(f"{len(self.calls)} results expected")
        results = []
        for call, raw in zip(self.calls, raw_results):
            if not isinstance(raw, dict):
                raise ProbeDataError("a result is not an object")
            r = Result(call.fn, error=raw.get("error"), message=str(raw.get("message", ""))[:500],
                       where=str(raw.get("where") or "")[:400])
            if r.error is not None and not isinstance(r.error, str):
                raise ProbeDataError("bad error name")
            r.value = decode(raw.get("value"))
            after = decode(raw.get("after") or [])
            r.after = after if isinstance(after, list) else []
            r.traces = read_traces(raw.get("traces") or {}, call.trace)
            r.result_value = decode(raw.get("result_value"))
            r.grads = decode(raw.get("grads"))
            if r.grads is not None and not isinstance(r.grads, (list, str)):
                raise ProbeDataError("malformed gradients")
            r.facts = read_facts(raw.get("facts")) if call.facts else None
            again = raw.get("again") or []
            if not isinstance(again, list) or len(again) > max(call.repeat - 1, 0):
                raise ProbeDataError("malformed repeated calls")
            for a in again:
                if not isinstance(a, dict):
                    raise ProbeDataError("malformed repeated calls")
                after = decode(a.get("after") or [])
                r.again.append(Result(call.fn, value=decode(a.get("value")),
                                      after=after if isinstance(after, list) else [],
                                      facts=read_facts(a.get("facts")) if call.facts else None))
            r.steps = read_steps(raw.get("steps"), call) if call.steps and r.error is None else []
            r.log = read_log(raw.get("log"))
            results.append(r)
        return results


def read_traces(raw, asked: dict) -> dict:
    if not isinstance(raw, dict):
        raise ProbeDataError("traces are not an object")
    traces = {}
    for name, spec in asked.items():
        t = raw.get(name) or {"calls": [], "count": 0}
        calls, count, errors = t.get("calls"), t.get("count"), t.get("errors", 0)
        if not isinstance(calls, list) or not isinstance(count, int) or not isinstance(errors, int) \
                or len(calls) > spec.get("calls", 0):
            raise ProbeDataError(f"malformed trace of {name}")
        entries = []
        for c in calls:
            if not isinstance(c, dict) or not isinstance(c.get("args", {}), dict):
                raise ProbeDataError(f"malformed trace of {name}")
            entries.append({"args": {k: decode(v) for k, v in c.get("args", {}).items()},
                            "value": decode(c.get("value"))})
        traces[name] = {"calls": entries, "count": count, "errors": errors}
    return traces


class StepValue:
    """What one :class:`Step` gave: ``value``, or ``error`` (its name) and ``message``."""

    def __init__(self, value=None, error: str | None = None, message: str = ""):
        self.value, self.error, self.message = value, error, message

    def __repr__(self):
        return f"StepValue({self.value!r})" if self.error is None else f"StepValue({self.error}: {self.message})"


def read_steps(raw, call: Call) -> list:
    """One :class:`StepValue` per step (None for a ``before`` step); ProbeDataError otherwise."""
    if not isinstance(raw, list) or len(raw) != len(call.steps):
        raise ProbeDataError("malformed steps")
    out = []
    for step, item in zip(call.steps, raw):
        if step.before:
            if item is not None:
                raise ProbeDataError("malformed steps")
            out.append(None)
            continue
        if not isinstance(item, dict) or not (set(item) == {"value"} or set(item) == {"error", "message"}):
            raise ProbeDataError("malformed steps")
        if "error" in item:
            if not isinstance(item["error"], str) or not isinstance(item["message"], str):
                raise ProbeDataError("malformed steps")
            out.append(StepValue(error=item["error"][:100], message=item["message"][:500]))
        else:
            out.append(StepValue(decode(item["value"])))
    return out


def read_log(raw) -> list:
    """``[[tape, method, [args]], ...]`` (the calls the tapes received), checked."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 2_000:
        raise ProbeDataError("malformed log")
    out = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], str) and isinstance(entry[2], list)):
            raise ProbeDataError("malformed log")
        out.append((entry[0][:100], entry[1][:100], decode(entry[2])))
    return out


FACT_KEYS = {"dtype", "requires_grad", "is_leaf", "shares", "grad_abs_max"}


def read_facts(raw) -> dict | None:
    """``{"value": [facts or None, ...], "args": [...]}``, each facts a dict ``{"dtype": str,
    "requires_grad": bool, "is_leaf": bool, "shares": [int, ...], "grad_abs_max": float or
    None}`` (None: not a tensor; grad_abs_max: largest |.grad| of a leaf, None if no .grad);
    None when the call sent none (it raised). ProbeDataError for anything else."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) != {"value", "args"}:
        raise ProbeDataError("malformed facts")
    out = {}
    for part in ("value", "args"):
        items = raw[part]
        if not isinstance(items, list) or len(items) > 16:
            raise ProbeDataError("malformed facts")
        out[part] = []
        for f in items:
            if f is not None and not (
                    isinstance(f, dict) and set(f) == FACT_KEYS and isinstance(f["dtype"], str)
                    and len(f["dtype"]) <= 40 and isinstance(f["requires_grad"], bool)
                    and isinstance(f["is_leaf"], bool) and isinstance(f["shares"], list)
                    and len(f["shares"]) <= 16
                    and all(isinstance(i, int) and not isinstance(i, bool) for i in f["shares"])
                    and (f["grad_abs_max"] is None or (isinstance(f["grad_abs_max"], (int, float))
                                                       and not isinstance(f["grad_abs_max"], bool)))):
                raise ProbeDataError("malformed facts")
            out[part].append(f)
    return out


def run_locally(fn, seed: int | None = None, files: dict | None = None, **functions) -> tuple[bool, str]:
    """Plan, probe in this process, and judge: for unit tests and calibration (never for
    grading student code, which runs in the sandbox). ``files``: the handed-in files."""
    import json

    from nncourse.probe import run_call

    pending = Pending(fn, seed, files)
    plan = json.loads(json.dumps(pending.plan()))
    results = json.loads(json.dumps([run_call(c, functions) for c in plan["calls"]]))
    return pending.verdict(results)
