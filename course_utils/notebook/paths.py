"""Where the course lives on disk.

Notebooks run from different folders (``solutions/A``, ``notebooks/A``, and nbgrader's
``grading/autograded/<student>/A``), so the data folder is found by walking up from the
working directory to the course root, the folder that holds ``data/get_data.py``.
"""
from __future__ import annotations

import os
from pathlib import Path

_MARKER = Path("data") / "get_data.py"


def course_root(start: str | os.PathLike | None = None) -> Path:
    """Return the course root: ``$COURSE_ROOT`` if set, else the first folder above
    ``start`` (default: the working directory) that holds ``data/get_data.py``, else the
    folder this package was installed from."""
    if os.environ.get("COURSE_ROOT"):
        return Path(os.environ["COURSE_ROOT"]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / _MARKER).is_file():
            return folder
    installed_from = Path(__file__).resolve().parents[2]  # <course>/course_utils/notebook/paths.py
    if (installed_from / _MARKER).is_file():
        return installed_from
    raise FileNotFoundError(
        f"Could not find the course root (a folder with {_MARKER}) above {here}. "
        "Run from inside the course folder or set COURSE_ROOT."
    )


def data_dir(start: str | os.PathLike | None = None) -> Path:
    """Return the data folder: ``$COURSE_DATA_DIR`` if set, else ``<course root>/data``."""
    if os.environ.get("COURSE_DATA_DIR"):
        return Path(os.environ["COURSE_DATA_DIR"]).resolve()
    return course_root(start) / "data"
