#!/usr/bin/env python3
"""What deciding grades in the grader's process costs: one perfect submission of each assignment graded by the
grader (``course_utils.grading.grader_side.GRADED_BY_THE_GRADER``), by `make grade`'s class run with its
test cells checked in the grader through the probe channel, and with the same test cells run in the sandboxed
kernel as before (the set emptied in this process; phase 1 is forked from it).

    .venv/bin/python benchmarks/grader_side_checks.py [--repeat N] [ASSIGNMENT ...]

Needs the course's data (`make data`). Printed per way: the class run's mean time and phase 1's, each with
the standard error of the mean, and the ratio of the two phase-1 means (the target: at most 1.5).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.grading import grader_side  # noqa: E402
from course_utils.instructor.class_grading import grade_class  # noqa: E402
from course_utils.instructor.demo import prepare_course, submit  # noqa: E402
from course_utils.instructor.submissions import perfect  # noqa: E402


def timed(assignment: str) -> tuple[float, float]:
    """(seconds in all, seconds of phase 1) to grade the solution of ``assignment`` as a class of one."""
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        prepare_course(ROOT, course, [assignment])
        submit(course, assignment, {"alice": ("perfect solution", perfect)})
        start = time.perf_counter()
        run = grade_class(course, assignment, workers=1, env={"COURSE_DATA_DIR": str(ROOT / "data")})
        if run.failed or run.flagged:
            raise SystemExit(f"{assignment}: the solution was not graded cleanly: {run.notes()}")
        return time.perf_counter() - start, run.phase_seconds["execute"]


def summary(values: list[float]) -> str:
    error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):5.1f} ± {error:3.1f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("assignments", nargs="*", help="the assignments to time (default: every one)")
    args = parser.parse_args(argv)
    unknown = set(args.assignments) - grader_side.GRADED_BY_THE_GRADER
    if unknown:
        parser.error(f"not graded in the grader: {', '.join(sorted(unknown))}")
    print(f"{args.repeat} runs each, mean ± its standard error")
    for assignment in sorted(args.assignments or grader_side.GRADED_BY_THE_GRADER):
        phase_one = {}
        for way in ("in the kernel", "in the grader"):
            chosen = grader_side.GRADED_BY_THE_GRADER
            grader_side.GRADED_BY_THE_GRADER = chosen if way == "in the grader" else frozenset()
            try:
                runs = [timed(assignment) for _ in range(args.repeat)]
            finally:
                grader_side.GRADED_BY_THE_GRADER = chosen
            phase_one[way] = statistics.mean(r[1] for r in runs)
            print(f"{assignment:28s} test cells {way:14s} {summary([r[0] for r in runs])}   phase 1 "
                  f"{summary([r[1] for r in runs])}", flush=True)
        print(f"{assignment:28s} phase 1, grader / kernel: {phase_one['in the grader'] / phase_one['in the kernel']:.2f}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
