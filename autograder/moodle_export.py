"""Grades back to Moodle: the assignment's grading worksheet, or a gradebook import CSV.

    python -m autograder export -w DIR -a 01_moons_numpy --moodle-worksheet Grades.csv [--to OUT.csv]
    python -m autograder export -w DIR --moodle-gradebook OUT.csv

The worksheet is the file Moodle gives with "Download grading worksheet" for ONE
assignment. Its importer finds the columns by their header in the Moodle site's language
("Identifier"/"Identifiant", "Grade"/"Note", "Last modified (grade)"/"Dernière modification
(note)" or "(évaluation)"), so the downloaded file is filled in place: same columns, same
order, same headers, same decimal separator (Moodle reads it with ``unformat_float``), and
commas between fields whatever the file had (the importer reads comma-separated values
only, even from a French site; a spreadsheet may have re-saved it with semicolons). Only
the grade and the feedback comment of the students graded here change; every other row is
left as it was. The comment column is the comments plugin's name: "Feedback comments",
"Feedback par commentaires" (French 4.x) or "Commentaires de feedback" (older packs).

Grades are those of ``export.collect_rows`` (the nbgrader gradebook joined with
``grading_report.json``): autograded points, plus the manual points once a person has
graded them, scaled to the worksheet's "Maximum Grade". A submission that could not be
graded, or that is held back (``to regrade``, ``suspected tampering``), gets no grade at
all — an empty cell, which Moodle skips — never a 0; its comment says why.

The gradebook CSV ("Import grades from CSV file") has one row per student keyed on the
idnumber, or on the email (as Moodle stores it: the match is case-sensitive), of
``moodle_participants.csv``, and a grade and a feedback column per assignment, in points.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook

from . import course
from .export import collect_rows
from .grading import load_report
from .moodle_import import HEADERS, PARTICIPANTS_FILE, load_participants, student_id

WITHHELD = {"error": "Non noté : le notebook n'a pas pu être corrigé ({reason}). Contactez l'enseignant.",
            "to regrade": "Note en attente : la correction automatique doit être refaite.",
            "suspected tampering": "Note en attente : l'enseignant doit vérifier ce rendu."}
WORKSHEET_HEADERS = {
    "grade": ("Grade", "Note"),
    "max": ("Maximum Grade", "Maximum grade", "Note maximale"),
    "feedback": ("Feedback comments", "Feedback par commentaires", "Commentaires de feedback"),
    "modified": ("Last modified (grade)", "Dernière modification (note)", "Dernière modification (évaluation)"),
}


@dataclass
class Grade:
    """What Moodle gets for one submission."""
    points: float | None      # None: no grade (never 0 for a submission that was not graded)
    max_points: float
    comment: str
    status: str
    manual_pending: bool = False


@dataclass
class FillResult:
    filled: list = field(default_factory=list)     # student ids given a grade
    withheld: list = field(default_factory=list)   # (student id, status): comment only
    untouched: list = field(default_factory=list)  # worksheet identifiers with nothing graded here
    partial: list = field(default_factory=list)    # graded, but written answers not graded yet
    problems: list = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"graded: {len(self.filled)}, no grade (comment only): {len(self.withheld)}, "
                 f"rows untouched: {len(self.untouched)}"]
        lines += [f"  no grade for {s}: {status}" for s, status in self.withheld]
        if self.partial:
            lines.append(f"  without the manual part (not graded yet): {', '.join(self.partial)}")
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _fmt(x: float) -> str:
    return f"{x:g}"


def grade_of(row: dict, cells: list) -> Grade:
    """The grade and French comment of one ``collect_rows`` row."""
    status, reason = row["status"], row["reason"]
    max_points = sum(c[2] for c in cells)
    if status in WITHHELD:
        return Grade(None, max_points, WITHHELD[status].format(reason=reason), status)
    points = float(row["score"] or 0.0)
    manual = [row.get(f"{nb}:{gid}", "") for nb, gid, _, is_manual in cells if is_manual]
    points += sum(v for v in manual if v != "")
    comment = f"Note : {_fmt(points)}/{_fmt(max_points)} points."
    pending = bool(row["needs_manual_grade"] or "" in manual)
    if pending:
        comment += " Les réponses rédigées ne sont pas encore corrigées."
    if status == "warning":
        comment += f" Remarque : {reason}."
    return Grade(points, max_points, comment, status, pending)


def course_grades(workdir: Path) -> dict:
    """(assignment, student id) -> Grade, for every submission of the course folder."""
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        rows, cells = collect_rows(gb, load_report(workdir))
    return {(r["assignment"], r["student_id"]): grade_of(r, cells[r["assignment"]]) for r in rows}


# --- grading worksheet -------------------------------------------------------------------

def _find(header: list[str], names) -> int | None:
    wanted = {n.casefold() for n in names}
    return next((i for i, h in enumerate(header) if h.strip().lstrip("\ufeff").casefold() in wanted), None)


def _parse_number(text: str) -> float | None:
    try:
        return float(text.strip().replace("\u00a0", "").replace(" ", "").replace(",", "."))
    except ValueError:
        return None


def _decimal_comma(rows: list[list[str]], columns: list[int | None], french: bool) -> bool:
    """The worksheet's decimal separator: the one its numbers use, else the language's."""
    for row in rows:
        for i in columns:
            if i is not None and i < len(row) and re.fullmatch(r"\s*-?\d+[.,]\d+\s*", row[i]):
                return "," in row[i]
    return french


def read_worksheet(path: Path) -> tuple[list[list[str]], str, bool]:
    """Rows (header first), the delimiter it was written with, and whether it starts with a BOM."""
    raw = path.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    first = text.splitlines()[0] if text else ""
    delimiter = max(",;\t", key=first.count)
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)), delimiter, bom


def fill_worksheet(worksheet: Path, grades: dict, assignment: str, to: Path) -> FillResult:
    """Write ``worksheet`` to ``to`` with the grade and comment of each student graded here."""
    result = FillResult()
    rows, _, bom = read_worksheet(worksheet)
    header = rows[0] if rows else []
    col = {k: _find(header, names) for k, names in WORKSHEET_HEADERS.items()}
    col["identifier"] = _find(header, HEADERS["identifier"])
    required = {"identifier": HEADERS["identifier"], "grade": WORKSHEET_HEADERS["grade"],
                "modified": WORKSHEET_HEADERS["modified"]}
    for key, names in required.items():
        if col[key] is None:
            raise ValueError(f"{worksheet}: no {' / '.join(names)} column: is this Moodle's grading worksheet?")
    if col["feedback"] is None:
        result.problems.append("no feedback comments column (feedback comments disabled in the assignment?): "
                               "grades only")
    french = header[col["grade"]].strip() == "Note"
    comma = _decimal_comma(rows[1:], [col["grade"], col["max"]], french)
    for row in rows[1:]:
        m = re.search(r"(\d+)\s*$", row[col["identifier"]] if col["identifier"] < len(row) else "")
        grade = grades.get((assignment, student_id(m.group(1)))) if m else None
        if grade is None:
            result.untouched.append(row[col["identifier"]] if row else "")
            continue
        sid = student_id(m.group(1))
        row.extend([""] * (len(header) - len(row)))
        if grade.points is None:
            row[col["grade"]] = ""
            result.withheld.append((sid, grade.status))
        else:
            scale = _parse_number(row[col["max"]]) if col["max"] is not None else None
            value = grade.points * scale / grade.max_points if scale and grade.max_points else grade.points
            text = f"{value:.2f}"
            row[col["grade"]] = text.replace(".", ",") if comma else text
            result.filled.append(sid)
            if grade.manual_pending:
                result.partial.append(sid)
        if col["feedback"] is not None:
            row[col["feedback"]] = grade.comment
    with open(to, "w", newline="", encoding="utf-8-sig" if bom else "utf-8") as f:
        csv.writer(f).writerows(rows)  # Moodle's importer: load_csv_content(..., 'utf-8', 'comma')
    return result


# --- course gradebook CSV ------------------------------------------------------------------

KEY_COLUMNS = {"idnumber": "ID number", "email": "Email address"}


def _key_field(students: list[str], people: dict) -> str:
    """idnumber when it identifies at least as many students as the email, else email."""
    have = {k: sum(1 for s in students if people.get(s, {}).get(k)) for k in KEY_COLUMNS}
    return "idnumber" if have["idnumber"] >= have["email"] else "email"


def write_gradebook_csv(workdir: Path, grades: dict, to: Path, assignments: list[str] | None = None) -> FillResult:
    """Moodle's "Import grades from CSV file": one key column ("ID number", mapped to
    useridnumber, or "Email address", mapped to useremail), "Full name" (map it to nothing),
    and a grade and a feedback column per assignment, in points.

    Moodle's importer reads an empty grade as "no grade" and clears the grade it had, and a
    row with a blank key is given to the previous row's student: so every row has its key,
    and a student with no grade in any column of the file is left out (the worksheet carries
    their comment). With several assignments, an empty cell still clears that one grade:
    export one assignment at a time (``-a``) when some could not be graded."""
    result = FillResult()
    people = load_participants(workdir)
    assignments = sorted({a for a, _ in grades if not assignments or a in assignments})
    students = sorted({s for a, s in grades if a in assignments})
    key = _key_field(students, people)
    header = [KEY_COLUMNS[key], "Full name"] + [c for a in assignments for c in (a, f"{a} (feedback)")]
    with open(to, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        for sid in students:
            person = people.get(sid, {})
            cells = [grades.get((a, sid)) for a in assignments]
            withheld = [(sid, g.status) for g in cells if g is not None and g.points is None]
            result.withheld += withheld
            if not person.get(key):
                result.problems.append(f"{sid}: no {key} in {PARTICIPANTS_FILE}: left out")
                continue
            if all(g is None or g.points is None for g in cells):
                result.problems.append(f"{sid}: no grade to import: left out (an empty cell would clear Moodle's)")
                continue
            row = [person[key], person.get("full_name", "")]
            for g in cells:
                row += ["", ""] if g is None else ["" if g.points is None else f"{g.points:.2f}", g.comment]
            writer.writerow(row)
            result.filled.append(sid)
    return result
