"""The grading kernel's sandbox, attacked from inside a real sandboxed kernel (``SandboxedKernelManager``).

Every check runs code in the kernel as a student's cell would, and looks from outside where it must. These
tests need Linux with bubblewrap; as root on Debian (as CI runs) they fail when the sandbox is missing.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from course_utils.instructor.sandbox import kernel_sandbox
from course_utils.instructor.sandbox.kernel_manager import SandboxedKernelManager
from course_utils.instructor.sandbox.kernel_sandbox import (HOME, PASSED_VARIABLES, WORKDIR, Isolation, KernelCgroup,
                                                            Limits, detect_isolation, sandbox_command)

ROOT_ON_DEBIAN = os.geteuid() == 0 and Path("/etc/debian_version").is_file()


@pytest.fixture(scope="module")
def isolation() -> Isolation:
    found = detect_isolation("auto")
    if not found.isolated:
        if ROOT_ON_DEBIAN:
            pytest.fail(f"student kernels cannot be isolated on this Debian machine, as root: {found.reason} "
                        "(`make sandbox` installs bubblewrap)")
        pytest.skip(f"no kernel sandbox here: {found.reason}")
    if ROOT_ON_DEBIAN:
        assert found.mode == "user", "as root, every worker's kernel runs as a user of its own"
    return found


class Kernel:
    """A sandboxed kernel driven like nbclient drives it; ``run(code)`` returns (printed text, error or "")."""

    def __init__(self, work: Path | None, submission: Path, data_dir: Path, slot: int = 0, memory_guard: str = "auto"):
        from jupyter_client.blocking import BlockingKernelClient

        self.loop = asyncio.new_event_loop()
        self.manager = SandboxedKernelManager(kernel_name="python3", data_dir=str(data_dir), slot=slot,
                                              work_root=str(work or ""), memory_guard=memory_guard)
        self.loop.run_until_complete(self.manager.start_kernel(cwd=str(submission),
                                                               extra_arguments=["--HistoryManager.hist_file=:memory:"]))
        self.client = BlockingKernelClient()
        self.client.load_connection_info(self.manager.get_connection_info())
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 120) -> tuple[str, str]:
        printed, errors = [], []

        def hook(message):
            content = message["content"]
            if message["msg_type"] == "stream":
                printed.append(content["text"])
            elif message["msg_type"] == "error":
                errors.append(f"{content['ename']}: {content['evalue']}")

        self.client.execute_interactive(code, timeout=timeout, output_hook=hook)
        return "".join(printed), "".join(errors)

    def value(self, expression: str):
        """An expression's value, through JSON."""
        printed, error = self.run(f"import json as _json\nprint(_json.dumps({expression}))\ndel _json")
        assert not error, error
        return json.loads(printed)

    def alive(self) -> bool:
        return self.loop.run_until_complete(self.manager.is_alive())

    def host_pids(self) -> set[int]:
        """The processes of the kernel's PID namespace, seen from the grader."""
        bubblewrap = self.manager.provisioner.pid
        children = Path(f"/proc/{bubblewrap}/task/{bubblewrap}/children").read_text().split()
        namespace = os.readlink(f"/proc/{children[0]}/ns/pid")
        found = set()
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                if os.readlink(entry / "ns" / "pid") == namespace:
                    found.add(int(entry.name))
            except OSError:
                continue
        return found

    def close(self) -> set[int]:
        """Shut the kernel down; returns its namespace's processes that still existed once it was gone
        (waits until they are, at most 30 s)."""
        self.client.stop_channels()
        pids = set()
        if self.loop.run_until_complete(self.manager.is_alive()):
            pids = self.host_pids()
            self.loop.run_until_complete(self.manager.shutdown_kernel(now=True))
        self.loop.run_until_complete(self.manager.cleanup_resources())
        self.loop.close()
        deadline = time.monotonic() + 30
        while any(_running(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        return {pid for pid in pids if _running(pid)}


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie has)."""
    try:
        return "State:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.fixture(scope="module")
def places(tmp_path_factory):
    """A course with secrets beside the sandbox's inputs: a submission (with a link to a secret), the data."""
    base = tmp_path_factory.mktemp("sandboxed")
    course = base / "course"
    (course / "solutions" / "A").mkdir(parents=True)
    (course / "solutions" / "A" / "A.ipynb").write_text('{"hidden": "tests"}')
    (course / "grading" / "submitted" / "other" / "A").mkdir(parents=True)
    (course / "grading" / "submitted" / "other" / "A" / "A.ipynb").write_text("{}")
    (course / "grading" / "gradebook.db").write_text("grades")
    submission = base / "submission"
    submission.mkdir()
    (submission / "A.ipynb").write_text('{"hidden": "tests restored for grading"}')
    (submission / "notes.csv").write_text("1,2")
    (submission / "leak").symlink_to(course / "solutions" / "A" / "A.ipynb")
    data = base / "data"
    data.mkdir(mode=0o700)  # as pytest's and many instructors' folders are: the kernel's user still reads the data
    (data / "events.npy").write_bytes(b"data")
    work = base / "work"
    work.mkdir(mode=0o700)
    return {"course": course, "submission": submission, "data": data, "work": work}


@pytest.fixture(scope="module")
def kernel(isolation, places):
    os.environ["COURSE_DB_URL"] = "postgresql://grader:secret@db-host/course"
    try:
        started = Kernel(places["work"], places["submission"], places["data"])
    finally:
        del os.environ["COURSE_DB_URL"]
    yield started
    started.close()


def test_the_kernel_runs_as_an_unprivileged_user_without_capabilities(kernel, isolation):
    status = kernel.value("dict(l.split(':\\t', 1) for l in open('/proc/self/status').read().splitlines())")
    assert status["CapEff"] == status["CapPrm"] == status["CapBnd"] == "0" * 16
    assert status["NoNewPrivs"] == "1"
    if isolation.mode == "user":
        uid = kernel.value("__import__('os').getuid()")
        assert uid != 0 and kernel.value("__import__('getpass').getuser()") == "course-kernel-0"
        assert kernel.value("open('/etc/passwd').read().count('\\n')") == 2  # root and the kernel's user


def test_the_kernel_sees_only_its_own_processes(kernel):
    """Its PID namespace: bubblewrap's init and the kernel; the grader (this test) is not there."""
    pids = kernel.value("sorted(int(p) for p in __import__('os').listdir('/proc') if p.isdigit())")
    assert pids == [1, 2]
    commands = kernel.value("[open(f'/proc/{p}/cmdline').read() for p in (1, 2)]")
    assert Path("/proc/self/cmdline").read_text() not in commands and "-m\x00ipykernel_launcher" in commands[1]
    assert len(kernel.host_pids()) == 2


def test_the_kernel_sees_only_its_submission_the_data_and_python(kernel, places):
    course = places["course"]
    hidden = [course, Path(__file__), Path.home() / ".bash_history", Path(__file__).parent.parent / "solutions",
              Path(__file__).parent.parent / "nbgrader_config.py", Path(__file__).parent.parent / "grading",
              Path("/etc/shadow"), Path("/var"), Path("/sys")]
    seen = kernel.value(f"[__import__('os').path.exists(p) for p in {[str(p) for p in hidden]!r}]")
    assert not any(seen), [str(p) for p, s in zip(hidden, seen) if s]
    # the grader's work folder is not there at all; the folders above its sockets are empty but for the way
    # there (no other kernel's socket folder)
    assert not kernel.value(f"__import__('os').path.exists({str(places['work'])!r})")
    sockets = Path(kernel.manager.connection_file).parent.parent
    assert kernel.value(f"__import__('os').listdir({str(sockets)!r})") == ["run"]
    assert kernel.value(f"[n for n in __import__('os').listdir({str(sockets.parent)!r}) if n.startswith('course')]") == \
        [sockets.name]
    # the link to a secret is left out, and so is the notebook being graded (it holds the hidden tests)
    assert kernel.value("sorted(__import__('os').listdir('.'))") == ["notes.csv"]
    assert kernel.value("__import__('os').getcwd()") == WORKDIR
    assert kernel.value(f"open({str(places['data'] / 'events.npy')!r}).read()") == "data"
    assert kernel.value("__import__('course_utils.notebook.paths').notebook.paths.data_dir().as_posix()") == \
        str(places["data"].resolve())


def test_the_graders_side_of_the_package_is_not_there(kernel):
    """The kernel imports the notebooks' layers and the probe server; the instructor's tools and the grader's
    checks (which run as the grader) are empty folders in the sandbox."""
    import course_utils.grading.grader_side as grader_side
    import course_utils.grading.student_side.probe_server as probe_server

    for module in (kernel_sandbox, grader_side):
        assert Path(module.__file__).is_file()
        assert not kernel.value(f"__import__('os').path.exists({module.__file__!r})"), module.__name__
    for folder in kernel_sandbox.grader_only_folders():
        assert kernel.value(f"__import__('os').listdir({str(folder)!r})") == []
    _, error = kernel.run("import course_utils.instructor.sandbox.kernel_sandbox")
    assert "ModuleNotFoundError" in error, error
    assert kernel.value(f"__import__('os').path.exists({probe_server.__file__!r})")
    printed, error = kernel.run("import course_utils.gradecells.instruments, course_utils.grading.student_side.probe_server;"
                                " print('imported')")
    assert printed.strip() == "imported" and not error, error


@pytest.mark.parametrize("where", ["data", "package", "python", "submission file"])
def test_what_the_kernel_sees_is_read_only(kernel, places, where):
    import course_utils.gradecells as gradecells

    target = {"data": places["data"] / "events.npy", "package": Path(gradecells.__file__),
              "python": Path(sys.prefix) / "pyvenv.cfg", "submission file": Path(WORKDIR) / "notes.csv"}[where]
    _, error = kernel.run(f"open({str(target)!r}, 'a').write('x')")
    assert "Read-only file system" in error or "Permission denied" in error, error


def test_the_kernel_cannot_write_where_its_sockets_are(kernel, isolation):
    """Its socket folder is on the grader's disk: once the sockets exist it belongs to root again (its own
    connection file stays writable for it, bounded by the file-size limit)."""
    if isolation.mode != "user":
        pytest.skip("in a user namespace the kernel owns its socket folder")
    folder = Path(kernel.manager.connection_file).parent
    _, error = kernel.run(f"open({str(folder / 'filler')!r}, 'w').write('x' * 2**20)")
    assert "Permission denied" in error, error


def test_code_written_to_the_working_folder_is_not_imported(kernel):
    """Student code may write files there; an import never finds them (nor a module shipped beside the notebook)."""
    printed, error = kernel.run("open('json_stolen.py', 'w').write('print(1)')\ntry:\n    import json_stolen\n"
                                "except ImportError:\n    print('not importable')")
    assert printed == "not importable\n", error
    assert not {"", ".", WORKDIR} & set(kernel.value("__import__('sys').path"))
    assert "_s" not in kernel.value("sorted(dir())")


def test_the_kernel_has_no_network(kernel):
    """Only a loopback interface of its own: a server on the grader's loopback is unreachable."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        port = server.getsockname()[1]
        printed, error = kernel.run(
            "import socket\n"
            f"for host in ('127.0.0.1', '1.1.1.1'):\n"
            f"    try:\n"
            f"        socket.create_connection((host, {port}), timeout=5).sendall(b'x')\n"
            f"        print('reached', host)\n"
            f"    except OSError as error:\n"
            f"        print(host, type(error).__name__)\n"
            "print(sorted(name for _, name in socket.if_nameindex()))")
        with pytest.raises(BlockingIOError):
            server.accept()
    assert not error and "reached" not in printed and "['lo']" in printed, printed


def test_the_kernel_gets_a_whitelisted_environment(kernel, places):
    environment = kernel.value("dict(__import__('os').environ)")
    allowed = set(PASSED_VARIABLES) | {"PATH", "HOME", "MPLCONFIGDIR", "TMPDIR", "USER", "LOGNAME", "PWD",
                                       "PYTHONDONTWRITEBYTECODE", "COURSE_DATA_DIR"}
    added_by_ipykernel = {"PYDEVD_USE_FRAME_EVAL", "TERM", "CLICOLOR", "FORCE_COLOR", "CLICOLOR_FORCE", "PAGER",
                          "GIT_PAGER", "MPLBACKEND"}
    assert set(environment) <= allowed | added_by_ipykernel, set(environment) - allowed - added_by_ipykernel
    assert "COURSE_DB_URL" not in environment and environment["HOME"] == HOME
    assert environment["COURSE_DATA_DIR"] == str(places["data"].resolve())


def test_limits_are_set_outside_the_kernel_and_cannot_be_raised(kernel):
    limits = Limits.from_environment()
    value = kernel.value("[__import__('resource').getrlimit(getattr(__import__('resource'), name)) "
                         "for name in ('RLIMIT_AS', 'RLIMIT_FSIZE', 'RLIMIT_NOFILE', 'RLIMIT_CORE')]")
    assert value == [[limits.memory_mb * 2**20] * 2, [limits.file_mb * 2**20] * 2, [limits.open_files] * 2, [0, 0]]
    _, error = kernel.run("import resource\nresource.setrlimit(resource.RLIMIT_AS, (2**40, 2**40))")
    assert "ValueError" in error
    _, error = kernel.run(f"block = bytearray({(limits.memory_mb + 512) * 2**20})")
    assert error.startswith("MemoryError")
    assert kernel.value("int(open('/proc/self/oom_score_adj').read())") == 1000


FILL = """import errno, glob, os
def fill(path, mib):
    written = 0
    try:
        with open(path, 'wb') as f:
            for _ in range(mib):
                f.write(bytes(2**20))
                f.flush()
                written += 1
        return [written, '']
    except OSError as error:
        return [written, errno.errorcode[error.errno]]
"""


@pytest.mark.parametrize("folder", ["/tmp", WORKDIR, "/dev/shm"])
def test_scratch_space_and_file_size_are_limited(kernel, folder):
    """One file stops at the file-size limit; files together stop when the folder's tmpfs is full."""
    limits = Limits.from_environment()
    size = {"/tmp": limits.tmp_mb, WORKDIR: limits.work_mb, "/dev/shm": limits.shm_mb}[folder]
    code = (FILL + f"big = fill('{folder}/big', {limits.file_mb + 16})\nos.remove('{folder}/big')\n"
            f"parts = [fill(f'{folder}/part{{i}}', 32) for i in range({size // 32 + 2})]\n"
            f"for path in glob.glob('{folder}/part*'):\n    os.remove(path)\n"
            "print(_json.dumps([big, parts]))")
    printed, error = kernel.run("import json as _json\n" + code)
    assert not error, error
    big, parts = json.loads(printed)
    assert big == [min(limits.file_mb, size - 1), "EFBIG"] or (size <= limits.file_mb and big[1] == "ENOSPC")
    assert parts[-1][1] == "ENOSPC" and sum(written for written, _ in parts) <= size


def test_a_process_bomb_stops_at_the_task_limit(isolation, places):
    kernel = Kernel(places["work"], places["submission"], places["data"], slot=1)
    try:
        printed, error = kernel.run(
            "import os, time\nstarted = 0\nfor _ in range(500):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(300)\n        os._exit(0)\n"
            "    started += 1\nprint(started)")
        assert not error and 0 < int(printed) < Limits().tasks
        assert kernel.run("print('alive')")[0] == "alive\n"
    finally:
        assert not kernel.close()


def test_a_detached_process_dies_with_the_kernel(isolation, places):
    """Forked twice, in a session of its own, ignoring SIGTERM: it ends when the kernel ends."""
    kernel = Kernel(places["work"], places["submission"], places["data"], slot=2)
    try:
        kernel.run("import os, signal, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                   "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n        time.sleep(600)\n    os._exit(0)\n"
                   "os.wait()")
        assert len(kernel.host_pids()) == 3  # bubblewrap's init, the kernel, the detached process
    finally:
        survivors = kernel.close()
    assert not survivors, f"processes {survivors} outlived their kernel"


def test_kernels_of_two_workers_cannot_reach_each_other(isolation, places):
    first = Kernel(places["work"], places["submission"], places["data"], slot=1)
    second = Kernel(places["work"], places["submission"], places["data"], slot=2)
    try:
        other = Path(second.manager.connection_file)
        assert not first.value(f"__import__('os').path.exists({str(other.parent)!r})")
        assert first.value("__import__('os').getuid()") != second.value("__import__('os').getuid()") or \
            isolation.mode == "userns"
    finally:
        first.close()
        second.close()


#: add_key(2) of a key into each keyring a kernel reaches, and keyctl(KEYCTL_SEARCH) of them, for x86-64, by
#: ctypes in the kernel: its user keyring (@u), user-session keyring (@us), session keyring (@s) and its user's
#: persistent keyring (keyctl get_persistent, which the kernel keeps for days after the user's last process)
KEYS = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "keyctl = lambda *a: libc.syscall(ctypes.c_long(250), *a)\n"
        "RINGS = {'user': -4, 'user-session': -5, 'session': -3,\n"
        "         'persistent': keyctl(ctypes.c_long(22), ctypes.c_long(-1), ctypes.c_long(-3))}\n"
        "def add(data):\n"
        "    return {name: libc.syscall(ctypes.c_long(248), b'user', f'left-{name}'.encode(), data,"
        " ctypes.c_size_t(len(data)), ctypes.c_long(ring)) for name, ring in RINGS.items()}\n"
        "def find():\n"
        "    return {name: keyctl(ctypes.c_long(10), ctypes.c_long(ring), b'user', f'left-{name}'.encode(),"
        " ctypes.c_long(0)) for name, ring in RINGS.items()}\n")


