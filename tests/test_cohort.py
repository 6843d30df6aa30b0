"""Grading a cohort on Dask (issue 12): worker deaths, the kernels' thread budget on a
cluster given by address (as on SLURM or Kubernetes), and resuming after ``kill -9``."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cloudpickle
import dask
import nbformat
import pytest
from distributed import LocalCluster
from nbgrader.api import Gradebook

from autograder import cohort, course, grading
from autograder.export import export
from autograder.mutants import catalogue
from autograder.sandbox import scratch_root
from autograder.submissions import apply_mutants, reference_submission
from autograder.submissions import course_notebooks as notebooks
from autograder.submissions import write_submission as submit

pytestmark = pytest.mark.slow
A = course.assignments()[0]
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the test tasks below run on workers


def _dies_for_one(workdir, student, assignment, config):
    """A task that kills its worker for student "dies" (each try leaves a line), grades nobody."""
    if student == "dies":
        with open(Path(workdir) / "tries", "a") as f:
            f.write("try\n")
        os._exit(1)
    return grading.Outcome(student, assignment), {}


def test_task_whose_worker_dies_is_tried_twice_then_reported(tmp_path):
    pairs = [("dies", A)] + [(f"fine-{k}", A) for k in range(1, 7)]
    out = {o.student: o for o, _ in cohort.graded(tmp_path, pairs, None, jobs=2, task=_dies_for_one)}
    assert set(out) == {s for s, _ in pairs}
    assert out["dies"].status == "error" and "died twice" in out["dies"].reason
    assert (tmp_path / "tries").read_text().count("try") == 2
    assert all(out[s].status == "ok" for s, _ in pairs[1:]), [out[s].reason for s, _ in pairs[1:]]


def _cli(workdir, *args):
    return [sys.executable, "-m", "autograder", "autograde", "-w", str(workdir), "-a", A, *args]


@pytest.fixture(scope="module")
def course_01(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("cohort")
    grading.prepare(workdir, [A])
    name, source_nb, release_nb = next(notebooks(workdir, A))
    return workdir, name, reference_submission(source_nb, release_nb)


def test_existing_cluster_by_address_and_kernel_thread_budget(course_01):
    """``--scheduler ADDRESS`` grades on a cluster started elsewhere (several worker processes,
    whose nanny sets OMP_NUM_THREADS=1); each kernel still gets the budget it is given."""
    workdir, name, reference = course_01
    probe = copy.deepcopy(reference)
    probe.cells.insert(0, nbformat.v4.new_code_cell(
        "import os, torch\nprint('OMP=' + os.environ.get('OMP_NUM_THREADS', ''))\n"
        "print('TORCH=' + str(torch.get_num_threads()))", id="threads"))
    submit(workdir, "threads", A, name, probe)
    submit(workdir, "on-cluster", A, name, reference)
    config = course.load_config(Sandbox={"threads": 2})  # not the nanny's 1
    with dask.config.set(cohort.SCHEDULER_CONFIG):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            outcomes = grading.grade_all(workdir, [A], ["threads", "on-cluster"], config, progress=False,
                                         scheduler=cluster.scheduler_address)
    assert [o.status for o in outcomes] == ["ok", "ok"], [o.reason for o in outcomes]
    report = grading.load_report(workdir)
    assert report[f"threads/{A}"]["status"] == report[f"on-cluster/{A}"]["status"] == "ok", report
    nb = nbformat.read(next((workdir / "autograded" / "threads" / A).glob("*.ipynb")), as_version=4)
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "OMP=2" in text and "TORCH=2" in text, text
    assert grading.load_batch(workdir)["scheduler"] == cluster.scheduler_address


def test_one_by_one_each_submission_is_executed(course_01):
    """-j 1 grades here, one after another: recording a submission's grades (execution
    disabled) must leave the next one executed (a blank after a reference gets zero)."""
    workdir, name, reference = course_01
    release_nb = nbformat.read(next((workdir / "release" / A).glob("*.ipynb")), as_version=4)
    submit(workdir, "seq-1-reference", A, name, reference)
    submit(workdir, "seq-2-blank", A, name, release_nb)
    config = course.load_config()
    outcomes = grading.grade_all(workdir, [A], ["seq-1-reference", "seq-2-blank"], config, progress=False, jobs=1)
    assert [o.status for o in outcomes] == ["ok", "ok"], [o.reason for o in outcomes]
    assert "enabled" not in config.Execute, "the caller's configuration was changed"
    ref, blank = (_grade_rows(workdir, s) for s in ("seq-1-reference", "seq-2-blank"))
    assert all(score == top for score, top, kind in ref.values() if kind == "code")
    assert not any(score for score, _, kind in blank.values() if kind == "code"), blank


def _grade_rows(workdir, student):
    """grade_id -> (auto score, max score, cell type) of every grade row of the submission."""
    with Gradebook(course.db_url(workdir / "gradebook.db")) as gb:
        [nb] = gb.find_submission(A, student).notebooks
        return {g.name: (g.auto_score, g.max_score, g.cell.cell_type) for g in nb.grades}


def _leftovers(pids):
    """Scratch folders (ours and the sandbox's) that belong to processes in ``pids``."""
    found = [d for d in Path(tempfile.gettempdir()).glob(f"{grading.GRADE_SCRATCH_PREFIX}*")
             if d.name[len(grading.GRADE_SCRATCH_PREFIX):].split("-", 1)[0] in pids]
    return found + [d for d in scratch_root().iterdir() if d.name.split("-", 1)[0] in pids]


def test_kill_9_mid_batch_then_resume(tmp_path):
    """kill -9 of the CLI's whole process group while it grades 8 submissions two at a time;
    the rerun grades only the unfinished ones: no grade lost, duplicated or half-written."""
    workdir = tmp_path / "course"
    grading.prepare(workdir, [A])
    name, source_nb, release_nb = next(notebooks(workdir, A))
    reference = reference_submission(source_nb, release_nb)
    mutants = catalogue(A)[:7]
    expected = {"reference": set()}
    submit(workdir, "reference", A, name, reference)
    for m in mutants:
        submit(workdir, f"m-{m.name}", A, name, apply_mutants(reference, [m]))
        expected[f"m-{m.name}"] = set(m.breaks)

    t0 = time.monotonic()
    run = subprocess.Popen(_cli(workdir, "-j", "2"), cwd=course.REPO, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while len(grading.load_report(workdir)) < 2:
            assert run.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() - t0 < 600
            time.sleep(0.5)
        pids = {p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _pgid(int(p.name)) == run.pid}
        os.killpg(run.pid, signal.SIGKILL)
    finally:
        run.wait()
    time.sleep(2)
    done = grading.load_report(workdir)  # written at once: never half a report
    assert 2 <= len(done) < 8, f"killed too late: {len(done)} done"
    left = _leftovers(pids)
    print(f"\nkilled after {time.monotonic() - t0:.0f} s with {len(done)} done; {len(left)} scratch folders left")

    t1 = time.monotonic()
    result = subprocess.run(_cli(workdir, "-j", "2"), cwd=course.REPO, capture_output=True, text=True, timeout=900)
    print(f"rerun in {time.monotonic() - t1:.0f} s")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"skipped {len(done)} unchanged" in result.stdout, result.stdout
    batch = grading.load_batch(workdir)
    assert batch["skipped"] == len(done) and batch["to_grade"] == batch["graded"] == 8 - len(done), batch
    report = grading.load_report(workdir)
    assert set(report) == {f"{s}/{A}" for s in expected}
    for key, entry in done.items():
        assert report[key] == entry, f"{key} was graded again"
    for student, breaks in expected.items():
        assert report[f"{student}/{A}"]["status"] == "ok" and report[f"{student}/{A}"]["key"]
        rows = _grade_rows(workdir, student)
        tests = {k for k, (_, _, kind) in rows.items() if kind == "code"}
        assert tests and all(rows[k][0] is not None for k in tests), (student, rows)
        failing = {k for k in tests if rows[k][0] < rows[k][1]}
        assert failing == breaks, (student, failing, breaks)
    assert not any(d.exists() for d in left), "scratch folders of the killed run are still there"
    _, rows, _ = export(workdir)  # the report's batch entry is not a submission
    assert sorted(r["student_id"] for r in rows) == sorted(expected) and {r["status"] for r in rows} == {"ok"}
    assert not [p for p in pids if Path(f"/proc/{p}").exists() and _pgid(int(p)) == run.pid]

    # --regrade grades again what is unchanged; one at a time, here, gives the same grades as on Dask.
    on_dask = {s: _grade_rows(workdir, s) for s in ("reference", f"m-{mutants[0].name}")}
    again = subprocess.run(_cli(workdir, "-j", "1", "-s", "reference", "-s", f"m-{mutants[0].name}", "--regrade"),
                           cwd=course.REPO, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "skipped" not in again.stdout, again.stdout
    assert grading.load_batch(workdir)["graded"] == 2
    assert {s: _grade_rows(workdir, s) for s in on_dask} == on_dask


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_slurm_recipe_job_script():
    """The README's SLURM recipe, as far as dask-jobqueue goes without SLURM: one job per
    machine, 16 one-thread workers (one sandbox each), no nanny memory limit, the data root."""
    jobqueue = pytest.importorskip("dask_jobqueue")
    with jobqueue.SLURMCluster(cores=16, processes=16, memory="64GB", walltime="02:00:00", account="acct",
                               queue="cpu", scheduler_options={"port": 0, "dashboard_address": ":0"}, worker_extra_args=["--memory-limit", "0"],
                               job_script_prologue=["export NNCOURSE_DATA=/shared/nncourse-data"]) as cluster:
        script = cluster.job_script()
    for expected in ("#SBATCH -A acct", "#SBATCH -p cpu", "#SBATCH -t 02:00:00", "--nworkers 16", "--nthreads 1",
                     "--memory-limit 0", "export NNCOURSE_DATA=/shared/nncourse-data", "#SBATCH --cpus-per-task=16"):
        assert expected in script, (expected, script)


def test_rerun_tries_again_what_the_grader_failed_and_a_resubmission(tmp_path):
    """Keys cover nbgrader's timestamp (a later resubmission changes the late penalty); a
    failure of the grader (worker died twice, grades not recorded) is not a grade: the
    rerun tries again, while a submission's own error (not a notebook) is kept."""
    folder = tmp_path / "submitted" / "s" / A
    folder.mkdir(parents=True)
    (folder / "nb.ipynb").write_text("{}")
    first = cohort.submission_key(tmp_path, "s", A, [], "v")
    (folder / "notes.txt").write_text("not graded")
    assert cohort.submission_key(tmp_path, "s", A, [], "v") == first
    (folder / "timestamp.txt").write_text("2026-11-30 12:00:00 UTC")
    assert cohort.submission_key(tmp_path, "s", A, [], "v") != first
    assert grading._unfinished({"status": "error", "reason": cohort.DIED_TWICE})
    assert grading._unfinished({"status": "error", "reason": "grades not recorded: locked"})
    assert grading._unfinished({"status": "to regrade", "reason": "given cell timed out"})
    assert not grading._unfinished({"status": "error", "reason": "not a notebook: nb.ipynb"})
    assert not grading._unfinished({"status": "ok", "reason": ""})
