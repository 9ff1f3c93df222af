"""How the autograder runs student code: kernel limits and the preprocessors of both grading phases.

``nbgrader_config.py`` installs these for ``nbgrader autograde`` only:

* :class:`HardenedExecute` runs the notebook like nbgrader's ``Execute``, but a kernel that dies (killed
  by the memory cap, by ``os.kill``, by ``os._exit``) or that does not stop when its cell runs past the
  time limit does not abort the submission: that cell and every code cell after it get an error
  output, so their tests score 0 and the cells before keep their marks. Plain ``nbgrader autograde``
  uses it with the memory cap set inside the kernel (:func:`memory_limit_arguments`);
* :class:`SandboxedExecute` is the same with the kernel in its sandbox
  (:mod:`course_utils.instructor.sandbox`), used by `make grade` where the machine allows it; the
  limits are then set outside the kernel;
* phase 1 of `make grade` (:mod:`course_utils.instructor.submission_run`) also runs
  :class:`ScanSubmission` (the tamper scan), :class:`PlantCanaries` before execution and
  :class:`CollectCanaries` after it, each writing what it found to the run's private report folder;
* :class:`ReplayExecution` takes the place of execution in phase 2 (``class_grading``): it copies the
  outputs of the notebook executed in phase 1, after checking its sha256 against the run's manifest,
  so that nbgrader's own preprocessors grade it exactly as in a serial run.
"""
from __future__ import annotations

import hashlib
import json
import random
import resource
import secrets
from pathlib import Path

import nbformat
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Unicode

from .sandbox import canaries
from .sandbox.kernel_manager import SandboxedKernelManager
from .sandbox.kernel_sandbox import DEFAULT_KERNEL_MEMORY_MB, kernel_memory_mb  # noqa: F401  (the cap lives there)
from .sandbox.tamper_scan import scan_notebook

KERNEL_DIED = "KernelDied"
NOT_GRADED = "NotGraded"
#: outputs one cell may record (beyond, they are dropped, errors excepted): a kernel cannot flood the grader
OUTPUT_LIMIT_MB = 5


def memory_limit_arguments(megabytes: int | None = None) -> list[str]:
    """Kernel command-line arguments that cap the kernel's address space before any cell runs (for kernels
    outside a sandbox; a sandboxed kernel gets a hard limit from outside).

    The limit is set inside the kernel (``IPKernelApp.exec_lines``), soft and hard, and leaves no
    name behind in the student's namespace. It never raises the limit the grader itself runs under.
    """
    limit = (megabytes or kernel_memory_mb()) * 1024**2
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    line = f"import resource as _r; _r.setrlimit(_r.RLIMIT_AS, ({limit}, {limit})); del _r"
    return [f"--IPKernelApp.exec_lines={line}"]


def error_output(name: str, message: str) -> NotebookNode:
    """An error output as a kernel would record it: the grade cell that holds it scores 0."""
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


