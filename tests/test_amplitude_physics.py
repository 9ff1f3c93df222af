"""The offline stand-in for dataset 1: the closed-form |M|^2 and the generated events."""
import numpy as np
import pytest

from course_utils.datasets import amplitude_regression
from course_utils.physics import amplitudes, lorentz, phasespace
from feynman_reference import summed_squared_amplitude


def random_points(n, seed):
    """Random massless 2 -> 3 points with a longitudinal boost, as (p1, p2, photons)."""
    rng = np.random.default_rng(seed)
    sqrt_s = rng.uniform(50.0, 2000.0, size=n)
    finals = phasespace.rambo(sqrt_s, 3, rng)
    y = rng.uniform(-2, 2, size=n)
    finals = lorentz.boost_z(finals, y[:, None])
    half = 0.5 * sqrt_s[:, None]
    p1 = half * np.exp(y)[:, None] * np.array([1.0, 0, 0, 1.0])
    p2 = half * np.exp(-y)[:, None] * np.array([1.0, 0, 0, -1.0])
    return p1, p2, finals


def test_closed_form_matches_six_feynman_diagrams():
    p1, p2, photons = random_points(25, seed=11)
    closed = amplitudes.three_boson_kinematic_factor(p1, p2, photons)
    for i in range(25):
        numeric = summed_squared_amplitude(p1[i], p2[i], photons[i])
        assert closed[i] == pytest.approx(numeric, rel=1e-10), f"point {i}"


def test_feynman_reference_is_not_trivially_symmetric():
    """Guard for the test above: the reference is not a constant, it depends on the kinematic point."""
    p1, p2, photons = random_points(2, seed=12)
    a = summed_squared_amplitude(p1[0], p2[0], photons[0])
    b = summed_squared_amplitude(p1[1], p2[1], photons[1])
    assert a != pytest.approx(b, rel=1e-3)


def test_photon_exchange_symmetry_and_lorentz_invariance():
    momenta, amp = amplitude_regression.generate_events(2000, seed=5)
    swapped = momenta[:, [0, 1, 3, 2, 4]]
    np.testing.assert_allclose(amplitudes.qqbar_to_photons_gluon(swapped), amp, rtol=1e-12)
    rng = np.random.default_rng(6)
    beta = rng.normal(size=(2000, 3))
    beta *= rng.uniform(0, 0.9, size=(2000, 1)) / np.linalg.norm(beta, axis=1, keepdims=True)
    boosted = lorentz.boost(momenta, beta[:, None, :])
    np.testing.assert_allclose(amplitudes.qqbar_to_photons_gluon(boosted), amp, rtol=1e-8)


def test_couplings_and_averaging():
    """|M|^2 = (1/36) * 4 * e_q^4 e^4 g_s^2 * (unit-coupling result)."""
    p1, p2, photons = random_points(3, seed=13)
    momenta = np.concatenate([p1[:, None], p2[:, None], photons], axis=1)
    e2, gs2 = 4 * np.pi / 137.035999, 4 * np.pi * 0.118
    expected = 4 / 36 * (2 / 3) ** 4 * e2**2 * gs2 * amplitudes.three_boson_kinematic_factor(p1, p2, photons)
    np.testing.assert_allclose(amplitudes.qqbar_to_photons_gluon(momenta), expected, rtol=1e-12)
    down = amplitudes.qqbar_to_photons_gluon(momenta, quark_charge=-1 / 3)
    np.testing.assert_allclose(down * 16, amplitudes.qqbar_to_photons_gluon(momenta), rtol=1e-12)


@pytest.fixture(scope="module")
def events():
    return amplitude_regression.generate_events(5000, seed=7)


def test_generated_events_conserve_momentum_and_have_no_incoming_pt(events):
    momenta, _ = events
    scale = momenta[:, :2, 0].sum(axis=1)
    imbalance = momenta[:, 0] + momenta[:, 1] - momenta[:, 2:].sum(axis=1)
    assert np.max(np.abs(imbalance) / scale[:, None]) < 1e-12
    np.testing.assert_array_equal(momenta[:, :2, 1:3], 0.0)
    assert np.std(momenta[:, :2, 3].sum(axis=1)) > 10.0, "the partonic system must be boosted along z"
    np.testing.assert_allclose(lorentz.mass_squared(momenta) / scale[:, None] ** 2, 0.0, atol=1e-12)


def test_generated_events_pass_cuts_and_are_ordered(events):
    momenta, amp = events
    setup = amplitude_regression.ColliderSetup()
    final = momenta[:, 2:]
    assert np.all(lorentz.pt(final) > setup.pt_min)
    assert np.all(np.abs(lorentz.eta(final)) < setup.eta_max)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        assert np.all(lorentz.delta_r(final[:, i], final[:, j]) > setup.delta_r_min)
    assert np.all(lorentz.pt(momenta[:, 2]) >= lorentz.pt(momenta[:, 3])), "leading photon first"
    assert np.all(amp > 0) and np.all(np.isfinite(amp))
    np.testing.assert_allclose(amp, amplitudes.qqbar_to_photons_gluon(momenta))


def test_partonic_spectrum_falls(events):
    momenta, _ = events
    sqrt_shat = np.sqrt(lorentz.mass_squared(momenta[:, 0] + momenta[:, 1]))
    counts, _ = np.histogram(sqrt_shat, bins=[100, 200, 400, 800])
    assert counts[0] > counts[1] > counts[2] > 0


def test_generation_is_deterministic_by_seed():
    a, amp_a = amplitude_regression.generate_events(500, seed=3)
    b, amp_b = amplitude_regression.generate_events(500, seed=3)
    c, _ = amplitude_regression.generate_events(500, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(amp_a, amp_b)
    assert not np.array_equal(a, c)
