"""Phase 1 of `make grade` on a Dask cluster: each submission runs on whichever worker is free.

The grader takes its snapshot as on one machine (``submission_run.take_snapshot``), then sends the cluster:

* one **run bundle** (:class:`RunBundle`), computed once per worker: the nbgrader config, the assignment's
  source and release, a gradebook that holds only the assignment's definitions
  (``gradebook_db.phase_one_gradebook``: no student, no grade), the settings that change what a kernel
  prints, and what the worker must have to grade as the grader would (the digest of the ``course_utils``
  package, the data files by name and size, the kernel isolation it requires);
* one **task per submission** (:class:`SubmissionTask`): the student's files, as bytes.

A worker (:func:`grade_on_worker`) needs only the course package (installed, with its virtual environment)
and the data: it checks both against the bundle, takes a free slot on its machine (slot k runs its kernels
as ``course-kernel-k``), rebuilds a private snapshot (``mkdtemp``, mode 0700), calls
``submission_run.execute_submission`` there (the same tamper scan, canaries and kernel sandbox as on one
machine) and returns the executed notebooks, their sha256 and the report. The grader checks every hash
before the replay, which stays one serial nbgrader process writing the gradebook.

Faults: a worker that dies mid-run has its submissions rerun elsewhere by the scheduler (up to Dask's
``distributed.scheduler.allowed-failures`` times; a submission that keeps killing workers is reported as not
run); each student has one task and one result, so none is graded twice or left out. A scheduler that cannot
be reached raises :class:`SchedulerUnreachable` within the connect timeout; workers that cannot grade as the
grader would (another course package, missing data, no kernel isolation) raise :class:`WorkersUnfit` before
any kernel runs.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import multiprocessing
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .gradebook_db import phase_one_gradebook, without_credentials
from .submission_run import STUDENT_TIME_LIMIT_S, RunSnapshot, SubmissionResult, execute_submission, prepare_worker

#: the grader's variables that change what a kernel prints or how it is limited (sent to every worker)
SHARED_VARIABLES = ("PYTHONHASHSEED", "MPLBACKEND", "COURSE_SCALE", "COURSE_THREADS", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY", "OMP_WAIT_POLICY",
                    "COURSE_KERNEL_MEMORY_MB", "LANG", "LC_ALL", "TZ")
#: the topic of the workers' events (started, finished: student and worker), for progress and tests
TOPIC = "course-grading"
#: the course package whose digest a worker must share with the grader
PACKAGE_DIR = Path(__file__).resolve().parents[1]


class SchedulerUnreachable(RuntimeError):
    """The Dask scheduler cannot be reached, or has no worker (the message says what to do)."""


class WorkersUnfit(RuntimeError):
    """Workers that cannot grade as the grader would (the message names them and why)."""


@dataclass(frozen=True)
class WorkerCheck:
    """What a worker must have to grade as the grader would."""

    package: str                 # sha256 of the course_utils package's Python files
    data: dict[str, int]         # data files phase 1 reads: relative path -> size in bytes
    sandbox: str                 # COURSE_KERNEL_SANDBOX for its kernels: "required" or "off"


@dataclass(frozen=True)
class RunBundle:
    """What every task of a class run shares (sent once per worker)."""

    assignment: str
    files: dict[str, bytes]      # the snapshot's files (RunSnapshot layout below "snapshot/"), but submissions
    env: dict[str, str]          # SHARED_VARIABLES of the grader
    check: WorkerCheck
    limit_s: float = STUDENT_TIME_LIMIT_S


@dataclass(frozen=True)
class SubmissionTask:
    """One submission: the student and the files of their submission folder; ``alone``: nothing else may run on
    its machine meanwhile (a submission the grader's prescan flagged)."""

    student: str
    files: dict[str, bytes]
    alone: bool = False


def read_tree(folder: Path) -> dict[str, bytes]:
    """The regular files below ``folder`` (relative POSIX paths -> bytes); links and special files are left out."""
    files = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file() and not path.is_symlink() and not any(p.is_symlink() for p in path.relative_to(folder).parents
                                                                  if str(p) != "."):
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def write_tree(files: dict[str, bytes], folder: Path) -> None:
    """Write ``files`` (relative POSIX paths) below ``folder``; a name that would leave it is refused."""
    for name, data in files.items():
        relative = PurePosixPath(name)
        if relative.is_absolute() or not relative.parts or any(part in ("", ".", "..") for part in relative.parts):
            raise ValueError(f"refused file name in a grading task: {name!r}")
        target = Path(folder, *relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def package_digest() -> str:
    """sha256 of the course_utils package's Python files (names and contents), as they are now on disk."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def data_listing(data_dir: Path) -> dict[str, int]:
    """The files of a data folder: relative path -> size."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        return {}
    return {p.relative_to(data_dir).as_posix(): p.stat().st_size for p in sorted(data_dir.rglob("*"))
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts)}


def worker_sandbox_setting(environ: dict[str, str]) -> str:
    """What a worker's kernels require: isolation, unless the instructor switched it off (``COURSE_KERNEL_SANDBOX=off``)."""
    return "off" if (environ.get("COURSE_KERNEL_SANDBOX") or "").lower() == "off" else "required"


def make_bundle(snapshot: RunSnapshot, limit_s: float = STUDENT_TIME_LIMIT_S) -> RunBundle:
    """The run bundle of ``snapshot`` (read from the grader's private work folder)."""
    work = Path(tempfile.mkdtemp(prefix="bundle-", dir=snapshot.folder))
    try:
        phase_one_gradebook(f"sqlite:///{snapshot.gradebook}", snapshot.assignment, work / "gradebook.db")
        files = {"gradebook.db": (work / "gradebook.db").read_bytes(), "nbgrader_config.py": snapshot.config.read_bytes(),
                 "probe_key": snapshot.probe_key.read_bytes()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for prefix, folder in (("source", snapshot.source), ("release", snapshot.release)):
        if folder.is_dir():
            files.update({f"{prefix}/{name}": data for name, data in read_tree(folder).items()})
    env = {name: snapshot.env[name] for name in SHARED_VARIABLES if name in snapshot.env}
    check = WorkerCheck(package_digest(), data_listing(snapshot.data_dir), worker_sandbox_setting(snapshot.env))
    return RunBundle(snapshot.assignment, files, env, check, limit_s)


# ---------------------------------------------------------------------------------------------- on a worker

def worker_data_dir() -> Path:
    """The data folder of this worker: ``$COURSE_DATA_DIR``, else the installed course's ``data``."""
    from ..notebook.paths import data_dir

    return Path(data_dir(start=PACKAGE_DIR)).resolve()


def worker_problems(check: WorkerCheck) -> list[str]:
    """Why this worker cannot grade as the grader would (empty: it can)."""
    from .sandbox.kernel_sandbox import detect_isolation

    problems = []  # kernels' sockets live in a short folder of their own, whatever TMPDIR (sandbox.kernel_sandbox)
    if package_digest() != check.package:
        problems.append(f"its course_utils package ({PACKAGE_DIR}) differs from the grader's: install the same "
                        "version of the course on every worker")
    here = data_listing(worker_data_dir())
    missing = sorted(name for name, size in check.data.items() if here.get(name) != size)
    if missing:
        problems.append(f"its data folder {worker_data_dir()} lacks or differs in {len(missing)} of the grader's "
                        f"data files ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}): copy the "
                        "grader's data or set COURSE_DATA_DIR for the worker")
    try:
        detect_isolation(check.sandbox)
    except RuntimeError as error:
        problems.append(f"{error} (or grade without isolation: COURSE_KERNEL_SANDBOX=off on the grader)")
    return problems


def describe_worker(check: WorkerCheck) -> dict:
    """What a worker says about itself before a run: its problems and its kernels' isolation."""
    from .sandbox.kernel_sandbox import detect_isolation

    problems = worker_problems(check)
    isolation = "" if problems else detect_isolation(check.sandbox).describe()
    return {"host": os.uname().nodename, "problems": problems, "isolation": isolation}


def _announce(event: str, student: str) -> None:
    """A worker event on TOPIC (the grader's progress and the tests read them); nothing outside a worker."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    worker.log_event(TOPIC, {"event": event, "student": student, "worker": worker.address, "name": str(worker.name),
                             "pid": os.getpid()})


_PREPARED: set[str] = set()
_PREPARE_LOCK = threading.Lock()


def _slots_dir() -> Path:
    """This machine's folder of kernel slots (one per user, mode 0700, never a link)."""
    folder = Path(tempfile.gettempdir()) / f"course-slots-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if folder.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RuntimeError(f"{folder} must be a folder of this user's with mode 0700")
    return folder


_CHILDREN = {"running": 0, "daemon": False}
_CHILDREN_LOCK = threading.Lock()


@contextlib.contextmanager
def _children_allowed():
    """Under Dask's nanny a worker is a daemonic process, which multiprocessing forbids to start processes;
    phase 1 starts one per submission and always waits for it or kills it, so the flag is lifted while any
    submission of this worker runs."""
    process = multiprocessing.current_process()
    with _CHILDREN_LOCK:
        if _CHILDREN["running"] == 0:
            _CHILDREN["daemon"] = process.daemon
            if process.daemon:
                process.daemon = False
        _CHILDREN["running"] += 1
    try:
        yield
    finally:
        with _CHILDREN_LOCK:
            _CHILDREN["running"] -= 1
            if _CHILDREN["running"] == 0 and _CHILDREN["daemon"]:
                process.daemon = True


@contextlib.contextmanager
def machine_share(alone: bool):
    """This machine's grading lock: shared by every submission, held alone by one that must run alone (it waits
    until the submissions running here end, and the next ones wait for it)."""
    descriptor = os.open(_slots_dir() / "machine.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def claim_slot():
    """The lowest kernel slot of this machine that no running submission holds (a lock file per slot, held
    until the submission ends, by every process that runs it): ``(slot, private folder of the slot)``. What a
    dead holder left in the slot's folder is removed."""
    folder = _slots_dir()
    slot = 0
    while True:
        descriptor = os.open(folder / f"{slot}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            os.close(descriptor)
            slot += 1
    work = folder / str(slot)
    try:
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(mode=0o700)
        yield slot, work
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.close(descriptor)


def grade_on_worker(bundle: RunBundle, task: SubmissionTask) -> tuple[SubmissionResult, str]:
    """A Dask task: phase 1 for ``task``'s student on this worker. Returns the result and the worker's address;
    raises (the grader reports it) when this worker cannot grade as the grader would."""
    from .sandbox.kernel_sandbox import detect_isolation

    problems = worker_problems(bundle.check)
    if problems:
        raise WorkersUnfit(f"worker on {os.uname().nodename}: " + "; ".join(problems))
    isolation = detect_isolation(bundle.check.sandbox)
    with _PREPARE_LOCK:
        if isolation.mode not in _PREPARED:
            prepare_worker(isolation.mode)
            _PREPARED.add(isolation.mode)
    with machine_share(task.alone), claim_slot() as (slot, work):
        _announce("started", task.student)
        folder = Path(tempfile.mkdtemp(prefix="g-", dir=work))  # short: the kernel's unix sockets live below
        snapshot = RunSnapshot(folder, bundle.assignment, worker_data_dir(),
                               {**without_credentials(dict(os.environ)), **bundle.env,
                                "COURSE_KERNEL_SANDBOX": bundle.check.sandbox}, isolation.mode)
        try:
            write_tree(bundle.files, snapshot.config.parent)
            write_tree(task.files, snapshot.submission(task.student))
            with _children_allowed():
                result = execute_submission(snapshot, task.student, slot, bundle.limit_s)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    _announce("finished", task.student)
    try:
        from distributed import get_worker

        address = get_worker().address
    except (ImportError, ValueError):
        address = "local"
    return result, address


def _bundle(bundle: RunBundle) -> RunBundle:
    """The bundle as a task's result: Dask keeps its definition and recomputes it if its worker is lost."""
    return bundle


# ------------------------------------------------------------------------------------------- on the grader

def verified(result: SubmissionResult, student: str) -> SubmissionResult:
    """``result`` when it is ``student``'s and each notebook matches its sha256; else a failure that says so."""
    if result.student != student:
        return SubmissionResult(student, failure=f"the worker returned {result.student!r}'s result")
    damaged = sorted(name for name, data in result.notebooks.items()
                     if hashlib.sha256(data).hexdigest() != result.sha256.get(name))
    if damaged or set(result.sha256) != set(result.notebooks):
        return SubmissionResult(student, failure=f"executed notebook changed after its kernel ended (sha256): "
                                                 f"{', '.join(damaged) or 'names differ'}")
    return result


def _accepts_connections(address: str, timeout_s: float) -> None:
    """Raise OSError at once when nothing listens at a ``tcp://`` or ``tls://`` address (a refused connection is
    final: the Dask client itself would retry it until its timeout)."""
    scheme, _, rest = address.partition("://")
    if scheme not in ("tcp", "tls") or ":" not in rest:
        return
    host, _, port = rest.rpartition(":")
    socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()


@dataclass
class DaskPhaseOne:
    """Runs phase 1 of class runs on a Dask cluster (``grade_class(..., phase_one=...)``)."""

    client: object                  # distributed.Client
    address: str
    cluster: object | None = None   # a cluster this object started (closed with it)
    worker_wait_s: float = 600.0    # how long the run waits while the cluster has no worker
    placement: dict[str, str] = field(default_factory=dict)   # student -> worker that returned their result
    isolation: dict[str, str] = field(default_factory=dict)   # worker -> how its kernels ran

    @classmethod
    def connect(cls, address: str, timeout_s: float = 10.0, workers_timeout_s: float = 60.0) -> DaskPhaseOne:
        """A running scheduler (``tcp://host:8786``) with at least one worker; :class:`SchedulerUnreachable` else."""
        from distributed import Client

        try:
            _accepts_connections(address, timeout_s)
            client = Client(address, timeout=f"{timeout_s}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise SchedulerUnreachable(
                f"the Dask scheduler at {address} cannot be reached ({str(error).splitlines()[0][:200]}). Start it "
                "(`dask scheduler`, and `dask worker ADDRESS --nthreads 1` on each machine), or grade on this "
                "machine: `--local-if-unreachable` (make grade ... LOCAL_IF_UNREACHABLE=1)") from None
        try:
            client.wait_for_workers(1, timeout=workers_timeout_s)
        except (TimeoutError, OSError):
            client.close()
            raise SchedulerUnreachable(f"the Dask scheduler at {address} has no worker after {workers_timeout_s:g} s: "
                                       f"start some with `dask worker {address} --nthreads 1`") from None
        return cls(client, address)

    @classmethod
    def from_cluster_file(cls, path: Path) -> DaskPhaseOne:
        """A cluster described by a file (:class:`ClusterSpec`), started now; closed with this object."""
        from distributed import Client

        spec = ClusterSpec.load(path)
        cluster = spec.create()
        spec.start(cluster)
        return cls(Client(cluster, set_as_default=False), cluster.scheduler_address, cluster,
                   worker_wait_s=spec.worker_wait_s)

    def describe(self) -> str:
        kinds = sorted(set(self.isolation.values()))
        return (f"phase 1 on the Dask cluster at {self.address} ({len(self.isolation)} workers checked); "
                + " | ".join(kinds or ["no worker was checked"]))

    def worker_count(self) -> int:
        """How many workers ran submissions of the last run (else how many were checked)."""
        return len(set(self.placement.values())) or len(self.isolation)

    def check_workers(self, check: WorkerCheck) -> None:
        """Ask every worker now in the cluster whether it can grade as the grader would; raise :class:`WorkersUnfit`."""
        reports = self.client.run(describe_worker, check) if self.client.scheduler_info()["workers"] else {}
        unfit = {address: report["problems"] for address, report in reports.items() if report["problems"]}
        if unfit:
            raise WorkersUnfit("these Dask workers cannot grade as this machine would, nothing was run: " + "; ".join(
                f"{address} ({reports[address]['host']}): {' / '.join(problems)}" for address, problems in unfit.items()))
        self.isolation.update({address: report["isolation"] for address, report in reports.items()})

    def run(self, snapshot: RunSnapshot, students: list[str], limit_s: float = STUDENT_TIME_LIMIT_S,
            progress=None, alone: set[str] = frozenset()) -> dict[str, SubmissionResult]:
        """Phase 1 of ``students`` on the cluster: one task each; ``progress(result)`` after each, in the order
        they end. The students in ``alone`` are sent once the others have ended, and each runs with nothing
        beside it on its machine. Every student gets exactly one result (a failure when their task could not
        be run)."""
        from distributed import as_completed

        if not students:
            return {}
        bundle = make_bundle(snapshot, limit_s)
        self.check_workers(bundle.check)
        token = uuid.uuid4().hex[:10]
        shared = self.client.submit(_bundle, bundle, key=f"course-bundle-{snapshot.assignment}-{token}", pure=False)
        futures: dict = {}
        results: dict[str, SubmissionResult] = {}
        stop = threading.Event()
        watchdog = threading.Thread(target=self._cancel_without_workers, args=(futures, stop), daemon=True)
        watchdog.start()
        try:
            for batch in ([s for s in students if s not in alone], [s for s in students if s in alone]):
                submitted = {self.client.submit(grade_on_worker, shared,
                                                SubmissionTask(s, read_tree(snapshot.submission(s)), s in alone),
                                                key=f"grade-{snapshot.assignment}-{s}-{token}", pure=False,
                                                retries=1): s for s in batch}
                futures.update(submitted)
                for future in as_completed(list(submitted), loop=self.client.loop):
                    student = submitted[future]
                    results[student] = self._result(future, student)
                    if progress:
                        progress(results[student])
        finally:  # Ctrl-C or an error in the grader: nothing of this run stays queued on the cluster
            stop.set()
            self.client.cancel([*futures, shared], force=True)
        return results

    def _cancel_without_workers(self, futures: dict, stop: threading.Event) -> None:
        """Cancel what is still queued once the cluster has had no worker for ``worker_wait_s`` seconds."""
        idle_since = None
        while not stop.wait(5):
            try:
                workers = self.client.scheduler_info()["workers"]
            except Exception:  # the scheduler is gone: the futures end with its connection
                return
            idle_since = None if workers else (idle_since or time.monotonic())
            if idle_since is not None and time.monotonic() - idle_since > self.worker_wait_s:
                self.client.cancel([f for f in list(futures) if not f.done()], reason="no worker", force=True)
                return

    def _result(self, future, student: str) -> SubmissionResult:
        from distributed import KilledWorker

        if future.cancelled():
            return SubmissionResult(student, failure=f"not run: the cluster had no worker for {self.worker_wait_s:g} s, "
                                                     "or the scheduler went away")
        try:
            result, worker = future.result()
        except KilledWorker:
            return SubmissionResult(student, failure="every worker that ran it died (Dask's allowed-failures): not run")
        except WorkersUnfit as error:
            return SubmissionResult(student, failure=str(error))
        except Exception as error:  # the worker's own failure, a lost scheduler: this student only
            return SubmissionResult(student, failure=f"phase 1 on the cluster failed: {type(error).__name__}: "
                                                     f"{str(error).splitlines()[0][:300] if str(error) else ''}")
        self.placement[student] = worker
        return verified(result, student)

    def close(self) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


# -------------------------------------------------------------------------------------------- cluster files

#: dask-jobqueue's cluster classes by the batch system's name
JOBQUEUE = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
            "htcondor": "HTCondorCluster", "oar": "OARCluster", "moab": "MoabCluster"}


@dataclass(frozen=True)
class ClusterSpec:
    """A cluster file (YAML)::

        kind: slurm          # a batch system of dask-jobqueue (slurm, pbs, sge, lsf, htcondor, oar, moab), or local
        jobs: 4              # batch jobs started at once (local: worker processes)
        maximum_jobs: 20     # optional: adapt between `jobs` and this many jobs to the queue of submissions
        worker_wait_s: 3600  # optional: how long a run waits while no worker is up (jobs queued)
        options:             # keyword arguments of the cluster class, e.g. dask_jobqueue.SLURMCluster
          cores: 8
          processes: 8       # one worker per core, one thread each
          memory: 48GB
          walltime: "02:00:00"
          python: /srv/course/.venv/bin/python
          job_script_prologue: ["export COURSE_DATA_DIR=/srv/course/data"]
    """

    kind: str
    jobs: int = 1
    maximum_jobs: int = 0
    worker_wait_s: float = 600.0
    options: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> ClusterSpec:
        import yaml

        content = yaml.safe_load(Path(path).read_text()) or {}
        if not isinstance(content, dict):
            raise ValueError(f"{path}: a cluster file is a mapping (kind, jobs, options, ...)")
        allowed = {"kind", "jobs", "maximum_jobs", "worker_wait_s", "options"}
        unknown = sorted(set(content) - allowed)
        if unknown:
            raise ValueError(f"{path}: unknown keys {', '.join(unknown)} (known: {', '.join(sorted(allowed))})")
        kind = str(content.get("kind", "")).lower()
        if kind not in (*JOBQUEUE, "local"):
            raise ValueError(f"{path}: kind must be one of {', '.join([*JOBQUEUE, 'local'])}, not {kind or 'missing'}")
        spec = cls(kind, int(content.get("jobs", 1)), int(content.get("maximum_jobs", 0)),
                   float(content.get("worker_wait_s", 600)), dict(content.get("options") or {}))
        if spec.jobs < 0 or (spec.maximum_jobs and spec.maximum_jobs < spec.jobs):
            raise ValueError(f"{path}: need 0 <= jobs <= maximum_jobs")
        return spec

    def create(self):
        """The cluster object (its scheduler runs here); no job is submitted yet."""
        if self.kind == "local":
            from distributed import LocalCluster

            options = {"n_workers": self.jobs, "threads_per_worker": 1, "processes": True, "host": "127.0.0.1",
                       "dashboard_address": None, **self.options}
            return LocalCluster(**options)
        try:
            import dask_jobqueue
        except ImportError:
            raise RuntimeError(f"a {self.kind} cluster needs dask-jobqueue: .venv/bin/pip install dask-jobqueue") from None
        return getattr(dask_jobqueue, JOBQUEUE[self.kind])(**self.options)

    def start(self, cluster) -> None:
        """Submit the jobs (or let the cluster adapt between ``jobs`` and ``maximum_jobs``)."""
        if self.kind == "local":
            if self.maximum_jobs:
                cluster.adapt(minimum=self.jobs, maximum=self.maximum_jobs)
        elif self.maximum_jobs:
            cluster.adapt(minimum_jobs=self.jobs, maximum_jobs=self.maximum_jobs)
        else:
            cluster.scale(jobs=self.jobs)
