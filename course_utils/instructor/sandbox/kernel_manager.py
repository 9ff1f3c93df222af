"""The kernel manager that starts a grading kernel in its sandbox (:mod:`kernel_sandbox`).

A jupyter_client ``AsyncKernelManager`` whose kernel command is wrapped in bubblewrap, whose transport is
ZeroMQ over unix sockets (``ipc``) in a folder of its own, bound into the sandbox (the kernel has no
network; only the grader and this kernel reach the sockets), and whose interrupts are messages on the
control channel (the kernel is not the grader's child, bubblewrap is). Once the kernel has made its
sockets, the folder (on the grader's disk) is given back to root: the kernel can no longer write there. nbgrader's execution
preprocessor uses it through ``kernel_manager_class`` (:class:`~course_utils.instructor.grading_kernels.SandboxedExecute`).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import typing as t
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, Integer, Unicode

from .kernel_sandbox import (WORKDIR, Limits, clear_keyrings, detect_isolation, font_cache, kernel_environment,
                             kernel_user, notebook_view, sandbox_command, write_identity)


#: the kernel imports nothing from its working folder, where student code can write files (and leaves no name)
NOT_FROM_WORKDIR = ("--IPKernelApp.exec_lines=import sys as _s; "
                    f"_s.path[:] = [p for p in _s.path if p not in ('', '.', {WORKDIR!r})]; del _s")


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel in a bubblewrap sandbox as the user of worker ``slot``."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
    slot = Integer(0, help="the worker's number: its kernels run as course-kernel-<slot>").tag(config=True)
    data_dir = Unicode("", help="the data folder, read-only in the sandbox (default: $COURSE_DATA_DIR)").tag(config=True)
    work_root = Unicode("", help="where the kernel's private folders go (default: the temporary folder)").tag(config=True)

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._folder: Path | None = None
        self._identity: tuple[int, int] | None = None

    def _data_dir(self) -> Path | None:
        value = self.data_dir or os.environ.get("COURSE_DATA_DIR", "")
        return Path(value).resolve() if value else None

    async def _async_pre_start_kernel(self, **kw: t.Any) -> tuple[list[str], dict[str, t.Any]]:
        isolation = detect_isolation()
        if not isolation.isolated:
            raise RuntimeError(f"the sandboxed kernel manager cannot isolate kernels here: {isolation.reason}")
        user, uid, gid = kernel_user(self.slot, isolation)
        self._identity = (uid, gid) if isolation.mode == "user" else None
        self._folder = Path(tempfile.mkdtemp(prefix="kernel-", dir=self.work_root or None))
        run_dir = self._folder / "run"
        run_dir.mkdir(mode=0o700)
        os.chown(run_dir, uid, gid)
        write_identity(self._folder / "etc", user, uid, gid)
        self.connection_file = str(run_dir / "connection.json")
        self.ip = str(run_dir / "ipc")
        submission = kw.pop("cwd", None)
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        kernel_cmd = kernel_cmd + [NOT_FROM_WORKDIR]
        os.chown(self.connection_file, uid, gid)
        assert self.kernel_spec is not None
        self.kernel_spec.interrupt_mode = "message"  # SIGINT would reach bubblewrap, not the kernel
        data_dir = self._data_dir()
        kernel_cmd = sandbox_command(kernel_cmd, isolation, Limits.from_environment(), read_only=notebook_view(data_dir),
                                     run_dir=run_dir, submission=Path(submission) if submission else None,
                                     etc_dir=self._folder / "etc", uid=uid, gid=gid, fonts=font_cache())
        kw["env"] = kernel_environment(dict(os.environ), data_dir, user)
        kw["cwd"] = str(self._folder)
        kw["independent"] = True  # no JPY_PARENT_PID: inside its PID namespace the kernel's parent is not the grader
        kw["stdout"] = subprocess.DEVNULL  # its connection banner; errors (stderr) still reach nbgrader's log
        return kernel_cmd, kw

    async def _async_post_start_kernel(self, **kw: t.Any) -> None:
        await super()._async_post_start_kernel(**kw)
        await self._close_socket_folder()

    async def _close_socket_folder(self, timeout_s: float = 120.0) -> None:
        """As root: once the kernel's five sockets exist (or it died), the socket folder belongs to root again,
        so that the kernel cannot fill the grader's disk there (its connection file stays its own: it reads
        it again after binding; the file-size limit bounds it). In a user namespace the kernel is the
        folder's owner: nothing to do."""
        if os.geteuid() != 0 or self._folder is None:
            return
        run_dir = self._folder / "run"
        sockets = [run_dir / f"ipc-{port}" for port in self.ports]
        deadline = time.monotonic() + timeout_s
        while not all(path.exists() for path in sockets) and time.monotonic() < deadline:
            if self.provisioner is None or await self.provisioner.poll() is not None:
                break  # it died: nbclient reports that
            await asyncio.sleep(0.02)
        os.chown(run_dir, 0, 0)
        run_dir.chmod(0o755)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if self._folder is not None and not restart:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            if self._identity is not None:  # nothing the kernel stored in the kernel's keyrings is left for the next one
                clear_keyrings(*self._identity)

    cleanup_resources = _async_cleanup_resources  # nbclient calls this name
