"""Jet images: constituents (N, M, 4) -> pT-weighted 40x40 images, vectorised over jets.

The recipe (as in the course's jet-image tutorial): keep the leading ``n_constit``
constituents; compute eta and phi (phi measured relative to the leading constituent,
wrapped into [-pi, pi]); centre on the pT-weighted centroid; rotate the principal axis of
the pT-weighted covariance to the vertical; flip so that most pT sits at negative eta and
positive phi; put each constituent's pT into the nearest pixel of a fine (eta, phi) grid;
crop 40x40 pixels around the centre; normalise each image to unit sum.

Differences from the draft it replaces: constituents in the same pixel are summed (the draft
overwrote them), zero padding never enters an image, the principal axis comes from the
closed-form eigenvector of the 2x2 covariance (sign fixed), and there is no loop over jets.
"""
from __future__ import annotations

import numpy as np

from . import lorentz

ETA_PIXELS = np.arange(-2.6, 2.6, 0.029)    # pixel centres in eta (180)
PHI_PIXELS = np.arange(-np.pi, np.pi, 0.035)  # pixel centres in phi (180)
CROP = 40


def _nearest_pixel(values: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest pixel centre (the lower one on ties), like argmin |value - centre|.

    The centres are evenly spaced: a first guess by division, then the two neighbouring
    centres are compared exactly, so rounding in the grid cannot move a value to another pixel.
    """
    step = centres[1] - centres[0]
    lower = np.floor((values - centres[0]) / step).astype(np.intp)
    np.clip(lower, 0, len(centres) - 2, out=lower)
    lower -= values < centres[lower]          # the guess can be one too high ...
    np.clip(lower, 0, len(centres) - 2, out=lower)
    lower += values >= centres[lower + 1]     # ... or one too low
    np.clip(lower, 0, len(centres) - 2, out=lower)
    take_upper = np.abs(values - centres[lower + 1]) < np.abs(values - centres[lower])
    return lower + take_upper


def principal_angle(u20: np.ndarray, u02: np.ndarray, u11: np.ndarray) -> np.ndarray:
    """Rotation angle that turns the major axis of [[u20, u11], [u11, u02]] to the vertical.

    The major eigenvector e = (cos a, sin a), a = atan2(2 u11, u20 - u02) / 2, with its sign
    fixed so that e_y > 0 (e_x > 0 if e_y = 0); the angle is atan2(e_x, e_y). Isotropic
    covariances (no preferred axis, e.g. one constituent) give 0.
    """
    half_angle = 0.5 * np.arctan2(2.0 * u11, u20 - u02)
    ex, ey = np.cos(half_angle), np.sin(half_angle)
    flip = (ey < 0) | ((ey == 0) & (ex < 0))
    ex, ey = np.where(flip, -ex, ex), np.where(flip, -ey, ey)
    isotropic = (u11 == 0) & (u20 == u02)
    return np.where(isotropic, 0.0, np.arctan2(ex, ey))


def standardise(eta: np.ndarray, phi: np.ndarray, weight: np.ndarray, rotate: bool = True, flip: bool = True):
    """Centre, rotate and flip (eta, phi) point clouds of shape (N, M) with weights (N, M)."""
    total = weight.sum(axis=1, keepdims=True)
    safe_total = np.where(total > 0, total, 1.0)
    x = eta - (weight * eta).sum(axis=1, keepdims=True) / safe_total
    y = phi - (weight * phi).sum(axis=1, keepdims=True) / safe_total
    if rotate:
        u11 = (weight * x * y).sum(axis=1) / safe_total[:, 0]
        u20 = (weight * x * x).sum(axis=1) / safe_total[:, 0]
        u02 = (weight * y * y).sum(axis=1) / safe_total[:, 0]
        theta = principal_angle(u20, u02, u11)[:, None]
        cos, sin = np.cos(theta), np.sin(theta)
        x, y = cos * x - sin * y, sin * x + cos * y
    if flip:
        right, left = (weight * (x > 0)).sum(axis=1), (weight * (x < 0)).sum(axis=1)
        x = np.where((left < right)[:, None], -x, x)
        up, down = (weight * (y > 0)).sum(axis=1), (weight * (y < 0)).sum(axis=1)
        y = np.where((down > up)[:, None], -y, y)
    return x, y


def constit_to_img(jets: np.ndarray, n_constit: int = 50, norm: bool = True, rotate: bool = True,
                   flip: bool = True) -> np.ndarray:
    """Jet images of shape (N, 40 * 40), rows = phi, columns = eta, from constituents (N, M, 4)."""
    jets = np.asarray(jets, dtype=float)
    if jets.ndim != 3 or jets.shape[-1] != 4:
        raise ValueError(f"expected constituents of shape (N, M, 4), got {jets.shape}")
    jets = jets[:, :n_constit]
    n_jets, n_slots = jets.shape[:2]
    real = jets[..., 0] > 0
    px, py, pz = jets[..., 1], jets[..., 2], jets[..., 3]
    pt = np.sqrt(px * px + py * py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(real, np.arcsinh(pz / pt), 0.0)
    azimuth = np.arctan2(py, px)
    phi = np.where(real, lorentz.delta_phi(azimuth, azimuth[:, :1]), 0.0)
    pt = np.where(real, pt, 0.0)
    x, y = standardise(eta, phi, pt, rotate=rotate, flip=flip)

    in_grid = real & (x >= ETA_PIXELS[0]) & (x <= ETA_PIXELS[-1]) & (y >= PHI_PIXELS[0]) & (y <= PHI_PIXELS[-1])
    slots = np.flatnonzero(in_grid)  # positions in the flattened (jet, constituent) array
    column = _nearest_pixel(x.ravel()[slots], ETA_PIXELS) - (len(ETA_PIXELS) // 2 - CROP // 2)
    row = _nearest_pixel(y.ravel()[slots], PHI_PIXELS) - (len(PHI_PIXELS) // 2 - CROP // 2)
    inside = (column >= 0) & (column < CROP) & (row >= 0) & (row < CROP)
    slots, column, row = slots[inside], column[inside], row[inside]
    pixel = ((slots // n_slots) * CROP + row) * CROP + column
    images = np.bincount(pixel, weights=pt.ravel()[slots], minlength=n_jets * CROP * CROP).reshape(n_jets, CROP * CROP)
    if norm:
        sums = images.sum(axis=1, keepdims=True)
        np.divide(images, sums, out=images, where=sums > 0)
    return images
