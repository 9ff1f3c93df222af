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
# The gradebook: $COURSE_DB_URL, e.g. a PostgreSQL server (postgresql+psycopg://grader@db-host/course), else an
# SQLite file; phase 1 of `make grade` always writes the SQLite copy of its private course folder
# (course_utils/instructor/gradebook_db.py).
try:
    from course_utils.instructor.gradebook_db import course_db_url
except ImportError:
    def course_db_url(environ=os.environ):
        return environ.get("COURSE_DB_URL") or "sqlite:///grading/gradebook.db"
c.CourseDirectory.db_url = course_db_url()
# Data live in data/ at the course root, never inside an assignment folder.
# expected_metrics.json holds the ranges the tests check a solution's results against: not for students.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "*.npy", "*.zip",
                            "expected_metrics.json"]

# Per-cell time limits. A cell may carry its own limit as ``metadata.timeout`` (seconds):
# training cells do, test cells use the default. A cell that runs past its limit is
# interrupted and scores zero; the cells after it still run.
# At autograding every cell gets GRADING_CELL_TIMEOUT: the notebooks then run their shortest setting,
# where no cell takes more than a few seconds, so a runaway loop costs 15 s, not two minutes (the slowest cell takes 3 s).
DEFAULT_CELL_TIMEOUT = 120
GRADING_CELL_TIMEOUT = 15
GRADING = sys.argv[1:2] == ["autograde"]


def cell_timeout(cell) -> int:
    """Seconds nbgrader waits for one cell."""
    if GRADING:
        return GRADING_CELL_TIMEOUT
    return int(cell.get("metadata", {}).get("timeout", DEFAULT_CELL_TIMEOUT))


c.Execute.timeout = DEFAULT_CELL_TIMEOUT
c.Execute.timeout_func = cell_timeout
c.Execute.interrupt_on_timeout = True
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]

# Feedback must never show hidden tests, even when student code printed them: grade cells show their visible
# part, score and error message (hidden-test lines removed); cells after the first hidden test show no output
# (course_utils/instructor/sandbox/feedback_filter.py; nbgrader's ClearHiddenTests where the course is not installed).
# `nbgrader collect` and the formgrader's Collect button run the course's collect, which refuses what a student
# could game nbgrader's own with (course_utils/instructor/collect.py; `make collect` runs it directly).
try:
    from course_utils.instructor.collect import exchange_plugin
    c.ExchangeFactory.collect = exchange_plugin()
except ImportError:
    pass

# Formulas become MathML, which renders without scripts (JupyterLab opens HTML files untrusted) and offline
# (course_utils/instructor/feedback_math.py).
try:
    from course_utils.instructor.feedback_math import MathToMathML
    from course_utils.instructor.sandbox.feedback_filter import FilterFeedback
    from course_utils.instructor.sandbox.inert_html import InertStudentContent
    c.GenerateFeedback.preprocessors = [GetGrades, FilterFeedback, MathToMathML, CSSHTMLHeaderPreprocessor]
    # feedback pages and the formgrader's views render student notebooks: nothing in them may run in a browser
    c.HTMLExporter.preprocessors = [InertStudentContent]
except ImportError:
    c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor]

# `nbgrader autograde` runs every notebook at its "grading" setting (the shortest training that runs
# every cell; grade cells never use the trained network), whatever SCALE the student chose, on one
# thread (several kernels share the cores; serial and parallel grading print the same numbers).
# Each kernel's memory is capped (COURSE_KERNEL_MEMORY_MB, default 4096) and a kernel that dies costs
# only the cells from the one that killed it on (course_utils/instructor/grading_kernels.py).
# `python -m course_utils.instructor grade` runs the same command in two phases (COURSE_GRADING_PHASE):
# "execute" in a private copy of the course per student (tamper scan, canary cells, the kernel in its sandbox:
# course_utils/instructor/submission_run.py), then "replay" of those outputs into this course's gradebook.
# Only for that command: a JupyterLab server that reads this file must not change students' runs.
if GRADING:
    os.environ.setdefault("COURSE_SCALE", "grading")
    os.environ.setdefault("COURSE_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades

    from course_utils.instructor.grading_kernels import HardenedExecute, ReplayExecution, memory_limit_arguments

    phase = os.environ.get("COURSE_GRADING_PHASE", "")
    if phase == "execute":  # in a private copy of the course: scan, run the notebook, grade nothing
        from course_utils.instructor.submission_run import configure_phase_one

        configure_phase_one(c)
    else:
        c.Execute.extra_arguments = c.Execute.extra_arguments + memory_limit_arguments()
        runner = ReplayExecution if phase == "replay" else HardenedExecute
        c.ReplayExecution.executed_root = os.environ.get("COURSE_REPLAY_DIR", "")
        c.ReplayExecution.manifest = os.environ.get("COURSE_REPLAY_MANIFEST", "")
        c.ReplayExecution.manifest_sha256 = os.environ.get("COURSE_REPLAY_MANIFEST_SHA256", "")
        c.Autograde.autograde_preprocessors = [runner, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                               SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]

# JupyterLab's assignment list needs an exchange folder that exists. On the course hub every server is
# given the hub's exchange in COURSE_EXCHANGE (course_utils/instructor/hub/jupyterhub_config.py).
c.Exchange.root = os.environ.get("COURSE_EXCHANGE", "grading/exchange")
