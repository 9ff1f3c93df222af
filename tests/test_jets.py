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
