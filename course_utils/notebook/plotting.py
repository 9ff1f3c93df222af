"""Ready-made figures shared by the tutorials. None of them is an exercise."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np


def use_course_style() -> None:
    """Readable defaults for every notebook."""
    plt.rcParams.update({
        "figure.figsize": (6.0, 4.0),
        "figure.dpi": 90,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "font.size": 11,
        "legend.frameon": False,
    })


def hist_with_ratio(
    reference: np.ndarray,
    others: Mapping[str, np.ndarray],
    bins: np.ndarray,
    reference_label: str = "truth",
    xlabel: str = "",
    logx: bool = False,
    logy: bool = False,
    ratio_range: tuple[float, float] = (0.8, 1.2),
):
    """Histograms of ``reference`` and each of ``others`` with a ratio panel (other / reference).

    Returns the figure and its two axes.
    """
    fig, (top, bottom) = plt.subplots(
        2, 1, sharex=True, figsize=(6.0, 5.0), gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
    )
    ref_counts, edges, _ = top.hist(reference, bins=bins, histtype="step", color="black", lw=1.5, label=reference_label)
    centres = 0.5 * (edges[1:] + edges[:-1])
    for label, values in others.items():
        counts, _, patches = top.hist(values, bins=bins, histtype="step", lw=1.5, label=label)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ref_counts > 0, counts / ref_counts, np.nan)
        bottom.step(centres, ratio, where="mid", color=patches[0].get_edgecolor())
    bottom.axhline(1.0, color="black", lw=1)
    bottom.set_ylim(*ratio_range)
    bottom.set_ylabel("ratio")
    bottom.set_xlabel(xlabel)
    top.set_ylabel("events")
    top.legend()
    if logx:
        top.set_xscale("log")
    if logy:
        top.set_yscale("log")
    return fig, (top, bottom)


def plot_loss_curves(history: Mapping[str, Sequence[float]], keys: Sequence[str] = ("loss", "nll", "kl")):
    """One panel per loss term, training and validation curves against the epoch.

    ``history`` maps e.g. ``"train_loss"`` and ``"val_loss"`` to per-epoch values.
    """
    fig, axes = plt.subplots(1, len(keys), figsize=(4.0 * len(keys), 3.5))
    for ax, key in zip(np.atleast_1d(axes), keys):
        for split in ("train", "val"):
            values = history.get(f"{split}_{key}")
            if values is not None:
                ax.plot(np.arange(1, len(values) + 1), values, label=split)
        ax.set_xlabel("epoch")
        ax.set_title({"loss": "total loss", "nll": "negative log-likelihood", "kl": "KL / training size"}.get(key, key))
        ax.legend()
    fig.tight_layout()
    return fig, axes


def plot_pulls(pulls: np.ndarray, bins: np.ndarray | None = None, ax=None):
    """Histogram of pulls with the unit Gaussian they should follow; the legend gives mean and width."""
    if ax is None:
        _, ax = plt.subplots()
    bins = np.linspace(-5, 5, 51) if bins is None else bins
    ax.hist(pulls, bins=bins, density=True, histtype="step", lw=1.5,
            label=f"pulls: mean {np.mean(pulls):.2f}, std {np.std(pulls):.2f}")
    grid = np.linspace(bins[0], bins[-1], 400)
    ax.plot(grid, np.exp(-0.5 * grid**2) / np.sqrt(2 * np.pi), "k--", label="unit Gaussian")
    ax.set_xlabel(r"pull $(\bar{A} - A_{\mathrm{true}}) / \sigma_{\mathrm{tot}}$")
    ax.set_ylabel("density")
    ax.legend()
    return ax


def binned_median(x: np.ndarray, y: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and the median of ``y`` in each bin of ``x`` (NaN for empty bins).

    The median, not the mean: a few events with huge predicted variances in a sparse bin
    would dominate a mean.
    """
    index = np.digitize(x, bins) - 1
    medians = np.array([np.median(y[index == b]) if np.any(index == b) else np.nan for b in range(len(bins) - 1)])
    return 0.5 * (bins[1:] + bins[:-1]), medians


def jet_image_extent() -> list[float]:
    """(eta_min, eta_max, phi_min, phi_max) of the 40x40 jet images, for ``imshow(extent=...)``."""
    from ..physics.jet_images import CROP, ETA_PIXELS, PHI_PIXELS

    half_eta = 0.5 * CROP * (ETA_PIXELS[1] - ETA_PIXELS[0])
    half_phi = 0.5 * CROP * (PHI_PIXELS[1] - PHI_PIXELS[0])
    return [-half_eta, half_eta, -half_phi, half_phi]


def show_jet_image(image: np.ndarray, ax, title: str = "", vmin: float = 1e-2,
                   label: str = r"percent of the jet $p_T$ per pixel"):
    """One 40x40 jet image (rows phi, columns eta) on a log colour scale with a labelled colour bar."""
    from matplotlib.colors import LogNorm

    pixels = np.asarray(image, dtype=float).reshape(40, 40)
    shown = ax.imshow(np.where(pixels > 0, pixels, np.nan), origin="lower", extent=jet_image_extent(),
                      cmap="viridis", norm=LogNorm(vmin=vmin, vmax=max(pixels.max(), vmin * 10)), aspect="auto")
    ax.set_xlabel(r"$\eta'$ (rotated)")
    ax.set_ylabel(r"$\phi'$ (rotated)")
    ax.set_title(title)
    ax.grid(False)
    plt.colorbar(shown, ax=ax, label=label)
    return shown


def plot_rocs(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], ax=None, working_point: float = 0.3):
    """Background rejection 1/eps_B against signal efficiency eps_S for each ``name: (labels, scores)``,
    the legend giving the AUC and 1/eps_B at the working point."""
    from .classification import auc, background_rejection, roc_curve

    if ax is None:
        _, ax = plt.subplots()
    for name, (labels, scores) in curves.items():
        signal_eff, background_eff = roc_curve(labels, scores)
        keep = background_eff > 0
        ax.plot(signal_eff[keep], 1.0 / background_eff[keep],
                label=f"{name}: AUC {auc(labels, scores):.3f}, "
                      rf"$1/\epsilon_B$({working_point:.0%}) = {background_rejection(labels, scores, working_point):.0f}")
    ax.axvline(working_point, color="grey", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel(r"signal efficiency $\epsilon_S$ (top jets kept)")
    ax.set_ylabel(r"background rejection $1/\epsilon_B$")
    ax.legend(fontsize=9)
    return ax


def plot_reliability(labels: np.ndarray | Mapping[str, np.ndarray], probabilities: Mapping[str, np.ndarray], ax=None,
                     bins: int = 10, xlabel: str = "predicted top probability",
                     ylabel: str = "observed fraction of top jets"):
    """Reliability diagram: observed fraction of positives against the predicted probability, per model.

    ``labels`` holds the 0/1 outcomes, one array for all models or one per model (e.g. whether each
    model's top class was right, for a multi-class confidence diagram); the legend gives each ECE.
    """
    from .classification import calibration_curve, expected_calibration_error

    if ax is None:
        _, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfectly calibrated")
    for name, values in probabilities.items():
        outcomes = labels[name] if isinstance(labels, Mapping) else labels
        centres, fraction, error, counts = calibration_curve(outcomes, values, bins)
        filled = counts > 0
        ax.errorbar(centres[filled], fraction[filled], yerr=error[filled], marker="o", ms=4, capsize=2,
                    label=f"{name} (ECE {expected_calibration_error(outcomes, values, bins):.3f})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=9)
    return ax