class HardenedExecute(Execute):
    """nbgrader's ``Execute`` that survives the kernel's death: the rest of the notebook scores 0. A cell's
    outputs beyond :data:`OUTPUT_LIMIT_MB` are dropped (its errors never).

    What a submission's cell metadata or outputs say does not decide its grade: every cell runs, whatever
    tags it carries (nbclient skips cells tagged ``skip-execution``: here the skip tag is a secret of the
    run), and a grade cell scores by its errors alone (:func:`scored_by_errors_only`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skip_cells_with_tag = f"never-skipped-{secrets.token_hex(16)}"

    def preprocess(self, nb, resources=None, km=None):
        self._death_message = ""
        self._output_bytes: dict[int, int] = {}
        self._checks = grader_side_checks(resources or {})
        self._salt = probe_salt(nb, resources or {}) if self._checks is not None else None
        self._numbered = 0
        return super().preprocess(nb, resources, km)

    def _update_display_id(self, display_id, msg) -> None:
        """Outputs already recorded never change: a later cell's display update (``update_display``, a display
        with the same id) would otherwise rewrite an earlier cell's output with what the student's code saw since,
        the hidden checks' inputs included, past the feedback's rule that nothing after the first test is shown."""
        return None

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        used = self._output_bytes.get(cell_index, 0)
        self._output_bytes[cell_index] = used + size
        if msg.get("msg_type") != "error" and used + size > OUTPUT_LIMIT_MB * 1024**2:
            if used <= OUTPUT_LIMIT_MB * 1024**2:
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr", text=f"[outputs beyond {OUTPUT_LIMIT_MB} MB in this cell were dropped]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _cell_number(self, index: int) -> int:
        """``index`` among the submission's own cells (the grader's canary cells not counted)."""
        return index - sum(canaries.is_canary(cell) for cell in self.nb.cells[:index])

    def preprocess_cell(self, cell, resources, index):
        if self._death_message:
            if cell.cell_type == "code":
                cell.outputs = [error_output(KERNEL_DIED, self._death_message)]
            return cell, self.resources
        if self._checks is not None and _is_test_cell(cell):
            return self._check_in_the_grader(cell, index), self.resources
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
            return numbered_by_the_grader(scored_by_errors_only(cell), self), resources
        except DeadKernelError:  # the sandbox's kernel manager may know why (its whole-kernel memory cap)
            reason = getattr(self.km, "kill_reason", "") or "out of memory, or killed by the code"
        except CellTimeoutError:  # it ignored the interrupt at the time limit: the kernel is stopped at the end
            reason = "it did not stop when interrupted at the cell's time limit"
        number = self._cell_number(index)
        self._death_message = (f"the kernel died in cell {number} ({reason}); "
                               "this cell and the ones after it did not run")
        self.log.warning("Kernel lost in cell %d (%s); the cells after it are not run", number, reason)
        cell.outputs.append(error_output(KERNEL_DIED, self._death_message))
        return cell, self.resources


    def _check_in_the_grader(self, cell, index: int):
        """A grade cell of an assignment graded by the grader: its check runs here, in the grader's process,
        against the kernel through the probe channel; the kernel never sees the cell. The outcome becomes the
        cell's outputs (nothing when it passed, the error when not)."""
        from ..grading.grader_side.channel import KernelChannel
        from ..grading.grader_side.checks import outcome_outputs, run_check

        imports, sources = self._checks
        grade_id = cell.metadata["nbgrader"].get("grade_id", "")
        source = sources.get(grade_id, cell.source)
        channel = KernelChannel(self.kc, interrupt=self.km.interrupt_kernel)
        # the cell's own time limit (15 s at grading, nbgrader_config.py's timeout_func), as for a cell run in the kernel
        outcome = run_check(source, channel, imports, grade_id, seconds=float(self._get_timeout(cell) or 600),
                            salt=self._salt)
        cell.outputs = outcome_outputs(outcome)
        cell.execution_count = None
        self.log.info("Grade cell %s checked in the grader (%d requests): %s", grade_id, channel.requests,
                      "passed" if outcome.passed else f"{outcome.error_name}")
        if outcome.error_name == "TimeoutError" and not run_sync(self.km.is_alive)():
            number = self._cell_number(index)
            self._death_message = (f"the kernel died in cell {number} (it did not answer the grader's check); "
                                   "this cell and the ones after it did not run")
            cell.outputs.append(error_output(KERNEL_DIED, self._death_message))
        return cell


def _graded_by_the_grader() -> frozenset:
    from ..grading.grader_side import GRADED_BY_THE_GRADER

    return GRADED_BY_THE_GRADER


def numbered_by_the_grader(cell, runner) -> NotebookNode:
    """A run cell numbered by the grader (1, 2, ... in the order cells ran), not by the kernel: student code can
    set the kernel's ``execution_count`` to any number, and the feedback shows it as ``In [n]``. Every code cell
    that ran is numbered, whether or not the kernel's ``execute_input`` message (which carries its count) reached
    the grader: on a busy machine the first messages of a new kernel can be lost, and the numbers would differ
    between two runs of the same submission."""
    if cell.cell_type != "code" or not cell.source.strip():
        return cell
    runner._numbered = getattr(runner, "_numbered", 0) + 1
    cell.execution_count = runner._numbered
    for out in cell.get("outputs", []):
        if out.get("output_type") == "execute_result":
            out["execution_count"] = runner._numbered
    return cell


