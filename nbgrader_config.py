"""nbgrader configuration of the course.

Instructor versions live in ``solutions/`` (nbgrader's source), the generated student
versions in ``notebooks/`` (nbgrader's release). Everything a grading run writes
(submissions, autograded copies, feedback, the gradebook) goes below ``grading/``,
which git ignores.
"""
import os
import sys

from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.course_id = "bdl-particle-physics"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "grading/submitted"
c.CourseDirectory.autograded_directory = "grading/autograded"
c.CourseDirectory.feedback_directory = "grading/feedback"
c.CourseDirectory.db_url = "sqlite:///grading/gradebook.db"
# Data live in data/ at the course root, never inside an assignment folder.
# expected_metrics.json holds the ranges the tests check a solution's results against: not for students.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.npy", "*.zip",
                            "expected_metrics.json"]

# Per-cell time limits. A cell may carry its own limit as ``metadata.timeout`` (seconds):
# training cells do, test cells use the default. A cell that runs past its limit is
# interrupted and scores zero; the cells after it still run.
DEFAULT_CELL_TIMEOUT = 120


def cell_timeout(cell) -> int:
    """Seconds the autograder waits for one cell."""
    return int(cell.get("metadata", {}).get("timeout", DEFAULT_CELL_TIMEOUT))


c.Execute.timeout = DEFAULT_CELL_TIMEOUT
c.Execute.timeout_func = cell_timeout
c.Execute.interrupt_on_timeout = True
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]

# Feedback must never show hidden tests (by default the tracebacks would quote them).
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# `nbgrader autograde` runs every notebook at its "grading" setting (the shortest training that runs
# every cell; grade cells never use the trained network), whatever SCALE the student chose.
# Only for that command: a JupyterLab server that reads this file must not change students' runs.
if sys.argv[1:2] == ["autograde"]:
    os.environ.setdefault("COURSE_SCALE", "grading")

# JupyterLab's assignment list needs an exchange folder that exists.
c.Exchange.root = "grading/exchange"
