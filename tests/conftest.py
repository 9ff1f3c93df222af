"""Shared fixtures: the course root and an offline dataset made once per test session."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def offline_data_dir(tmp_path_factory) -> Path:
    """Dataset 1 generated offline, as CI makes it; notebooks are pointed here by COURSE_DATA_DIR."""
    from course_utils.datasets import amplitude_regression

    folder = tmp_path_factory.mktemp("data")
    amplitude_regression.fetch(folder, source="offline", progress=False)
    return folder


@pytest.fixture(scope="session")
def notebook_env(offline_data_dir) -> dict[str, str]:
    """Environment for subprocesses that run notebooks: offline data, course root, fixed hashing."""
    env = dict(os.environ)
    env.update(COURSE_DATA_DIR=str(offline_data_dir), COURSE_ROOT=str(ROOT), PYTHONHASHSEED="0", MPLBACKEND="Agg")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
