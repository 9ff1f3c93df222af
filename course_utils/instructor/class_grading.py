"""Autograde a whole class on every core, with the results of a serial ``nbgrader autograde``, in a way
no submission can cheat, peek at or break.

1. **snapshot**: when the run starts, the config, the assignment's source and release, the gradebook and
   the submissions are copied into a work folder only the grader can read (``submission_run.take_snapshot``);
   nothing later in the run reads the course's own copies until the replay.
2. **execute**, in parallel: each submission runs in a private course folder built from the snapshot, by
   ``nbgrader autograde --student S`` in the grader (``submission_run.execute_submission``); only its
   kernel runs in a sandbox (``sandbox.kernel_sandbox``). Before execution every cell the student
   could edit is scanned for tampering (``sandbox.tamper_scan``) and canary cells are planted
   (``sandbox.canaries``). What comes back is the executed notebook, its sha256 and a report.
3. **replay**, serially, in the real course: ``nbgrader autograde`` with execution replaced by the
   notebooks phase 1 returned (checked against their sha256). Sanitising, restoring the hidden tests,
   scoring and the gradebook are those of a serial run.
4. **flags**: a submission the scan or a canary flagged gets 0 on every autograded cell and
   ``needs_manual_grade`` in the gradebook, with the reasons in the run log. For an assignment whose
   grade cells the grader decides (``course_utils.grading.grader_side``: the checks run in phase 1's
   nbgrader process and drive the kernel through the probe channel; no test code enters the kernel and
   no canary is planted) the scan is a second line: its findings are listed under ``review`` and set
   ``needs_manual_grade``, and the scores stand.

Before the snapshot, a folder of ``grading/submitted`` whose name is not a student id (:func:`invalid_student_id`:
separators, globs, spaces, path parts) is left out and reported: it is never graded, and never reaches
nbgrader's command line. A notebook that is not valid JSON is not run: it scores 0 on every cell and is
reported. One with more cells than ``normalise.cell_limit`` is not run either: 0, flagged for a manual grade.
In the snapshot each notebook's nbgrader cell metadata is made the release's (``normalise.normalise_cells``: a
pasted test cell, another ``schema_version``), with a note in the run log; phase 1 and the replay both read
that snapshot. Whatever one submission does (crash its kernel or its nbgrader process, write files, hold
marker texts, hold metadata nbgrader rejects), the others are graded and the run finishes: where the class's
replay stops for all, it is run per student, and a submission nbgrader cannot grade scores 0, flagged for a
manual grade; feedback is generated per student where the class's run fails.
"""
from __future__ import annotations

import codecs
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..grading import grader_side
from .gradebook_db import check_gradebook, phase_one_gradebook, without_credentials
from .grading_kernels import sha256
from .nbgrader_cli import gradebook_url, run_nbgrader
from .normalise import cell_limit, normalise_cells
from .sandbox.kernel_sandbox import Limits, detect_isolation, kernel_memory_mb, kernel_user
from .submission_run import (FORK, STUDENT_TIME_LIMIT_S, RunSnapshot, SubmissionJob, SubmissionResult,  # noqa: F401
                             fingerprints, prepare_worker, prescan, protected_files, take_snapshot)


