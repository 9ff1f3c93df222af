"""python -m course_utils.instructor {generate,handout,execute,collect,grade,report,demo,summary,outputs} ASSIGNMENT...

generate  student notebooks (nbgrader release) from the solutions
handout   what a student receives, per assignment: build/handout/<A>/ and <A>.zip (--due B: B is past its
          due date, so the handout may hold what answers B)
execute   run the solutions with papermill at --scale, record metrics and run times
collect   copy each student's newest submission from nbgrader's exchange into grading/submitted (in place of
          `nbgrader collect`): folders made in another student's name, links, hard links and special files
          are refused and reported (grading/runs/<A>.collect.json); --exchange PATH, --no-update
grade     autograde every submission in grading/submitted on all cores (--workers N), then write
          feedback and grading/grades.csv; the scores are those of `nbgrader autograde`. Phase 1 on a Dask
          cluster: --scheduler tcp://host:8786 or --cluster FILE (dask-jobqueue); the gradebook where
          COURSE_DB_URL (or nbgrader_config.py) says, e.g. on PostgreSQL. A folder of grading/submitted whose
          name is no student id (collect's rule) is never graded, and reported
report    the instructor report from the gradebook: CSV files and a figure in grading/reports/
demo      autograde a demo class (five kinds of students, the submissions that attack the grader and, where
          kernels run in a sandbox, those that attack the grading), with its report
summary   print the course summary table
outputs   re-execute the solutions in place (CI scale, offline data): the outputs nbval checks
"""
from __future__ import annotations

import argparse
import sys

from ..notebook.paths import course_root


def _print_class_run(cell_grades: dict, run) -> None:
    print(f"  {len(run.students)} submissions in {run.seconds:g} s on {run.workers} workers; "
          f"feedback in grading/feedback, scores in grading/grades.csv")
    for student, cells in sorted(cell_grades.items()):
        score, maximum = sum(s for s, _ in cells.values()), sum(m for _, m in cells.values())
        print(f"    {student:12s} {score:4g}/{maximum:g}")
    print(f"  {run.isolation}")
    for line in run.notes():
        print(f"  ! {line}")


def _warn_missing_data(course, assignment: str) -> None:
    """Say loudly when the data the kernels will read lacks a dataset of ``assignment``: every student's data
    cell would fail, and with it the cells after it."""
    import os

    from ..datasets import registry
    from .class_grading import grading_data_dir

    data = grading_data_dir(course, dict(os.environ))
    for entry in registry.missing(data, [assignment]):
        print(f"warning: {entry.name}, the data of {assignment}, is not in {data}: every student's data cell will "
              f"fail. Make it there first (`make hub-data HUB_DATA={data}` or `make data`), then grade.", flush=True)


