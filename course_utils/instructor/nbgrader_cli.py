"""Run nbgrader commands in a course folder and read its gradebook."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_nbgrader(course_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``nbgrader ARGS`` with ``course_dir`` as working directory; raise with its output on failure."""
    command = [sys.executable, "-m", "nbgrader", *args]
    # nbgrader runs helper programs (alembic) found on PATH: use this environment's
    environment = {**os.environ, **(env or {})}
    environment["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environment.get("PATH", "")])
    result = subprocess.run(command, cwd=course_dir, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {course_dir}:\n{result.stdout}\n{result.stderr}")
    return result


def gradebook_url(course_dir: Path, environ: dict[str, str] | None = None) -> str:
    """The SQLAlchemy URL of the course's gradebook, as nbgrader uses it with ``environ`` (default: this
    process's environment): ``COURSE_DB_URL``, else ``nbgrader_config.py``'s ``db_url`` (``grading/gradebook.db``)."""
    from .gradebook_db import database_url

    return database_url(course_dir, environ)


def grades(course_dir: Path, assignment: str,
           environ: dict[str, str] | None = None) -> dict[str, dict[str, tuple[float, float]]]:
    """Per student, per grade cell: (score, max score), from the course's gradebook."""
    from nbgrader.api import Gradebook

    result: dict[str, dict[str, tuple[float, float]]] = {}
    with Gradebook(gradebook_url(course_dir, environ)) as gradebook:
        for submission in gradebook.assignment_submissions(assignment):
            cells = {}
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    cells[grade.name] = (float(grade.score), float(grade.max_score))
            result[submission.student.id] = cells
    return result