@dataclass
class ClassRun:
    """What a class run did, beyond the scores in the gradebook (written to ``grading/runs/<A>.json``)."""

    assignment: str
    students: list[str]
    workers: int
    isolation: str = ""     # how student kernels ran (Isolation.describe())
    seconds: float = 0.0
    invalid_ids: dict[str, str] = field(default_factory=dict)  # folder of grading/submitted -> why it is not graded
    invalid: dict[str, str] = field(default_factory=dict)   # student -> why the notebook could not be read
    normalised: dict[str, list[str]] = field(default_factory=dict)  # student -> cell metadata made the release's
    failed: dict[str, str] = field(default_factory=dict)    # student -> why phase 1 gave no result (0 points)
    flagged: dict[str, list[str]] = field(default_factory=dict)  # student -> why it needs a manual grade
    #: student -> what the tamper scan found in an assignment whose grades the grader decides (scores kept)
    review: dict[str, list[str]] = field(default_factory=dict)
    tampered: dict[str, list[str]] = field(default_factory=dict)  # student -> files of its private course it wrote
    left_out: dict[str, list[str]] = field(default_factory=dict)  # student -> links/special files not copied
    feedback_failed: dict[str, str] = field(default_factory=dict)  # student -> why its feedback is missing
    restored: list[str] = field(default_factory=list)       # files of the real course changed during the run
    phase_seconds: dict[str, float] = field(default_factory=dict)  # "execute" (parallel), "replay" (serial)

    def notes(self) -> list[str]:
        """One line per thing the instructor should know (the command prints them)."""
        lines = [f"{_shown(folder)}: not graded: {why}" for folder, why in self.invalid_ids.items()]
        for label, found in (("not a valid notebook (0 points)", self.invalid), ("not run (0 points)", self.failed),
                             ("flagged: 0 on every test cell, needs a manual grade", self.flagged),
                             ("to look at (scores kept): the tamper scan found", self.review),
                             ("wrote into course files (in its private copy, without effect)", self.tampered),
                             ("files left out of its submission (links, special files, Python modules)", self.left_out),
                             ("no feedback", self.feedback_failed),
                             ("cell metadata made the release's (graded as usual)", self.normalised)):
            for student, what in found.items():
                what = "; ".join(what) if isinstance(what, list) else what
                lines.append(f"{student}: {label}: {what}")
        if self.restored:
            lines.append(f"course files changed during the run were restored: {', '.join(self.restored)}")
        return lines


def default_workers() -> int:
    """One worker per core, fewer when memory would not hold that many capped kernels and their scratch space."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        available_mb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 1024**2
    except (ValueError, OSError):
        return cores
    return max(1, min(cores, available_mb // (kernel_memory_mb() + Limits().scratch_mb + 512)))


def _shown(text: str) -> str:
    """``text`` (a folder name) as it may be printed: escaped where it holds anything unprintable."""
    return text if text.isprintable() else ascii(text)


def invalid_student_id(name: str) -> str:
    """Why the folder ``name`` of ``grading/submitted`` is not a student id a class run grades ("" when it is):
    the rule of ``make collect`` (``collect.STUDENT_ID``): letters, digits, ".", "_" and "-", not first; no
    separator (nbgrader splits its lists at commas), glob (nbgrader's ``--student`` is a pattern), space (nbgrader
    strips them) or path part."""
    from .collect import STUDENT_ID  # collect imports this module: here, not at the top

    if STUDENT_ID.fullmatch(name):
        return ""
    return (f"not a valid student id (the rule {STUDENT_ID.pattern}: no separators, globs, spaces or path parts, "
            "no leading '.' or '-')")


def submission_folders(course_dir: Path, assignment: str) -> list[str]:
    """Every folder of ``grading/submitted`` that holds ``assignment``, student id or not."""
    submitted = course_dir / "grading" / "submitted"
    return sorted(p.name for p in submitted.iterdir() if (p / assignment).is_dir()) if submitted.is_dir() else []


def submitted_students(course_dir: Path, assignment: str) -> list[str]:
    """The students who submitted ``assignment``: the folders whose names are valid student ids."""
    return [name for name in submission_folders(course_dir, assignment) if not invalid_student_id(name)]


def notebook_names(course_dir: Path, assignment: str) -> list[str]:
    """The assignment's notebooks, as nbgrader knows them (the source folder)."""
    return sorted(p.name for p in (course_dir / "solutions" / assignment).glob("*.ipynb"))


#: the largest submitted notebook file graded (an honest one, with its outputs, is a few MB)
MAX_NOTEBOOK_MB = 100


def read_submitted(path: Path) -> tuple[nbformat.NotebookNode, bool]:
    """A submitted notebook, and whether its file starts with a UTF-8 byte order mark (some editors write one;
    JSON has none, so nbgrader would refuse the file)."""
    data = path.read_bytes()
    marked = data.startswith(codecs.BOM_UTF8)
    return nbformat.reads(data.decode("utf-8-sig" if marked else "utf-8"), as_version=4), marked


