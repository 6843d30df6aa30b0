"""Copied work: a planted pair (renamed variables, reordered functions) among 20 honest
submissions of 01_moons_numpy written in different (correct) styles ranks first, and no
honest pair reaches the threshold."""

from __future__ import annotations

import io
import random
import tokenize

import pytest

from autograder import course
from autograder.similarity import THRESHOLD, answers, code_tokens, rank_pairs
from autograder.submissions import answer_cells, read, reference_submission, write_submission

A = "01_moons_numpy"

SIGMOID = ["return 1.0 / (1.0 + np.exp(-z))", "return 1 / (1 + np.exp(-z))",
           "e = np.exp(-z)\n    return 1.0 / (1.0 + e)", "return 0.5 * (1.0 + np.tanh(0.5 * z))"]
RELU = ["return np.maximum(z, 0.0)", "return np.where(z > 0, z, 0.0)", "return z * (z > 0)",
        "return np.clip(z, 0.0, None)"]
UNPACK = ['W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]',
          'W1 = params["W1"]\n    b1 = params["b1"]\n    W2 = params["W2"]\n    b2 = params["b2"]']
LAYER1 = ["Z1 = W1 @ X + b1", "Z1 = np.dot(W1, X) + b1", "Z1 = W1.dot(X) + b1"]
ACT = ['A1 = np.tanh(Z1) if activation == "tanh" else relu(Z1)',
       'if activation == "tanh":\n        A1 = np.tanh(Z1)\n    else:\n        A1 = relu(Z1)',
       'act = {"tanh": np.tanh, "relu": relu}[activation]\n    A1 = act(Z1)']
LAYER2 = ["Z2 = W2 @ A1 + b2\n    yhat = sigmoid(Z2)", "Z2 = np.dot(W2, A1) + b2\n    yhat = sigmoid(Z2)",
          "Z2 = W2.dot(A1) + b2\n    yhat = sigmoid(Z2)"]
CACHE = ['return yhat, {"Z1": Z1, "A1": A1, "Z2": Z2, "yhat": yhat}',
         'cache = dict(Z1=Z1, A1=A1, Z2=Z2, yhat=yhat)\n    return yhat, cache',
         'cache = {}\n    cache["Z1"] = Z1\n    cache["A1"] = A1\n    cache["Z2"] = Z2\n    cache["yhat"] = yhat\n'
         '    return yhat, cache']
PREDICT = ["return (yhat > 0.5).astype(np.float64)", "return np.where(yhat > 0.5, 1.0, 0.0)",
           "return (yhat > 0.5) * 1.0", "pred = np.zeros_like(yhat)\n    pred[yhat > 0.5] = 1.0\n    return pred"]
ACCURACY = ["return float(np.mean(pred == y))", "return float((pred == y).mean())",
            "return np.sum(pred == y) / y.size", "good = 0\n    for p, t in zip(pred.ravel(), y.ravel()):\n"
            "        good += int(p == t)\n    return good / y.size"]
LOG = ["if t % 100 == 0:\n            losses.append(bce_loss(yhat, y))",
       "if not t % 100:\n            losses.append(bce_loss(yhat, y))",
       "if t % 100 == 0:\n            loss = bce_loss(yhat, y)\n            losses.append(loss)"]
UPDATE = ['for name in ("W1", "b1", "W2", "b2"):\n            params[name] -= lr * grads[name]',
          'for name in params:\n            params[name] = params[name] - lr * grads[name]',
          'params["W1"] -= lr * grads["W1"]\n        params["b1"] -= lr * grads["b1"]\n'
          '        params["W2"] -= lr * grads["W2"]\n        params["b2"] -= lr * grads["b2"]']
LOOP = ["for t in range(n_iter):", "t = 0\n    while t < n_iter:"]


