"""The course on a real JupyterHub with several students, as a class uses it, in headless Debian chromium.

One hub for the whole module (started by `make hub` as the instructor guide says, stopped at the end): Unix
accounts made by `make hub-accounts` for the grader and four students, each server started by the hub as its
own account. The grader releases tutorial 01; alice and bob fetch it in the Assignments tab; alice submits a
perfect notebook and bob the untouched one, both by clicking Submit; from terminals, dave submits perfect
answers with an IPython hook in them, then the due date passes and carol submits a perfect notebook late;
the grader collects and runs `make grade`, and the formgrader shows every submission (dave's as needing
manual grading); feedback is released, alice and bob fetch theirs in the browser and see their own scores
(full marks, zero) without a hidden test, carol sees her late penalty. Between the steps, real file
operations as bob show what he cannot reach.

Needs Linux and root (accounts, servers started as them), Debian's chromium and the proxy from npm
(`make test` installs both as root on Debian); elsewhere it is skipped and says why. Folders that the
accounts must cross to run Python and the course (e.g. /root, where pyenv lives) are opened for traversal
(o+x) during the test and closed again afterwards.
"""
from __future__ import annotations

import copy
import json
import os
import platform
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jupyterhub.spawner import LocalProcessSpawner

from course_utils.instructor import notebooks
from course_utils.instructor.hub import accounts, launcher
from course_utils.instructor.submissions import perfect

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_amplitude_regression"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEBIAN_ROOT = platform.system() == "Linux" and Path("/etc/debian_version").is_file()
LATE_POLICY = 'c.LateSubmissionPlugin.penalty_method = "zero"\n'  # the instructor guide's line


