"""The one way every dataset is made: reuse it if complete, else download it, else (or on
request) generate the offline stand-in; always in a scratch folder, installed atomically,
with ``SOURCE.json`` recording which source made it."""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from .archives import check_zip, extract
from .download import DownloadError, download_file
from .errors import DataError
from .folders import install_folder, scratch_folder
from .mirror import candidate_urls
from .provenance import PROVENANCE_FILE, read_provenance, write_provenance

SOURCES = ("auto", "download", "offline")
Maker = Callable[[Path], dict]  # fills a scratch folder, returns its provenance record


def is_complete(folder: Path, names: Iterable[str]) -> bool:
    """True when every file of ``names`` and SOURCE.json exist (contents are checked on load)."""
    return all((Path(folder) / name).is_file() for name in [*names, PROVENANCE_FILE])


def build(target: Path, make: Maker) -> dict:
    """Run ``make`` in a scratch folder beside ``target``; install the result only if it succeeds."""
    scratch = scratch_folder(target.parent, target.name)
    try:
        record = write_provenance(scratch, make(scratch))
        install_folder(scratch, target)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return record


def fetch_dataset(target: Path, names: Iterable[str], source: str, force: bool, download: Maker,
                  generate: Maker, fallback: str = "the offline generator") -> dict:
    """Make ``target`` from its real source or the offline stand-in (``source``: auto, download, offline)."""
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    target = Path(target)
    if is_complete(target, names) and not force:
        return read_provenance(target)
    if source in ("auto", "download"):
        try:
            return build(target, download)
        except DownloadError as exc:  # network or content problems only: local failures and bugs propagate
            if source == "download":
                raise
            print(f"{exc}\nNo download worked: falling back to {fallback} (offline stand-in).")
    return build(target, generate)


def zip_download(dataset: str, urls: tuple[str, ...], names: list[str], check: Callable[[Path], object],
                 progress: bool, mirror: str | None = None) -> Maker:
    """A maker that downloads ``dataset``.zip (from a class ``mirror`` first, then ``urls``), checks and
    extracts ``names`` and runs ``check`` on the folder."""
    def make(scratch: Path) -> dict:
        zip_path = scratch / f"{dataset}.zip"
        url = download_file(candidate_urls(zip_path.name, urls, mirror), zip_path, validate=lambda path: check_zip(path, names), progress=progress)
        extract(zip_path, names, scratch)
        zip_path.unlink()
        check(scratch)
        return {"dataset": dataset, "source": "download", "url": url}

    return make


def load_npy_files(folder: Path, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Read ``names`` from ``folder``; ``DataError`` for a missing, corrupt or truncated file."""
    arrays = {}
    for name in names:
        path = Path(folder) / name
        try:
            arrays[name] = np.load(path, allow_pickle=False)
        except FileNotFoundError as exc:
            raise DataError(f"{path} is missing") from exc
        except (ValueError, OSError, EOFError) as exc:
            raise DataError(f"{name} is corrupt or truncated ({exc})") from exc
    return arrays
