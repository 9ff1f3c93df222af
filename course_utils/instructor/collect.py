"""Collect a class's submissions from nbgrader's exchange into ``grading/submitted``, in place of
``nbgrader collect``, in a way no student can game.

``nbgrader submit`` leaves each submission in ``<exchange>/<course id>/inbound/<student>+<assignment>+<time>+<random>``,
a folder owned by the account that ran it. For each folder of the assignment:

1. **who**: the name's student id must be an account-like name (:data:`STUDENT_ID`: no path parts, separators,
   globs, commas, ``+`` or spaces), and the folder (a real folder, not a link) must belong to the Unix account of
   that name. A folder made in another student's name is refused before anything is written and never counts
   as that student's.
2. **what**: the folder is walked through file descriptors, following no link: every entry is lstat-ed, then
   opened with ``O_NOFOLLOW`` and fstat-compared; the bytes copied are read from that descriptor. A symbolic
   link anywhere, a hard link, a FIFO, socket or device, a file or folder of another account, more than
   :data:`MAX_ENTRIES` entries, :data:`MAX_DEPTH` levels or :data:`MAX_SUBMISSION_MB` in all: the whole folder
   is refused. Entries ``CourseDirectory.ignore`` names are left out, as nbgrader leaves them out.
3. **which**: per student the newest folder by the name's time, as nbgrader. When that one is refused, nothing
   is collected for the student in this run: the copy collected before stays as it is (no older folder stands
   in either), and the refusal is reported. With ``update`` (nbgrader's ``--update``) a collected copy is
   replaced only by a newer submission; without it, never.
4. **when**: the collected ``timestamp.txt`` (nbgrader's late penalty reads it) is written by the grader: the
   later of the name's time and the submitted ``timestamp.txt``, unless that claim is more than
   :data:`CLAIM_TOLERANCE_S` earlier than the submission's last change (the largest ``st_ctime`` of the
   folder and its entries, which only root can set back): then the change time, with a note. Whatever else
   changes ctime (a chmod by hand, a copy of the exchange) shows in that note too.
5. **copy**: into a scratch folder beside the destination (the grader's files, modes 0644 and 0755), renamed
   into place; the old copy is removed only after.

Each run writes ``grading/runs/<A>.collect.json``; the instructor report and the grade run log show its
refusals, keyed by the account that made the folder (the folder's name where no account owns it).
"""
from __future__ import annotations

import fnmatch
import json
import os
import pwd
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .class_grading import MAX_NOTEBOOK_MB

#: a student id collect accepts: letters, digits, ".", "_" and "-", not first; at most 32 characters
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
#: an assignment name collect accepts (it becomes a folder name and a part of the inbound names)
ASSIGNMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
#: the most a submission may hold, in all
MAX_SUBMISSION_MB = MAX_NOTEBOOK_MB
MAX_ENTRIES = 200  # files and folders of one submission
MAX_DEPTH = 8      # folders within folders
#: how much earlier than the submission's last change its claimed time may be
CLAIM_TOLERANCE_S = 120
#: refusal reasons kept per folder (the walk stops there)
MAX_REASONS = 10
#: what a timestamp.txt may hold before it is parsed (no path: dateutil would read a time zone file there)
TIME_TEXT = re.compile(r"[0-9A-Za-z :.+_-]{1,64}")

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class CollectError(RuntimeError):
    """The collect cannot run at all (a bad assignment name, no inbound folder for the course)."""


class _Refused(Exception):
    """A submission folder found unfit while it was copied."""


@dataclass
class CollectResult:
    """What one collect of an assignment did (written to ``grading/runs/<A>.collect.json``)."""

    assignment: str
    inbound: str
    collected: dict[str, dict] = field(default_factory=dict)     # student -> {"folder", "timestamp", "notes"}
    refused: dict[str, list[str]] = field(default_factory=dict)  # account (or folder name) -> reasons
    skipped: dict[str, str] = field(default_factory=dict)        # student -> why their copy was kept
    log: str = ""

    def lines(self) -> list[str]:
        """A short summary for the terminal: one line per collected student and per refusal."""
        lines = [f"{self.assignment}: {len(self.collected)} collected, {len(self.skipped)} kept as collected "
                 f"before, refusals for {len(self.refused)}"]
        for student, entry in sorted(self.collected.items()):
            notes = f"  ({'; '.join(entry['notes'])})" if entry["notes"] else ""
            lines.append(f"  {student}: collected {entry['folder']} ({entry['timestamp']}){notes}")
        lines += [f"  {student}: kept: {why}" for student, why in sorted(self.skipped.items())]
        for who, reasons in sorted(self.refused.items()):
            lines += [f"  ! {who}: refused: {reason}" for reason in reasons]
        return lines


