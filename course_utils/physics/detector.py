"""A fast detector response in the manner of Delphes' ATLAS card: final-state particles in, energy-flow objects out.

The Top Quark Tagging Reference Dataset's constituents are Delphes energy-flow (E-flow) objects made with the
ATLAS card of Delphes 3 (``cards/delphes_card_ATLAS.tcl``). This module applies that card's numbers to the
generator's final-state particles, vectorised over every particle of a batch of events:

- **Tracks**: a charged particle with |eta| < 2.5 is reconstructed with the card's efficiency (70 % for
  0.1 < pT < 1 GeV and 95 % above at |eta| < 1.5; 60 % and 85 % at 1.5 < |eta| < 2.5; none below 0.1 GeV) and its
  pT smeared (log-normal) by the card's relative resolution sqrt(a^2 + (b pT)^2), (a, b) = (0.06, 1.3e-3),
  (0.10, 1.7e-3), (0.25, 3.1e-3) at |eta| < 0.5, < 1.5, < 2.5 (the charged-hadron formula, used for every
  charged particle: leptons are rare in these jets).
- **Calorimeters**: particles that reach them (neutral ones, and charged ones above the pT of 0.345 GeV that
  a 2 T field lets reach a radius of 1.15 m) deposit their energy in towers: electrons and photons all in
  the ECAL, K0S and Lambda 30 % ECAL and 70 % HCAL, other hadrons all in the HCAL, muons and neutrinos
  nothing. ECAL towers are 0.0174 x 1 degree in eta x phi up to |eta| = 2.958 (coarser beyond), HCAL towers
  0.1 x 10 degrees up to |eta| = 2.5 (coarser beyond). Each tower's energy is smeared (log-normal) with
  sigma_E = sqrt((0.0017 E)^2 + 0.101^2 E) (ECAL) and sqrt((0.0302 E)^2 + 0.5205^2 E + 1.59^2) (HCAL, |eta| <
  1.7; sqrt((0.05 E)^2 + 0.706^2 E) to 3.2).
- **E-flow**: every track is an E-flow object; a tower gives a neutral E-flow object (photon or neutral
  hadron) with the energy it holds beyond the tracks that point into it, where that excess is above the
  card's minimum (0.5 GeV ECAL, 1 GeV HCAL) and twice its uncertainty. Its direction is a random point of
  the tower (the card's ``SmearTowerCenter``), its mass zero.

Left out: pile-up and the underlying event's multi-parton interactions (the generator has neither),
b-tagging, isolation and the identification of leptons and photons, and Delphes' particle-flow details
beyond the energy subtraction above (e.g. tracks counted in towers by their calorimeter entry point; here by
the particle's direction at the vertex, the field's bending of tracks being ignored).
"""
from __future__ import annotations

import numpy as np

from . import lorentz

NEUTRINO_IDS = (12, 14, 16)
MUON_ID = 13
#: |PDG id| -> fraction of its energy in the ECAL (the rest of a hadron's goes to the HCAL)
ECAL_FRACTIONS = {11: 1.0, 22: 1.0, 111: 1.0, 310: 0.3, 3122: 0.3}
#: the smallest pT of a charged particle that reaches the calorimeters: 0.3 B R / 2 with B = 2 T, R = 1.15 m
CURL_PT = 0.3 * 2.0 * 1.15 / 2
TRACKER_ETA = 2.5


