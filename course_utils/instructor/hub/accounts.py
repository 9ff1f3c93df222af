"""Unix accounts for a try-out of the course hub (``make hub-accounts``): the grader and a few students.

A class uses the accounts its server already has; these are for one machine. Each account made here carries
a marker in its comment field, and only accounts with that marker are ever removed.
"""
from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

MARKER = "bdl-course hub account"


def exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def create(names: list[str], password: str, home_base: Path | None = None) -> list[str]:
    """Make each missing account (its own group, a private home, ``password``); return the names made.

    Existing accounts are left as they are, password included."""
    made = []
    for name in names:
        if exists(name):
            continue
        command = ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", "--comment", MARKER]
        if home_base is not None:
            command += ["--base-dir", str(home_base)]
        subprocess.run([*command, name], check=True, capture_output=True, text=True)
        os.chmod(pwd.getpwnam(name).pw_dir, 0o700)  # Debian's useradd leaves homes readable by everybody
        subprocess.run(["chpasswd"], input=f"{name}:{password}\n", check=True, capture_output=True, text=True)
        made.append(name)
    return made


def processes_of(name: str) -> list[int]:
    """The ids of the running processes owned by account ``name``."""
    uid = pwd.getpwnam(name).pw_uid
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except FileNotFoundError:
                continue
    return found


def remove(names: list[str]) -> list[str]:
    """Delete the accounts made by :func:`create` (home included); refuse any other account."""
    removed = []
    for name in names:
        if not exists(name):
            continue
        if pwd.getpwnam(name).pw_gecos != MARKER:
            raise PermissionError(f"{name} was not made by make hub-accounts: not removed")
        running = processes_of(name)
        if running:
            raise RuntimeError(f"{name} still runs processes {running}: stop the hub first")
        subprocess.run(["userdel", "--remove", name], check=True, capture_output=True, text=True)
        removed.append(name)
    return removed