def unreadable_notebook(folder: Path, names: list[str]) -> str:
    """Why the submission in ``folder`` cannot be graded as a notebook, or "" when it can."""
    for name in names:
        path = folder / name
        if not path.is_file():
            continue  # nbgrader itself scores a missing notebook 0
        if path.stat().st_size > MAX_NOTEBOOK_MB * 1024**2:
            return f"{name} is larger than {MAX_NOTEBOOK_MB} MB"
        try:
            read_submitted(path)  # schema slips are nbgrader's to judge; unreadable is not a notebook
        except Exception as error:  # the message says where the JSON breaks
            return f"{name} is not a valid notebook: {str(error).splitlines()[0][:200]}"
    return ""


def crowded_notebook(folder: Path, limits: dict[str, int]) -> str:
    """Why the submission in ``folder`` holds more cells than graded automatically (``limits``: notebook file ->
    the most cells), or "". Counted from the JSON alone, before nbformat validates every cell."""
    for name, limit in limits.items():
        path = folder / name
        if not path.is_file() or path.stat().st_size > MAX_NOTEBOOK_MB * 1024**2:
            continue
        try:
            cells = json.loads(path.read_bytes()).get("cells")
        except Exception:  # not JSON, not an object: unreadable_notebook says why
            continue
        if isinstance(cells, list) and len(cells) > limit:
            return f"{name} has {len(cells)} cells, more than the {limit} graded automatically: not run"
    return ""


def _releases(snapshot: RunSnapshot) -> dict[str, nbformat.NotebookNode]:
    """Notebook file -> the release students were given (the source where there is no release)."""
    found = {}
    for source in sorted(snapshot.source.glob("*.ipynb")):
        release = snapshot.release / source.name
        found[source.name] = nbformat.read(str(release if release.is_file() else source), as_version=4)
    return found


