"""What a student's kernel may see and do under `make grade`, and which isolation this machine allows.

Isolation modes (:func:`detect_isolation`):

* ``"user"`` (as root, with bubblewrap): the kernel runs as ``course-kernel-<slot>``, an unprivileged
  system user per worker (created when missing, left in place; ``userdel course-kernel-0`` removes
  one), with no capabilities and ``no_new_privs``;
* ``"userns"`` (not root, where unprivileged user namespaces are allowed): the same sandbox, as the
  instructor's own user inside a user namespace; its processes are counted with the instructor's;
* ``"none"``: the kernel runs unprotected, as plain ``nbgrader autograde`` runs it
  (:attr:`Isolation.reason` says why).

In both sandboxed modes the kernel has its own PID namespace (it sees only its own processes; every
process it starts dies with it), network namespace (loopback only: nothing outside is reachable; the
grader reaches the kernel through unix sockets in a short private folder, :func:`socket_folder`, whatever
``$TMPDIR`` is), IPC and UTS namespaces, a new session and a new (anonymous) session keyring. Hard limits
are set outside it (``prlimit``): address space per process, processes, file size, open files, no core
files. Its memory is also capped for the whole kernel, all its processes and its scratch files together:
by a memory cgroup of its own where the grader's cgroup allows one (:class:`KernelCgroup`), else by the
kernel manager's watchdog (:func:`sandbox_memory`). It sees, read-only, ``/usr``, a few loader and font
files of ``/etc``, the Python installation and virtual environment, the ``course_utils`` package and the
data folder; writable, a size-limited private ``/tmp`` (HOME and MPLCONFIGDIR inside), a size-limited
working folder holding (read-only) the files of the one submission, and the folder of its own sockets.
Nothing else exists for it. Its user's keyrings (user, user-session and persistent), which outlive its
processes, are emptied before and after each kernel (:func:`clear_keyrings`).
"""
from __future__ import annotations

import functools
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: ``auto`` (default: the best this machine allows), ``off`` (unprotected), ``required`` (fail without a sandbox)
SETTING = "COURSE_KERNEL_SANDBOX"
USER_PREFIX = "course-kernel-"
#: the kernel's working folder, HOME and matplotlib folder, inside the sandbox
WORKDIR = "/submission"
HOME = "/tmp/home"
MPLCONFIGDIR = HOME + "/.matplotlib"
#: files of /etc the dynamic loader, fonts and clocks read (bound read-only where they exist)
ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime")
#: variables of the grader's environment a kernel gets (everything else is dropped)
PASSED_VARIABLES = ("PYTHONHASHSEED", "MPLBACKEND", "COURSE_SCALE", "COURSE_THREADS", "OMP_NUM_THREADS",
                    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "ATEN_CPU_CAPABILITY", "LANG", "LC_ALL", "TZ")
#: address-space cap of a grading kernel; a kernel of any tutorial at the grading scale peaks below 2.3 GiB
DEFAULT_KERNEL_MEMORY_MB = 4096
#: the course_utils package (what the notebooks import)
PACKAGE_DIR = Path(__file__).resolve().parents[2]
#: the parts of the package that run only as the grader (the instructor's tools, the grader's side of the
#: grading): a kernel never imports them, so inside the sandbox each is an empty folder
GRADER_ONLY = ("instructor", "grading/grader_side")


def kernel_memory_mb() -> int:
    """The address-space cap in MiB: ``$COURSE_KERNEL_MEMORY_MB`` or the default."""
    megabytes = int(os.environ.get("COURSE_KERNEL_MEMORY_MB") or DEFAULT_KERNEL_MEMORY_MB)
    if megabytes < 512:
        raise ValueError(f"COURSE_KERNEL_MEMORY_MB={megabytes} is too small for a Python kernel with torch (>= 512)")
    return megabytes