def test_nothing_stored_in_the_keyrings_is_left_for_the_next_kernel(isolation, places):
    """The kernel user's keyrings outlive every process of their user (the persistent one for days): the grader
    empties them before and after each kernel. Each kernel also gets a session keyring of its own: it does not
    hold the grader's (which this test gives the grader, as a login does), shared by every kernel."""
    if os.uname().machine != "x86_64" or isolation.mode != "user":
        pytest.skip("the keyring probe is written for x86-64 and per-worker users (as root)")
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # KEYCTL_JOIN_SESSION_KEYRING: the grader's own session keyring
    assert libc.syscall(ctypes.c_long(250), ctypes.c_long(1), b"course-grader-session") > 0
    first = Kernel(places["work"], places["submission"], places["data"], slot=3)
    try:
        first.run(KEYS)
        added = first.value("add(b'a note for the next student')")
        assert all(key > 0 for key in added.values()), added
        assert all(key > 0 for key in first.value("find()").values())
    finally:
        first.close()
    second = Kernel(places["work"], places["submission"], places["data"], slot=3)
    try:
        second.run(KEYS)
        assert second.value("RINGS['persistent']") > 0
        found = second.value("find()")
        assert found == dict.fromkeys(found, -1), f"keys stored by the previous kernel of this worker: {found}"
    finally:
        second.close()


