"""Figures of merit of a tagger, against closed forms for two Gaussian score distributions."""
import math

import numpy as np
import pytest

from course_utils.notebook import classification


@pytest.fixture(scope="module")
def gaussian_scores():
    """Signal scores N(1, 1), background N(0, 1), 200 000 each."""
    rng = np.random.default_rng(7)
    labels = np.repeat([1, 0], 200_000)
    return labels, rng.normal(labels.astype(float), 1.0)


def normal_sf(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2))


def test_auc_of_two_unit_gaussians(gaussian_scores):
    labels, scores = gaussian_scores
    assert classification.auc(labels, scores) == pytest.approx(1 - normal_sf(1 / math.sqrt(2)), abs=3e-3)
    assert classification.auc(labels, -scores) == pytest.approx(normal_sf(1 / math.sqrt(2)), abs=3e-3)


def test_background_rejection_at_a_working_point(gaussian_scores):
    labels, scores = gaussian_scores
    threshold = 1.0 + 0.5244005127080407  # P(N(1, 1) > t) = 0.3
    expected = 1.0 / normal_sf(threshold)
    assert classification.background_rejection(labels, scores, 0.3) == pytest.approx(expected, rel=0.03)
    assert classification.background_rejection(labels, scores, 0.9) < classification.background_rejection(labels, scores, 0.3)


def test_perfect_separation_rejects_everything():
    labels = np.array([0, 0, 1, 1])
    assert classification.auc(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert classification.background_rejection(labels, np.array([0.1, 0.2, 0.8, 0.9]), 0.3) == float("inf")


def test_calibration_of_calibrated_and_overconfident_probabilities():
    rng = np.random.default_rng(3)
    probabilities = rng.random(400_000)
    labels = (rng.random(400_000) < probabilities).astype(int)  # calibrated by construction
    centres, fraction, error, counts = classification.calibration_curve(labels, probabilities, bins=10)
    assert np.allclose(fraction, centres, atol=0.01) and counts.sum() == 400_000 and np.all(error < 0.01)
    assert classification.expected_calibration_error(labels, probabilities) < 0.005
    overconfident = np.clip(0.5 + 1.5 * (probabilities - 0.5), 0, 1)
    assert classification.expected_calibration_error(labels, overconfident) > 0.05


def test_reliability_diagram_takes_outcomes_per_model():
    """Multi-class confidence (tutorial 02): each model has its own 0/1 outcomes (was its top class right)."""
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.notebook.plotting import plot_reliability

    rng = np.random.default_rng(3)
    confidence = {"calibrated": rng.uniform(0.1, 1.0, 4000), "overconfident": rng.uniform(0.1, 1.0, 4000)}
    outcomes = {"calibrated": rng.uniform(size=4000) < confidence["calibrated"],
                "overconfident": rng.uniform(size=4000) < 0.5 * confidence["overconfident"]}
    ax = plot_reliability(outcomes, confidence, ylabel="fraction correct", xlabel="confidence")
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    for name in confidence:
        ece = classification.expected_calibration_error(outcomes[name], confidence[name])
        assert f"{name} (ECE {ece:.3f})" in legend
    assert ax.get_ylabel() == "fraction correct" and ax.get_xlabel() == "confidence"
    eces = [classification.expected_calibration_error(outcomes[n], confidence[n]) for n in confidence]
    assert eces[0] < 0.05 < eces[1], "the per-model outcomes are used, not one array for all"
