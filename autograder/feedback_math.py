"""Feedback pages render their math offline: LaTeX becomes MathML when the page is made.

nbconvert leaves ``$...$`` and ``$$...$$`` in the HTML for MathJax, which the page loads
from a CDN that an offline campus hub cannot reach (and only once the student clicks
"Trust HTML"). The ``offline_math`` filter (registered in ``course_config`` as an
``HTMLExporter`` filter, so nbgrader's buttons and CLI both use it) converts each formula
with latex2mathml; browsers draw MathML themselves. A formula it cannot convert stays as
its LaTeX source, in ``<code>``.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

# code spans and blocks are left alone; then $$display$$, then $inline$ (not \$, no newline inside)
TOKEN = re.compile(r"(?P<code><(?:pre|code)\b.*?</(?:pre|code)>)"
                   r"|\$\$(?P<display>.+?)\$\$"
                   r"|(?<![\\$])\$(?P<inline>[^$\n]+?)(?<!\\)\$(?!\$)", re.S | re.I)


def _mathml(match: re.Match) -> str:
    if match.group("code") is not None:
        return match.group("code")
    display = match.group("display") is not None
    latex = html.unescape(match.group("display") if display else match.group("inline")).strip()
    try:
        return convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - latex2mathml raises many kinds; show the source instead
        return f"<code>{html.escape(latex)}</code>"


def offline_math(rendered: str) -> str:
    """HTML from ``markdown2html`` with its formulas as MathML (code left alone)."""
    return TOKEN.sub(_mathml, rendered)
