"""Dataset 1, amplitude regression: ``data/tutorial-2-data/{trn,val,tst}_{dat,amp}.npy``.

Real source: one-loop g g -> gamma gamma g amplitudes from the ITP Heidelberg tutorial
page. Offline stand-in: the tree-level process with the same final state,
q qbar -> gamma gamma g, with its closed-form squared matrix element, on LHC-like phase
space. Both give ``*_dat.npy`` of shape (30000, 5, 4) with four-momenta (E, px, py, pz)
in GeV, ordered [incoming, incoming, leading photon, subleading photon, gluon], and
``*_amp.npy`` of shape (30000,) with the (positive) squared amplitudes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..datafiles import fetching
from ..physics import amplitudes, lorentz, phasespace
from ..datafiles.errors import DataError
from ..datafiles.provenance import read_provenance

FOLDER = "tutorial-2-data"
URLS = (
    "https://www.thphys.uni-heidelberg.de/~plehn/data/tutorial-2-data.zip",
    "https://www.thphys.uni-heidelberg.de/~plehn/pics/tutorial-2-data.zip",
)
MIRROR_FILES = (f"{FOLDER}.zip",)  # where a class mirror serves the zip
SPLITS = ("trn", "val", "tst")
EVENTS_PER_SPLIT = 30_000
N_PARTICLES = 5
GENERATOR_VERSION = 1
DEFAULT_SEED = 20_240_501


def file_names() -> list[str]:
    """The six array files of the dataset."""
    return [f"{split}_{kind}.npy" for split in SPLITS for kind in ("dat", "amp")]


@dataclass(frozen=True)
class ColliderSetup:
    """Phase space of the offline stand-in: a falling partonic spectrum, a longitudinal
    boost and LHC-like cuts on the three final-state particles."""

    collider_energy: float = 13_000.0   # sqrt(S) in GeV
    sqrt_shat_min: float = 60.0          # lower end of the partonic spectrum, GeV
    spectrum_power: float = 4.0          # p(sqrt(shat)) ~ sqrt(shat)^-power
    max_rapidity: float = 2.5            # |y| of the partonic system
    pt_min: float = 20.0                 # GeV, photons and gluon
    eta_max: float = 2.5
    delta_r_min: float = 0.4             # between every pair of final-state particles


def _partonic_kinematics(n: int, setup: ColliderSetup, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(shat) from a power law and the rapidity of the partonic system."""
    exponent = -1.0 / (setup.spectrum_power - 1.0)
    sqrt_shat = setup.sqrt_shat_min * rng.random(n) ** exponent
    sqrt_shat = np.minimum(sqrt_shat, 0.5 * setup.collider_energy)
    y_limit = np.minimum(setup.max_rapidity, np.log(setup.collider_energy / sqrt_shat))
    rapidity = (2.0 * rng.random(n) - 1.0) * y_limit
    return sqrt_shat, rapidity


def _passes_cuts(final_state: np.ndarray, setup: ColliderSetup) -> np.ndarray:
    """Events (N, 3, 4) whose three particles all pass pT, |eta| and pairwise Delta R cuts."""
    ok = np.all(lorentz.pt(final_state) > setup.pt_min, axis=1)
    ok &= np.all(np.abs(lorentz.eta(final_state)) < setup.eta_max, axis=1)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        ok &= lorentz.delta_r(final_state[:, i], final_state[:, j]) > setup.delta_r_min
    return ok


def generate_events(
    n_events: int, seed: int, setup: ColliderSetup = ColliderSetup(), batch_size: int = 50_000
) -> tuple[np.ndarray, np.ndarray]:
    """Generate ``n_events`` q qbar -> gamma gamma g events passing the cuts.

    Returns momenta (n_events, 5, 4) and the averaged |M|^2 (n_events,). Deterministic
    for a given seed.
    """
    rng = np.random.default_rng(seed)
    accepted: list[np.ndarray] = []
    n_accepted = 0
    while n_accepted < n_events:
        sqrt_shat, rapidity = _partonic_kinematics(batch_size, setup, rng)
        final_cm = phasespace.rambo(sqrt_shat, 3, rng)
        final = lorentz.boost_z(final_cm, rapidity[:, None])
        keep = _passes_cuts(final, setup)
        half = 0.5 * sqrt_shat[keep, None]
        y = rapidity[keep, None]
        beam = np.array([1.0, 0.0, 0.0, 1.0])
        incoming_a = half[..., None] * np.exp(y)[..., None] * beam
        incoming_b = half[..., None] * np.exp(-y)[..., None] * beam * np.array([1.0, 1.0, 1.0, -1.0])
        final = final[keep]
        # the first two final-state particles are the photons: leading photon first, gluon last
        swap = lorentz.pt(final[:, 1]) > lorentz.pt(final[:, 0])
        final[swap, :2] = final[swap, ::-1][:, 1:]
        events = np.concatenate([incoming_a, incoming_b, final], axis=1)
        accepted.append(events)
        n_accepted += len(events)
    momenta = np.concatenate(accepted)[:n_events]
    return momenta, amplitudes.qqbar_to_photons_gluon(momenta)