@dataclass(frozen=True)
class Limits:
    """Hard limits of one sandboxed kernel (set outside it) and the sizes of its scratch space."""

    memory_mb: int = DEFAULT_KERNEL_MEMORY_MB  # address space of each process, and memory of all together
    tasks: int = 64        # processes and threads of the kernel's user (a grading kernel runs 12 threads)
    file_mb: int = 128     # largest file it may write
    open_files: int = 1024
    tmp_mb: int = 256      # /tmp, with HOME
    work_mb: int = 256     # the working folder
    shm_mb: int = 64       # /dev/shm

    @classmethod
    def from_environment(cls) -> Limits:
        return cls(memory_mb=kernel_memory_mb())

    @property
    def scratch_mb(self) -> int:
        """Memory its tmpfs folders may take at most."""
        return self.tmp_mb + self.work_mb + self.shm_mb


@dataclass(frozen=True)
class Isolation:
    """How kernels run on this machine: ``mode`` is ``user``, ``userns`` or ``none`` (then ``reason``)."""

    mode: str
    reason: str = ""
    bwrap: str = ""

    @property
    def isolated(self) -> bool:
        return self.mode != "none"

    def describe(self) -> str:
        """What `make grade` prints about the isolation of student code."""
        common = ("no network, its own process namespace (nothing outlives it), limits on memory (per process and "
                  "for the whole kernel), processes, file size and scratch space; it sees only its submission, the "
                  "data and the Python environment")
        if not cpu_shared_per_session():
            common += ("; CPU is shared per process, not per kernel (kernel.sched_autogroup_enabled is 0): "
                       "a kernel with many busy processes slows the others")
        if self.mode == "user":
            return f"student kernels are isolated (bubblewrap, one unprivileged user per worker): {common}"
        if self.mode == "userns":
            return (f"student kernels are isolated (bubblewrap in a user namespace, as your own user): {common}; "
                    "their processes count against your user's process limit (as root: a user per worker)")
        return ("student kernels are NOT isolated: " + self.reason + ". Student code runs with your user's rights: "
                "it can read what you can read (other submissions, the solutions and their hidden tests), use the "
                "network, start processes and fill the disk; the tamper scan, the canary cells, the run's snapshot "
                "and the filtered feedback still apply")


def cpu_shared_per_session() -> bool:
    """Whether the Linux scheduler shares CPU time between sessions (autogroups) rather than processes: each
    kernel runs in a session of its own, so a kernel's many busy threads or processes get one share."""
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        return False


