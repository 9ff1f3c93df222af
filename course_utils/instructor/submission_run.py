"""Phase 1 of `make grade` for ONE submission, self-contained: run it, return the executed notebook.

:func:`take_snapshot` copies, when a class run starts, everything phase 1 reads (the nbgrader config,
the assignment's source and release, the gradebook, the submissions) into a new work folder that only
the grader can read (``mkdtemp``: mode 0700, an unpredictable name). :func:`execute_submission` is what
a scheduler calls, the local process pool of ``class_grading`` or a Dask task: input, the snapshot and
one student (and the worker's slot, which picks the kernel's user); output, a :class:`SubmissionResult`
with the executed notebooks as bytes, their sha256 (taken as soon as nbgrader and its kernel have
ended) and a report (the tamper scan's findings, the canaries, what went wrong). It reads only the
snapshot and writes only a private course folder of its own inside it, removed at the end.

Inside, ``nbgrader autograde --student S`` runs in that private folder with ``COURSE_GRADING_PHASE=execute``;
``nbgrader_config.py`` then calls :func:`configure_phase_one`, which installs the tamper scan, the
canaries and the execution (in the kernel sandbox where the machine allows it).
"""
from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from ..grading.grader_side.probe_seeds import KEY_FILE, course_key

#: seconds one submission may take in phase 1 before its process is killed (cells have their own limits)
STUDENT_TIME_LIMIT_S = 1800
#: memory a phase-1 nbgrader process may take beyond what it had when it started (a kernel that floods its
#: outputs fills the nbgrader process, which then fails for that student alone)
PHASE_ONE_HEADROOM_MB = 4096
#: the largest executed notebook phase 1 returns (an honest one at the grading scale is a few MB)
MAX_EXECUTED_MB = 200
#: the environment variables by which the grader configures phase 1 (read by :func:`configure_phase_one`)
PHASE, SLOT, ISOLATION, REPORT, SOURCE, RELEASE = ("COURSE_GRADING_PHASE", "COURSE_KERNEL_SLOT", "COURSE_KERNEL_ISOLATION",
                                                   "COURSE_PHASE1_REPORT", "COURSE_PHASE1_SOURCE", "COURSE_PHASE1_RELEASE")


@dataclass(frozen=True)
class RunSnapshot:
    """What phase 1 reads, copied when the class run started, in the run's private work folder."""

    folder: Path
    assignment: str
    data_dir: Path
    env: dict[str, str]      # base environment of the nbgrader processes
    isolation: str           # "user", "userns" or "none" (kernel_sandbox.Isolation.mode)

    @property
    def config(self) -> Path:
        return self.folder / "snapshot" / "nbgrader_config.py"

    @property
    def source(self) -> Path:
        return self.folder / "snapshot" / "source"

    @property
    def release(self) -> Path:
        return self.folder / "snapshot" / "release"

    @property
    def gradebook(self) -> Path:
        return self.folder / "snapshot" / "gradebook.db"

    @property
    def probe_key(self) -> Path:
        return self.folder / "snapshot" / "probe_key"

    def submission(self, student: str) -> Path:
        return self.folder / "snapshot" / "submitted" / student


@dataclass
class SubmissionResult:
    """Phase 1's answer for one student."""

    student: str
    notebooks: dict[str, bytes] = field(default_factory=dict)   # file name -> executed notebook
    sha256: dict[str, str] = field(default_factory=dict)        # file name -> sha256 of those bytes
    failure: str = ""            # why there is no executed notebook ("" when there is)
    findings: list[str] = field(default_factory=list)           # the tamper scan's, per notebook file
    canaries: list[dict] = field(default_factory=list)          # what became of each canary cell
    wrote: list[str] = field(default_factory=list)              # course files of its private folder it changed
    seconds: float = 0.0

    def flags(self) -> list[str]:
        """Why this submission needs a manual grade (empty: it does not)."""
        lying = [f"the kernel did not fail a check that must fail ({c['detail']}; a copy of {c['copied_from']})"
                 for c in self.canaries if c["outcome"] in ("passed", "altered")]
        return self.findings + lying


