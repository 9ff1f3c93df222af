"""A demo class: build submissions, autograde them, write feedback and a grade CSV.

Runs in a separate course folder (``build/demo-course`` by default) so that a real
gradebook in ``grading/`` is never touched. ``nbgrader autograde`` runs the notebooks at their
shortest setting (``nbgrader_config.py`` sets ``COURSE_SCALE=grading``): grade cells never depend on
the training, so the scores are those of a full run.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from . import notebooks
from .class_grading import ClassRun, generate_feedback, grade_class, submitted_students, write_run_log
from .execute import results_dir
from .generate import generate_release
from .nbgrader_cli import grades, run_nbgrader
from .submissions import demo_class


def prepare_course(root: Path, course_dir: Path, assignments: list[str]) -> None:
    """A fresh course folder with the config and the solutions of ``assignments``."""
    if course_dir.exists():
        shutil.rmtree(course_dir)
    course_dir.mkdir(parents=True)
    shutil.copy(root / "nbgrader_config.py", course_dir / "nbgrader_config.py")
    for assignment in assignments:
        shutil.copytree(root / "solutions" / assignment, course_dir / "solutions" / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        generate_release(course_dir, assignment)


def submit(course_dir: Path, assignment: str, students: dict) -> None:
    """Write each student's notebook into ``grading/submitted/<student>/<assignment>/``."""
    release = notebooks.read(notebooks.release_path(course_dir, assignment))
    solution = notebooks.read(notebooks.solution_path(course_dir, assignment))
    for student, (_, make) in students.items():
        target = course_dir / "grading" / "submitted" / student / assignment / f"{assignment}.ipynb"
        submission = make(release, solution)
        if isinstance(submission, str):  # a broken file, written as it is
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(submission)
        else:
            notebooks.write(submission, target)


def grade(course_dir: Path, assignment: str, env: dict[str, str] | None = None, workers: int | None = None,
          serial: bool = False, progress=None, phase_one=None) -> tuple[dict, ClassRun | None]:
    """Autograde (in parallel, or with nbgrader's serial command), generate feedback, export the CSV;
    return the per-cell grades and, in parallel, the class run's report. ``phase_one``: run phase 1 on a
    Dask cluster (``dask_grading.DaskPhaseOne``)."""
    run = None
    if serial:
        run_nbgrader(course_dir, "autograde", assignment, "--force", env=env)
    else:
        run = grade_class(course_dir, assignment, workers=workers, env=env, progress=progress, phase_one=phase_one)
    missing = generate_feedback(Path(course_dir), assignment, submitted_students(Path(course_dir), assignment), env)
    if run is not None:
        run.feedback_failed = missing
        write_run_log(run, Path(course_dir) / "grading" / "runs" / f"{assignment}.json")
    run_nbgrader(course_dir, "export", "--to", "grading/grades.csv", env=env)
    return grades(course_dir, assignment, {**os.environ, **(env or {})}), run


def _run_note(run, student: str) -> str:
    """What the class run noticed about ``student`` beyond the score."""
    if student in run.invalid:
        return run.invalid[student]
    if student in run.failed:
        return run.failed[student]
    if student in run.flagged:
        return "flagged for a manual grade: " + "; ".join(run.flagged[student])
    if student in run.review:
        return "to look at (scores kept): the tamper scan found: " + "; ".join(run.review[student])
    if student in run.tampered:
        return "wrote into the course files of its private copy: " + ", ".join(run.tampered[student])
    if student in run.normalised:
        return "cell metadata made the release's: " + "; ".join(run.normalised[student])
    return ""


def run_demo(root: Path, assignments: list[str], course_dir: Path | None = None) -> dict:
    """Demo class (with the submissions that attack the grader) for every assignment, graded in
    parallel; stores ``build/results/demo.json``."""
    course_dir = course_dir or root / "build" / "demo-course"
    prepare_course(root, course_dir, assignments)
    summary = {}
    for assignment in assignments:
        students = demo_class(assignment, hardening=True)
        submit(course_dir, assignment, students)
        cell_grades, run = grade(course_dir, assignment, env={"COURSE_ROOT": str(root)})
        summary[assignment] = {
            "students": {
                student: {
                    "description": students[student][0],
                    "score": sum(score for score, _ in cells.values()),
                    "max_score": sum(maximum for _, maximum in cells.values()),
                    "cells": cells,
                    "note": _run_note(run, student),
                }
                for student, cells in cell_grades.items()
            },
            "run": {"seconds": run.seconds, "workers": run.workers, "restored": run.restored,
                    "not_graded": run.invalid_ids},
        }
    (results_dir(root) / "demo.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
