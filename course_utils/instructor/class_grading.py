"""Autograde a whole class on every core, with the results of a serial ``nbgrader autograde``.

Two phases, both nbgrader's own command (``nbgrader_config.py`` picks the preprocessors):

1. **execute**, in parallel: each submission is copied into a sandbox of its own (a throwaway course
   folder outside the course: the config, the assignment's source, a copy of the gradebook, the one
   submission) and run there by ``nbgrader autograde --student S`` with one thread, a memory cap and
   a time limit. Whatever the student's code writes into "the course" lands in the sandbox; the grader
   notices and reports it.
2. **replay**, serially, in the real course: ``nbgrader autograde`` with execution replaced by the
   outputs of phase 1. Sanitising, restoring the hidden tests, scoring and the gradebook are exactly
   those of a serial run, so the scores, the gradebook and the feedback are the same.

A notebook that is not valid JSON is not run: it scores 0 on every cell and is reported.
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .grading_kernels import kernel_memory_mb
from .nbgrader_cli import gradebook_url, run_nbgrader

#: seconds one submission may take in phase 1 before its process is killed (cells have their own limits)
STUDENT_TIME_LIMIT_S = 1800


@dataclass
class ClassRun:
    """What a class run did, beyond the scores in the gradebook."""

    assignment: str
    students: list[str]
    workers: int
    seconds: float = 0.0
    invalid: dict[str, str] = field(default_factory=dict)   # student -> why the notebook could not be read
    failed: dict[str, str] = field(default_factory=dict)    # student -> why phase 1 gave no notebook
    tampered: dict[str, list[str]] = field(default_factory=dict)  # student -> course files it wrote (in its sandbox)
    restored: list[str] = field(default_factory=list)       # files of the real course changed during the run
    phase_seconds: dict[str, float] = field(default_factory=dict)  # "execute" (parallel), "replay" (serial)


def default_workers() -> int:
    """One worker per core, fewer when memory would not hold that many capped kernels."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        available_mb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024**2
    except (ValueError, OSError):
        return cores
    return max(1, min(cores, available_mb // (kernel_memory_mb() + 512)))


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    submitted = course_dir / "grading" / "submitted"
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir()) if submitted.is_dir() else []


def notebook_names(course_dir: Path, assignment: str) -> list[str]:
    """The assignment's notebooks, as nbgrader knows them (the source folder)."""
    return sorted(p.name for p in (course_dir / "solutions" / assignment).glob("*.ipynb"))


def unreadable_notebook(folder: Path, names: list[str]) -> str:
    """Why the submission in ``folder`` cannot be graded as a notebook, or "" when it can."""
    for name in names:
        path = folder / name
        if not path.is_file():
            continue  # nbgrader itself scores a missing notebook 0
        try:
            nbformat.read(str(path), as_version=4)  # schema slips are nbgrader's to judge; unreadable is not a notebook
        except Exception as error:  # the message says where the JSON breaks
            return f"{name} is not a valid notebook: {str(error).splitlines()[0][:200]}"
    return ""


def protected_files(course_dir: Path, assignment: str) -> list[Path]:
    """Files whose change during grading would change grades: config, gradebook, source and release."""
    files = [course_dir / "nbgrader_config.py", course_dir / "grading" / "gradebook.db"]
    for folder in (course_dir / "solutions" / assignment, course_dir / "notebooks" / assignment):
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    return files


def fingerprints(files: list[Path], base: Path, gradebook_as_database: bool = False) -> dict[str, str]:
    """sha256 per file (relative name). With ``gradebook_as_database``, the gradebook (which nbgrader
    itself writes in a sandbox) only counts as changed when it is no longer a sound SQLite database."""
    def fingerprint(path: Path) -> str:
        if not path.is_file():
            return "missing"
        if gradebook_as_database and path.name == "gradebook.db":
            return "database" if _sound_database(path) else "not a database"
        return hashlib.sha256(path.read_bytes()).hexdigest()

    return {str(p.relative_to(base)): fingerprint(p) for p in files}


def _sound_database(path: Path) -> bool:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except sqlite3.DatabaseError:
        return False


def _copy_gradebook(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite gradebook, even while another process reads it."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _make_sandbox(course_dir: Path, sandbox: Path, assignment: str, student: str, gradebook: Path) -> None:
    (sandbox / "grading" / "submitted" / student).mkdir(parents=True)
    shutil.copy(course_dir / "nbgrader_config.py", sandbox / "nbgrader_config.py")
    shutil.copytree(course_dir / "solutions" / assignment, sandbox / "solutions" / assignment)
    shutil.copytree(course_dir / "notebooks" / assignment, sandbox / "notebooks" / assignment)
    shutil.copytree(course_dir / "grading" / "submitted" / student / assignment,
                    sandbox / "grading" / "submitted" / student / assignment)
    shutil.copy(gradebook, sandbox / "grading" / "gradebook.db")


def _sandbox_env(base: dict[str, str], sandbox: Path, data_dir: Path) -> dict[str, str]:
    env = dict(base)
    env.update(COURSE_GRADING_PHASE="execute", COURSE_ROOT=str(sandbox), COURSE_DATA_DIR=str(data_dir),
               COURSE_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


class SandboxRun:
    """``nbgrader autograde --student S`` in a sandbox, as a process of its own session (so that it can be
    killed with its kernel). Where the platform can fork, the process is forked from the grader, which
    has imported nbgrader once: that saves about 2.5 s of imports per submission."""

    def __init__(self, student: str, sandbox: Path, assignment: str, env: dict[str, str]):
        self.student, self.sandbox, self.env = student, sandbox, env
        self.arguments = ["autograde", assignment, "--student", student, "--force"]
        self.log = sandbox.parent / f"{student}.log"
        self.started = time.perf_counter()
        if FORK is not None:
            self.process = FORK.Process(target=_nbgrader_child, args=(self.arguments, sandbox, env, self.log))
            self.process.start()
        else:
            with open(self.log, "w") as log:
                self.process = subprocess.Popen([sys.executable, "-m", "nbgrader", *self.arguments], cwd=sandbox,
                                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def exit_code(self) -> int | None:
        """The exit code, or None while it runs."""
        if FORK is not None:
            return None if self.process.is_alive() else self.process.exitcode
        return self.process.poll()

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if FORK is not None:
            self.process.join()
        else:
            self.process.wait()

    def log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.is_file() else []
        errors = [line for line in lines if "ERROR" in line or "Error" in line]
        return (errors or lines or ["no output"])[-1][:300]


def _nbgrader_child(arguments: list[str], cwd: Path, env: dict[str, str], log: Path) -> None:
    """Body of a forked phase-1 process: its own session, output to ``log``, nbgrader's command line."""
    os.setsid()
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["nbgrader", *arguments]
    code = 1
    try:
        from nbgrader.apps.nbgraderapp import NbGraderApp

        NbGraderApp.launch_instance()
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:  # anything: the log says what, the grader reports a failure
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


FORK = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None


def start_in_sandbox(course_dir: Path, assignment: str, student: str, work: Path, gradebook: Path,
                     base_env: dict[str, str], data_dir: Path) -> tuple[SandboxRun, dict[str, str]]:
    """Phase 1 for one student: make its sandbox and start nbgrader there. Returns the run and the
    fingerprints of the sandbox's course files, to see afterwards what the student's code wrote."""
    sandbox = work / "sandboxes" / student
    _make_sandbox(course_dir, sandbox, assignment, student, gradebook)
    before = fingerprints(_watched(sandbox, assignment), sandbox, gradebook_as_database=True)
    return SandboxRun(student, sandbox, assignment, _sandbox_env(base_env, sandbox, data_dir)), before


def _watched(sandbox: Path, assignment: str) -> list[Path]:
    return protected_files(sandbox, assignment) + sorted(
        p for p in (sandbox / "grading" / "submitted").rglob("*") if p.is_file())


def finish_in_sandbox(job: SandboxRun, assignment: str, work: Path, before: dict[str, str],
                      code: int) -> tuple[str, list[str]]:
    """After phase 1: keep the executed notebook as ``work/executed/<student>/<assignment>/`` (or a
    ``failure.txt``), drop the sandbox; returns (failure reason or "", course files written in the sandbox)."""
    sandbox, student = job.sandbox, job.student
    after = fingerprints(_watched(sandbox, assignment), sandbox, gradebook_as_database=True)
    tampered = sorted(name for name in before if after.get(name) != before[name])
    executed = sandbox / "grading" / "autograded" / student / assignment
    notebooks = sorted(executed.glob("*.ipynb")) if executed.is_dir() else []
    failure = "" if code == 0 and notebooks else f"nbgrader exited with {code}: {job.log_tail()}"
    target = work / "executed" / student / assignment
    target.mkdir(parents=True)
    for path in notebooks:
        shutil.copy(path, target / path.name)
    if failure:
        (work / "executed" / student / "failure.txt").write_text(failure + "\n")
    shutil.rmtree(sandbox, ignore_errors=True)
    return failure, tampered


def run_phase_one(course_dir: Path, assignment: str, students: list[str], work: Path, gradebook: Path,
                  base_env: dict[str, str], data_dir: Path, workers: int, limit_s: float, run: ClassRun,
                  progress=None) -> None:
    """Keep ``workers`` sandboxes busy until every student has run (all started from this thread)."""
    import nbgrader.apps.nbgraderapp  # noqa: F401  (imported once, before forking)

    pending, running = list(students), {}
    try:
        _schedule(pending, running, course_dir, assignment, work, gradebook, base_env, data_dir, workers, limit_s,
                  run, progress)
    finally:  # an error in the grader itself (a full disk, Ctrl-C): no kernel is left running
        for job, _ in running.values():
            job.kill()


def _schedule(pending, running, course_dir, assignment, work, gradebook, base_env, data_dir, workers, limit_s,
              run, progress) -> None:
    while pending or running:
        while pending and len(running) < workers:
            student = pending.pop(0)
            running[student] = start_in_sandbox(course_dir, assignment, student, work, gradebook, base_env, data_dir)
        time.sleep(0.05)
        for student, (job, before) in list(running.items()):
            code = job.exit_code()
            if code is None and time.perf_counter() - job.started > limit_s:
                job.kill()
                code = -9
            if code is None:
                continue
            del running[student]
            failure, tampered = finish_in_sandbox(job, assignment, work, before, code)
            if code == -9 and failure:
                failure = f"stopped after {limit_s:g} s: {failure}"
            if failure:
                run.failed[student] = failure
            if tampered:
                run.tampered[student] = tampered
            if progress:
                progress(student, failure, tampered)


def record_zero(course_dir: Path, assignment: str, student: str) -> None:
    """Give ``student`` a submission with 0 on every autograded cell (their notebook could not be read)."""
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url(course_dir)) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes while nbgrader builds the submission
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code":
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gradebook.db.commit()


def grading_data_dir(course_dir: Path, env: dict[str, str]) -> Path:
    """The data folder a serial ``nbgrader autograde`` in ``course_dir`` would give the notebooks
    (``COURSE_DATA_DIR``, else ``COURSE_ROOT/data``, else the course root found from ``course_dir``):
    sandboxes must read the same data, never fetch or generate their own."""
    from ..notebook.paths import course_root

    if env.get("COURSE_DATA_DIR"):
        return Path(env["COURSE_DATA_DIR"])
    if env.get("COURSE_ROOT"):
        return Path(env["COURSE_ROOT"]) / "data"
    return course_root(start=course_dir) / "data"


def grade_class(course_dir: Path, assignment: str, workers: int | None = None, env: dict[str, str] | None = None,
                data_dir: Path | None = None, limit_s: float = STUDENT_TIME_LIMIT_S,
                progress=None) -> ClassRun:
    """Autograde every submission of ``assignment`` in ``course_dir`` (see the module docstring)."""
    course_dir = Path(course_dir).resolve()
    base_env = {**os.environ, **(env or {})}
    data_dir = Path(data_dir or grading_data_dir(course_dir, base_env)).resolve()
    students = submitted_students(course_dir, assignment)
    run = ClassRun(assignment, students, workers or default_workers())
    if not students:
        raise FileNotFoundError(f"no submissions of {assignment} in {course_dir / 'grading' / 'submitted'}")
    if not (course_dir / "grading" / "gradebook.db").is_file() or not notebook_names(course_dir, assignment):
        raise FileNotFoundError(f"{assignment} is not in {course_dir}'s gradebook: run `make notebooks` "
                                "(nbgrader generate_assignment) before grading")
    start = time.perf_counter()
    names = notebook_names(course_dir, assignment)
    for student in students:
        reason = unreadable_notebook(course_dir / "grading" / "submitted" / student / assignment, names)
        if reason:
            run.invalid[student] = reason
    runnable = [s for s in students if s not in run.invalid]

    with tempfile.TemporaryDirectory(prefix=f"grade-{assignment}-") as tmp:
        work = Path(tmp)
        gradebook = work / "gradebook.db"
        _copy_gradebook(course_dir / "grading" / "gradebook.db", gradebook)
        originals = work / "originals"
        protected = protected_files(course_dir, assignment)
        for path in protected:
            (originals / path.relative_to(course_dir)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, originals / path.relative_to(course_dir))
        before = fingerprints(protected, course_dir)

        run_phase_one(course_dir, assignment, runnable, work, gradebook, base_env, data_dir, run.workers, limit_s,
                      run, progress)
        run.phase_seconds["execute"] = round(time.perf_counter() - start, 1)

        after = fingerprints(protected, course_dir)
        for name in sorted(n for n in before if after.get(n) != before[n]):
            shutil.copy(originals / name, course_dir / name)
            run.restored.append(name)

        if runnable:
            exclude = ",".join(run.invalid)
            arguments = ["autograde", assignment, "--force"]
            if exclude:
                arguments.append(f"--CourseDirectory.student_id_exclude={exclude}")
            replay_env = {**(env or {}), "COURSE_GRADING_PHASE": "replay", "COURSE_REPLAY_DIR": str(work / "executed")}
            replay_start = time.perf_counter()
            try:
                run_nbgrader(course_dir, *arguments, env=replay_env)
            except RuntimeError as error:  # nbgrader went on with the others; say what it could not grade
                failed = sorted(set(re.findall(r"for student '([^']+)'", str(error))))
                if not failed:
                    raise
                for student in failed:
                    run.failed.setdefault(student, "nbgrader could not grade the submission (see its log)")
            run.phase_seconds["replay"] = round(time.perf_counter() - replay_start, 1)
    for student in run.invalid:
        record_zero(course_dir, assignment, student)
    run.seconds = round(time.perf_counter() - start, 1)
    return run


def write_run_log(run: ClassRun, path: Path) -> None:
    """The class run's report beside the gradebook (what the scores do not say)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.__dict__, indent=2) + "\n")
