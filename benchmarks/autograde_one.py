#!/usr/bin/env python3
"""How long autograding one submission takes, per tutorial, in a temporary course with the solution as the
submission: nbgrader's own serial `nbgrader autograde` (its kernel unprotected), and `make grade`'s class run of
that one submission with the kernel in its sandbox and without (``COURSE_KERNEL_SANDBOX=off``).

    .venv/bin/python benchmarks/autograde_one.py [--repeat N] [ASSIGNMENT ...]

Needs the course's data (`make data`). Each timing is repeated ``--repeat`` times (default 3) in fresh courses;
printed: the mean and the standard deviation of the mean, per way of grading, and for the class runs their
phase 1 (snapshot, scan, canaries, the kernel: the part the sandbox changes) and the replay.
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

from course_utils.instructor.class_grading import grade_class  # noqa: E402
from course_utils.instructor.demo import prepare_course, submit  # noqa: E402
from course_utils.instructor.nbgrader_cli import run_nbgrader  # noqa: E402
from course_utils.instructor.sandbox.kernel_sandbox import detect_isolation  # noqa: E402
from course_utils.instructor.submissions import perfect  # noqa: E402


def timed(assignment: str, way: str) -> tuple[float, float]:
    """(seconds in all, seconds of phase 1) to autograde the solution of ``assignment`` one ``way``."""
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        prepare_course(ROOT, course, [assignment])
        submit(course, assignment, {"alice": ("perfect solution", perfect)})
        start = time.perf_counter()
        if way == "nbgrader":
            run_nbgrader(course, "autograde", assignment, "--force")
            return time.perf_counter() - start, float("nan")
        run = grade_class(course, assignment, workers=1, env={"COURSE_KERNEL_SANDBOX": way})
        if run.failed or run.flagged:
            raise SystemExit(f"{assignment}: the solution was not graded cleanly: {run.notes()}")
        return time.perf_counter() - start, run.phase_seconds["execute"]


def mean_and_error(values: list[float]) -> str:
    error = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):5.1f} ± {error:3.1f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    assignments = args.assignments or sorted(p.name for p in (ROOT / "solutions").glob("[0-9]*") if p.is_dir())
    sandboxed = detect_isolation("auto")
    print(f"kernel sandbox: {sandboxed.mode}{' (' + sandboxed.reason + ')' if sandboxed.reason else ''}; "
          f"{args.repeat} runs each, mean ± its standard error")
    ways = ["nbgrader", "off"] + (["auto"] if sandboxed.isolated else [])
    labels = {"nbgrader": "nbgrader autograde", "off": "make grade, no sandbox", "auto": "make grade, sandboxed"}
    for assignment in assignments:
        for way in ways:
            runs = [timed(assignment, way) for _ in range(args.repeat)]
            total = mean_and_error([r[0] for r in runs])
            phase = "" if way == "nbgrader" else f"   phase 1 {mean_and_error([r[1] for r in runs])}"
            print(f"{assignment:28s} {labels[way]:24s} {total}{phase}", flush=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