def _probe(command: list[str]) -> str:
    """"" when ``command`` runs, else the first line of its error."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    return "" if result.returncode == 0 else (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[0]


@functools.lru_cache(maxsize=None)
def detect_isolation(setting: str | None = None) -> Isolation:
    """The isolation this machine allows (``setting``: ``auto``, ``off`` or ``required``; default ``$COURSE_KERNEL_SANDBOX``)."""
    setting = (setting or os.environ.get(SETTING) or "auto").lower()
    if setting not in ("auto", "off", "required"):
        raise ValueError(f"{SETTING}={setting!r}: use auto, off or required")
    found = Isolation("none", f"{SETTING}=off") if setting == "off" else _find_isolation()
    if setting == "required" and not found.isolated:
        raise RuntimeError(f"{SETTING}=required, but student kernels cannot be isolated here: {found.reason}")
    return found


def _find_isolation() -> Isolation:
    if not sys.platform.startswith("linux"):
        return Isolation("none", "kernel isolation needs Linux namespaces")
    bwrap = shutil.which("bwrap")
    if not bwrap:
        return Isolation("none", "bubblewrap (bwrap) is not installed; as root on Debian, `make sandbox` installs it")
    missing = [tool for tool in ("prlimit", "setpriv") if not shutil.which(tool)]
    if missing:
        return Isolation("none", f"{' and '.join(missing)} (util-linux) not found")
    root = os.geteuid() == 0
    mode = "user" if root else "userns"
    probe = sandbox_command(["/bin/true"], Isolation(mode, bwrap=bwrap), Limits(), read_only=(), run_dir=None,
                            submission=None, etc_dir=None, uid=65534 if root else os.getuid(),
                            gid=65534 if root else os.getgid())
    error = _probe(probe)
    if not error:
        return Isolation(mode, bwrap=bwrap)
    if root:
        return Isolation("none", f"bubblewrap cannot start a sandbox here: {error}")
    return Isolation("none", f"unprivileged user namespaces are not available ({error}); as root, kernels run "
                             "as a user per worker")


def kernel_user(slot: int, isolation: Isolation) -> tuple[str, int, int]:
    """(name, uid, gid) the kernel of worker ``slot`` runs as: ``course-kernel-<slot>``, created when missing
    (as root); in a user namespace, the instructor's own user."""
    if isolation.mode != "user":
        return pwd.getpwuid(os.getuid()).pw_name, os.getuid(), os.getgid()
    name = f"{USER_PREFIX}{slot}"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        result = subprocess.run([useradd, "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                                 "/usr/sbin/nologin", "--user-group", "--comment", "course grading kernel", name],
                                capture_output=True, text=True)
        try:
            entry = pwd.getpwnam(name)  # another worker may have created it meanwhile
        except KeyError:
            raise RuntimeError(f"could not create the kernel user {name}: {result.stderr.strip()}") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise RuntimeError(f"{name} must be an unprivileged user (uid {entry.pw_uid}, gid {entry.pw_gid})")
    return name, entry.pw_uid, entry.pw_gid


def notebook_view(data_dir: Path | None) -> tuple[Path, ...]:
    """What a notebook needs, read-only: the Python installation, the virtual environment, the
    course_utils package and the data folder (each once; nothing that ``/usr`` already holds)."""
    candidates = [Path(sys.base_prefix), Path(sys.prefix), PACKAGE_DIR]
    if data_dir is not None and Path(data_dir).is_dir():
        candidates.append(Path(data_dir))
    paths: list[Path] = []
    for path in candidates:
        for form in dict.fromkeys((Path(os.path.abspath(path)), path.resolve())):
            if form == Path("/") or form.is_relative_to("/usr") or any(form.is_relative_to(p) for p in paths):
                continue
            paths = [p for p in paths if not p.is_relative_to(form)] + [form]
    return tuple(paths)


def grader_only_folders(package: Path = PACKAGE_DIR) -> tuple[Path, ...]:
    """The folders of ``GRADER_ONLY`` in ``package``, under every spelling of its path (as imported and resolved)."""
    forms = dict.fromkeys((Path(os.path.abspath(package)), package.resolve()))
    return tuple(form / part for form in forms for part in GRADER_ONLY if (form / part).is_dir())


def kernel_environment(base: dict[str, str], data_dir: Path | None, user: str) -> dict[str, str]:
    """The kernel's whole environment: a few variables of ``base`` that change what notebooks print
    (hash seed, plotting backend, scale, threads), and the sandbox's own paths."""
    env = {name: base[name] for name in PASSED_VARIABLES if name in base}
    env.update(PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
               HOME=HOME, MPLCONFIGDIR=MPLCONFIGDIR, TMPDIR="/tmp", USER=user, LOGNAME=user,
               PYTHONDONTWRITEBYTECODE="1")
    if data_dir is not None:
        env["COURSE_DATA_DIR"] = str(data_dir)
    return env


def write_identity(folder: Path, user: str, uid: int, gid: int) -> None:
    """``passwd`` and ``group`` files naming only root and the kernel's user, for the sandbox's /etc."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passwd").write_text(f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                                   f"{user}:x:{uid}:{gid}:course grading kernel:{HOME}:/usr/sbin/nologin\n")
    (folder / "group").write_text(f"root:x:0:\n{user}:x:{gid}:\n")
    for name in ("passwd", "group"):
        (folder / name).chmod(0o644)
    folder.chmod(0o755)


@functools.lru_cache(maxsize=None)
def font_cache() -> Path | None:
    """The grader's matplotlib font list (built now if missing), lent read-only to every kernel: kernels
    then use the fonts a serial run uses and never rebuild the list (which prints a warning)."""
    try:
        import matplotlib
        from matplotlib import font_manager
    except ImportError:
        return None
    path = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    return path if path.is_file() else None


def _task_count(uid: int) -> int:
    """Processes and threads running as ``uid`` now."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1").split()[0]) == uid:
            count += int(fields.get("Threads", "1"))
    return count