@dataclass
class _Walk:
    """What a walk of one submission found."""

    uid: int
    ignore: list[str]
    reasons: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    entries: int = 0
    size: int = 0
    changed: float = 0.0            # the largest st_ctime seen
    timestamp: str | None = None    # the submitted timestamp.txt
    stopped: bool = False

    def refuse(self, reason: str, stop: bool = False) -> None:
        if len(self.reasons) < MAX_REASONS:
            self.reasons.append(reason)
        self.stopped = self.stopped or stop or len(self.reasons) >= MAX_REASONS


@dataclass
class _Folder:
    """One inbound folder of the assignment, as examined."""

    name: str
    key: str                         # whom its refusals are reported under
    student: str = ""                # the id its name claims
    uid: int = -1                    # that student's account
    claimed: datetime | None = None  # the name's time (UTC)
    belongs: bool = False            # one of the student's own submissions (ordered by ``claimed``)
    reasons: list[str] = field(default_factory=list)
    walk: _Walk | None = None


def shown(text: str) -> str:
    """``text`` as it may be printed or logged: escaped where it holds anything unprintable."""
    return text if text.isprintable() else ascii(text)


def utc_text(when: datetime) -> str:
    """A UTC time as nbgrader writes timestamps (its default format in its default time zone)."""
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") + " UTC"


def _parse_time(text: str) -> datetime | None:
    from nbgrader.utils import parse_utc

    text = text.strip()
    if not TIME_TEXT.fullmatch(text):
        return None
    try:
        return parse_utc(text)
    except (ValueError, OverflowError, TypeError):
        return None


def _account(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return ""


def course_settings(course_dir: Path) -> tuple[Path, str, list[str]]:
    """The exchange folder, course id and ``CourseDirectory.ignore`` that ``nbgrader_config.py`` of
    ``course_dir`` gives nbgrader in this environment (the course's reads ``COURSE_EXCHANGE``); a relative
    exchange is taken from the course folder, where nbgrader runs."""
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.exchange.default.exchange import Exchange
    from traitlets.config.loader import PyFileConfigLoader

    config = {}
    if (course_dir / "nbgrader_config.py").is_file():
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    exchange = config.get("Exchange", {})
    course = config.get("CourseDirectory", {})
    root = Path(str(exchange["root"]) if "root" in exchange else Exchange.class_traits()["root"].default())
    course_id = str(course["course_id"]) if "course_id" in course else ""
    ignore = list(course["ignore"]) if "ignore" in course else list(CourseDirectory.class_traits()["ignore"].default())
    return (root if root.is_absolute() else course_dir / root), course_id, ignore


def _type_problem(info: os.stat_result, uid: int) -> str:
    """Why an entry cannot be part of a submission owned by ``uid``, or ""."""
    mode = info.st_mode
    if stat.S_ISLNK(mode):
        return "is a symbolic link"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "is neither a file nor a folder"
    if info.st_uid != uid:
        return f"belongs to {_account(info.st_uid) or f'uid {info.st_uid}'}, not to the student"
    if stat.S_ISREG(mode) and info.st_nlink > 1:
        return f"is a hard link (the file has {info.st_nlink} names)"
    return ""


def _open_checked(dir_fd: int, name: str, seen: os.stat_result, flags: int, uid: int) -> tuple[int, os.stat_result]:
    """``name`` opened without following a link, and its fstat: the very entry lstat saw as ``seen``."""
    fd = os.open(name, flags, dir_fd=dir_fd)
    info = os.fstat(fd)
    if (info.st_dev, info.st_ino) != (seen.st_dev, seen.st_ino) or _type_problem(info, uid) \
            or stat.S_IFMT(info.st_mode) != stat.S_IFMT(seen.st_mode):
        os.close(fd)
        raise _Refused("changed while it was read")
    return fd, info


def _copy_bytes(source: int, info: os.stat_result, target: int, name: str) -> None:
    """The file open as ``source`` (fstat ``info``) copied to ``name`` in the folder ``target``, mode 0644."""
    out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=target)
    try:
        os.fchmod(out, 0o644)
        left = info.st_size
        while chunk := os.read(source, min(1 << 20, left + 1)):
            left -= len(chunk)
            if left < 0:
                break
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
    finally:
        os.close(out)
    after = os.fstat(source)
    if left or any(getattr(after, key) != getattr(info, key) for key in ("st_size", "st_mtime_ns", "st_ctime_ns")):
        raise _Refused("changed while it was collected")


