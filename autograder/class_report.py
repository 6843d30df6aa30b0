"""The instructor's report on a graded course folder: one self-contained HTML file.

    python -m autograder report [-w DIR]        -> DIR/report.html (opens offline)

Per assignment: a histogram of the autograded scores and the pass rate of each question
(matplotlib, inline SVG); for each failed question the French messages the hidden tests
printed, most common first; every submission's status with its reason and a link to its
feedback; grading time and memory, slowest first; who has not submitted; and, when
``similarity`` finds any, the pairs of suspiciously alike answers. Tables sort (click a
header) and filter (type in the box) with a few lines of inline JavaScript. Everything
that comes from students (names, messages, code) is escaped.
"""

from __future__ import annotations

import io
from collections import Counter
from html import escape
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nbformat  # noqa: E402
from nbgrader.api import Gradebook  # noqa: E402

from . import course  # noqa: E402
from .export import collect_rows  # noqa: E402
from .grading import STATUSES, load_report  # noqa: E402
from .moodle_import import load_participants  # noqa: E402
from .similarity import flagged_pairs  # noqa: E402
from .submissions import autograded_tests  # noqa: E402

REPORT_HTML = "report.html"

STYLE = """body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}th{background:#eee;cursor:pointer}
.st-ok{color:#070}.st-warning{color:#a60}.st-error,.st-suspected{color:#b00;font-weight:bold}.st-to{color:#a0a}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots svg{max-width:38em;height:auto}input.filter{margin:.3em 0}
pre{background:#f7f7f7;padding:.4em;white-space:pre-wrap;margin:0;max-width:40em}"""

SCRIPT = """function sortTable(th){const t=th.closest('table'),i=[...th.parentNode.children].indexOf(th),
b=t.tBodies[0],asc=th.dataset.asc!=='1';th.dataset.asc=asc?'1':'0';const v=r=>{const s=r.children[i].innerText.trim(),
n=parseFloat(s);return isNaN(n)?s.toLowerCase():n};[...b.rows].sort((x,y)=>{const p=v(x),q=v(y);
return (p>q?1:p<q?-1:0)*(asc?1:-1)}).forEach(r=>b.appendChild(r))}
function filterTable(inp){const q=inp.value.toLowerCase(),t=document.getElementById(inp.dataset.table);
[...t.tBodies[0].rows].forEach(r=>{r.style.display=r.innerText.toLowerCase().includes(q)?'':'none'})}"""


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def score_histogram(scores: list[float], max_score: float, title: str) -> str:
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(scores, bins=min(10, max(1, int(max_score) or 1)), range=(0, max_score or 1), color="#4a7")
    ax.set(xlabel=f"autograded score (/{max_score:g})", ylabel="students", title=title)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    return _svg(fig)


def pass_rate_chart(rates: dict, title: str) -> str:
    fig, ax = plt.subplots(figsize=(5, 0.4 * len(rates) + 1.2))
    names = list(rates)
    ax.barh(names, [100 * rates[n] for n in names], color="#47a")
    ax.invert_yaxis()
    ax.set(xlim=(0, 100), xlabel="% of graded submissions with full marks", title=title)
    return _svg(fig)


def failure_messages(workdir: Path, student: str, assignment: str) -> dict:
    """grade_id -> the message each failed test cell printed (the error's last line)."""
    found = {}
    for path in sorted((workdir / "autograded" / student / assignment).glob("*.ipynb")):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except Exception:
            continue
        for grade_id, cell in autograded_tests(nb).items():
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    lines = str(out.get("evalue", "")).strip().splitlines() or [out.get("ename", "Error")]
                    found[grade_id] = lines[-1][:300]
    return found


