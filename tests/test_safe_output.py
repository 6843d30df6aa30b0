"""autograder.safe_output (CapOutputs) and the feedback's HideHiddenTests, on notebooks built in code."""

from __future__ import annotations

import base64
import copy

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.utils import determine_grade

from autograder.feedback import HIDDEN_NOTE, HideHiddenTests
from autograder.safe_output import CapOutputs, clean_html, clean_svg, human

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 64).decode()


def display(data: dict):
    return new_output("display_data", data=data)


def grade_cell(outputs, points=1):
    cell = new_code_cell("check()", outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "t", "locked": True, "points": points,
                                 "solution": False, "schema_version": 3}
    return cell


def run(*cells, **config):
    nb = new_notebook(cells=list(cells))
    nb, _ = CapOutputs(**config).preprocess(nb, {})
    nbformat.validate(nb)
    return nb


def texts(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


# ---------------------------------------------------------------- sizes

def test_small_outputs_are_unchanged():
    outputs = [new_output("stream", name="stdout", text="perte : 0.3\n"),
               display({"image/png": PNG, "text/plain": "<Figure>"}),
               new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)]
    nb = run(new_code_cell("x", outputs=copy.deepcopy(outputs)))
    assert nb.cells[0].outputs == outputs


def test_a_60_MB_image_is_replaced_by_a_note():
    huge = "A" * 60_000_000
    nb = run(new_code_cell("plt.show()", outputs=[display({"image/png": huge, "text/plain": "<Figure>"})]))
    [out] = nb.cells[0].outputs
    assert out == {"output_type": "stream", "name": "stdout",
                   "text": "\n[sortie tronquée : 60 Mo dépassent la limite de 2 Mo par cellule]\n"}


def test_an_output_flood_keeps_its_head_and_a_note():
    flood = [new_output("stream", name="stdout", text="x" * 1000 + "\n") for _ in range(5000)]
    nb = run(new_code_cell("for ...", outputs=flood))
    outputs = nb.cells[0].outputs
    assert sum(len(o.text) for o in outputs) < 2_000_000
    assert outputs[-1].text.startswith("\n[sortie tronquée : 5,3 Mo dépassent la limite de 2 Mo par cellule")
    assert all(o.name == "stdout" for o in outputs)


def test_the_notebook_cap_applies_across_cells():
    cells = [new_code_cell(f"c{n}", outputs=[display({"image/png": "A" * 1_500_000})]) for n in range(10)]
    nb = run(*cells)
    kept = [c for c in nb.cells if "image/png" in c.outputs[0].get("data", {})]
    assert len(kept) == 6
    assert "par notebook" in texts(nb.cells[6])


def test_error_output_keeps_its_kind_name_and_message():
    err = new_output("error", ename="AssertionError", evalue="poids faux : " + "9" * 10_000,
                     traceback=["line " * 1000] * 500 + ["AssertionError: poids faux"])
    cell = grade_cell([display({"image/png": "A" * 3_000_000}), err])
    nb = run(cell)
    kinds = [o.output_type for o in nb.cells[0].outputs]
    assert kinds == ["stream", "error"]
    error = nb.cells[0].outputs[1]
    assert error.ename == "AssertionError" and error.evalue.startswith("poids faux : 999")
    assert error.traceback[-1] == "AssertionError: poids faux"
    assert sum(map(len, error.traceback)) < 20_000
    assert determine_grade(nb.cells[0]) == (0, 1)


def test_truncation_never_changes_a_grade():
    cases = [
        [new_output("stream", name="stdout", text="o" * 3_000_000), new_output("stream", name="stderr", text="e" * 3_000_000)],
        [new_output("stream", name="stdout", text="o" * 3_000_000)],
        [display({"image/png": "A" * 3_000_000}), new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)],
        [new_output("execute_result", data={"text/plain": "0.25", "text/html": "<b>" + "x" * 3_000_000 + "</b>"},
                    execution_count=1)],
        [display({"image/png": "A" * 3_000_000}), new_output("error", ename="E", evalue="v", traceback=[])],
    ]
    for outputs in cases:
        before = determine_grade(grade_cell(copy.deepcopy(outputs), points=2))
        nb = run(grade_cell(outputs, points=2))
        assert determine_grade(nb.cells[0]) == before
        assert not any(o.get("name") == "stderr" and "tronquée" in o.get("text", "") for o in nb.cells[0].outputs)


def test_human_sizes():
    assert [human(n) for n in (60_000_000, 2_000_000, 1_500_000, 300_000)] == ["60 Mo", "2 Mo", "1,5 Mo", "300 ko"]


