"""Moodle intake (archives of every layout, bad input) and export (worksheet, gradebook CSV).
Fast: no notebook is run; grades are written with nbgrader's Gradebook API."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from autograder import course
from autograder.moodle_import import (MAX_FILE_BYTES, PARTICIPANTS_FILE, import_archive, load_participants,
                                      student_id)
from moodle_archives import LAYOUTS, entry, write_unflagged, write_worksheet, write_zip, zip_bytes

A1, NB1 = "01_moons_numpy", "moons_numpy.ipynb"
A6, NB6 = "06_cnn_cifar10", "cnn_cifar10.ipynb"


def notebook(tag: str) -> bytes:
    return json.dumps({"cells": [], "metadata": {"tag": tag}, "nbformat": 4, "nbformat_minor": 5}).encode()


@pytest.fixture
def workdir(tmp_path):
    w = tmp_path / "course"
    for a in (A1, A6):
        shutil.copytree(course.RELEASE / a, w / "release" / a)
    return w


def submitted(workdir, pid, assignment=A1):
    folder = workdir / "submitted" / student_id(pid) / assignment
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_with_accents_and_spaces(workdir, tmp_path, layout):
    members = {entry("Élodie Müller-Ñúñez", 101, NB1, layout): notebook("e"),
               entry("Jean Dupont", 102, NB1, layout): notebook("j"),
               entry("Jean Dupont", 102, "onlinetext.html", layout, plugin="onlinetext"): b"<p>hi</p>"}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A1, workdir)
    assert result.new == ["p101", "p102"] and not result.refused
    assert submitted(workdir, 101) == {NB1: notebook("e")}
    assert [reason for _, reason in result.not_taken] == ["onlinetext submission (only uploaded files are graded)"]
    people = load_participants(workdir)
    assert people["p101"]["full_name"] == "Élodie Müller-Ñúñez" and people["p101"]["participant_id"] == "101"


@pytest.mark.parametrize("encoding", ["utf-8", "cp437"])
def test_names_without_the_utf8_flag(workdir, tmp_path, encoding):
    name = "Zoé Brontë" if encoding == "utf-8" else "Zoé Ça"  # both encodable in cp437
    archive = write_unflagged(tmp_path / "s.zip", {entry(name, 7, NB1): notebook("z")}, encoding)
    result = import_archive(archive, A1, workdir)
    assert result.new == ["p7"]
    assert load_participants(workdir)["p7"]["full_name"] == name


def test_weights_file_and_renamed_notebook(workdir, tmp_path):
    members = {entry("Ana Lima", 5, "mon_cnn (1).ipynb"): notebook("a"),
               entry("Ana Lima", 5, "cnn_weights.pt"): b"\x80weights"}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A6, workdir)
    assert result.new == ["p5"]
    assert submitted(workdir, 5, A6) == {NB6: notebook("a"), "cnn_weights.pt": b"\x80weights"}


def test_notebook_in_a_nested_zip(workdir, tmp_path):
    inner = zip_bytes({f"rendu/{NB1}": notebook("n"), "__MACOSX/._x": b"junk"})
    result = import_archive(write_zip(tmp_path / "s.zip", {entry("Li Wei", 9, "rendu.zip"): inner}), A1, workdir)
    assert result.new == ["p9"] and submitted(workdir, 9) == {NB1: notebook("n")}
    assert any("__MACOSX" in e and "system file" in r for e, r in result.not_taken)


def test_two_notebooks(workdir, tmp_path):
    members = {entry("Bob A", 1, NB1): notebook("good"), entry("Bob A", 1, "brouillon.ipynb"): notebook("draft"),
               entry("Eve B", 2, "v1.ipynb"): notebook("1"), entry("Eve B", 2, "v2.ipynb"): notebook("2")}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A1, workdir)
    assert result.new == ["p1"] and submitted(workdir, 1) == {NB1: notebook("good")}
    assert any("brouillon.ipynb" in e and "another notebook" in r for e, r in result.not_taken)
    refused = dict(result.refused)
    assert "2 notebooks, none named moons_numpy.ipynb" in refused["p2"]
    assert submitted(workdir, 2) is None


def test_missing_and_empty_submissions(workdir, tmp_path):
    members = {entry("No Book", 3, "notes.txt"): b"pas de notebook",
               entry("Empty One", 4, NB1): b"",
               entry("Text Only", 6, "t.html", plugin="onlinetext"): b"<p>x</p>"}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A1, workdir)
    refused = dict(result.refused)
    assert refused["p3"] == "no notebook (.ipynb) in the submission"
    assert refused["p4"] == "no notebook (.ipynb) in the submission"
    assert refused["p6"] == "no uploaded file"
    assert ("Empty One_4_assignsubmission_file/" + NB1, "empty file") in result.not_taken
    assert not (workdir / "submitted").exists() or not any((workdir / "submitted").iterdir())
    assert set(load_participants(workdir)) == {"p3", "p4", "p6"}


def test_hostile_entries(workdir, tmp_path):
    good = entry("Ok Student", 8, NB1)
    members = {good: notebook("ok"),
               "../../evil.ipynb": notebook("x"),
               "/etc/passwd_1_assignsubmission_file/x.ipynb": notebook("x"),
               entry("Ok Student", 8, "../../../escape.py"): b"print(1)",
               "random.txt": b"?"}
    archive = write_zip(tmp_path / "s.zip", members, symlinks={entry("Ok Student", 8, "link.pt"): "/etc/shadow"})
    result = import_archive(archive, A1, workdir)
    assert result.new == ["p8"] and submitted(workdir, 8) == {NB1: notebook("ok")}
    reasons = dict(result.not_taken)
    assert reasons["../../evil.ipynb"] == "path leaves the archive (..)"
    assert reasons["/etc/passwd_1_assignsubmission_file/x.ipynb"] == "absolute path"
    assert reasons[entry("Ok Student", 8, "link.pt")] == "symbolic link"
    assert reasons["random.txt"] == "not named like a Moodle submission file"
    assert not (tmp_path / "escape.py").exists() and not (workdir.parent / "evil.ipynb").exists()


def test_huge_member_is_not_read(workdir, tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.moodle_import.MAX_FILE_BYTES", 1000)
    members = {entry("Big Data", 11, NB1): notebook("b"), entry("Big Data", 11, "cnn_weights.pt"): b"0" * 5000}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A1, workdir)
    assert result.new == ["p11"] and submitted(workdir, 11) == {NB1: notebook("b")}
    assert dict(result.not_taken)[entry("Big Data", 11, "cnn_weights.pt")] == "larger than 0 MB"
    assert MAX_FILE_BYTES >= 50 * 2**20  # real weights (1 MB) and notebooks with outputs fit


def test_not_a_zip_and_unknown_assignment(workdir, tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    result = import_archive(bad, A1, workdir)
    assert "not a readable zip file" in result.not_taken[0][1] and not result.new
    result = import_archive(bad, "99_nope", workdir)
    assert "unknown assignment" in result.refused[0][1]


def test_reimport_replaces_only_what_changed(workdir, tmp_path):
    first = {entry("A A", 1, NB1): notebook("1"), entry("B B", 2, NB1): notebook("2")}
    import_archive(write_zip(tmp_path / "1.zip", first), A1, workdir)
    stamp = (workdir / "submitted/p1" / A1 / NB1).stat().st_mtime_ns
    second = {entry("A A", 1, NB1): notebook("1"), entry("B B", 2, NB1): notebook("2 corrigé"),
              entry("C C", 3, NB1): notebook("3")}
    result = import_archive(write_zip(tmp_path / "2.zip", second, ), A1, workdir)
    assert (result.new, result.changed, result.unchanged) == (["p3"], ["p2"], ["p1"])
    assert (workdir / "submitted/p1" / A1 / NB1).stat().st_mtime_ns == stamp
    assert submitted(workdir, 2) == {NB1: notebook("2 corrigé")}
    assert "new: 1, changed: 1, unchanged: 1" in result.summary()


def test_blind_marking_keeps_the_known_name(workdir, tmp_path):
    import_archive(write_zip(tmp_path / "1.zip", {entry("Ana Lima", 5, NB1): notebook("a")}), A1, workdir)
    result = import_archive(write_zip(tmp_path / "2.zip", {entry("Participant", 5, NB1): notebook("a")}), A1, workdir)
    assert result.unchanged == ["p5"] and load_participants(workdir)["p5"]["full_name"] == "Ana Lima"


def test_participants_merged_from_a_french_worksheet(workdir, tmp_path):
    ws = write_worksheet(tmp_path / "ws.csv", [{"pid": 1, "name": "Élodie M", "email": "Elodie.M@univ.fr"}],
                         french=True)
    import_archive(write_zip(tmp_path / "s.zip", {entry("Élodie M", 1, NB1): notebook("e")}), A1, workdir, ws)
    row = load_participants(workdir)["p1"]
    assert row["email"] == "Elodie.M@univ.fr" and row["full_name"] == "Élodie M"
    with open(workdir / PARTICIPANTS_FILE, newline="", encoding="utf-8") as f:
        assert next(csv.reader(f)) == ["student_id", "participant_id", "full_name", "email", "idnumber"]


# --- export: intake -> grades -> worksheet -------------------------------------------------

from autograder.moodle_export import course_grades, fill_worksheet, write_gradebook_csv  # noqa: E402

import fake_course  # noqa: E402
from fake_course import student  # noqa: E402

ROSTER = [(101, "Élodie Müller", "Elodie.Muller@univ.fr"), (102, "Jean Dupont", "jean@univ.fr"),
          (103, "Zoé Ça", "zoe@univ.fr"), (104, "Li Wei", "li@univ.fr"), (105, "Ana Lima", "ana@univ.fr"),
          (106, "Absent Étudiant", "absent@univ.fr")]
GRADED = {"p101": student({}, manual=1.0),
          "p102": student({"test_forward": 0.0}),
          "p103": student({}, status="error", reason="moons_numpy.ipynb is not valid JSON"),
          "p104": student({}, status="to regrade", reason="changed hidden tests"),
          "p105": student({"test_sigmoid": 1.0}, status="warning", reason="cell x stopped after 30 s", manual=0.5)}


def read_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


@pytest.fixture
def round_trip(workdir, tmp_path):
    """Import an archive of 5 students, then grade them (fake: gradebook rows + report)."""
    members = {entry(name, pid, NB1): notebook(name) for pid, name, _ in ROSTER[:5]}
    result = import_archive(write_zip(tmp_path / "all.zip", members), A1, workdir)
    assert sorted(result.new) == sorted(GRADED)
    fake_course.build(workdir, GRADED)
    return workdir


@pytest.mark.parametrize("french", [False, True])
def test_worksheet_round_trip_every_cell(round_trip, tmp_path, french):
    sheet = write_worksheet(tmp_path / "ws.csv", [{"pid": p, "name": n, "email": e} for p, n, e in ROSTER], french)
    before = read_rows(sheet)
    result = fill_worksheet(sheet, course_grades(round_trip), A1, tmp_path / "out.csv")
    after = read_rows(tmp_path / "out.csv")
    assert after[0] == before[0] and len(after) == len(before)
    grade_col, comment_col = 4, 9
    dec = (lambda s: s.replace(".", ",")) if french else (lambda s: s)
    expected = {"p101": (dec("20.00"), "Note : 6/6 points."),
                "p102": (dec("6.67"), "Note : 2/6 points. Les réponses rédigées ne sont pas encore corrigées."),
                "p103": ("", "Non noté : le notebook n'a pas pu être corrigé (moons_numpy.ipynb is not valid JSON). "
                             "Contactez l'enseignant."),
                "p104": ("", "Note en attente : la correction automatique doit être refaite."),
                "p105": (dec("15.00"), "Note : 4.5/6 points. Remarque : cell x stopped after 30 s.")}
    for old, new in zip(before[1:], after[1:]):
        sid = "p" + old[0].split()[-1]
        want = list(old)
        if sid in expected:
            want[grade_col], want[comment_col] = expected[sid]
        assert new == want, sid
    assert sorted(result.filled) == ["p101", "p102", "p105"]
    assert result.withheld == [("p103", "error"), ("p104", "to regrade")]
    assert result.untouched == ["Participant 106"]
    assert result.partial == ["p102"] and "without the manual part (not graded yet): p102" in result.summary()


def test_worksheet_semicolons_bom_and_missing_columns(round_trip, tmp_path):
    sheet = tmp_path / "ws.csv"
    sheet.write_bytes("\ufeffIdentifiant;Nom complet;Note;Note maximale;Dernière modification (évaluation)\n"
                      "Participant 101;Élodie Müller;;10,00;-\n".encode("utf-8"))
    result = fill_worksheet(sheet, course_grades(round_trip), A1, tmp_path / "out.csv")
    out = (tmp_path / "out.csv").read_bytes()
    assert out.startswith(b"\xef\xbb\xbf")
    assert out.decode("utf-8-sig").splitlines()[1] == 'Participant 101,Élodie Müller,"10,00","10,00",-'  # commas
    assert "no feedback comments column" in result.problems[0]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="Identifier"):
        fill_worksheet(bad, {}, A1, tmp_path / "x.csv")


def test_gradebook_csv_keyed_on_email_and_idnumber(round_trip, tmp_path):
    sheet = write_worksheet(tmp_path / "ws.csv", [{"pid": p, "name": n, "email": e} for p, n, e in ROSTER[:4]])
    import_archive(write_zip(tmp_path / "none.zip", {}), A1, round_trip, participants=sheet)
    result = write_gradebook_csv(round_trip, course_grades(round_trip), tmp_path / "gb.csv")
    rows = read_rows(tmp_path / "gb.csv")
    assert rows[0] == ["Email address", "Full name", A1, f"{A1} (feedback)"]  # no idnumber known: email
    assert rows[1:] == [["Elodie.Muller@univ.fr", "Élodie Müller", "6.00", "Note : 6/6 points."],  # case kept
                        ["jean@univ.fr", "Jean Dupont", "2.00",
                         "Note : 2/6 points. Les réponses rédigées ne sont pas encore corrigées."]]
    assert result.withheld == [("p103", "error"), ("p104", "to regrade")]
    assert result.problems == ["p103: no grade to import: left out (an empty cell would clear Moodle's)",
                               "p104: no grade to import: left out (an empty cell would clear Moodle's)",
                               "p105: no email in moodle_participants.csv: left out"]
    with open(round_trip / PARTICIPANTS_FILE, newline="", encoding="utf-8") as f:
        people = list(csv.DictReader(f))
    for row in people:
        row["idnumber"] = "" if row["student_id"] == "p102" else f"ID{row['participant_id']}"
    with open(round_trip / PARTICIPANTS_FILE, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(people[0]))
        w.writeheader()
        w.writerows(people)
    result = write_gradebook_csv(round_trip, course_grades(round_trip), tmp_path / "gb.csv", [A1])
    rows = read_rows(tmp_path / "gb.csv")
    assert rows[0][0] == "ID number" and [r[0] for r in rows[1:]] == ["ID101", "ID105"]  # never a blank key


# --- command line and demo ------------------------------------------------------------------

from autograder.cli import main  # noqa: E402
from autograder.moodle_cli import demo_moodle  # noqa: E402


def test_command_line_import_export_report(workdir, tmp_path, capsys):
    archive = write_zip(tmp_path / "all.zip", {entry(name, pid, NB1): notebook(name) for pid, name, _ in ROSTER[:5]})
    sheet = write_worksheet(tmp_path / "ws.csv", [{"pid": p, "name": n, "email": e} for p, n, e in ROSTER], True)
    assert main(["import-moodle", str(archive), "-a", A1, "-w", str(workdir), "--participants", str(sheet)]) == 0
    assert "new: 5, changed: 0, unchanged: 0" in capsys.readouterr().out
    fake_course.build(workdir, GRADED)
    assert main(["export", "-w", str(workdir), "--moodle-worksheet", str(sheet),
                 "--moodle-gradebook", str(tmp_path / "gb.csv")]) == 0
    out = capsys.readouterr().out
    assert "graded: 3, no grade (comment only): 2, rows untouched: 1" in out
    assert (workdir / "grades.csv").exists() and (tmp_path / "ws-filled.csv").exists()
    assert read_rows(tmp_path / "ws-filled.csv")[1][4] == "20,00"
    assert len(read_rows(tmp_path / "gb.csv")) == 1 + 3  # the two without a grade are left out
    assert main(["report", "-w", str(workdir)]) == 0 and (workdir / "report.html").exists()


def test_demo_moodle(workdir, tmp_path):
    for sid in ("correct", "partly-wrong", "corrupt"):
        (workdir / "submitted" / sid / A1).mkdir(parents=True)
        (workdir / "submitted" / sid / A1 / NB1).write_bytes(notebook(sid))
    fake_course.build(workdir, {"correct": student({}, manual=1.0), "partly-wrong": student({"test_forward": 0.0}),
                                "corrupt": student({}, status="error", reason="not valid JSON")})
    written = demo_moodle(workdir, [A1])
    assert [p.name for p in written] == [f"{A1}-submissions.zip", f"{A1}-worksheet.csv",
                                         f"{A1}-worksheet-filled.csv", "report.html"]
    rows = {r[0]: r for r in read_rows(workdir / "moodle" / f"{A1}-worksheet-filled.csv")}
    assert rows["Participant 1001"][4] == "20.00"         # correct
    assert rows["Participant 1002"][4] == ""              # corrupt: no grade, never 0
    assert rows["Participant 1003"][4] == "6.67"          # partly-wrong
    assert rows["Participant 1999"][4] == ""              # nothing handed in: untouched
    intake = workdir / "moodle" / "intake" / "submitted"
    assert sorted(p.name for p in intake.iterdir()) == ["p1001", "p1002", "p1003"]


def test_backslashes_and_nested_zip_counted_in_the_total(workdir, tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.moodle_import.MAX_TOTAL_BYTES", 3000)
    inner = zip_bytes({NB1: notebook("n") + b" " * 2000})
    members = {"Win Dows_1_assignsubmission_file\\" + NB1: notebook("w"),
               entry("Zip Per", 2, "a.zip"): inner, entry("Zip Two", 3, "b.zip"): inner}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A1, workdir)
    assert result.new == ["p1", "p2"]
    assert "in all: the rest is not read" in dict(result.not_taken)[entry("Zip Two", 3, "b.zip")]
    assert not list(workdir.glob(".moodle-import-*"))


def test_too_many_entries_are_not_read(workdir, tmp_path, monkeypatch):
    monkeypatch.setattr("autograder.moodle_import.MAX_MEMBERS", 3)
    members = {entry(f"S {i}", i, NB1): notebook(str(i)) for i in range(1, 5)}
    result = import_archive(write_zip(tmp_path / "s.zip", members), A1, workdir)
    assert not result.new and result.not_taken == [("(archive)", "4 entries, more than 3: not read")]
