"""Top-tagging jets for tutorials 03 and 04.

Dataset 2, ``data/toptagging-short/{x,y}_{train,val,test}_short.npy`` (tutorial 03): x has
shape (N, 200, 4) with constituents (E, px, py, pz) sorted by pT and zero-padded, y is
0 (QCD) / 1 (top). Real source: ``toptagging-short.zip`` (30 000 jets per split) from the ITP
Heidelberg tutorial page.

Dataset 3, ``data/top-tagging-reference/{train,val,test}.h5`` (tutorial 04): the Top Quark
Tagging Reference Dataset (Zenodo record 2603256; 1.2M / 400k / 400k jets), pandas/PyTables
files with the key ``table`` and columns ``E_0, PX_0, PY_0, PZ_0, ..., PZ_199, truthE, truthPX,
truthPY, truthPZ, ttv, is_signal_new``.

Offline, both are made from Pythia 8 + FastJet jets (``jet_generation``), balanced between
the classes, shuffled, deterministic by seed, in exactly these layouts; the sizes depend on the
scale (``SCALES``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from ..datafiles import fetching
from ..physics import jet_generation
from ..datafiles.download import download_file
from ..datafiles.errors import DataError
from ..datafiles.mirror import candidate_urls
from ..datafiles.provenance import read_provenance

SHORT_FOLDER = "toptagging-short"
SHORT_URLS = (
    "https://www.thphys.uni-heidelberg.de/~plehn/data/toptagging-short.zip",
    "https://www.thphys.uni-heidelberg.de/~plehn/pics/toptagging-short.zip",
)
REFERENCE_FOLDER = "top-tagging-reference"
REFERENCE_URL = "https://zenodo.org/records/2603256/files/{split}.h5"
SPLITS = ("train", "val", "test")
# where a class mirror serves the files
SHORT_MIRROR_FILES = (f"{SHORT_FOLDER}.zip",)
REFERENCE_MIRROR_FILES = tuple(f"{REFERENCE_FOLDER}/{split}.h5" for split in SPLITS)
N_CONSTITUENTS = 200
REFERENCE_TTV = {"train": 0, "test": 1, "val": 2}  # the reference dataset's split labels
SCALES = {
    "ci": {"short": {"train": 8000, "val": 500, "test": 10000}, "reference": {"train": 6000, "val": 1000, "test": 4000}},
    "full": {"short": {"train": 30000, "val": 30000, "test": 30000},
             "reference": {"train": 60000, "val": 20000, "test": 20000}},
}
SHORT_SEED, REFERENCE_SEED = 2019, 2603256
# what pandas/PyTables raise for unreadable files (HDF5ExtError is a RuntimeError)
_HDF_ERRORS = (OSError, KeyError, AttributeError, TypeError, ValueError, RuntimeError)


def cache_dir(data_dir: Path) -> Path:
    """Generated jets are cached here, so a larger scale reuses a smaller one's work."""
    return Path(data_dir) / ".jet-cache"


# --------------------------------------------------------------------------- generation

#: how each offline set is made: both from the detector response's energy-flow objects, as the real sets were
SHORT_SETUP = jet_generation.JetSetup()
REFERENCE_SETUP = jet_generation.JetSetup()

