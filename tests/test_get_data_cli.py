"""The README's data command, run as a user runs it: `python data/get_data.py N data ...` from a
course root, with a relative data folder, against a class mirror on 127.0.0.1 serving small files
in the real layouts."""
import errno
import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_utils.datafiles import idx
from course_utils.datafiles.download import LocalFileError
from course_utils.datafiles.mirror import candidate_urls, mirror_base
from course_utils.datasets import amplitude_regression, digits, registry, toptagging
from http_fixtures import serve

FOLDERS = {1: amplitude_regression.FOLDER, 2: toptagging.SHORT_FOLDER, 3: toptagging.REFERENCE_FOLDER, 4: digits.FOLDER}


@pytest.fixture
def course(root, tmp_path) -> Path:
    """A course root as a fresh clone has it: data/get_data.py beside the course_utils package."""
    folder = tmp_path / "course"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "get_data.py").write_text((root / "data" / "get_data.py").read_text())
    (folder / "course_utils").symlink_to(root / "course_utils")
    return folder


def get_data(course: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python data/get_data.py ARGS`` in ``course``, exactly as the README writes it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "data/get_data.py", *args], cwd=course, env=environment,
                          capture_output=True, text=True, timeout=600)


def zipped(folder_name: str, files: dict[str, bytes]) -> bytes:
    """A zip laid out like the real downloads: one top folder holding the files."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, body in files.items():
            archive.writestr(f"{folder_name}/{name}", body)
    return buffer.getvalue()


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def small_jets(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n jets of 200 zero-padded constituents (E, px, py, pz) with E >= |p|, and 0/1 labels."""
    rng = np.random.default_rng(seed)
    p = rng.normal(0.0, 20.0, (n, 200, 3)).astype(np.float32)
    p[:, 30:] = 0.0
    energy = np.linalg.norm(p, axis=-1, keepdims=True)
    return np.concatenate([energy, p], axis=-1), np.arange(n) % 2


@pytest.fixture(scope="module")
def mirror_files(offline_data_dir, tmp_path_factory) -> dict[str, bytes]:
    """Every dataset's files at the mirror paths the registry names, in the real layouts."""
    files = {}
    amp = offline_data_dir / amplitude_regression.FOLDER
    files["tutorial-2-data.zip"] = zipped(amplitude_regression.FOLDER, {
        name: (amp / name).read_bytes() for name in amplitude_regression.file_names()})
    short = {}
    for index, split in enumerate(toptagging.SPLITS):
        x, y = small_jets(8, index)
        short[f"x_{split}_short.npy"], short[f"y_{split}_short.npy"] = npy(x), npy(y)
    files["toptagging-short.zip"] = zipped(toptagging.SHORT_FOLDER, short)
    scratch = tmp_path_factory.mktemp("h5")
    for index, split in enumerate(toptagging.SPLITS):
        x, y = small_jets(12, 10 + index)
        toptagging.write_reference(scratch / f"{split}.h5", x, x[:, 0], y, toptagging.REFERENCE_TTV[split])
        files[f"top-tagging-reference/{split}.h5"] = (scratch / f"{split}.h5").read_bytes()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 60), ("t10k", 12)):  # MNIST's names and format, other content: wrong MD5
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        files[f"mnist/{prefix}-images-idx3-ubyte.gz"] = gzip.compress(idx.encode_idx(images), mtime=0)
        files[f"mnist/{prefix}-labels-idx1-ubyte.gz"] = gzip.compress(idx.encode_idx(np.arange(n, dtype=np.uint8) % 10), mtime=0)
    assert set(files) == {path for entry in registry.REGISTRY for path in entry.mirror_files}
    return files


def served(files: dict[str, bytes]) -> dict[str, bytes]:
    return {f"/course-data/{path}": body for path, body in files.items()}


def provenance(course: Path, number: int) -> dict:
    return json.loads((course / "data" / FOLDERS[number] / "SOURCE.json").read_text())


