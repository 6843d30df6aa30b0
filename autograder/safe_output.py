"""Cell outputs that are safe to keep and to show: capped in size, sanitised.

``CapOutputs`` is an nbgrader preprocessor, run during autograding right after the
notebook is executed (before grades are read from the outputs):

- outputs are capped per cell and per notebook, in bytes, images included; what goes
  over is replaced by a visible French note « sortie tronquée : … » (a stdout stream);
- a grade never changes: error outputs and stderr streams are shortened, never dropped
  or turned into something else; an ``execute_result`` keeps a non-empty text/plain;
- student HTML, markdown and SVG are sanitised (no scripts, no event handlers, no
  external loads, no iframes/objects/forms/styles); JavaScript and other unknown output
  types are dropped; plain images and text are kept.

``SanitizeFeedback`` is for the feedback only (it rewrites markdown cells, which
nbgrader's feedback template renders unsanitised even with ``HTMLExporter.sanitize_html``).
Feedback settings (nbgrader_config.py)::

    c.GenerateFeedback.preprocessors = [GetGrades, HideHiddenTests, CapOutputs,
                                        SanitizeFeedback, CSSHTMLHeaderPreprocessor]
    c.HTMLExporter.sanitize_html = True

HTML is cleaned with bleach (the library nbconvert's own sanitiser uses), with a narrow
allow-list; SVG, which bleach does not handle, is cleaned as XML.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import bleach
from nbformat import from_dict
from nbconvert.filters.markdown import markdown2html
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

# ---------------------------------------------------------------- sanitising

KEPT_TYPES = {"text/plain", "text/html", "text/latex", "image/png", "image/jpeg", "image/gif",
              "image/svg+xml", "application/json"}
HTML_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt",
             "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre",
             "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th",
             "thead", "tr", "u", "ul"}
HTML_ATTRIBUTES = {"*": ["class", "title"], "a": ["href"], "img": ["src", "alt", "width", "height"],
                   "td": ["colspan", "rowspan", "align"], "th": ["colspan", "rowspan", "align"]}
SAFE_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$")
DROPPED_WITH_CONTENT = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.S | re.I)


def _safe_url(value: str, for_image: bool) -> bool:
    """Only in-page links (#...) and, for images, inline png/jpeg/gif data."""
    value = value.strip()
    return bool(SAFE_IMAGE.match(value)) if for_image else value.startswith("#")


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name not in HTML_ATTRIBUTES.get(tag, []) + HTML_ATTRIBUTES["*"]:
        return False
    if name in ("href", "src"):
        return _safe_url(value, for_image=(name == "src"))
    return True


def clean_html(html: str) -> str:
    """HTML without scripts, event handlers, styles, frames, forms or external URLs:
    only the tags of HTML_TAGS survive, links only to #anchors, images only inline."""
    html = DROPPED_WITH_CONTENT.sub("", html)  # cosmetic: their text would show; bleach is the guard
    return bleach.clean(html, tags=HTML_TAGS, attributes=_allowed_attribute,
                        protocols=["data"], strip=True, strip_comments=True)


SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
SVG_DROPPED = {"script", "foreignObject", "iframe", "object", "embed", "image", "animate",
               "set", "animateTransform", "animateMotion", "a", "handler", "listener"}
UNSAFE_CSS = re.compile(r"url\s*\(\s*['\"]?\s*(?!#)|@import|expression\s*\(|javascript:", re.I)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1]


def _clean_svg_element(element) -> None:
    for child in list(element):
        if not isinstance(child.tag, str) or _local(child.tag) in SVG_DROPPED:
            element.remove(child)
            continue
        if _local(child.tag) == "style" and UNSAFE_CSS.search(child.text or ""):
            element.remove(child)
            continue
        _clean_svg_element(child)
    for name, value in list(element.attrib.items()):
        local = _local(name).lower()
        if (local.startswith("on") or (local == "href" and not value.strip().startswith("#"))
                or UNSAFE_CSS.search(value)):
            del element.attrib[name]


def clean_svg(svg: str) -> str | None:
    """The SVG without scripts, event handlers, foreign content, external references,
    animations or links; None if it is not well-formed XML (then it is dropped)."""
    try:
        root = ET.fromstring(svg)
    except ET.ParseError:
        return None
    if _local(root.tag) != "svg":
        return None
    _clean_svg_element(root)
    return ET.tostring(root, encoding="unicode")


