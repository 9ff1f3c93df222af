"""Generate the student notebooks (nbgrader's release) from the solutions."""
from __future__ import annotations

from pathlib import Path

from .nbgrader_cli import run_nbgrader


def generate_release(course_dir: Path, assignment: str) -> Path:
    """Run ``nbgrader generate_assignment`` and return the student notebook's path."""
    (Path(course_dir) / "grading").mkdir(exist_ok=True)
    run_nbgrader(course_dir, "generate_assignment", assignment, "--force")
    return Path(course_dir) / "notebooks" / assignment / f"{assignment}.ipynb"
