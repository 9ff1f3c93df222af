#!/usr/bin/env python3
"""What limits tutorial 04's DeepSets network on four-momenta? A small measured study.

    python benchmarks/deepsets_four_momenta.py [--seeds 2019 2020] [--json out.json]

Trains tutorial 04's network (Phi 2 x 64, F 2 x 64, latent 32, Adam 3e-3, batch 128, the notebook's
learning-rate decay and early stopping on the validation loss) on dataset 3 as ``data/`` holds it
(first 6 000 / 1 000 / 4 000 jets), changing one thing at a time:

* training length: 120 epochs at a fixed learning rate, no early stopping;
* data size: a quarter and a half of the training jets;
* pooling: the sum over constituents (the Particle Flow Network's) instead of the mean, and the mean
  with log(multiplicity) handed to F;
* input scaling: every four-momentum divided by its jet's energy (direction unchanged);
* the jet's frame: the four-momenta rotated to phi_jet = 0 and boosted along the beam to
  y_jet = 0 (the symmetries removed by hand, the inputs still four-momenta);
* for reference the notebook's six jet-axis features.

Prints, per variant and seed, the best validation loss, its epoch and the test AUC with its bootstrap
uncertainty (1 000 resamplings of the test jets), and the mean over seeds.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.datasets import toptagging  # noqa: E402
from course_utils.notebook import classification  # noqa: E402
from course_utils.physics import jets, lorentz  # noqa: E402

SIZES = {"train": 6000, "val": 1000, "test": 4000}


class DeepSets(nn.Module):
    """Phi per constituent, pooled over the real ones (mean or sum, optionally with log n), then F."""

    def __init__(self, dim_input: int, pooling: str = "mean", inner_dim: int = 32, width: int = 64):
        super().__init__()
        self.pooling = pooling
        self.Phi = nn.Sequential(nn.Linear(dim_input, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                 nn.Linear(width, inner_dim))
        extra = 1 if pooling == "mean+logn" else 0
        self.F = nn.Sequential(nn.Linear(inner_dim + extra, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                               nn.Linear(width, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        weights = m.unsqueeze(-1)
        total = (self.Phi(x) * weights).sum(dim=1)
        n = weights.sum(dim=1)
        if self.pooling == "sum":
            return self.F(total)
        pooled = total / n
        if self.pooling == "mean+logn":
            pooled = torch.cat([pooled, torch.log(n)], dim=1)
        return self.F(pooled)


def standardised(features: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    real = features["train"][masks["train"]].astype(np.float64)
    mean, std = real.mean(axis=0), real.std(axis=0)
    return {s: np.where(masks[s][..., None], (f - mean) / std, 0.0).astype(np.float32) for s, f in features.items()}


def jet_frame(x: np.ndarray) -> np.ndarray:
    """Four-momenta rotated to phi_jet = 0 and boosted along the beam to rapidity y_jet = 0."""
    x = x.astype(np.float64)
    jet = x.sum(axis=1)
    angle = -lorentz.phi(jet)[:, None]
    rotated = x.copy()
    rotated[..., 1] = np.cos(angle) * x[..., 1] - np.sin(angle) * x[..., 2]
    rotated[..., 2] = np.sin(angle) * x[..., 1] + np.cos(angle) * x[..., 2]
    rapidity = 0.5 * np.log((jet[:, 0] + jet[:, 3]) / (jet[:, 0] - jet[:, 3]))
    boosted = lorentz.boost_z(rotated, -rapidity[:, None])
    return np.where(x[..., :1] > 0, boosted, 0.0)


def jet_axis(x: np.ndarray) -> np.ndarray:
    """The notebook's six features (log pT, log E, log pT/pT_jet, log E/E_jet, delta eta, delta phi)."""
    x = x.astype(np.float64)
    mask = x[..., 0] > 0
    jet = x.sum(axis=1)
    pt, energy = np.where(mask, lorentz.pt(x), 1.0), np.where(mask, x[..., 0], 1.0)
    eta = np.arcsinh(x[..., 3] / pt)
    dphi = lorentz.delta_phi(lorentz.phi(x), lorentz.phi(jet)[:, None])
    features = np.stack([np.log(pt), np.log(energy), np.log(pt / lorentz.pt(jet)[:, None]),
                         np.log(energy / jet[:, :1]), eta - lorentz.eta(jet)[:, None], dphi], axis=-1)
    return np.where(mask[..., None], features, 0.0)


