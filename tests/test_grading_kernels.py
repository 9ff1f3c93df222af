"""The pieces of hardened and parallel grading, each on its own (the whole runs in test_autograde.py)."""
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import torch

from course_utils.instructor import class_grading, grading_kernels
from course_utils.instructor.grading_kernels import (HardenedExecute, KERNEL_DIED, NOT_GRADED, memory_limit_arguments,
                                                     replay_outputs)
from course_utils.notebook import runtime


def test_memory_limit_line_caps_the_process():
    """The kernel argument's line, run in a fresh Python, turns a 1 GiB allocation into a MemoryError."""
    (argument,) = memory_limit_arguments(600)
    line = argument.split("=", 1)[1]
    program = f"{line}\ntry:\n    bytearray(1024**3)\nexcept MemoryError:\n    print('capped')\nprint(sorted(dir()))"
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[0] == "capped"
    assert "_r" not in result.stdout  # nothing left in the student's namespace


def test_memory_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_KERNEL_MEMORY_MB", "2048")
    assert f"({2048 * 1024**2}, {2048 * 1024**2})" in memory_limit_arguments()[0]
    monkeypatch.setenv("COURSE_KERNEL_MEMORY_MB", "100")
    with pytest.raises(ValueError, match="too small"):
        grading_kernels.kernel_memory_mb()


