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
from dataclasses import dataclass, field
from pathlib import Path

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
    blocked = blocked_folders(software_paths())
    if blocked:
        found.append(f"the accounts cannot enter {', '.join(map(str, blocked))}, so their servers cannot run "
                     f"{Path(sys.executable).resolve()} and {REPOSITORY}: install Python and the course where every "
                     "account can read them (e.g. /opt/bdl-course), or let them through: chmod o+x on those folders")
    return found


def prepare_exchange(exchange: Path) -> None:
    """nbgrader's exchange root: owned by root, world-writable with the sticky bit (1777)."""
    exchange.mkdir(parents=True, exist_ok=True)
    os.chown(exchange, 0, 0)
    os.chmod(exchange, 0o1777)


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
    closed = close_private_parts()
    if closed:
        print(f"closed to other accounts (chmod o-rwx): {', '.join(str(p.relative_to(REPOSITORY)) for p in closed)}")
    prepare_exchange(settings.exchange_folder())
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
