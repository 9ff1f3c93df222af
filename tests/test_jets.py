"""Jet kinematics and jet images."""
import numpy as np
import pytest

from course_utils.physics import jet_images, jets, lorentz
from jet_image_reference import constit_to_img_reference, synthetic_jets


def test_kinematics_on_a_hand_computed_jet():
    constituents = np.zeros((1, 5, 4))
    constituents[0, 0] = [10.0, 10.0, 0.0, 0.0]
    constituents[0, 1] = [10.0, 0.0, 10.0, 0.0]
    np.testing.assert_array_equal(jets.padding_mask(constituents), [[True, True, False, False, False]])
    assert jets.multiplicity(constituents)[0] == 2
    np.testing.assert_allclose(jets.jet_four_momentum(constituents), [[20.0, 10.0, 10.0, 0.0]])
    np.testing.assert_allclose(jets.jet_mass(constituents), [np.sqrt(200.0)])
    np.testing.assert_allclose(jets.jet_pt(constituents), [np.sqrt(200.0)])
    np.testing.assert_allclose(jets.jet_phi(constituents), [np.pi / 4])
    np.testing.assert_allclose(jets.jet_eta(constituents), [0.0])
    np.testing.assert_allclose(jets.constituent_pt(constituents)[0, :2], [10.0, 10.0])
    np.testing.assert_array_equal(jets.constituent_eta(constituents)[0, 2:], 0.0)


def test_mass_of_a_boosted_massive_system():
    rng = np.random.default_rng(0)
    from course_utils.physics import phasespace

    daughters = phasespace.rambo(np.full(100, 173.0), 3, rng)  # a 'top' at rest decaying to 3 partons
    boosted = lorentz.boost(daughters, np.array([0.0, 0.95, 0.2]))
    np.testing.assert_allclose(jets.jet_mass(boosted), 173.0, rtol=1e-9)


@pytest.fixture(scope="module")
def test_jets():
    return synthetic_jets(1200, seed=42)


def test_fast_images_match_the_per_jet_reference(test_jets):
    fast = jet_images.constit_to_img(test_jets, 50, True, True, True)
    reference = constit_to_img_reference(test_jets, 50, True, True, True)
    assert fast.shape == (1200, 1600)
    assert np.max(np.abs(fast - reference)) < 1e-6
    assert np.all(fast[:3].sum(axis=1) > 0), "one- and two-constituent jets and the phi seam give images"


@pytest.mark.parametrize("rotate, flip, norm, n_constit", [(False, False, True, 50), (True, False, False, 20),
                                                           (False, True, True, 200)])
def test_fast_images_match_reference_for_every_option(test_jets, rotate, flip, norm, n_constit):
    fast = jet_images.constit_to_img(test_jets[:300], n_constit, norm, rotate, flip)
    reference = constit_to_img_reference(test_jets[:300], n_constit, norm, rotate, flip)
    assert np.max(np.abs(fast - reference)) < 1e-6


def test_images_are_normalised_and_empty_jets_stay_empty(test_jets):
    batch = np.concatenate([test_jets[:10], np.zeros((1, 200, 4))])
    images = jet_images.constit_to_img(batch)
    np.testing.assert_allclose(images[:10].sum(axis=1), 1.0)
    assert np.all(images[10] == 0)


def test_images_do_not_depend_on_the_jet_direction(test_jets):
    """phi is measured from the leading constituent and the image is centred: rotating the jet
    in phi or boosting it along the beam must not change its image."""
    sample = test_jets[3:203]
    rotated = sample.copy()
    angle = 1.234
    rotated[..., 1] = np.cos(angle) * sample[..., 1] - np.sin(angle) * sample[..., 2]
    rotated[..., 2] = np.sin(angle) * sample[..., 1] + np.cos(angle) * sample[..., 2]
    boosted = lorentz.boost_z(sample, 0.4)
    boosted[sample[..., 0] == 0] = 0.0
    base = jet_images.constit_to_img(sample)
    for other in (rotated, boosted):
        changed = np.abs(jet_images.constit_to_img(other) - base).max(axis=1) > 1e-6
        assert changed.mean() < 0.02  # only constituents right at a pixel border may move


def test_principal_axis_ends_up_vertical():
    # an elongated cloud along eta: after rotation most spread is along phi (rows)
    rng = np.random.default_rng(1)
    eta = rng.normal(0, 0.5, size=(1, 100))
    phi = rng.normal(0, 0.05, size=(1, 100))
    x, y = jet_images.standardise(eta, phi, np.ones_like(eta))
    assert np.std(y) > 5 * np.std(x)


def test_bad_shape_is_rejected():
    with pytest.raises(ValueError, match=r"\(N, M, 4\)"):
        jet_images.constit_to_img(np.zeros((10, 200)))


@pytest.mark.parametrize("centres", [jet_images.ETA_PIXELS, jet_images.PHI_PIXELS])
def test_nearest_pixel_is_argmin_even_at_borders(centres):
    midpoints = 0.5 * (centres[1:] + centres[:-1])
    rng = np.random.default_rng(3)
    values = np.concatenate([centres, midpoints, np.nextafter(midpoints, -np.inf), np.nextafter(midpoints, np.inf),
                             rng.uniform(centres[0] - 0.5, centres[-1] + 0.5, 5000)])
    expected = np.argmin(np.abs(values[:, None] - centres[None, :]), axis=1)
    np.testing.assert_array_equal(jet_images._nearest_pixel(values, centres), expected)