class _Mounts:
    """bubblewrap arguments that build the sandbox's file system, creating parent folders readable by all."""

    def __init__(self) -> None:
        self.args: list[str] = []
        self.made: set[str] = {"/"}

    def _parents(self, path: str) -> None:
        for parent in reversed(Path(path).parents):
            if str(parent) not in self.made:
                self.args += ["--perms", "0755", "--dir", str(parent)]
                self.made.add(str(parent))

    def add(self, option: str, source: str | None, target: str, perms: str | None = None, size_mb: int | None = None):
        self._parents(target)
        if perms:
            self.args += ["--perms", perms]
        if size_mb:
            self.args += ["--size", str(size_mb * 1024**2)]
        self.args += [option] + ([source] if source is not None else []) + [target]
        self.made.add(target)


def _bind_readable(mounts: _Mounts, path: Path) -> None:
    """Bind ``path`` read-only at its own place. A folder that others may not enter (a temporary folder of
    mode 0700 holding the data, say) is made anew, open to all, with its entries bound into it; what is
    below keeps its own permissions."""
    if path.is_dir() and path.stat().st_mode & 0o005 != 0o005:
        mounts.add("--dir", None, str(path), perms="0755")
        for entry in sorted(path.iterdir()):
            if not entry.is_symlink():
                mounts.add("--ro-bind", str(entry), str(entry))
    else:
        mounts.add("--ro-bind", str(path), str(path))


def sandbox_command(command: list[str], isolation: Isolation, limits: Limits, *, read_only: tuple[Path, ...],
                    run_dir: Path | None, submission: Path | None, etc_dir: Path | None, uid: int, gid: int,
                    fonts: Path | None = None, hidden: tuple[Path, ...] = ()) -> list[str]:
    """``command`` wrapped in bubblewrap, ``prlimit`` and (as root) ``setpriv`` to ``uid``/``gid``.

    ``read_only``: folders bound read-only at their own paths; ``hidden``: folders below them that the kernel
    sees empty (an empty tmpfs of mode 0555 over each); ``run_dir``: the kernel's socket folder,
    writable, at its own path; ``submission``: a folder whose files and subfolders (not its links)
    appear read-only in the working folder, its notebooks left out; ``etc_dir``: ``passwd`` and ``group`` for ``/etc``;
    ``fonts``: matplotlib's font list, read-only in MPLCONFIGDIR.
    """
    args = [isolation.bwrap or "bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--hostname", "grading"]
    if isolation.mode == "userns":
        args.append("--unshare-user")
    mounts = _Mounts()
    mounts.add("--proc", None, "/proc")
    mounts.add("--dev", None, "/dev")
    mounts.add("--tmpfs", None, "/dev/shm", perms="1777", size_mb=limits.shm_mb)
    mounts.add("--tmpfs", None, "/tmp", perms="1777", size_mb=limits.tmp_mb)
    mounts.add("--dir", None, HOME, perms="1777")
    mounts.add("--dir", None, MPLCONFIGDIR, perms="1777")
    if fonts is not None:
        mounts.add("--ro-bind", str(fonts), f"{MPLCONFIGDIR}/{fonts.name}")
    mounts.add("--ro-bind", "/usr", "/usr")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            mounts.add("--symlink", os.readlink(host), str(host))
        elif host.is_dir():
            mounts.add("--ro-bind", str(host), str(host))
    for name in ETC_FILES:
        if Path(name).exists():
            mounts.add("--ro-bind", name, name)
    if etc_dir is not None:
        for name in ("passwd", "group"):
            mounts.add("--ro-bind", str(etc_dir / name), f"/etc/{name}")
    for path in read_only:
        _bind_readable(mounts, path)
    for folder in hidden:
        if any(Path(folder).is_relative_to(path) for path in read_only):
            mounts.made.update(str(parent) for parent in Path(folder).parents)  # they exist: bound above
            mounts.add("--tmpfs", None, str(folder), perms="0555", size_mb=1)
    mounts.add("--tmpfs", None, WORKDIR, perms="1777", size_mb=limits.work_mb)
    if submission is not None:  # its files, but no notebook: the one being graded holds the hidden tests
        for entry in sorted(Path(submission).iterdir()):
            if not entry.is_symlink() and (entry.is_file() or entry.is_dir()) and entry.suffix != ".ipynb":
                mounts.add("--ro-bind", str(entry), f"{WORKDIR}/{entry.name}")
    if run_dir is not None:
        mounts.add("--bind", str(run_dir), str(run_dir))
    args += mounts.args + ["--chdir", WORKDIR, "--"]
    tasks = limits.tasks if isolation.mode == "user" else _task_count(uid) + limits.tasks
    if shutil.which("choom"):  # out of memory, the kernel's processes go first, never the grader's
        args += ["choom", "-n", "1000", "--"]
    args += ["prlimit", f"--as={limits.memory_mb * 1024**2}", f"--nproc={tasks}", f"--fsize={limits.file_mb * 1024**2}",
             f"--nofile={limits.open_files}", "--core=0", "--"]
    if isolation.mode == "user":
        args += ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=-all",
                 "--bounding-set=-all", "--no-new-privs", "--"]
    return args + list(command)


