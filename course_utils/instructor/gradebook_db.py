"""Where the course's gradebook lives: an SQLite file (default) or a database server such as PostgreSQL.

nbgrader keeps its gradebook wherever ``c.CourseDirectory.db_url`` (an SQLAlchemy URL) points. The course's
``nbgrader_config.py`` reads it from ``COURSE_DB_URL`` (e.g. ``postgresql+psycopg://grader@db-host/course``),
else uses ``sqlite:///grading/gradebook.db``; phase 1 of `make grade` always uses the SQLite copy in its
private course folder. :func:`database_url` says which database nbgrader will use in a course folder,
:func:`check_gradebook` makes sure it can be reached and holds the assignment before any kernel runs, and
:func:`phase_one_gradebook` writes the SQLite file a phase-1 sandbox gets: the assignment's definitions
(its notebooks, grade cells, the source of locked and test cells) and nothing about any student.
"""
from __future__ import annotations

import os
from pathlib import Path

#: the environment variable that names the gradebook's database (read by nbgrader_config.py)
ENV = "COURSE_DB_URL"
#: the gradebook when nothing else is said: an SQLite file in the course folder (relative to it)
DEFAULT_URL = "sqlite:///grading/gradebook.db"
#: variables that carry database credentials: never passed to phase 1 (its kernels must not see them)
CREDENTIALS = (ENV, "PGPASSWORD", "PGPASSFILE", "PGSERVICEFILE", "PGSERVICE", "PGUSER", "PGHOST", "PGPORT",
               "PGDATABASE", "PGSSLKEY", "PGSSLCERT")
#: seconds to wait for a database server before saying it cannot be reached
CONNECT_TIMEOUT_S = 10


class GradebookUnavailable(RuntimeError):
    """The gradebook's database cannot be reached or read (the message says which and why)."""


def normalise_url(url: str) -> str:
    """``url`` with PostgreSQL's plain schemes (``postgresql://``, ``postgres://``) bound to psycopg 3, the
    driver the course installs (SQLAlchemy's default for them is psycopg2)."""
    url = url.strip()
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain):]
    return url


def course_db_url(environ: dict[str, str] | os._Environ = os.environ) -> str:
    """What ``nbgrader_config.py`` sets as ``db_url``: ``$COURSE_DB_URL`` or the SQLite file; in phase 1 of
    `make grade` (``COURSE_GRADING_PHASE=execute``) always the SQLite copy of the private course folder."""
    if environ.get("COURSE_GRADING_PHASE") == "execute":
        return DEFAULT_URL
    return normalise_url(environ.get(ENV) or DEFAULT_URL)


def redact(url: str) -> str:
    """``url`` without its password (for messages and logs)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: say only its scheme
        return url.split("://", 1)[0] + "://..."


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _configured_url(course_dir: Path) -> str:
    """``db_url`` as the course folder's ``nbgrader_config.py`` sets it (the default when it says nothing)."""
    from traitlets.config.loader import PyFileConfigLoader

    if not (course_dir / "nbgrader_config.py").is_file():
        return DEFAULT_URL
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    section = config.get("CourseDirectory", {})
    return normalise_url(str(section["db_url"])) if "db_url" in section else DEFAULT_URL


def database_url(course_dir: Path, environ: dict[str, str] | None = None) -> str:
    """The SQLAlchemy URL of the gradebook nbgrader uses in ``course_dir`` with the environment ``environ``
    (default: this process's): ``COURSE_DB_URL`` when set, else what ``nbgrader_config.py`` says; a relative
    SQLite path is made absolute (nbgrader runs in the course folder)."""
    from sqlalchemy.engine import make_url

    course_dir = Path(course_dir).resolve()
    environ = os.environ if environ is None else environ
    url = normalise_url(environ[ENV]) if environ.get(ENV) else _configured_url(course_dir)
    if is_sqlite(url):
        parsed = make_url(url)
        if parsed.database and parsed.database != ":memory:" and not Path(parsed.database).is_absolute():
            url = parsed.set(database=str(course_dir / parsed.database)).render_as_string(hide_password=False)
    return url


