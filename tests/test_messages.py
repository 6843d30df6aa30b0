"""The student's errors in French, in one line (nncourse.messages), in an IPython shell."""

from __future__ import annotations

import numpy as np
import pytest

from nncourse import messages
from nncourse.checks import CheckFailed, check_close

NOTEBOOK = '''
import numpy as np

def err(a):
    raise NotImplementedError()

def backward(X, params):
    dZ1 = np.ones((100, 30))
    dW1 = X.T @ dZ1 + params["b1"]
    return dW1

def scale(v):
    return v / 0

class Linear:
    def __init__(self, n):
        raise NotImplementedError()

    def backward(self, X, delta):
        return X @ delta
'''


@pytest.fixture
def notebook(tmp_path):
    """The cell's functions, compiled from a file outside the libraries, as a kernel does."""
    path = tmp_path / "cell.py"
    path.write_text(NOTEBOOK)
    namespace = {}
    exec(compile(NOTEBOOK, str(path), "exec"), namespace)
    return namespace


def _explained(fn, *args):
    with pytest.raises(Exception) as info:
        fn(*args)
    return messages.explain(info.value, info.tb)


def test_an_answer_not_written_yet_is_named(notebook):
    lines = _explained(notebook["err"], 3)
    assert lines == ["✘ err n'est pas encore écrite : dans sa cellule, remplacez raise NotImplementedError() par "
                     "votre code, exécutez-la, puis exécutez de nouveau cette cellule-ci."]


def test_a_method_is_named_with_its_class(notebook):
    lines = _explained(notebook["Linear"], 3)
    assert lines[0].startswith("✘ Linear.__init__ n'est pas encore écrite : dans sa cellule")
    linear = object.__new__(notebook["Linear"])
    lines = _explained(linear.backward, np.ones((4, 3)), np.ones((4, 2)))
    assert lines[0] == ("✘ Dans Linear.backward, ligne « return X @ delta » : produit matriciel impossible : "
                        "X (4, 3), delta (4, 2).")


def test_a_shape_error_shows_the_line_and_the_shapes(notebook):
    lines = _explained(notebook["backward"], np.ones((200, 2)), {"b1": np.zeros((1, 30))})
    assert lines[0] == ("✘ Dans backward, ligne « dW1 = X.T @ dZ1 + params[\"b1\"] » : produit matriciel impossible : "
                        "X.T (2, 200), dZ1 (100, 30), params[\"b1\"] (1, 30).")
    assert "transposée" in lines[1] and "matmul" in lines[2]


def test_torch_shape_errors_are_recognised(notebook):
    torch = pytest.importorskip("torch")
    lines = _explained(notebook["backward"], torch.ones(200, 2), {"b1": torch.zeros(1, 30)})
    assert "Dans backward" in lines[0] and "X.T (2, 200)" in lines[0] and "impossible" in lines[0]


def test_other_errors_in_the_students_code_take_one_line(notebook):
    lines = _explained(notebook["scale"], 3)
    assert lines[0] == "✘ Dans scale, ligne « return v / 0 » : ZeroDivisionError: division by zero"
    assert "%tb" in lines[1]


def test_an_undefined_name_points_at_the_earlier_cells():
    lines = _explained(lambda: params)  # noqa: F821 - the name a failed training cell did not create
    assert lines[0].startswith("✘ params n'est pas défini : la cellule qui le crée")


def test_an_undefined_name_names_the_cell_that_failed_to_create_it():
    cells = ["import numpy as np\nX = np.ones(3)",
             "# training\nparams, losses = train(X, y)\nprint(losses[-1])",
             "def train(X, y):\n    weights = 1\n    return weights",
             "accuracy(predict(X, params), y)"]          # the cell that raised, last
    assert messages.defining_cell("params", cells) == "params, losses = train(X, y)"
    assert messages.defining_cell("np", cells) == "import numpy as np"
    assert messages.defining_cell("weights", cells) is None       # a function's local
    assert messages.defining_cell("model", cells) is None          # never run
    assert messages.defining_cell("accuracy", cells[-1:]) is None  # the failing cell itself is not counted


def test_errors_raised_in_library_code_alone_keep_their_traceback():
    with pytest.raises(ValueError) as info:
        np.reshape(np.ones(5), (2, 2))
    tb = info.tb
    while messages._is_notebook_code(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next                           # numpy's own frames only
    assert messages.explain(info.value, tb) is None
    assert messages.explain(info.value, info.tb)[0].startswith("✘ Dans test_errors_raised")


def test_check_failed_renders_its_french_message_alone():
    with pytest.raises(CheckFailed) as info:
        check_close("err(5)", 40.0, 41.0, hint="Err(a) = a² + a·x + 1.")
    lines = info.value._render_traceback_()
    assert lines == ["\x1b[31m✘ err(5) = 40., attendu 41. (écart max 1).\x1b[0m", "  Piste : Err(a) = a² + a·x + 1."]
    assert messages.explain(info.value, info.tb) is None


def test_in_ipython_the_french_line_replaces_the_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert messages.install() and messages.install()       # installed once
        shell.run_cell("def f(a):\n    raise NotImplementedError()\n")
        capsys.readouterr()
        shell.run_cell("f(1)")
        out = capsys.readouterr()
        text = out.out + out.err
        assert "✘ f n'est pas encore écrite" in text and "Traceback" not in text
        shell.run_cell("int('x')")
        out = capsys.readouterr()
        assert "✘ Dans la cellule, ligne « int('x') » : ValueError" in out.out + out.err
        shell.run_cell("trained = int('x')", store_history=True)   # fails before it creates its name
        capsys.readouterr()
        shell.run_cell("trained + 1", store_history=True)
        out = capsys.readouterr()
        assert "✘ trained n'est pas défini : la cellule qui le crée (« trained = int('x') »)" in out.out + out.err
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()


def test_a_graded_call_that_crashes_names_the_line_and_the_shapes(notebook):
    """The probe sends where the student's code raised; the grader says it in French."""
    from autograder.checks.probing import Call, check, run_locally

    @check("test_backward_crash")
    def backward_check(rng):
        """backward on the grader's inputs."""
        yield [Call("backward", (np.ones((200, 2)), {"b1": np.zeros((1, 30))}))]
        return "ok"

    passed, message = run_locally(backward_check, seed=1, backward=notebook["backward"])
    assert not passed
    assert message.startswith("backward : produit matriciel impossible dans backward, ligne « dW1 = X.T @ dZ1 + "
                              "params[\"b1\"] » (X.T (2, 200), dZ1 (100, 30), params[\"b1\"] (1, 30)).")
    assert "Piste : A @ B" in message and "(graine 1)" in message


def test_a_wrong_matrix_is_said_in_one_line():
    want = np.arange(50.0).reshape(5, 10)
    got = want.copy()
    got[3, 7] += 2.5
    got[0, 0] += 0.5
    with pytest.raises(CheckFailed) as info:
        check_close("forward(X, W, b)", got, want)
    first = info.value._render_traceback_()[0]
    assert first == ("\x1b[31m✘ forward(X, W, b) (forme (5, 10)) : 2 valeur(s) sur 50 fausse(s) ; la plus éloignée, "
                     "en [3, 7], vaut 39.5 au lieu de 37.\x1b[0m")
    assert len(info.value._render_traceback_()) == 1