#: keyctl's system call number per machine; its operations used here, and the special ids of the user and
#: user-session keyrings
KEYCTL = {"x86_64": 250, "aarch64": 219}
KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_CLEAR, KEYCTL_GET_PERSISTENT = 1, 7, 22
USER_KEYRINGS = (-4, -5)


def keyring_command(uid: int, gid: int, action: str = "clear") -> list[str]:
    """A command that, as ``uid``, empties that user's kernel keyrings (``action="clear"``): its persistent
    keyring (which the kernel keeps for days after the user's last process, ``keyctl get_persistent``),
    its user keyring and its user-session keyring. Without it one student's kernel could leave data there
    for the next student graded by the same worker. It prints what each KEYCTL_CLEAR returned (0: emptied;
    the persistent keyring's is -1 where the kernel has none)."""
    number = KEYCTL.get(os.uname().machine)
    # in a session keyring of its own (the grader's may be another's), the persistent keyring is linked into it:
    # possessed, its owner may empty it; then the user and user-session keyrings are emptied
    program = (f"import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
               f"keyctl = lambda *a: libc.syscall(ctypes.c_long({number}), *(ctypes.c_long(v) for v in a)); "
               f"keyctl({KEYCTL_JOIN_SESSION_KEYRING}, 0); persistent = keyctl({KEYCTL_GET_PERSISTENT}, -1, -3); "
               f"print([keyctl({KEYCTL_CLEAR}, persistent) if persistent > 0 else -1] + "
               f"[keyctl({KEYCTL_CLEAR}, ring) for ring in {USER_KEYRINGS}])")
    # -I: Python in isolated mode, which reads no user site-packages or PYTHON* variables that the user could steer
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--", sys.executable, "-I", "-c", program]


def clear_keyrings(uid: int, gid: int) -> bool:
    """Empty ``uid``'s keyrings (as root, on a machine whose keyctl number is known); True if it ran."""
    if os.geteuid() != 0 or KEYCTL.get(os.uname().machine) is None or not shutil.which("setpriv"):
        return False
    subprocess.run(keyring_command(uid, gid), capture_output=True, timeout=60, cwd="/",
                   env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})
    return True


# ------------------------------------------------------------------------------------------ the sockets' folder

#: the longest path of a unix socket (sun_path holds 108 bytes with its final NUL)
SOCKET_PATH_MAX = 107
#: where kernels' socket folders go, first that exists and is writable; the temporary folder only after them
SOCKET_BASES = ("/tmp", "/var/tmp")


