"""python -m course_utils.instructor {generate,execute,demo,summary,outputs} ASSIGNMENT...

generate  student notebooks (nbgrader release) from the solutions
execute   run the solutions with papermill at --scale, record metrics and run times
demo      autograde a demo class of five synthetic students
summary   print the course summary table
outputs   re-execute the solutions in place (CI scale, offline data): the outputs nbval checks
"""
from __future__ import annotations

import argparse
import sys

from ..notebook.paths import course_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor", description=__doc__)
    parser.add_argument("command", choices=("generate", "execute", "demo", "summary", "outputs"))
    parser.add_argument("assignments", nargs="+")
    parser.add_argument("--scale", default="ci", choices=("ci", "full"))
    args = parser.parse_args(argv)
    root = course_root()

    if args.command == "generate":
        from .generate import generate_release

        for assignment in args.assignments:
            print(f"student notebook: {generate_release(root, assignment).relative_to(root)}")
    elif args.command == "execute":
        from .execute import execute_solution

        for assignment in args.assignments:
            print(f"executing {assignment} at scale {args.scale} ...", flush=True)
            try:
                result = execute_solution(root, assignment, args.scale)
            except Exception as exc:  # papermill names the failing cell
                print(f"error: {assignment} failed: {exc}", file=sys.stderr)
                return 1
            print(f"  {result['runtime_s']} s, metrics {result['metrics']}")
    elif args.command == "demo":
        from .demo import run_demo

        print("autograding the demo class ...", flush=True)
        for assignment, students in run_demo(root, args.assignments).items():
            for student, info in sorted(students.items()):
                print(f"  {assignment} {student:6s} {info['score']:g}/{info['max_score']:g}  ({info['description']})")
    elif args.command == "outputs":
        from .outputs import refresh_outputs

        for assignment in args.assignments:
            print(f"stored outputs refreshed: {refresh_outputs(root, assignment).relative_to(root)}")
    else:
        from .summary import summary_table

        print(summary_table(root, args.assignments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
