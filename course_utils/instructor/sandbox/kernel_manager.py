"""The kernel manager that starts a grading kernel in its sandbox (:mod:`kernel_sandbox`).

A jupyter_client ``AsyncKernelManager`` whose kernel command is wrapped in bubblewrap, whose transport is
ZeroMQ over unix sockets (``ipc``) in a short private folder of its own (``/tmp/course-kernel-XXXXXXXX/run``,
whatever ``$TMPDIR`` is: a socket's path holds at most 107 bytes), bound into the sandbox (the kernel has no
network; only the grader and this kernel reach the sockets), and whose interrupts are messages on the
control channel (the kernel is not the grader's child, bubblewrap is). Once the kernel has made its
sockets, the folder (on the grader's disk) is given back to root: the kernel can no longer write there.

The kernel's memory is capped for all its processes together (each one's address space is capped by
``prlimit`` too): in a memory cgroup of its own where the machine allows one (:class:`KernelCgroup`),
else by a watchdog thread here that adds up its processes' memory and its scratch files 4 times a
second. Past the cap the whole sandbox is killed and :attr:`SandboxedKernelManager.kill_reason` says why
(nbgrader's log too); the cell then fails as for any dead kernel. Its user's keyrings are emptied before
and after it runs. nbgrader's execution preprocessor uses it through ``kernel_manager_class``
(:class:`~course_utils.instructor.grading_kernels.SandboxedExecute`).
"""
from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import typing as t
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum, Integer, Unicode

from .kernel_sandbox import (WORKDIR, KernelCgroup, Limits, clear_keyrings, detect_isolation, font_cache,
                             grader_only_folders, kernel_environment, kernel_user, launcher_command, notebook_view,
                             process_tree, sandbox_command, sandbox_memory, socket_folder, write_identity)


#: the kernel imports nothing from its working folder, where student code can write files (and leaves no name)
NOT_FROM_WORKDIR = ("--IPKernelApp.exec_lines=import sys as _s; "
                    f"_s.path[:] = [p for p in _s.path if p not in ('', '.', {WORKDIR!r})]; del _s")
#: seconds between two looks at the kernel's memory
WATCH_INTERVAL_S = 0.25


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


