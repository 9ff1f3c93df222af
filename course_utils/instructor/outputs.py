"""Refresh the stored outputs of a solution notebook (what nbval compares against).

The notebook is executed in place at CI scale against the *offline* datasets, exactly as
the tests re-run it, so the stored outputs never depend on which data an instructor has.
"""
from __future__ import annotations

import os
from pathlib import Path

from . import notebooks


def offline_data(root: Path) -> Path:
    """Offline datasets in ``build/offline-data`` (made once)."""
    from ..datasets import amplitude_regression

    folder = Path(root) / "build" / "offline-data"
    amplitude_regression.fetch(folder, source="offline", progress=False)
    return folder


def refresh_outputs(root: Path, assignment: str, timeout: int = 1800) -> Path:
    """Execute ``solutions/A/A.ipynb`` in place; on failure the file is left unchanged."""
    from nbclient import NotebookClient

    path = notebooks.solution_path(root, assignment)
    notebook = notebooks.read(path)
    os.environ["COURSE_DATA_DIR"] = str(offline_data(root))
    os.environ["COURSE_ROOT"] = str(root)
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # time stamps would change on every refresh
    notebooks.write(notebook, path)
    return path
