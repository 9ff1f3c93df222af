#!/usr/bin/env python3
"""Jet images: the per-jet recipe of the draft (tests/jet_image_reference.py) against the
vectorised course_utils.physics.jet_images.constit_to_img, on the same jets, in one run.

    python benchmarks/jet_images.py [--jets 3000] [--repeat 3]

Uses the top-tagging jets in data/toptagging-short if present, else synthetic jets. Prints
both timings, the speed-up (target: at least 50x) and the largest pixel difference.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from course_utils.physics.jet_images import constit_to_img  # noqa: E402
from jet_image_reference import constit_to_img_reference, synthetic_jets  # noqa: E402


def load_jets(n_jets: int) -> tuple[np.ndarray, str]:
    path = ROOT / "data" / "toptagging-short" / "x_train_short.npy"
    if path.is_file():
        jets = np.load(path, mmap_mode="r")[:n_jets]
        if len(jets) == n_jets:
            return np.asarray(jets, dtype=float), str(path.relative_to(ROOT))
    return synthetic_jets(n_jets, seed=0), "synthetic jets"


def best_time(function, jets, repeat: int) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(jets, 50, True, True, True)
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    jets, source = load_jets(args.jets)
    reference_time, reference = best_time(constit_to_img_reference, jets, 1)
    fast_time, fast = best_time(constit_to_img, jets, args.repeat)
    print(f"jets: {len(jets)} ({source}), 50 constituents each at most")
    print(f"per-jet reference: {reference_time:8.3f} s  ({1e3 * reference_time / len(jets):.3f} ms/jet)")
    print(f"vectorised:        {fast_time:8.3f} s  ({1e3 * fast_time / len(jets):.4f} ms/jet)")
    print(f"speed-up: {reference_time / fast_time:.0f}x (target >= 50x)")
    print(f"max |difference|: {np.max(np.abs(fast - reference)):.2e}")


if __name__ == "__main__":
    main()