# ---------------------------------------------------------------- sanitising

@pytest.mark.parametrize("html, survives, removed", [
    ("<b>gras</b><script>alert(1)</script>", "<b>gras</b>", "alert"),
    ("<img src=x onerror=alert(1)>", "<img>", "onerror"),
    ('<a href="javascript:alert(1)">clic</a>', "<a>clic</a>", "javascript"),
    ('<img src="http://evil.example/x.png">', "<img>", "evil"),
    ('<img src="//evil.example/x.png">', "<img>", "evil"),
    ('<a href="https://evil.example">lien</a>', "<a>lien</a>", "evil"),
    ('<iframe src="https://evil.example"></iframe>ok', "ok", "iframe"),
    ('<form action="https://evil.example"><input></form>ok', "ok", "form"),
    ('<style>body{background:url(https://evil.example)}</style>ok', "ok", "evil"),
    ('<div style="background:url(https://evil.example)">ok</div>', "<div>ok</div>", "evil"),
    ('<object data="x.swf"></object><embed src="x">ok', "ok", "x.swf"),
    ('<img src="data:text/html;base64,PHNjcmlwdD4=">', "<img>", "data:text"),
    (f'<img src="data:image/png;base64,{PNG}">', f'<img src="data:image/png;base64,{PNG}">', "onerror"),
    ("<table><tr><td>1</td></tr></table>", "<table><tbody><tr><td>1</td></tr></tbody></table>", "script"),
])
def test_clean_html(html, survives, removed):
    cleaned = clean_html(html)
    assert cleaned == survives
    assert removed not in cleaned


def test_svg_loses_scripts_handlers_and_external_links():
    svg = ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="alert(1)">'
           '<script>alert(2)</script><rect width="10" height="5" onclick="alert(3)" fill="red"/>'
           '<image xlink:href="http://evil.example/x.png"/><use xlink:href="#p1"/>'
           '<use xlink:href="http://evil.example/s.svg#a"/><foreignObject><div>x</div></foreignObject></svg>')
    assert clean_svg(svg) == ('<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
                              '<rect width="10" height="5" fill="red" /><use xlink:href="#p1" /><use /></svg>')
    assert clean_svg("<svg><unclosed") is None


def test_output_metadata_cannot_inject_attributes_or_urls():
    out = display({"image/png": PNG, "text/plain": "<Figure>"})
    out.metadata = {"image/png": {"width": "1 onload=alert(1)", "height": 200, "alt": "courbe"},
                    "filenames": {"image/png": "http://evil.example/x.png"}, "width": True,
                    "application/javascript": {"x": 1}, "isolated": True}
    nb = run(new_code_cell("x", outputs=[out]))
    assert nb.cells[0].outputs[0].metadata == {"isolated": True, "image/png": {"height": 200, "alt": "courbe"}}


