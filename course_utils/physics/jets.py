"""Vectorised jet kinematics for constituent arrays of shape (N, M, 4) = (E, px, py, pz),
zero-padded after the last constituent (the layout of the top-tagging datasets)."""
from __future__ import annotations

import numpy as np

from . import lorentz


def padding_mask(constituents: np.ndarray) -> np.ndarray:
    """True for real constituents, False for zero padding; shape (N, M)."""
    return constituents[..., 0] > 0


def multiplicity(constituents: np.ndarray) -> np.ndarray:
    """Number of real constituents per jet."""
    return padding_mask(constituents).sum(axis=-1)


def constituent_pt(constituents: np.ndarray) -> np.ndarray:
    return lorentz.pt(constituents)


def constituent_eta(constituents: np.ndarray) -> np.ndarray:
    """Pseudorapidity of each constituent; 0 for padding."""
    return np.where(padding_mask(constituents), lorentz.eta(constituents), 0.0)


def constituent_phi(constituents: np.ndarray) -> np.ndarray:
    """Azimuth of each constituent in (-pi, pi]; 0 for padding."""
    return np.where(padding_mask(constituents), lorentz.phi(constituents), 0.0)


def jet_four_momentum(constituents: np.ndarray) -> np.ndarray:
    """Sum of the constituents' four-momenta; shape (N, 4)."""
    return constituents.sum(axis=-2)


def jet_pt(constituents: np.ndarray) -> np.ndarray:
    return lorentz.pt(jet_four_momentum(constituents))


def jet_eta(constituents: np.ndarray) -> np.ndarray:
    return lorentz.eta(jet_four_momentum(constituents))


def jet_phi(constituents: np.ndarray) -> np.ndarray:
    return lorentz.phi(jet_four_momentum(constituents))


def jet_mass(constituents: np.ndarray) -> np.ndarray:
    """Invariant mass of the jet (negative m^2 from rounding is clipped to 0)."""
    return np.sqrt(np.maximum(lorentz.mass_squared(jet_four_momentum(constituents)), 0.0))