CLEANED_TYPES = {"text/markdown", "text/html", "image/svg+xml"}


def sanitize_data(data: dict, max_chars: float = float("inf")) -> tuple[dict, list]:
    """A mime bundle with only safe types, cleaned; and the types that were dropped.
    text/markdown is rendered and kept as cleaned text/html. Markup longer than
    ``max_chars`` is dropped without being parsed (it would not be kept anyway)."""
    kept, dropped = {}, []
    for mime, value in data.items():
        text = "".join(value) if isinstance(value, list) else value
        if mime in CLEANED_TYPES and isinstance(text, str) and len(text) > max_chars:
            dropped.append(f"{mime} ({human(len(text.encode('utf-8')))})")
        elif mime == "text/markdown" and isinstance(text, str):
            kept.setdefault("text/html", clean_html(markdown2html(text)))
        elif mime == "text/html" and isinstance(text, str):
            kept["text/html"] = clean_html(text)
        elif mime == "image/svg+xml" and isinstance(text, str):
            svg = clean_svg(text)
            if svg is None:
                dropped.append(mime)
            else:
                kept[mime] = svg
        elif mime in KEPT_TYPES:
            kept[mime] = value
        else:
            dropped.append(mime)
    return kept, dropped


def sanitize_output(output: dict, max_chars: float = float("inf")) -> dict:
    """The output with its data sanitised (streams and errors are text: unchanged). A
    bundle left empty gets a text/plain saying what was removed."""
    if output.get("output_type") not in ("display_data", "execute_result"):
        return output
    data, dropped = sanitize_data(output.get("data", {}), max_chars)
    if dropped and not data.get("text/plain"):
        data["text/plain"] = f"(sortie supprimée : {', '.join(dropped)})"
    output["data"] = data
    output["metadata"] = safe_metadata(output.get("metadata", {}), data)
    return output


METADATA_TYPES = {"width": (int, float), "height": (int, float), "unconfined": bool,
                  "isolated": bool, "alt": str}


def _typed(md: dict) -> dict:
    return {k: v for k, v in md.items() if k in METADATA_TYPES and isinstance(v, METADATA_TYPES[k])
            and not (isinstance(v, bool) and METADATA_TYPES[k] != bool)}


def safe_metadata(metadata, data: dict) -> dict:
    """Output metadata reduced to numeric width/height, boolean unconfined/isolated and
    text alt, at the top and per kept mime type. nbconvert writes width/height unquoted
    into <img> (``width=1 onload=...`` would be an event handler) and takes ``filenames``
    as image URLs: everything else goes."""
    if not isinstance(metadata, dict):
        return {}
    kept = _typed(metadata)
    for mime in data:
        if isinstance(metadata.get(mime), dict) and _typed(metadata[mime]):
            kept[mime] = _typed(metadata[mime])
    return kept


# ---------------------------------------------------------------- capping sizes

def output_bytes(output: dict) -> int:
    """Size of an output as stored in the notebook (its JSON, UTF-8)."""
    return len(json.dumps(output, ensure_ascii=False).encode("utf-8"))


