"""Top and QCD jets from Pythia 8 + FastJet, following the Top Quark Tagging Reference
Dataset's recipe (Kasieczka et al., SciPost Phys. 7 (2019) 014), clustered from the energy-flow
objects of a detector response in the manner of Delphes' ATLAS card (``detector``).

14 TeV pp; signal: t tbar with both W bosons forced to hadronic decays; background: QCD
dijets (``HardQCD:all``); no multi-parton interactions, no pile-up; hard-process pT between
``pthat_min`` and ``pthat_max``. The final-state particles become what the detector records
(``detector.eflow_objects``: smeared tracks, and calorimeter towers' energy beyond the tracks in them;
``JetSetup(detector=False)`` keeps the particles instead, those above the card's track and calorimeter
thresholds, ``detector_acceptance``), and these are clustered with anti-kT, R = 0.8. The leading jet of each event is
kept if its pT lies in [550, 650] GeV and |eta| < 2; a top jet must in addition contain a
hadronic top: the top and its three decay quarks (each followed to its last copy in the event
record) within Delta R < 0.8 of the jet axis. Jets keep their leading 200 constituents
(E, px, py, pz), sorted by pT and zero-padded.

Work is split into tasks of a fixed number of events with seeds derived from (seed, process,
task number), so the result does not depend on how many worker processes run them; finished
tasks are cached on disk.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Iterator

import numpy as np

from . import detector, lorentz

PROCESSES = ("top", "qcd")
GENERATOR_VERSION = 3  # 2: detector-like acceptance of the constituents; 3: tracks, towers and E-flow
PYTHIA_VERSION = "8.317"


@dataclass(frozen=True)
class JetSetup:
    sqrt_s: float = 14_000.0
    pthat_min: float = 500.0
    pthat_max: float = 700.0
    jet_radius: float = 0.8
    jet_pt_min: float = 550.0
    jet_pt_max: float = 650.0
    jet_eta_max: float = 2.0
    match_radius: float = 0.8
    n_constituents: int = 200
    events_per_task: int = 500
    # the detector response (tracks, calorimeter towers, E-flow: ``detector``); False: particles, with the
    # acceptance below
    detector: bool = True
    # Detector-like acceptance (see ``detector_acceptance``); the values are the Delphes ATLAS card's.
    # 0, inf, 0, 0 give particle-level jets.
    track_pt_min: float = 0.1
    track_eta_max: float = 2.5
    ecal_energy_min: float = 0.5
    hcal_energy_min: float = 1.0


NEUTRINO_IDS = (12, 14, 16)
ECAL_IDS = (11, 22)  # electrons and photons shower in the electromagnetic calorimeter


def detector_acceptance(pid: np.ndarray, charge: np.ndarray, momenta: np.ndarray, setup: JetSetup) -> np.ndarray:
    """Which final-state particles (PDG ``pid``, electric ``charge``, ``momenta`` (E, px, py, pz)) a
    detector records as energy-flow objects, as a boolean array.

    The reference dataset's constituents are Delphes energy-flow objects (ATLAS card): tracks and
    calorimeter deposits. Generator-level final states also hold particles no detector sees: photons
    of keV energies and below radiated by the W boson and charged partons in Pythia's QED shower
    (pT down to 1e-14 GeV), soft photons from asymmetric pi0 -> gamma gamma decays (the bulk below
    100 MeV), and neutrinos. Here a charged particle inside the tracker (|eta| < ``track_eta_max``)
    is a track and needs pT > ``track_pt_min`` (softer ones are not reconstructed and curl up in
    the solenoid field before the calorimeter); every other particle is a calorimeter deposit and
    needs E > ``ecal_energy_min`` (electrons, photons) or E > ``hcal_energy_min`` (hadrons, muons).
    Neutrinos are never recorded. The thresholds act per particle (Delphes applies the calorimeter
    ones per tower); there is no efficiency, smearing or tower merging.
    """
    pid, charge = np.asarray(pid), np.asarray(charge)
    transverse, pseudorapidity = lorentz.pt(momenta), lorentz.eta(momenta)
    tracked = (charge != 0) & (np.abs(pseudorapidity) < setup.track_eta_max)
    calorimeter_min = np.where(np.isin(np.abs(pid), ECAL_IDS), setup.ecal_energy_min, setup.hcal_energy_min)
    seen = np.where(tracked, transverse > setup.track_pt_min, momenta[..., 0] > calorimeter_min)
    return seen & ~np.isin(np.abs(pid), NEUTRINO_IDS)


def pythia_settings(process: str, seed: int, setup: JetSetup) -> list[str]:
    """Pythia 8 settings of one generation task."""
    if process not in PROCESSES:
        raise ValueError(f"process must be one of {PROCESSES}, not {process!r}")
    common = [
        f"Beams:eCM = {setup.sqrt_s}",
        f"PhaseSpace:pTHatMin = {setup.pthat_min}",
        f"PhaseSpace:pTHatMax = {setup.pthat_max}",
        "PartonLevel:MPI = off",
        "Random:setSeed = on",
        f"Random:seed = {seed}",
        "Print:quiet = on",
    ]
    if process == "qcd":
        return common + ["HardQCD:all = on"]
    return common + ["Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "24:onMode = off", "24:onIfAny = 1 2 3 4 5"]


def task_seed(seed: int, process: str, task: int) -> int:
    """A Pythia seed (1 ... 900 000 000) for task number ``task``."""
    state = np.random.SeedSequence([seed, PROCESSES.index(process), task]).generate_state(1)[0]
    return int(state % 900_000_000) + 1


@contextlib.contextmanager
def _quiet_c_stdout() -> Iterator[None]:
    """Silence C++ output on file descriptor 1 (FastJet's banner) for the duration."""
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            os.dup2(saved, 1)
            os.close(saved)


class _FlatEvents:
    """The particles of a batch of events as flat NumPy arrays with global indices."""

    def __init__(self, particles):
        import awkward as ak

        counts = ak.to_numpy(ak.num(particles.id))
        offsets = np.repeat(np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
        self.id = ak.to_numpy(ak.flatten(particles.id))
        self.status = ak.to_numpy(ak.flatten(particles.status))
        local1, local2 = ak.to_numpy(ak.flatten(particles.daughter1)), ak.to_numpy(ak.flatten(particles.daughter2))
        self.daughter1 = np.where(local1 > 0, local1 + offsets, -1)
        self.daughter2 = np.where(local2 > 0, local2 + offsets, -1)
        p = particles.p
        self.momentum = np.stack([ak.to_numpy(ak.flatten(p.e)), ak.to_numpy(ak.flatten(p.px)),
                                  ak.to_numpy(ak.flatten(p.py)), ak.to_numpy(ak.flatten(p.pz))], axis=-1)
        self.event = np.repeat(np.arange(len(counts)), counts)

    def _same_flavour(self, daughter: np.ndarray, current: np.ndarray) -> np.ndarray:
        return (daughter >= 0) & (self.id[np.maximum(daughter, 0)] == self.id[current])

    def last_copy(self, index: np.ndarray) -> np.ndarray:
        """Follow each particle through copies and emissions of the same flavour to its last copy."""
        current = np.asarray(index).copy()
        for _ in range(500):
            d1, d2 = self.daughter1[current], self.daughter2[current]
            step = np.where(self._same_flavour(d1, current), d1, np.where(self._same_flavour(d2, current), d2, -1))
            if not np.any(step >= 0):
                return current
            current = np.where(step >= 0, step, current)
        raise RuntimeError("event record: copy chain too long")

    def daughter_with(self, parent: np.ndarray, abs_id: int) -> np.ndarray:
        """The daughter (first or second) of each parent with |id| == abs_id, else the other one."""
        d1, d2 = self.daughter1[parent], self.daughter2[parent]
        return np.where(np.abs(self.id[np.maximum(d1, 0)]) == abs_id, d1, d2)


def _hadronic_tops(flat: _FlatEvents, n_events: int) -> dict[str, np.ndarray]:
    """Per event and top (shape (n_events, 2, ...)): the top's, b's and W quarks' last copies."""
    hard = np.flatnonzero((np.abs(flat.id) == 6) & (flat.status == -22))
    if len(hard) != 2 * n_events or np.any(np.bincount(flat.event[hard], minlength=n_events) != 2):
        raise RuntimeError("expected exactly two hard-process tops per event")
    top = flat.last_copy(hard)
    w = flat.last_copy(flat.daughter_with(top, 24))
    bottom = flat.last_copy(flat.daughter_with(top, 5))
    quark1, quark2 = flat.daughter1[w], flat.daughter2[w]
    hadronic = (np.abs(flat.id[quark1]) <= 5) & (np.abs(flat.id[quark2]) <= 5)
    partons = np.stack([top, bottom, flat.last_copy(quark1), flat.last_copy(quark2)], axis=-1)
    return {"momenta": flat.momentum[partons].reshape(n_events, 2, 4, 4), "hadronic": hadronic.reshape(n_events, 2)}


def _charges(particle_data, pid: np.ndarray) -> np.ndarray:
    """Electric charges of the PDG codes ``pid`` from Pythia's particle table."""
    codes, inverse = np.unique(pid, return_inverse=True)
    return np.array([particle_data.charge(int(code)) for code in codes], dtype=float)[inverse]


def _recorded(flat: _FlatEvents, charge: np.ndarray, setup: JetSetup, rng: np.random.Generator,
              n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """What is clustered, per event: (counts per event, (E, px, py, pz) in event order)."""
    final = flat.status > 0
    if setup.detector:
        event, momenta = detector.eflow_objects(flat.event[final], flat.id[final], charge[final], flat.momentum[final], rng)
        order = np.argsort(event, kind="stable")
        return np.bincount(event, minlength=n_events), momenta[order]
    recorded = final & detector_acceptance(flat.id, charge, flat.momentum, setup)
    return np.bincount(flat.event[recorded], minlength=n_events), flat.momentum[recorded]


def _leading_jets(flat: _FlatEvents, charge: np.ndarray, setup: JetSetup, rng: np.random.Generator, n_events: int):
    """Leading anti-kT jet of each event, clustered from what the detector records of the final-state
    particles (``flat``, with their electric charges ``charge``): its four-momentum and constituents."""
    import awkward as ak
    import fastjet

    counts, momenta = _recorded(flat, charge, setup, rng, n_events)
    vectors = ak.unflatten(ak.zip({"px": momenta[:, 1], "py": momenta[:, 2], "pz": momenta[:, 3], "E": momenta[:, 0]},
                                  with_name="Momentum4D"), counts)
    with _quiet_c_stdout():
        sequence = fastjet.ClusterSequence(vectors, fastjet.JetDefinition(fastjet.antikt_algorithm, setup.jet_radius))
        jets = sequence.inclusive_jets(min_pt=0.5 * setup.jet_pt_min)
        constituents = sequence.constituents(min_pt=0.5 * setup.jet_pt_min)
    has_jet = ak.to_numpy(ak.num(jets.px) > 0)
    leading = ak.argmax(np.hypot(jets.px, jets.py), axis=1, keepdims=True)
    jet = ak.firsts(jets[leading])
    jet_p = np.stack([ak.to_numpy(ak.fill_none(jet[f], 0.0)) for f in ("E", "px", "py", "pz")], axis=-1)
    return jet_p, has_jet, ak.firsts(constituents[leading])


def _constituent_array(constituents, n_max: int) -> np.ndarray:
    """(N, n_max, 4) float32 (E, px, py, pz), leading pT first, zero-padded."""
    import awkward as ak

    constituents = ak.drop_none(constituents, axis=0)  # every selected event has a jet
    order = ak.argsort(np.hypot(constituents.px, constituents.py), axis=1, ascending=False)
    ordered = ak.pad_none(constituents[order], n_max, clip=True, axis=1)
    return np.stack([ak.to_numpy(ak.fill_none(ordered[f], 0.0)) for f in ("E", "px", "py", "pz")],
                    axis=-1).astype(np.float32)


def generate_task(process: str, seed: int, task: int, setup: JetSetup = JetSetup()) -> dict[str, np.ndarray]:
    """Run one task: ``setup.events_per_task`` events, return the selected leading jets.

    Returns ``constituents`` (n, 200, 4) float32 and ``truth`` (n, 4): the matched top's
    four-momentum for top jets, zeros for QCD jets.
    """
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(process, task_seed(seed, process, task), setup):
        pythia.readString(line)
    if not pythia.init():
        raise RuntimeError("Pythia failed to initialise")
    particles = pythia.nextBatch(setup.events_per_task).prt
    n_events = len(particles)
    flat = _FlatEvents(particles)
    rng = np.random.default_rng(np.random.SeedSequence([seed, PROCESSES.index(process), task, 1]))  # the detector's
    jet_p, has_jet, constituents = _leading_jets(flat, _charges(pythia.particleData, flat.id), setup, rng, n_events)
    pt, eta = lorentz.pt(jet_p), lorentz.eta(jet_p)
    keep = has_jet & (pt >= setup.jet_pt_min) & (pt <= setup.jet_pt_max) & (np.abs(eta) < setup.jet_eta_max)
    truth = np.zeros((n_events, 4))
    if process == "top":
        tops = _hadronic_tops(flat, n_events)
        distance = lorentz.delta_r(jet_p[:, None, None, :], tops["momenta"])  # (events, 2 tops, 4 partons)
        matched = np.all(distance < setup.match_radius, axis=-1) & tops["hadronic"]
        keep &= matched.any(axis=1)
        truth = tops["momenta"][np.arange(n_events), np.argmax(matched, axis=1), 0]
    selected = np.flatnonzero(keep)
    return {"constituents": _constituent_array(constituents[selected], setup.n_constituents),
            "truth": truth[selected].astype(np.float32)}


def _cache_key(setup: JetSetup) -> str:
    text = json.dumps({"setup": asdict(setup), "version": GENERATOR_VERSION, "pythia": PYTHIA_VERSION}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _cached_task(args: tuple[str, int, int, JetSetup, str | None]) -> dict[str, np.ndarray]:
    process, seed, task, setup, cache_dir = args
    path = Path(cache_dir) / _cache_key(setup) / f"{process}-{seed}-{task:05d}.npz" if cache_dir else None
    if path is not None and path.is_file():
        with np.load(path) as stored:
            return {key: stored[key] for key in stored.files}
    result = generate_task(process, seed, task, setup)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
        np.savez(partial, **result)
        os.replace(partial, path)
    return result


def generate_jets(process: str, n_jets: int, seed: int, setup: JetSetup = JetSetup(), cache_dir: Path | None = None,
                  workers: int | None = None, progress: bool = True) -> dict[str, np.ndarray]:
    """The first ``n_jets`` selected jets of ``process`` from tasks 0, 1, 2, ... (in task order)."""
    workers = max(1, min(workers or os.cpu_count() or 1, 16))
    collected, n_found, task, start = [], 0, 0, time.perf_counter()
    cache = str(cache_dir) if cache_dir else None
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) if workers > 1 else None
    run = pool.map if pool else map
    try:
        while n_found < n_jets:
            wave = [(process, seed, task + i, setup, cache) for i in range(workers)]
            for result in run(_cached_task, wave):
                collected.append(result)
                n_found += len(result["constituents"])
            task += workers
            if progress:
                rate = n_found / max(time.perf_counter() - start, 1e-9)
                print(f"\r  {process}: {min(n_found, n_jets)}/{n_jets} jets ({rate:.0f} jets/s)", end="", flush=True)
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    if progress:
        print()
    return {key: np.concatenate([r[key] for r in collected])[:n_jets] for key in collected[0]}
