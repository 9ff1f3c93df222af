"""The registry behind ``data/get_data.py``: dataset numbers and names -> fetch functions."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import amplitude_regression, digits, toptagging


@dataclass(frozen=True)
class DatasetEntry:
    number: int
    name: str
    aliases: tuple[str, ...]
    tutorials: tuple[str, ...]
    fetch: Callable[..., dict]
    mirror_files: tuple[str, ...]  # paths below a class mirror's base URL
    scaled: bool = False  # the offline stand-in comes in a CI and a full scale


REGISTRY: tuple[DatasetEntry, ...] = (
    DatasetEntry(
        number=1,
        name="amplitude regression",
        aliases=("amplitude", "amplitudes", "amplitude_regression", "amplitude-regression", "tutorial-2-data"),
        tutorials=("01_amplitude_regression",),
        fetch=amplitude_regression.fetch,
        mirror_files=amplitude_regression.MIRROR_FILES,
    ),
    DatasetEntry(
        number=2,
        name="top tagging short",
        aliases=("toptagging-short", "toptagging", "top-tagging-short", "jets"),
        tutorials=("03_jet_bayesian_cnn",),
        fetch=toptagging.fetch_short,
        mirror_files=toptagging.SHORT_MIRROR_FILES,
        scaled=True,
    ),
    DatasetEntry(
        number=3,
        name="top tagging reference",
        aliases=("top-tagging-reference", "reference", "toptagging-reference", "zenodo"),
        tutorials=("04_top_tagging_deepsets",),
        fetch=toptagging.fetch_reference,
        mirror_files=toptagging.REFERENCE_MIRROR_FILES,
        scaled=True,
    ),
    DatasetEntry(
        number=4,
        name="digits",
        aliases=("mnist", "handwritten digits"),
        tutorials=("02_mnist_bayes_by_backprop",),
        fetch=digits.fetch,
        mirror_files=digits.MIRROR_FILES,
    ),
)


def lookup(key: str) -> DatasetEntry:
    """Find a dataset by number ("1") or by name/alias (case-insensitive)."""
    wanted = key.strip().lower()
    for entry in REGISTRY:
        if wanted == str(entry.number) or wanted == entry.name or wanted in entry.aliases:
            return entry
    known = "; ".join(f"{e.number} = {e.name}" for e in REGISTRY)
    raise KeyError(f"Unknown dataset {key!r}. Known datasets: {known}.")


def fetch(key: str, data_dir: Path, scale: str = "full", **options) -> dict:
    """Fetch dataset ``key`` into ``data_dir`` and return its provenance record."""
    entry = lookup(key)
    if entry.scaled:
        options["scale"] = scale
    return entry.fetch(Path(data_dir), **options)