#: three processes that each hold 300 MiB (every page written), then wait
MEMORY_HOGS = """import subprocess, sys, time
hog = "import time; block = b'x' * (300 * 2**20); time.sleep(120)"
children = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(3)]
time.sleep(120)
"""


@pytest.mark.parametrize("guard", ["cgroup", "watchdog"])
def test_the_kernels_processes_together_stay_under_the_memory_cap(isolation, places, monkeypatch, guard):
    """The memory cap holds for the whole kernel, not per process: three children of 300 MiB under a cap of
    600 MiB end the kernel (the cell fails as for any dead kernel), and the grader says why."""
    if guard == "cgroup":
        cgroup, why = KernelCgroup.create("course-kernel-test-probe", Limits())
        if cgroup is None:
            pytest.skip(f"no memory cgroup for kernels here ({why}): the watchdog caps them")
        cgroup.remove()
    monkeypatch.setenv("COURSE_KERNEL_MEMORY_MB", "600")
    kernel = Kernel(places["work"], places["submission"], places["data"], slot=4, memory_guard=guard)
    try:
        uid = kernel.value("__import__('os').getuid()")
        started = time.monotonic()
        kernel.client.execute(MEMORY_HOGS)
        while kernel.alive() and time.monotonic() < started + 30:
            time.sleep(0.1)
        assert not kernel.alive(), "three processes held 900 MiB under a cap of 600 MiB"
        assert kernel.manager.memory_guard_used == guard
        assert "memory cap of 600 MiB" in kernel.manager.kill_reason, kernel.manager.kill_reason
        if guard == "cgroup" and kernel.manager._cgroup.peak() is not None:
            assert kernel.manager._cgroup.peak() <= 600 * 2**20
    finally:
        assert not kernel.close()
    if isolation.mode == "user":  # none of its processes is left
        deadline = time.monotonic() + 10
        while kernel_sandbox._task_count(uid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kernel_sandbox._task_count(uid) == 0


def test_a_kernel_starts_whatever_the_temporary_folder(isolation, places, tmp_path, monkeypatch):
    """A unix socket's path holds at most 107 bytes: the kernel's sockets are in a short folder of their own,
    wherever TMPDIR (and the grader's work folders there) may be."""
    deep = tmp_path / ("t" * (99 - len(str(tmp_path))))
    deep.mkdir()
    assert len(str(deep)) == 100
    monkeypatch.setenv("TMPDIR", str(deep))
    monkeypatch.setattr(tempfile, "tempdir", None)
    kernel = Kernel(None, places["submission"], places["data"], slot=5)
    try:
        assert kernel.run("print(6 * 7)") == ("42\n", "")
        assert Path(kernel.manager._folder).parent == deep  # the grader's private folder is where TMPDIR says
    finally:
        kernel.close()


def test_an_interrupt_reaches_the_kernel(kernel):
    """A runaway cell is interrupted (by a message: bubblewrap, not the kernel, is the grader's child)."""
    message = kernel.client.execute("while True:\n    pass")
    while True:  # until the kernel runs the cell
        published = kernel.client.get_iopub_msg(timeout=60)
        if published["msg_type"] == "execute_input" and published["parent_header"].get("msg_id") == message:
            break
    kernel.loop.run_until_complete(kernel.manager.interrupt_kernel())
    while True:
        reply = kernel.client.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == message:
            break
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"


def test_a_submission_keeps_no_link_and_no_python_module(tmp_path):
    """What phase 1 copies of a submission: its notebook and data, not a ``torch.py`` that would replace torch."""
    from course_utils.instructor.submission_run import copy_plain

    submitted = tmp_path / "submitted"
    (submitted / "numpy").mkdir(parents=True)
    for name in ("A.ipynb", "torch.py", "numpy/__init__.py", "numpy/core.so", "notes.txt"):
        (submitted / name).write_text("x")
    (submitted / "leak").symlink_to("/etc/passwd")
    left_out = copy_plain(submitted, tmp_path / "copy", code=False)
    assert sorted(left_out) == ["leak", "numpy/__init__.py", "numpy/core.so", "torch.py"]
    assert sorted(p.name for p in (tmp_path / "copy").rglob("*")) == ["A.ipynb", "notes.txt", "numpy"]


def test_a_submission_link_never_enters_the_sandbox(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "notebook.ipynb").write_text("{}")
    (submission / "table.csv").write_text("1,2")
    (submission / "link").symlink_to("/etc/shadow")
    command = sandbox_command(["true"], Isolation("user", bwrap="bwrap"), Limits(), read_only=(), run_dir=None,
                              submission=submission, etc_dir=None, uid=1000, gid=1000)
    assert str(submission / "table.csv") in command and str(submission / "link") not in command
    assert str(submission / "notebook.ipynb") not in command  # the notebook being graded holds the hidden tests
    assert command[command.index("--") + 1:][-1] == "true"


USERNS_PROBE = """
import importlib.util, json, os, subprocess, sys
spec = importlib.util.spec_from_file_location("kernel_sandbox", sys.argv[1])
sandbox = sys.modules["kernel_sandbox"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sandbox)
isolation = sandbox.detect_isolation("auto")
found = {"mode": isolation.mode, "describe": isolation.describe()}
if isolation.isolated:
    script = "id -u; ls /proc | grep -c '^[0-9]'; tail -n +3 /proc/net/dev | cut -d: -f1; ls /"
    command = sandbox.sandbox_command(["/bin/sh", "-c", script], isolation, sandbox.Limits(), read_only=(),
                                      run_dir=None, submission=None, etc_dir=None, uid=os.getuid(), gid=os.getgid())
    found["output"] = subprocess.run(command, capture_output=True, text=True).stdout.split()
print(json.dumps(found))
"""


def test_an_instructor_without_root_gets_a_user_namespace_or_a_plain_warning(tmp_path):
    """Not root: kernels are isolated in a user namespace where the system allows it (as the instructor's own
    user, in their own process and network namespaces), else the command says plainly what is not isolated."""
    if os.geteuid() != 0 or not Path("/usr/bin/python3").is_file():
        pytest.skip("needs root (to become an unprivileged user for the test) and the system's python3")
    folder = Path(tempfile.mkdtemp())
    try:
        folder.chmod(0o755)
        module = folder / "kernel_sandbox.py"
        module.write_text(Path(kernel_sandbox.__file__).read_text())
        module.chmod(0o644)
        result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3",
                                 "-c", USERNS_PROBE, str(module)], capture_output=True, text=True, cwd="/")
    finally:
        shutil.rmtree(folder)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    if found["mode"] == "none":
        assert found["describe"].startswith("student kernels are NOT isolated") and "namespaces" in found["describe"]
        return
    assert found["mode"] == "userns" and "as your own user" in found["describe"]
    uid, processes, *rest = found["output"]
    assert uid == "65534" and int(processes) <= 5
    interfaces = rest[: rest.index("bin")] if "bin" in rest else rest
    assert interfaces == ["lo"] and "root" not in rest and "home" not in rest
