"""The gradebook on a database server: which database nbgrader uses, the check before any kernel runs, the
gradebook a phase-1 sandbox gets, and `make grade` against a PostgreSQL server that cannot be used.

A real PostgreSQL server (Debian's package) runs on 127.0.0.1 in a temporary folder; grading a class through
it is in tests/test_dask_grading.py."""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time

import pytest
from grading_services import free_port, postgres  # noqa: F401  (postgres: the session's server)

from course_utils.instructor import gradebook_db
from course_utils.instructor.gradebook_db import GradebookUnavailable, check_gradebook, database_url

ASSIGNMENT = "01_amplitude_regression"


@pytest.fixture
def config_course(root, tmp_path):
    """A course folder with the course's nbgrader_config.py and the assignment's source (no gradebook)."""
    shutil.copy(root / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    shutil.copytree(root / "solutions" / ASSIGNMENT, tmp_path / "solutions" / ASSIGNMENT)
    return tmp_path


def test_database_url_follows_the_environment_then_the_config(config_course, monkeypatch):
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    monkeypatch.delenv("COURSE_GRADING_PHASE", raising=False)
    assert database_url(config_course) == f"sqlite:///{config_course / 'grading' / 'gradebook.db'}"
    server = "postgresql://grader:secret@db-host:5433/course"
    assert database_url(config_course, {"COURSE_DB_URL": server}) == "postgresql+psycopg://grader:secret@db-host:5433/course"
    with (config_course / "nbgrader_config.py").open("a") as config:  # an instructor's own line wins over the default
        config.write('\nc.CourseDirectory.db_url = "postgres://grader@db-host/other"\n')
    assert database_url(config_course, {}) == "postgresql+psycopg://grader@db-host/other"
    assert gradebook_db.redact("postgresql+psycopg://grader:secret@db-host/course") == \
        "postgresql+psycopg://grader:***@db-host/course"
    # phase 1 of make grade writes only its private SQLite copy, whatever the grader's environment says
    assert gradebook_db.course_db_url({"COURSE_DB_URL": server, "COURSE_GRADING_PHASE": "execute"}) == gradebook_db.DEFAULT_URL
    assert "COURSE_DB_URL" not in gradebook_db.without_credentials({"COURSE_DB_URL": server, "PGPASSWORD": "x", "HOME": "/"})


def test_nbgrader_uses_the_url_of_the_environment(config_course, monkeypatch):
    """nbgrader's own configuration (nbgrader_config.py, loaded as nbgrader loads it) gets COURSE_DB_URL."""
    from traitlets.config.loader import PyFileConfigLoader

    monkeypatch.setenv("COURSE_DB_URL", "postgresql://grader@db-host/course")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(config_course)).load_config()
    assert config.CourseDirectory.db_url == "postgresql+psycopg://grader@db-host/course"
    monkeypatch.delenv("COURSE_DB_URL")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(config_course)).load_config()
    assert config.CourseDirectory.db_url == "sqlite:///grading/gradebook.db"


def test_an_unusable_database_is_named_in_seconds(postgres, config_course):
    """No server on the port, a wrong password, a missing database: a plain message, the password hidden."""
    cases = {postgres.url(port=free_port()): "Connection refused", postgres.url(password="wrong"): "password",
             postgres.url(database="missing"): "does not exist"}
    for url, reason in cases.items():
        start = time.monotonic()
        with pytest.raises(GradebookUnavailable) as error:
            check_gradebook(config_course, ASSIGNMENT, {"COURSE_DB_URL": url})
        assert time.monotonic() - start < 15
        message = str(error.value)
        assert reason in message and "Nothing was graded" in message
        assert "***" in message and "wrong" not in message and postgres.password not in message


