"""Shared fixtures: the course root and an offline dataset made once per test session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: every assignment of the course, as the Makefile finds them: a new tutorial is tested from the start
ASSIGNMENTS = sorted(p.name for p in (ROOT / "solutions").glob("[0-9]*") if p.is_dir())
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from course_utils.instructor.outputs import INLINE_BACKEND  # noqa: E402


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def offline_data_dir(tmp_path_factory) -> Path:
    """All four datasets made offline at CI scale, as CI makes them (datasets 2 and 3 take about 16 s
    and 70 s); notebooks are pointed here by COURSE_DATA_DIR."""
    from course_utils.datasets import amplitude_regression, digits, toptagging

    folder = tmp_path_factory.mktemp("data")
    amplitude_regression.fetch(folder, source="offline", progress=False)
    toptagging.fetch_short(folder, source="offline", scale="ci", progress=False)
    toptagging.fetch_reference(folder, source="offline", scale="ci", progress=False)
    digits.fetch(folder, source="offline", progress=False)
    return folder


@pytest.fixture(scope="session")
def notebook_env(offline_data_dir) -> dict[str, str]:
    """Environment for subprocesses that run notebooks: offline data, course root, fixed hashing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}  # no user scale, mirror or paths
    env.update(COURSE_DATA_DIR=str(offline_data_dir), COURSE_ROOT=str(ROOT), PYTHONHASHSEED="0",
               MPLBACKEND=INLINE_BACKEND, OMP_WAIT_POLICY="PASSIVE")  # no spinning threads on a busy machine
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


#: test modules that start the course's services (JupyterHub, PostgreSQL, Dask, chromium), sandboxed kernels or
#: class runs, and tests that need the session's offline data or database: `make test` runs these one at a time,
#: after the in-process tests, which it spreads over every core (pytest-xdist)
SERVICE_MODULES = frozenset({"test_autograde", "test_browser", "test_collect", "test_dask_grading", "test_handout",
                             "test_hub", "test_kernel_sandbox", "test_nbval", "test_postgres_gradebook"})
SERVICE_FIXTURES = frozenset({"offline_data_dir", "postgres"})


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if Path(str(item.fspath)).stem in SERVICE_MODULES or SERVICE_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.services)
