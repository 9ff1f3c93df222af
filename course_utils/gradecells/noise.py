"""Sampled noise: one independent draw per weight (and per bias), of the weights' dtype and device."""
from __future__ import annotations

import math

import torch


def largest_correlation(draws: torch.Tensor) -> float:
    """The largest |correlation| between two different entries over ``draws`` of shape (n_draws, ...)."""
    flat = draws.detach().to(torch.float64).reshape(len(draws), -1)
    flat = flat - flat.mean(dim=0)
    scale = flat.norm(dim=0)
    if torch.any(scale == 0):
        return 1.0  # an entry that never changes is not independent noise
    corr = (flat / scale).T @ (flat / scale)
    corr.fill_diagonal_(0.0)
    return float(corr.abs().max()) if corr.numel() > 1 else 0.0


def assert_independent(draws: torch.Tensor, what: str, threshold: float | None = None) -> None:
    """Fail if two entries of ``what`` move together over the draws (shared noise), or one never moves.

    ``draws`` has shape (n_draws, ...) with n_draws >= 200; independent entries have correlations of
    order 1/sqrt(n_draws), the default threshold is 7/sqrt(n_draws).
    """
    n = len(draws)
    assert n >= 200, "draw at least 200 samples"
    limit = threshold if threshold is not None else 7.0 / math.sqrt(n)
    assert largest_correlation(draws) < limit, \
        f"the entries of {what} are not sampled independently: each needs noise of its own (e.g. torch.randn_like)"


def assert_follows(value: torch.Tensor, like: torch.Tensor, what: str) -> None:
    """Fail unless ``value`` has the dtype and device of ``like``."""
    assert value.dtype == like.dtype, f"{what} is {value.dtype} but the parameters are {like.dtype}"
    assert value.device == like.device, f"{what} is on {value.device} but the parameters are on {like.device}"
