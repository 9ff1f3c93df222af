"""Top-tagging jets: Pythia 8 + FastJet generation, dataset 2 (short .npy) and dataset 3 (reference .h5)."""
import io
import zipfile

import numpy as np
import pandas as pd
import pytest

from course_utils.datasets import registry, toptagging
from course_utils.physics import jet_generation, jets
from course_utils.datafiles.download import DownloadError
from course_utils.datafiles.errors import DataError
from http_fixtures import serve

CI = toptagging.SCALES["ci"]


@pytest.fixture(scope="module")
def jet_data(offline_data_dir):
    """Both datasets at CI scale, generated offline (by the session's fixture)."""
    toptagging.fetch_reference(offline_data_dir, source="offline", scale="ci", progress=False)
    return offline_data_dir


@pytest.fixture(scope="module")
def short(jet_data):
    return toptagging.load_short(jet_data)


def test_short_layout_and_balance(short):
    splits, record = short
    assert record["source"] == "offline" and record["scale"] == "ci" and "Pythia" in record["generator"]
    for split, (x, y) in splits.items():
        assert x.shape == (CI["short"][split], 200, 4) and x.dtype == np.float32
        assert y.shape == (len(x),) and set(np.unique(y)) == {0, 1}
        assert y.sum() == len(y) // 2, "balanced classes"
        assert 0.2 < y[: len(y) // 2].mean() < 0.8, "shuffled, not sorted by class"


def test_short_jets_pass_the_reference_selection(short):
    splits, _ = short
    x = np.concatenate([splits[s][0] for s in splits]).astype(np.float64)
    pt, eta = jets.jet_pt(x), jets.jet_eta(x)
    # the constituents sum to the jet unless a jet has more than 200 of them
    full = jets.multiplicity(x) < 200
    assert np.all((pt[full] > 545) & (pt[full] < 655))
    assert np.all(np.abs(eta[full]) < 2.05)
    constituent_pt = jets.constituent_pt(x)
    assert np.all(np.diff(constituent_pt, axis=1) <= 1e-3), "constituents sorted by pT"
    mask = jets.padding_mask(x)
    assert np.all(mask[:, :-1] >= mask[:, 1:]), "zero padding only after the last constituent"
    assert np.all(x[~mask] == 0)
    setup = jet_generation.JetSetup()
    seen = (constituent_pt > 0.1 * setup.track_pt_min) | (x[..., 0] > setup.ecal_energy_min * (1 - 1e-5))
    assert np.all(seen[mask]), "every constituent is a track (momenta smeared) or a deposit above 0.5 GeV"


def test_top_mass_peak_and_broad_qcd_mass(short):
    splits, _ = short
    x, y = (np.concatenate(parts) for parts in zip(*splits.values()))
    mass = jets.jet_mass(x.astype(np.float64))
    top, qcd = mass[y == 1], mass[y == 0]
    assert 160 < np.median(top) < 185, f"top mass median {np.median(top):.1f} GeV"
    assert np.mean((top > 140) & (top < 205)) > 0.6
    assert np.median(qcd) < 110 and np.mean((qcd > 140) & (qcd < 205)) < 0.25
    assert jets.multiplicity(x[y == 1]).mean() > jets.multiplicity(x[y == 0]).mean()


def test_generation_is_deterministic_by_seed():
    setup = jet_generation.JetSetup(events_per_task=60)
    first = jet_generation.generate_task("qcd", 5, 0, setup)
    again = jet_generation.generate_task("qcd", 5, 0, setup)
    other = jet_generation.generate_task("qcd", 6, 0, setup)
    np.testing.assert_array_equal(first["constituents"], again["constituents"])
    assert len(first["constituents"]) > 0
    assert not np.array_equal(first["constituents"], other["constituents"])


def test_top_truth_is_the_matched_top(jet_data):
    x, y = toptagging.read_reference(jet_data / "top-tagging-reference" / "train.h5")
    frame = pd.read_hdf(jet_data / "top-tagging-reference" / "train.h5", key="table")
    truth = frame[["truthE", "truthPX", "truthPY", "truthPZ"]].to_numpy(np.float64)
    top_mass = np.sqrt(np.maximum(truth[:, 0] ** 2 - (truth[:, 1:] ** 2).sum(axis=1), 0))
    np.testing.assert_allclose(np.median(top_mass[y == 1]), 172.5, atol=3.0)
    assert np.all(truth[y == 0] == 0)


def test_reference_files_have_the_exact_format(jet_data):
    folder = jet_data / "top-tagging-reference"
    for split, ttv in toptagging.REFERENCE_TTV.items():
        frame = pd.read_hdf(folder / f"{split}.h5", key="table", start=0, stop=5)
        assert list(frame.columns) == toptagging.reference_columns()
        assert len(frame.columns) == 806 and frame.columns[0] == "E_0" and frame.columns[799] == "PZ_199"
        assert set(frame["ttv"]) == {ttv}
        assert toptagging.reference_length(folder / f"{split}.h5") == CI["reference"][split]
    x, y = toptagging.read_reference(folder / "val.h5")
    assert x.shape == (CI["reference"]["val"], 200, 4) and y.sum() == len(y) // 2


def test_reference_is_read_in_chunks_and_never_past_stop(jet_data, monkeypatch):
    path = jet_data / "top-tagging-reference" / "train.h5"
    whole, labels = toptagging.read_reference(path)
    calls = []
    original = pd.read_hdf

    def spy(*args, **kwargs):
        calls.append((kwargs["start"], kwargs["stop"]))
        return original(*args, **kwargs)

    monkeypatch.setattr(pd, "read_hdf", spy)
    part, part_labels = toptagging.read_reference(path, start=100, stop=1050, chunk_size=300)
    np.testing.assert_array_equal(part, whole[100:1050])
    np.testing.assert_array_equal(part_labels, labels[100:1050])
    assert calls == [(100, 400), (400, 700), (700, 1000), (1000, 1050)]
    assert len(toptagging.read_reference(path, start=0, stop=0)[0]) == 0


def test_load_reference_reads_the_first_jets_of_each_split(jet_data, tmp_path, monkeypatch):
    """What tutorial 04 calls: the first n jets per split, never more rows, and clear messages when files are missing
    or broken."""
    folder = jet_data / "top-tagging-reference"
    stops = []
    original = pd.read_hdf

    def spy(*args, **kwargs):
        stops.append(kwargs["stop"])
        return original(*args, **kwargs)

    monkeypatch.setattr(pd, "read_hdf", spy)
    splits, record = toptagging.load_reference(jet_data, {"train": 300, "val": 50, "test": 10**6})
    monkeypatch.undo()
    assert record["source"] == "offline" and toptagging.reference_is_complete(jet_data)
    assert max(stops) <= CI["reference"]["test"] and 300 in stops and 50 in stops
    assert [len(splits[s][0]) for s in ("train", "val", "test")] == [300, 50, CI["reference"]["test"]]
    whole, labels = toptagging.read_reference(folder / "train.h5", 0, 300)
    np.testing.assert_array_equal(splits["train"][0], whole)
    np.testing.assert_array_equal(splits["train"][1], labels)

    assert not toptagging.reference_is_complete(tmp_path)
    with pytest.raises(DataError, match="get_data.py 3"):
        toptagging.load_reference(tmp_path, {"train": 1, "val": 1, "test": 1})
    import shutil

    shutil.copytree(folder, tmp_path / "top-tagging-reference")
    victim = tmp_path / "top-tagging-reference" / "val.h5"
    victim.write_bytes(victim.read_bytes()[:4000])
    with pytest.raises(DataError, match="--force"):
        toptagging.load_reference(tmp_path, {"train": 10, "val": 10, "test": 10})


def test_corrupt_files_are_reported(jet_data, tmp_path):
    import shutil

    shutil.copytree(jet_data / "toptagging-short", tmp_path / "toptagging-short")
    victim = tmp_path / "toptagging-short" / "x_val_short.npy"
    victim.write_bytes(victim.read_bytes()[:50_000])
    with pytest.raises(DataError, match="--force"):
        toptagging.load_short(tmp_path)
    broken = tmp_path / "broken.h5"
    broken.write_bytes((jet_data / "top-tagging-reference" / "test.h5").read_bytes()[:4000])
    with pytest.raises(DataError, match="broken.h5"):
        toptagging.read_reference(broken)


def test_short_download_path(jet_data, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in toptagging.short_file_names():
            archive.write(jet_data / "toptagging-short" / name, f"toptagging-short/{name}")
    good, bad = buffer.getvalue(), buffer.getvalue()[:-2000]
    with serve({"/good.zip": good, "/bad.zip": bad}) as base:
        record = toptagging.fetch_short(tmp_path / "a", source="download", urls=(f"{base}/good.zip",), progress=False)
        assert record["source"] == "download"
        splits, _ = toptagging.load_short(tmp_path / "a")
        assert splits["train"][0].shape == (CI["short"]["train"], 200, 4)
        (tmp_path / "b").mkdir()
        with pytest.raises(DownloadError):
            toptagging.fetch_short(tmp_path / "b", source="download", urls=(f"{base}/bad.zip",), progress=False)
    assert list((tmp_path / "b").iterdir()) == []


def test_reference_download_path(jet_data, tmp_path):
    files = {f"/records/2603256/files/{s}.h5": (jet_data / "top-tagging-reference" / f"{s}.h5").read_bytes()
             for s in toptagging.SPLITS}
    with serve(files, truncate={"/records/2603256/files/val.h5"}) as base:
        pattern = base + "/records/2603256/files/{split}.h5"
        (tmp_path / "data").mkdir()
        with pytest.raises(DownloadError, match="val.h5"):
            toptagging.fetch_reference(tmp_path / "data", source="download", url_pattern=pattern, progress=False)
        assert list((tmp_path / "data").iterdir()) == [], "nothing half-written"
    with serve(files) as base:
        pattern = base + "/records/2603256/files/{split}.h5"
        record = toptagging.fetch_reference(tmp_path / "data", source="download", url_pattern=pattern, progress=False)
    assert record["source"] == "download" and len(record["url"]) == 3
    assert toptagging.reference_length(tmp_path / "data" / "top-tagging-reference" / "test.h5") == CI["reference"]["test"]


def test_cached_jets_are_reused(jet_data, monkeypatch):
    assert any((jet_data / ".jet-cache").rglob("*.npz"))
    monkeypatch.setattr(jet_generation, "generate_task", lambda *a, **k: pytest.fail("the cache must be used"))
    toptagging.fetch_short(jet_data, source="offline", scale="ci", force=True, workers=1, progress=False)


def test_registry_and_cli_names():
    assert registry.lookup("2").fetch is toptagging.fetch_short
    assert registry.lookup("top tagging reference").number == 3
    with pytest.raises(ValueError, match="scale"):
        toptagging.fetch_short("unused", scale="huge")


def test_jet_images_of_generated_jets_match_the_reference(short):
    from course_utils.physics.jet_images import constit_to_img
    from jet_image_reference import constit_to_img_reference

    x = short[0]["train"][0][:1000]
    fast = constit_to_img(x)
    assert np.max(np.abs(fast - constit_to_img_reference(x))) < 1e-6
    y = short[0]["train"][1][:1000]
    # top jets spread their pT over more of the image than QCD jets (three prongs)
    occupied = (fast > 0.01).sum(axis=1)
    assert occupied[y == 1].mean() > occupied[y == 0].mean()


def test_offline_sets_of_another_generator_version_size_or_detector_setting_are_remade(jet_data, tmp_path, monkeypatch):
    import json
    import shutil

    shutil.copytree(jet_data / "toptagging-short", tmp_path / "toptagging-short")
    forced = []
    monkeypatch.setattr(toptagging.fetching, "fetch_dataset",
                        lambda target, names, source, force, **kwargs: forced.append(force) or {})
    toptagging.fetch_short(tmp_path, source="offline", scale="ci", progress=False)
    record_path = tmp_path / "toptagging-short" / "SOURCE.json"
    record = json.loads(record_path.read_text())
    assert record["version"] == jet_generation.GENERATOR_VERSION
    record_path.write_text(json.dumps({**record, "version": jet_generation.GENERATOR_VERSION - 1}))
    toptagging.fetch_short(tmp_path, source="offline", scale="ci", progress=False)
    record_path.write_text(json.dumps({**record, "sizes": {**record["sizes"], "test": record["sizes"]["test"] + 2}}))
    toptagging.fetch_short(tmp_path, source="offline", scale="ci", progress=False)
    record_path.write_text(json.dumps({**record, "detector": not record["detector"]}))
    toptagging.fetch_short(tmp_path, source="offline", scale="ci", progress=False)
    record_path.write_text(json.dumps(record))
    toptagging.fetch_short(tmp_path, source="offline", scale="ci", progress=False)
    assert forced == [False, True, True, True, False]
