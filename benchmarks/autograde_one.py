#!/usr/bin/env python3
"""How long `nbgrader autograde` takes for one submission of each tutorial (issue target: 10 s or less
for tutorial 01 at the grading scale), in a temporary course with the solution as the submission.

    .venv/bin/python benchmarks/autograde_one.py [ASSIGNMENT ...]

Needs the course's data (`make data`). Prints the seconds per assignment: kernel start, the notebook at
the "grading" setting (COURSE_SCALE=grading, set by nbgrader_config.py for autograde) and the tests.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.instructor.demo import prepare_course, submit  # noqa: E402
from course_utils.instructor.nbgrader_cli import run_nbgrader  # noqa: E402
from course_utils.instructor.submissions import perfect  # noqa: E402


def autograde_seconds(assignment: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        course = Path(folder)
        prepare_course(ROOT, course, [assignment])
        submit(course, assignment, {"alice": ("perfect solution", perfect)})
        start = time.perf_counter()
        run_nbgrader(course, "autograde", assignment, "--force")
        return time.perf_counter() - start


def main(assignments: list[str]) -> None:
    assignments = assignments or sorted(p.name for p in (ROOT / "solutions").glob("[0-9]*") if p.is_dir())
    for assignment in assignments:
        print(f"{assignment:28s} one submission autograded in {autograde_seconds(assignment):5.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
