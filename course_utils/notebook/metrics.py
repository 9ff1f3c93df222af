"""The metrics a notebook reports at its end: one JSON line that `make course` collects and the
tests check against the ranges in ``solutions/<assignment>/expected_metrics.json``."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

METRICS_FILE_ENV = "COURSE_METRICS_FILE"


def rounded(value: float, digits: int = 3) -> float:
    """``value`` rounded for printing, with -0.0 turned into 0.0 (a sign that depends on the CPU)."""
    return round(float(value), digits) + 0.0


def report_metrics(metrics: dict[str, Any]) -> None:
    """Print ``metrics`` as one JSON line; also write them to ``$COURSE_METRICS_FILE`` when it is set
    (how the tests read the numbers of a notebook they re-run)."""
    clean = {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
             for key, value in metrics.items()}
    line = json.dumps(clean)
    print(line)
    target = os.environ.get(METRICS_FILE_ENV)
    if target:
        Path(target).write_text(line + "\n")
