"""The detector response of the offline jets (``course_utils.physics.detector``): the card's numbers, and what
tracks, towers and the E-flow subtraction make of particles placed by hand."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.physics import detector, lorentz


def _massless(energy: float, eta: float, phi: float) -> list[float]:
    pt = energy / np.cosh(eta)
    return [energy, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)]


def _pion(pt: float, eta: float, phi: float) -> list[float]:
    p = [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)]
    return [float(np.sqrt(np.dot(p, p) + 0.13957**2)), *p]


def _eflow(rows, events: int = 1, seed: int = 0):
    """E-flow objects of ``events`` copies of the particles ``rows`` = [(pid, charge, (E, px, py, pz))]."""
    pid = np.tile([r[0] for r in rows], events)
    charge = np.tile([float(r[1]) for r in rows], events)
    momenta = np.tile(np.array([r[2] for r in rows], dtype=float), (events, 1))
    event = np.repeat(np.arange(events), len(rows))
    return detector.eflow_objects(event, pid, charge, momenta, np.random.default_rng(seed))


def test_the_cards_tracking_numbers():
    pt, eta = np.array([0.05, 0.5, 5.0, 0.5, 5.0, 5.0]), np.array([0.0, 1.0, 1.0, 2.0, 2.0, 2.7])
    np.testing.assert_allclose(detector.tracking_efficiency(pt, eta), [0.0, 0.70, 0.95, 0.60, 0.85, 0.0])
    np.testing.assert_allclose(detector.track_resolution(np.array([100.0, 100.0, 100.0]), np.array([0.2, 1.0, 2.0])),
                               [np.hypot(0.06, 0.13), np.hypot(0.10, 0.17), np.hypot(0.25, 0.31)])


def test_log_normal_draws_have_the_asked_mean_and_spread():
    draws = detector.log_normal(np.random.default_rng(1), np.full(200_000, 50.0), np.full(200_000, 5.0))
    assert np.all(draws > 0) and abs(draws.mean() - 50.0) < 0.05 and abs(draws.std() - 5.0) < 0.05
    assert np.all(detector.log_normal(np.random.default_rng(1), np.zeros(3), np.ones(3)) == 0)


def test_a_photon_is_one_neutral_object_in_its_ecal_tower_with_the_ecal_resolution():
    event, momenta = _eflow([(22, 0, _massless(50.0, 0.3, 1.0))], events=4000)
    assert len(event) == 4000 and np.array_equal(event, np.arange(4000))  # one object per event
    sigma = np.sqrt((0.0017 * 50) ** 2 + 0.101**2 * 50)
    assert abs(momenta[:, 0].std() / sigma - 1) < 0.05 and abs(momenta[:, 0].mean() - 50) < 0.05
    assert np.allclose(lorentz.mass_squared(momenta), 0.0, atol=1e-6)
    assert np.all(np.abs(lorentz.eta(momenta) - 0.3) < 0.0174) and np.all(np.abs(lorentz.phi(momenta) - 1.0) < np.pi / 180)


def test_photons_in_one_tower_merge_and_in_two_towers_stay_two():
    same = _eflow([(22, 0, _massless(20.0, 0.300, 1.000)), (22, 0, _massless(10.0, 0.301, 1.001))], events=200)
    assert len(same[0]) == 200 and abs(same[1][:, 0].mean() - 30.0) < 0.2
    apart = _eflow([(22, 0, _massless(20.0, 0.30, 1.0)), (22, 0, _massless(10.0, 0.40, 1.2))], events=200)
    assert len(apart[0]) == 400


def test_a_charged_pion_is_a_smeared_track_and_its_deposit_is_subtracted():
    """A 20 GeV pion at |eta| < 1.5: a track in 95 % of the events, with the card's resolution; its HCAL tower
    gives a neutral object only when the track was lost (then about the pion's energy) or rarely by fluctuation."""
    n = 4000
    event, momenta = _eflow([(211, 1, _pion(20.0, 0.2, 0.5))], events=n)
    massive = lorentz.mass_squared(momenta) > 1e-3
    tracks, neutral = momenta[massive], momenta[~massive]
    efficiency = len(tracks) / n
    assert abs(efficiency - 0.95) < 4 * np.sqrt(0.95 * 0.05 / n)
    relative = lorentz.pt(tracks) / 20.0
    assert abs(relative.std() / np.hypot(0.06, 20 * 1.3e-3) - 1) < 0.06
    tracked_events = set(event[massive].tolist())
    lost = np.array([e not in tracked_events for e in event[~massive]])
    assert lost.sum() == n - len(tracks), "every event whose track was lost has the pion's energy as a neutral object"
    assert abs(neutral[lost, 0].mean() / 20.0 - 1) < 0.1
    assert (~lost).sum() < 0.05 * len(tracks), "with the track found, its energy is taken out of the tower"


def test_what_never_reaches_the_calorimeters():
    event, momenta = _eflow([(12, 0, _massless(50.0, 0.0, 0.0)), (13, -1, _pion(30.0, 0.5, 0.0)),
                             (211, 1, _pion(0.2, 0.0, 2.0))], events=500)
    massive = lorentz.mass_squared(momenta) > 1e-3
    assert np.all(massive), "no neutral object: neutrinos, muons and curling pions leave nothing in the towers"
    assert len(event) <= 2 * 500 and len(event) > 0.8 * 500


def test_the_response_is_deterministic_by_seed():
    rows = [(22, 0, _massless(5.0, 0.1, 0.1)), (211, 1, _pion(3.0, 0.2, 0.2)), (2112, 0, _massless(8.0, -0.4, 2.0))]
    first, again, other = _eflow(rows, 50, seed=3), _eflow(rows, 50, seed=3), _eflow(rows, 50, seed=4)
    assert np.array_equal(first[1], again[1]) and not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("eta", [-4.0, -2.7, -1.6, 0.0, 1.49, 2.2, 3.0])
def test_towers_cover_every_direction_of_the_calorimeters(eta):
    for calorimeter in (detector.ECAL, detector.HCAL):
        phi = np.linspace(-np.pi, np.pi, 50)
        eta_bin, phi_bin = calorimeter.towers(np.full(50, eta), phi)
        low, high = calorimeter.eta_edges[eta_bin], calorimeter.eta_edges[eta_bin + 1]
        assert np.all((low <= eta) & (eta < high)) and np.all(phi_bin >= 0)
