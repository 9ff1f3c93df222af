"""The jet-image recipe as the course draft wrote it: preprocessing one jet at a time
(``np.linalg.eig``, a rotation-matrix product), a full 180x180 image for every jet, a per-jet crop
and normalisation. Only its bugs are fixed: pixel contents are summed (the draft overwrote
them), padding is skipped, and the eigenvector sign is fixed.

It is the reference the vectorised ``course_utils.physics.jet_images.constit_to_img`` must reproduce,
and the baseline of ``benchmarks/jet_images.py``.
"""
from __future__ import annotations

import math

import numpy as np

ETA_PIXELS = np.arange(-2.6, 2.6, 0.029)
PHI_PIXELS = np.arange(-np.pi, np.pi, 0.035)
CROP = 40


def _preprocess_one_jet(x: np.ndarray, y: np.ndarray, w: np.ndarray, rotate: bool, flip: bool):
    """Centre, rotate (principal axis vertical) and flip one jet's (eta, phi) points."""
    if w.sum() == 0:
        return x, y
    x = x - np.sum(w * x) / np.sum(w)
    y = y - np.sum(w * y) / np.sum(w)
    if rotate:
        u11, u20, u02 = np.sum(w * x * y) / np.sum(w), np.sum(w * x * x) / np.sum(w), np.sum(w * y * y) / np.sum(w)
        if u11 == 0 and u20 == u02:
            theta = 0.0
        else:
            values, vectors = np.linalg.eig(np.array([[u20, u11], [u11, u02]]))
            major = vectors[:, np.argmax(values)]
            if major[1] < 0 or (major[1] == 0 and major[0] < 0):
                major = -major
            theta = math.atan2(major[0], major[1])
        rotation = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
        x, y = rotation @ np.stack([x, y])
    if flip:
        if w[x < 0].sum() < w[x > 0].sum():
            x = -x
        if w[y < 0].sum() > w[y > 0].sum():
            y = -y
    return x, y


def constit_to_img_reference(jets: np.ndarray, n_constit: int = 50, norm: bool = True, rotate: bool = True,
                             flip: bool = True) -> np.ndarray:
    """The draft's algorithm: per-jet preprocessing, full 180x180 images for all jets, per-jet crop."""
    jets = jets[:, :n_constit]
    real = jets[..., 0] > 0
    pt = np.sqrt(jets[..., 1] ** 2 + jets[..., 2] ** 2)
    etas = np.zeros_like(pt)
    etas[real] = np.arcsinh(jets[..., 3][real] / pt[real])
    phis = np.arctan2(jets[..., 2], jets[..., 1])
    phis = phis - phis[:, :1]
    phis[phis < -np.pi] += 2 * np.pi
    phis[phis >= np.pi] -= 2 * np.pi
    weights = np.where(real, pt, 0.0)
    for i in range(len(jets)):
        etas[i], phis[i] = _preprocess_one_jet(etas[i], phis[i], weights[i], rotate, flip)
    # full-grid images: nearest pixel centre by argmin, contents summed (the draft overwrote them)
    images = np.zeros((len(jets), len(PHI_PIXELS), len(ETA_PIXELS)))
    in_grid = real & ~((etas < ETA_PIXELS[0]) | (etas > ETA_PIXELS[-1]) | (phis < PHI_PIXELS[0]) | (phis > PHI_PIXELS[-1]))
    columns = np.argmin(np.abs(etas[:, None, :] - ETA_PIXELS[None, :, None]), axis=1)
    rows = np.argmin(np.abs(phis[:, None, :] - PHI_PIXELS[None, :, None]), axis=1)
    jet_index = np.repeat(np.arange(len(jets))[:, None], jets.shape[1], axis=1)
    np.add.at(images, (jet_index[in_grid], rows[in_grid], columns[in_grid]), weights[in_grid])
    out = np.zeros((len(jets), CROP * CROP))
    r0, c0 = len(PHI_PIXELS) // 2 - CROP // 2, len(ETA_PIXELS) // 2 - CROP // 2
    for i in range(len(jets)):
        crop = images[i, r0:r0 + CROP, c0:c0 + CROP]
        if norm and crop.sum() != 0:
            crop = crop / crop.sum()
        out[i] = crop.reshape(-1)
    return out


def synthetic_jets(n_jets: int, seed: int, max_constituents: int = 200) -> np.ndarray:
    """Jet-like constituent arrays for the tests: a random axis (any phi, |eta| < 2), pT falling
    with rank, angular spread ~0.3, multiplicities from 1 to ``max_constituents``, sorted by pT,
    zero-padded. Jets 0 and 1 have one and two constituents; jet 2 sits at the phi = pi seam."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, max_constituents + 1, size=n_jets)
    counts[:3] = [1, 2, 60]
    axis_eta = rng.uniform(-2, 2, size=(n_jets, 1))
    axis_phi = rng.uniform(-np.pi, np.pi, size=(n_jets, 1))
    axis_phi[2] = np.pi
    pt = -np.sort(-(rng.exponential(20.0, size=(n_jets, max_constituents)) + 0.5), axis=1)  # falling with rank
    eta = axis_eta + rng.normal(0, 0.3, size=pt.shape)
    phi = axis_phi + rng.normal(0, 0.3, size=pt.shape)
    jets = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=-1)
    jets[np.arange(max_constituents)[None, :] >= counts[:, None]] = 0.0  # zero padding after the last one
    return jets