def _particles(rows):
    """(pid, charge, (E, px, py, pz)) rows as the arrays detector_acceptance takes."""
    pid = np.array([r[0] for r in rows])
    charge = np.array([r[1] for r in rows], dtype=float)
    momenta = np.array([r[2] for r in rows], dtype=float)
    return pid, charge, momenta


def _massless(energy, eta, phi=0.3):
    pt = energy / np.cosh(eta)
    return [energy, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)]


def test_detector_acceptance_applies_track_and_calorimeter_thresholds():
    from course_utils.physics.jet_generation import JetSetup, detector_acceptance

    rows = [
        (22, 0, _massless(0.45, 0.0)),          # soft photon: below the ECAL threshold
        (22, 0, _massless(0.55, 0.0)),          # photon above it
        (22, 0, _massless(0.55, 2.4)),          # photon above it in energy, pT 0.1 GeV: still seen
        (22, 0, _massless(3e-12, 0.5)),         # QED-shower photon of a few meV
        (2112, 0, _massless(0.95, 0.0)),        # neutron below the HCAL threshold
        (2112, 0, _massless(1.05, 0.0)),        # neutron above it
        (130, 0, _massless(0.8, 1.0)),          # K_L: HCAL, below
        (211, 1, _massless(0.09, 0.0)),         # pion below the track threshold
        (-211, -1, _massless(0.11, 0.0)),       # pion above it
        (-11, 1, _massless(0.12 * np.cosh(2.0), 2.0)),  # positron track, pT 0.12 GeV, E 0.45 GeV: seen
        (211, 1, _massless(0.9, 2.7)),          # pion outside the tracker: HCAL threshold, below
        (211, 1, _massless(1.2, 2.7)),          # and above it
        (11, -1, _massless(0.6, 2.7)),          # electron outside the tracker: ECAL threshold
        (12, 0, _massless(50.0, 0.0)),          # neutrinos are never seen
        (-16, 0, _massless(50.0, 0.0)),
    ]
    expected = [False, True, True, False, False, True, False, False, True, True, False, True, True, False, False]
    pid, charge, momenta = _particles(rows)
    np.testing.assert_array_equal(detector_acceptance(pid, charge, momenta, JetSetup()), expected)
    particle_level = JetSetup(track_pt_min=0.0, track_eta_max=np.inf, ecal_energy_min=0.0, hcal_energy_min=0.0)
    np.testing.assert_array_equal(detector_acceptance(pid, charge, momenta, particle_level),
                                  ~np.isin(np.abs(pid), (12, 14, 16)))  # everything but the neutrinos


@pytest.mark.parametrize("process", ["top", "qcd"])
def test_generated_constituents_are_what_a_detector_records(process):
    """Every constituent of a generated jet is a track (above a tenth of the 0.1 GeV threshold: track momenta are
    smeared) or a deposit above 0.5 GeV; the same events as particles with the thresholds pass the thresholds
    themselves, and at particle level without thresholds they hold constituents below both."""
    from course_utils.physics.jet_generation import JetSetup, generate_task

    setup = JetSetup(events_per_task=80)
    thresholds = JetSetup(events_per_task=80, detector=False)
    particle_level = JetSetup(events_per_task=80, detector=False, track_pt_min=0.0, track_eta_max=np.inf,
                              ecal_energy_min=0.0, hcal_energy_min=0.0)
    for current, track_floor, must_pass in ((setup, 0.1 * setup.track_pt_min, True),
                                            (thresholds, setup.track_pt_min * (1 - 1e-5), True),
                                            (particle_level, setup.track_pt_min * (1 - 1e-5), False)):
        x = generate_task(process, 11, 0, current)["constituents"].astype(np.float64)
        assert len(x) > 5
        real = jets.padding_mask(x)
        pt, energy = jets.constituent_pt(x)[real], x[..., 0][real]
        passes = (pt > track_floor) | (energy > setup.ecal_energy_min * (1 - 1e-5))
        assert np.all(passes) == must_pass, f"{process}: {np.sum(~passes)} constituents below both thresholds"
        if must_pass:
            assert pt.min() > 1e-3, "no sub-MeV constituents"


def test_the_detector_merges_constituents_and_widens_the_top_mass_peak():
    """The same events with the detector response and as particles (the card's thresholds): towers merge photons
    and neutral hadrons (fewer constituents), and the top jets' mass peak is wider (resolution)."""
    from course_utils.physics.jet_generation import JetSetup, generate_task

    found = {detector: np.concatenate([generate_task("top", 5, task, JetSetup(detector=detector))["constituents"]
                                       for task in (0, 1)]) for detector in (True, False)}
    multiplicity = {d: jets.multiplicity(x.astype(np.float64)).mean() for d, x in found.items()}
    assert multiplicity[True] < multiplicity[False], multiplicity
    spread = {}
    for detector, x in found.items():
        mass = jets.jet_mass(x.astype(np.float64))
        peak = mass[(mass > 120) & (mass < 230)]
        assert len(peak) > 200 and 160 < np.median(peak) < 185
        spread[detector] = np.subtract(*np.quantile(peak, [0.84, 0.16]))
    assert spread[True] > 1.1 * spread[False], spread