def socket_folder() -> Path:
    """A new folder of its own (mode 0700) for one kernel's sockets, at a path short enough for them whatever
    ``$TMPDIR`` is: ``/tmp/course-kernel-XXXXXXXX`` (the sockets go into its ``run`` folder)."""
    for base in SOCKET_BASES + (tempfile.gettempdir(),):
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            folder = Path(tempfile.mkdtemp(prefix="course-kernel-", dir=base))
            if len(str(folder / "run" / "ipc-65535").encode()) <= SOCKET_PATH_MAX:
                return folder
            folder.rmdir()
    raise RuntimeError(f"no folder short enough for a kernel's unix sockets: none of {', '.join(SOCKET_BASES)} "
                       f"is writable and the temporary folder {tempfile.gettempdir()} is too deep")


# ------------------------------------------------------------------------------ the whole kernel's memory cap

def _cgroup_mounts() -> list[tuple[str, str, str, str]]:
    """(file system type, mount point, root in its hierarchy, super options) of each cgroup mount."""
    found = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((tail[0], fields[4].replace("\\040", " "), fields[3], tail[2]))
    return found


def _own_cgroup(version: int) -> Path | None:
    """The folder of the grader's own memory cgroup (cgroup ``version`` 2 or 1), where it is mounted."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if version == 2 and hierarchy != "0" or version == 1 and "memory" not in controllers.split(","):
            continue
        for kind, point, root, options in _cgroup_mounts():
            if (kind == "cgroup2") != (version == 2) or version == 1 and "memory" not in options.split(","):
                continue
            relative = path[len(root):] if root != "/" and path.startswith(root) else path
            folder = Path(point) / relative.lstrip("/")
            try:
                if str(os.getpid()) in (folder / "cgroup.procs").read_text().split():
                    return folder
            except OSError:
                continue
    return None


def _write(path: Path, value: str) -> None:
    with open(path, "w") as file:
        file.write(value)


class KernelCgroup:
    """A memory cgroup of one kernel, a child of the grader's own (so the grader's limits still hold): the
    kernel's processes and the files of its scratch folders together stay under ``limit`` bytes; past it the
    kernel's out-of-memory killer ends one of them (cgroup v2: all of them), and the kernel manager the rest.
    :meth:`create` makes one where the machine allows it: cgroup v2 with the memory controller enabled for
    the grader's cgroup's children (a delegated cgroup), or the cgroup v1 memory controller (as root)."""

    def __init__(self, path: Path, version: int, limit: int):
        self.path, self.version, self.limit = path, version, limit

    @classmethod
    def create(cls, name: str, limits: Limits) -> tuple[KernelCgroup | None, str]:
        """(the cgroup, "") or (None, why not)."""
        reasons = []
        for version in (2, 1):
            parent = _own_cgroup(version)
            if parent is None:
                reasons.append(f"no cgroup v{version} memory controller for the grader")
                continue
            if version == 2:
                if "memory" not in (parent / "cgroup.controllers").read_text().split():
                    reasons.append("no cgroup v2 memory controller for the grader")
                    continue
                if "memory" not in (parent / "cgroup.subtree_control").read_text().split():
                    try:  # allowed where the grader's cgroup is the root one or holds no process of its own
                        _write(parent / "cgroup.subtree_control", "+memory")
                    except OSError as error:
                        reasons.append(f"cgroup v2 memory controller not delegated to {parent} ({error.strerror})")
                        continue
            path = parent / name
            limit = limits.memory_mb * 1024**2
            try:
                path.mkdir()
            except OSError as error:
                reasons.append(f"cannot create a cgroup in {parent} ({error.strerror})")
                continue
            try:
                if version == 2:
                    settings = [("memory.max", limit), ("memory.swap.max", 0), ("memory.oom.group", 1),
                                ("pids.max", limits.tasks)]
                else:
                    settings = [("memory.limit_in_bytes", limit), ("memory.memsw.limit_in_bytes", limit)]
                for index, (setting, value) in enumerate(settings):
                    if index == 0 or (path / setting).exists():
                        _write(path / setting, str(value))
            except OSError as error:
                reasons.append(f"cannot set the memory limit of {path} ({error.strerror})")
                cls(path, version, limit).remove()
                continue
            return cls(path, version, limit), ""
        return None, "; ".join(reasons)

    def holds(self, pid: int) -> bool:
        """Whether process ``pid`` is in this cgroup."""
        try:
            return str(pid) in (self.path / "cgroup.procs").read_text().split()
        except OSError:
            return False

    def members(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def oom_kills(self) -> int:
        """How many of its processes the out-of-memory killer ended (at the cgroup's limit)."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            lines = (self.path / name).read_text().splitlines()
            fields = dict(line.split() for line in lines if len(line.split()) == 2)
        except OSError:
            return 0
        return int(fields.get("oom_kill", 0))

    def peak(self) -> int | None:
        """The most memory its processes held together, in bytes (None where the kernel does not say)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.path / name).read_text())
        except (OSError, ValueError):
            return None

    def kill(self) -> None:
        """SIGKILL to every process in it."""
        if self.version == 2 and (self.path / "cgroup.kill").exists():
            try:
                _write(self.path / "cgroup.kill", "1")
                return
            except OSError:
                pass
        for _ in range(5):  # a process may fork meanwhile
            pids = self.members()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass

    def remove(self, timeout_s: float = 10.0) -> bool:
        """Kill what is left in it and remove it; True once removed."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.kill()
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.05)