def _copy_gradebook(source: Path, target: Path) -> None:
    """A consistent copy of an SQLite gradebook, even while another process reads it."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


#: files Python would import from a submission's folder (``torch.py`` beside the notebook would replace torch)
IMPORTABLE = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pth")


def copy_plain(source: Path, target: Path, code: bool = True) -> list[str]:
    """Copy the regular files and folders below ``source`` to ``target``; links, devices and pipes are left
    out (a link could point the kernel's read-only view at any file the grader can read), and so are
    Python modules unless ``code`` (a student's would be imported instead of the library of that name,
    and the tamper scan reads notebooks only). Returns what was left out."""
    left_out = []
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir()):
        if entry.is_symlink() or not (entry.is_file() or entry.is_dir()) or (not code and entry.suffix in IMPORTABLE):
            left_out.append(entry.name)
        elif entry.is_dir():
            left_out += [f"{entry.name}/{name}" for name in copy_plain(entry, target / entry.name, code)]
        else:
            shutil.copyfile(entry, target / entry.name)
    return left_out


def take_snapshot(course_dir: Path, assignment: str, students: list[str], data_dir: Path, env: dict[str, str],
                  isolation: str) -> tuple[RunSnapshot, dict[str, list[str]]]:
    """Copy what phase 1 reads into a new private work folder; returns the snapshot and, per student, the
    entries of their submission left out (links, special files)."""
    folder = Path(tempfile.mkdtemp(prefix=f"grade-{assignment}-"))
    snapshot = RunSnapshot(folder, assignment, Path(data_dir), dict(env), isolation)
    snapshot.config.parent.mkdir()
    shutil.copyfile(course_dir / "nbgrader_config.py", snapshot.config)
    copy_plain(course_dir / "solutions" / assignment, snapshot.source)
    if (course_dir / "notebooks" / assignment).is_dir():
        copy_plain(course_dir / "notebooks" / assignment, snapshot.release)
    _copy_gradebook(course_dir / "grading" / "gradebook.db", snapshot.gradebook)
    snapshot.probe_key.write_bytes(course_key(course_dir) + b"\n")
    left_out = {}
    for student in students:
        skipped = copy_plain(course_dir / "grading" / "submitted" / student / assignment, snapshot.submission(student),
                             code=False)
        if skipped:
            left_out[student] = skipped
    return snapshot, left_out


def prescan(snapshot: RunSnapshot, student: str) -> list[str]:
    """The tamper scan of ``student``'s notebooks as submitted (before nbgrader restores their test cells), for
    the scheduler: a submission it flags runs alone, after the others, so that whatever it does to the machine's
    CPU or memory cannot slow another student's kernel. (Phase 1's own scan, of the notebook as run, decides
    the flags.)"""
    import nbformat

    from .sandbox.tamper_scan import scan_notebook

    found = []
    for source_path in sorted(snapshot.source.glob("*.ipynb")):
        submitted, release_path = snapshot.submission(student) / source_path.name, snapshot.release / source_path.name
        try:
            notebook = nbformat.read(str(submitted), as_version=4)
            source = nbformat.read(str(source_path), as_version=4)
            release = nbformat.read(str(release_path), as_version=4) if release_path.is_file() else source
        except Exception:  # missing or unreadable: phase 1 reports it
            continue
        try:
            found += [str(finding) for finding in scan_notebook(notebook, source, release)]
        except Exception as error:  # whatever a submission holds, the class run goes on: phase 1 decides its flags
            found.append(f"{source_path.name}: the scan stopped ({type(error).__name__})")
    return found


def protected_files(course_dir: Path, assignment: str) -> list[Path]:
    """Files whose change during grading would change grades: config, gradebook (an SQLite file in the
    course), source and release."""
    files = [course_dir / "nbgrader_config.py"]
    if (course_dir / "grading" / "gradebook.db").is_file():
        files.append(course_dir / "grading" / "gradebook.db")
    for folder in (course_dir / "solutions" / assignment, course_dir / "notebooks" / assignment):
        files += sorted(p for p in folder.rglob("*") if p.is_file())
    return files


def fingerprints(files: list[Path], base: Path, gradebook_as_database: bool = False) -> dict[str, str]:
    """sha256 per file (relative name). With ``gradebook_as_database``, the gradebook (which nbgrader
    itself writes in phase 1) only counts as changed when it is no longer a sound SQLite database."""
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


def _watched(course: Path, assignment: str) -> list[Path]:
    return protected_files(course, assignment) + sorted(
        p for p in (course / "grading" / "submitted").rglob("*") if p.is_file())


def configure_phase_one(c) -> None:
    """nbgrader configuration of phase 1 (called by ``nbgrader_config.py`` when ``COURSE_GRADING_PHASE=execute``):
    scan, canaries, execution in the sandbox (or, without isolation, with the memory cap inside the kernel)."""
    from .grading_kernels import (CollectCanaries, HardenedExecute, PlantCanaries, SandboxedExecute, ScanSubmission,
                                  memory_limit_arguments)

    sandboxed = os.environ.get(ISOLATION, "none") != "none"
    if not sandboxed:
        c.Execute.extra_arguments = list(c.Execute.extra_arguments) + memory_limit_arguments()
    report = os.environ.get(REPORT, "")
    for section in (c.ScanSubmission, c.PlantCanaries, c.CollectCanaries):
        section.report_dir = report
    c.ScanSubmission.source_dir = os.environ.get(SOURCE, "")
    c.ScanSubmission.release_dir = os.environ.get(RELEASE, "")
    c.SandboxedKernelManager.slot = int(os.environ.get(SLOT, "0"))
    c.SandboxedKernelManager.work_root = str(Path(report).parent) if report else ""
    c.SandboxedKernelManager.data_dir = os.environ.get("COURSE_DATA_DIR", "")
    c.Autograde.autograde_preprocessors = [ScanSubmission, PlantCanaries,
                                           SandboxedExecute if sandboxed else HardenedExecute, CollectCanaries]


class SubmissionJob:
    """``nbgrader autograde --student S`` in a private course folder built from the snapshot, as a process
    of its own session (so that it can be killed with its kernel). Where the platform can fork, the
    process is forked from the grader, which has imported nbgrader once (about 2.5 s saved per submission)."""

    def __init__(self, snapshot: RunSnapshot, student: str, slot: int):
        self.snapshot, self.student, self.slot = snapshot, student, slot
        self.started = time.perf_counter()
        self.course = Path(tempfile.mkdtemp(prefix="submission-", dir=snapshot.folder))
        self.reports = self.course / "reports"
        self.log = self.course / "nbgrader.log"
        self._build()
        self.before = fingerprints(_watched(self.course, snapshot.assignment), self.course, gradebook_as_database=True)
        arguments = ["autograde", snapshot.assignment, "--student", student, "--force"]
        env = self._environment()
        if FORK is not None:
            self.process = FORK.Process(target=_nbgrader_child, args=(arguments, self.course, env, self.log, os.getpid()))
            self.process.start()
        else:
            with open(self.log, "w") as log:
                self.process = subprocess.Popen([sys.executable, "-m", "nbgrader", *arguments], cwd=self.course,
                                                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _build(self) -> None:
        snapshot, assignment = self.snapshot, self.snapshot.assignment
        (self.course / "grading" / "submitted" / self.student).mkdir(parents=True)
        self.reports.mkdir()
        shutil.copyfile(snapshot.config, self.course / "nbgrader_config.py")
        shutil.copytree(snapshot.source, self.course / "solutions" / assignment)
        if snapshot.release.is_dir():
            shutil.copytree(snapshot.release, self.course / "notebooks" / assignment)
        shutil.copytree(snapshot.submission(self.student), self.course / "grading" / "submitted" / self.student / assignment)
        _copy_gradebook(snapshot.gradebook, self.course / "grading" / "gradebook.db")
        shutil.copyfile(snapshot.probe_key, self.course / KEY_FILE)

    def _environment(self) -> dict[str, str]:
        env = dict(self.snapshot.env)
        assignment = self.snapshot.assignment
        env.update({PHASE: "execute", SLOT: str(self.slot), ISOLATION: self.snapshot.isolation, REPORT: str(self.reports),
                    SOURCE: str(self.course / "solutions" / assignment), RELEASE: str(self.course / "notebooks" / assignment),
                    "COURSE_ROOT": str(self.course), "COURSE_DATA_DIR": str(self.snapshot.data_dir),
                    "COURSE_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        return env

    def exit_code(self) -> int | None:
        """The exit code, or None while it runs."""
        if FORK is not None:
            return None if self.process.is_alive() else self.process.exitcode
        return self.process.poll()

    def wait(self, limit_s: float) -> int:
        """Wait for the end (killed after ``limit_s`` seconds: exit code -9)."""
        if FORK is not None:
            self.process.join(max(0.0, limit_s - (time.perf_counter() - self.started)))
        else:
            try:
                self.process.wait(max(0.0, limit_s - (time.perf_counter() - self.started)))
            except subprocess.TimeoutExpired:
                pass
        code = self.exit_code()
        if code is None:
            self.kill()
            return -9
        return code

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if FORK is not None:
            self.process.join()
        else:
            self.process.wait()

    def log_tail(self) -> str:
        lines = self.log.read_text(errors="replace").strip().splitlines() if self.log.is_file() else []
        errors = [line for line in lines if "ERROR" in line or "Error" in line]
        return (errors or lines or ["no output"])[-1][:300]

    def finish(self, code: int, limit_s: float | None = None) -> SubmissionResult:
        """Read the executed notebooks and reports (hashing each notebook now), then remove the private folder."""
        assignment = self.snapshot.assignment
        result = SubmissionResult(self.student)
        try:
            after = fingerprints(_watched(self.course, assignment), self.course, gradebook_as_database=True)
            result.wrote = sorted(name for name in self.before if after.get(name) != self.before[name])
            executed = self.course / "grading" / "autograded" / self.student / assignment
            for path in sorted(executed.glob("*.ipynb")) if executed.is_dir() else []:
                if path.stat().st_size > MAX_EXECUTED_MB * 1024**2:
                    raise ValueError(f"{path.name} is larger than {MAX_EXECUTED_MB} MB after execution (its outputs)")
                data = path.read_bytes()
                result.notebooks[path.name] = data
                result.sha256[path.name] = hashlib.sha256(data).hexdigest()
            for report in sorted(self.reports.glob("*.json")):
                content = json.loads(report.read_text())
                result.findings += [f"{report.stem}.ipynb, {finding}" for finding in content.get("findings", [])]
                result.canaries += content.get("canaries", [])
            if code != 0 or not result.notebooks:
                result.failure = f"nbgrader exited with {code}: {self.log_tail()}"
                if code == -9 and limit_s is not None:
                    result.failure = f"stopped after {limit_s:g} s: {result.failure}"
        except Exception as error:  # a broken report or notebook file: this student only
            result.failure = result.failure or f"phase 1 could not be read: {type(error).__name__}: {error}"
        finally:
            shutil.rmtree(self.course, ignore_errors=True)
        result.seconds = round(time.perf_counter() - self.started, 1)
        return result


def end_with_parent(parent: int, interval_s: float = 0.5) -> threading.Thread:
    """Watch from a thread of this process (the leader of its own session) for the end of process ``parent``
    (the grader, or a Dask worker that was killed); then end this whole process group, kernel included, so
    that nothing a lost worker started keeps running and holding its kernel slot."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval_s)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    watcher = threading.Thread(target=watch, name="end-with-parent", daemon=True)
    watcher.start()
    return watcher


