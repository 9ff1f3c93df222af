"""Autograding end to end in a temporary course: a demo class of five kinds of submission."""
import html
import re

import pytest

from course_utils.instructor import notebooks
from course_utils.instructor.demo import grade, prepare_course, submit
from course_utils.instructor.submissions import DEMO_CLASS

pytestmark = pytest.mark.slow
ASSIGNMENT = "01_amplitude_regression"
VBLINEAR = ["test_vblinear_parameters", "test_vblinear_forward", "test_vblinear_kl", "test_vblinear_gradients"]
NLL = ["test_neg_log_gauss_values", "test_neg_log_gauss_reference"]
PREDICTION = ["test_get_prediction_shapes", "test_get_prediction_statistics"]


@pytest.fixture(scope="module")
def graded(root, tmp_path_factory, notebook_env):
    course = tmp_path_factory.mktemp("course")
    prepare_course(root, course, [ASSIGNMENT])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nDEFAULT_CELL_TIMEOUT = 20  # cut the runaway loop off quickly\n")
    submit(course, ASSIGNMENT, DEMO_CLASS)
    return course, grade(course, ASSIGNMENT, env=notebook_env)


def scores(cells, names):
    return [cells[name][0] for name in names]


def full(cells, names):
    return [cells[name][1] for name in names]


def test_every_submission_is_graded_on_every_cell(root, graded):
    _, cell_grades = graded
    solution = notebooks.read(notebooks.solution_path(root, ASSIGNMENT))
    expected = {notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)}
    assert set(cell_grades) == set(DEMO_CLASS)
    for student, cells in cell_grades.items():
        assert set(cells) == expected, student


def test_solution_gets_full_marks(root, graded):
    _, cell_grades = graded
    solution = notebooks.read(notebooks.solution_path(root, ASSIGNMENT))
    alice = cell_grades["alice"]
    assert sum(s for s, _ in alice.values()) == notebooks.total_points(solution) > 0
    assert all(score == maximum for score, maximum in alice.values())


def test_untouched_notebook_gets_zero(graded):
    _, cell_grades = graded
    assert sum(score for score, _ in cell_grades["bob"].values()) == 0


def test_visible_tests_alone_do_not_give_full_marks(graded):
    _, cell_grades = graded
    carol = cell_grades["carol"]
    assert carol["test_neg_log_gauss_values"][0] == carol["test_neg_log_gauss_values"][1], "visible test passes"
    assert carol["test_neg_log_gauss_reference"][0] == 0, "the hidden broadcasting test catches the slip"
    assert scores(carol, VBLINEAR) == full(carol, VBLINEAR)


def test_infinite_loop_loses_only_what_it_breaks(graded):
    _, cell_grades = graded
    dave = cell_grades["dave"]
    assert scores(dave, NLL) == [0, 0]
    assert scores(dave, VBLINEAR) == full(dave, VBLINEAR), "cells before the loop keep their marks"
    assert scores(dave, PREDICTION) == full(dave, PREDICTION), "cells after the loop still run"


def test_syntax_error_loses_only_its_exercise(graded):
    _, cell_grades = graded
    erin = cell_grades["erin"]
    assert scores(erin, PREDICTION) == [0, 0]
    others = [name for name in erin if name not in PREDICTION]
    assert scores(erin, others) == full(erin, others)


def test_feedback_and_export_hide_hidden_tests(root, graded):
    course, _ = graded
    solution = notebooks.read(notebooks.solution_path(root, ASSIGNMENT))
    hidden_lines = {
        line.strip()
        for cell in notebooks.graded_cells(solution)
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S)
        for line in block.splitlines()
        if len(line.strip()) > 25 and not line.strip().startswith(("#", "assert"))
    }
    assert len(hidden_lines) > 10
    for student in DEMO_CLASS:
        page = (course / "grading" / "feedback" / student / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
        assert "HIDDEN TESTS" not in page
        shown = [line for line in hidden_lines if html.escape(line) in page or line in page]
        assert not shown, f"{student}'s feedback shows hidden-test code: {shown[:3]}"
    exported = (course / "grading" / "grades.csv").read_text()
    assert all(student in exported for student in DEMO_CLASS)