def _dask_phase_one(args):
    """The Dask cluster phase 1 runs on (--scheduler or --cluster), or None for this machine's processes."""
    if not (args.scheduler or args.cluster):
        return None
    if args.scheduler and args.cluster:
        raise RuntimeError("--scheduler and --cluster name two clusters: give one")
    from .dask_grading import DaskPhaseOne, SchedulerUnreachable

    try:
        phase_one = (DaskPhaseOne.connect(args.scheduler) if args.scheduler else
                     DaskPhaseOne.from_cluster_file(args.cluster))
    except SchedulerUnreachable as error:
        if not args.local_if_unreachable:
            raise
        print(f"warning: {error}; grading on this machine instead (--local-if-unreachable)", flush=True)
        return None
    print(f"phase 1 on the Dask cluster at {phase_one.address}", flush=True)
    return phase_one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.instructor", description=__doc__)
    parser.add_argument("command", choices=("generate", "handout", "execute", "collect", "grade", "report", "demo",
                                            "summary", "outputs"))
    parser.add_argument("assignments", nargs="+")
    parser.add_argument("--scale", default="ci", choices=("ci", "full"))
    parser.add_argument("--workers", type=int, default=None, help="grade: parallel kernels (default: one per core)")
    parser.add_argument("--due", nargs="*", default=[], metavar="B",
                        help="handout: assignments past their due date (their answers may appear)")
    parser.add_argument("--in-order", action="store_true",
                        help="handout: hand out the assignments in the order given, each after the ones before are due")
    parser.add_argument("--course", default=None,
                        help="collect, grade, report: the course folder (default: this course)")
    parser.add_argument("--exchange", default=None, metavar="PATH",
                        help="collect: nbgrader's exchange folder (default: Exchange.root in the course's "
                             "nbgrader_config.py)")
    parser.add_argument("--no-update", dest="update", action="store_false",
                        help="collect: never replace a submission collected before (default: a newer one replaces it)")
    parser.add_argument("--scheduler", default=None, metavar="URL",
                        help="grade: run phase 1 on the Dask cluster of this scheduler (tcp://host:8786)")
    parser.add_argument("--cluster", default=None, metavar="FILE",
                        help="grade: start the Dask cluster this file describes (dask-jobqueue or local) for phase 1")
    parser.add_argument("--local-if-unreachable", action="store_true",
                        help="grade: grade on this machine when the Dask scheduler cannot be reached")
    args = parser.parse_args(argv)
    root = course_root()

    if args.command == "generate":
        from .generate import generate_release

        for assignment in args.assignments:
            print(f"student notebook: {generate_release(root, assignment).relative_to(root)}")
    elif args.command == "handout":
        from .handout import HandoutLeak, build_handout

        for position, assignment in enumerate(args.assignments):
            due = tuple(args.due) + (tuple(args.assignments[:position]) if args.in_order else ())
            try:
                archive = build_handout(root, assignment, due=due)
            except (HandoutLeak, FileNotFoundError) as error:
                print(f"error: {error}", file=sys.stderr)
                return 1
            print(f"handout: {archive.relative_to(root)} and {archive.with_suffix('').relative_to(root)}/")
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
    elif args.command == "collect":
        from pathlib import Path

        from .collect import CollectError, collect

        course = Path(args.course).resolve() if args.course else root
        for assignment in args.assignments:
            try:
                result = collect(course, assignment, exchange=Path(args.exchange) if args.exchange else None,
                                 update=args.update)
            except CollectError as error:
                print(f"error: {error}", file=sys.stderr)
                return 2
            print("\n".join(result.lines()))
            print(f"  log: {result.log}")
    elif args.command == "grade":
        from pathlib import Path

        from ..grading import grader_side
        from .class_grading import invalid_student_id, submission_folders, submitted_students
        from .demo import grade

        course = Path(args.course).resolve() if args.course else root
        try:
            phase_one = _dask_phase_one(args)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        graded = 0
        for assignment in args.assignments:
            if not submitted_students(course, assignment):
                others = [ascii(f) for f in submission_folders(course, assignment) if invalid_student_id(f)]
                print(f"{assignment}: no submissions in grading/submitted/*/{assignment}/, skipped"
                      + (f" (not student ids, never graded: {', '.join(others)})" if others else ""))
                continue
            _warn_missing_data(course, assignment)
            print(f"autograding {assignment} ...", flush=True)
            done = []
            by_the_grader = assignment in grader_side.GRADED_BY_THE_GRADER

            def progress(result) -> None:
                done.append(result.student)
                found = "to look at (scores kept)" if by_the_grader else "flagged for a manual grade"
                note = result.failure or (found if result.flags() else "")
                print(f"  run {len(done)}: {result.student}{'  (' + note + ')' if note else ''}", flush=True)

            try:
                cell_grades, run = grade(course, assignment, workers=args.workers, progress=progress, phase_one=phase_one)
            except (FileNotFoundError, RuntimeError) as error:
                print(f"error: {error}", file=sys.stderr)
                if phase_one is not None:
                    phase_one.close()
                return 1
            graded += 1
            _print_class_run(cell_grades, run)
        if phase_one is not None:
            phase_one.close()
        if not graded:
            print("error: no submissions to grade (nbgrader collects them into grading/submitted/<student>/<assignment>/)",
                  file=sys.stderr)
            return 1
    elif args.command == "report":
        from pathlib import Path

        from .report import report_text, write_report

        from .gradebook_db import database_url, is_sqlite

        course = Path(args.course).resolve() if args.course else root
        url = database_url(course)
        if is_sqlite(url) and not Path(url.split(":///", 1)[1]).is_file():
            print(f"error: no gradebook in {course / 'grading'}: grade a class first (make grade)", file=sys.stderr)
            return 1
        written = write_report(course, args.assignments)
        for assignment in sorted({p.name.split("_cells")[0] for p in written if p.name.endswith("_cells.csv")}):
            print(report_text(course, assignment))
        for path in written:
            print(f"  written: {path}")
        if not written:
            print("no graded submissions in the gradebook yet")
    elif args.command == "demo":
        from .demo import run_demo

        print("autograding the demo class ...", flush=True)
        for assignment, result in run_demo(root, args.assignments).items():
            print(f"  {assignment}: {len(result['students'])} submissions in {result['run']['seconds']:g} s "
                  f"on {result['run']['workers']} workers")
            for student, info in sorted(result["students"].items()):
                note = f"  [{info['note']}]" if info["note"] else ""
                print(f"    {student:8s} {info['score']:4g}/{info['max_score']:g}  {info['description']}{note}")
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
