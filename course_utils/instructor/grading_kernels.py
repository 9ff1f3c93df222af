"""How the autograder runs student code: kernel limits and the two execution preprocessors.

``nbgrader_config.py`` installs these for ``nbgrader autograde`` only:

* every kernel starts with a cap on its address space (``RLIMIT_AS``), so a memory bomb ends in a
  ``MemoryError`` (or the kernel's death) instead of taking the machine down;
* :class:`HardenedExecute` runs the notebook like nbgrader's ``Execute``, but a kernel that dies
  (killed by the memory cap, by ``os.kill``, by ``os._exit``) does not abort the submission: the cell
  that was running and every code cell after it get an error output, so their tests score 0 and the
  cells before keep their marks;
* :class:`ReplayExecution` takes the place of execution in the second phase of parallel grading
  (``course_utils.instructor.class_grading``): it copies the outputs of a notebook already executed
  in a sandbox, so that nbgrader's own preprocessors grade it exactly as in a serial run.
"""
from __future__ import annotations

import os
import resource
from pathlib import Path

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Unicode

#: address-space cap of a grading kernel; a kernel of any tutorial at the grading scale peaks below 2.3 GiB
DEFAULT_KERNEL_MEMORY_MB = 4096
KERNEL_DIED = "KernelDied"
NOT_GRADED = "NotGraded"


def kernel_memory_mb() -> int:
    """The cap in MiB: ``$COURSE_KERNEL_MEMORY_MB`` or the default."""
    value = os.environ.get("COURSE_KERNEL_MEMORY_MB") or DEFAULT_KERNEL_MEMORY_MB
    megabytes = int(value)
    if megabytes < 512:
        raise ValueError(f"COURSE_KERNEL_MEMORY_MB={megabytes} is too small for a Python kernel with torch (>= 512)")
    return megabytes


def memory_limit_arguments(megabytes: int | None = None) -> list[str]:
    """Kernel command-line arguments that cap the kernel's address space before any cell runs.

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
    """nbgrader's ``Execute`` that survives the kernel's death: the rest of the notebook scores 0."""

    def preprocess(self, nb, resources=None, km=None):
        self._death_message = ""
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if self._death_message:
            if cell.cell_type == "code":
                cell.outputs = [error_output(KERNEL_DIED, self._death_message)]
            return cell, self.resources
        try:
            return super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._death_message = (f"the kernel died in cell {index} (out of memory, or killed by the code); "
                                   "this cell and the ones after it did not run")
            self.log.warning("Kernel died while running cell %d; the cells after it are not run", index)
            cell.outputs.append(error_output(KERNEL_DIED, self._death_message))
            return cell, self.resources


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


class ReplayExecution(NbGraderPreprocessor):
    """Phase two of parallel grading: outputs from ``executed_root/<student>/<assignment>/<notebook>``."""

    executed_root = Unicode("", help="folder of the notebooks executed in phase one").tag(config=True)

    def preprocess(self, nb, resources):
        student = resources["nbgrader"]["student"]
        assignment = resources["nbgrader"]["assignment"]
        name = resources["nbgrader"]["notebook"] + ".ipynb"
        path = Path(self.executed_root) / student / assignment / name
        failure = Path(self.executed_root) / student / "failure.txt"
        if path.is_file():
            replay_outputs(nb, nbformat.read(str(path), as_version=4))
        else:
            reason = failure.read_text().strip() if failure.is_file() else "it was not executed"
            self.log.warning("%s/%s: %s", student, assignment, reason)
            replay_outputs(nb, None, reason)
        return nb, resources
