"""Kernels for the course's own notebooks (papermill, stored outputs), reached through Unix sockets.

A kernel on TCP ports is reachable by every account on the machine and warns that it sends code and outputs
in plain text; these kernels bind their five sockets in a private folder (mode 0700) that goes with them.
"""
from __future__ import annotations

import shutil
import tempfile
import typing as t
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum


class PrivateSocketKernelManager(AsyncKernelManager):
    """An ``AsyncKernelManager`` whose kernel listens on Unix sockets in a private temporary folder."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._socket_folder: Path | None = None

    async def _async_pre_start_kernel(self, **kw: t.Any) -> tuple[list[str], dict[str, t.Any]]:
        if self.transport == "ipc":
            self._remove_folder()
            self._socket_folder = Path(tempfile.mkdtemp(prefix="course-notebook-kernel-"))  # mode 0700
            self.connection_file = str(self._socket_folder / "connection.json")
            self.ip = str(self._socket_folder / "ipc")
        return await super()._async_pre_start_kernel(**kw)

    def _remove_folder(self) -> None:
        if self._socket_folder is not None:
            shutil.rmtree(self._socket_folder, ignore_errors=True)
            self._socket_folder = None

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            self._remove_folder()

    cleanup_resources = _async_cleanup_resources  # nbclient calls this name
