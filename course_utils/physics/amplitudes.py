"""Tree-level squared matrix element of q qbar -> gamma gamma g, in closed form.

For massless f(p1) fbar(p2) -> gamma(k1) gamma(k2) gamma(k3) the squared amplitude,
summed over all spins and polarisations, is (Berends et al.)

    sum |M|^2 = 4 e^6 s sum_i a_i b_i (a_i^2 + b_i^2) / prod_j (a_j b_j),
    a_i = p1.k_i,  b_i = p2.k_i,  s = (p1 + p2)^2.

Crossing one photon into a gluon replaces e^6 by e_q^4 e^4 g_s^2 and adds the colour sum
sum_a Tr(T^a T^a) = C_F N_c = 4; averaging over the incoming spins (1/4) and colours (1/9)
gives the spin- and colour-averaged |M|^2 in GeV^-2 (momenta in GeV). The tests check this
against an explicit evaluation of the six Feynman diagrams with Dirac matrices.
"""
from __future__ import annotations

import numpy as np

from .lorentz import mdot

ALPHA_EM = 1.0 / 137.035999  # Thomson limit: real photons
ALPHA_S = 0.118              # alpha_s(m_Z)
UP_QUARK_CHARGE = 2.0 / 3.0
COLOUR_SUM = 4.0             # C_F N_c = (4/3) * 3
INITIAL_AVERAGE = 1.0 / (4.0 * 9.0)  # spins x colours of q and qbar


def three_boson_kinematic_factor(p1: np.ndarray, p2: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """sum |M|^2 of f fbar -> gamma gamma gamma with unit couplings (e = 1), summed over spins.

    ``p1``, ``p2`` have shape (..., 4); ``ks`` has shape (..., 3, 4). Symmetric in the
    three outgoing bosons and in p1 <-> p2, Lorentz invariant.
    """
    a = mdot(p1[..., None, :], ks)
    b = mdot(p2[..., None, :], ks)
    total = p1 + p2
    s = mdot(total, total)
    numerator = np.sum(a * b * (a**2 + b**2), axis=-1)
    return 4.0 * s * numerator / np.prod(a * b, axis=-1)


def qqbar_to_photons_gluon(
    momenta: np.ndarray,
    quark_charge: float = UP_QUARK_CHARGE,
    alpha_em: float = ALPHA_EM,
    alpha_s: float = ALPHA_S,
) -> np.ndarray:
    """Spin- and colour-averaged |M|^2 (GeV^-2) for events ``momenta`` of shape (N, 5, 4).

    Particle order as in the course data: q, qbar, photon, photon, gluon.
    """
    momenta = np.asarray(momenta, dtype=float)
    e_squared = 4.0 * np.pi * alpha_em
    gs_squared = 4.0 * np.pi * alpha_s
    couplings = quark_charge**4 * e_squared**2 * gs_squared
    kinematic = three_boson_kinematic_factor(momenta[..., 0, :], momenta[..., 1, :], momenta[..., 2:, :])
    return INITIAL_AVERAGE * COLOUR_SUM * couplings * kinematic
