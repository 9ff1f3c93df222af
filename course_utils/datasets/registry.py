"""The registry behind ``data/get_data.py``: dataset numbers and names -> fetch functions.

Each dataset's module is imported only when that dataset is fetched, so a student handout that carries
one dataset's module (``course_utils.instructor.handout``) still runs ``get_data.py`` for it, and says
plainly that the others are not part of it.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable


@dataclass(frozen=True)
class DatasetEntry:
    number: int
    name: str
    aliases: tuple[str, ...]
    tutorials: tuple[str, ...]
    module: str  # module of course_utils.datasets that fetches it
    fetch_name: str  # its fetch function
    mirror_name: str  # its tuple of paths below a class mirror's base URL
    complete_name: str  # its function data_dir -> whether the dataset is there, complete (any source, any scale)
    scaled: bool = False  # the offline stand-in comes in a CI and a full scale
    fetcher: Callable[..., dict] | None = None  # replaces the module's function (tests)

    def _module(self) -> ModuleType:
        try:
            return importlib.import_module(f"{__package__}.{self.module}")
        except ModuleNotFoundError as missing:
            if missing.name != f"{__package__}.{self.module}":
                raise
            raise KeyError(f"dataset {self.number} ({self.name}) is not part of this copy of the course: it belongs to "
                           f"{', '.join(self.tutorials)}") from None

    @property
    def fetch(self) -> Callable[..., dict]:
        return self.fetcher or getattr(self._module(), self.fetch_name)

    def is_complete(self, data_dir: Path) -> bool:
        """Whether the dataset is complete in ``data_dir``, as a notebook's fetch call would find it."""
        return getattr(self._module(), self.complete_name)(Path(data_dir))

    @property
    def mirror_files(self) -> tuple[str, ...]:
        return getattr(self._module(), self.mirror_name)


REGISTRY: tuple[DatasetEntry, ...] = (
    DatasetEntry(
        number=1,
        name="amplitude regression",
        aliases=("amplitude", "amplitudes", "amplitude_regression", "amplitude-regression", "tutorial-2-data"),
        tutorials=("01_amplitude_regression",),
        module="amplitude_regression", fetch_name="fetch", mirror_name="MIRROR_FILES", complete_name="present",
    ),
    DatasetEntry(
        number=2,
        name="top tagging short",
        aliases=("toptagging-short", "toptagging", "top-tagging-short", "jets"),
        tutorials=("03_jet_bayesian_cnn",),
        module="toptagging", fetch_name="fetch_short", mirror_name="SHORT_MIRROR_FILES",
        complete_name="short_is_complete",
        scaled=True,
    ),
    DatasetEntry(
        number=3,
        name="top tagging reference",
        aliases=("top-tagging-reference", "reference", "toptagging-reference", "zenodo"),
        tutorials=("04_top_tagging_deepsets",),
        module="toptagging", fetch_name="fetch_reference", mirror_name="REFERENCE_MIRROR_FILES",
        complete_name="reference_is_complete",
        scaled=True,
    ),
    DatasetEntry(
        number=4,
        name="digits",
        aliases=("mnist", "handwritten digits"),
        tutorials=("02_mnist_bayes_by_backprop",),
        module="digits", fetch_name="fetch", mirror_name="MIRROR_FILES", complete_name="present",
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


def for_assignment(assignment: str) -> list[DatasetEntry]:
    """The datasets a tutorial uses."""
    return [entry for entry in REGISTRY if assignment in entry.tutorials]


def fetch(key: str, data_dir: Path, scale: str = "full", **options) -> dict:
    """Fetch dataset ``key`` into ``data_dir`` and return its provenance record."""
    entry = lookup(key)
    if entry.scaled:
        options["scale"] = scale
    return entry.fetch(Path(data_dir), **options)


def missing(data_dir: Path, assignments: list[str] | None = None) -> list[DatasetEntry]:
    """The datasets of ``assignments`` (default: every dataset) that are not complete in ``data_dir``."""
    wanted = REGISTRY if assignments is None else [e for e in REGISTRY if set(e.tutorials) & set(assignments)]
    return [entry for entry in wanted if not entry.is_complete(data_dir)]