def validate_arrays(arrays: dict[str, np.ndarray], events_per_split: int = EVENTS_PER_SPLIT) -> None:
    """Raise ``DataError`` unless the six arrays have the dataset's layout and sane values."""
    missing = sorted(set(file_names()) - set(arrays))
    if missing:
        raise DataError(f"missing files: {', '.join(missing)}")
    for split in SPLITS:
        dat, amp = arrays[f"{split}_dat.npy"], arrays[f"{split}_amp.npy"]
        if dat.shape != (events_per_split, N_PARTICLES, 4):
            raise DataError(f"{split}_dat.npy has shape {dat.shape}, expected ({events_per_split}, {N_PARTICLES}, 4)")
        if amp.shape != (events_per_split,):
            raise DataError(f"{split}_amp.npy has shape {amp.shape}, expected ({events_per_split},)")
        if not (np.all(np.isfinite(dat)) and np.all(np.isfinite(amp))):
            raise DataError(f"{split} arrays contain NaN or infinite values")
        if np.any(amp <= 0):
            raise DataError(f"{split}_amp.npy has amplitudes <= 0 (squared amplitudes must be positive)")


def read_folder(folder: Path, events_per_split: int = EVENTS_PER_SPLIT) -> dict[str, np.ndarray]:
    """Read and validate the six arrays in ``folder``."""
    arrays = fetching.load_npy_files(folder, file_names())
    validate_arrays(arrays, events_per_split)
    return arrays


def _download(urls: tuple[str, ...], progress: bool, mirror: str | None) -> fetching.Maker:
    return fetching.zip_download(FOLDER, urls, file_names(), read_folder, progress, mirror)


def _generate(seed: int, progress: bool):
    def make(scratch: Path) -> dict:
        setup = ColliderSetup()
        for index, split in enumerate(SPLITS):
            momenta, amp = generate_events(EVENTS_PER_SPLIT, seed + index, setup)
            np.save(scratch / f"{split}_dat.npy", momenta)
            np.save(scratch / f"{split}_amp.npy", amp)
            if progress:
                print(f"  generated {split}: {EVENTS_PER_SPLIT} events")
        read_folder(scratch)
        return {
            "dataset": FOLDER,
            "source": "offline",
            "generator": "course_utils.datasets.amplitude_regression (RAMBO + closed-form tree-level |M|^2)",
            "process": "q qbar -> gamma gamma g (u quark, tree level); real data: g g -> gamma gamma g (one loop)",
            "seed": seed,
            "version": GENERATOR_VERSION,
            "units": "GeV (momenta), GeV^-2 (amplitudes)",
            "setup": asdict(setup),
        }

    return make


def present(data_dir: Path) -> bool:
    """True when the dataset is complete in ``data_dir`` (any source)."""
    return is_complete(Path(data_dir) / FOLDER)


def is_complete(folder: Path) -> bool:
    """True when every array file and SOURCE.json are present (contents are checked on load)."""
    return fetching.is_complete(folder, file_names())


def fetch(
    data_dir: Path,
    source: str = "auto",
    force: bool = False,
    seed: int = DEFAULT_SEED,
    urls: tuple[str, ...] = URLS,
    progress: bool = True,
    mirror: str | None = None,
) -> dict:
    """Make ``data_dir/tutorial-2-data`` and return its provenance record.

    ``source``: "download" (real data, fail if impossible), "offline" (generate the
    stand-in) or "auto" (download, and generate if the download fails). A class ``mirror``
    (default: ``$COURSE_DATA_MIRROR``) is tried before ``urls``.
    """
    return fetching.fetch_dataset(Path(data_dir) / FOLDER, file_names(), source, force,
                                  download=_download(urls, progress, mirror), generate=_generate(seed, progress))


def load(data_dir: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Read the validated arrays and the provenance record of ``data_dir/tutorial-2-data``."""
    folder = Path(data_dir) / FOLDER
    try:
        arrays = read_folder(folder)
    except DataError as exc:
        raise DataError(f"{exc}. Remake the data with: python data/get_data.py 1 data --force") from exc
    return arrays, read_provenance(folder)