def test_a_dead_kernel_costs_the_rest_of_the_notebook_only():
    cells = ["print('before')", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "print('after')"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    HardenedExecute(timeout=60).preprocess(notebook, {"metadata": {"path": "."}})
    first, killer, after = notebook.cells
    assert first.outputs[0]["text"] == "before\n"
    assert killer.outputs[-1]["ename"] == KERNEL_DIED and after.outputs[0]["ename"] == KERNEL_DIED
    assert "cell 1" in after.outputs[0]["evalue"]


def _grade_cell(source: str, grade_id: str, **metadata) -> nbformat.NotebookNode:
    return nbformat.v4.new_code_cell(source, metadata={**metadata, "nbgrader": {
        "grade": True, "grade_id": grade_id, "points": 1, "solution": False, "locked": True}})


def test_a_cell_scores_by_its_tests_not_by_its_tags_or_a_number_it_returns():
    """A grade cell tagged skip-execution still runs; a number it returns (the student's code can make it
    return one, even just before it raises) is shown, never taken as nbgrader's partial credit; a warning
    on stderr does not cost a passing test its points."""
    from nbgrader.utils import determine_grade

    notebook = nbformat.v4.new_notebook(cells=[
        _grade_cell("raise AssertionError('a hidden test fails')", "tagged", tags=["skip-execution"]),
        _grade_cell("get_ipython().displayhook(1.0)\nraise AssertionError('a test fails')", "number_then_error"),
        _grade_cell("0.25", "returns_a_quarter"),
        _grade_cell("import warnings\nwarnings.warn('a right answer made torch warn')\nassert 1 + 1 == 2", "warns"),
        _grade_cell("assert 1 + 1 == 2", "passes")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    HardenedExecute(timeout=60).preprocess(notebook, {"metadata": {"path": "."}})
    scores = {cell.metadata.nbgrader.grade_id: determine_grade(cell)[0] for cell in notebook.cells}
    assert scores == {"tagged": 0, "number_then_error": 0, "returns_a_quarter": 1.0, "warns": 1.0, "passes": 1.0}
    assert notebook.cells[0].outputs[0]["evalue"] == "a hidden test fails"  # it ran
    assert [o["output_type"] for o in notebook.cells[2].outputs] == ["display_data"]  # still shown


def _notebook(*sources):
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])


def test_replay_copies_outputs_of_the_same_cells():
    executed = _notebook("x = 1", "print(x)")
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    executed.cells[1].execution_count = 2
    executed.metadata["language_info"] = {"name": "python"}
    target = _notebook("x = 1", "print(x)")
    replay_outputs(target, executed)
    assert target.cells[1].outputs[0]["text"] == "1\n" and target.cells[1].execution_count == 2
    assert target.metadata["language_info"] == {"name": "python"}


@pytest.mark.parametrize("executed", [None, _notebook("x = 2", "print(x)"), _notebook("x = 1")])
def test_replay_of_a_missing_or_different_notebook_fails_every_cell(executed):
    target = _notebook("x = 1", "print(x)")
    replay_outputs(target, executed, "it was not executed")
    assert all(cell.outputs[0]["ename"] == NOT_GRADED for cell in target.cells)


def test_unreadable_notebooks_are_named(tmp_path):
    good = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")])
    nbformat.write(good, str(tmp_path / "a.ipynb"))
    assert class_grading.unreadable_notebook(tmp_path, ["a.ipynb", "missing.ipynb"]) == ""
    text = nbformat.writes(good)
    (tmp_path / "b.ipynb").write_text(text[: len(text) // 2])
    assert "b.ipynb is not a valid notebook" in class_grading.unreadable_notebook(tmp_path, ["a.ipynb", "b.ipynb"])


def test_gradebook_fingerprint_tells_a_database_from_garbage(tmp_path):
    import sqlite3

    database = tmp_path / "gradebook.db"
    with sqlite3.connect(database) as db:
        db.execute("create table t (x)")
    assert class_grading.fingerprints([database], tmp_path, gradebook_as_database=True) == {"gradebook.db": "database"}
    database.write_text("overwritten by a student")
    assert class_grading.fingerprints([database], tmp_path, gradebook_as_database=True) == {
        "gradebook.db": "not a database"}


def test_course_threads_overrides_the_thread_count(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("COURSE_THREADS", "1")
        runtime.setup_run(seed=0, threads=2, prefer_gpu=False)
        assert torch.get_num_threads() == 1
        monkeypatch.delenv("COURSE_THREADS")
        runtime.setup_run(seed=0, threads=2, prefer_gpu=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_default_workers_fit_cores_and_memory(monkeypatch):
    workers = class_grading.default_workers()
    assert 1 <= workers <= (len(os.sched_getaffinity(0)))
    monkeypatch.setenv("COURSE_KERNEL_MEMORY_MB", str(10**9))  # no machine holds two such kernels
    assert class_grading.default_workers() == 1


CONFIG_PROBE = """
import os, sys
from traitlets.config import Config
sys.argv = ["nbgrader", *sys.argv[1:]]
config = Config()
namespace = {"get_config": lambda: config}
exec(open("nbgrader_config.py").read(), namespace)
chain = config.Autograde.autograde_preprocessors if "autograde_preprocessors" in config.Autograde else []
runner = ",".join(p.__name__ for p in chain[:4]) or "-"
print(namespace["cell_timeout"]({"metadata": {"timeout": 900}}), namespace["cell_timeout"]({"metadata": {}}),
      os.environ.get("COURSE_SCALE"), os.environ.get("COURSE_THREADS"), runner,
      any("RLIMIT_AS" in a for a in config.Execute.extra_arguments))
"""


PHASE_ONE = "ScanSubmission,PlantCanaries,{},CollectCanaries"


@pytest.mark.parametrize("argv, phase, isolation, expected", [
    (["autograde", "A"], "", "", "15 15 grading 1 HardenedExecute,IgnorePattern,ClearMetadataPreprocessor,LimitOutput True"),
    (["autograde", "A"], "execute", "none", "15 15 grading 1 " + PHASE_ONE.format("HardenedExecute") + " True"),
    (["autograde", "A"], "execute", "user", "15 15 grading 1 " + PHASE_ONE.format("SandboxedExecute") + " False"),
    (["autograde", "A"], "replay", "", "15 15 grading 1 ReplayExecution,IgnorePattern,ClearMetadataPreprocessor,LimitOutput True"),
    (["validate", "x.ipynb"], "", "", "900 120 None None - False"),
])
def test_nbgrader_config_hardens_autograde_only(root, argv, phase, isolation, expected):
    """Autograde: grading scale, one thread, 15 s a cell, the phase's preprocessors, the memory cap inside the
    kernel unless the kernel runs in its sandbox (whose limits are set outside it); validate: the student's
    own settings and the cells' own limits."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COURSE_", "OMP_"))}
    env.update(COURSE_GRADING_PHASE=phase, COURSE_KERNEL_ISOLATION=isolation)
    result = subprocess.run([sys.executable, "-c", CONFIG_PROBE, *argv], cwd=root, env=env, capture_output=True,
                            text=True, check=True)
    assert result.stdout.split() == expected.split()


def test_sandboxes_read_the_data_a_serial_run_would_read(tmp_path, root):
    """Never a sandbox of its own data (the notebook would fetch or generate it for every submission)."""
    assert class_grading.grading_data_dir(tmp_path, {"COURSE_DATA_DIR": "/d"}) == Path("/d")
    assert class_grading.grading_data_dir(tmp_path, {"COURSE_ROOT": "/c"}) == Path("/c/data")
    assert class_grading.grading_data_dir(root / "build", {}) == root / "data"  # found above the course folder
    assert class_grading.grading_data_dir(tmp_path, {}) == root / "data"  # the installed course's, as serially


class FakeJob:
    """A phase-1 job that ends at once, as ``SubmissionJob`` would (nothing runs)."""

    log: list = []

    def __init__(self, snapshot, student, slot):
        if student == "cannot-start":
            raise OSError("disk full")
        self.student, self.slot, self.started = student, slot, 0.0
        running = [job for job in FakeJob.log if job[2] is None]
        FakeJob.log.append([student, slot, None, [j[0] for j in running]])
        self.process = None

    def exit_code(self):
        entry = next(e for e in FakeJob.log if e[0] == self.student)
        entry[2] = 1 if self.student == "crashes" else 0
        return entry[2]

    def kill(self):
        pass

    def finish(self, code, limit_s=None):
        from course_utils.instructor.submission_run import SubmissionResult

        return SubmissionResult(self.student, failure="nbgrader exited with 1" if code else "")


def test_the_scheduler_isolates_every_student_and_runs_suspects_apart(monkeypatch):
    """A job that cannot start or whose nbgrader crashes costs that student only; the students the tamper scan
    flagged beforehand run last, never beside another student; each running job has a slot of its own."""
    FakeJob.log = []
    monkeypatch.setattr(class_grading, "SubmissionJob", FakeJob)
    monkeypatch.setattr(class_grading, "_wait_for_any", lambda jobs: None)
    students = ["a", "suspect1", "cannot-start", "b", "crashes", "suspect2", "c"]
    results = class_grading.run_phase_one(None, students, workers=2, limit_s=60, apart={"suspect1", "suspect2"})
    assert set(results) == set(students)
    assert {s for s, r in results.items() if r.failure} == {"cannot-start", "crashes"}
    assert "disk full" in results["cannot-start"].failure
    order = [entry[0] for entry in FakeJob.log]
    assert order[-2:] == ["suspect1", "suspect2"]
    for student, slot, _, beside in FakeJob.log:
        suspects = {s for s in beside if s.startswith("suspect")}
        assert slot in (0, 1) and (suspects == set(beside) if student.startswith("suspect") else not suspects)


def test_feedback_is_generated_per_student_when_the_class_run_fails(monkeypatch, tmp_path):
    calls = []

    def nbgrader(course, *args, env=None):
        calls.append(args)
        if "--student" not in args or args[args.index("--student") + 1] == "broken":
            raise RuntimeError("generate_feedback failed:\n[GenerateFeedback | ERROR] the notebook is damaged")

    monkeypatch.setattr(class_grading, "run_nbgrader", nbgrader)
    failures = class_grading.generate_feedback(tmp_path, "A", ["alice", "broken", "bob"])
    assert failures == {"broken": "[GenerateFeedback | ERROR] the notebook is damaged"}
    assert [a[a.index("--student") + 1] for a in calls[1:]] == ["alice", "broken", "bob"]


def test_a_flood_of_output_is_cut_but_its_error_kept():
    """A cell that prints without end records at most OUTPUT_LIMIT_MB of it; its failure still counts."""
    flood = "import time\nline = 'x' * 2**20\nfor _ in range(3 * grading_limit):\n    print(line)\nraise AssertionError('after the flood')"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        flood.replace("grading_limit", str(grading_kernels.OUTPUT_LIMIT_MB)))])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    HardenedExecute(timeout=120).preprocess(notebook, {"metadata": {"path": "."}})
    outputs = notebook.cells[0].outputs
    recorded = sum(len(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    assert recorded < (grading_kernels.OUTPUT_LIMIT_MB + 1) * 2**20
    assert any("were dropped" in o.get("text", "") for o in outputs)
    assert outputs[-1]["output_type"] == "error" and outputs[-1]["ename"] == "AssertionError"


def test_the_replay_uses_an_executed_notebook_only_with_the_hash_phase_one_took(tmp_path):
    """A notebook changed after its kernel ended (or a manifest changed) is not replayed: every cell scores 0."""
    import hashlib
    import json

    executed = _notebook("x = 1", "print(x)")
    executed.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="1\n")]
    folder = tmp_path / "executed" / "alice" / "A"
    folder.mkdir(parents=True)
    data = nbformat.writes(executed).encode()
    (folder / "A.ipynb").write_bytes(data)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"alice": {"A.ipynb": hashlib.sha256(data).hexdigest()}}))

    def replayed(manifest_sha256: str):
        replay = grading_kernels.ReplayExecution(executed_root=str(tmp_path / "executed"), manifest=str(manifest),
                                                 manifest_sha256=manifest_sha256)
        target = _notebook("x = 1", "print(x)")
        replay.preprocess(target, {"nbgrader": {"student": "alice", "assignment": "A", "notebook": "A"}})
        return target.cells[1].outputs[0]

    good = hashlib.sha256(manifest.read_bytes()).hexdigest()
    assert replayed(good)["text"] == "1\n"
    assert replayed("0" * 64)["ename"] == NOT_GRADED  # the manifest is not the one the grader wrote
    (folder / "A.ipynb").write_bytes(data.replace(b'"1\\n"', b'"2\\n"'))
    assert "changed after its kernel ended" in replayed(good)["evalue"]


def test_each_run_snapshots_into_a_private_folder_of_its_own(tmp_path):
    """mkdtemp: mode 0700, a new unpredictable name each time (a folder someone made in advance stops nothing)."""
    from course_utils.instructor.submission_run import take_snapshot
    import sqlite3

    course = tmp_path / "course"
    (course / "solutions" / "A").mkdir(parents=True)
    (course / "solutions" / "A" / "A.ipynb").write_text("{}")
    (course / "grading" / "submitted" / "alice" / "A").mkdir(parents=True)
    (course / "grading" / "submitted" / "alice" / "A" / "A.ipynb").write_text("{}")
    (course / "nbgrader_config.py").write_text("")
    with sqlite3.connect(course / "grading" / "gradebook.db") as db:
        db.execute("create table t (x)")
    first, _ = take_snapshot(course, "A", ["alice"], tmp_path, {}, "none")
    second, _ = take_snapshot(course, "A", ["alice"], tmp_path, {}, "none")
    try:
        assert first.folder != second.folder
        assert first.folder.stat().st_mode & 0o777 == 0o700
        assert (first.submission("alice") / "A.ipynb").read_text() == "{}"
    finally:
        import shutil

        shutil.rmtree(first.folder)
        shutil.rmtree(second.folder)


WORKER = """
import multiprocessing, os, sys, time
from course_utils.instructor.submission_run import end_with_parent

def phase_one(parent, record):
    os.setsid()
    end_with_parent(parent, interval_s=0.1)
    with open(record, "w") as out:
        out.write(str(os.getpid()))
    time.sleep(3600)  # a submission that would run for an hour

child = multiprocessing.get_context("fork").Process(target=phase_one, args=(os.getpid(), sys.argv[1]))
child.start()
child.join()
"""


def test_a_phase_one_process_ends_with_the_worker_that_started_it(tmp_path):
    """A grading worker killed mid-run (SIGKILL: nothing of it runs any more) leaves no phase-1 process
    behind: the phase-1 process sees its parent gone and ends its whole process group."""
    record = tmp_path / "phase-one.pid"
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(record)])
    try:
        deadline = time.monotonic() + 120
        while not (record.is_file() and record.read_text()):
            assert worker.poll() is None and time.monotonic() < deadline, "the phase-1 process never started"
            time.sleep(0.05)
        phase_one = int(record.read_text())
        worker.kill()
        worker.wait()
        deadline = time.monotonic() + 60
        while Path(f"/proc/{phase_one}").exists() and "zombie" not in Path(f"/proc/{phase_one}/status").read_text():
            assert time.monotonic() < deadline, "the phase-1 process outlived its killed worker"
            time.sleep(0.05)
    finally:
        if worker.poll() is None:
            worker.kill()


def test_a_check_decided_by_the_grader_has_the_cells_own_time_limit(tmp_path, monkeypatch):
    """A grade cell checked in the grader gets the cell's time limit (``timeout_func``: 15 s at grading), not the
    notebook's default of 120 s: a student function that takes 30 s fails the check at the cell's limit."""
    from course_utils.grading import grader_side

    check = "slow()\n"
    source = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time"), _grade_cell(check, "slow_check")])
    nbformat.write(source, str(tmp_path / "timing.ipynb"))
    monkeypatch.setenv("COURSE_PHASE1_SOURCE", str(tmp_path))
    monkeypatch.setattr(grader_side, "GRADED_BY_THE_GRADER", frozenset({"timing"}))
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time\ndef slow():\n    time.sleep(30)"),
                                               _grade_cell(check, "slow_check")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    HardenedExecute(timeout=120, timeout_func=lambda cell: 2).preprocess(
        notebook, {"metadata": {"path": str(tmp_path)}, "nbgrader": {"assignment": "timing", "notebook": "timing"}})
    (error,) = [o for o in notebook.cells[1].outputs if o["output_type"] == "error"]
    assert error["ename"] == "TimeoutError", error


def test_a_later_display_update_never_rewrites_an_earlier_output():
    """A display with an id, updated by a later cell (after the tests ran), keeps what it showed when it ran."""
    notebook = _notebook("handle = display({'text/plain': 'notes: none'}, raw=True, display_id='notes')",
                         "handle.update({'text/plain': 'notes: the hidden inputs'}, raw=True)")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    HardenedExecute(timeout=60).preprocess(notebook, {"metadata": {"path": "."}})
    first, later = notebook.cells
    assert [o["data"]["text/plain"] for o in first.outputs] == ["notes: none"] and not later.outputs


def test_cells_are_numbered_by_the_grader_even_when_the_kernel_did_not_say_their_count():
    """The kernel's count arrives in its ``execute_input`` message, which a busy machine can lose for a new kernel's
    first cell: the grader numbers every cell that ran, so two runs of one submission show the same ``In [n]``."""
    import types

    runner = types.SimpleNamespace()
    lost = nbformat.v4.new_code_cell("SCALE = 'ci'")  # its execute_input never arrived: no count
    forged = nbformat.v4.new_code_cell("x = 1\nx", execution_count=99,
                                       outputs=[nbformat.v4.new_output("execute_result", data={"text/plain": "1"},
                                                                       execution_count=99)])
    empty = nbformat.v4.new_code_cell("   ")  # nbclient does not run an empty cell
    cells = [grading_kernels.numbered_by_the_grader(c, runner) for c in (lost, forged, empty)]
    assert [c.execution_count for c in cells] == [1, 2, None]
    assert cells[1].outputs[0]["execution_count"] == 2
