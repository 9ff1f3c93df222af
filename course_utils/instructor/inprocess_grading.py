"""Run a solution notebook's grade cells against given answers, in-process and in seconds (trusted content only).

What nbgrader's autograde does, without the data and the training: the notebook's imports and
definitions, each answer cell (the solution or a variant), then every grade cell with its hidden
tests. Non-graded cells contribute only their imports, functions, classes and literal constants,
so nothing reads data or trains; grade cells never depend on more (the course's rule).
Used by the tests to show that plausible wrong answers lose points and differently written right ones
do not, and by ``handout`` to show that a handout does not answer another assignment's exercises. It runs
the instructor's own notebooks in this process: never use it on student submissions (``class_grading`` does).
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass, field
from typing import Iterable

from . import notebooks

os.environ.setdefault("MPLBACKEND", "Agg")


def definitions_only(source: str) -> str:
    """Imports, function and class definitions and literal assignments of a cell."""
    from ..grading.grader_side.checks import top_level_statements

    return top_level_statements(source, definitions=True)


@dataclass
class GradeReport:
    """Points per grade cell, and the error of each failed cell."""

    points: dict[str, float] = field(default_factory=dict)
    maximum: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return sum(self.points.values())

    @property
    def total(self) -> float:
        return sum(self.maximum.values())


def solution_answers(solution) -> dict[str, str]:
    """grade_id -> the solution's answer code, region markers removed."""
    return {grade_id: notebooks.strip_solution_markers(cell.source)
            for grade_id, cell in notebooks.solution_cells(solution).items()}


def edited(answers: dict[str, str], grade_id: str, old: str, new: str) -> dict[str, str]:
    """``answers`` with one answer cell edited; the edit must apply, so a variant never silently becomes the solution."""
    assert old in answers[grade_id], f"{grade_id}: {old!r} is not in the solution any more"
    return {**answers, grade_id: answers[grade_id].replace(old, new)}


@contextlib.contextmanager
def _fresh_torch_state():
    """One thread, as the autograder's kernels run, and torch's global switches put back afterwards: an answer
    that leaves autograd off or changes the default dtype must not change the next grading in this process."""
    import torch

    saved = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.get_num_threads())
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_grad_enabled(saved[0])
        torch.set_default_dtype(saved[1])
        torch.set_num_threads(saved[2])


def grade(solution, answers: dict[str, str], assignment: str = "", only: Iterable[str] | None = None,
          salt: bytes | None = None) -> GradeReport:
    """Run ``solution``'s cells with ``answers`` (grade_id -> code) in the answer cells; score the grade cells
    (only those named in ``only``, when given: e.g. an exercise's own, to show that a slip in it loses points).
    For an assignment graded by the grader (``course_utils.grading.grader_side.GRADED_BY_THE_GRADER``) each
    grade cell runs as there: in this process's grader side, against the answers' namespace through the
    probe server (``LocalChannel``), every value crossing as plain data, its seeds mixed with ``salt`` as a class run
    mixes them with a submission's (:mod:`course_utils.grading.grader_side.probe_seeds`; None: the seeds as written)."""
    from ..grading.grader_side import GRADED_BY_THE_GRADER

    with _fresh_torch_state():
        return _grade(solution, answers, assignment in GRADED_BY_THE_GRADER, None if only is None else set(only), salt)


def _grade(solution, answers: dict[str, str], by_the_grader: bool = False, only: set[str] | None = None,
           salt: bytes | None = None) -> GradeReport:
    from ..grading.grader_side.channel import LocalChannel
    from ..grading.grader_side.checks import notebook_imports, run_check

    namespace: dict = {"__name__": "__main__"}
    channel = LocalChannel(namespace) if by_the_grader else None
    imports = notebook_imports(solution) if by_the_grader else ""
    report = GradeReport()
    for cell in solution.cells:
        if cell.cell_type != "code":
            continue
        meta = notebooks.nbgrader_meta(cell)
        if meta.get("grade") and only is not None and meta["grade_id"] not in only:
            continue
        if meta.get("solution"):
            source = answers[meta["grade_id"]]
        elif meta.get("grade"):
            source = cell.source
        else:
            source = definitions_only(cell.source)
        if by_the_grader and meta.get("grade"):
            outcome = run_check(source, channel, imports, meta["grade_id"], salt=salt)
            if not outcome.passed:
                report.errors[meta["grade_id"]] = f"{outcome.error_name}: {outcome.message}"
            report.maximum[meta["grade_id"]] = float(meta["points"])
            report.points[meta["grade_id"]] = 0.0 if meta["grade_id"] in report.errors else float(meta["points"])
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(source, meta.get("grade_id", "cell"), "exec"), namespace)  # noqa: S102
        except Exception as exc:  # a student's error: the cell scores zero, later cells still run
            if meta.get("grade"):
                report.errors[meta["grade_id"]] = f"{type(exc).__name__}: {exc}"
        if meta.get("grade"):
            report.maximum[meta["grade_id"]] = float(meta["points"])
            report.points[meta["grade_id"]] = 0.0 if meta["grade_id"] in report.errors else float(meta["points"])
    return report
