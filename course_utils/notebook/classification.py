"""Figures of merit of a binary tagger (signal = 1, background = 0), as the top-tagging literature
quotes them: the ROC curve, its area, and the background rejection 1/eps_B at a fixed signal
efficiency eps_S."""
from __future__ import annotations

import numpy as np


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signal efficiency eps_S and background efficiency eps_B for every threshold (scores above it pass)."""
    from sklearn.metrics import roc_curve as sklearn_roc

    background_eff, signal_eff, _ = sklearn_roc(np.asarray(labels), np.asarray(scores))
    return signal_eff, background_eff


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the probability that a random signal jet scores above a random background jet."""
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(np.asarray(labels), np.asarray(scores)))


def background_rejection(labels: np.ndarray, scores: np.ndarray, signal_efficiency: float = 0.3) -> float:
    """1 / eps_B at the working point eps_S = ``signal_efficiency`` (linear interpolation on the ROC curve)."""
    signal_eff, background_eff = roc_curve(labels, scores)
    eps_b = float(np.interp(signal_efficiency, signal_eff, background_eff))
    return float("inf") if eps_b == 0.0 else 1.0 / eps_b


def _binned(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per equal-width bin of predicted probability: number of jets, of signal jets, and the sum of predictions."""
    probabilities = np.asarray(probabilities, dtype=float)
    index = np.clip(np.digitize(probabilities, np.linspace(0.0, 1.0, bins + 1)) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    signal = np.bincount(index, weights=np.asarray(labels, dtype=float), minlength=bins)
    return counts, signal, np.bincount(index, weights=probabilities, minlength=bins)


def calibration_curve(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10):
    """Per bin of predicted probability: bin centre, observed signal fraction, its binomial error and the count."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    counts, signal, _ = _binned(labels, probabilities, bins)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = signal / counts
        error = np.sqrt(fraction * (1 - fraction) / counts)
    return 0.5 * (edges[1:] + edges[:-1]), fraction, error, counts


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |observed fraction - mean predicted probability| over the bins."""
    counts, signal, predicted = _binned(labels, probabilities, bins)
    filled = counts > 0
    return float(np.sum(np.abs(signal[filled] - predicted[filled])) / counts.sum())