def _is_test_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution")


def source_notebook_path(resources: dict) -> Path:
    """The instructor's notebook of the one being graded (phase 1's private copy, else the course's own)."""
    import os

    info = resources.get("nbgrader", {})
    folder = os.environ.get("COURSE_PHASE1_SOURCE") or str(Path.cwd() / "solutions" / info.get("assignment", ""))
    return Path(folder) / f"{info.get('notebook', '')}.ipynb"


def grader_side_checks(resources: dict) -> tuple[str, dict[str, str]] | None:
    """For an assignment graded by the grader: the instructor notebook's imports and its grade cells' code
    by grade id (None for the others, whose test cells run in the kernel)."""
    from ..grading.grader_side import GRADED_BY_THE_GRADER
    from ..grading.grader_side.checks import notebook_imports

    if resources.get("nbgrader", {}).get("assignment") not in GRADED_BY_THE_GRADER:
        return None
    source = nbformat.read(str(source_notebook_path(resources)), as_version=4)
    cells = {cell.metadata["nbgrader"]["grade_id"]: cell.source for cell in source.cells if _is_test_cell(cell)}
    return notebook_imports(source), cells


def probe_salt(nb: NotebookNode, resources: dict) -> bytes:
    """The salt of the submission's probes (:mod:`course_utils.grading.grader_side.probe_seeds`): the course's probe
    key (below the folder nbgrader runs in: phase 1's private course folder, or the course's own, where it is made on
    first use) and the student's code as run."""
    from ..grading.grader_side.probe_seeds import course_key, submission_salt

    info = resources.get("nbgrader", {})
    key = course_key(Path.cwd())
    code = [cell.source for cell in nb.cells
            if cell.cell_type == "code" and not _is_test_cell(cell) and not canaries.is_canary(cell)]
    return submission_salt(key, str(info.get("assignment", "")), str(info.get("student", "")),
                           str(info.get("notebook", "")), code)


def scored_by_errors_only(cell: NotebookNode) -> NotebookNode:
    """A grade cell's outputs such that nbgrader scores it by its errors alone: the course's tests pass or
    raise. ``execute_result`` becomes ``display_data`` (nbgrader takes a number the cell returns as its
    score, and student code can make it return one) and text on stderr goes to stdout (nbgrader scores a
    cell that printed a warning 0: a right answer that makes torch warn would lose the test's points)."""
    if cell.cell_type != "code" or not cell.get("metadata", {}).get("nbgrader", {}).get("grade"):
        return cell
    outputs = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "execute_result":
            out = nbformat.v4.new_output("display_data", data=out.get("data", {}), metadata=out.get("metadata", {}))
        elif out.get("output_type") == "stream" and out.get("name") == "stderr":
            out = nbformat.v4.new_output("stream", name="stdout", text=out.get("text", ""))
        outputs.append(out)
    cell.outputs = outputs
    return cell


