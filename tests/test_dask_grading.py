"""Grading past one machine: phase 1 on a Dask cluster, the gradebook on PostgreSQL.

Real components on 127.0.0.1: a `dask scheduler` with two `dask worker` processes (one thread each) and a
PostgreSQL server of Debian's package. A small demo class of tutorial 01 is graded with `make grade
SCHEDULER=...` and COURSE_DB_URL, and compared row by row with the same class graded on this machine into
SQLite; one run loses a worker (SIGKILL) while it executes a submission; an unreachable scheduler is named
at once, or the instructor's local fallback is taken.
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from grading_services import DaskCluster, free_port, postgres, share_probe_key  # noqa: F401  (postgres: the session's server)

from course_utils.instructor import dask_grading, notebooks
from course_utils.instructor.dask_grading import (ClusterSpec, DaskPhaseOne, SubmissionTask, WorkerCheck,
                                                  WorkersUnfit, claim_slot, read_tree, verified, write_tree)
from course_utils.instructor.demo import grade, prepare_course, submit
from course_utils.instructor.submission_run import SubmissionResult
from course_utils.instructor.submissions import HARDENING_CLASS, demo_class, perfect

ASSIGNMENT = "01_amplitude_regression"


def _flagged(release, solution):
    """Perfect answers, plus `exec` in the first answer cell: the tamper scan asks for a look (a manual grade)."""
    filled = perfect(release, solution)
    cell = notebooks.solution_cells(filled)[notebooks.answer_ids(filled)[0]]
    cell.source = 'exec("pass")\n' + cell.source
    return filled


def small_class() -> dict:
    """The perfect and untouched submissions, a slip the hidden tests catch, a syntax error, a file that is
    not a notebook, and one the tamper scan flags (needs_manual_grade)."""
    kinds = demo_class(ASSIGNMENT)
    return {"alice": kinds["alice"], "bob": kinds["bob"], "carol": kinds["carol"], "erin": kinds["erin"],
            "mallory": HARDENING_CLASS["mallory"], "oscar": ("exec in an answer cell", _flagged)}


def make_course(root, folder: Path, env: dict[str, str] | None = None, students: dict | None = None) -> Path:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        prepare_course(root, folder, [ASSIGNMENT])
    share_probe_key(folder)
    submit(folder, ASSIGNMENT, students or small_class())
    return folder


def gradebook_rows(url: str, students) -> list[tuple]:
    """Everything the gradebook holds about the grading of ``students``, without timestamps."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(url, "bdl-particle-physics") as gradebook:
        for student in students:
            submissions = [s for s in gradebook.student_submissions(student) if s.assignment.name == ASSIGNMENT]
            rows.append(("submissions", student, len(submissions)))
            for notebook in submissions[0].notebooks:
                rows += [("grade", student, g.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                         for g in notebook.grades]
                rows += [("comment", student, c.name, c.auto_comment, c.manual_comment) for c in notebook.comments]
    return sorted(rows, key=repr)


def exported(course: Path) -> list[dict]:
    """`nbgrader export`'s rows without the timestamp columns."""
    rows = list(csv.DictReader(io.StringIO((course / "grading" / "grades.csv").read_text())))
    return sorted(({k: v for k, v in row.items() if "timestamp" not in k} for row in rows), key=lambda r: r["student_id"])


def feedback_text(course: Path, student: str) -> str:
    page = (course / "grading" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", page, flags=re.S)
    text = re.sub(r"\d{4}-\d\d-\d\d[ T][\d:.]+", "TIME", re.sub(r"<[^>]+>", " ", text))
    return " ".join(re.sub(r"\b\d+(\.\d+)?\s*(s|ms|min)\b", "DURATION", text).split())


@pytest.fixture(scope="module")
def reference(root, tmp_path_factory, notebook_env):
    """The class graded on this machine into SQLite (what `make grade` does without a cluster)."""
    course = make_course(root, tmp_path_factory.mktemp("local"))
    grade(course, ASSIGNMENT, env=notebook_env, workers=2)
    return course, gradebook_rows(f"sqlite:///{course / 'grading' / 'gradebook.db'}", small_class())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, notebook_env):
    """`dask scheduler` and two `dask worker` processes (one thread each) on 127.0.0.1."""
    running = DaskCluster(tmp_path_factory.mktemp("dask"), notebook_env, workers=2).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def distributed_run(root, postgres, cluster, tmp_path_factory, notebook_env):  # noqa: F811
    """The class graded by `make grade SCHEDULER=...` with its gradebook on the PostgreSQL server."""
    postgres.sql("postgres", "CREATE DATABASE distributed OWNER grader")
    env = {**notebook_env, "COURSE_DB_URL": postgres.url(database="distributed")}
    course = make_course(root, tmp_path_factory.mktemp("distributed"), env)
    result = subprocess.run(["make", "-s", "grade", f"A={ASSIGNMENT}", f"COURSE_DIR={course}",
                             f"SCHEDULER={cluster.address}"], cwd=root, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return course, env, result.stdout


@pytest.mark.slow
def test_distributed_grading_on_postgresql_equals_local_sqlite(reference, distributed_run):
    """Scores, manual scores, comments and needs_manual_grade, row by row; one submission per student."""
    local_course, local_rows = reference
    course, env, stdout = distributed_run
    assert not (course / "grading" / "gradebook.db").exists()
    rows = gradebook_rows(env["COURSE_DB_URL"], small_class())
    assert rows == local_rows
    assert [r for r in rows if r[0] == "submissions"] == [("submissions", s, 1) for s in sorted(small_class())]
    assert any(r[0] == "grade" and r[1] == "oscar" and r[-1] for r in rows)  # the flag reached the server
    assert "phase 1 on the Dask cluster" in stdout


@pytest.mark.slow
def test_export_and_feedback_read_the_postgresql_gradebook(reference, distributed_run, root):
    local_course, _ = reference
    course, env, _ = distributed_run
    assert exported(course) == exported(local_course)
    for student in sorted(set(small_class()) - {"mallory"}):
        assert feedback_text(course, student) == feedback_text(local_course, student), student
        assert "HIDDEN TESTS" not in feedback_text(course, student)
    listed = subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "db", "student", "list"], cwd=course,
                            env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and all(student in listed.stdout for student in small_class())


@pytest.mark.slow
def test_the_run_log_names_the_cluster_and_its_workers(distributed_run, cluster):
    course, _, _ = distributed_run
    run = json.loads((course / "grading" / "runs" / f"{ASSIGNMENT}.json").read_text())
    assert run["isolation"].startswith(f"phase 1 on the Dask cluster at {cluster.address}")
    assert "student kernels are isolated" in run["isolation"]
    assert run["workers"] == 2  # both workers ran submissions
    assert list(run["invalid"]) == ["mallory"] and list(run["review"]) == ["oscar"] and run["failed"] == {}


@pytest.mark.slow
def working_in(folder: Path) -> list[int]:
    """The processes whose working folder lies in ``folder``."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(entry / "cwd")).is_relative_to(folder):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_a_worker_killed_mid_run_loses_no_submission(root, reference, tmp_path_factory, notebook_env):
    """SIGKILL a worker while it executes a submission: the scheduler reruns it on the other worker; every
    student is graded once, with the scores of the local run (three of its students: two kernels at a time)."""
    _, local_rows = reference
    students = {name: small_class()[name] for name in ("alice", "bob", "carol")}
    course = make_course(root, tmp_path_factory.mktemp("killed"), students=students)
    cluster = DaskCluster(tmp_path_factory.mktemp("dask-kill"), notebook_env, workers=2).start()
    try:
        started = threading.Event()
        events: list[dict] = []

        def on_event(event) -> None:
            _, message = event
            events.append(message)
            if message["event"] == "started" and message["name"] == "w1":
                started.set()

        cluster.client.subscribe_topic(dask_grading.TOPIC, on_event)
        grader = subprocess.Popen(["make", "-s", "grade", f"A={ASSIGNMENT}", f"COURSE_DIR={course}",
                                   f"SCHEDULER={cluster.address}"], cwd=root, env=notebook_env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert started.wait(300), "no submission started on worker w1"
        victim = next(e["student"] for e in events if e["event"] == "started" and e["name"] == "w1")
        cluster.kill_worker("w1")
        output, _ = grader.communicate(timeout=900)
        assert grader.returncode == 0, output
        assert gradebook_rows(f"sqlite:///{course / 'grading' / 'gradebook.db'}", students) == \
            [row for row in local_rows if row[1] in students]
        assert any(e["event"] == "finished" and e["student"] == victim and e["name"] == "w0" for e in events), events
        run = json.loads((course / "grading" / "runs" / f"{ASSIGNMENT}.json").read_text())
        assert run["failed"] == {}
        # nothing the killed worker started (its phase-1 process, its kernel) works on: they ended with it
        deadline = time.monotonic() + 120
        while (left := working_in(cluster.tmp)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not left, f"processes of the killed worker still work in its folder: {left}"
    finally:
        cluster.stop()


def test_an_unreachable_scheduler_is_named_within_seconds(root, tmp_path):
    course = tmp_path / "course"
    (course / "grading" / "submitted" / "alice" / ASSIGNMENT).mkdir(parents=True)
    address = f"tcp://127.0.0.1:{free_port()}"
    start = time.monotonic()
    result = subprocess.run(["make", "-s", "grade", f"A={ASSIGNMENT}", f"COURSE_DIR={course}", f"SCHEDULER={address}"],
                            cwd=root, env=dict(os.environ), capture_output=True, text=True)
    assert result.returncode != 0 and time.monotonic() - start < 60
    assert f"the Dask scheduler at {address} cannot be reached" in result.stderr
    assert "--local-if-unreachable" in result.stderr


@pytest.mark.slow
def test_the_local_path_when_the_instructor_asks_for_it(root, tmp_path, notebook_env):
    """LOCAL_IF_UNREACHABLE=1: a warning, then the class is graded on this machine (here a class whose only
    submission is not a notebook: graded without a kernel)."""
    prepare_course(root, tmp_path, [ASSIGNMENT])
    submit(tmp_path, ASSIGNMENT, {"mallory": HARDENING_CLASS["mallory"]})
    result = subprocess.run(["make", "-s", "grade", f"A={ASSIGNMENT}", f"COURSE_DIR={tmp_path}",
                             f"SCHEDULER=tcp://127.0.0.1:{free_port()}", "LOCAL_IF_UNREACHABLE=1"],
                            cwd=root, env=notebook_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "grading on this machine instead" in result.stdout
    run = json.loads((tmp_path / "grading" / "runs" / f"{ASSIGNMENT}.json").read_text())
    assert list(run["invalid"]) == ["mallory"] and "Dask" not in run["isolation"]


@pytest.mark.slow
def test_workers_that_would_grade_differently_are_refused_before_any_kernel(cluster):
    """Another course package, other data, no isolation: the run stops and names the workers."""
    phase_one = DaskPhaseOne(cluster.client, cluster.address)
    check = WorkerCheck(dask_grading.package_digest(), {}, "required")
    phase_one.check_workers(check)  # the workers of this machine, with this course, can
    assert len(phase_one.isolation) == 2
    with pytest.raises(WorkersUnfit, match="course_utils package .* differs"):
        phase_one.check_workers(WorkerCheck("0" * 64, {}, "required"))
    with pytest.raises(WorkersUnfit, match="lacks or differs in 1 of the grader's data files"):
        phase_one.check_workers(WorkerCheck(check.package, {"tutorial-2-data/absent.npy": 10}, "required"))


def test_task_files_stay_inside_their_folder(tmp_path):
    files = {"a.ipynb": b"{}", "sub/b.txt": b"b"}
    write_tree(files, tmp_path / "ok")
    assert read_tree(tmp_path / "ok") == files
    for name in ("../escape", "/etc/passwd", "sub/../../escape", ""):
        with pytest.raises(ValueError, match="refused"):
            write_tree({name: b"x"}, tmp_path / "refused")
    (tmp_path / "ok" / "link").symlink_to("/etc/hostname")
    assert "link" not in read_tree(tmp_path / "ok")  # a link is never sent (it could point anywhere)
    assert SubmissionTask("s", read_tree(tmp_path / "ok")).files == files


def test_kernel_slots_are_exclusive_on_a_machine(tmp_path, monkeypatch):
    """Concurrent submissions on one machine hold different slots (kernel users); a freed slot is reused, and
    what its last holder left is removed."""
    monkeypatch.setattr(dask_grading.tempfile, "tempdir", str(tmp_path))
    with claim_slot() as (first, work_first), claim_slot() as (second, _):
        assert (first, second) == (0, 1)
        (work_first / "left-over").write_text("x")
        assert oct(work_first.stat().st_mode & 0o777) == "0o700"
    with claim_slot() as (again, work):
        assert again == 0 and list(work.iterdir()) == []


def test_a_flagged_submission_holds_its_machine_alone(tmp_path, monkeypatch):
    """Submissions share the machine's grading lock; one that must run alone waits for it exclusively."""
    import fcntl

    monkeypatch.setattr(dask_grading.tempfile, "tempdir", str(tmp_path))

    def exclusive_free() -> bool:
        descriptor = os.open(dask_grading._slots_dir() / "machine.lock", os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False
        finally:
            os.close(descriptor)

    with dask_grading.machine_share(alone=False), dask_grading.machine_share(alone=False):
        assert not exclusive_free()  # two submissions run side by side; one that must be alone waits
    assert exclusive_free()
    with dask_grading.machine_share(alone=True):
        assert not exclusive_free()


def test_the_grader_checks_each_notebook_hash(tmp_path):
    data = b'{"cells": []}'
    good = SubmissionResult("alice", notebooks={"n.ipynb": data}, sha256={"n.ipynb": hashlib.sha256(data).hexdigest()})
    assert verified(good, "alice") is good
    changed = SubmissionResult("alice", notebooks={"n.ipynb": data + b" "}, sha256=good.sha256)
    assert "sha256" in verified(changed, "alice").failure and not verified(changed, "alice").notebooks
    assert "'alice'" in verified(good, "bob").failure


def test_cluster_files(tmp_path):
    """A SLURM cluster file becomes dask-jobqueue's job script (no SLURM needed to build it); bad files are named."""
    pytest.importorskip("dask_jobqueue", reason="dask-jobqueue (the cluster extra: pip install -e '.[cluster]')")
    path = tmp_path / "cluster.yaml"
    path.write_text("kind: slurm\njobs: 3\nmaximum_jobs: 10\noptions:\n  cores: 4\n  processes: 4\n  memory: 24GB\n"
                    "  walltime: '02:00:00'\n  queue: short\n  python: /srv/course/.venv/bin/python\n"
                    "  job_script_prologue: ['export COURSE_DATA_DIR=/srv/course/data']\n"
                    "  scheduler_options: {host: 127.0.0.1, dashboard_address: '127.0.0.1:0'}\n")
    spec = ClusterSpec.load(path)
    assert (spec.kind, spec.jobs, spec.maximum_jobs) == ("slurm", 3, 10)
    cluster = spec.create()
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH --cpus-per-task=4", "#SBATCH -t 02:00:00",
                 "export COURSE_DATA_DIR=/srv/course/data", "/srv/course/.venv/bin/python -m distributed.cli.dask_worker",
                 "--nthreads 1", "--nworkers 4"):
        assert line in script, line
    for content, message in (("kind: kubernetes\n", "kind must be one of"), ("kind: slurm\nqueue: x\n", "unknown keys"),
                             ("kind: local\njobs: 4\nmaximum_jobs: 2\n", "jobs <= maximum_jobs")):
        path.write_text(content)
        with pytest.raises(ValueError, match=message):
            ClusterSpec.load(path)