def test_an_empty_database_is_not_a_gradebook_and_stays_empty(postgres, config_course):
    """A database that holds no gradebook: the instructor is told to generate the assignment; nothing is created."""
    postgres.sql("postgres", "CREATE DATABASE empty OWNER grader")
    url = postgres.url(database="empty")
    with pytest.raises(FileNotFoundError, match="make notebooks"):
        check_gradebook(config_course, ASSIGNMENT, {"COURSE_DB_URL": url})
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


@pytest.fixture(scope="module")
def postgres_course(root, postgres, tmp_path_factory):
    """The assignment generated into a database of its own on the server (nbgrader generate_assignment)."""
    from course_utils.instructor.demo import prepare_course

    postgres.sql("postgres", "CREATE DATABASE generated OWNER grader")
    url = postgres.url(database="generated")
    course = tmp_path_factory.mktemp("pg-course")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COURSE_DB_URL", url)
        prepare_course(root, course, [ASSIGNMENT])
    return course, url


def test_the_assignment_generated_into_postgresql(postgres_course):
    course, url = postgres_course
    assert not (course / "grading" / "gradebook.db").exists()
    assert check_gradebook(course, ASSIGNMENT, {"COURSE_DB_URL": url}) == url
    with pytest.raises(FileNotFoundError, match="02_other is not in the gradebook"):
        check_gradebook(course, "02_other", {"COURSE_DB_URL": url})


def test_a_phase_one_gradebook_holds_the_assignment_and_no_student(postgres_course, tmp_path):
    """What a sandbox gets: the assignment's notebooks and cells, nobody's name or grade."""
    from nbgrader.api import Gradebook

    course, url = postgres_course
    with Gradebook(url, "bdl-particle-physics") as gradebook:  # a graded student in the source
        gradebook.update_or_create_student("alice", first_name="Alice", email="alice@example.org")
        expected = {(n.name, len(n.grade_cells), len(n.source_cells), len(n.solution_cells), len(n.task_cells))
                    for n in gradebook.find_assignment(ASSIGNMENT).notebooks}
    target = tmp_path / "phase1.db"
    gradebook_db.phase_one_gradebook(url, ASSIGNMENT, target)
    with sqlite3.connect(target) as db:
        assert db.execute("SELECT COUNT(*) FROM student").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM submitted_assignment").fetchone() == (0,)
        assert db.execute("SELECT name FROM assignment").fetchall() == [(ASSIGNMENT,)]
        assert db.execute("SELECT COUNT(*) FROM alembic_version").fetchone() == (1,)
    with Gradebook(f"sqlite:///{target}", "bdl-particle-physics") as copy:
        assert {(n.name, len(n.grade_cells), len(n.source_cells), len(n.solution_cells), len(n.task_cells))
                for n in copy.find_assignment(ASSIGNMENT).notebooks} == expected
        assert expected and all(cells > 0 for (_, cells, *_rest) in expected)


def test_make_grade_stops_before_any_kernel_when_the_database_cannot_be_used(root, postgres, tmp_path):
    """The database is checked before the snapshot: a plain message within seconds, no kernel, nothing written."""
    course = tmp_path / "course"
    shutil.copytree(root / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT)
    shutil.copy(root / "nbgrader_config.py", course / "nbgrader_config.py")
    submitted = course / "grading" / "submitted" / "alice" / ASSIGNMENT
    submitted.mkdir(parents=True)
    shutil.copy(root / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", submitted)
    url = postgres.url(port=free_port())
    start = time.monotonic()
    result = subprocess.run(["make", "-s", "grade", f"A={ASSIGNMENT}", f"COURSE_DIR={course}"], cwd=root,
                            env={**os.environ, "COURSE_DB_URL": url}, capture_output=True, text=True)
    assert result.returncode != 0 and time.monotonic() - start < 60
    assert "cannot be used" in result.stderr and "Connection refused" in result.stderr
    assert postgres.password not in result.stdout + result.stderr
    assert sorted(p.name for p in (course / "grading").iterdir()) == ["submitted"]  # no gradebook, run log, outputs
