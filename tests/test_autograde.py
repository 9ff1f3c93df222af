"""Autograding end to end in a temporary course: for each assignment, a demo class of five kinds of
submission, graded by nbgrader at the grading scale."""
import html
import re

import pytest

from conftest import ASSIGNMENTS
from course_utils.instructor import notebooks
from course_utils.instructor.demo import grade, prepare_course, submit
from course_utils.instructor.submissions import demo_class

pytestmark = pytest.mark.slow

# per assignment and broken student: the grade cells that must score zero, and those that must keep
# full marks (None: every other cell)
EXPECTED = {
    "01_amplitude_regression": {
        "carol": (["test_neg_log_gauss_reference"], None),
        "dave": (["test_neg_log_gauss_values", "test_neg_log_gauss_reference"],
                 ["test_vblinear_parameters", "test_vblinear_forward", "test_vblinear_kl", "test_vblinear_gradients",
                  "test_get_prediction_shapes", "test_get_prediction_statistics"]),
        "erin": (["test_get_prediction_shapes", "test_get_prediction_statistics"], None),
    },
    "02_mnist_bayes_by_backprop": {
        "carol": (["test_minibatch_loss"], None),
        "dave": (["test_bayesian_linear_forward", "test_bayesian_linear_sampling", "test_bayesian_linear_log_densities"],
                 ["test_log_gaussian", "test_log_gaussian_logsigma", "test_mixture_prior_values", "test_mixture_prior_tails",
                  "test_log_categ", "test_minibatch_loss", "test_mc_predict_shapes", "test_mc_predict_intervals"]),
        "erin": (["test_mc_predict_shapes", "test_mc_predict_intervals"], None),
    },
    "03_jet_bayesian_cnn": {
        "carol": (["test_bbbconv_kl"], None),
        "dave": (["test_train_epoch_runs", "test_train_epoch_reference"],
                 ["test_bbbconv_parameters", "test_bbbconv_forward", "test_bbbconv_kl", "test_bbbconv_stability_and_devices",
                  "test_bayesconvnet_structure", "test_bayesconvnet_forward", "test_bayesconvnet_kl",
                  "test_get_prediction_shapes", "test_get_prediction_statistics"]),
        "erin": (["test_get_prediction_shapes", "test_get_prediction_statistics"], None),
    },
    "04_top_tagging_deepsets": {
        "carol": (["test_pfn_masking"], None),
        "dave": (["test_early_stopping_sequence", "test_early_stopping_best_weights"],
                 ["test_pfn_shapes", "test_pfn_masking", "test_pfn_permutation_and_gradients", "test_predict_proba",
                  "test_latent_batched", "test_jet_axis_shapes_and_padding", "test_jet_axis_values",
                  "test_jet_axis_symmetries"]),
        "erin": (["test_jet_axis_shapes_and_padding", "test_jet_axis_values", "test_jet_axis_symmetries"], None),
    },
}


def test_every_assignment_has_demo_expectations():
    assert set(EXPECTED) == set(ASSIGNMENTS)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, root, tmp_path_factory, notebook_env):
    assignment = request.param
    course = tmp_path_factory.mktemp("course")
    prepare_course(root, course, [assignment])
    with open(course / "nbgrader_config.py", "a") as config:
        config.write("\nDEFAULT_CELL_TIMEOUT = 20  # cut the runaway loop off quickly\n")
    submit(course, assignment, demo_class(assignment))
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    return assignment, course, solution, grade(course, assignment, env=notebook_env)


def test_every_submission_is_graded_on_every_cell(graded):
    assignment, _, solution, cell_grades = graded
    expected = {notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)}
    assert set(cell_grades) == set(demo_class(assignment))
    for student, cells in cell_grades.items():
        assert set(cells) == expected, student


def test_solution_gets_full_marks(graded):
    _, _, solution, cell_grades = graded
    alice = cell_grades["alice"]
    assert sum(s for s, _ in alice.values()) == notebooks.total_points(solution) > 0
    assert all(score == maximum for score, maximum in alice.values())


def test_untouched_notebook_gets_zero(graded):
    _, _, _, cell_grades = graded
    assert sum(score for score, _ in cell_grades["bob"].values()) == 0


@pytest.mark.parametrize("student", ["carol", "dave", "erin"])
def test_a_broken_submission_loses_what_it_breaks_and_only_that(graded, student):
    """carol passes the visible tests but not the hidden ones; dave's runaway loop is cut off by the
    cell time limit and later cells still run; erin's syntax error costs only its exercise."""
    assignment, _, _, cell_grades = graded
    cells = cell_grades[student]
    zero, full = EXPECTED[assignment][student]
    full = [name for name in cells if name not in zero] if full is None else full
    assert [cells[name][0] for name in zero] == [0] * len(zero), f"{student} should score 0 on {zero}"
    assert [cells[name][0] for name in full] == [cells[name][1] for name in full], f"{student} keeps {full}"


def test_autograde_runs_the_notebook_at_the_grading_scale(graded):
    """nbgrader_config.py makes `nbgrader autograde` set COURSE_SCALE=grading; the notebook prints its scale."""
    assignment, course, _, _ = graded
    autograded = notebooks.read(course / "grading" / "autograded" / "alice" / assignment / f"{assignment}.ipynb")
    printed = "".join(o.get("text", "") for c in autograded.cells if c.cell_type == "code" for o in c.outputs)
    assert "scale: grading" in printed


def test_feedback_and_export_hide_hidden_tests(graded):
    assignment, course, solution, _ = graded
    hidden_lines = {
        line.strip()
        for cell in notebooks.graded_cells(solution)
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S)
        for line in block.splitlines()
        if len(line.strip()) > 25 and not line.strip().startswith(("#", "assert"))
    }
    assert len(hidden_lines) > 10
    for student in demo_class(assignment):
        page = (course / "grading" / "feedback" / student / assignment / f"{assignment}.html").read_text()
        assert "HIDDEN TESTS" not in page
        shown = [line for line in hidden_lines if html.escape(line) in page or line in page]
        assert not shown, f"{student}'s feedback shows hidden-test code: {shown[:3]}"
    exported = (course / "grading" / "grades.csv").read_text()
    assert all(student in exported for student in demo_class(assignment))