class SandboxedExecute(HardenedExecute):
    """:class:`HardenedExecute` with the kernel in its sandbox (:mod:`course_utils.instructor.sandbox`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)


def record(report_dir: str, resources: dict, key: str, value) -> None:
    """Add ``key: value`` to the phase-1 report of the notebook being graded (``<report_dir>/<notebook>.json``)."""
    if not report_dir:
        return
    path = Path(report_dir) / f"{resources['nbgrader']['notebook']}.json"
    report = json.loads(path.read_text()) if path.is_file() else {}
    report[key] = value
    path.write_text(json.dumps(report, indent=1))


class ScanSubmission(NbGraderPreprocessor):
    """Phase 1, before execution: the tamper scan of every cell the student could edit."""

    report_dir = Unicode("", help="the run's private folder for this submission's report").tag(config=True)
    source_dir = Unicode("", help="the assignment's source (instructor) notebooks").tag(config=True)
    release_dir = Unicode("", help="the assignment's release (student) notebooks").tag(config=True)

    def preprocess(self, nb, resources):
        name = resources["nbgrader"]["notebook"] + ".ipynb"
        source = nbformat.read(str(Path(self.source_dir) / name), as_version=4)
        release_path = Path(self.release_dir) / name
        release = nbformat.read(str(release_path), as_version=4) if release_path.is_file() else source
        findings = [str(finding) for finding in scan_notebook(nb, source, release)]
        record(self.report_dir, resources, "findings", findings)
        return nb, resources


class PlantCanaries(NbGraderPreprocessor):
    """Phase 1, before execution: copies of test cells that must fail (:mod:`~.sandbox.canaries`)."""

    report_dir = Unicode("").tag(config=True)

    def preprocess(self, nb, resources):
        if resources["nbgrader"]["assignment"] in _graded_by_the_grader():
            record(self.report_dir, resources, "canaries_planted", [])  # no test code runs in the kernel
            return nb, resources
        record(self.report_dir, resources, "canaries_planted", canaries.plant(nb, random.SystemRandom()))
        return nb, resources


class CollectCanaries(NbGraderPreprocessor):
    """Phase 1, after execution: what became of the canaries; the notebook keeps the submission's cells only."""

    report_dir = Unicode("").tag(config=True)

    def preprocess(self, nb, resources):
        results = canaries.collect(nb)
        record(self.report_dir, resources, "canaries", [result.__dict__ for result in results])
        return nb, resources


def replay_outputs(target, executed, reason: str = "") -> None:
    """Copy execution results cell by cell from ``executed`` into ``target`` (same cells, in order).

    Without an executed notebook (``executed`` is None), or when the two do not hold the same cells,
    every code cell of ``target`` gets an error output naming ``reason``: the submission scores 0.
    """
    if executed is not None and _same_cells(target, executed):
        target.metadata["language_info"] = executed.metadata.get("language_info", {})
        for cell, run in zip(target.cells, executed.cells):
            if cell.cell_type == "code":
                cell.outputs = run.outputs
                cell.execution_count = run.execution_count
                if "execution" in run.metadata:
                    cell.metadata["execution"] = run.metadata["execution"]
        return
    if executed is not None:
        reason = "the executed notebook does not match the submission"
    for cell in target.cells:
        if cell.cell_type == "code":
            cell.outputs = [error_output(NOT_GRADED, f"this submission could not be run: {reason}")]


def _same_cells(target, executed) -> bool:
    return len(target.cells) == len(executed.cells) and all(
        a.cell_type == b.cell_type and a.source == b.source for a, b in zip(target.cells, executed.cells))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class ReplayExecution(NbGraderPreprocessor):
    """Phase two of parallel grading: outputs from ``executed_root/<student>/<assignment>/<notebook>``,
    used only when the file's sha256 is the one phase 1 recorded in ``manifest`` (whose own sha256 the
    grader passes as ``manifest_sha256``)."""

    executed_root = Unicode("", help="folder of the notebooks executed in phase one").tag(config=True)
    manifest = Unicode("", help="JSON file: student -> notebook file -> sha256").tag(config=True)
    manifest_sha256 = Unicode("", help="sha256 of the manifest file").tag(config=True)

    def _hashes(self) -> dict | None:
        if not hasattr(self, "_manifest"):
            self._manifest = None
            if self.manifest and Path(self.manifest).is_file():
                data = Path(self.manifest).read_bytes()
                if sha256(data) == self.manifest_sha256:
                    self._manifest = json.loads(data)
        return self._manifest

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        assignment = resources["nbgrader"]["assignment"]
        name = resources["nbgrader"]["notebook"] + ".ipynb"
        path = Path(self.executed_root) / student / assignment / name
        failure = Path(self.executed_root) / student / "failure.txt"
        hashes = self._hashes()
        data = path.read_bytes() if path.is_file() else b""
        if data and hashes is not None and hashes.get(student, {}).get(name) == sha256(data):
            replay_outputs(nb, nbformat.reads(data.decode(), as_version=4))
            return nb, resources
        if path.is_file():
            reason = "its executed notebook changed after its kernel ended"
        else:
            reason = failure.read_text().strip() if failure.is_file() else "it was not executed"
        self.log.warning("%s/%s: %s", student, assignment, reason)
        replay_outputs(nb, None, reason)
        return nb, resources
