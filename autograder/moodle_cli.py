"""The Moodle verbs of the CLI, the instructor report, and the Moodle part of the demo (``demo_moodle``).

    python -m autograder import-moodle ZIP -a ASSIGNMENT [-w DIR] [--participants CSV]
    python -m autograder export -w DIR [-a ASSIGNMENT] --moodle-worksheet WORKSHEET.csv [--to OUT.csv]
    python -m autograder export -w DIR --moodle-gradebook OUT.csv
    python -m autograder report [-w DIR]

``cli.main`` calls ``add_commands`` once, so that the Moodle side lives here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from . import course, grading
from .class_report import build_report
from .moodle_export import course_grades, fill_worksheet, write_gradebook_csv
from .moodle_import import import_archive, student_id


def cmd_import(args) -> int:
    result = import_archive(args.archive, args.assignment, args.workdir, args.participants)
    print(result.summary())
    print(f"submissions in {args.workdir / 'submitted'}; names in {args.workdir / 'moodle_participants.csv'}")
    taken = result.new or result.changed or result.unchanged
    return 0 if taken or not (result.refused or result.not_taken) else 1


def _one_assignment(args, grades: dict) -> str | None:
    if args.assignment and len(args.assignment) == 1:
        return args.assignment[0]
    found = sorted({a for a, _ in grades})
    return found[0] if len(found) == 1 and not args.assignment else None


def cmd_export_moodle(args, plain_export) -> int:
    """``export`` with --moodle-worksheet / --moodle-gradebook: grades.csv as usual, then Moodle's files."""
    worksheet_to = args.to
    args.to = None
    plain_export(args)
    grades = course_grades(args.workdir)
    if args.moodle_worksheet:
        assignment = _one_assignment(args, grades)
        if assignment is None:
            print("a grading worksheet is for one assignment: say which with -a ASSIGNMENT")
            return 2
        to = worksheet_to or args.moodle_worksheet.with_name(args.moodle_worksheet.stem + "-filled.csv")
        result = fill_worksheet(args.moodle_worksheet, grades, assignment, to)
        print(f"\nMoodle grading worksheet for {assignment}: {to}\n{result.summary()}")
    if args.moodle_gradebook:
        result = write_gradebook_csv(args.workdir, grades, args.moodle_gradebook, args.assignment)
        print(f"\nMoodle gradebook import: {args.moodle_gradebook}\n{result.summary()}")
    return 0


def cmd_report(args) -> int:
    path = build_report(args.workdir, args.assignment, similarity=not args.no_similarity)
    print(f"report written to {path}")
    return 0


def add_commands(sub, default_workdir: Path) -> None:
    """Add import-moodle and report, and the Moodle flags of export, to the CLI's subparsers."""
    workdir_help = f"course folder (default {default_workdir})"
    p = sub.add_parser("import-moodle", help="import Moodle's 'Download all submissions' zip")
    p.set_defaults(func=cmd_import)
    p.add_argument("archive", type=Path, help="the zip Moodle gives for one assignment")
    p.add_argument("-a", "--assignment", required=True, help="the assignment it is for, e.g. 01_moons_numpy")
    p.add_argument("-w", "--workdir", type=Path, default=default_workdir, help=workdir_help)
    p.add_argument("--participants", type=Path,
                   help="grading worksheet or CSV with Identifier, Full name, Email address (ID number)")

    p = sub.add_parser("report", help="WORKDIR/report.html: plots, messages, statuses, timings, alike pairs")
    p.set_defaults(func=cmd_report)
    p.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("-w", "--workdir", type=Path, default=default_workdir, help=workdir_help)
    p.add_argument("--no-similarity", action="store_true", help="skip the search for alike answers")

    export = sub.choices["export"]
    plain = export.get_default("func")
    export.set_defaults(func=lambda args: (cmd_export_moodle(args, plain)
                                           if args.moodle_worksheet or args.moodle_gradebook else plain(args)))
    export.add_argument("--moodle-worksheet", type=Path,
                        help="fill this Moodle grading worksheet (one assignment, -a); written to --to "
                             "or WORKSHEET-filled.csv")
    export.add_argument("--moodle-gradebook", type=Path, help="write a Moodle gradebook import CSV here")


# --- demo ------------------------------------------------------------------------------------

def _sample_archive(workdir: Path, assignment: str, pids: dict, to: Path) -> Path:
    """The demo's submissions of one assignment as Moodle would zip them (current layout)."""
    import zipfile

    with zipfile.ZipFile(to, "w", zipfile.ZIP_DEFLATED) as zf:
        for sid, pid in pids.items():
            folder = workdir / "submitted" / sid / assignment
            for path in sorted(folder.iterdir()) if folder.exists() else []:
                zf.write(path, f"Demo {sid.replace('-', ' ').title()}_{pid}_assignsubmission_file/{path.name}")
    return to


def _sample_worksheet(pids: dict, to: Path, max_grade: float = 20.0) -> Path:
    """A grading worksheet as an English Moodle writes it, plus one student who handed in nothing."""
    with open(to, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade",
                    "Grade can be changed", "Last modified (submission)", "Last modified (grade)",
                    "Feedback comments"])
        for sid, pid in list(pids.items()) + [("absent", 1999)]:
            status = "No submission" if sid == "absent" else "Submitted for grading"
            w.writerow([f"Participant {pid}", f"Demo {sid.replace('-', ' ').title()}", f"{sid}@example.org",
                        status, "", f"{max_grade:.2f}", "Yes", "-", "-", ""])
    return to


def demo_moodle(workdir: Path, assignments: list[str] | None = None) -> list[Path]:
    """After the demo has graded: for each assignment, a sample Moodle archive of the demo's
    submissions (imported again into ``workdir/moodle/intake`` to show the intake), a sample
    grading worksheet and the same worksheet filled in, under ``workdir/moodle/``; then
    ``workdir/report.html``. Demo students get participant ids 1001, 1002, ..."""
    out = workdir / "moodle"
    out.mkdir(exist_ok=True)
    students = sorted({s for s, _ in grading.submissions(workdir, assignments)})
    pids = {sid: 1001 + i for i, sid in enumerate(students)}
    grades = course_grades(workdir)
    written = []
    for a in assignments or course.assignments():
        archive = _sample_archive(workdir, a, pids, out / f"{a}-submissions.zip")
        import_archive(archive, a, out / "intake")
        sheet = _sample_worksheet(pids, out / f"{a}-worksheet.csv")
        by_pid = {(a, student_id(pids[s])): g for (aa, s), g in grades.items() if aa == a and s in pids}
        fill_worksheet(sheet, by_pid, a, out / f"{a}-worksheet-filled.csv")
        written += [archive, sheet, out / f"{a}-worksheet-filled.csv"]
    written.append(build_report(workdir, assignments))
    return written

