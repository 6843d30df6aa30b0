"""The instructor report, from a small fake graded course (no nbgrader run); opened in
headless Chromium when /usr/bin/chromium is there (CI: apt-get install -y chromium)."""

from __future__ import annotations

import os
import random
import re
import subprocess
from pathlib import Path

import pytest

import fake_course
from autograder import course
from autograder.class_report import build_report
from autograder.moodle_import import save_participants
from autograder.submissions import answer_cells, read, reference_submission, write_submission
from fake_course import ASSIGNMENT, student
from test_similarity import styled_cells

CHROMIUM = Path("/usr/bin/chromium")
STUDENTS = {"p201": student({}, manual=1.0, seconds=4.2, peak=310.5),
            "p202": student({"test_forward": 0.0}, seconds=9.8, peak=512.0),
            "p203": student({"test_forward": 0.0, "test_sigmoid": 0.0}, status="warning",
                            reason="cell forward stopped after 30 s", seconds=31.0),
            "p204": student({}, status="error", reason="moons_numpy.ipynb is not valid JSON", seconds=0.1),
            "p205": student({}, status="to regrade", reason="hidden tests changed"),
            "p206": student({"test_sigmoid": 0.0}, status="suspected tampering", reason="test cell edited")}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    workdir = fake_course.build(tmp_path_factory.mktemp("graded"), STUDENTS)
    save_participants(workdir, {"201": "Élodie <script>alert(1)</script>", "202": "Jean Dupont",
                                "207": "Jamais Rendu"})
    source = read(course.SOURCE / ASSIGNMENT / "moons_numpy.ipynb")
    release = read(course.RELEASE / ASSIGNMENT / "moons_numpy.ipynb")
    for sid, seed in (("p201", 1), ("p202", 1), ("p203", 2), ("p206", 3)):  # p201 and p202: same answers
        nb = reference_submission(source, release)
        for gid, text in styled_cells(random.Random(seed)).items():
            answer_cells(nb)[gid].source = text
        write_submission(workdir, sid, ASSIGNMENT, "moons_numpy", nb)
    feedback = workdir / "feedback" / "p201" / ASSIGNMENT / "moons_numpy.html"
    feedback.parent.mkdir(parents=True)
    feedback.write_text("<html>feedback</html>")
    return build_report(workdir)


def test_report_content(report):
    html = report.read_text(encoding="utf-8")
    assert report.name == "report.html"
    assert html.count("<svg") == 2                                # histogram + pass rates, inline
    assert not re.search(r"(src|href)=\"(https?:)?//|<link|@import", html)  # nothing to fetch: opens offline
    assert "<script>alert(1)" not in html and "Élodie &lt;script&gt;alert(1)&lt;/script&gt;" in html
    hints = html[html.index('id="hints-'):html.index("</table>", html.index('id="hints-'))]
    assert re.search(r"test_forward</td><td>50%</td><td>2</td><td>forward : mauvaise forme de sortie", hints)
    assert "sigmoid(0) doit valoir 0.5" in hints
    for status in ("ok", "warning", "error", "to regrade", "suspected tampering"):
        assert f">{status}</span>" in html
    assert 'href="feedback/p201/01_moons_numpy/moons_numpy.html"' in html
    times = html[html.index('id="time-'):]
    assert times.index("p203") < times.index("p202") < times.index("p201")  # slowest first
    assert "512.0" in times
    missing = html[html.index("Not submitted"):]
    assert "p207 Jamais Rendu" in missing[:missing.index("</ul>")]
    similar = html[html.index("Suspiciously alike"):]
    assert "p201" in similar and "p202" in similar and "p203" not in similar[:similar.index("</li>")]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install -y chromium)")
def test_report_opens_in_a_browser(report, tmp_path):
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(base + ["--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert dom.count("<svg") == 2 and "<rect" in dom
    assert len(re.findall(r"<table id=\"status-", dom)) == 1 and dom.count("<tr>") >= 6 + 6
    # the inline JavaScript: sort the time table by seconds (ascending), filter the statuses
    clicked = tmp_path / "clicked.html"
    clicked.write_text(report.read_text(encoding="utf-8").replace("</body>", (
        "<script>sortTable(document.querySelectorAll('table[id^=time-] th')[1]);"
        "const f=document.querySelector('input[data-table^=status-]');f.value='tampering';filterTable(f);"
        "</script></body>")), encoding="utf-8")
    dom = subprocess.run(base + ["--dump-dom", clicked.as_uri()], capture_output=True, text=True, timeout=120).stdout
    times = dom[dom.index('id="time-'):]
    assert times.index("p204") < times.index("p201") < times.index("p203")
    statuses = dom[dom.index('id="status-'):dom.index("</table>", dom.index('id="status-'))]
    assert statuses.count('style="display: none;"') == 5
    shot = Path(os.environ.get("NNCOURSE_ARTIFACTS") or tmp_path) / "class-report.png"  # a CI artefact
    shot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(base + [f"--screenshot={shot}", "--window-size=1200,2000", report.as_uri()],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 10_000