class SandboxedKernelManager(AsyncKernelManager):
    """Starts the kernel in a bubblewrap sandbox as the user of worker ``slot``."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
    slot = Integer(0, help="the worker's number: its kernels run as course-kernel-<slot>").tag(config=True)
    data_dir = Unicode("", help="the data folder, read-only in the sandbox (default: $COURSE_DATA_DIR)").tag(config=True)
    work_root = Unicode("", help="where the kernel's private folders go (default: the temporary folder)").tag(config=True)
    memory_guard = CaselessStrEnum(["auto", "cgroup", "watchdog"], default_value="auto", config=True,
                                   help="how the kernel's memory is capped for all its processes together: a cgroup "
                                        "(auto: where the machine allows one), else a watchdog")

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._folder: Path | None = None
        self._sockets: Path | None = None
        self._identity: tuple[int, int] | None = None
        self._cgroup: KernelCgroup | None = None
        self._watch: threading.Thread | None = None
        self._stop_watch = threading.Event()
        self._memory_cap = 0
        #: why the grader killed the kernel ("" unless it did)
        self.kill_reason = ""
        #: how its memory is capped as a whole: "cgroup" or "watchdog"
        self.memory_guard_used = ""

    def _data_dir(self) -> Path | None:
        value = self.data_dir or os.environ.get("COURSE_DATA_DIR", "")
        return Path(value).resolve() if value else None

    async def _async_pre_start_kernel(self, **kw: t.Any) -> tuple[list[str], dict[str, t.Any]]:
        isolation = detect_isolation()
        if not isolation.isolated:
            raise RuntimeError(f"the sandboxed kernel manager cannot isolate kernels here: {isolation.reason}")
        self._release(restart=True)  # what a previous start of this manager left
        user, uid, gid = kernel_user(self.slot, isolation)
        self._identity = (uid, gid) if isolation.mode == "user" else None
        if self._identity is not None:  # nothing a kernel of this worker left (a grader stopped midway) remains
            clear_keyrings(*self._identity)
        limits = Limits.from_environment()
        self._folder = Path(tempfile.mkdtemp(prefix="kernel-", dir=self.work_root or None))
        self._sockets = socket_folder()
        run_dir = self._sockets / "run"
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
        kernel_cmd = sandbox_command(kernel_cmd, isolation, limits, read_only=notebook_view(data_dir),
                                     run_dir=run_dir, submission=Path(submission) if submission else None,
                                     etc_dir=self._folder / "etc", uid=uid, gid=gid, fonts=font_cache(),
                                     hidden=grader_only_folders())
        self._memory_cap = limits.memory_mb * 1024**2
        self.kill_reason = ""
        if self.memory_guard != "watchdog":
            self._cgroup, why = KernelCgroup.create(f"course-kernel-{self.slot}-{secrets.token_hex(4)}", limits)
            if self._cgroup is None:
                if self.memory_guard == "cgroup":
                    raise RuntimeError(f"no memory cgroup for the kernel: {why}")
                self.log.debug("kernel memory watched by the grader (no cgroup: %s)", why)
        kernel_cmd = launcher_command(kernel_cmd, self._cgroup)
        kw["env"] = kernel_environment(dict(os.environ), data_dir, user)
        kw["cwd"] = str(self._folder)
        kw["independent"] = True  # no JPY_PARENT_PID: inside its PID namespace the kernel's parent is not the grader
        kw["stdout"] = subprocess.DEVNULL  # its connection banner; errors (stderr) still reach nbgrader's log
        return kernel_cmd, kw

    async def _async_post_start_kernel(self, **kw: t.Any) -> None:
        await super()._async_post_start_kernel(**kw)
        if self.provisioner is not None and getattr(self.provisioner, "pid", None):
            self._stop_watch = threading.Event()
            self._watch = threading.Thread(target=self._watch_memory, args=(self.provisioner.pid, self._stop_watch),
                                           name=f"kernel-memory-{self.slot}", daemon=True)
            self._watch.start()
        await self._close_socket_folder()

    def _watch_memory(self, pid: int, stop: threading.Event) -> None:
        """Until the sandbox (started as process ``pid``) ends: kill it when its processes together pass the
        memory cap. In its cgroup, the kernel enforces the cap (its OOM killer ends a process there): the whole
        sandbox is then killed; outside one (no cgroup here, or the launcher could not join it), their memory
        and scratch files are added up here."""
        cap_mb = self._memory_cap // 1024**2
        while not stop.wait(WATCH_INTERVAL_S) and _running(pid):
            cgroup = self._cgroup
            if cgroup is not None and cgroup.holds(pid):
                self.memory_guard_used = "cgroup"
                if cgroup.oom_kills():
                    self._kill_sandbox(pid, f"its processes together reached the kernel's memory cap of {cap_mb} MiB "
                                            "(its cgroup's out-of-memory killer ended one)")
                    return
                continue
            self.memory_guard_used = "watchdog"
            total, processes, scratch = sandbox_memory(pid, self._memory_cap)
            if total > self._memory_cap:
                self._kill_sandbox(pid, f"its {processes - 2} processes and its scratch files "
                                        f"({scratch // 1024**2} MiB) together held {total // 1024**2} MiB, more than "
                                        f"the kernel's memory cap of {cap_mb} MiB")
                return
        if self._cgroup is not None and self._cgroup.oom_kills() and not self.kill_reason:
            self.kill_reason = f"its processes together reached the kernel's memory cap of {cap_mb} MiB (cgroup)"
            self.log.warning("Kernel killed: %s", self.kill_reason)

    def _kill_sandbox(self, pid: int, reason: str) -> None:
        """SIGKILL to every process of the sandbox started as ``pid``; ``reason`` is recorded and logged."""
        self.kill_reason = f"{reason}; the grader killed the kernel"
        self.log.warning("Kernel killed: %s", self.kill_reason)
        cgroup = self._cgroup
        if cgroup is not None:
            cgroup.kill()
        tree = process_tree(pid)
        for process in tree[1:2] + tree[:1] + tree[2:]:  # bubblewrap's init first: its namespace dies with it
            if _running(process):
                try:
                    os.kill(process, signal.SIGKILL)
                except OSError:
                    pass

    async def _close_socket_folder(self, timeout_s: float = 120.0) -> None:
        """As root: once the kernel's five sockets exist (or it died), the socket folder belongs to root again,
        so that the kernel cannot fill the grader's disk there (its connection file stays its own: it reads
        it again after binding; the file-size limit bounds it). In a user namespace the kernel is the
        folder's owner: nothing to do."""
        if os.geteuid() != 0 or self._sockets is None:
            return
        run_dir = self._sockets / "run"
        sockets = [run_dir / f"ipc-{port}" for port in self.ports]
        deadline = time.monotonic() + timeout_s
        while not all(path.exists() for path in sockets) and time.monotonic() < deadline:
            if self.provisioner is None or await self.provisioner.poll() is not None:
                break  # it died: nbclient reports that
            await asyncio.sleep(0.02)
        os.chown(run_dir, 0, 0)
        run_dir.chmod(0o755)

    def _release(self, restart: bool) -> None:
        """Stop the watchdog, remove the cgroup (and what is left in it) and the private folders; after the last
        kernel (not a restart), empty the kernel user's keyrings."""
        ran = self._folder is not None
        self._stop_watch.set()
        if self._watch is not None and self._watch is not threading.current_thread():
            self._watch.join(timeout=5)
        self._watch = None
        if self._cgroup is not None:
            if not self._cgroup.remove():
                self.log.warning("could not remove the kernel's cgroup %s", self._cgroup.path)
            self._cgroup = None
        for folder in (self._folder, self._sockets):
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        self._folder = self._sockets = None
        if ran and self._identity is not None and not restart:  # nothing in its keyrings is left for the next one
            clear_keyrings(*self._identity)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        self._release(restart)

    cleanup_resources = _async_cleanup_resources  # nbclient calls this name