def without_credentials(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` less the variables that name or unlock the gradebook's database (phase 1 never needs them)."""
    return {name: value for name, value in environ.items() if name not in CREDENTIALS}


def _engine(url: str, timeout_s: float):
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    arguments = {"connect_timeout": max(1, int(timeout_s))} if url.startswith("postgresql") else {}
    return create_engine(url, poolclass=NullPool, connect_args=arguments)


def check_gradebook(course_dir: Path, assignment: str, environ: dict[str, str] | None = None,
                    timeout_s: float = CONNECT_TIMEOUT_S) -> str:
    """Make sure the gradebook of ``course_dir`` can be reached and holds ``assignment`` (with its notebooks);
    returns its URL. Reads only (an empty database is not turned into a gradebook here). Raises
    :class:`GradebookUnavailable` when the database cannot be reached or read, ``FileNotFoundError`` when the
    assignment is not in it."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    url = database_url(course_dir, environ)
    hint = (f"{assignment} is not in the gradebook ({redact(url)}): run `make notebooks` (nbgrader "
            "generate_assignment) with the same COURSE_DB_URL before grading")
    if is_sqlite(url):
        path = url.split(":///", 1)[1]
        if not Path(path).is_file():
            raise FileNotFoundError(hint)
    try:
        with _engine(url, timeout_s).connect() as connection:
            tables = {row[0] for row in connection.execute(text(
                "SELECT name FROM sqlite_master WHERE type='table'" if is_sqlite(url) else
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))}
            if not {"assignment", "notebook"} <= tables:
                raise FileNotFoundError(hint)
            notebooks = connection.execute(text(
                "SELECT COUNT(*) FROM notebook JOIN assignment ON notebook.assignment_id = assignment.id "
                "WHERE assignment.name = :name"), {"name": assignment}).scalar()
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()
        raise GradebookUnavailable(
            f"the gradebook's database {redact(url)} cannot be used: {(reason or [type(error).__name__])[0][:300]}. "
            "Nothing was graded; check that the server runs and that COURSE_DB_URL (or db_url in "
            "nbgrader_config.py) names it, its user and database") from None
    if not notebooks:
        raise FileNotFoundError(hint)
    return url


#: the tables that define an assignment, in an order that satisfies their foreign keys
_DEFINITION_TABLES = ("course", "assignment", "notebook", "base_cell", "grade_cells", "solution_cells", "task_cells",
                      "source_cell")


def phase_one_gradebook(source_url: str, assignment: str, target: Path) -> None:
    """Write to ``target`` (a new SQLite file) a gradebook that holds ``assignment``'s definitions from the
    gradebook at ``source_url``, and no student, submission or grade: what `nbgrader autograde --student S`
    needs in a phase-1 sandbox (it adds the student itself)."""
    from nbgrader.api import Base
    from sqlalchemy import inspect, select, text

    target = Path(target)
    if target.exists():
        target.unlink()
    tables = Base.metadata.tables
    source, copy = _engine(source_url, CONNECT_TIMEOUT_S), _engine(f"sqlite:///{target}", CONNECT_TIMEOUT_S)
    try:
        Base.metadata.create_all(copy)  # nbgrader's schema, as nbgrader.api.Gradebook creates it
        with source.connect() as read, copy.begin() as write:
            write.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            if inspect(read).has_table("alembic_version"):  # the source's schema version, so nbgrader never migrates
                for version in read.execute(text("SELECT version_num FROM alembic_version")).scalars():
                    write.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": version})
            assignments = read.execute(select(tables["assignment"]).where(
                tables["assignment"].c.name == assignment)).mappings().all()
            notebook_ids = select(tables["notebook"].c.id).where(
                tables["notebook"].c.assignment_id.in_([row["id"] for row in assignments]))
            cell_ids = select(tables["base_cell"].c.id).where(tables["base_cell"].c.notebook_id.in_(notebook_ids))
            where = {
                "course": tables["course"].c.id.in_([row["course_id"] for row in assignments]),
                "assignment": tables["assignment"].c.name == assignment,
                "notebook": tables["notebook"].c.id.in_(notebook_ids),
                "base_cell": tables["base_cell"].c.id.in_(cell_ids),
                "grade_cells": tables["grade_cells"].c.id.in_(cell_ids),
                "solution_cells": tables["solution_cells"].c.id.in_(cell_ids),
                "task_cells": tables["task_cells"].c.id.in_(cell_ids),
                "source_cell": tables["source_cell"].c.notebook_id.in_(notebook_ids),
            }
            for name in _DEFINITION_TABLES:
                rows = [dict(row) for row in read.execute(select(tables[name]).where(where[name])).mappings()]
                if rows:
                    write.execute(tables[name].insert(), rows)
    finally:
        source.dispose()
        copy.dispose()
