"""An independent evaluation of f fbar -> gamma gamma gamma (unit couplings) for the tests.

The six Feynman diagrams are built from explicit 4x4 Dirac matrices (Dirac representation);
spins are summed with the completeness relations sum u ubar = p1-slash, sum v vbar = p2-slash
(massless), polarisations with sum eps_mu eps*_nu -> -g_mu nu (gauge invariance). Nothing
here is shared with course_utils.physics.amplitudes.
"""
from __future__ import annotations

import itertools

import numpy as np

METRIC = np.diag([1.0, -1.0, -1.0, -1.0])
_PAULI = [
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.array([[1, 0], [0, -1]], dtype=complex),
]
_I2, _Z2 = np.eye(2, dtype=complex), np.zeros((2, 2), dtype=complex)
GAMMA = np.array(
    [np.block([[_I2, _Z2], [_Z2, -_I2]])] + [np.block([[_Z2, s], [-s, _Z2]]) for s in _PAULI]
)  # gamma^mu, upper index


def slash(p: np.ndarray) -> np.ndarray:
    """gamma^mu p_mu."""
    return np.einsum("m,mij->ij", METRIC @ p, GAMMA)


def minkowski(p: np.ndarray, q: np.ndarray) -> float:
    return float(p @ METRIC @ q)


def fermion_line(p1: np.ndarray, photons: np.ndarray) -> np.ndarray:
    """Gamma^{mu nu rho} (4x4 in spinor space) summed over the six photon orderings,
    so that M = e^3 vbar(p2) Gamma^{mu nu rho} u(p1) eps*_mu(k1) eps*_nu(k2) eps*_rho(k3)."""
    total = np.zeros((4, 4, 4, 4, 4), dtype=complex)
    for first, second, third in itertools.permutations(range(3)):
        q1 = p1 - photons[first]
        q2 = q1 - photons[second]
        propagator1 = slash(q1) / minkowski(q1, q1)
        propagator2 = slash(q2) / minkowski(q2, q2)
        # vbar ... gamma^{third} S(q2) gamma^{second} S(q1) gamma^{first} ... u
        chain = np.einsum("aij,jk,bkl,lm,cmn->abcin", GAMMA, propagator2, GAMMA, propagator1, GAMMA)
        # axes (a, b, c) belong to photons (third, second, first): reorder to (photon 0, 1, 2)
        axis_of_photon = {third: 0, second: 1, first: 2}
        total += np.transpose(chain, [axis_of_photon[0], axis_of_photon[1], axis_of_photon[2], 3, 4])
    return total


def summed_squared_amplitude(p1: np.ndarray, p2: np.ndarray, photons: np.ndarray) -> float:
    """sum over spins and polarisations of |M|^2 with e = 1."""
    gamma_line = fermion_line(p1, photons)
    conjugate_line = np.einsum("ij,abckj,kl->abcil", GAMMA[0], gamma_line.conj(), GAMMA[0])
    traces = np.einsum("ij,abcjk,kl,abcli->abc", slash(p2), gamma_line, slash(p1), conjugate_line)
    polarisation_sum = -np.diag(METRIC)
    weights = np.einsum("a,b,c->abc", polarisation_sum, polarisation_sum, polarisation_sum)
    value = np.sum(weights * traces)
    assert abs(value.imag) <= 1e-9 * abs(value.real), "a squared amplitude must be real"
    return float(value.real)
