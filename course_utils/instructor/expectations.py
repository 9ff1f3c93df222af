"""What a correct run of a solution gives: ``solutions/<A>/expected_metrics.json``.

Float32 training takes another path on every CPU type, so its numbers are not compared
exactly (nbval does that only for what is the same on every machine); they are checked against
ranges instead, one file per notebook, one range per metric and scale:

    {"ci": {"median_abs_rel_dev": [0.02, 0.10], ...}, "full": {...}}

A metric that is missing, not a number (NaN is written as null) or outside its range is reported.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

EXPECTATIONS_FILE = "expected_metrics.json"


def expected_ranges(root: Path, assignment: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Scale -> metric -> (low, high) for ``assignment``; empty if it has no file."""
    path = Path(root) / "solutions" / assignment / EXPECTATIONS_FILE
    if not path.is_file():
        return {}
    raw = json.loads(path.read_text())
    return {scale: {name: (float(low), float(high)) for name, (low, high) in ranges.items()}
            for scale, ranges in raw.items()}


def out_of_range(metrics: dict, ranges: dict[str, tuple[float, float]]) -> list[str]:
    """One line per metric of ``ranges`` that ``metrics`` misses, has as a non-number or outside its range."""
    problems = []
    for name, (low, high) in ranges.items():
        value = metrics.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{name} = {value!r} is not a finite number (expected {low} to {high})")
        elif not low <= value <= high:
            problems.append(f"{name} = {value} is outside its expected range {low} to {high}")
    return problems
