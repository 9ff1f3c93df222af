"""``python -m course_utils.instructor collect``: the course's own collect, attacked as students attacked
``nbgrader collect`` (a submission in another student's name; links, hard links and special files that point
into the grader's course), with real Unix accounts and real files in a temporary exchange.

Most tests make two throwaway accounts and need root: elsewhere they skip, but in CI (``CI=true``) they fail.
"""
from __future__ import annotations

import hashlib
import json
import os
import pwd
import secrets
import shutil
import socket
import stat
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from course_utils.instructor import collect as collecting
from course_utils.instructor.collect import (CLAIM_TOLERANCE_S, MAX_DEPTH, MAX_ENTRIES, MAX_SUBMISSION_MB, CollectError,
                                             collect, course_settings, recorded_time, utc_text)

A = "01_demo"
COURSE_ID = "test-course"
SECRET = b"SECRET-HIDDEN-TEST-7f3a"        # in the grader's solutions
GRADEBOOK_SECRET = b"SECRET-GRADEBOOK-91c2"  # in the grader's gradebook


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def needs_root() -> None:
    """Skip plainly where accounts cannot be made; in CI, fail instead."""
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("useradd"):
        return
    reason = "collect's attack tests submit as Unix accounts of their own: they need root to make accounts (useradd)"
    if in_ci():
        pytest.fail(f"{reason}, and CI must run them (CI=true)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def students():
    """Two throwaway student accounts (removed at the end)."""
    needs_root()
    from course_utils.instructor.hub import accounts

    prefix = f"bdlc{secrets.token_hex(3)}"
    names = [f"{prefix}a", f"{prefix}b"]
    made = []
    try:
        made = accounts.create(names, password=secrets.token_hex(16))
        assert made == names, f"accounts {names} existed already"
        yield names
    finally:
        accounts.remove(made)


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def notebook_bytes(text: str) -> bytes:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    return nbformat.writes(notebook).encode()


class Course:
    """A grader's course folder (secret solutions and gradebook) and an exchange beside it."""

    def __init__(self, folder: Path):
        self.dir = folder / "course"
        self.exchange = folder / "exchange"
        self.inbound = self.exchange / COURSE_ID / "inbound"
        self.inbound.mkdir(parents=True)
        self.solution = self.dir / "solutions" / A / f"{A}.ipynb"
        self.solution.parent.mkdir(parents=True)
        self.solution.write_bytes(notebook_bytes(f"hidden tests: {SECRET.decode()}"))
        self.gradebook = self.dir / "grading" / "gradebook.db"
        self.gradebook.parent.mkdir(parents=True)
        self.gradebook.write_bytes(b"SQLite format 3\0" + GRADEBOOK_SECRET)
        (self.dir / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n")
        self.submitted = self.dir / "grading" / "submitted"

    def submit(self, account: str, when: datetime | None = None, student_id: str | None = None,
               text: str | None = None, timestamp: str | None = None) -> Path:
        """A submission as ``nbgrader submit`` leaves it, made by ``account`` (in ``student_id``'s name)."""
        when = when or now() - timedelta(seconds=30)
        name = f"{student_id or account}+{A}+{utc_text(when)}+{secrets.token_urlsafe(9)}"
        folder = self.inbound / name
        folder.mkdir()
        (folder / f"{A}.ipynb").write_bytes(notebook_bytes(text or f"answers of {account} at {when}"))
        (folder / "timestamp.txt").write_text(utc_text(when) if timestamp is None else timestamp)
        (folder / "submission_secret.txt").write_text(secrets.token_hex(64))
        own(folder, account, recursive=True)
        folder.chmod(0o777)
        return folder

    def copy(self, student: str) -> Path:
        return self.submitted / student / A

    def assert_no_secret(self) -> None:
        """No byte of the grader's files, and no link, anywhere under grading/submitted."""
        if not self.submitted.exists():
            return
        for path in self.submitted.rglob("*"):
            assert not path.is_symlink(), path
            if path.is_file():
                data = path.read_bytes()
                assert SECRET not in data and GRADEBOOK_SECRET not in data, f"a grader secret in {path}"


def own(path: Path, account: str, recursive: bool = False) -> None:
    """``path`` (a link itself, not its target) given to ``account``; with ``recursive``, all below it too."""
    entry = pwd.getpwnam(account)
    paths = [path]
    if recursive:
        for folder, names, files in os.walk(path):
            paths += [Path(folder) / n for n in names + files]
    for each in paths:
        os.chown(each, entry.pw_uid, entry.pw_gid, follow_symlinks=False)


@pytest.fixture
def course(tmp_path, monkeypatch) -> Course:
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    return Course(tmp_path)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def log_of(course: Course) -> dict:
    return json.loads((course.dir / "grading" / "runs" / f"{A}.collect.json").read_text())


# ---------------------------------------------------------------------------------------------------------
# honest submissions


def test_honest_submissions_are_collected_as_the_graders_files(course, students):
    first, second = students
    sources = {first: course.submit(first), second: course.submit(second)}
    (sources[first] / ".ipynb_checkpoints").mkdir()
    own(sources[first] / ".ipynb_checkpoints", first)
    result = collect(course.dir, A)  # exchange and course id from the course's nbgrader_config.py
    assert result.refused == {} and result.skipped == {}
    assert set(result.collected) == {first, second}
    for student, source in sources.items():
        copy = course.copy(student)
        assert (copy / f"{A}.ipynb").read_bytes() == (source / f"{A}.ipynb").read_bytes()
        assert (copy / "submission_secret.txt").read_bytes() == (source / "submission_secret.txt").read_bytes()
        assert (copy / "timestamp.txt").read_text() == source.name.split("+")[2]  # an honest claim stands
        assert result.collected[student]["folder"] == source.name
        assert sorted(p.name for p in copy.parent.iterdir()) == [A]  # no scratch folder left
        for path in [copy, *copy.rglob("*")]:
            info = path.lstat()
            assert info.st_uid == os.geteuid(), f"{path} is not the grader's"
            assert stat.S_IMODE(info.st_mode) == (0o755 if path.is_dir() else 0o644), path
    assert not (course.copy(first) / ".ipynb_checkpoints").exists()
    assert any(".ipynb_checkpoints" in note for note in result.collected[first]["notes"])
    log = log_of(course)
    assert log["collected"][first]["folder"] == sources[first].name and log["refused"] == {}
    assert log["collected"][second]["timestamp"] == result.collected[second]["timestamp"]


def test_newest_submission_wins_and_update_replaces_only_by_a_newer_one(course, students):
    student = students[0]
    course.submit(student, now() - timedelta(seconds=90), text="first")
    newer = course.submit(student, now() - timedelta(seconds=60), text="second")
    assert collect(course.dir, A).collected[student]["folder"] == newer.name
    assert b"second" in (course.copy(student) / f"{A}.ipynb").read_bytes()

    newest = course.submit(student, now() - timedelta(seconds=30), text="third")
    kept = collect(course.dir, A, update=False)
    assert kept.collected == {} and "without --update" in kept.skipped[student]
    assert b"second" in (course.copy(student) / f"{A}.ipynb").read_bytes()

    assert collect(course.dir, A).collected[student]["folder"] == newest.name
    assert b"third" in (course.copy(student) / f"{A}.ipynb").read_bytes()
    again = collect(course.dir, A)
    assert again.collected == {} and "no submission newer" in again.skipped[student]
    assert b"third" in (course.copy(student) / f"{A}.ipynb").read_bytes()


# ---------------------------------------------------------------------------------------------------------
# attack 1: a submission in another student's name


def test_a_submission_in_another_students_name_is_refused(course, students):
    cheat, victim = students
    course.submit(victim, now() - timedelta(seconds=60), text="the victim's own work")
    collect(course.dir, A)
    before = digest(course.copy(victim))
    fake = course.submit(cheat, now() - timedelta(seconds=30), student_id=victim, text="not the victim's")
    result = collect(course.dir, A)
    assert victim not in result.collected and "no submission newer" in result.skipped[victim]
    assert digest(course.copy(victim)) == before, "the victim's collected submission changed"
    assert any(fake.name in r and f"belongs to {cheat}, not to {victim}" in r for r in result.refused[cheat])
    assert victim not in result.refused and not course.copy(cheat).exists()
    assert log_of(course)["refused"][cheat] == result.refused[cheat]
    # the fake folder never counts as the victim's: their own newer submission is collected
    honest = course.submit(victim, now() - timedelta(seconds=5), text="the victim's second try")
    assert collect(course.dir, A).collected[victim]["folder"] == honest.name


# ---------------------------------------------------------------------------------------------------------
# attack 2 and its family: links, hard links, special files, other accounts' files, limits


def _symlink(course, folder, name, target, student, other):
    link = folder / name
    link.unlink(missing_ok=True)
    link.symlink_to(target)
    own(link, student)


def _nested(folder, student, depth):
    path = folder
    for level in range(depth):
        path = path / f"d{level}"
        path.mkdir()
        own(path, student)
    return path


def attack_notebook_link(course, folder, student, other):
    _symlink(course, folder, f"{A}.ipynb", course.solution, student, other)


def attack_gradebook_link(course, folder, student, other):
    _symlink(course, folder, "gradebook.db", course.gradebook, student, other)


def attack_solutions_folder_link(course, folder, student, other):
    _symlink(course, folder, "solutions", course.dir / "solutions", student, other)


def attack_timestamp_link(course, folder, student, other):
    _symlink(course, folder, "timestamp.txt", course.solution, student, other)


def attack_link_in_a_subfolder(course, folder, student, other):
    deeper = _nested(folder, student, 2)
    _symlink(course, deeper, "notes.ipynb", course.solution, student, other)


def attack_hard_link_to_a_grader_file(course, folder, student, other):
    os.link(course.gradebook, folder / "gradebook.db")


def attack_hard_link_where_grader_and_student_share_an_account(course, folder, student, other):
    shared = course.dir / "solutions" / A / "hidden.py"  # the grader's file, of the student's account
    shared.write_bytes(SECRET)
    own(shared, student)
    os.link(shared, folder / "hidden.py")


def attack_fifo(course, folder, student, other):
    os.mkfifo(folder / "pipe")
    own(folder / "pipe", student)


def attack_socket(course, folder, student, other):
    short = Path(f"/tmp/collect-{secrets.token_hex(4)}")  # a socket's own path must be short
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(short))
    short.rename(folder / "socket")
    own(folder / "socket", student)


def attack_device(course, folder, student, other):
    os.mknod(folder / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    own(folder / "null", student)


def attack_file_of_another_account(course, folder, student, other):
    (folder / "extra.py").write_text("x = 1\n")
    own(folder / "extra.py", other)


def attack_folder_of_another_account(course, folder, student, other):
    (folder / "data").mkdir()
    own(folder / "data", other)


def attack_folder_is_a_link(course, folder, student, other):
    shutil.rmtree(folder)
    folder.symlink_to(course.dir / "solutions" / A)
    own(folder, student)


def attack_too_large(course, folder, student, other):
    with open(folder / "big.bin", "wb") as big:  # sparse: the size counts, not the disk blocks
        big.truncate(MAX_SUBMISSION_MB * 1024**2 + 1)
    own(folder / "big.bin", student)


def attack_too_many_files(course, folder, student, other):
    for index in range(MAX_ENTRIES):
        (folder / f"f{index}.txt").write_text("")
        own(folder / f"f{index}.txt", student)


def attack_too_deep(course, folder, student, other):
    _nested(folder, student, MAX_DEPTH + 1)


ATTACKS = {
    attack_notebook_link: f"{A}.ipynb is a symbolic link",
    attack_gradebook_link: "gradebook.db is a symbolic link",
    attack_solutions_folder_link: "solutions is a symbolic link",
    attack_timestamp_link: "timestamp.txt is a symbolic link",
    attack_link_in_a_subfolder: "d0/d1/notes.ipynb is a symbolic link",
    attack_hard_link_to_a_grader_file: "gradebook.db belongs to root, not to the student",
    attack_hard_link_where_grader_and_student_share_an_account: "hidden.py is a hard link",
    attack_fifo: "pipe is a FIFO",
    attack_socket: "socket is a socket",
    attack_device: "null is a device",
    attack_file_of_another_account: "extra.py belongs to {other}, not to the student",
    attack_folder_of_another_account: "data belongs to {other}, not to the student",
    attack_folder_is_a_link: "is a symbolic link, not a submission folder",
    attack_too_large: f"larger than {MAX_SUBMISSION_MB} MB",
    attack_too_many_files: f"more than {MAX_ENTRIES} files and folders",
    attack_too_deep: f"more than {MAX_DEPTH} folders deep",
}


@pytest.mark.parametrize("attack", list(ATTACKS), ids=lambda a: a.__name__.removeprefix("attack_"))
def test_links_hard_links_and_special_files_are_refused(course, students, attack):
    student, other = students
    folder = course.submit(student)
    attack(course, folder, student, other)
    result = collect(course.dir, A, exchange=course.exchange, course_id=COURSE_ID)
    expected = ATTACKS[attack].format(other=other)
    assert student not in result.collected and not course.copy(student).exists()
    assert any(folder.name in r and expected in r for r in result.refused[student]), result.refused
    assert log_of(course)["refused"] == result.refused
    course.assert_no_secret()
    assert not list(course.submitted.glob("*/.collect-*"))  # no scratch folder left
    assert course.solution.read_bytes().count(SECRET) == 1 and GRADEBOOK_SECRET in course.gradebook.read_bytes()


def test_a_refused_newest_submission_keeps_the_copy_collected_before(course, students):
    student, other = students
    course.submit(student, now() - timedelta(seconds=90), text="older")
    collect(course.dir, A)
    before = digest(course.copy(student))
    newest = course.submit(student, now() - timedelta(seconds=30))
    attack_notebook_link(course, newest, student, other)
    also_good = course.submit(student, now() - timedelta(seconds=60), text="good but not the newest")
    result = collect(course.dir, A)
    assert student not in result.collected and digest(course.copy(student)) == before
    assert any(f"the newest submission, {newest.name}, was refused" in r and "copy collected before is kept" in r
               for r in result.refused[student])
    assert also_good.name not in json.dumps(result.collected)
    course.assert_no_secret()


def test_a_folder_swapped_for_a_link_between_the_check_and_the_copy_is_refused(course, students, monkeypatch):
    """The copy checks every entry again, from the descriptors it copies: a swap after the first look is caught."""
    student, other = students
    folder = course.submit(student)
    install = collecting._install

    def swap_then_install(*args):
        attack_notebook_link(course, folder, student, other)
        return install(*args)

    monkeypatch.setattr(collecting, "_install", swap_then_install)
    result = collect(course.dir, A)
    assert student not in result.collected and not course.copy(student).exists()
    assert any(f"{A}.ipynb is a symbolic link" in r for r in result.refused[student])
    course.assert_no_secret()


def test_odd_student_ids_are_refused(course, students):
    student, other = students
    odd = ["*", "a,b", "..", "-rf", "with space", "x\ny", "ünï", f"{other}+x", ".hidden", "nosuchaccount9z7"]
    folders = [course.submit(student, student_id=name) for name in odd]
    bad_time = course.inbound / f"{student}+{A}+not a time+{secrets.token_urlsafe(9)}"
    shutil.copytree(folders[0], bad_time)
    own(bad_time, student, recursive=True)
    honest = course.submit(student)
    result = collect(course.dir, A)
    assert list(result.collected) == [student] and result.collected[student]["folder"] == honest.name
    reasons = result.refused[student]
    assert len(reasons) == len(odd) + 1
    for name in odd[:-1]:
        assert any(f"student id {collecting.shown(name)} is not an account name" in r for r in reasons), name
    assert any("no account is named nosuchaccount9z7" in r for r in reasons)
    assert any("carries no time" in r for r in reasons)
    assert sorted(p.name for p in course.submitted.iterdir()) == [student]
    text = (course.dir / "grading" / "runs" / f"{A}.collect.json").read_text()
    assert text.isascii() and any("'x\\ny'" in r for r in json.loads(text)["refused"][student])
    assert not any(c in "\n\r\x1b" for r in reasons for c in r)  # nothing unprintable reaches a terminal


def test_a_backdated_claim_records_the_submissions_change_time(course, students):
    student = students[0]
    hour_ago = now() - timedelta(hours=1)
    course.submit(student, hour_ago)
    result = collect(course.dir, A)
    recorded = datetime.strptime(result.collected[student]["timestamp"], "%Y-%m-%d %H:%M:%S.%f UTC")
    assert abs(recorded - now()) < timedelta(seconds=60)
    assert (course.copy(student) / "timestamp.txt").read_text() == result.collected[student]["timestamp"]
    assert any("the change time counts" in note for note in result.collected[student]["notes"])


def test_the_report_and_the_grade_run_log_list_the_refusals(course, students, monkeypatch):
    from nbgrader.api import Gradebook

    from course_utils.instructor.class_grading import ClassRun, write_run_log
    from course_utils.instructor.report import report_text, write_report

    student, other = students
    attack_gradebook_link(course, course.submit(student), student, other)
    course.submit(student, student_id=other)
    result = collect(course.dir, A)
    course.gradebook.unlink()
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    with Gradebook(f"sqlite:///{course.gradebook}") as gradebook:
        gradebook.update_or_create_assignment(A)
    text = report_text(course.dir, A)
    assert f"{student}: refused at collect: " in text and "(and 2 more)" in text
    written = write_report(course.dir, [A])
    table = (course.dir / "grading" / "reports" / f"{A}_refused_at_collect.csv").read_text()
    assert course.dir / "grading" / "reports" / f"{A}_refused_at_collect.csv" in written
    assert "gradebook.db is a symbolic link" in table and f"belongs to {student}, not to {other}" in table
    run_log = course.dir / "grading" / "runs" / f"{A}.json"
    write_run_log(ClassRun(A, [], 1), run_log)
    assert json.loads(run_log.read_text())["refused_at_collect"] == result.refused


def test_the_collect_command(course, students, capsys):
    from course_utils.instructor.__main__ import main

    student, other = students
    course.submit(other)
    attack_fifo(course, course.submit(student), student, other)
    assert main(["collect", A, "--course", str(course.dir), "--exchange", str(course.exchange)]) == 0
    out = capsys.readouterr().out
    assert f"! {student}: refused: " in out and "pipe is a FIFO" in out and f"{other}: collected" in out
    assert main(["collect", A, "--course", str(course.dir), "--exchange", str(course.dir / "nowhere")]) == 2
    assert "is missing" in capsys.readouterr().err
    assert main(["collect", "../x", "--course", str(course.dir)]) == 2
    assert "not an assignment name" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------
# without accounts


def test_the_exchange_and_course_id_come_from_the_courses_config(tmp_path, monkeypatch):
    root = Path(__file__).resolve().parent.parent
    monkeypatch.setenv("COURSE_EXCHANGE", str(tmp_path / "exchange"))
    exchange, course_id, ignore = course_settings(root)
    assert exchange == tmp_path / "exchange" and course_id == "bdl-particle-physics" and ".ipynb_checkpoints" in ignore
    monkeypatch.delenv("COURSE_EXCHANGE")
    assert course_settings(root)[0] == root / "grading" / "exchange"  # relative: from the course folder
    with pytest.raises(CollectError, match="is missing"):
        collect(tmp_path, A, exchange=tmp_path / "nowhere", course_id=COURSE_ID)
    with pytest.raises(CollectError, match="no course id"):
        collect(tmp_path, A, exchange=tmp_path)


def test_the_recorded_time():
    claimed = datetime(2030, 5, 1, 12, 0, 0)
    posix = claimed.replace(tzinfo=timezone.utc).timestamp()
    assert recorded_time(claimed, utc_text(claimed), posix + CLAIM_TOLERANCE_S - 1) == (claimed, [])
    late, notes = recorded_time(claimed, utc_text(claimed), posix + CLAIM_TOLERANCE_S + 60)
    assert late == claimed + timedelta(seconds=CLAIM_TOLERANCE_S + 60) and "the change time counts" in notes[0]
    earlier = utc_text(claimed - timedelta(hours=2))  # timestamp.txt claims earlier than the name: the later counts
    assert recorded_time(claimed, earlier, posix)[0] == claimed
    assert recorded_time(claimed, "2030-05-01 12:00:00 /etc/passwd", posix)[0] == claimed  # no path as time zone


def test_nbgraders_own_collect_runs_the_course_collect(course, students, root):
    """`nbgrader collect` (and the formgrader's Collect button, which runs the same exchange plugin) in a course
    with the course's nbgrader_config.py: a submission in another's name is refused, the victim's kept."""
    import subprocess

    cheat, victim = students
    config = (root / "nbgrader_config.py").read_text()
    (course.dir / "nbgrader_config.py").write_text(
        config + f"\nc.CourseDirectory.course_id = {COURSE_ID!r}\nc.Exchange.root = {str(course.exchange)!r}\n"
        "c.CourseDirectory.submitted_directory = 'grading/submitted'\n")
    course.submit(victim, now() - timedelta(seconds=60), text="the victim's own work")
    course.submit(cheat, now() - timedelta(seconds=30), student_id=victim, text="not the victim's")
    ran = subprocess.run([sys.executable, "-m", "nbgrader", "collect", A], cwd=course.dir, capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(root)})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"belongs to {cheat}, not to {victim}" in ran.stdout + ran.stderr
    assert b"the victim's own work" in (course.copy(victim) / f"{A}.ipynb").read_bytes()
    assert cheat in log_of(course)["refused"]