def test_what_survives_in_a_notebook():
    outputs = [
        display({"text/html": "<p>ok</p><script>alert(1)</script><img src=x onerror=alert(1)>",
                 "text/plain": "<HTML>"}),
        display({"application/javascript": "alert(1)"}),
        display({"application/javascript": "alert(1)", "text/plain": "<Javascript>"}),
        display({"text/markdown": "**gras** <script>alert(1)</script> [x](javascript:alert(1))",
                 "text/plain": "<Markdown>"}),
        display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="2"/></svg>'}),
        display({"image/png": PNG, "image/jpeg": PNG, "text/plain": "<Figure>"}),
        display({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "w"}),
    ]
    nb = run(new_code_cell("x", outputs=outputs))
    assert [o.data for o in nb.cells[0].outputs] == [
        {"text/html": "<p>ok</p><img>", "text/plain": "<HTML>"},
        {"text/plain": "(sortie supprimée : application/javascript)"},
        {"text/plain": "<Javascript>"},
        {"text/html": "<p><strong>gras</strong>  <a>x</a></p>\n", "text/plain": "<Markdown>"},
        {"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg"><circle r="2" /></svg>'},
        {"image/png": PNG, "image/jpeg": PNG, "text/plain": "<Figure>"},
        {"text/plain": "w"},
    ]


# ---------------------------------------------------------------- feedback

def hidden_cell():
    source = "check_a()\n    ### BEGIN HIDDEN TESTS\n    check_secret()\n    ### END HIDDEN TESTS\ncheck_b()"
    cell = grade_cell([new_output("error", ename="AssertionError", evalue="valeur fausse",
                                  traceback=["Traceback", "  File checks.py, secret", "AssertionError: valeur fausse"])])
    cell.source = source
    return cell


def test_hide_hidden_tests_leaves_a_note_and_the_last_error_line():
    nb = new_notebook(cells=[hidden_cell()])
    nb, _ = HideHiddenTests().preprocess(nb, {})
    cell = nb.cells[0]
    assert cell.source == f"check_a()\n    {HIDDEN_NOTE}\ncheck_b()"
    assert cell.outputs[0].traceback == ["AssertionError: valeur fausse"]
    assert cell.outputs[0].ename == "AssertionError"
    assert isinstance(HideHiddenTests(), ClearHiddenTests)


def test_hide_hidden_tests_takes_delimiters_from_config_and_raises_on_bad_regions():
    cell = hidden_cell()
    cell.source = "a()\n# DEBUT CACHE\nsecret()\n# FIN CACHE"
    nb, _ = HideHiddenTests(begin_test_delimeter="DEBUT CACHE", end_test_delimeter="FIN CACHE").preprocess(
        new_notebook(cells=[cell]), {})
    assert nb.cells[0].source == f"a()\n{HIDDEN_NOTE}"
    for bad in ("### BEGIN HIDDEN TESTS\nx", "### BEGIN HIDDEN TESTS\n### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"):
        cell = hidden_cell()
        cell.source = bad
        with pytest.raises(RuntimeError):
            HideHiddenTests().preprocess(new_notebook(cells=[cell]), {})


def test_hide_hidden_tests_leaves_other_cells_alone():
    plain = new_code_cell("print(1)", outputs=[new_output("error", ename="E", evalue="v", traceback=["a", "b"])])
    nb, _ = HideHiddenTests().preprocess(new_notebook(cells=[copy.deepcopy(plain)]), {})
    assert nb.cells[0] == plain


def test_feedback_html_is_sanitised_end_to_end(tmp_path):
    """The feedback settings (see nbgrader_config in the report) on a hostile notebook."""
    from pathlib import Path

    import nbgrader
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    from autograder.safe_output import SanitizeFeedback

    # GetGrades needs a gradebook: its resources are given by hand.
    templates = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader" / "templates"
    c = Config()
    c.HTMLExporter.template_name = "feedback"
    c.HTMLExporter.extra_template_basedirs = [str(templates)]
    css = templates.parent / "static" / "node_modules" / "bootstrap" / "dist" / "css"
    c.HTMLExporter.extra_template_paths = [str(css)]
    c.HTMLExporter.sanitize_html = True
    markdown = nbformat.v4.new_markdown_cell("Réponse **ok** <script>alert('md')</script> "
                                             "<img src=\"x\" onerror=\"alert('img')\"> [x](javascript:alert('link'))")
    markdown.metadata["nbgrader"] = {"grade": True, "solution": True, "grade_id": "q", "locked": False,
                                     "points": 1, "schema_version": 3, "score": 1}
    code = hidden_cell()
    code.metadata["nbgrader"]["score"] = 0
    code.outputs += [display({"application/javascript": "alert('js')"}),
                     display({"text/html": "<b>gras</b><script>alert('html')</script>"}),
                     display({"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(\'svg\')"/>'}),
                     display({"image/png": PNG}, )]
    code.outputs[-1].metadata = {"image/png": {"width": "1 onload=alert('png')"}}
    nb = new_notebook(cells=[markdown, code])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"x": "</script><script>alert('w')"}}
    for pp in (HideHiddenTests(), CapOutputs(), SanitizeFeedback()):
        nb, _ = pp.preprocess(nb, {})
    resources = {"nbgrader": {"notebook": "nb", "score": 1, "max_score": 2, "late_penalty": 0}}
    html, _ = HTMLExporter(config=c).from_notebook_node(nb, resources)
    assert "alert(" not in html
    assert "check_secret" not in html and "tests cachés" in html
    assert "<strong>ok</strong>" in html and "gras" in html


def test_huge_markup_is_dropped_without_being_parsed():
    import time
    html = "<div onclick='alert(1)'>" * 1_000_000
    t0 = time.monotonic()
    nb = run(new_code_cell("x", outputs=[display({"text/html": html, "text/plain": "<HTML>"}),
                                         display({"text/html": html})]))
    assert time.monotonic() - t0 < 5
    assert [o.data for o in nb.cells[0].outputs] == [
        {"text/plain": "<HTML>"}, {"text/plain": "(sortie supprimée : text/html (24 Mo))"}]
