"""Four-vector helpers and RAMBO phase space."""
import numpy as np
import pytest

from course_utils.physics import lorentz, phasespace


def test_pt_eta_phi_hand_values():
    p = np.array([[5.0, 3.0, 4.0, 0.0], [np.sqrt(2.0), 1.0, 0.0, 1.0], [1.0, 0.0, -1.0, 0.0]])
    np.testing.assert_allclose(lorentz.pt(p), [5.0, 1.0, 1.0])
    np.testing.assert_allclose(lorentz.eta(p), [0.0, np.arcsinh(1.0), 0.0])
    np.testing.assert_allclose(lorentz.phi(p), [np.arctan2(4, 3), 0.0, -np.pi / 2])
    assert lorentz.eta(np.zeros(4)) == 0.0


def test_delta_phi_wraps_into_minus_pi_exclusive_to_pi_inclusive():
    np.testing.assert_allclose(lorentz.delta_phi(np.array([3.0]), np.array([-3.0])), [6.0 - 2 * np.pi])
    np.testing.assert_allclose(lorentz.delta_phi(np.array([-3.0]), np.array([3.0])), [2 * np.pi - 6.0])
    # across the seam, and differences beyond pi/2 (a wrap modulo pi would fold these)
    np.testing.assert_allclose(lorentz.delta_phi(np.array([np.pi - 0.1, 2.0, -2.5]), np.array([-np.pi + 0.1, -2.0, 0.0])),
                               [-0.2, 4.0 - 2 * np.pi, -2.5])
    values = lorentz.delta_phi(np.linspace(-10, 10, 1001), 0.0)
    assert np.all((values > -np.pi) & (values <= np.pi))
    # the ends: a difference of exactly -pi (or 3 pi) is +pi, +pi stays
    np.testing.assert_array_equal(lorentz.delta_phi(np.array([0.0, np.pi, 0.0]), np.array([np.pi, 0.0, -np.pi])),
                                  [np.pi, np.pi, np.pi])
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-np.pi, np.pi, 1000), rng.uniform(-np.pi, np.pi, 1000)
    np.testing.assert_allclose(np.cos(lorentz.delta_phi(a, b)), np.cos(a - b), atol=1e-12)
    np.testing.assert_allclose(np.sin(lorentz.delta_phi(a, b)), np.sin(a - b), atol=1e-12)


def test_boost_preserves_invariants_and_composes():
    rng = np.random.default_rng(0)
    p = rng.normal(size=(50, 4)) * 10
    p[:, 0] = np.abs(p[:, 0]) + 40
    beta = rng.uniform(-0.5, 0.5, size=(50, 3))
    boosted = lorentz.boost(p, beta)
    np.testing.assert_allclose(lorentz.mass_squared(boosted), lorentz.mass_squared(p), rtol=1e-9, atol=1e-8)
    np.testing.assert_allclose(lorentz.boost(boosted, -beta)[:, 0], p[:, 0], rtol=1e-9)
    # a particle at rest moves with velocity beta after the boost
    rest = lorentz.boost(np.array([1.0, 0, 0, 0]), np.array([0.0, 0.0, 0.6]))
    np.testing.assert_allclose(rest, [1.25, 0, 0, 0.75])


def test_boost_z_matches_general_boost():
    rng = np.random.default_rng(1)
    p = np.abs(rng.normal(size=(20, 4))) + 1
    y = rng.uniform(-2, 2, size=20)
    np.testing.assert_allclose(lorentz.boost_z(p, y), lorentz.boost(p, np.stack([0 * y, 0 * y, np.tanh(y)], -1)))


@pytest.mark.parametrize("n_particles", [2, 3, 5])
def test_rambo_momenta_are_massless_and_balanced(n_particles):
    rng = np.random.default_rng(2)
    sqrt_s = rng.uniform(50, 500, size=1000)
    momenta = phasespace.rambo(sqrt_s, n_particles, rng)
    assert momenta.shape == (1000, n_particles, 4)
    total = momenta.sum(axis=1)
    np.testing.assert_allclose(total[:, 0], sqrt_s, rtol=1e-9)
    np.testing.assert_allclose(total[:, 1:] / sqrt_s[:, None], 0.0, atol=1e-9)
    np.testing.assert_allclose(lorentz.mass_squared(momenta) / sqrt_s[:, None] ** 2, 0.0, atol=1e-9)
    assert np.all(momenta[..., 0] > 0)


def test_rambo_is_isotropic():
    rng = np.random.default_rng(3)
    momenta = phasespace.rambo(np.full(20000, 100.0), 3, rng)
    cos_theta = momenta[..., 3] / momenta[..., 0]
    assert abs(cos_theta.mean()) < 0.01
    assert abs(np.mean(cos_theta**2) - 1 / 3) < 0.01  # flat in cos(theta)