def _nbgrader_child(arguments: list[str], cwd: Path, env: dict[str, str], log: Path, parent: int) -> None:
    """Body of a forked phase-1 process: its own session, ended with its parent, output to ``log``, nbgrader's
    command line."""
    os.setsid()
    end_with_parent(parent)
    _cap_memory(PHASE_ONE_HEADROOM_MB)
    descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
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


def _cap_memory(headroom_mb: int) -> None:
    """Limit this process's data (heap and private mappings) to what it holds now plus ``headroom_mb``."""
    try:
        held_kb = int(re.search(r"VmData:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))
    except (OSError, AttributeError):
        return
    limit = held_kb * 1024 + headroom_mb * 1024**2
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


FORK = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None


def prepare_worker(isolation: str) -> None:
    """What a worker process does once, before its first submission: the imports every submission needs
    and, in a sandbox, the matplotlib font list the kernels borrow."""
    import nbgrader.apps.nbgraderapp  # noqa: F401

    if isolation != "none":
        from .sandbox.kernel_sandbox import font_cache

        font_cache()


def execute_submission(snapshot: RunSnapshot, student: str, slot: int = 0,
                       limit_s: float = STUDENT_TIME_LIMIT_S) -> SubmissionResult:
    """Phase 1 for ``student``: execute their submission from ``snapshot`` (kernel user of worker ``slot``),
    return the executed notebooks, their sha256 and the report. Never raises for the submission's sake."""
    try:
        job = SubmissionJob(snapshot, student, slot)
    except Exception as error:  # e.g. a disk full while copying: this student only
        return SubmissionResult(student, failure=f"phase 1 could not start: {type(error).__name__}: {error}")
    return job.finish(job.wait(limit_s), limit_s)