def _walk(walk: _Walk, fd: int, target: int | None, relative: str = "", depth: int = 0) -> None:
    """Check (and with ``target``, copy) the entries of the open folder ``fd``, following no link."""
    names = []
    with os.scandir(fd) as listing:
        for entry in listing:
            names.append(entry.name)
            if walk.entries + len(names) > MAX_ENTRIES:
                return walk.refuse(f"it holds more than {MAX_ENTRIES} files and folders", stop=True)
    walk.entries += len(names)
    for name in sorted(names):
        if walk.stopped:
            return
        path = shown(relative + name)
        try:
            seen = os.stat(name, dir_fd=fd, follow_symlinks=False)
        except OSError as error:
            walk.refuse(f"{path} could not be read ({error.strerror})")
            continue
        walk.changed = max(walk.changed, seen.st_ctime)
        problem = _type_problem(seen, walk.uid)
        if problem:
            walk.refuse(f"{path} {problem}")
            continue
        if name == "timestamp.txt" and not relative and not stat.S_ISREG(seen.st_mode):
            walk.refuse(f"{path} is not a file")
            continue
        if any(fnmatch.fnmatch(name, pattern) for pattern in walk.ignore):
            walk.left_out.append(path)
            continue
        if stat.S_ISDIR(seen.st_mode) and depth + 1 > MAX_DEPTH:
            return walk.refuse(f"{path} lies more than {MAX_DEPTH} folders deep", stop=True)
        if stat.S_ISREG(seen.st_mode):
            walk.size += seen.st_size
            if walk.size > MAX_SUBMISSION_MB * 1024**2:
                return walk.refuse(f"it is larger than {MAX_SUBMISSION_MB} MB in all (at {path})", stop=True)
        try:
            _take(walk, fd, name, seen, target, relative, depth)
        except _Refused as refusal:
            walk.refuse(f"{path} {refusal}")
        except OSError as error:
            walk.refuse(f"{path} could not be read ({error.strerror})")


def _take(walk: _Walk, fd: int, name: str, seen: os.stat_result, target: int | None, relative: str, depth: int) -> None:
    """One checked entry of a submission: a folder walked (and made in ``target``), a file copied there."""
    is_folder = stat.S_ISDIR(seen.st_mode)
    child, info = _open_checked(fd, name, seen, _DIR_FLAGS if is_folder else _FILE_FLAGS, walk.uid)
    try:
        if is_folder:
            made = None
            if target is not None:
                os.mkdir(name, 0o755, dir_fd=target)
                made = os.open(name, _DIR_FLAGS, dir_fd=target)
                os.fchmod(made, 0o755)
            try:
                _walk(walk, child, made, f"{relative}{name}/", depth + 1)
            finally:
                if made is not None:
                    os.close(made)
        elif name == "timestamp.txt" and not relative:  # the grader writes the collected one
            walk.timestamp = os.pread(child, 1024, 0).decode("utf-8", "replace")
        elif target is not None:
            _copy_bytes(child, info, target, name)
    finally:
        os.close(child)


def _walk_submission(inbound: int, folder: _Folder, ignore: list[str], target: int | None) -> _Walk:
    """Walk the inbound folder ``folder`` (copying into ``target`` when given), as it is now."""
    walk = _Walk(folder.uid, ignore)
    try:
        seen = os.stat(folder.name, dir_fd=inbound, follow_symlinks=False)
        if not stat.S_ISDIR(seen.st_mode) or seen.st_uid != folder.uid:
            raise _Refused("changed while it was read")
        fd, info = _open_checked(inbound, folder.name, seen, _DIR_FLAGS, folder.uid)
    except _Refused:
        walk.refuse("the folder changed while it was read", stop=True)
        return walk
    except OSError as error:
        walk.refuse(f"the folder could not be opened ({error.strerror})", stop=True)
        return walk
    try:
        walk.changed = info.st_ctime
        _walk(walk, fd, target)
    finally:
        os.close(fd)
    return walk