def normalise_submissions(snapshot: RunSnapshot, students: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Each student's notebooks in ``snapshot`` with the release's nbgrader cell metadata (``normalise_cells``,
    rewritten only where it changed something). Returns, per student, what was changed and why a submission
    could not be prepared (it is then not graded automatically)."""
    releases = _releases(snapshot)
    notes, refused = {}, {}
    for student in students:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # nbformat's notes on missing or repeated cell ids, which it repairs
                for name, release in releases.items():
                    path = snapshot.submission(student) / name
                    if not path.is_file():
                        continue
                    notebook, marked = read_submitted(path)
                    changed = normalise_cells(notebook, release) + (["a byte order mark removed"] if marked else [])
                    if changed:
                        nbformat.write(notebook, str(path))
                        notes.setdefault(student, []).extend(f"{name}: {note}" for note in changed)
        except Exception as error:  # whatever the notebook holds: this student only
            refused[student] = (f"its notebook could not be prepared for nbgrader: {type(error).__name__}: "
                                f"{str(error)[:200]}")
    return notes, refused


def run_phase_one(snapshot: RunSnapshot, students: list[str], workers: int, limit_s: float,
                  progress=None, apart: set[str] = frozenset()) -> dict[str, SubmissionResult]:
    """Keep ``workers`` submissions running (worker ``slot`` k runs its kernels as course-kernel-k) until
    every student has run; all started from this thread. ``progress(result)`` after each. The students in
    ``apart`` (those the tamper scan flags before the run) run after all the others, never beside one of them:
    whatever they do to the machine's CPU or memory cannot slow an honest student's kernel."""
    pending = [s for s in students if s not in apart] + [s for s in students if s in apart]
    running, results = {}, {}
    try:
        while pending or running:
            for slot in range(workers):
                mixing = pending and any((job.student in apart) != (pending[0] in apart) for job in running.values())
                if slot not in running and pending and not mixing:
                    student = pending.pop(0)
                    try:
                        running[slot] = SubmissionJob(snapshot, student, slot)
                    except Exception as error:  # e.g. a disk full while copying: this student only
                        results[student] = SubmissionResult(student, failure=f"phase 1 could not start: {error}")
                        progress and progress(results[student])
            _wait_for_any(list(running.values()))
            for slot, job in list(running.items()):
                code = job.exit_code()
                if code is None and time.perf_counter() - job.started > limit_s:
                    job.kill()
                    code = -9
                if code is None:
                    continue
                del running[slot]
                results[job.student] = job.finish(code, limit_s)
                if progress:
                    progress(results[job.student])
    finally:  # an error in the grader itself (a full disk, Ctrl-C): no kernel is left running
        for job in running.values():
            job.kill()
    return results


def _wait_for_any(jobs: list[SubmissionJob], timeout: float = 1.0) -> None:
    """Until one of ``jobs`` ends (at most ``timeout`` seconds, to check the time limits)."""
    if FORK is not None and jobs:
        from multiprocessing.connection import wait

        wait([job.process.sentinel for job in jobs], timeout)
    elif jobs:
        time.sleep(0.05)


def record_zero(course_dir: Path, assignment: str, student: str, url: str | None = None) -> None:
    """Give ``student`` a submission with 0 on every autograded cell (their notebook could not be read)."""
    from nbgrader.api import Gradebook

    with Gradebook(url or gradebook_url(course_dir)) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes while nbgrader builds the submission
        gradebook.update_or_create_student(student)
        submission = gradebook.update_or_create_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type == "code":
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
        gradebook.db.commit()


def flag_for_manual_grading(course_dir: Path, assignment: str, students: list[str], url: str | None = None,
                            zero: bool = True) -> None:
    """Every grade cell of each of ``students``: ``needs_manual_grade``, and automatic score 0 if ``zero``."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(url or gradebook_url(course_dir)) as gradebook, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for student in students:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                gradebook.update_or_create_student(student)
                submission = gradebook.update_or_create_submission(assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    if zero and grade.cell.cell_type == "code":
                        grade.auto_score = 0
                    grade.needs_manual_grade = True
        gradebook.db.commit()


def grading_data_dir(course_dir: Path, env: dict[str, str]) -> Path:
    """The data folder a serial ``nbgrader autograde`` in ``course_dir`` would give the notebooks
    (``COURSE_DATA_DIR``, else ``COURSE_ROOT/data``, else the course root found from ``course_dir``):
    phase 1 must read the same data, never fetch or generate its own."""
    from ..notebook.paths import course_root

    if env.get("COURSE_DATA_DIR"):
        return Path(env["COURSE_DATA_DIR"])
    if env.get("COURSE_ROOT"):
        return Path(env["COURSE_ROOT"]) / "data"
    return course_root(start=course_dir) / "data"


def _write_executed(snapshot: RunSnapshot, results: dict[str, SubmissionResult]) -> tuple[Path, str]:
    """Phase 1's notebooks, as it returned them, where the replay reads them; the manifest of their sha256
    and the manifest's own sha256."""
    root = snapshot.folder / "executed"
    manifest = {}
    for student, result in results.items():
        folder = root / student / snapshot.assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in result.notebooks.items():
            (folder / name).write_bytes(data)
        if result.failure:
            (root / student / "failure.txt").write_text(result.failure + "\n")
        manifest[student] = result.sha256
    data = json.dumps(manifest, sort_keys=True).encode()
    path = snapshot.folder / "manifest.json"
    path.write_bytes(data)
    return path, sha256(data)


#: what the path of the replay's submissions may hold: nbgrader puts it into its glob and regular expression unescaped
PLAIN_PATH = re.compile(r"[A-Za-z0-9/._-]+")


def _replay_submissions(snapshot: RunSnapshot, students) -> Path:
    """The snapshot's submissions (as phase 1 ran them: normalised, none of an invalid id or a submission not run) in
    nbgrader's layout, ``<folder>/<student>/<assignment>/``: the replay's ``submitted_directory``."""
    folder = snapshot.folder / "replay"
    for student in students:
        if snapshot.submission(student).is_dir():
            (folder / student).mkdir(parents=True)
            snapshot.submission(student).rename(folder / student / snapshot.assignment)
    folder.mkdir(exist_ok=True)
    return folder


def _not_graded(run: ClassRun, student: str, why: str) -> None:
    run.flagged.setdefault(student, []).append(f"nbgrader could not grade the submission: {why}")


def _replay(course_dir: Path, assignment: str, snapshot: RunSnapshot, results: dict[str, SubmissionResult],
            run: ClassRun, env: dict[str, str] | None) -> None:
    """The serial replay of every student of ``results`` in the real course. Where it stops for all (an error
    nbgrader does not keep to one student), once per student: a student nbgrader cannot grade is flagged."""
    manifest, digest = _write_executed(snapshot, results)
    submitted = _replay_submissions(snapshot, sorted(results))
    arguments = ["autograde", assignment, "--force", f"--CourseDirectory.submitted_directory={submitted}"]
    replay_env = {**(env or {}), "COURSE_GRADING_PHASE": "replay", "COURSE_REPLAY_DIR": str(snapshot.folder / "executed"),
                  "COURSE_REPLAY_MANIFEST": str(manifest), "COURSE_REPLAY_MANIFEST_SHA256": digest}
    try:
        run_nbgrader(course_dir, *arguments, env=replay_env)
        return
    except RuntimeError as error:  # where nbgrader names the students it could not grade, it went on with the others
        named = sorted(set(re.findall(r"for student '([^']+)'", str(error))) & set(results))
    for student in named or sorted(results):  # once more alone: its own error, or its grades
        try:
            run_nbgrader(course_dir, *arguments, "--student", student, env=replay_env)
        except RuntimeError as error:
            _not_graded(run, student, _error_line(str(error)))


def _error_line(output: str) -> str:
    """The line of nbgrader's ``output`` that says what went wrong: the exception, else its last error line."""
    lines = output.splitlines()
    found = ([line for line in lines if re.match(r"[\w.]+(Error|Exception): ", line)]
             or [line for line in lines if "Error" in line or "ERROR" in line] or ["nbgrader failed"])
    return found[-1].strip()[:300]


def grade_class(course_dir: Path, assignment: str, workers: int | None = None, env: dict[str, str] | None = None,
                data_dir: Path | None = None, limit_s: float = STUDENT_TIME_LIMIT_S,
                progress=None, phase_one=None) -> ClassRun:
    """Autograde every submission of ``assignment`` in ``course_dir`` (see the module docstring);
    ``progress(result)`` is called after each submission's phase 1. Phase 1 runs in local processes, or on a
    Dask cluster with ``phase_one`` (:class:`~course_utils.instructor.dask_grading.DaskPhaseOne`)."""
    course_dir = Path(course_dir).resolve()
    base_env = {**os.environ, **(env or {})}
    data_dir = Path(data_dir or grading_data_dir(course_dir, base_env)).resolve()
    folders = submission_folders(course_dir, assignment)
    students = [name for name in folders if not invalid_student_id(name)]
    isolation = detect_isolation(base_env.get("COURSE_KERNEL_SANDBOX"))
    run = ClassRun(assignment, students, workers or default_workers(), isolation=isolation.describe())
    run.invalid_ids = {name: invalid_student_id(name) for name in folders if name not in students}
    if not students:
        raise FileNotFoundError(f"no submissions of {assignment} in {course_dir / 'grading' / 'submitted'}"
                                + (f" (folders that are no student id: {', '.join(map(_shown, run.invalid_ids))})"
                                   if run.invalid_ids else ""))
    if not PLAIN_PATH.fullmatch(str(Path(tempfile.gettempdir()) / f"grade-{assignment}")):
        raise RuntimeError(f"the run's work folder {tempfile.gettempdir()}/grade-{assignment}-... holds characters "
                           "nbgrader reads as patterns: set TMPDIR to a folder whose path has letters, digits, '.', "
                           "'_', '-' only")
    if not notebook_names(course_dir, assignment):
        raise FileNotFoundError(f"{assignment} is not in {course_dir}'s gradebook: run `make notebooks` "
                                "(nbgrader generate_assignment) before grading")
    url = check_gradebook(course_dir, assignment, base_env)  # before any kernel: reachable, holds the assignment
    start = time.perf_counter()
    names = notebook_names(course_dir, assignment)
    limits = {name: cell_limit(nbformat.read(str(course_dir / "solutions" / assignment / name), as_version=4))
              for name in names}
    for student in students:
        folder = course_dir / "grading" / "submitted" / student / assignment
        crowded = crowded_notebook(folder, limits)
        if crowded:
            run.flagged[student] = [crowded]
            continue
        reason = unreadable_notebook(folder, names)
        if reason:
            run.invalid[student] = reason
    runnable = [s for s in students if s not in run.invalid and s not in run.flagged]
    if isolation.mode == "user":
        for slot in range(run.workers):
            kernel_user(slot, isolation)  # created before any worker starts
    prepare_worker(isolation.mode)

    local_gradebook = course_dir / "grading" / "gradebook.db"
    elsewhere, existed = url != f"sqlite:///{local_gradebook}", local_gradebook.exists()
    snapshot, run.left_out = take_snapshot(course_dir, assignment, runnable, data_dir, without_credentials(base_env),
                                           isolation.mode)
    if elsewhere:  # on a server (or another file): phase 1 gets the assignment's definitions from there
        if not existed:
            local_gradebook.unlink(missing_ok=True)  # the empty file the snapshot's SQLite copy left
        phase_one_gradebook(url, assignment, snapshot.gradebook)
    try:
        run.normalised, refused = normalise_submissions(snapshot, runnable)
        for student, why in refused.items():
            run.flagged[student] = [why]
        runnable = [s for s in runnable if s not in refused]
        protected = protected_files(course_dir, assignment)
        originals = snapshot.folder / "originals"
        for path in protected:
            (originals / path.relative_to(course_dir)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, originals / path.relative_to(course_dir))
        before = fingerprints(protected, course_dir)

        def on_result(result: SubmissionResult) -> None:
            if result.failure:
                run.failed[result.student] = result.failure
            if result.wrote:
                run.tampered[result.student] = result.wrote
            if result.flags():  # where the grader decides the grades, the scan is a second line: scores stand
                (run.review if by_the_grader else run.flagged)[result.student] = result.flags()
            if progress:
                progress(result)

        by_the_grader = assignment in grader_side.GRADED_BY_THE_GRADER
        suspects = {student for student in runnable if prescan(snapshot, student)}  # run apart, after the others
        if phase_one is None:
            results = run_phase_one(snapshot, runnable, run.workers, limit_s, on_result, apart=suspects)
        else:  # on a Dask cluster: the same phase 1 per submission, on whichever worker is free
            results = phase_one.run(snapshot, runnable, limit_s, on_result, alone=suspects)
            run.isolation, run.workers = phase_one.describe(), phase_one.worker_count()
        run.phase_seconds["execute"] = round(time.perf_counter() - start, 1)

        after = fingerprints(protected, course_dir)
        for name in sorted(n for n in before if after.get(n) != before[n]):
            shutil.copy(originals / name, course_dir / name)
            run.restored.append(name)

        if runnable:
            replay_start = time.perf_counter()
            _replay(course_dir, assignment, snapshot, results, run, env)
            run.phase_seconds["replay"] = round(time.perf_counter() - replay_start, 1)
    finally:
        shutil.rmtree(snapshot.folder, ignore_errors=True)
    for student in run.invalid:
        record_zero(course_dir, assignment, student, url)
    if run.flagged:
        flag_for_manual_grading(course_dir, assignment, sorted(run.flagged), url)
    if run.review:
        flag_for_manual_grading(course_dir, assignment, sorted(run.review), url, zero=False)
    run.seconds = round(time.perf_counter() - start, 1)
    return run


def generate_feedback(course_dir: Path, assignment: str, students: list[str],
                      env: dict[str, str] | None = None) -> dict[str, str]:
    """``nbgrader generate_feedback`` for the class; where that fails, once per student, so that one
    student's notebook never costs the others their feedback. Returns student -> why theirs failed."""
    try:
        run_nbgrader(course_dir, "generate_feedback", assignment, "--force", env=env)
        return {}
    except RuntimeError:
        pass
    failures = {}
    for student in students:
        try:
            run_nbgrader(course_dir, "generate_feedback", assignment, "--student", student, "--force", env=env)
        except RuntimeError as error:
            lines = [line for line in str(error).splitlines() if "Error" in line or "ERROR" in line] or ["failed"]
            failures[student] = lines[-1][:300]
    return failures


def write_run_log(run: ClassRun, path: Path) -> None:
    """The class run's report beside the gradebook (what the scores do not say), with the refusals of the
    assignment's last collect (``<A>.collect.json`` beside it) as ``refused_at_collect``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    collect_log = path.parent / f"{run.assignment}.collect.json"
    refused = json.loads(collect_log.read_text()).get("refused", {}) if collect_log.is_file() else {}
    path.write_text(json.dumps({**run.__dict__, "refused_at_collect": refused}, indent=2) + "\n")