def _table(table_id: str, header: list[str], rows: list[list[str]]) -> str:
    """A sortable, filterable table; cells are already-escaped HTML."""
    head = "".join(f"<th onclick=\"sortTable(this)\">{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return (f"<input class=\"filter\" placeholder=\"filter…\" data-table=\"{table_id}\" oninput=\"filterTable(this)\">"
            f"<table id=\"{table_id}\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _status(status: str) -> str:
    return f"<span class=\"st-{escape(status.split()[0])}\">{escape(status)}</span>"


def _name(people: dict, sid: str) -> str:
    return escape(people.get(sid, {}).get("full_name", ""))


def _feedback_link(workdir: Path, sid: str, assignment: str) -> str:
    """Relative links to the student's feedback pages that exist."""
    folder = workdir / "feedback" / sid / assignment
    pages = sorted(p.name for p in folder.glob("*.html")) if folder.exists() else []
    return " ".join(f"<a href=\"feedback/{escape(sid)}/{escape(assignment)}/{escape(n)}\">{escape(n)}</a>"
                    for n in pages) or "none"


def assignment_section(workdir: Path, assignment: str, rows: list[dict], cells: list, report: dict,
                       people: dict, known: set, pairs: list) -> str:
    auto = [(nb, gid, mx) for nb, gid, mx, manual in cells if not manual]
    max_auto = sum(mx for _, _, mx in auto)
    graded = [r for r in rows if r["score"] != ""]
    rates = {gid: (sum(1 for r in graded if r.get(f"{nb}:{gid}") == mx) / len(graded) if graded else 0.0)
             for nb, gid, mx in auto}
    out = [f"<h2 id=\"{escape(assignment)}\">{escape(assignment)}</h2>",
           f"<p>{len(rows)} submissions, {len(graded)} graded; mean "
           f"{(sum(r['score'] for r in graded) / len(graded)) if graded else 0:.2f}/{max_auto:g}</p>",
           "<div class=\"plots\">", score_histogram([r["score"] for r in graded], max_auto, "Scores"),
           pass_rate_chart(rates, "Pass rate per question") if rates else "", "</div>"]

    messages = {}
    for r in graded:
        for gid, msg in failure_messages(workdir, r["student_id"], assignment).items():
            messages.setdefault(gid, Counter())[msg] += 1
    hint_rows = [[escape(gid), f"{100 * rates.get(gid, 0):.0f}%", str(c), escape(msg)]
                 for gid in rates if gid in messages for msg, c in messages[gid].most_common()]
    out += ["<h3>Failed questions: the messages students saw</h3>",
            _table(f"hints-{assignment}", ["question", "pass rate", "students", "message (French)"], hint_rows)]

    status_rows = []
    for r in rows:
        o = report.get(f"{r['student_id']}/{assignment}", {})
        score = "" if r["score"] == "" else f"{r['score']:g}"
        status_rows.append([escape(r["student_id"]), _name(people, r["student_id"]), _status(r["status"]),
                            escape(r["reason"]), score, _feedback_link(workdir, r["student_id"], assignment)])
        r["_seconds"], r["_memory"] = o.get("seconds", ""), o.get("peak_memory_mb", "")
    counts = Counter(r["status"] for r in rows)
    out += ["<h3>Statuses</h3><p>" + ", ".join(f"{_status(s)}: {counts[s]}" for s in STATUSES if counts[s]) + "</p>",
            _table(f"status-{assignment}", ["student", "name", "status", "reason", "score", "feedback"], status_rows)]

    timed = sorted(rows, key=lambda r: -(r["_seconds"] or 0))
    out += ["<h3>Time and memory per notebook (slowest first)</h3>",
            _table(f"time-{assignment}", ["student", "seconds", "peak memory (MB)", "status"],
                   [[escape(r["student_id"]), str(r["_seconds"]), str(r["_memory"]), _status(r["status"])]
                    for r in timed])]

    missing = sorted(known - {r["student_id"] for r in rows})
    out += [f"<h3>Not submitted ({len(missing)})</h3>",
            "<ul>" + "".join(f"<li>{escape(s)} {_name(people, s)}</li>" for s in missing) + "</ul>"]
    if pairs:
        out.append(similarity_section(assignment, pairs, people))
    return "\n".join(out)


def similarity_section(assignment: str, pairs: list, people: dict) -> str:
    """Ranked pairs with the matching answer cells side by side (evidence, never a grade)."""
    out = ["<h3>Suspiciously alike answers (evidence to look at, not a verdict)</h3>", "<ol>"]
    for p in pairs:
        cells = "".join(f"<tr><td>{escape(gid)}</td><td><pre>{escape(a)}</pre></td><td><pre>{escape(b)}</pre></td></tr>"
                        for gid, a, b in p.cells)
        out.append(f"<li class=\"pair\">{escape(p.a)} {_name(people, p.a)} &amp; {escape(p.b)} {_name(people, p.b)}: "
                   f"similarity {p.score:.2f}<details><summary>answers side by side</summary>"
                   f"<table><tr><th>cell</th><th>{escape(p.a)}</th><th>{escape(p.b)}</th></tr>{cells}</table>"
                   f"</details></li>")
    return "\n".join(out + ["</ol>"])


def build_report(workdir: Path, assignments: list[str] | None = None, similarity: bool = True) -> Path:
    """Write ``workdir/report.html`` and return its path."""
    report = load_report(workdir)
    people = load_participants(workdir)
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        rows, cells = collect_rows(gb, report)
        known = {s.id for s in gb.students} | set(people)
    sections = []
    for a in assignments or list(cells):
        arows = [r for r in rows if r["assignment"] == a]
        pairs = flagged_pairs(workdir, a) if similarity else []
        sections.append(assignment_section(workdir, a, arows, cells.get(a, []), report, people, known, pairs))
    toc = " · ".join(f"<a href=\"#{escape(a)}\">{escape(a)}</a>" for a in assignments or cells)
    html = (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Grading report</title>"
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>Grading report</h1>"
            f"<p>{escape(str(workdir))} — {toc}</p>{''.join(sections)}</body></html>")
    path = workdir / REPORT_HTML
    path.write_text(html, encoding="utf-8")
    return path