def tracking_efficiency(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """The card's charged-hadron tracking efficiency."""
    return np.select([pt <= 0.1, (abs_eta <= 1.5) & (pt <= 1.0), abs_eta <= 1.5, (abs_eta <= TRACKER_ETA) & (pt <= 1.0),
                      abs_eta <= TRACKER_ETA], [0.0, 0.70, 0.95, 0.60, 0.85], 0.0)


def track_resolution(pt: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    """The card's relative pT resolution of charged hadrons, sigma(pT) / pT."""
    a = np.select([abs_eta <= 0.5, abs_eta <= 1.5], [0.06, 0.10], 0.25)
    b = np.select([abs_eta <= 0.5, abs_eta <= 1.5], [1.3e-3, 1.7e-3], 3.1e-3)
    return np.sqrt(a**2 + (pt * b) ** 2)


def log_normal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Draws with the given means and standard deviations, positive, as Delphes smears energies and momenta."""
    mean, sigma = np.broadcast_arrays(np.asarray(mean, float), np.asarray(sigma, float))
    safe = np.maximum(mean, 1e-12)
    b = np.sqrt(np.log1p((sigma / safe) ** 2))
    return np.where(mean > 0, np.exp(np.log(safe) - 0.5 * b**2 + b * rng.standard_normal(mean.shape)), 0.0)


class Calorimeter:
    """Towers (their eta edges and phi widths) and the energy resolution of one calorimeter."""

    def __init__(self, name: str, eta_edges: np.ndarray, phi_bins_fine: int, phi_bins_coarse: int, fine_eta: float,
                 energy_min: float, resolution):
        self.name, self.eta_edges = name, np.unique(eta_edges)
        self.phi_bins_fine, self.phi_bins_coarse, self.fine_eta = phi_bins_fine, phi_bins_coarse, fine_eta
        self.energy_min, self.resolution = energy_min, resolution

    @property
    def eta_max(self) -> float:
        return float(self.eta_edges[-1])

    def towers(self, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(eta bin, phi bin) of each direction inside the calorimeter."""
        eta_bin = np.searchsorted(self.eta_edges, eta, side="right") - 1
        centre = 0.5 * (self.eta_edges[eta_bin] + self.eta_edges[eta_bin + 1])
        bins = np.where(np.abs(centre) < self.fine_eta, self.phi_bins_fine, self.phi_bins_coarse)
        phi_bin = np.minimum(np.floor((phi + np.pi) / (2 * np.pi) * bins).astype(np.int64), bins - 1)
        return eta_bin, phi_bin

    def random_direction(self, rng, eta_bin: np.ndarray, phi_bin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A point drawn uniformly in each tower."""
        low, high = self.eta_edges[eta_bin], self.eta_edges[eta_bin + 1]
        bins = np.where(np.abs(0.5 * (low + high)) < self.fine_eta, self.phi_bins_fine, self.phi_bins_coarse)
        eta = low + (high - low) * rng.random(len(eta_bin))
        phi = -np.pi + (phi_bin + rng.random(len(phi_bin))) * 2 * np.pi / bins
        return eta, phi


def _ecal_edges() -> np.ndarray:
    barrel = np.arange(-85, 87) * 0.0174
    endcaps = np.concatenate([-2.958 + np.arange(1, 85) * 0.0174, 1.4964 + np.arange(1, 85) * 0.0174])
    forward = [-5, -4.7, -4.525, -4.35, -4.175, -4, -3.825, -3.65, -3.475, -3.3, -3.125, -2.958,
               3.125, 3.3, 3.475, 3.65, 3.825, 4, 4.175, 4.35, 4.525, 4.7, 5]
    return np.concatenate([barrel, endcaps, forward])


def _hcal_edges() -> np.ndarray:
    central = np.concatenate([[-3.2], np.round(np.arange(-25, 27) * 0.1, 10), [3.3]])
    forward = [-4.9, -4.7, -4.5, -4.3, -4.1, -3.9, -3.7, -3.5, -3.3, -3, -2.8, -2.6, 2.8, 3, 3.2, 3.5, 3.7, 3.9,
               4.1, 4.3, 4.5, 4.7, 4.9]
    return np.concatenate([central, forward])


def _ecal_resolution(energy: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    return np.where(abs_eta <= 3.2, np.sqrt((0.0017 * energy) ** 2 + 0.101**2 * energy),
                    np.sqrt((0.035 * energy) ** 2 + 0.285**2 * energy))


def _hcal_resolution(energy: np.ndarray, abs_eta: np.ndarray) -> np.ndarray:
    return np.select([abs_eta <= 1.7, abs_eta <= 3.2],
                     [np.sqrt((0.0302 * energy) ** 2 + 0.5205**2 * energy + 1.59**2),
                      np.sqrt((0.05 * energy) ** 2 + 0.706**2 * energy)],
                     np.sqrt((0.0942 * energy) ** 2 + 1.0**2 * energy))


ECAL = Calorimeter("ECAL", _ecal_edges(), 360, 36, 2.958, 0.5, _ecal_resolution)
HCAL = Calorimeter("HCAL", _hcal_edges(), 36, 18, 3.3, 1.0, _hcal_resolution)
#: a neutral E-flow object needs an excess of this many standard deviations
SIGNIFICANCE_MIN = 2.0


def ecal_fraction(abs_pid: np.ndarray) -> np.ndarray:
    """The fraction of each particle's energy that the ECAL receives."""
    fraction = np.zeros(abs_pid.shape)
    for code, value in ECAL_FRACTIONS.items():
        fraction[abs_pid == code] = value
    return fraction


def eflow_objects(event: np.ndarray, pid: np.ndarray, charge: np.ndarray, momenta: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The E-flow objects the detector makes of final-state particles (``event`` index, PDG ``pid``, electric
    ``charge``, ``momenta`` (E, px, py, pz) of each): (event index, (E, px, py, pz)) of each object, tracks first,
    then the neutral objects of the ECAL and the HCAL."""
    abs_pid = np.abs(np.asarray(pid))
    visible = ~np.isin(abs_pid, NEUTRINO_IDS)
    event, abs_pid, charge, momenta = event[visible], abs_pid[visible], np.asarray(charge)[visible], momenta[visible]
    pt, eta, phi = lorentz.pt(momenta), lorentz.eta(momenta), lorentz.phi(momenta)
    charged = charge != 0

    tracked = charged & (np.abs(eta) < TRACKER_ETA) & (rng.random(len(pt)) < tracking_efficiency(pt, np.abs(eta)))
    relative = track_resolution(pt, np.abs(eta))
    scale = np.where(tracked, log_normal(rng, np.ones(len(pt)), relative), 1.0)
    mass2 = np.maximum(momenta[:, 0] ** 2 - np.sum(momenta[:, 1:] ** 2, axis=1), 0.0)
    three = momenta[:, 1:] * scale[:, None]
    track_energy = np.sqrt(np.sum(three**2, axis=1) + mass2)
    objects = [(event[tracked], np.column_stack([track_energy, three])[tracked])]

    reaches = (~charged | (pt > CURL_PT)) & (abs_pid != MUON_ID)
    in_ecal = ecal_fraction(abs_pid)
    for calorimeter, fraction in ((ECAL, in_ecal), (HCAL, 1.0 - in_ecal)):
        deposit = reaches & (fraction > 0) & (np.abs(eta) < calorimeter.eta_max)
        objects.append(_neutral_objects(calorimeter, rng, event[deposit], eta[deposit], phi[deposit],
                                        (momenta[:, 0] * fraction)[deposit], (track_energy * fraction)[deposit],
                                        (track_energy * fraction * relative)[deposit], tracked[deposit]))
    return np.concatenate([e for e, _ in objects]), np.concatenate([p for _, p in objects])


def _neutral_objects(calorimeter: Calorimeter, rng, event, eta, phi, energy, track_energy, track_sigma, tracked):
    """Towers of ``calorimeter`` filled with the deposits, smeared, and their excesses beyond the tracks in them
    as massless neutral objects."""
    eta_bin, phi_bin = calorimeter.towers(eta, phi)
    keys, tower_of = np.unique((np.asarray(event, np.int64) * 1024 + eta_bin) * 1024 + phi_bin, return_inverse=True)
    towers = np.stack([keys // (1024 * 1024), (keys // 1024) % 1024, keys % 1024], axis=1)
    tower_of = tower_of.reshape(-1)
    true_energy = np.bincount(tower_of, weights=energy, minlength=len(towers))
    tracks = np.bincount(tower_of, weights=np.where(tracked, track_energy, 0.0), minlength=len(towers))
    track_variance = np.bincount(tower_of, weights=np.where(tracked, track_sigma**2, 0.0), minlength=len(towers))
    centre_eta = 0.5 * (calorimeter.eta_edges[towers[:, 1]] + calorimeter.eta_edges[towers[:, 1] + 1])
    measured = log_normal(rng, true_energy, calorimeter.resolution(true_energy, np.abs(centre_eta)))
    excess = measured - tracks
    sigma = np.sqrt(calorimeter.resolution(measured, np.abs(centre_eta)) ** 2 + track_variance)
    neutral = (excess > calorimeter.energy_min) & (excess > SIGNIFICANCE_MIN * sigma)
    towers, excess = towers[neutral], excess[neutral]
    direction_eta, direction_phi = calorimeter.random_direction(rng, towers[:, 1], towers[:, 2])
    transverse = excess / np.cosh(direction_eta)
    momenta = np.column_stack([excess, transverse * np.cos(direction_phi), transverse * np.sin(direction_phi),
                               transverse * np.sinh(direction_eta)])
    return towers[:, 0], momenta
