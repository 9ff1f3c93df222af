#!/usr/bin/env python3
"""Do grades depend on the probes' draw? The grading tests (``tests/test_grading_0N.py``: the solution, every
differently written right answer, every wrong answer in the cells its requirement names) run again with their
probes drawn under other salts, as a class run draws each submission's
(``course_utils.grading.grader_side.probe_seeds``).

    .venv/bin/python benchmarks/probe_draws.py [--salts N] [--first K] [--jobs J] [ASSIGNMENT_NUMBER ...]

Printed: per test that failed under some salt, how many of the N salts it failed under. A right answer (or
the solution) that fails under any salt is a tolerance to mend; a wrong answer that passes under some salts is
caught only with the printed frequency. Exit status 1 when some test failed under some salt.
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def failures(salt: str, files: list[str]) -> tuple[set[str], int]:
    """The test ids that failed with the probes drawn under ``salt``, and how many tests ran."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        env = {**os.environ, "GRADING_TEST_SALT": salt, "OMP_NUM_THREADS": "1"}
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *files],
                       cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if not report.exists():
            raise SystemExit(f"pytest wrote no report under salt {salt!r}")
        cases = ElementTree.parse(report).getroot().iter("testcase")
        failed, count = set(), 0
        for case in cases:
            count += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed.add(f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}")
        return failed, count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("numbers", nargs="*", default=["01", "02", "03", "04"], help="assignments, by number")
    parser.add_argument("--salts", type=int, default=8, help="how many salts (default 8)")
    parser.add_argument("--first", type=int, default=1, help="the first salt's number (salts are 'draw K')")
    parser.add_argument("--jobs", type=int, default=2, help="salts run at once (default 2)")
    args = parser.parse_args(argv)
    files = [f"tests/test_grading_{number}.py" for number in args.numbers]
    salts = [f"draw {k}" for k in range(args.first, args.first + args.salts)]
    counted: collections.Counter = collections.Counter()
    with ThreadPoolExecutor(args.jobs) as pool:
        for salt, (failed, count) in zip(salts, pool.map(lambda s: failures(s, files), salts)):
            print(f"{salt!r}: {count} tests, {len(failed)} failed", flush=True)
            counted.update(failed)
    for test, times in sorted(counted.items()):
        print(f"{times:3d}/{len(salts)}  {test}")
    return 1 if counted else 0


if __name__ == "__main__":
    sys.exit(main())
