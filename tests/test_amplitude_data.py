"""Dataset 1 on disk: offline generation, the download path, corrupt files, the CLI."""
import dataclasses
import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from course_utils.datasets import amplitude_regression, registry
from course_utils.datafiles.download import DownloadError, download_file, file_md5
from course_utils.datafiles.errors import DataError
from http_fixtures import serve

FOLDER = amplitude_regression.FOLDER
FOLDER_ROOT = Path(__file__).resolve().parent.parent


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def real_layout_zip(offline_data_dir) -> bytes:
    """A zip laid out like the real download (a top folder, plus macOS clutter)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in amplitude_regression.file_names():
            archive.write(offline_data_dir / FOLDER / name, f"{FOLDER}/{name}")
        archive.writestr(f"__MACOSX/{FOLDER}/._trn_dat.npy", b"junk")
    return buffer.getvalue()


def test_offline_dataset_layout_and_provenance(offline_data_dir):
    arrays, record = amplitude_regression.load(offline_data_dir)
    assert set(arrays) == set(amplitude_regression.file_names())
    assert arrays["trn_dat.npy"].shape == (30000, 5, 4) and arrays["tst_amp.npy"].shape == (30000,)
    assert record["source"] == "offline" and record["seed"] == amplitude_regression.DEFAULT_SEED
    assert "q qbar -> gamma gamma g" in record["process"]
    assert not np.array_equal(arrays["trn_dat.npy"], arrays["val_dat.npy"]), "splits must differ"
    assert listing(offline_data_dir / FOLDER) == {*amplitude_regression.file_names(), "SOURCE.json"}


def test_offline_dataset_is_deterministic(offline_data_dir, tmp_path):
    amplitude_regression.fetch(tmp_path, source="offline", progress=False)
    for name in amplitude_regression.file_names():
        assert file_md5(tmp_path / FOLDER / name) == file_md5(offline_data_dir / FOLDER / name)


def test_existing_data_is_kept_unless_forced(tmp_path):
    amplitude_regression.fetch(tmp_path, source="offline", progress=False)
    marker = tmp_path / FOLDER / "trn_amp.npy"
    os.utime(marker, (0, 0))
    amplitude_regression.fetch(tmp_path, source="offline", progress=False)
    assert marker.stat().st_mtime == 0, "complete data must be reused"
    amplitude_regression.fetch(tmp_path, source="offline", force=True, progress=False)
    assert marker.stat().st_mtime > 0, "--force must remake the data"


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape", "negative", "nan"])
def test_damaged_files_are_reported_clearly(offline_data_dir, tmp_path, damage):
    folder = tmp_path / FOLDER
    folder.mkdir()
    for name in [*amplitude_regression.file_names(), "SOURCE.json"]:
        (folder / name).write_bytes((offline_data_dir / FOLDER / name).read_bytes())
    victim = folder / ("val_amp.npy" if damage in ("negative", "nan") else "trn_dat.npy")
    if damage == "truncate":
        victim.write_bytes(victim.read_bytes()[:100_000])
    elif damage == "garbage":
        victim.write_bytes(b"this is not an npy file")
    elif damage == "wrong_shape":
        np.save(victim, np.zeros((100, 5, 4)))
    else:
        values = np.load(victim)
        values[17] = -1.0 if damage == "negative" else np.nan
        np.save(victim, values)
    with pytest.raises(DataError, match="get_data.py 1 data --force"):
        amplitude_regression.load(tmp_path)


def test_missing_provenance_is_an_error(offline_data_dir, tmp_path):
    folder = tmp_path / FOLDER
    folder.mkdir()
    for name in amplitude_regression.file_names():
        (folder / name).write_bytes((offline_data_dir / FOLDER / name).read_bytes())
    with pytest.raises(DataError, match="SOURCE.json"):
        amplitude_regression.load(tmp_path)


def test_download_path_installs_real_layout(real_layout_zip, tmp_path):
    with serve({"/tutorial-2-data.zip": real_layout_zip}) as base:
        record = amplitude_regression.fetch(tmp_path, source="download", urls=(f"{base}/tutorial-2-data.zip",), progress=False)
    assert record["source"] == "download" and record["url"].endswith("tutorial-2-data.zip")
    arrays, stored = amplitude_regression.load(tmp_path)
    assert stored["source"] == "download"
    assert listing(tmp_path) == {FOLDER, *(f"{FOLDER}/{n}" for n in [*amplitude_regression.file_names(), "SOURCE.json"])}, \
        "the zip and scratch folders must be gone"


def test_download_falls_through_to_second_url(real_layout_zip, tmp_path):
    with serve({"/pics/tutorial-2-data.zip": real_layout_zip}) as base:
        urls = (f"{base}/data/tutorial-2-data.zip", f"{base}/pics/tutorial-2-data.zip")
        record = amplitude_regression.fetch(tmp_path, source="download", urls=urls, progress=False)
    assert record["url"] == urls[1]


@pytest.mark.parametrize("problem", ["truncated", "corrupt", "missing_member", "not_found"])
def test_bad_downloads_fail_cleanly_and_leave_nothing(real_layout_zip, tmp_path, problem):
    body = real_layout_zip
    if problem == "corrupt":
        body = body[:5000] + bytes(b ^ 0xFF for b in body[5000:6000]) + body[6000:]
    elif problem == "missing_member":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(f"{FOLDER}/trn_dat.npy", b"x")
        body = buffer.getvalue()
    files = {} if problem == "not_found" else {"/d.zip": body}
    data = tmp_path / "data"
    data.mkdir()
    (data / "keep.txt").write_text("an unrelated file")
    with serve(files, truncate={"/d.zip"} if problem == "truncated" else set()) as base:
        with pytest.raises(DownloadError) as error:
            amplitude_regression.fetch(data, source="download", urls=(f"{base}/d.zip",), progress=False)
    expected = {"truncated": "truncated", "corrupt": "CRC|not a valid zip|readable", "missing_member": "lacks",
                "not_found": "404"}[problem]
    assert any(word in str(error.value) for word in expected.split("|")), str(error.value)
    assert listing(data) == {"keep.txt"}, "a failed download must leave nothing behind"


def test_auto_source_falls_back_to_offline(tmp_path, capsys):
    with serve({}) as base:
        record = amplitude_regression.fetch(tmp_path, source="auto", urls=(f"{base}/missing.zip",), progress=False)
    assert record["source"] == "offline"
    assert "falling back to the offline generator" in capsys.readouterr().out


def test_download_file_checks_md5_and_keeps_cwd_clean(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = b"0123456789" * 1000
    with serve({"/f.bin": payload}) as base:
        good = download_file([f"{base}/f.bin"], tmp_path / "out" / "f.bin", md5=file_md5_bytes(payload), progress=False)
        assert good.endswith("/f.bin") and (tmp_path / "out" / "f.bin").read_bytes() == payload
        with pytest.raises(DownloadError, match="MD5 checksum"):
            download_file([f"{base}/f.bin"], tmp_path / "out" / "g.bin", md5="0" * 32, progress=False)
    assert sorted(os.listdir(tmp_path)) == ["out"], "wget's scratch files must not land in the working directory"
    assert sorted(os.listdir(tmp_path / "out")) == ["f.bin"]


def file_md5_bytes(payload: bytes) -> str:
    import hashlib

    return hashlib.md5(payload).hexdigest()


def test_registry_accepts_numbers_and_names():
    assert registry.lookup("1").number == 1
    assert registry.lookup("Amplitude Regression").number == 1
    assert registry.lookup("amplitude").number == 1
    with pytest.raises(KeyError, match="Known datasets"):
        registry.lookup("42")


def test_get_data_cli(root, tmp_path):
    script = root / "data" / "get_data.py"
    done = subprocess.run([sys.executable, str(script), "1", str(tmp_path), "--offline", "--quiet"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "generated offline" in done.stdout
    assert amplitude_regression.is_complete(tmp_path / FOLDER)
    unknown = subprocess.run([sys.executable, str(script), "nope", str(tmp_path)], capture_output=True, text=True)
    assert unknown.returncode == 2 and "Unknown dataset" in unknown.stderr


def test_get_data_cli_passes_scale_only_to_scaled_datasets(monkeypatch, tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("get_data", FOLDER_ROOT / "data" / "get_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seen = {}

    def fake(number):
        def fetch(data_dir, **options):
            seen[number] = options
            return {"source": "offline", "generator": "fake", "seed": 0}
        return fetch

    entries = tuple(dataclasses.replace(e, fetcher=fake(e.number)) for e in registry.REGISTRY)
    monkeypatch.setattr(registry, "REGISTRY", entries)
    assert module.main(["all", str(tmp_path), "--offline", "--scale", "ci"]) == 0
    assert set(seen) == {1, 2, 3, 4}
    assert seen[2]["scale"] == seen[3]["scale"] == "ci" and "scale" not in seen[1] and "scale" not in seen[4]
    assert all(options["source"] == "offline" for options in seen.values())
