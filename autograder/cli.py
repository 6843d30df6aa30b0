"""Command line of the instructor side.

    python -m autograder release [--check]     regenerate release/ from source/ (nbgrader)
    python -m autograder prepare  -w DIR       course folder: sources, release, gradebook
    python -m autograder autograde -w DIR [-j N] [--scheduler ADDR] [--regrade]
                                               grade DIR/submitted/*/* (status per submission);
                                               only what is new, changed or unfinished
    python -m autograder feedback -w DIR       HTML feedback, hidden tests stripped
    python -m autograder export   -w DIR       DIR/grades.csv with a status column
    python -m autograder demo    [-w DIR]      all of it on the built-in sample submissions
    python -m autograder calibrate NN_name [--seeds N]   graded quantities over seeds, thresholds
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from . import calibrate, course, grading, release, samples
from .export import export, format_table
from .feedback import PENDING_TITLE, generate_feedback, pending_manual_grades
from .sandbox import Sandbox, SandboxUnavailable, describe

DEFAULT_WORKDIR = Path.home() / "nncourse-grading"


class CliError(Exception):
    """A command cannot go on; the message says why and what to do."""
DEMO_JOBS = min(4, os.cpu_count() or 1)
AUTOGRADE_JOBS = os.cpu_count() or 1  # a local Dask cluster sized to the machine


def _config(args):
    overrides = {}
    if getattr(args, "cell_timeout", None):
        overrides["Execute"] = {"timeout": args.cell_timeout}
    if getattr(args, "notebook_timeout", None):
        overrides["SandboxedExecute"] = {"notebook_timeout": args.notebook_timeout}
    if getattr(args, "unsafe_no_sandbox", False):
        overrides["Sandbox"] = {"mode": "none"}
    config = course.with_jobs(course.load_config(**overrides), getattr(args, "jobs", 1))
    print(describe(Sandbox(config=config)))
    return config


def cmd_release(args) -> int:
    if args.check:
        problems = release.differences(args.assignment)
        for p in problems:
            print(p)
        print("release/ is in sync with source/." if not problems else
              "release/ is out of date: run `python -m autograder release`.")
        return 1 if problems else 0
    for path in release.generate_into(course.RELEASE, args.assignment):
        print(f"wrote {path.relative_to(course.REPO)}")
    return 0


def cmd_prepare(args) -> int:
    grading.prepare(args.workdir, args.assignment)
    print(f"course folder ready: {args.workdir} (release/ and gradebook.db built by nbgrader)")
    return 0


def _ensure_prepared(args) -> None:
    if not (args.workdir / "gradebook.db").exists():
        grading.prepare(args.workdir, args.assignment)


def _summary(outcomes) -> str:
    bad = [o for o in outcomes if o.status == "error"]
    warn = [o for o in outcomes if o.status == "warning"]
    held = [o for o in outcomes if o.status == "to regrade"]
    secs = [o.seconds for o in outcomes]
    mean = sum(secs) / len(secs) if secs else 0.0
    return (f"graded {len(outcomes) - len(bad)}/{len(outcomes)} submissions "
            f"({len(warn)} with warnings, {len(held)} to regrade, {len(bad)} could not be graded); "
            f"{mean:.1f} s per submission on average")


def cmd_autograde(args) -> int:
    _ensure_prepared(args)
    outcomes = grading.grade_all(args.workdir, args.assignment, args.student, _config(args), jobs=args.jobs,
                                 scheduler=args.scheduler, regrade=args.regrade)
    print(_summary(outcomes))
    return 0


def _write_feedback(workdir: Path, pairs) -> list:
    """Feedback for ``pairs``, with a warning for those whose written answers await grading."""
    pending = pending_manual_grades(workdir, pairs)
    if pending:  # released now, these show 0 for answers nobody has graded yet
        shown = ", ".join(f"{s}/{a} ({p:g} pt)" for s, a, p in pending[:10]) + (" …" if len(pending) > 10 else "")
        print(f"warning: written answers of {len(pending)} submission(s) still await manual grading "
              f"(formgrader): {shown}. Their feedback says at the top « {PENDING_TITLE} »; grade them and "
              "run `feedback` again before `nbgrader release_feedback` to give the final score.")
    failures = generate_feedback(workdir, pairs)
    for student, assignment, causes in failures:
        print(f"feedback failed for {student}/{assignment}: nbgrader says:", *(f"  {c}" for c in causes), sep="\n")
    print(f"feedback written to {workdir / 'feedback'} ({len(pairs) - len(failures)} notebooks)")
    return failures


def cmd_feedback(args) -> int:
    _require_gradebook(args.workdir)
    report = grading.load_report(args.workdir)
    pairs = [(o["student"], o["assignment"]) for o in report.values() if o["status"] in ("ok", "warning")]
    held = sorted(f"{o['student']}/{o['assignment']}" for o in report.values() if o["status"] == "to regrade")
    if held:  # their grade is withheld: feedback would show points the student did not lose
        print(f"no feedback for {len(held)} submission(s) to regrade: {', '.join(held)}")
    failures = _write_feedback(args.workdir, pairs)
    return 1 if failures else 0


def _require_gradebook(workdir: Path) -> None:
    if not (workdir / "gradebook.db").exists():  # nbgrader would make an empty one
        raise CliError(f"no gradebook in {workdir}: run `python -m autograder prepare -w {workdir}` "
                       "and `autograde` first (or name the course folder with -w)")


def cmd_export(args) -> int:
    _require_gradebook(args.workdir)
    path, rows, cells = export(args.workdir, getattr(args, "to", None))
    print(format_table(rows, cells))
    print(f"\ngrades written to {path}")
    return 0


def _demo_grade(args, names: list[str], step: str) -> list:
    """Samples, autograde, feedback and the grades table of ``names``; returns the outcomes."""
    written = samples.write_samples(args.workdir, names)
    print(f"{step} {len(written)} built-in sample submissions of {', '.join(names)} "
          f"({', '.join(samples.STUDENTS)}); autograde, each in its own sandbox")
    outcomes = grading.grade_all(args.workdir, names, None, _config(args), jobs=args.jobs)
    print(_summary(outcomes))
    pairs = [(o.student, o.assignment) for o in outcomes if o.status in ("ok", "warning")]
    _write_feedback(args.workdir, pairs)
    _, rows, cells = export(args.workdir)
    print(format_table([r for r in rows if r["assignment"] in names], {a: cells[a] for a in names if a in cells}))
    return outcomes


def _demo_row(assignment: str, outcomes) -> str:
    mine = [o for o in outcomes if o.assignment == assignment]
    counts = {s: sum(o.status == s for o in mine) for s in grading.STATUSES}
    return f"{assignment:<20} graded: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)


def cmd_demo(args) -> int:
    """Everything on the built-in samples. What needs no slow preparation is graded first;
    an assignment whose reference files take minutes to build (06's trained CNN) comes last;
    one whose dataset is missing gets a row saying so, and the rest goes on."""
    from nncourse.data import DATA_ENV_VAR, data_root

    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="nncourse-demo-"))
    args.cell_timeout = args.cell_timeout or 30  # the looping sample should not hold the demo long
    t0 = time.monotonic()
    if not os.environ.get(DATA_ENV_VAR) and data_root().is_dir():
        os.environ[DATA_ENV_VAR] = str(data_root())  # the sandbox reads the data the plan checked
    plan = samples.demo_plan(args.assignment)
    print(f"demo in {args.workdir}; data root {data_root()} (${DATA_ENV_VAR})")
    for line in plan.lines():
        print(f"  {line}")
    names = plan.at_once + plan.last
    outcomes, rows = [], {}
    if names:
        print(f"[1/4] release + gradebook with nbgrader: {', '.join(names)}")
        grading.prepare(args.workdir, names)
    if plan.at_once:
        outcomes += _demo_grade(args, plan.at_once, "[2/4]")
    graded = list(plan.at_once)
    for a in plan.last:
        print(f"[3/4] {a}: " + ("reference files from the cache" if plan.cached.get(a) else
                               f"training its reference network ({samples.REFERENCE_BUILD}), then grading it"))
        try:
            samples.reference_files(a)  # builds and caches them (progress bar), or finds them
        except Exception as exc:  # e.g. the data vanished, no memory: the rest of the demo stands
            rows[a] = f"{a:<20} not graded: its reference files could not be built: {type(exc).__name__}: {exc}"
            continue
        outcomes += _demo_grade(args, [a], f"[3/4] {a}:")
        graded.append(a)
    if graded:
        print("[4/4] Moodle worksheet and instructor report")
        from .moodle_cli import demo_moodle
        for path in demo_moodle(args.workdir, graded):
            print(f"wrote {path}")
    print(f"\ndemo finished in {time.monotonic() - t0:.0f} s; course folder: {args.workdir}")
    for a in args.assignment or course.assignments():
        if a in plan.missing:
            print(f"{a:<20} not graded: data missing / données manquantes")
            print("\n".join(f"    {line}" for line in plan.missing[a].splitlines()))
        else:
            print(rows.get(a) or _demo_row(a, outcomes))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_, workdir=True):
        p = sub.add_parser(name, help=help_)
        p.set_defaults(func=func)
        p.add_argument("-a", "--assignment", action="append", help="only this assignment (repeatable)")
        if workdir:
            p.add_argument("-w", "--workdir", type=Path, default=None if name == "demo" else DEFAULT_WORKDIR,
                           help=f"course folder (default: {'a new temporary folder' if name == 'demo' else DEFAULT_WORKDIR})")
        return p

    p = add("release", cmd_release, "regenerate release/ from source/", workdir=False)
    p.add_argument("--check", action="store_true", help="only check that release/ is in sync")
    add("prepare", cmd_prepare, "copy sources, build release and gradebook in the course folder")
    for name, func, help_ in (("autograde", cmd_autograde, "grade every submission"),
                              ("demo", cmd_demo, "release, grade the sample submissions, feedback, export")):
        p = add(name, func, help_)
        p.add_argument("--cell-timeout", type=int, help="seconds per cell (default: nbgrader_config.py)")
        p.add_argument("--notebook-timeout", type=int, help="seconds per notebook (default: nbgrader_config.py)")
        default_jobs = AUTOGRADE_JOBS if name == "autograde" else DEMO_JOBS
        p.add_argument("-j", "--jobs", type=int, default=default_jobs,
                       help=f"submissions graded at once, one kernel each, sharing the cores: the local Dask "
                            f"cluster's workers; 1: one after another in this process (default {default_jobs}); "
                            f"with --scheduler: workers per machine (sets each kernel's thread budget)")
        p.add_argument("--unsafe-no-sandbox", action="store_true",
                       help="grade even where no sandbox works (student code can then reach this machine)")
        if name == "autograde":
            p.add_argument("-s", "--student", action="append", help="only this student (repeatable)")
            p.add_argument("--scheduler", help="grade on the Dask cluster at this address (tcp://host:8786) "
                                               "instead of a local one")
            p.add_argument("--regrade", action="store_true",
                           help="grade everything again, even what is unchanged since it was graded")
    add("feedback", cmd_feedback, "HTML feedback for graded submissions")
    p = add("export", cmd_export, "grades.csv with status, and a table")
    p.add_argument("--to", type=Path, help="CSV path (default: WORKDIR/grades.csv)")

    p = sub.add_parser("calibrate", help="the graded quantities of an assignment over seeds, next to their thresholds")
    p.add_argument("assignment_name", metavar="NN_name", choices=course.assignments())
    p.add_argument("--seeds", type=int, help="number of seeds (default: the assignment's own)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting of the assignment's calibration() (e.g. epochs=5)")
    p.set_defaults(func=lambda a: calibrate.main(a.assignment_name, a.seeds, a.set))

    from .moodle_cli import add_commands  # import-moodle, report, export --moodle-* (issue 13)
    add_commands(sub, DEFAULT_WORKDIR)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SandboxUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (course.NbgraderFailed, CliError) as exc:  # the cause, as nbgrader gave it
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. a course folder that cannot be written
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
