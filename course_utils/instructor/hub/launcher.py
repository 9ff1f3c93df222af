"""Start the course hub: check what JupyterHub needs, prepare the exchange and course folders, run it.

The settings travel to ``jupyterhub_config.py`` as ``COURSE_HUB_*`` environment variables; what is not
given here keeps the value written in that file.
"""
from __future__ import annotations

import os
import platform
import pwd
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...datasets import registry
from . import accounts

CONFIG = Path(__file__).resolve().parent / "jupyterhub_config.py"
REPOSITORY = CONFIG.parents[3]


@dataclass
class HubSettings:
    """What ``make hub`` passes on; ``None`` keeps the default of ``jupyterhub_config.py``."""

    ip: str | None = None
    port: int | None = None
    grader: str = "grader"
    students: list[str] = field(default_factory=lambda: ["student1", "student2"])
    course: Path | None = None
    exchange: Path | None = None
    data: Path | None = None
    state: Path | None = None
    api_port: int | None = None
    proxy_api_port: int | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None

    def course_folder(self) -> Path:
        return self.course or Path(pwd.getpwnam(self.grader).pw_dir) / "bdl-course"

    def exchange_folder(self) -> Path:
        return self.exchange or Path("/srv/nbgrader/exchange")

    def data_folder(self) -> Path:
        return self.data or REPOSITORY / "data"

    def environment(self) -> dict[str, str]:
        """The ``COURSE_HUB_*`` variables ``jupyterhub_config.py`` reads."""
        values = {"IP": self.ip, "PORT": self.port, "GRADER": self.grader, "STUDENTS": " ".join(self.students),
                  "COURSE": self.course_folder(), "EXCHANGE": self.exchange_folder(), "DATA": self.data,
                  "STATE": self.state, "API_PORT": self.api_port, "PROXY_API_PORT": self.proxy_api_port,
                  "TLS_CERT": self.tls_cert, "TLS_KEY": self.tls_key, "PROXY": proxy_path()}
        return {f"COURSE_HUB_{key}": str(value) for key, value in values.items() if value not in (None, "")}

    def address(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{self.ip or '127.0.0.1'}:{self.port or 8000}/"


def proxy_path() -> Path:
    """configurable-http-proxy as ``make hub-proxy`` installs it (npm, into the environment's node folder)."""
    return Path(sys.prefix) / "node" / "node_modules" / ".bin" / "configurable-http-proxy"


def software_paths() -> list[Path]:
    """What every account's server runs: the interpreter (the environment's link resolved), its standard
    library, the environment and this checkout (course_utils)."""
    return [Path(sys.executable).resolve(), Path(sys.base_prefix), Path(sys.prefix), REPOSITORY]


def course_id(course_config: Path = REPOSITORY / "nbgrader_config.py") -> str:
    """``CourseDirectory.course_id`` of the course's nbgrader config, read as text (never executed as root)."""
    import re

    found = re.search(r"CourseDirectory\.course_id\s*=\s*[\"']([^\"']+)[\"']", course_config.read_text())
    if not found:
        raise ValueError(f"{course_config} sets no CourseDirectory.course_id")
    return found.group(1)


def blocked_folders(paths: list[Path]) -> list[Path]:
    """The folders on the way to ``paths`` that other accounts may not enter (no o+x), outermost first."""
    blocked: list[Path] = []
    for path in paths:
        path = path.resolve()
        for folder in [*reversed(path.parents), path]:
            if folder.is_dir() and not folder.stat().st_mode & stat.S_IXOTH and folder not in blocked:
                blocked.append(folder)
    return blocked


#: what the checkout holds that no student may read: hidden tests, full answers, their history, grading runs
PRIVATE = ("solutions", "tests", ".git", "grading", "build")


def close_private_parts(checkout: Path = REPOSITORY) -> list[Path]:
    """Every account's server runs this checkout's Python and course_utils, so other accounts may enter it;
    close its private folders to them (o-rwx). Returns the folders changed."""
    changed = []
    for name in PRIVATE:
        folder = checkout / name
        if folder.is_dir() and folder.stat().st_mode & 0o007:
            os.chmod(folder, folder.stat().st_mode & ~0o007)
            changed.append(folder)
    return changed


def open_for_traversal(folders: list[Path]) -> list[Path]:
    """Let every account cross ``folders`` (o+x, never o+r: nobody may list them). Returns those changed."""
    for folder in folders:
        os.chmod(folder, folder.stat().st_mode & 0o7777 | 0o001)
    return folders


def missing_data(data: Path) -> list[str]:
    """The course's datasets that are not complete in ``data``, or that other accounts cannot read there."""
    found = [f"{entry.name} (missing)" for entry in registry.missing(data)]
    unreadable = [path for path in data.rglob("*") if not path.stat().st_mode & stat.S_IROTH] if data.is_dir() else []
    if unreadable:
        found.append(f"{len(unreadable)} files or folders the students cannot read, e.g. {unreadable[0]}")
    return found


def problems(settings: HubSettings) -> list[str]:
    """What stops the hub from starting, in words (empty when nothing does)."""
    found = []
    if platform.system() != "Linux" or os.geteuid() != 0:
        return ["the course hub starts each account's server as that account, which needs root on Linux: "
                "run `sudo make hub` there"]
    missing = [name for name in [settings.grader, *settings.students] if not accounts.exists(name)]
    if missing:
        found.append(f"no Unix account {', '.join(missing)}: make them with `make hub-accounts` (a try-out) "
                     "or give the accounts of your class (HUB_GRADER, HUB_STUDENTS)")
    if not proxy_path().is_file():
        found.append(f"configurable-http-proxy is missing ({proxy_path()}): `make hub-proxy` installs it (npm)")
    data = settings.data_folder()
    missing = missing_data(data)
    if missing:
        found.append(f"the course data is not ready in {data}: {', '.join(missing)}. `make hub-data` makes it there "
                     f"once for the whole class{'' if settings.data is None else f' (HUB_DATA={data})'}, readable by every "
                     "account")
    return found


#: the course's folders in the exchange, as nbgrader's release and release_feedback make them: released
#: assignments readable by all, submissions dropped but not listed (set-gid: the grader's group), feedback
#: fetched by a name only its student knows
EXCHANGE_FOLDERS = {"": 0o755, "outbound": 0o755, "inbound": 0o2733, "feedback": 0o711}


def prepare_exchange(exchange: Path, course: str, grader: str) -> list[str]:
    """nbgrader's exchange root (root, 1777: world-writable, sticky) and the course's folder in it, made for the
    grader before any student can take the name. A course folder there of anybody else (a student who made it
    first, so that the grader could never release) is moved aside, closed (root, 700), and named in the
    returned notes."""
    notes = []
    exchange.mkdir(parents=True, exist_ok=True)
    os.chown(exchange, 0, 0)
    os.chmod(exchange, 0o1777)
    account = pwd.getpwnam(grader)
    top = exchange / course
    if top.is_symlink() or (top.exists() and (not top.is_dir() or top.lstat().st_uid != account.pw_uid)):
        squatter = top.lstat().st_uid
        aside = exchange / f".{course}.taken-by-uid-{squatter}-{time.strftime('%Y%m%d-%H%M%S')}"
        os.rename(top, aside)
        os.lchown(aside, 0, 0)
        if not aside.is_symlink():
            os.chmod(aside, 0o700)
        notes.append(f"{top} belonged to uid {squatter}, not to {grader}: moved aside to {aside} (root, 700)")
    for name, mode in EXCHANGE_FOLDERS.items():
        folder = top / name
        if folder.is_symlink() or (folder.exists() and folder.lstat().st_uid != account.pw_uid):
            raise PermissionError(f"{folder} does not belong to {grader}: remove it (it is not the grader's)")
        folder.mkdir(exist_ok=True)
        os.chown(folder, account.pw_uid, account.pw_gid)
        os.chmod(folder, mode)
    return notes


def prepare_course(course: Path, grader: str, source: Path = REPOSITORY) -> bool:
    """The grader's course folder: made from ``source`` (its config and solutions) when missing, then owned
    by the grader and closed to everybody else (700). Returns whether it was made."""
    account = pwd.getpwnam(grader)
    made = not course.exists()
    if made:
        course.mkdir(parents=True)
        shutil.copy(source / "nbgrader_config.py", course / "nbgrader_config.py")
        shutil.copytree(source / "solutions", course / "solutions",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        (course / "grading").mkdir()
        for folder, _, files in os.walk(course):
            for name in [folder, *(os.path.join(folder, f) for f in files)]:
                os.chown(name, account.pw_uid, account.pw_gid)
    if course.stat().st_uid != account.pw_uid:
        raise PermissionError(f"{course} belongs to uid {course.stat().st_uid}, not to the grader account {grader}")
    os.chmod(course, 0o700)
    return made


def start(settings: HubSettings) -> int:
    """Check, prepare, print where to log in, and replace this process by JupyterHub."""
    found = problems(settings)
    if found:
        for problem in found:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    opened = open_for_traversal(blocked_folders([*software_paths(), settings.data_folder()]))
    if opened:
        print(f"opened for the accounts to pass through (chmod o+x, not readable): {', '.join(map(str, opened))}")
    closed = close_private_parts()
    if closed:
        print(f"closed to other accounts (chmod o-rwx): {', '.join(str(p.relative_to(REPOSITORY)) for p in closed)}")
    for note in prepare_exchange(settings.exchange_folder(), course_id(), settings.grader):
        print(f"warning: {note}")
    course = settings.course_folder()
    if prepare_course(course, settings.grader):
        print(f"course folder made for {settings.grader}: {course} (solutions and config of {REPOSITORY})")
    print(f"The course hub: {settings.address()}\n"
          f"  log in as {settings.grader} (the instructor: formgrader, course in {course}) or as a student "
          f"({', '.join(settings.students)}), with the account's Unix password\n"
          f"  exchange {settings.exchange_folder()}; stop with Ctrl-C", flush=True)
    environment = {**os.environ, **settings.environment()}
    hub = Path(sys.executable).parent / "jupyterhub"
    os.execve(hub, [str(hub), "-f", str(CONFIG)], environment)
    return 0  # not reached