def human(n: int) -> str:
    """A size in French: « 60 Mo », « 1,5 Mo », « 300 ko »."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.{0 if n >= 10_000_000 else 1}f} Mo".replace(".", ",").replace(",0 ", " ")
    return f"{max(1, round(n / 1000))} ko"


def _cut(text, limit: int) -> str:
    text = "".join(text) if isinstance(text, list) else text
    return text if len(text) <= limit else text[:limit] + " […]"


def shorten_error(output: dict, chars: int) -> dict:
    """The same error (ename kept), evalue cut to ``chars`` characters and the traceback
    to its last lines within ``chars`` characters each and 4×``chars`` in all."""
    output["evalue"] = _cut(output.get("evalue", ""), chars)
    lines, total = [], 0
    for line in reversed(output.get("traceback", [])):
        line = _cut(line, chars)
        if total + len(line) > 4 * chars and lines:
            lines.append("… (trace tronquée)")
            break
        lines.append(line)
        total += len(line)
    output["traceback"] = lines[::-1]
    return output


def shrink(output: dict, chars: int) -> dict | None:
    """What is kept of an output that does not fit: None (dropped) for a display or a
    stdout stream; a grade-bearing output (error, stderr, execute_result) is shortened
    to about ``chars`` characters, keeping its kind."""
    kind = output.get("output_type")
    if kind == "error":
        return shorten_error(output, chars)
    if kind == "stream" and output.get("name") == "stderr":
        output["text"] = _cut(output.get("text", ""), chars) or "[…]"
        return output
    if kind == "execute_result":
        plain = _cut(output.get("data", {}).get("text/plain", ""), chars) or "[…]"
        output["data"], output["metadata"] = {"text/plain": plain}, {}
        return output
    return None


def _stream_head(output: dict, chars: int) -> dict | None:
    """The beginning of a stdout stream, ``chars`` characters (None if too few)."""
    if output.get("output_type") != "stream" or output.get("name") == "stderr" or chars < 100:
        return None
    return {**output, "text": _cut(output.get("text", ""), chars)}


def note(size: int, limit: int, scope: str) -> dict:
    """The visible note that replaces outputs over a cap (a stdout stream, never stderr)."""
    return {"output_type": "stream", "name": "stdout",
            "text": f"\n[sortie tronquée : {human(size)} dépassent la limite de {human(limit)} {scope}]\n"}


def drop_widget_state(nb) -> None:
    """Remove the notebook's saved widget state: student-controlled text that nbconvert
    writes into a <script> element (and crashes on when malformed)."""
    nb.metadata.pop("widgets", None)


class CapOutputs(NbGraderPreprocessor):
    """Cap and sanitise the outputs of code cells after execution (see the module)."""

    max_cell_bytes = Integer(
        2_000_000,
        help="maximum bytes of the outputs of one cell, images included (-1: no limit)"
    ).tag(config=True)

    max_notebook_bytes = Integer(
        10_000_000,
        help="maximum bytes of the outputs of the whole notebook (-1: no limit)"
    ).tag(config=True)

    max_error_chars = Integer(
        2000,
        help="characters kept of an error message, a traceback line, a stderr stream or "
             "the text of a result that goes over a cap"
    ).tag(config=True)

    def preprocess(self, nb, resources):
        drop_widget_state(nb)
        self._left = self.max_notebook_bytes if self.max_notebook_bytes >= 0 else float("inf")
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            limit = self.max_cell_bytes if self.max_cell_bytes >= 0 else float("inf")
            outputs = [sanitize_output(o, limit) for o in cell.get("outputs", [])]
            cell.outputs = [from_dict(o) for o in self.cap(outputs)]
        return cell, resources

    def cap(self, outputs: list) -> list:
        """Outputs within the cell cap and what is left of the notebook cap, in order;
        the first output that does not fit is followed by one note; grade-bearing
        outputs are shortened instead of dropped."""
        cell_cap = self.max_cell_bytes if self.max_cell_bytes >= 0 else float("inf")
        budget = min(cell_cap, self._left)
        scope = "par cellule" if cell_cap <= self._left else "par notebook"
        limit = self.max_cell_bytes if scope == "par cellule" else self.max_notebook_bytes
        total = sum(output_bytes(o) for o in outputs)
        kept, used, noted = [], 0, False
        for output in outputs:
            size = output_bytes(output)
            if not noted and used + size <= budget:
                kept.append(output)
                used += size
                continue
            if not noted:
                head = _stream_head(output, budget - used - 1000)
                kept += [head] if head else []
                kept.append(note(total, limit, scope))
                noted = True
            short = shrink(output, self.max_error_chars)
            if short is not None:
                kept.append(short)
                used += output_bytes(short)
        self._left = max(0, self._left - used)
        return kept


class SanitizeFeedback(NbGraderPreprocessor):
    """For the feedback: each markdown cell's source becomes its rendered HTML, cleaned
    by ``clean_html`` (nbgrader's feedback template renders markdown cells without
    nbconvert's ``sanitize_html``), raw cells are cleaned, and the notebook's widget
    state is dropped. Never use it before grading: it changes sources."""

    def preprocess(self, nb, resources):
        drop_widget_state(nb)
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "markdown":
            cell.source = clean_html(markdown2html(cell.source))
        elif cell.cell_type == "raw":
            cell.source = clean_html(cell.source)
        return cell, resources