#: the launcher of a kernel's sandbox, run as the grader: it joins the kernel's cgroup (argv[1], its
#: cgroup.procs, or ""), takes a new anonymous session keyring (keyctl number argv[2]: the kernel must not
#: hold the grader's session keyring, which every kernel would share) and becomes bubblewrap (argv[3:])
LAUNCHER = """import ctypes, errno, os, sys
procs, number, command = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if procs:
    try:
        with open(procs, 'w') as file:
            file.write(str(os.getpid()))
    except OSError as error:
        print(f'the kernel is not in its memory cgroup ({error}): the grader watches its memory', file=sys.stderr)
if number > 0:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(ctypes.c_long(number), ctypes.c_long(%d), ctypes.c_void_p(None)) < 0:
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EPERM, errno.EACCES):  # keyrings forbidden here: for the kernel too
            sys.exit(f'no session keyring of its own for the kernel: {os.strerror(code)}')
os.execvp(command[0], command)
""" % KEYCTL_JOIN_SESSION_KEYRING


def launcher_command(command: list[str], cgroup: KernelCgroup | None) -> list[str]:
    """``command`` (the sandbox's) started in ``cgroup`` with a session keyring of its own (:data:`LAUNCHER`)."""
    procs = str(cgroup.path / "cgroup.procs") if cgroup is not None else ""
    number = KEYCTL.get(os.uname().machine, 0)
    return [sys.executable, "-I", "-c", LAUNCHER, procs, str(number)] + list(command)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it (in a sandbox: every process of its PID namespace, whose orphans
    go to bubblewrap's init there)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                pending += [int(child) for child in Path(f"/proc/{current}/task/{task}/children").read_text().split()]
            except OSError:
                continue
    return found


def _resident(pid: int, proportional: bool) -> int:
    """Bytes of memory process ``pid`` holds: resident (RSS), or its proportional share (PSS) of pages it
    shares with others (a forked child's copy-on-write pages count once in all)."""
    try:
        if proportional:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def scratch_used(pid: int) -> int:
    """Bytes in the scratch folders (tmpfs) of the sandbox whose init is process ``pid``."""
    used = 0
    for folder in ("/tmp", WORKDIR, "/dev/shm"):
        try:
            info = os.statvfs(f"/proc/{pid}/root{folder}")
        except OSError:
            continue
        used += (info.f_blocks - info.f_bfree) * info.f_frsize
    return used


def sandbox_memory(pid: int, cap: int) -> tuple[int, int, int]:
    """(bytes, processes, scratch bytes) the sandbox started as process ``pid`` holds: the memory of its
    processes together, and the files of its scratch folders. Processes count by their resident memory;
    where that passes ``cap``, by their proportional share (PSS, slower to read, never more)."""
    pids = process_tree(pid)
    scratch = scratch_used(pids[1]) if len(pids) > 1 else 0
    total = sum(_resident(p, False) for p in pids) + scratch
    if total > cap:
        total = sum(_resident(p, True) for p in pids) + scratch
    return total, len(pids), scratch