def _examine(inbound: int, name: str, ignore: list[str]) -> _Folder:
    """Who made the inbound folder ``name``, whose it claims to be, and whether it may be collected."""
    parts = name.rsplit("+", 3)
    folder = _Folder(name, key=shown(name), student=parts[0])
    label = shown(name)
    try:
        seen = os.stat(name, dir_fd=inbound, follow_symlinks=False)
    except OSError as error:
        folder.reasons.append(f"{label} could not be read ({error.strerror})")
        return folder
    folder.key = _account(seen.st_uid) or label
    if not stat.S_ISDIR(seen.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(seen.st_mode) else "not a folder"
        folder.reasons.append(f"{label} is {kind}, not a submission folder")
        return folder
    if not STUDENT_ID.fullmatch(folder.student):
        folder.reasons.append(f"{label}: its student id {shown(folder.student)} is not an account name "
                              "(letters, digits, '.', '_', '-')")
        return folder
    try:
        folder.uid = pwd.getpwnam(folder.student).pw_uid
    except KeyError:
        folder.reasons.append(f"{label}: no account is named {folder.student}")
        return folder
    if seen.st_uid != folder.uid:
        owner = _account(seen.st_uid) or f"uid {seen.st_uid}"
        folder.reasons.append(f"{label} belongs to {owner}, not to {folder.student} whose name it carries")
        return folder
    folder.key = folder.student
    folder.claimed = _parse_time(parts[2])
    if folder.claimed is None:
        folder.reasons.append(f"{label}: its name carries no time nbgrader can read")
        return folder
    folder.belongs = True
    folder.walk = _walk_submission(inbound, folder, ignore, None)
    folder.reasons += [f"{label}: {reason}" for reason in folder.walk.reasons]
    return folder


def recorded_time(claimed: datetime, submitted: str | None, changed: float) -> tuple[datetime, list[str]]:
    """The time collect records for a submission whose name claims ``claimed`` (UTC), whose ``timestamp.txt``
    holds ``submitted`` (None: none) and which last changed at ``changed`` (POSIX time), and notes on it."""
    notes, when = [], claimed
    written = _parse_time(submitted) if submitted is not None else None
    if submitted is None:
        notes.append("no timestamp.txt: the folder name's time counts")
    elif written is None:
        notes.append("timestamp.txt holds no time nbgrader can read: the folder name's time counts")
    else:
        if abs(written - claimed) > timedelta(seconds=CLAIM_TOLERANCE_S):
            notes.append(f"timestamp.txt says {utc_text(written)}, the folder name {utc_text(claimed)}: "
                         "the later counts")
        when = max(claimed, written)
    last_change = datetime.fromtimestamp(changed, timezone.utc).replace(tzinfo=None)
    if last_change - when > timedelta(seconds=CLAIM_TOLERANCE_S):
        notes.append(f"claims {utc_text(when)} but last changed at {utc_text(last_change)}: the change time counts")
        when = last_change
    return when, notes


def existing_time(copy: Path) -> datetime | None:
    """The time in ``timestamp.txt`` of a collected copy (None: none or unreadable)."""
    try:
        fd = os.open(copy / "timestamp.txt", _FILE_FLAGS)
    except OSError:
        return None
    try:
        return _parse_time(os.read(fd, 1024).decode("utf-8", "replace"))
    finally:
        os.close(fd)


def _install(inbound: int, folder: _Folder, ignore: list[str], destination: Path) -> tuple[datetime, list[str]]:
    """Copy ``folder`` into ``destination`` through a scratch folder beside it; the time recorded and notes."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".collect-{destination.name}-", dir=destination.parent))
    try:
        target = os.open(scratch, _DIR_FLAGS)
        try:
            walk = _walk_submission(inbound, folder, ignore, target)
            if walk.reasons:
                raise _Refused("; ".join(walk.reasons))
            when, notes = recorded_time(folder.claimed, walk.timestamp, walk.changed)
            if walk.left_out:
                notes.append(f"left out (CourseDirectory.ignore): {', '.join(walk.left_out)}")
            stamp = os.open("timestamp.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=target)
            with open(stamp, "w") as file:
                os.fchmod(stamp, 0o644)
                file.write(utc_text(when))
            os.fchmod(target, 0o755)
        finally:
            os.close(target)
        old = None
        if os.path.lexists(destination):
            old = Path(tempfile.mkdtemp(prefix=f".collect-{destination.name}-old-", dir=destination.parent))
            os.rename(destination, old / "copy")
        try:
            os.rename(scratch, destination)
        except OSError:
            if old is not None:
                os.rename(old / "copy", destination)
            raise
        scratch = old
        return when, notes
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _of_assignment(name: str, assignment: str) -> bool:
    """Whether the inbound entry ``name`` is a submission of ``assignment``, read as nbgrader reads it."""
    parts = name.rsplit("+", 3)
    return len(parts) >= 3 and parts[1] == assignment


def collect(course_dir: Path, assignment: str, exchange: Path | None = None, course_id: str | None = None,
            update: bool = True) -> CollectResult:
    """Collect every student's newest acceptable submission of ``assignment`` from the exchange into
    ``grading/submitted/<student>/<assignment>/`` of ``course_dir``; the exchange and course id default to the
    course's ``nbgrader_config.py``. Writes and returns the run log (``grading/runs/<A>.collect.json``)."""
    course_dir = Path(course_dir).resolve()
    if not ASSIGNMENT_ID.fullmatch(assignment):
        raise CollectError(f"{shown(assignment)} is not an assignment name (letters, digits, '.', '_', '-')")
    configured_exchange, configured_id, ignore = course_settings(course_dir)
    exchange, course_id = Path(exchange or configured_exchange), course_id or configured_id
    if not course_id:
        raise CollectError(f"no course id: set CourseDirectory.course_id in {course_dir / 'nbgrader_config.py'}")
    inbound_path = exchange / course_id / "inbound"
    if not inbound_path.is_dir():
        raise CollectError(f"no submissions folder of course {course_id} in the exchange: {inbound_path} is missing")
    result = CollectResult(assignment, str(inbound_path))
    submitted = course_dir / "grading" / "submitted"
    try:
        inbound = os.open(inbound_path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise CollectError(f"the submissions folder {inbound_path} cannot be read ({error.strerror})") from error
    try:
        try:
            names = sorted(os.listdir(inbound))
        except OSError as error:
            raise CollectError(f"the submissions folder {inbound_path} cannot be read ({error.strerror})") from error
        folders = [_examine(inbound, name, ignore) for name in names if _of_assignment(name, assignment)]
        for folder in folders:
            if folder.reasons:
                result.refused.setdefault(folder.key, []).extend(folder.reasons)
        own: dict[str, list[_Folder]] = {}
        for folder in folders:
            if folder.belongs:
                own.setdefault(folder.student, []).append(folder)
        for student, candidates in sorted(own.items()):
            newest = max(candidates, key=lambda f: (f.claimed, f.name))
            destination = submitted / student / assignment
            before = os.path.lexists(destination)
            if newest.reasons:
                kept = "the copy collected before is kept" if before else "none was collected before"
                result.refused.setdefault(student, []).append(
                    f"the newest submission, {shown(newest.name)}, was refused: nothing collected this run ({kept})")
                continue
            if before and not update:
                result.skipped[student] = "already collected (not replaced without --update)"
                continue
            if before:
                previous = existing_time(destination)
                when, _ = recorded_time(newest.claimed, newest.walk.timestamp, newest.walk.changed)
                if previous is not None and when <= previous:
                    result.skipped[student] = f"no submission newer than the one collected ({utc_text(previous)})"
                    continue
            try:
                when, notes = _install(inbound, newest, ignore, destination)
            except (_Refused, OSError) as error:
                reason = str(error) if isinstance(error, _Refused) else f"could not be copied ({error.strerror})"
                result.refused.setdefault(student, []).append(f"{shown(newest.name)}: {reason}")
                continue
            result.collected[student] = {"folder": shown(newest.name), "timestamp": utc_text(when), "notes": notes}
    finally:
        os.close(inbound)
    log = course_dir / "grading" / "runs" / f"{assignment}.collect.json"
    write_collect_log(result, log)
    result.log = str(log)
    return result


def write_collect_log(result: CollectResult, path: Path) -> None:
    """The collect's log: collected, refused and skipped students (see the module's docstring)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"assignment": result.assignment, "inbound": result.inbound,
              "collected_at": utc_text(datetime.now(timezone.utc).replace(tzinfo=None)),
              "collected": result.collected, "refused": result.refused, "skipped": result.skipped}
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def exchange_plugin():
    """The class nbgrader's ``ExchangeFactory.collect`` takes (``nbgrader_config.py``), so that ``nbgrader
    collect`` and the formgrader's Collect button run :func:`collect` too. Built on first use: nbgrader is
    imported only where nbgrader runs."""
    from nbgrader.exchange.abc import ExchangeCollect

    class CollectSafely(ExchangeCollect):
        """nbgrader's collect step, done by :func:`collect`: every refusal is logged as a warning."""

        def start(self):
            if not self.coursedir.assignment_id:
                self.fail("collect needs an assignment")
            try:
                result = collect(Path(self.coursedir.root), self.coursedir.assignment_id,
                                 course_id=self.coursedir.course_id or None, update=self.update)
            except CollectError as error:
                self.fail(str(error))
            for line in result.lines():
                (self.log.warning if line.lstrip().startswith("!") else self.log.info)(line)
            return result

    return CollectSafely
