"""Refresh the stored outputs of a solution notebook (what nbval compares against).

The notebook is executed in place at CI scale against the *offline* datasets, exactly as
the tests re-run it, so the stored outputs never depend on which data an instructor has.
The CPU capability torch used is recorded in the notebook's metadata
(``metadata.course.outputs_cpu_capability``): the tests re-run the notebook under another one,
to prove that every output nbval compares is the same on every machine.
"""
from __future__ import annotations

import os
from pathlib import Path

from . import notebooks


# figures are stored as PNG plus a text line; nbval compares the text (it skips images), so the
# stored outputs and every re-run use the notebook backend, whatever MPLBACKEND the shell has
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def offline_data(root: Path) -> Path:
    """Offline datasets in ``build/offline-data`` at CI scale (made once), as the tests make them."""
    from ..datasets import amplitude_regression, digits, toptagging

    folder = Path(root) / "build" / "offline-data"
    amplitude_regression.fetch(folder, source="offline", progress=False)
    toptagging.fetch_short(folder, source="offline", scale="ci", progress=False)
    toptagging.fetch_reference(folder, source="offline", scale="ci", progress=False)
    digits.fetch(folder, source="offline", progress=False)
    return folder


def cpu_capability() -> str:
    """The vector instruction set torch's CPU kernels use here (e.g. AVX512, AVX2, DEFAULT)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def refresh_outputs(root: Path, assignment: str, timeout: int = 1800) -> Path:
    """Execute ``solutions/A/A.ipynb`` in place; on failure the file is left unchanged."""
    from nbclient import NotebookClient

    from .local_kernels import PrivateSocketKernelManager

    path = notebooks.solution_path(root, assignment)
    notebook = notebooks.read(path)
    os.environ["COURSE_DATA_DIR"] = str(offline_data(root))
    os.environ["COURSE_ROOT"] = str(root)
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    os.environ.pop("COURSE_SCALE", None)  # stored outputs are always the CI scale
    NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                   kernel_manager_class=PrivateSocketKernelManager, resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # time stamps would change on every refresh
    notebook.metadata.setdefault("course", {})["outputs_cpu_capability"] = cpu_capability()
    notebooks.write(notebook, path)
    return path