def bootstrap_auc(labels: np.ndarray, scores: np.ndarray, n_boot: int = 1000, seed: int = 0) -> float:
    """Standard deviation of the AUC over resamplings of the test jets (rank formula, vectorised)."""
    from scipy.stats import rankdata

    index = np.random.default_rng(seed).integers(0, len(labels), (n_boot, len(labels)))
    y, s = labels[index], scores[index]
    ranks = rankdata(s, axis=1)
    n_pos = y.sum(axis=1)
    n_neg = y.shape[1] - n_pos
    auc = ((ranks * y).sum(axis=1) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return float(auc.std(ddof=1))


def batches(n: int, size: int, generator: torch.Generator | None):
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return [order[i:i + size] for i in range(0, n, size)]


def scores_of(model, x, m) -> np.ndarray:
    model.eval()
    parts = []
    with torch.no_grad():
        for b in batches(len(x), 1024, None):
            longest = int(m[b].sum(dim=1).max())
            parts.append(model(x[b, :longest], m[b, :longest])[:, 0].numpy())
    return np.concatenate(parts)


def loss_of(model, x, y, m) -> float:
    return F.binary_cross_entropy(torch.as_tensor(scores_of(model, x, m)), y).item()


def train(data, dim_input: int, pooling: str, seed: int, n_train: int, epochs: int = 40, patience: int | None = 8,
          decay: bool = True) -> dict:
    torch.manual_seed(seed)
    model = DeepSets(dim_input, pooling)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=1 / 3, patience=3) if decay else None
    generator = torch.Generator().manual_seed(seed)
    x, y, m = (t[:n_train] for t in data["train"])
    best, best_epoch, best_state, bad = math.inf, 0, None, 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.train()
        for b in batches(len(x), 128, generator):
            longest = int(m[b].sum(dim=1).max())
            loss = F.binary_cross_entropy(model(x[b, :longest], m[b, :longest])[:, 0], y[b])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        val = loss_of(model, *data["val"])
        if scheduler is not None:
            scheduler.step(val)
        if val < best:
            best, best_epoch, bad = val, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if patience is not None and bad >= patience:
                break
    model.load_state_dict(best_state)
    x_test, y_test, m_test = data["test"]
    scores = scores_of(model, x_test, m_test)
    labels = y_test.numpy()
    return {"val_loss": best, "best_epoch": best_epoch, "epochs_run": epoch, "auc": classification.auc(labels, scores),
            "auc_err": bootstrap_auc(labels, scores), "seconds": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2019, 2020])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--only", nargs="*", help="run only these variants")
    args = parser.parse_args()
    torch.set_num_threads(2)
    splits, record = toptagging.load_reference(ROOT / "data", SIZES)
    print(f"data: {record['source']}, generator version {record.get('version')}, "
          + ", ".join(f"{s} {len(splits[s][0])}" for s in splits))
    longest = max(int(jets.multiplicity(x).max()) for x, _ in splits.values())
    raw = {s: x[:, :longest] for s, (x, _) in splits.items()}  # only padding is dropped
    masks = {s: x[..., 0] > 0 for s, x in raw.items()}
    labels = {s: torch.as_tensor(y, dtype=torch.float32) for s, (_, y) in splits.items()}

    def dataset(features: dict[str, np.ndarray]) -> dict:
        return {s: (torch.as_tensor(features[s]), labels[s], torch.as_tensor(masks[s], dtype=torch.float32))
                for s in features}

    energy = {s: x.astype(np.float64).sum(axis=1)[:, :1] for s, x in raw.items()}
    inputs = {
        "four-momenta": dataset(standardised(raw, masks)),
        "four-momenta / E_jet": dataset(standardised({s: x / energy[s][:, :, None] for s, x in raw.items()}, masks)),
        "four-momenta in the jet frame": dataset(standardised({s: jet_frame(x) for s, x in raw.items()}, masks)),
        "jet-axis features": dataset(standardised({s: jet_axis(x) for s, x in raw.items()}, masks)),
    }
    n = SIZES["train"]
    variants = {
        "mean pooling (the notebook)": ("four-momenta", "mean", n, {}),
        "120 epochs, fixed learning rate": ("four-momenta", "mean", n, dict(epochs=120, patience=None, decay=False)),
        "1/4 of the training jets": ("four-momenta", "mean", n // 4, {}),
        "1/2 of the training jets": ("four-momenta", "mean", n // 2, {}),
        "sum pooling": ("four-momenta", "sum", n, {}),
        "mean pooling and log n": ("four-momenta", "mean+logn", n, {}),
        "inputs / E_jet": ("four-momenta / E_jet", "mean", n, {}),
        "jet frame": ("four-momenta in the jet frame", "mean", n, {}),
        "jet frame, sum pooling": ("four-momenta in the jet frame", "sum", n, {}),
        "jet-axis features (reference)": ("jet-axis features", "mean", n, {}),
    }
    results = {}
    for name, (features, pooling, n_train, options) in variants.items():
        if args.only and name not in args.only:
            continue
        runs = [train(inputs[features], inputs[features]["train"][0].shape[-1], pooling, seed, n_train, **options)
                for seed in args.seeds]
        results[name] = runs
        for seed, run in zip(args.seeds, runs):
            print(f"{name:34s} seed {seed}: val loss {run['val_loss']:.4f} (epoch {run['best_epoch']:3d} of "
                  f"{run['epochs_run']:3d}), test AUC {run['auc']:.3f} +- {run['auc_err']:.3f}, {run['seconds']:.0f} s",
                  flush=True)
        mean_auc = np.mean([r["auc"] for r in runs])
        print(f"{name:34s} mean over seeds: test AUC {mean_auc:.3f}, val loss {np.mean([r['val_loss'] for r in runs]):.4f}",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
