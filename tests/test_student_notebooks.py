"""The student notebooks: generated from the solutions, no answers or hidden tests inside."""
import re
import shutil

import pytest
import torch

from course_utils.instructor import notebooks
from conftest import ASSIGNMENTS
from course_utils.instructor.generate import generate_release

HIDDEN_BLOCK = r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS"


def significant_lines(text: str) -> set[str]:
    """Lines worth searching for: code, not blank lines, comments or very short statements."""
    return {line.strip() for line in text.splitlines() if len(line.strip()) > 15 and not line.strip().startswith("#")}


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def pair(request, root):
    assignment = request.param
    return (assignment, notebooks.read(notebooks.solution_path(root, assignment)),
            notebooks.read(notebooks.release_path(root, assignment)))


def test_committed_student_notebook_is_regenerated_exactly(root, tmp_path):
    shutil.copy(root / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    for assignment in ASSIGNMENTS:
        shutil.copytree(root / "solutions" / assignment, tmp_path / "solutions" / assignment)
        fresh = notebooks.read(generate_release(tmp_path, assignment))
        committed = notebooks.read(notebooks.release_path(root, assignment))
        assert fresh == committed, f"notebooks/{assignment} is stale: run `make notebooks` and commit it"


def secret_and_public_lines(solution) -> tuple[dict[str, set[str]], set[str]]:
    """Lines only the instructor may see (solution regions, hidden tests) and lines that
    the solution notebook shows anyway outside them."""
    secret = {"solution": set(), "hidden": set()}
    public_parts = []
    for cell in solution.cells:
        source = cell.source
        secret["solution"] |= {l for r in notebooks.SOLUTION_REGION.findall(source) for l in significant_lines(r)}
        secret["hidden"] |= {l for b in re.findall(HIDDEN_BLOCK, source, re.S) for l in significant_lines(b)}
        public_parts.append(re.sub(HIDDEN_BLOCK, "", notebooks.SOLUTION_REGION.sub("", source), flags=re.S))
    return secret, significant_lines("\n".join(public_parts))


def test_no_solution_code_in_student_notebook(pair):
    _, solution, release = pair
    release_text = "\n".join(cell.source for cell in release.cells)
    assert "BEGIN SOLUTION" not in release_text and "END SOLUTION" not in release_text
    secret, public = secret_and_public_lines(solution)
    assert len(secret["solution"] - public) > 20
    leaked = (secret["solution"] - public) & significant_lines(release_text)
    assert not leaked, f"solution lines in the student notebook: {leaked}"


def test_no_hidden_tests_in_student_notebook(pair):
    _, solution, release = pair
    release_text = "\n".join(cell.source for cell in release.cells)
    assert "HIDDEN TESTS" not in release_text
    secret, public = secret_and_public_lines(solution)
    assert len(secret["hidden"] - public) > 20, "the solution must have hidden tests"
    leaked = (secret["hidden"] - public) & significant_lines(release_text)
    assert not leaked, f"hidden-test lines in the student notebook: {leaked}"


def test_student_notebook_has_no_outputs(pair):
    _, _, release = pair
    assert all(not cell.get("outputs") for cell in release.cells if cell.cell_type == "code")


def test_every_exercise_has_split_visible_and_hidden_tests(pair):
    _, solution, _ = pair
    grade_ids = [notebooks.nbgrader_meta(c)["grade_id"] for c in solution.cells if notebooks.nbgrader_meta(c)]
    assert len(grade_ids) == len(set(grade_ids)), "grade_ids must be unique"
    blocks, current = {}, None
    for cell in solution.cells:
        meta = notebooks.nbgrader_meta(cell)
        if meta.get("solution"):
            current = meta["grade_id"]
            blocks[current] = []
        elif meta.get("grade") and current is not None:
            assert meta.get("locked") and meta.get("points", 0) > 0
            blocks[current].append(cell.source)
    for exercise, tests in blocks.items():
        assert len(tests) >= 2, f"{exercise}: split its tests into two or more grade cells"
        assert any("BEGIN HIDDEN TESTS" in t for t in tests), f"{exercise}: no hidden tests"
        assert all(t.split("### BEGIN HIDDEN TESTS")[0].strip() for t in tests), f"{exercise}: a test cell with no visible part"


def test_solution_has_parameters_and_metrics_cells(pair):
    _, solution, _ = pair
    parameters = notebooks.cells_with_tag(solution, "parameters")
    assert len(parameters) == 1 and 'SCALE = "ci"' in parameters[0].source
    assert len(notebooks.cells_with_tag(solution, "metrics")) == 1


def _exercise_namespace():
    import copy
    import math

    import numpy as np
    from torch import nn
    from torch.nn import functional as F
    from torch.utils.data import DataLoader

    return dict(torch=torch, nn=nn, F=F, math=math, copy=copy, np=np, DataLoader=DataLoader, ipt_dim=20, opt_dim=2,
                DEFAULT_PRIORS={"prior_mu": 0.0, "prior_sigma": 0.1, "posterior_mu_initial": (0.0, 0.1),
                                "posterior_rho_initial": (-5.0, 0.1)})


LINEAR = torch.nn.Linear(1, 1)
# per assignment, per answer cell: calls of everything the cell defines, each of which must raise
CALLS = {
    "01_amplitude_regression": {
        "vblinear": [lambda ns: ns["VBLinear"](3, 2)],
        "neg_log_gauss": [lambda ns: ns["neg_log_gauss"](torch.zeros(4, 2), torch.zeros(4))],
        "bayes_amp_net": [lambda ns: ns["bayes_amp_net"](100)],
        "train_epoch": [lambda ns: ns["train_epoch"]([], LINEAR, None), lambda ns: ns["validate_epoch"]([], LINEAR)],
        "get_prediction": [lambda ns: ns["get_prediction"](LINEAR, [], 2)],
    },
    "02_mnist_bayes_by_backprop": {
        "log_gaussian": [lambda ns: ns["log_gaussian"](torch.zeros(2), 0.0, 1.0),
                         lambda ns: ns["log_gaussian_logsigma"](torch.zeros(2), 0.0, 0.0)],
        "log_mixture_prior": [lambda ns: ns["log_mixture_prior"](torch.zeros(2), 0.5, 1.0, 0.1)],
        "bayesian_linear": [lambda ns: ns["BayesianLinear"](3, 2)(torch.zeros(1, 3))],
        "minibatch_loss": [lambda ns: ns["log_categ"](torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)),
                           lambda ns: ns["minibatch_loss"](1.0, 0.0, 0.0, 1, 2)],
        "mc_predict": [lambda ns: ns["mc_predict"](LINEAR, torch.zeros(2, 1))],
    },
    "03_jet_bayesian_cnn": {
        "bbbconv2d": [lambda ns: ns["BBBConv2d"](1, 2, 3)],
        "bayesconvnet2d": [lambda ns: ns["BayesConvNet2D"](100)],
        "train_epoch": [lambda ns: ns["train_epoch"]([], LINEAR, None), lambda ns: ns["evaluate_model"]([], LINEAR)],
        "get_prediction": [lambda ns: ns["get_prediction"](torch.zeros(2, 1, 4, 4), LINEAR)],
    },
    "04_top_tagging_deepsets": {
        "pseudo_particle_flow": [lambda ns: ns["PseudoParticleFlow"]().latent(torch.zeros(2, 3, 4), torch.ones(2, 3)),
                                 lambda ns: ns["PseudoParticleFlow"]()(torch.zeros(2, 3, 4), torch.ones(2, 3))],
        "early_stopping": [lambda ns: ns["EarlyStopping"](2).step(1.0, LINEAR),
                           lambda ns: ns["EarlyStopping"](2).restore(LINEAR)],
        "predict": [lambda ns: ns["predict_proba"](LINEAR, [], 2), lambda ns: ns["latent"](LINEAR, [], 2)],
        "jet_axis_features": [lambda ns: ns["jet_axis_features"](ns["np"].zeros((1, 2, 4)))],
    },
}


def test_every_assignment_is_checked_here():
    assert set(CALLS) == set(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_exercise_raises_not_implemented(root, assignment):
    release = notebooks.read(notebooks.release_path(root, assignment))
    answers = notebooks.solution_cells(release)
    assert set(answers) == set(CALLS[assignment])
    for grade_id, calls in CALLS[assignment].items():
        for call in calls:
            namespace = _exercise_namespace()
            exec(compile(answers[grade_id].source, grade_id, "exec"), namespace)
            with pytest.raises(NotImplementedError):
                call(namespace)
