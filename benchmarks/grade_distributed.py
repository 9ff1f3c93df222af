#!/usr/bin/env python3
"""Grading past one machine, measured on one: what phase 1 on a Dask cluster costs per submission against the
local processes of `make grade`, and what the single serial replay costs on SQLite and on PostgreSQL.

    .venv/bin/python benchmarks/grade_distributed.py [--students 10] [--workers 2] [--repeats 2] [ASSIGNMENT]

Each repeat grades the same synthetic class (the demo's five kinds of submission in turn, as
benchmarks/grade_class.py) twice in fresh course folders: with local processes into SQLite, and on a Dask
cluster of the same size (a LocalCluster on 127.0.0.1: ``--workers`` worker processes of one thread) into a
PostgreSQL server (Debian's, started in a temporary folder; SQLite when it is not installed). Both must give
the same scores. Printed: phase 1 (execute) and replay seconds of every run, then mean +- standard error over
the repeats of the overhead per submission of the Dask path, the throughput per worker core, the replay per
submission on each database, the bytes a task sends and returns, and what these give for 1000 students.
Needs the course's data (`make data`).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from grade_class import synthetic_class  # noqa: E402

from course_utils.instructor.class_grading import grade_class  # noqa: E402
from course_utils.instructor.dask_grading import DaskPhaseOne, make_bundle, read_tree  # noqa: E402
from course_utils.instructor.demo import prepare_course, submit  # noqa: E402
from course_utils.instructor.nbgrader_cli import grades  # noqa: E402


def mean_and_error(values: list[float]) -> tuple[float, float]:
    """Mean and its standard error (0 for a single value)."""
    return statistics.fmean(values), (statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0)


def graded(assignment: str, students: dict, env: dict[str, str], workers: int, phase_one=None) -> tuple[dict, dict, dict]:
    """Grade ``students`` in a fresh course: (phase seconds, scores, task sizes in bytes)."""
    import os

    with tempfile.TemporaryDirectory(prefix="bench-dist-") as folder:
        course = Path(folder)
        saved = {name: os.environ.get(name) for name in env}
        os.environ.update(env)  # nbgrader generate_assignment writes the assignment where COURSE_DB_URL says
        try:
            prepare_course(ROOT, course, [assignment])
        finally:
            for name, value in saved.items():
                os.environ.pop(name) if value is None else os.environ.__setitem__(name, value)
        submit(course, assignment, students)
        sizes: dict[str, float] = {}
        if phase_one is not None:
            measured = phase_one.run

            def run_and_measure(snapshot, names, limit_s, progress, **options):
                results = measured(snapshot, names, limit_s, progress, **options)
                start = time.perf_counter()  # the sizes are not part of the run: their time is taken off below
                sizes["bundle"] = sum(len(data) for data in make_bundle(snapshot, limit_s).files.values())
                sizes["submission"] = statistics.fmean(
                    sum(len(d) for d in read_tree(snapshot.submission(s)).values()) for s in names)
                sizes["result"] = statistics.fmean(sum(len(d) for d in r.notebooks.values()) for r in results.values())
                sizes["seconds"] = time.perf_counter() - start
                return results

            phase_one.run = run_and_measure
        start = time.perf_counter()
        try:
            run = grade_class(course, assignment, workers=workers, env=env, phase_one=phase_one)
        finally:
            if phase_one is not None:
                phase_one.run = measured
        seconds = {"total": time.perf_counter() - start, **run.phase_seconds}
        extra = sizes.pop("seconds", 0.0)
        seconds["execute"] -= extra
        seconds["total"] -= extra
        return seconds, grades(course, assignment, {**os.environ, **env}), sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("assignment", nargs="?", default="01_amplitude_regression")
    parser.add_argument("--students", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    from distributed import Client, LocalCluster
    from grading_services import PostgresServer, postgres_bindir

    students = synthetic_class(args.assignment, args.students)
    bindir = postgres_bindir()
    server = PostgresServer(bindir).start() if bindir else None
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None)
    client = Client(cluster, set_as_default=False)
    phase_one = DaskPhaseOne(client, cluster.scheduler_address)
    database = "PostgreSQL" if server else "SQLite"
    print(f"{args.students} submissions of {args.assignment}, {args.workers} local processes vs a Dask cluster of "
          f"{args.workers} one-thread workers; replay into SQLite vs {database}")
    print(f"{'run':18s} {'execute':>9s} {'replay':>8s} {'total':>8s}")
    rows: dict[str, list[dict]] = {"local": [], "dask": []}
    sizes: dict = {}
    try:
        for repeat in range(args.repeats):
            local_s, local_grades, _ = graded(args.assignment, students, {}, args.workers)
            env = {}
            if server:
                server.sql("postgres", f"CREATE DATABASE bench{repeat} OWNER grader")
                env = {"COURSE_DB_URL": server.url(database=f"bench{repeat}")}
            dask_s, dask_grades, sizes = graded(args.assignment, students, env, args.workers, phase_one)
            if dask_grades != local_grades:
                raise SystemExit("the Dask path and the local path gave different scores")
            for name, seconds in (("local", local_s), ("dask", dask_s)):
                rows[name].append(seconds)
                label = f"{name} {'SQLite' if name == 'local' else database} #{repeat + 1}"
                print(f"{label:18s} {seconds['execute']:8.1f}s {seconds['replay']:7.1f}s {seconds['total']:7.1f}s",
                      flush=True)
    finally:
        client.close()
        cluster.close()
        if server:
            server.stop()

    n, k = args.students, args.workers
    overhead = mean_and_error([(d["execute"] - l["execute"]) * k / n for l, d in zip(rows["local"], rows["dask"])])
    per_core = {name: mean_and_error([60 * n / r["execute"] / k for r in rows[name]]) for name in rows}
    replay = {name: mean_and_error([r["replay"] / n for r in rows[name]]) for name in rows}
    seconds_per = mean_and_error([r["execute"] * k / n for r in rows["dask"]])
    print(f"Dask overhead per submission (worker seconds): {overhead[0]:+.2f} +- {overhead[1]:.2f} s "
          f"(a submission takes {seconds_per[0]:.1f} +- {seconds_per[1]:.1f} worker seconds on the cluster)")
    for name in rows:
        print(f"throughput per worker core, {name}: {per_core[name][0]:.2f} +- {per_core[name][1]:.2f} submissions/min")
    print(f"replay per submission: SQLite {replay['local'][0]:.2f} +- {replay['local'][1]:.2f} s, "
          f"{database} {replay['dask'][0]:.2f} +- {replay['dask'][1]:.2f} s")
    print(f"bytes per task: run bundle {sizes['bundle'] / 1e6:.2f} MB once per worker, submission "
          f"{sizes['submission'] / 1e3:.0f} kB in, executed notebook {sizes['result'] / 1e3:.0f} kB out")
    replay_1000 = 1000 * replay["dask"][0]
    print(f"1000 students: phase 1 {1000 * seconds_per[0] / 3600:.1f} worker-core hours "
          f"({1000 * seconds_per[0] / 60 / 64:.0f} min on 64 worker cores); the serial replay {replay_1000 / 60:.0f} min, "
          f"longer than phase 1 from {seconds_per[0] / replay['dask'][0]:.0f} worker cores on")


if __name__ == "__main__":
    main()