def styled_cells(rng: random.Random) -> dict:
    """grade_id -> source of four answer cells, each part written one of several correct ways."""
    c = rng.choice
    loop = c(LOOP)
    step = "\n        t += 1" if loop.startswith("t = 0") else ""
    forward = (f'def sigmoid(z):\n    {c(SIGMOID)}\n\n\ndef relu(z):\n    {c(RELU)}\n\n\n'
               f'def forward(X, params, activation="tanh"):\n    {c(UNPACK)}\n    {c(LAYER1)}\n    {c(ACT)}\n'
               f'    {c(LAYER2)}\n    {c(CACHE)}\n')
    predict = (f'def predict(X, params, activation="tanh"):\n    yhat, _ = forward(X, params, activation)\n'
               f'    {c(PREDICT)}\n\n\ndef accuracy(pred, y):\n    {c(ACCURACY)}\n')
    train = (f'def train(X, y, d=10, lr=0.01, n_iter=2000, activation="tanh", rng=None):\n'
             f'    rng = np.random.default_rng(rng)\n    params = init_params(d, rng)\n    losses = []\n'
             f'    {loop}\n        yhat, cache = forward(X, params, activation)\n        {c(LOG)}\n'
             f'        grads = backward(X, y, params, cache, activation)\n        {c(UPDATE)}{step}\n'
             f'    return params, losses\n')
    err = c(["return a ** 2 + a * x + 1", "return a * a + x * a + 1", "return 1 + a * (a + x)"])
    prime = c(["return 2 * a + x", "return x + 2 * a", "return 2.0 * a + x"])
    gstep = c(["return a - lr * grad", "a = a - lr * grad\n    return a", "return a - grad * lr"])
    gd = (f"def err(a, x=3.0):\n    {err}\n\n\ndef err_prime(a, x=3.0):\n    {prime}\n\n\n"
          f"def gradient_step(a, grad, lr):\n    {gstep}\n")
    return {"forward_code": forward, "predict_code": predict, "train_code": train, "gradient_descent_1d": gd}


RENAME = {"yhat": "y_pred", "params": "theta", "cache": "memo", "Z1": "pre_act", "A1": "hidden",
          "Z2": "logits", "losses": "history", "grads": "gradients", "pred": "labels_hat", "z": "u",
          "W1": "w_in", "b1": "bias_in", "W2": "w_out", "b2": "bias_out", "name": "key", "t": "step"}


def disguise(source: str) -> str:
    """The copier's work: rename variables (names only, not strings) and reverse the functions."""
    toks = list(tokenize.generate_tokens(io.StringIO(source).readline))
    out, depth = [], 0
    for tok, nxt in zip(toks, toks[1:] + toks[-1:]):
        depth += (tok.string in "([{") - (tok.string in ")]}") if tok.type == tokenize.OP else 0
        keyword_arg = depth > 0 and nxt.string == "="
        name = RENAME.get(tok.string, tok.string) if tok.type == tokenize.NAME and not keyword_arg else tok.string
        out.append((tok.type, name))
    renamed = tokenize.untokenize(out)
    functions = [f for f in renamed.split("\n\n\n") if f.strip()]
    return "\n\n\n".join(reversed(functions)) + "\n"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """submitted/ with 20 honest students and one who copied student s00."""
    workdir = tmp_path_factory.mktemp("cohort")
    source = read(course.SOURCE / A / "moons_numpy.ipynb")
    release = read(course.RELEASE / A / "moons_numpy.ipynb")
    written = {}
    for i in range(20):
        nb = reference_submission(source, release)
        cells = answer_cells(nb)
        for gid, text in styled_cells(random.Random(i)).items():
            cells[gid].source = text
        written[f"s{i:02d}"] = nb
    copy = reference_submission(source, release)
    copied = answer_cells(written["s00"])
    for gid, cell in answer_cells(copy).items():
        if gid in styled_cells(random.Random(0)):  # the cells s00 wrote in their own style
            cell.source = disguise(copied[gid].source)
    written["copier"] = copy
    for sid, nb in written.items():
        write_submission(workdir, sid, A, "moons_numpy", nb)
    return workdir


def test_normalisation_ignores_names_and_function_order():
    one = "def f(a, b):\n    '''doc'''\n    return a * b + 1\n\n\ndef g(x):\n    return np.exp(x)\n"
    two = "def h(v):\n    return np.exp(v)\n\n\ndef k(p, q):\n    return p * q + 1\n"
    assert code_tokens(one) == code_tokens(two)
    assert code_tokens("def f(x):\n    return np.exp(x)\n") != code_tokens("def f(x):\n    return np.log(x)\n")


def test_planted_pair_ranks_first_and_no_honest_pair_is_flagged(cohort):
    submissions, stubs = answers(cohort, A)
    assert len(submissions) == 21
    ranked = rank_pairs(submissions, stubs, threshold=0.0)
    assert {ranked[0].a, ranked[0].b} == {"copier", "s00"}
    assert ranked[0].score >= 0.9
    honest = [p for p in ranked if "copier" not in (p.a, p.b)]
    assert all(p.score < THRESHOLD for p in honest), honest[:3]
    flagged = rank_pairs(submissions, stubs)
    assert [(p.a, p.b) for p in flagged] == [("copier", "s00")]
    assert {g for g, _, _ in flagged[0].cells} >= {"forward_code", "train_code"}


def test_shared_reference_code_is_not_evidence(cohort):
    """Every student kept the reference answers of the other cells: nobody is flagged for those."""
    submissions, stubs = answers(cohort, A)
    only_common = {s: {g: c for g, c in cells.items() if g == "backward_code"} for s, cells in submissions.items()}
    assert rank_pairs(only_common, stubs, threshold=0.0) == []
