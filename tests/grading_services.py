"""Real grading services for tests, on 127.0.0.1 only: a PostgreSQL server (Debian's package, run as its own
``postgres`` user when we are root, in a temporary folder, on a free port) and a Dask cluster (a ``dask
scheduler`` and ``dask worker`` processes with one thread each). Every wait is for an event: a log line, a
port that accepts connections, workers registered with the scheduler."""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ROOT_ON_DEBIAN = sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0 \
    and Path("/etc/debian_version").is_file()


#: the probe key of every test course whose grades a test compares with another course's: a course's key decides
#: its probes' draws (course_utils.grading.grader_side.probe_seeds), two courses with keys of their own could differ
SHARED_PROBE_KEY = "5c0f3e1d" * 8


def share_probe_key(course: Path) -> None:
    """Give the test course ``course`` the probe key the other test courses have."""
    from course_utils.grading.grader_side.probe_seeds import KEY_FILE

    (course / KEY_FILE).parent.mkdir(parents=True, exist_ok=True)
    (course / KEY_FILE).write_text(SHARED_PROBE_KEY + "\n")


def unavailable(reason: str):
    """Fail as root on Debian (CI installs what is missing: make postgresql), skip elsewhere with the reason."""
    if ROOT_ON_DEBIAN:
        pytest.fail(f"{reason} (as root on Debian, `make test` installs it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_line(process: subprocess.Popen, pattern: str, timeout_s: float, log: Path) -> str:
    """Read ``process``'s output (into ``log``) until a line matches ``pattern``; then keep draining it in the
    background. Fails when the process ends first or ``timeout_s`` passes (the process is then killed)."""
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        with open(log, "a") as sink:
            for line in process.stdout:
                sink.write(line)
                sink.flush()
                if not found and re.search(pattern, line):
                    found.append(line)
                    ready.set()
        ready.set()  # the output ended

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(timeout_s) or not found:
        process.kill()
        raise RuntimeError(f"{process.args[0]} did not print {pattern!r} within {timeout_s:g} s:\n"
                           + log.read_text()[-3000:])
    return found[0]


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL programs (the newest version installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if
                   p.parts[-3].isdigit() else 0)
    if found:
        return found[-1].parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        folder = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
        if (folder / "initdb").is_file():
            return folder
    return None


class PostgresServer:
    """A throwaway PostgreSQL server: its own data folder, 127.0.0.1 and a unix socket in that folder, a
    ``grader`` role with a password that owns the database ``course``."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.folder = Path(tempfile.mkdtemp(prefix="course-postgres-"))
        self.port = free_port()
        self.password = secrets.token_hex(8)
        self.process: subprocess.Popen | None = None
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # the server refuses root: run it as Debian's postgres user
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_user = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"]

    def url(self, database: str = "course", password: str | None = None, port: int | None = None) -> str:
        return (f"postgresql+psycopg://grader:{self.password if password is None else password}"
                f"@127.0.0.1:{port or self.port}/{database}")

    def start(self) -> PostgresServer:
        data = self.folder / "data"
        result = subprocess.run([*self.as_user, str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
                                capture_output=True, text=True)
        if result.returncode:
            raise RuntimeError(f"initdb failed: {result.stdout}{result.stderr}")
        self.process = subprocess.Popen(
            [*self.as_user, str(self.bindir / "postgres"), "-D", str(data), "-p", str(self.port),
             "-k", str(self.folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "logging_collector=off"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        wait_for_line(self.process, r"ready to accept connections", 60, self.folder.parent / f"{self.folder.name}.log")
        self.sql("postgres", f"CREATE ROLE grader LOGIN PASSWORD '{self.password}'", "CREATE DATABASE course OWNER grader")
        return self

    def sql(self, database: str, *statements: str) -> None:
        """Run ``statements`` as the server's superuser, through its unix socket."""
        import psycopg

        with psycopg.connect(host=str(self.folder), port=self.port, user="postgres", dbname=database,
                             autocommit=True) as connection:
            for statement in statements:
                connection.execute(statement)

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process, signal.SIGINT)  # fast shutdown
        shutil.rmtree(self.folder, ignore_errors=True)
        Path(self.folder.parent / f"{self.folder.name}.log").unlink(missing_ok=True)


class DaskCluster:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes (one thread each, no nanny: killing one
    kills its worker), all on 127.0.0.1, with ``env``; a client of the test's own to watch them."""

    def __init__(self, folder: Path, env: dict[str, str], workers: int = 2):
        self.folder, self.env, self.count = Path(folder), dict(env), workers
        self.folder.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="dk-"))  # the workers' TMPDIR: short, for the kernels' unix sockets
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}
        self.client = None

    def _start(self, *arguments: str) -> subprocess.Popen:
        return subprocess.Popen([str(BIN / "dask"), *arguments], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=self.folder)

    def start(self) -> DaskCluster:
        from distributed import Client

        self.scheduler = self._start("scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard")
        wait_for_line(self.scheduler, r"Scheduler at:", 120, self.folder / "scheduler.log")
        for index in range(self.count):
            self.start_worker(f"w{index}")
        self.client = Client(self.address, timeout="30s", set_as_default=False)
        self.client.wait_for_workers(self.count, timeout=180)
        return self

    def start_worker(self, name: str) -> None:
        worker_env = {**self.env, "TMPDIR": str(self.tmp)}  # kernel slots shared by the workers, as on one machine
        (self.folder / name).mkdir(exist_ok=True)
        process = subprocess.Popen([str(BIN / "dask"), "worker", self.address, "--name", name, "--nthreads", "1",
                                    "--no-nanny", "--host", "127.0.0.1", "--no-dashboard", "--local-directory",
                                    str(self.folder / name)], env=worker_env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, cwd=self.folder)
        self.workers[name] = process
        wait_for_line(process, r"Registered to:", 120, self.folder / f"{name}.log")

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker process ``name`` (what it started itself keeps running until it ends)."""
        process = self.workers[name]
        process.kill()
        process.wait()

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
        for process in self.workers.values():
            stop(process)
        if self.scheduler is not None:
            stop(self.scheduler)
        _end_leftovers(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)


def _end_leftovers(folder: Path) -> None:
    """End the processes the cluster's workers left behind (those working in ``folder``), should any be left:
    a killed worker's phase-1 process ends itself with its kernel (``submission_run.end_with_parent``)."""
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if cwd.is_relative_to(folder):
            pid = int(entry.name)
            for end in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    end()  # a session leader takes its whole group along; any other process alone
                    break
                except (ProcessLookupError, PermissionError):
                    continue


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of Debian's package on 127.0.0.1 for the test session (as the postgres user when we
    are root); test modules import this fixture."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the PostgreSQL tests start Debian's server: Linux only")
    bindir = postgres_bindir()
    if bindir is None:
        unavailable("PostgreSQL's server programs (Debian's postgresql package) are not installed")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()
