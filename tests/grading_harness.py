"""The grading tests' scaffold: run a solution notebook's grade cells in-process against answer variants.

The runner itself is ``course_utils.instructor.inprocess_grading`` (also used by the handout's leak check);
this module adds the three tests every ``test_grading_0N.py`` runs. Their probes are drawn as a class run draws
a submission's: each seed of a check mixed with a salt, here :data:`TEST_SALT` (``benchmarks/probe_draws.py`` runs
these tests again under many salts, to show that no right answer depends on the draw and how often a wrong one is
caught).
"""
from __future__ import annotations

import os
from typing import Iterable

from course_utils.instructor import inprocess_grading, notebooks
from course_utils.instructor.inprocess_grading import GradeReport, edited, solution_answers  # noqa: F401  (re-exported)
from conftest import ROOT

#: the salt of the grading tests' probes (fixed, so a failure reproduces; another through ``GRADING_TEST_SALT``)
TEST_SALT = os.environ.get("GRADING_TEST_SALT", "grading tests").encode()


def grade(solution, answers: dict[str, str], assignment: str = "", only: Iterable[str] | None = None) -> GradeReport:
    """:func:`course_utils.instructor.inprocess_grading.grade` with the probes drawn under :data:`TEST_SALT`."""
    return inprocess_grading.grade(solution, answers, assignment, only, salt=TEST_SALT)


def solution_with(assignment: str, grade_id: str, *edits: tuple[str, str]) -> str:
    """The solution's answer cell ``grade_id`` of ``assignment`` with the edits (old, new) applied."""
    source = solution_answers(notebooks.read(notebooks.solution_path(ROOT, assignment)))[grade_id]
    for old, new in edits:
        assert old in source, f"{grade_id}: {old!r} is not in the solution any more"
        source = source.replace(old, new)
    return source


def grading_tests(assignment: str, wrong: dict[str, tuple[str, str, str]], alternatives: dict[str, tuple[str, str]]):
    """The three tests every ``test_grading_0N.py`` runs, for its assignment:

    * the solution gets full marks;
    * each ``wrong[name] = (grade_id, old, new)`` (the solution with one slip) loses points;
    * each ``alternatives[name] = (grade_id, source)`` (a right answer written differently) keeps full marks.

    Assign the returned functions to module-level names starting with ``test_`` so pytest collects them.
    """
    import pytest

    def solution_notebook(root):
        return notebooks.read(notebooks.solution_path(root, assignment))

    def test_the_solution_gets_full_marks(root):
        solution = solution_notebook(root)
        report = grade(solution, solution_answers(solution), assignment)
        assert report.score == report.total == notebooks.total_points(solution), report.errors

    @pytest.mark.parametrize("name", list(wrong))
    def test_a_wrong_answer_loses_points(root, name):
        solution = solution_notebook(root)
        report = grade(solution, edited(solution_answers(solution), *wrong[name]), assignment)
        assert report.score < report.total, f"{name!r} got full marks"

    @pytest.mark.parametrize("name", list(alternatives))
    def test_a_differently_written_right_answer_keeps_full_marks(root, name):
        solution = solution_notebook(root)
        grade_id, source = alternatives[name]
        report = grade(solution, {**solution_answers(solution), grade_id: source}, assignment)
        assert report.score == report.total, f"{name!r} lost points: {report.errors}"

    return (test_the_solution_gets_full_marks, test_a_wrong_answer_loses_points,
            test_a_differently_written_right_answer_keeps_full_marks)
