"""How long nbgrader lets each cell run when it runs a notebook (the Validate button, ``nbgrader validate``).

A training cell carries its own limit as ``metadata.timeout`` (seconds); every other cell gets
:data:`DEFAULT_CELL_TIMEOUT`. A cell past its limit is interrupted, and the cells after it still run.
Used by a student handout's ``nbgrader_config.py`` (the course's own config sets the same limits,
and shorter ones for autograding).
"""
from __future__ import annotations

DEFAULT_CELL_TIMEOUT = 120
KERNEL_ARGUMENTS = ["--HistoryManager.hist_file=:memory:", "--InteractiveShell.xmode=Minimal"]


def cell_timeout(cell) -> int:
    """Seconds nbgrader waits for ``cell``."""
    return int(cell.get("metadata", {}).get("timeout", DEFAULT_CELL_TIMEOUT))


def configure_validate(c) -> None:
    """Put the cell limits into an nbgrader config object ``c``."""
    c.Execute.timeout = DEFAULT_CELL_TIMEOUT
    c.Execute.timeout_func = cell_timeout
    c.Execute.interrupt_on_timeout = True
    c.Execute.extra_arguments = list(KERNEL_ARGUMENTS)
