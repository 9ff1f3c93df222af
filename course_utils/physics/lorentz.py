"""Four-vector kinematics on arrays whose last axis is (E, px, py, pz)."""
from __future__ import annotations

import numpy as np

METRIC = np.array([1.0, -1.0, -1.0, -1.0])


def mdot(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Minkowski product p.q = E_p E_q - p_vec . q_vec, over the last axis."""
    return np.sum(METRIC * p * q, axis=-1)


def mass_squared(p: np.ndarray) -> np.ndarray:
    """Invariant mass squared p.p."""
    return mdot(p, p)


def pt(p: np.ndarray) -> np.ndarray:
    """Transverse momentum sqrt(px^2 + py^2)."""
    return np.hypot(p[..., 1], p[..., 2])


def eta(p: np.ndarray) -> np.ndarray:
    """Pseudorapidity asinh(pz / pT); +-inf along the beam, 0 for zero vectors."""
    transverse = pt(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.arcsinh(p[..., 3] / transverse)
    return np.where((transverse == 0) & (p[..., 3] == 0), 0.0, value)


def phi(p: np.ndarray) -> np.ndarray:
    """Azimuthal angle arctan2(py, px) in (-pi, pi]."""
    return np.arctan2(p[..., 2], p[..., 1])


def delta_phi(phi_a: np.ndarray, phi_b: np.ndarray) -> np.ndarray:
    """phi_a - phi_b wrapped into (-pi, pi], the range of ``phi`` (a difference of -pi becomes +pi)."""
    return np.pi - (np.pi - (np.asarray(phi_a) - np.asarray(phi_b))) % (2 * np.pi)


def delta_r(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Angular distance sqrt(d_eta^2 + d_phi^2) between two sets of four-vectors."""
    return np.hypot(eta(p) - eta(q), delta_phi(phi(p), phi(q)))


def boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors ``p`` (..., 4) by velocity ``beta`` (..., 3), |beta| < 1.

    A particle at rest ends up moving with velocity ``beta``.
    """
    beta = np.asarray(beta, dtype=float)
    b2 = np.sum(beta**2, axis=-1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[..., 1:], axis=-1, keepdims=True)
    # (gamma - 1) / b2, written so that beta = 0 is exact
    coeff = np.divide(gamma - 1.0, b2, out=np.zeros_like(b2), where=b2 > 0)
    energy = gamma * (p[..., :1] + bp)
    momentum = p[..., 1:] + coeff * bp * beta + gamma * p[..., :1] * beta
    return np.concatenate([energy, momentum], axis=-1)


def boost_z(p: np.ndarray, rapidity: np.ndarray) -> np.ndarray:
    """Boost along the beam axis by ``rapidity`` (broadcast over the leading axes of p)."""
    y = np.asarray(rapidity, dtype=float)[..., None]
    cosh, sinh = np.cosh(y), np.sinh(y)
    energy = cosh * p[..., 0:1] + sinh * p[..., 3:4]
    pz = sinh * p[..., 0:1] + cosh * p[..., 3:4]
    return np.concatenate([energy, p[..., 1:3], pz], axis=-1)
