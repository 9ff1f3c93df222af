#!/usr/bin/env python3
"""The offline top-tagging jets with and without the detector response: generation time per task, and what the
detector does to the jet mass (the top peak's width, a mass window's background rejection).

    .venv/bin/python benchmarks/offline_jets.py [--tasks 4] [--bootstrap 200]

Generates ``--tasks`` tasks of 500 events per process (top, QCD) twice, with ``JetSetup()`` (tracks, towers,
E-flow) and ``JetSetup(detector=False)`` (particles above the card's thresholds), alternating, with the same
seeds; prints the mean time per task ± its standard error, and, per setup, the top jets' mass peak (median and
half the central 68 % interval of the top jets within 120-230 GeV), and the mass window around 173 GeV that
keeps 30 % of the top jets with its QCD rejection 1/ε_B ± its bootstrap standard deviation.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.physics import jet_generation, jets  # noqa: E402

TOP_MASS = 173.0


def window_rejection(top_mass: np.ndarray, qcd_mass: np.ndarray, signal_efficiency: float = 0.3) -> tuple[float, float]:
    """(half-width of the window around TOP_MASS that keeps ``signal_efficiency`` of the top jets, 1/ε_B)."""
    half_width = float(np.quantile(np.abs(top_mass - TOP_MASS), signal_efficiency))
    passing = np.mean(np.abs(qcd_mass - TOP_MASS) <= half_width)
    return half_width, (1.0 / passing if passing > 0 else float("inf"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--bootstrap", type=int, default=200)
    args = parser.parse_args(argv)
    setups = {"detector (E-flow)": jet_generation.JetSetup(), "particles": jet_generation.JetSetup(detector=False)}
    times = {name: [] for name in setups}
    masses = {name: {"top": [], "qcd": []} for name in setups}
    for task in range(args.tasks):
        for process in ("top", "qcd"):
            for name, setup in setups.items():
                start = time.perf_counter()
                found = jet_generation.generate_task(process, 2024, task, setup)
                times[name].append(time.perf_counter() - start)
                masses[name][process].append(jets.jet_mass(found["constituents"].astype(np.float64)))
    rng = np.random.default_rng(0)
    for name in setups:
        spent = times[name]
        top, qcd = (np.concatenate(masses[name][p]) for p in ("top", "qcd"))
        peak = top[(top > 120) & (top < 230)]
        low, median, high = np.quantile(peak, [0.16, 0.5, 0.84])
        half_width, rejection = window_rejection(top, qcd)
        resampled = [window_rejection(rng.choice(top, len(top)), rng.choice(qcd, len(qcd)))[1] for _ in range(args.bootstrap)]
        print(f"{name:18s} {statistics.mean(spent):5.2f} ± {statistics.stdev(spent) / len(spent) ** 0.5:4.2f} s per task "
              f"of 500 events; {len(top)} top, {len(qcd)} QCD jets; top mass peak {median:.1f} GeV, half the central "
              f"68 % {0.5 * (high - low):.1f} GeV; window ± {half_width:.1f} GeV: 1/ε_B(30 %) = {rejection:.0f} ± "
              f"{np.std(resampled):.0f}", flush=True)


if __name__ == "__main__":
    main()
