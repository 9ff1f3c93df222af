"""Install a finished dataset folder in one step, so a reader never sees half of one."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def scratch_folder(parent: Path, name: str) -> Path:
    """A new empty folder beside the final one (same file system, so the move is a rename)."""
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.tmp-"))
    folder.chmod(0o755)  # mkdtemp makes it private; datasets are meant to be shared
    return folder


def install_folder(scratch: Path, target: Path) -> None:
    """Replace ``target`` by the finished ``scratch`` folder.

    The old folder (if any) is renamed away first and deleted only after the new one is
    in place: an interruption leaves either the old or the new dataset, never a mix.
    """
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old-"))
        os.rmdir(old)
        os.replace(target, old)
    os.replace(scratch, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
