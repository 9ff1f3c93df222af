#!/usr/bin/env python3
"""Autograding a class of 30 per tutorial: nbgrader's serial `nbgrader autograde` against the parallel
command (`python -m course_utils.instructor grade`, what `make grade` runs).

    .venv/bin/python benchmarks/grade_class.py [--students 30] [--workers N] [--skip-serial] [--sandbox auto|off]
                                               [ASSIGNMENT ...]

The class cycles through the demo's five kinds of submission (perfect, untouched, a slip the hidden tests
catch, a runaway loop cut off by the 15 s cell limit, a syntax error), so a sixth of it loops. Both runs
grade the same submissions in fresh course folders and must give the same scores; printed per tutorial:
seconds serial and parallel, their ratio, and the throughput in submissions per minute. Needs the
course's data (`make data`). Autograding only: feedback and export take the same time either way.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.instructor.class_grading import default_workers, grade_class  # noqa: E402
from course_utils.instructor.demo import prepare_course, submit  # noqa: E402
from course_utils.instructor.nbgrader_cli import grades, run_nbgrader  # noqa: E402
from course_utils.instructor.submissions import demo_class  # noqa: E402


def synthetic_class(assignment: str, size: int) -> dict:
    """``size`` students, the demo's kinds in turn: student07 is the same kind as student02."""
    kinds = list(demo_class(assignment).values())
    return {f"student{i:02d}": kinds[i % len(kinds)] for i in range(size)}


def timed_class(assignment: str, students: dict, workers: int | None, sandbox: str = "auto") -> tuple[float, dict]:
    """Seconds to autograde the class (serially when ``workers`` is None; else with the kernels in their sandbox,
    or not with ``sandbox="off"``) and the scores."""
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        course = Path(folder)
        prepare_course(ROOT, course, [assignment])
        submit(course, assignment, students)
        start = time.perf_counter()
        if workers is None:
            run_nbgrader(course, "autograde", assignment, "--force")
        else:
            grade_class(course, assignment, workers=workers, env={"COURSE_KERNEL_SANDBOX": sandbox})
        seconds = time.perf_counter() - start
        return seconds, grades(course, assignment)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignments", nargs="*")
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--skip-serial", action="store_true", help="time the parallel command only")
    parser.add_argument("--sandbox", default="auto", choices=("auto", "off"),
                        help="the parallel command's kernels in their sandbox (auto) or not (off)")
    args = parser.parse_args(argv)
    assignments = args.assignments or sorted(p.name for p in (ROOT / "solutions").glob("[0-9]*") if p.is_dir())
    print(f"{args.students} students per tutorial, {args.workers} workers, kernel sandbox {args.sandbox}")
    print(f"{'tutorial':28s} {'serial':>9s} {'parallel':>9s} {'ratio':>6s} {'per minute':>11s}")
    totals = [0.0, 0.0]
    for assignment in assignments:
        students = synthetic_class(assignment, args.students)
        parallel_s, parallel_grades = timed_class(assignment, students, args.workers, args.sandbox)
        serial_s = float("nan")
        if not args.skip_serial:
            serial_s, serial_grades = timed_class(assignment, students, None)
            if serial_grades != parallel_grades:
                raise SystemExit(f"{assignment}: parallel and serial scores differ")
        totals[0] += serial_s
        totals[1] += parallel_s
        print(f"{assignment:28s} {serial_s:8.0f}s {parallel_s:8.0f}s {serial_s / parallel_s:6.2f} "
              f"{60 * args.students / parallel_s:11.1f}", flush=True)
    count = args.students * len(assignments)
    print(f"{'all':28s} {totals[0]:8.0f}s {totals[1]:8.0f}s {totals[0] / totals[1]:6.2f} {60 * count / totals[1]:11.1f}")
    print(f"all {len(assignments)} classes in parallel: {totals[1] / 60:.1f} min (target: 15 min on 2 cores)")


if __name__ == "__main__":
    main()
