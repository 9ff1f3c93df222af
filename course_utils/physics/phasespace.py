"""RAMBO: flat massless n-body phase space (Kleiss, Stirling, Ellis 1986), vectorised over events."""
from __future__ import annotations

import numpy as np

from .lorentz import mdot


def rambo(sqrt_s: np.ndarray, n_particles: int, rng: np.random.Generator) -> np.ndarray:
    """Massless momenta in the centre-of-mass frame, uniformly distributed in phase space.

    ``sqrt_s`` has shape (N,); returns (N, n_particles, 4) with total momentum (sqrt_s, 0, 0, 0).
    """
    sqrt_s = np.asarray(sqrt_s, dtype=float)
    n_events = sqrt_s.shape[0]
    # isotropic massless momenta with energies from E * exp(-E): the RAMBO seed momenta
    cos_theta = 2.0 * rng.random((n_events, n_particles)) - 1.0
    azimuth = 2.0 * np.pi * rng.random((n_events, n_particles))
    energy = -np.log(rng.random((n_events, n_particles)) * rng.random((n_events, n_particles)))
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    q = np.stack(
        [energy, energy * sin_theta * np.cos(azimuth), energy * sin_theta * np.sin(azimuth), energy * cos_theta],
        axis=-1,
    )
    total = q.sum(axis=1)  # (N, 4)
    total_mass = np.sqrt(mdot(total, total))
    b = -total[:, 1:] / total_mass[:, None]
    gamma = total[:, 0] / total_mass
    a = 1.0 / (1.0 + gamma)
    x = sqrt_s / total_mass
    bq = np.einsum("ni,nki->nk", b, q[..., 1:])
    energy_out = x[:, None] * (gamma[:, None] * q[..., 0] + bq)
    momentum_out = x[:, None, None] * (q[..., 1:] + b[:, None, :] * q[..., :1] + (a[:, None] * bq)[..., None] * b[:, None, :])
    return np.concatenate([energy_out[..., None], momentum_out], axis=-1)