def balanced_splits(sizes: dict[str, int], seed: int, data_dir: Path, workers: int | None,
                    progress: bool, setup: jet_generation.JetSetup = jet_generation.JetSetup()) -> dict[str, dict[str, np.ndarray]]:
    """Per split: ``constituents``, ``truth`` and ``label``, half top and half QCD, shuffled."""
    if any(n % 2 for n in sizes.values()):
        raise ValueError(f"split sizes must be even to balance the classes: {sizes}")
    per_class = {process: jet_generation.generate_jets(process, sum(n // 2 for n in sizes.values()), seed, setup,
                                                       cache_dir=cache_dir(data_dir), workers=workers,
                                                       progress=progress)
                 for process in ("top", "qcd")}
    splits, start = {}, 0
    for index, split in enumerate(SPLITS):
        half = sizes[split] // 2
        parts = [{key: value[start:start + half] for key, value in per_class[p].items()} for p in ("top", "qcd")]
        order = np.random.default_rng([seed, index]).permutation(2 * half)
        splits[split] = {
            "constituents": np.concatenate([p["constituents"] for p in parts])[order],
            "truth": np.concatenate([p["truth"] for p in parts])[order],
            "label": np.concatenate([np.ones(half, np.int64), np.zeros(half, np.int64)])[order],
        }
        start += half
    return splits


def _offline_record(folder: str, scale: str, seed: int, sizes: dict[str, int], setup: jet_generation.JetSetup) -> dict:
    level = ("the energy-flow objects of a Delphes-ATLAS-like detector response (course_utils.physics.detector: "
             "smeared tracks, calorimeter towers, E-flow)" if setup.detector else
             f"particle level with detector thresholds (tracks pT > {setup.track_pt_min} GeV, ECAL E > "
             f"{setup.ecal_energy_min} GeV, HCAL E > {setup.hcal_energy_min} GeV)")
    return {
        "dataset": folder, "source": "offline", "scale": scale, "seed": seed, "sizes": sizes,
        "generator": f"Pythia {jet_generation.PYTHIA_VERSION} + FastJet anti-kT R={setup.jet_radius} "
                     f"(course_utils.physics.jet_generation), {level}",
        "detector": setup.detector,
        "process": "pp -> t tbar (hadronic W) vs QCD dijets, 14 TeV, no MPI, no pile-up",
        "version": jet_generation.GENERATOR_VERSION,
    }


# --------------------------------------------------------------------------- dataset 2 (short)

def short_file_names() -> list[str]:
    return [f"{kind}_{split}_short.npy" for split in SPLITS for kind in ("x", "y")]


def validate_short(arrays: dict[str, np.ndarray]) -> None:
    """Raise ``DataError`` unless the six arrays have the short dataset's layout."""
    for split in SPLITS:
        x, y = arrays[f"x_{split}_short.npy"], arrays[f"y_{split}_short.npy"]
        if x.ndim != 3 or x.shape[1:] != (N_CONSTITUENTS, 4):
            raise DataError(f"x_{split}_short.npy has shape {x.shape}, expected (N, {N_CONSTITUENTS}, 4)")
        if y.shape != (len(x),):
            raise DataError(f"y_{split}_short.npy has shape {y.shape}, expected ({len(x)},)")
        if not np.all(np.isfinite(x)) or np.any(x[..., 0] < 0):
            raise DataError(f"x_{split}_short.npy has non-finite values or negative energies")
        if not np.all((y == 0) | (y == 1)):
            raise DataError(f"y_{split}_short.npy must hold labels 0 (QCD) and 1 (top)")


def read_short(folder: Path) -> dict[str, np.ndarray]:
    arrays = fetching.load_npy_files(folder, short_file_names())
    validate_short(arrays)
    return arrays


def _generate_short(data_dir: Path, scale: str, seed: int, workers: int | None, progress: bool):
    def make(scratch: Path) -> dict:
        sizes = SCALES[scale]["short"]
        for split, jets in balanced_splits(sizes, seed, data_dir, workers, progress, SHORT_SETUP).items():
            np.save(scratch / f"x_{split}_short.npy", jets["constituents"])
            np.save(scratch / f"y_{split}_short.npy", jets["label"])
        read_short(scratch)
        return _offline_record(SHORT_FOLDER, scale, seed, sizes, SHORT_SETUP)

    return make


def fetch_short(data_dir: Path, source: str = "auto", force: bool = False, scale: str = "full",
                seed: int = SHORT_SEED, urls: tuple[str, ...] = SHORT_URLS, workers: int | None = None,
                progress: bool = True, mirror: str | None = None) -> dict:
    """Make ``data_dir/toptagging-short`` (dataset 2) and return its provenance record; a class ``mirror``
    (default: ``$COURSE_DATA_MIRROR``) is tried before ``urls``."""
    return _fetch_jets(Path(data_dir) / SHORT_FOLDER, short_file_names(), source, force, scale, "short", SHORT_SETUP,
                       download=fetching.zip_download(SHORT_FOLDER, urls, short_file_names(), read_short, progress, mirror),
                       generate=_generate_short(Path(data_dir), scale, seed, workers, progress))


def short_is_complete(data_dir: Path) -> bool:
    """True when dataset 2 is in ``data_dir`` (any source, any scale): notebooks then use it as it is."""
    return fetching.is_complete(Path(data_dir) / SHORT_FOLDER, short_file_names())


def load_short(data_dir: Path) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    """{split: (x, y)} and the provenance record of dataset 2."""
    folder = Path(data_dir) / SHORT_FOLDER
    try:
        arrays = read_short(folder)
    except DataError as exc:
        raise DataError(f"{exc}. Remake the data with: python data/get_data.py 2 data --force") from exc
    return {s: (arrays[f"x_{s}_short.npy"], arrays[f"y_{s}_short.npy"]) for s in SPLITS}, read_provenance(folder)


# --------------------------------------------------------------------------- dataset 3 (reference h5)

def reference_columns() -> list[str]:
    """Column names of the reference files, in their order."""
    momenta = [f"{c}_{i}" for i in range(N_CONSTITUENTS) for c in ("E", "PX", "PY", "PZ")]
    return momenta + ["truthE", "truthPX", "truthPY", "truthPZ", "ttv", "is_signal_new"]


def reference_file_names() -> list[str]:
    return [f"{split}.h5" for split in SPLITS]


def write_reference(path: Path, constituents: np.ndarray, truth: np.ndarray, label: np.ndarray, ttv: int) -> None:
    """Write jets in the reference dataset's exact format (pandas table, key 'table')."""
    import pandas as pd

    n = len(constituents)
    frame = pd.DataFrame(constituents.reshape(n, -1).astype(np.float32), columns=reference_columns()[:4 * N_CONSTITUENTS])
    for index, name in enumerate(("truthE", "truthPX", "truthPY", "truthPZ")):
        frame[name] = truth[:, index].astype(np.float32)
    frame["ttv"] = np.full(n, ttv, dtype=np.int64)
    frame["is_signal_new"] = label.astype(np.int64)
    frame.to_hdf(path, key="table", format="table", mode="w", complevel=1, complib="zlib")


def reference_length(path: Path) -> int:
    """Number of jets in a reference file, read from its metadata only."""
    import pandas as pd

    try:
        with pd.HDFStore(path, mode="r") as store:
            return store.get_storer("table").nrows
    except _HDF_ERRORS as exc:
        raise DataError(f"{Path(path).name} is not a readable top-tagging HDF5 file ({exc})") from exc


def iter_reference(path: Path, start: int = 0, stop: int | None = None,
                   chunk_size: int = 100_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (constituents (n, 200, 4) float32, is_signal (n,)) for rows [start, stop) in chunks;
    never reads a row outside that range."""
    import pandas as pd

    stop = reference_length(path) if stop is None else min(stop, reference_length(path))
    for first in range(start, stop, chunk_size):
        last = min(first + chunk_size, stop)
        try:
            frame = pd.read_hdf(path, key="table", start=first, stop=last)
        except _HDF_ERRORS as exc:
            raise DataError(f"{Path(path).name}: rows {first}-{last} cannot be read ({exc})") from exc
        missing = set(reference_columns()) - set(frame.columns)
        if missing:
            raise DataError(f"{Path(path).name} lacks columns such as {sorted(missing)[:3]}")
        momenta = frame[reference_columns()[:4 * N_CONSTITUENTS]].to_numpy(np.float32)
        yield momenta.reshape(-1, N_CONSTITUENTS, 4), frame["is_signal_new"].to_numpy()


def read_reference(path: Path, start: int = 0, stop: int | None = None,
                   chunk_size: int = 100_000) -> tuple[np.ndarray, np.ndarray]:
    """Rows [start, stop) of a reference file as (constituents, is_signal), read in chunks."""
    chunks = list(iter_reference(path, start, stop, chunk_size))
    if not chunks:
        return np.zeros((0, N_CONSTITUENTS, 4), np.float32), np.zeros(0, np.int64)
    return np.concatenate([c[0] for c in chunks]), np.concatenate([c[1] for c in chunks])


def reference_is_complete(data_dir: Path) -> bool:
    """True when dataset 3 is in ``data_dir`` (any source, any scale): notebooks then use it as it is."""
    return fetching.is_complete(Path(data_dir) / REFERENCE_FOLDER, reference_file_names())


def load_reference(data_dir: Path, sizes: dict[str, int]) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict]:
    """{split: (constituents, is_signal)} with the first ``sizes[split]`` jets of each file (all of them if the
    file is shorter), read in chunks, and the provenance record of dataset 3."""
    folder = Path(data_dir) / REFERENCE_FOLDER
    if not reference_is_complete(data_dir):
        raise DataError(f"dataset 3 is not complete in {folder}. Make it with: python data/get_data.py 3 data")
    try:
        splits = {split: read_reference(folder / f"{split}.h5", 0, sizes[split]) for split in SPLITS}
    except DataError as exc:
        raise DataError(f"{exc}. Remake the data with: python data/get_data.py 3 data --force") from exc
    return splits, read_provenance(folder)


def _check_reference_file(path: Path) -> None:
    constituents, labels = read_reference(path, 0, 10)
    if len(constituents) == 0 or not np.all(np.isin(labels, (0, 1))):
        raise DataError(f"{path.name}: no jets or labels other than 0/1")


def _download_reference(url_pattern: str, progress: bool, mirror: str | None):
    def make(scratch: Path) -> dict:
        used = [download_file(candidate_urls(f"{REFERENCE_FOLDER}/{split}.h5", [url_pattern.format(split=split)], mirror),
                              scratch / f"{split}.h5", validate=_check_reference_file, timeout=300, progress=progress)
                for split in SPLITS]
        return {"dataset": REFERENCE_FOLDER, "source": "download", "url": used}

    return make


def _generate_reference(data_dir: Path, scale: str, seed: int, workers: int | None, progress: bool):
    def make(scratch: Path) -> dict:
        sizes = SCALES[scale]["reference"]
        for split, jets in balanced_splits(sizes, seed, data_dir, workers, progress, REFERENCE_SETUP).items():
            write_reference(scratch / f"{split}.h5", jets["constituents"], jets["truth"], jets["label"],
                            REFERENCE_TTV[split])
            _check_reference_file(scratch / f"{split}.h5")
        return _offline_record(REFERENCE_FOLDER, scale, seed, sizes, REFERENCE_SETUP)

    return make


def fetch_reference(data_dir: Path, source: str = "auto", force: bool = False, scale: str = "full",
                    seed: int = REFERENCE_SEED, url_pattern: str = REFERENCE_URL, workers: int | None = None,
                    progress: bool = True, mirror: str | None = None) -> dict:
    """Make ``data_dir/top-tagging-reference`` (dataset 3) and return its provenance record; a class
    ``mirror`` (default: ``$COURSE_DATA_MIRROR``) is tried before Zenodo."""
    return _fetch_jets(Path(data_dir) / REFERENCE_FOLDER, reference_file_names(), source, force, scale, "reference",
                       REFERENCE_SETUP,
                       download=_download_reference(url_pattern, progress, mirror),
                       generate=_generate_reference(Path(data_dir), scale, seed, workers, progress))


def _fetch_jets(target: Path, names: list[str], source: str, force: bool, scale: str, kind: str,
                setup: jet_generation.JetSetup, download: fetching.Maker, generate: fetching.Maker) -> dict:
    """fetch_dataset for a jet dataset (``kind``: "short" or "reference"); an offline set made at another
    scale, with other sizes, by another generator version or with(out) the detector response is remade."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {tuple(SCALES)}, not {scale!r}")
    if fetching.is_complete(target, names) and not force:
        record = read_provenance(target)
        force = record.get("source") == "offline" and (record.get("scale") != scale
                                                       or record.get("sizes") != SCALES[scale][kind]
                                                       or record.get("version") != jet_generation.GENERATOR_VERSION
                                                       or record.get("detector", False) != setup.detector)
    return fetching.fetch_dataset(target, names, source, force, download=download, generate=generate,
                                  fallback="generating jets with Pythia 8 + FastJet")