def hub_or_skip():
    """Playwright's sync API; skips plainly where the hub cannot run, fails where it should and does not."""
    if platform.system() != "Linux":
        pytest.skip("the course hub starts a server per Unix account: Linux only")
    if os.geteuid() != 0:
        pytest.skip("the hub journey makes Unix accounts and starts servers as them: it needs root")
    for what, path, how in (("Debian's chromium", Path(CHROMIUM), "make browser"),
                            ("configurable-http-proxy", launcher.proxy_path(), "make hub-proxy")):
        if not path.is_file():
            if DEBIAN_ROOT:
                pytest.fail(f"{what} is missing although this is Debian as root: `{how}` should have installed it")
            pytest.skip(f"{what} is missing and only root on Debian installs it here ({how}): skipped")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what: str, timeout: float = 60.0, interval: float = 0.2):
    """Poll ``condition`` until it returns something true (the event), or fail saying what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


@dataclass
class Hub:
    """The running hub and everything the journey's steps share."""

    url: str
    root: Path
    course: Path
    exchange: Path
    grader: str
    students: dict[str, str]  # role in the story (alice, bob, carol, dave) -> account name
    password: str
    log: Path
    done: set[str] = field(default_factory=set)  # the steps that passed
    due: str = ""  # the assignment's due date, once set

    def home(self, account: str) -> Path:
        return Path(pwd.getpwnam(account).pw_dir)

    def require(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.fail(f"an earlier step of the journey did not pass: {', '.join(missing)}")


def as_user(account: str, *command: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            text_input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``command`` as the Unix account (runuser), in a clean environment plus ``env``."""
    home = pwd.getpwnam(account).pw_dir
    variables = {"HOME": home, "USER": account, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                 "LANG": "C.UTF-8", **(env or {})}
    result = subprocess.run(["runuser", "-u", account, "--", "env", "-i",
                             *(f"{k}={v}" for k, v in variables.items()), *command],
                            cwd=cwd or home, input=text_input, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"as {account}: {' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def server_environment(account: str) -> dict[str, str]:
    """The environment the hub gave ``account``'s running server: what a terminal opened there has."""
    uid = pwd.getpwnam(account).pw_uid
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid and \
                    b"jupyterhub.singleuser" in (entry / "cmdline").read_bytes():
                pairs = (item.split("=", 1) for item in (entry / "environ").read_text().split("\0") if "=" in item)
                return dict(pairs)
        except (FileNotFoundError, ProcessLookupError):
            continue
    pytest.fail(f"no running server of {account}")


def as_grader(hub: Hub, *command: str, text_input: str | None = None) -> str:
    """A command of the instructor guide, as the grader in a terminal of their hub server (the course folder)."""
    return as_user(hub.grader, *command, env=server_environment(hub.grader), cwd=hub.course,
                   text_input=text_input).stdout


def student_terminal(hub: Hub) -> dict[str, str]:
    """What the hub gives a student's terminal for nbgrader (read from alice's server): exchange, course id,
    the students' Jupyter config."""
    return {k: v for k, v in server_environment(hub.students["alice"]).items()
            if k.startswith("COURSE_") or k == "JUPYTER_CONFIG_PATH"}


def cannot(account: str, *command: str) -> subprocess.CompletedProcess:
    """``command`` as ``account`` must fail with a permission error."""
    result = as_user(account, *command, check=False)
    assert result.returncode != 0 and "Permission denied" in result.stderr, \
        f"{account} could run {' '.join(command)}:\n{result.stdout[:500]}"
    return result


def open_for_traversal(folders: list[Path]) -> dict[Path, int]:
    """Let every account cross ``folders`` (o+x); return their modes to put back."""
    modes = {folder: folder.stat().st_mode & 0o7777 for folder in folders}
    for folder, mode in modes.items():
        os.chmod(folder, mode | 0o001)
    return modes


def stop(process: subprocess.Popen, timeout: float = 60) -> None:
    """SIGTERM to the process group (make, the launcher's hub, the proxy); the hub stops the servers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def end_processes_of(names: list[str], timeout: float = 30) -> list[str]:
    """Wait for the accounts' processes (servers, kernels) to end; kill, by id, any left; say which were."""
    deadline = time.monotonic() + timeout
    left = []
    for name in names:
        while accounts.exists(name) and accounts.processes_of(name) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in accounts.processes_of(name) if accounts.exists(name) else []:
            left.append(f"{name}:{pid}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return left


@pytest.fixture(scope="module")
def hub(root):
    """`make hub-accounts` and `make hub` as the instructor guide shows them, on free ports, in a throwaway
    folder; afterwards the hub is stopped, the accounts deleted and the folders' modes put back."""
    hub_or_skip()
    tag = uuid.uuid4().hex[:6]
    grader, students = f"hub{tag}grader", {role: f"hub{tag}{role}" for role in ("alice", "bob", "carol", "dave")}
    names = [grader, *students.values()]
    password = uuid.uuid4().hex
    base = Path(tempfile.mkdtemp(prefix="bdl-hub-", dir="/tmp"))
    os.chmod(base, 0o755)
    modes = open_for_traversal(launcher.blocked_folders(launcher.software_paths()))
    # make hub closes the checkout's private folders to other accounts; put them back as they were afterwards
    modes.update({p: p.stat().st_mode & 0o7777 for p in (root / n for n in launcher.PRIVATE) if p.is_dir()})
    hub_process = None
    make_vars = [f"HUB_GRADER={grader}", f"HUB_STUDENTS={' '.join(students.values())}"]
    try:
        made = subprocess.run(["make", "-s", "hub-accounts", *make_vars, f"HUB_ARGS=--home-base {base / 'home'}"],
                              cwd=root, env={**os.environ, "HUB_PASSWORD": password}, capture_output=True, text=True)
        assert made.returncode == 0, made.stdout + made.stderr
        assert all(accounts.exists(name) for name in names), made.stdout
        # the course's data, readable by every account (tutorial 01's dataset, offline)
        from course_utils.datasets import amplitude_regression

        amplitude_regression.fetch(base / "data", source="offline", progress=False)
        port = free_port()
        course, exchange = base / "course", base / "exchange"
        arguments = (f"--course {course} --exchange {exchange} --data {base / 'data'} --state {base / 'state'} "
                     f"--api-port {free_port()} --proxy-api-port {free_port()}")
        log = base / "hub.log"
        with open(log, "w") as output:
            hub_process = subprocess.Popen(["make", "-s", "hub", f"HUB_PORT={port}", *make_vars, f"HUB_ARGS={arguments}"],
                                           cwd=root, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)

        def printed_address():
            if hub_process.poll() is not None:
                pytest.fail(f"make hub stopped:\n{log.read_text()[-3000:]}")
            found = re.search(r"The course hub: (\S+)", log.read_text())
            return found and found.group(1)

        url = wait_for(printed_address, "make hub to print its address", 60).rstrip("/")
        assert url == f"http://127.0.0.1:{port}"

        def answers():
            try:
                return urllib.request.urlopen(f"{url}/hub/api/", timeout=2).status == 200
            except OSError:
                return hub_process.poll() is not None and pytest.fail(f"the hub stopped:\n{log.read_text()[-3000:]}")

        wait_for(answers, "the hub to answer on its address", 90, 0.5)
        yield Hub(url, base, course, exchange, grader, students, password, log)
    finally:
        if hub_process is not None:
            stop(hub_process)
        left = end_processes_of(names)
        removed = subprocess.run([sys.executable, "-m", "course_utils.instructor.hub", "accounts", "--grader", grader,
                                  "--students", *students.values(), "--remove"], cwd=root, capture_output=True,
                                 text=True)
        for folder, mode in modes.items():
            os.chmod(folder, mode)
        shutil.rmtree(base, ignore_errors=True)
        assert removed.returncode == 0 and not any(accounts.exists(n) for n in names), removed.stdout + removed.stderr
        assert not left, f"processes outlived the hub: {left}"


@pytest.fixture(scope="module")
def pages(hub):
    """One browser, a separate session (cookies) per account, each logged in through the hub's login page."""
    sync_api = hub_or_skip()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        logged_in = {}
        for account in [hub.grader, hub.students["alice"], hub.students["bob"]]:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.set_default_timeout(90_000)
            page.goto(f"{hub.url}/hub/login")
            page.fill("#username_input", account)
            page.fill("#password_input", hub.password)
            page.click("#login_submit")  # the hub starts the account's server; the pages wait below, together
            logged_in[account] = page
        for account, page in logged_in.items():
            page.wait_for_url(re.compile(rf"/user/{account}/lab"), timeout=180_000)
            page.wait_for_selector(".lm-MenuBar-itemLabel:text-is('Nbgrader')")
        yield logged_in
        browser.close()


def appears(page, locator, what: str, timeout: float = 90_000) -> None:
    """Wait for ``locator`` to show; else fail with what the page shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        locator.wait_for(timeout=timeout)
    except PlaywrightTimeout:
        pytest.fail(f"{what} did not appear at {page.url}; the page shows:\n{page.locator('body').inner_text()[:3000]}")


def nbgrader_menu(page) -> list[str]:
    """The entries of JupyterLab's Nbgrader menu (closed again)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    entries = [e.strip() for e in page.locator(".lm-Menu:visible .lm-Menu-item:visible .lm-Menu-itemLabel").all_inner_texts()]
    page.keyboard.press("Escape")
    return entries


def open_assignments(page):
    """The Assignments tab (Nbgrader -> Assignment List), reloaded."""
    panel = page.locator("#released_assignments_list")
    if not panel.is_visible():
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-item:visible", has_text="Assignment List").click()
        panel.wait_for()
    page.locator("#refresh_assignments_list").click()
    for kind in ("released", "fetched", "submitted"):
        page.locator(f"#{kind}_assignments_list_loading").wait_for(state="hidden")


def row(page, kind: str):
    """The row of the tutorial in the Assignments tab's list of ``kind`` (released, fetched, submitted)."""
    return page.locator(f"#{kind}_assignments_list > .list_item", has_text=ASSIGNMENT).first


def test_each_account_runs_its_own_server_with_its_role(hub, pages):
    """Every server runs as its own Unix account; students see the assignment list only, the grader also
    the formgrader and the course list."""
    for account in pages:
        environment = server_environment(account)
        assert environment["USER"] == account and environment["COURSE_EXCHANGE"] == str(hub.exchange)
    students = [hub.students["alice"], hub.students["bob"]]
    for account in students:
        assert nbgrader_menu(pages[account]) == ["Assignment List"]
    grader_menu = nbgrader_menu(pages[hub.grader])
    assert {"Assignment List", "Formgrader", "Course List"} <= set(grader_menu), grader_menu
    assert oct(hub.exchange.stat().st_mode & 0o7777) == "0o1777"
    assert oct(hub.course.stat().st_mode & 0o777) == "0o700" and hub.course.owner() == hub.grader
    hub.done.add("servers")


def test_release_then_both_students_fetch_in_the_assignments_tab(hub, pages):
    hub.require("servers")
    as_grader(hub, "nbgrader", "generate_assignment", ASSIGNMENT, "--force")
    as_grader(hub, "nbgrader", "release_assignment", ASSIGNMENT)
    (course_id,) = [p.name for p in hub.exchange.iterdir()]
    outbound = hub.exchange / course_id / "outbound" / ASSIGNMENT
    assert sorted(p.name for p in outbound.iterdir()) == [NOTEBOOK]  # no solutions, no metric ranges
    for role in ("alice", "bob"):
        account = hub.students[role]
        page = pages[account]
        open_assignments(page)
        released = row(page, "released")
        assert course_id in released.inner_text()
        released.locator(".item_status button", has_text="Fetch").click()
        row(page, "fetched").locator("button", has_text="Submit").wait_for()
        fetched = hub.home(account) / ASSIGNMENT / NOTEBOOK
        assert fetched.owner() == account
        assert notebooks.read(fetched).cells == notebooks.read(outbound / NOTEBOOK).cells
    hub.done.add("fetched")


def tampering(answer: dict) -> dict:
    """The perfect answer with an IPython hook in its first answer cell: a construct no answer needs, which
    `make grade` flags for manual grading."""
    flagged = copy.deepcopy(answer)
    first = next(iter(notebooks.solution_cells(flagged).values()))
    first.source += '\nget_ipython().events.register("post_run_cell", lambda result: None)\n'
    return flagged


def submit_from_a_terminal(hub: Hub, account: str, notebook) -> None:
    """nbgrader's commands in a student's terminal: fetch, (the student's work), submit."""
    terminal = student_terminal(hub)
    as_user(account, "nbgrader", "fetch_assignment", ASSIGNMENT, env=terminal)
    as_user(account, "tee", str(hub.home(account) / ASSIGNMENT / NOTEBOOK), text_input=json.dumps(notebook))
    as_user(account, "nbgrader", "submit", ASSIGNMENT, env=terminal)


def test_submit_by_clicking_perfect_and_untouched_then_others_from_a_terminal_one_late(hub, pages):
    hub.require("fetched")
    alice, bob, carol, dave = (hub.students[r] for r in ("alice", "bob", "carol", "dave"))
    release = notebooks.read(hub.home(alice) / ASSIGNMENT / NOTEBOOK)
    solution = notebooks.read(notebooks.solution_path(hub.course, ASSIGNMENT))
    answer = perfect(release, solution)
    as_user(alice, "tee", str(hub.home(alice) / ASSIGNMENT / NOTEBOOK), text_input=json.dumps(answer))  # her work
    for account in (alice, bob):
        page = pages[account]
        open_assignments(page)
        row(page, "fetched").locator("button", has_text="Submit").click()
        page.locator(f"#submitted_assignments_list > .list_item", has_text=ASSIGNMENT).wait_for()
    submit_from_a_terminal(hub, dave, tampering(answer))
    # the due date passes (it is the moment of the last submission so far); carol submits late
    due = max(p.read_text().strip() for p in hub.exchange.glob("*/inbound/*/timestamp.txt"))
    as_grader(hub, "nbgrader", "db", "assignment", "add", ASSIGNMENT, f"--duedate={due}")
    hub.due = due
    as_grader(hub, "tee", "-a", "nbgrader_config.py", text_input=LATE_POLICY)  # the guide's late policy
    submit_from_a_terminal(hub, carol, answer)
    inbound = [p.name.split("+")[0] for p in hub.exchange.glob("*/inbound/*")]
    assert sorted(inbound) == sorted([alice, bob, carol, dave])
    hub.done.add("submitted")


def test_a_student_cannot_reach_another_students_work_or_the_course(hub):
    """Real file operations as bob: alice's submission in the exchange, her home (her work, nbgrader's cache
    with her submission's secret), the course folder (solutions with hidden tests, gradebook)."""
    hub.require("submitted")
    alice, bob = hub.students["alice"], hub.students["bob"]
    (inbound,) = hub.exchange.glob("*/inbound")
    assert any(p.name.startswith(f"{alice}+") for p in inbound.iterdir())  # it is there, as root sees
    cannot(bob, "ls", str(inbound))
    cannot(bob, "ls", str(hub.home(alice)))
    cannot(bob, "cat", str(hub.home(alice) / ASSIGNMENT / NOTEBOOK))
    assert as_user(alice, "cat", str(hub.home(alice) / ASSIGNMENT / NOTEBOOK)).stdout  # alice herself can
    for path in (hub.course, hub.course / "solutions" / ASSIGNMENT):
        cannot(bob, "ls", str(path))
    for path in (hub.course / "solutions" / ASSIGNMENT / NOTEBOOK, hub.course / "grading" / "gradebook.db"):
        assert path.is_file()
        cannot(bob, "cat", str(path))
    cannot(bob, "touch", str(hub.exchange / inbound.parent.name / "outbound" / ASSIGNMENT / NOTEBOOK))
    # the checkout whose Python every server runs: its solutions, tests and history are closed by make hub
    for name in launcher.PRIVATE:
        if (launcher.REPOSITORY / name).is_dir():
            cannot(bob, "ls", str(launcher.REPOSITORY / name))
    assert as_user(bob, "ls", str(launcher.REPOSITORY / "course_utils")).stdout  # what the notebooks import


def test_collect_grade_and_the_formgrader_shows_every_submission(hub, pages):
    hub.require("submitted")
    alice, bob, carol, dave = (hub.students[r] for r in ("alice", "bob", "carol", "dave"))
    as_grader(hub, "nbgrader", "collect", ASSIGNMENT)
    repository = launcher.REPOSITORY
    output = as_grader(hub, "make", "-s", "-C", str(repository), "grade", f"A={ASSIGNMENT}", f"COURSE_DIR={hub.course}")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hub.course / 'grading' / 'gradebook.db'}") as gradebook:
        rows = {s.student.id: (s.score, s.max_score, s.late_submission_penalty, s.needs_manual_grade)
                for s in gradebook.assignment_submissions(ASSIGNMENT)}
    stamps = {p.parent.parent.name: p.read_text().strip()
              for p in (hub.course / "grading" / "submitted").glob(f"*/{ASSIGNMENT}/timestamp.txt")}
    output += f"\ngradebook: {rows}\nsubmitted at: {stamps}, due {hub.due}"
    assert set(rows) == {alice, bob, carol, dave}, output
    full = rows[alice][1]
    assert rows[alice] == (full, full, 0, False), output
    assert rows[bob] == (0, full, 0, False), output
    assert rows[carol] == (full, full, full, False), output  # late: nbgrader's penalty "zero" takes every point
    assert rows[dave] == (0, full, 0, True), output  # flagged: 0 until the instructor grades it by hand
    page = pages[hub.grader]
    page.goto(f"{hub.url}/user/{hub.grader}/formgrader/manage_submissions/{ASSIGNMENT}")
    for account, (score, maximum, _, flagged) in rows.items():
        line = page.locator("tr", has=page.locator("td.student-id", has_text=account))
        appears(page, line, f"{account}'s submission in the formgrader")
        status = line.locator("td.status").inner_text().strip()
        assert status == ("needs manual grading" if flagged else "graded"), (account, status)
        shown = line.locator("td.score").inner_text().strip()
        assert [float(x) for x in shown.split("/")] == pytest.approx([score, maximum]), (account, shown)
    hub.done.add("graded")


def hidden_test_lines(course: Path) -> list[str]:
    """Code lines found only in the solution's hidden tests (not in its answers, visible tests or text); lines
    that are only a string (a failed check's message, which feedback may show) are left out."""
    hidden = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
    sources = [cell.source for cell in notebooks.read(notebooks.solution_path(course, ASSIGNMENT)).cells]
    elsewhere = "\n".join(hidden.sub("", source) for source in sources)  # a hidden line may be part of one here
    lines = {line.strip() for source in sources for block in hidden.findall(source) for line in block.splitlines()}
    return sorted(line for line in lines if len(line) > 15 and line not in elsewhere and not re.match(r"[rbfu]*[\"']", line))


def test_each_student_fetches_their_own_feedback_in_the_browser(hub, pages):
    hub.require("graded")
    alice, bob, carol = (hub.students[r] for r in ("alice", "bob", "carol"))
    as_grader(hub, "nbgrader", "release_feedback", ASSIGNMENT)
    hidden = hidden_test_lines(hub.course)
    graded = "\n".join(c.source for c in notebooks.read(hub.course / "grading" / "autograded" / alice / ASSIGNMENT / NOTEBOOK).cells)
    assert sum(line in graded for line in hidden) > len(hidden) / 2 > 10  # what grading ran, and feedback must not show
    expected = {alice: "19.0 / 19.0", bob: "0.0 / 19.0"}
    for account, score in expected.items():
        page = pages[account]
        open_assignments(page)
        submitted = row(page, "submitted")
        submitted.locator("button", has_text="Fetch Feedback").click()
        link = page.locator(".nested_list_item a", has_text="view feedback").first
        link.click()  # the file browser goes to the feedback folder
        item = page.locator(".jp-DirListing-item", has_text=f"{ASSIGNMENT}.html")
        item.dblclick()
        frame = page.frame_locator(".jp-MainAreaWidget:not(.lm-mod-hidden) iframe").first
        heading = frame.locator("h4", has_text="Score").first
        appears(page, heading, f"{account}'s feedback page")
        text = frame.locator("body").inner_text()
        assert f"(Score: {score})" in heading.inner_text(), heading.inner_text()
        assert "HIDDEN TESTS" not in text
        shown = [line for line in hidden if line in text]
        assert not shown, f"hidden tests in {account}'s feedback: {shown[:3]}"
    # carol, in a terminal: her feedback carries the late penalty
    as_user(carol, "nbgrader", "fetch_feedback", ASSIGNMENT, env=student_terminal(hub))
    (page_of_carol,) = (hub.home(carol) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
    assert "Late submission penalty (Score: -19.0)" in page_of_carol.read_text()
    hub.done.add("feedback")


def test_feedback_stays_private(hub):
    hub.require("feedback")
    alice, bob = hub.students["alice"], hub.students["bob"]
    (feedback,) = hub.exchange.glob("*/feedback")
    pages_made = list((hub.course / "grading" / "feedback").glob(f"*/{ASSIGNMENT}/*.html"))
    assert len(pages_made) >= 3 and len(list(feedback.iterdir())) == len(pages_made)  # named by a hash of a secret
    cannot(bob, "ls", str(feedback))
    (mine,) = (hub.home(alice) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
    cannot(bob, "cat", str(mine))


# --- the configuration itself, on any machine (no root, no browser) ---------------------------------------

def load_hub_config(monkeypatch, tmp_path, **settings):
    """jupyterhub_config.py as JupyterHub loads it, with ``COURSE_HUB_<KEY>`` set from ``settings``."""
    from traitlets.config.loader import PyFileConfigLoader

    for name in [n for n in os.environ if n.startswith("COURSE_HUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COURSE_HUB_STATE", str(tmp_path / "state"))
    for key, value in settings.items():
        monkeypatch.setenv(f"COURSE_HUB_{key.upper()}", value)
    return PyFileConfigLoader(launcher.CONFIG.name, path=str(launcher.CONFIG.parent)).load_config()


def test_hub_listens_on_this_machine_only_unless_told(monkeypatch, tmp_path):
    config = load_hub_config(monkeypatch, tmp_path)
    assert config.JupyterHub.bind_url == "http://127.0.0.1:8000/"
    assert config.JupyterHub.hub_bind_url.startswith("http://127.0.0.1:")
    assert config.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert "ssl_cert" not in config.JupyterHub
    config = load_hub_config(monkeypatch, tmp_path, ip="0.0.0.0", port="443", tls_cert="/etc/c.pem", tls_key="/etc/k.pem")
    assert config.JupyterHub.bind_url == "https://0.0.0.0:443/"
    assert (config.JupyterHub.ssl_cert, config.JupyterHub.ssl_key) == ("/etc/c.pem", "/etc/k.pem")


def test_hub_lets_in_the_grader_and_the_students_only(monkeypatch, tmp_path):
    config = load_hub_config(monkeypatch, tmp_path, grader="prof", students="ann ben")
    assert config.JupyterHub.authenticator_class == "pam"
    assert config.Authenticator.allowed_users == {"prof", "ann", "ben"}
    assert config.Authenticator.admin_users == set()
    assert issubclass(config.JupyterHub.spawner_class, LocalProcessSpawner) and config.Spawner.disable_user_config
    assert config.JupyterHub.cleanup_servers and config.JupyterHub.cleanup_proxy


def test_each_server_gets_its_role(monkeypatch, tmp_path):
    """The grader's server opens the course with the instructor's extensions, a student's their home with the
    students'; all get the exchange, the course id (the course's own) and the data."""
    from types import SimpleNamespace

    from traitlets.config.loader import PyFileConfigLoader

    config = load_hub_config(monkeypatch, tmp_path, grader="prof", students="ann", course="/srv/course",
                             exchange="/srv/exchange", data="/srv/data")
    course_id = PyFileConfigLoader("nbgrader_config.py", path=str(launcher.REPOSITORY)).load_config() \
        .CourseDirectory.course_id
    servers = {}
    for name in ("prof", "ann"):
        spawner = SimpleNamespace(user=SimpleNamespace(name=name), environment={}, notebook_dir="")
        config.Spawner.pre_spawn_hook(spawner)
        servers[name] = spawner
        assert spawner.environment["COURSE_EXCHANGE"] == "/srv/exchange"
        assert spawner.environment["COURSE_ID"] == course_id
        assert spawner.environment["COURSE_DATA_DIR"] == "/srv/data"
    assert servers["prof"].notebook_dir == "/srv/course" and servers["prof"].environment["COURSE_HUB_COURSE"] == "/srv/course"
    assert servers["ann"].notebook_dir == "~" and "COURSE_HUB_COURSE" not in servers["ann"].environment
    for name, role in (("prof", "grader"), ("ann", "student")):
        assert Path(servers[name].environment["JUPYTER_CONFIG_PATH"]) == launcher.CONFIG.parent / "servers" / role


def test_make_hub_says_why_it_cannot_start_without_root():
    if os.geteuid() == 0 and platform.system() == "Linux":
        pytest.skip("runs as root on Linux, where the hub can start")
    result = subprocess.run(["make", "-s", "hub", "HUB_PORT=1"], cwd=launcher.REPOSITORY, capture_output=True, text=True)
    assert result.returncode != 0 and "needs root on Linux" in result.stderr


def test_a_server_runs_in_the_folder_it_opens(monkeypatch, tmp_path):
    """The grader's server works in the course folder, as a terminal there does (relative gradebook URL)."""
    spawner = load_hub_config(monkeypatch, tmp_path).JupyterHub.spawner_class()
    spawner.notebook_dir = str(tmp_path)
    account = pwd.getpwuid(os.getuid()).pw_name
    where = subprocess.run(["pwd"], preexec_fn=spawner.make_preexec_fn(account), capture_output=True, text=True)
    assert where.stdout.strip() == str(tmp_path)


def test_servers_inherit_the_class_data_mirror(monkeypatch, tmp_path):
    kept = load_hub_config(monkeypatch, tmp_path).Spawner.env_keep
    assert {"COURSE_DATA_MIRROR", "COURSE_DATA_MIRROR_ONLY", "LANG"} <= set(kept)