@pytest.mark.parametrize("number", [1, 2, 3])
def test_mirror_installs_each_dataset_from_a_relative_data_folder(course, mirror_files, number):
    with serve(served(mirror_files)) as base:
        done = get_data(course, str(number), "data", "--mirror", f"{base}/course-data", "--mirror-only", "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"downloaded from {base}/course-data/" in done.stdout
    record = provenance(course, number)
    assert record["source"] == "download" and base in json.dumps(record["url"])
    assert sorted(p.name for p in (course / "data").iterdir()) == sorted(["get_data.py", FOLDERS[number]]), \
        "no scratch folders or downloads left beside the dataset"
    data = course / "data"
    if number == 1:
        arrays, _ = amplitude_regression.load(data)
        assert arrays["tst_dat.npy"].shape == (30000, 5, 4)
    elif number == 2:
        splits, _ = toptagging.load_short(data)
        assert splits["val"][0].shape == (8, 200, 4)
    else:
        x, y = toptagging.read_reference(data / FOLDERS[3] / "test.h5")
        assert x.shape == (12, 200, 4) and set(y) == {0, 1}


def test_environment_variable_names_the_mirror(course, mirror_files):
    with serve(served(mirror_files)) as base:
        done = get_data(course, "toptagging-short", "data", "--quiet",
                        env={"COURSE_DATA_MIRROR": f"{base}/course-data/", "COURSE_DATA_MIRROR_ONLY": "1"})
    assert done.returncode == 0, done.stderr
    assert provenance(course, 2)["url"] == f"{base}/course-data/toptagging-short.zip"


def test_truncated_file_leaves_nothing_and_the_fallback_says_why(course, mirror_files):
    with serve(served(mirror_files), truncate={"/course-data/tutorial-2-data.zip"}) as base:
        mirror = f"{base}/course-data"
        strict = get_data(course, "1", "data", "--mirror", mirror, "--mirror-only", "--download-only", "--quiet")
        assert strict.returncode == 1
        assert "error: Could not download tutorial-2-data.zip" in strict.stderr and "truncated" in strict.stderr
        assert [p.name for p in (course / "data").iterdir()] == ["get_data.py"], "nothing half-written"
        fallback = get_data(course, "1", "data", "--mirror", mirror, "--mirror-only", "--quiet")
    assert fallback.returncode == 0, fallback.stderr
    assert "truncated" in fallback.stdout and "falling back to the offline generator" in fallback.stdout
    assert provenance(course, 1)["source"] == "offline"


def test_digits_with_another_md5_than_mnist_are_rejected(course, mirror_files):
    with serve(served(mirror_files)) as base:
        mirror = f"{base}/course-data"
        strict = get_data(course, "4", "data", "--mirror", mirror, "--mirror-only", "--download-only", "--quiet")
        assert strict.returncode == 1
        assert "MD5 checksum" in strict.stderr and digits.MD5["train-images-idx3-ubyte.gz"] in strict.stderr
        assert [p.name for p in (course / "data").iterdir()] == ["get_data.py"]
        fallback = get_data(course, "4", "data", "--mirror", mirror, "--mirror-only", "--quiet")
    assert fallback.returncode == 0, fallback.stderr
    assert "MD5 checksum" in fallback.stdout and "falling back to" in fallback.stdout
    assert provenance(course, 4)["source"] == "offline"


def test_mirror_layout_lists_the_files_a_mirror_serves(course, mirror_files):
    done = get_data(course, "all", "--mirror-layout")
    assert done.returncode == 0 and done.stdout.split() == [p for e in registry.REGISTRY for p in e.mirror_files]
    with_base = get_data(course, "2", "--mirror-layout", "--mirror", "http://hub:8000/data/")
    assert with_base.stdout.split() == ["http://hub:8000/data/toptagging-short.zip"]


@pytest.mark.parametrize("arguments, message", [
    (["--mirror", "not a url"], "must be a URL"),
    (["--mirror-only"], "needs a mirror"),
])
def test_bad_mirror_settings_are_reported(course, arguments, message):
    done = get_data(course, "1", "data", *arguments)
    assert done.returncode == 2 and message in done.stderr
    assert [p.name for p in (course / "data").iterdir()] == ["get_data.py"]


def test_mirror_urls_come_first(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_MIRROR", raising=False)
    monkeypatch.delenv("COURSE_DATA_MIRROR_ONLY", raising=False)
    assert candidate_urls("a/b.zip", ["https://public/b.zip"]) == ("https://public/b.zip",)
    assert candidate_urls("a/b.zip", ["https://public/b.zip"], "http://m/x/") == ("http://m/x/a/b.zip", "https://public/b.zip")
    monkeypatch.setenv("COURSE_DATA_MIRROR", "file:///srv/mirror")
    assert mirror_base() == "file:///srv/mirror"
    monkeypatch.setenv("COURSE_DATA_MIRROR_ONLY", "1")
    assert candidate_urls("b.zip", ["https://public/b.zip"]) == ("file:///srv/mirror/b.zip",)


def test_a_local_failure_is_not_hidden_behind_the_fallback(tmp_path, monkeypatch, capsys):
    """Disk full while downloading: an error naming the cause, no offline stand-in, nothing left."""
    import wget

    def disk_full(url, out=None, bar=None):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wget, "download", disk_full)
    with pytest.raises(LocalFileError, match="No space left on device.*not of the network"):
        amplitude_regression.fetch(tmp_path, source="auto", urls=("http://127.0.0.1:9/x.zip",), progress=False)
    assert "falling back" not in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_a_bug_in_a_check_is_not_hidden_behind_the_fallback(tmp_path, mirror_files, monkeypatch):
    def broken_check(folder):
        raise KeyError("a bug in the checking code")

    monkeypatch.setattr(amplitude_regression, "read_folder", broken_check)
    with serve(served(mirror_files)) as base:
        with pytest.raises(KeyError, match="a bug"):
            amplitude_regression.fetch(tmp_path, source="auto", urls=(), mirror=f"{base}/course-data", progress=False)
    assert list(tmp_path.iterdir()) == []
