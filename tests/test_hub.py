"""The course on a real JupyterHub with several students, as a class meets it, in headless Debian chromium.

One hub for the whole module, set up as the instructor guide says (`make hub-accounts`, `make hub-data`,
`make hub`) and stopped at the end; every server is started by the hub as its own Unix account. Every command
of the guide is typed into a JupyterLab terminal in the browser, as the grader or a student: the grader releases
tutorial 01; alice and bob fetch it in the Assignments tab, and bob runs the notebook's first cells (its data
cell reads the class's data); alice submits a perfect notebook and bob the untouched one by clicking; in
terminals, dave submits perfect answers with an IPython hook in them, then the due date passes and carol
submits late. The grader collects with the course's own command (`make collect`) and grades (`make grade`); bob
then games the exchange (a submission in alice's name, a hand-made one of links into the course, a notebook
file named like a submission), a second collect refuses and reports each, and alice's work stays hers. The
formgrader, inside the grader's Lab, shows every submission; feedback is released, fetched and renders its
formulas, without a hidden test or a solution. A student who took the course's exchange folder before the hub
started gets it moved aside. Between the steps, real file operations as bob show what he cannot reach.

Needs Linux and root (accounts, servers started as them), Debian's chromium and the proxy from npm
(`make test` installs both as root on Debian); elsewhere it is skipped and says why. `make hub` opens the
folders the accounts must cross to run Python and the course (e.g. /root, where pyenv lives) for traversal
(o+x); the test puts their modes back afterwards.
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
    course_id: str
    done: set[str] = field(default_factory=set)  # the steps that passed
    due: str = ""  # the assignment's due date, once set
    terminals: dict = field(default_factory=dict)  # account -> its Terminal in the browser
    alice_collected: bytes = b""  # alice's notebook as the first collect took it

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


def cannot(account: str, *command: str) -> subprocess.CompletedProcess:
    """``command`` as ``account`` must fail with a permission error."""
    result = as_user(account, *command, check=False)
    assert result.returncode != 0 and "Permission denied" in result.stderr, \
        f"{account} could run {' '.join(command)}:\n{result.stdout[:500]}"
    return result


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
def hub(root, offline_data_dir):
    """`make hub-accounts`, `make hub-data` and `make hub` as the instructor guide shows them, on free ports, in a
    throwaway folder, after a student took the course's name in the exchange; afterwards the hub is stopped,
    the accounts deleted and the folders' modes put back."""
    hub_or_skip()
    tag = uuid.uuid4().hex[:6]
    grader, students = f"hub{tag}grader", {role: f"hub{tag}{role}" for role in ("alice", "bob", "carol", "dave")}
    names = [grader, *students.values()]
    password = uuid.uuid4().hex
    base = Path(tempfile.mkdtemp(prefix="bdl-hub-", dir="/tmp"))
    os.chmod(base, 0o755)
    data = base / "data"
    # make hub opens the folders on the way to Python, the checkout and the data (o+x) and closes the
    # checkout's private folders: put them back as they were afterwards
    modes = {folder: folder.stat().st_mode & 0o7777 for folder in {
        *launcher.blocked_folders(launcher.software_paths()),
        *(p for p in (root / n for n in launcher.PRIVATE) if p.is_dir())}}
    hub_process = None
    make_vars = [f"HUB_GRADER={grader}", f"HUB_STUDENTS={' '.join(students.values())}", f"HUB_DATA={data}"]
    try:
        made = subprocess.run(["make", "-s", "hub-accounts", *make_vars, f"HUB_ARGS=--home-base {base / 'home'}"],
                              cwd=root, env={**os.environ, "HUB_PASSWORD": password}, capture_output=True, text=True)
        assert made.returncode == 0, made.stdout + made.stderr
        assert all(accounts.exists(name) for name in names), made.stdout
        course, exchange = base / "course", base / "exchange"
        port = free_port()
        arguments = (f"--course {course} --exchange {exchange} --state {base / 'state'} "
                     f"--api-port {free_port()} --proxy-api-port {free_port()}")
        hub_command = ["make", "-s", "hub", f"HUB_PORT={port}", *make_vars, f"HUB_ARGS={arguments}"]
        # without the class's data the hub refuses to start, and names the fix
        refused = subprocess.run(hub_command, cwd=root, capture_output=True, text=True, timeout=300)
        assert refused.returncode != 0 and "make hub-data" in refused.stderr, refused.stdout + refused.stderr
        # the class's data, once (offline here; the generated jets of this test session are reused)
        shutil.copytree(offline_data_dir / ".jet-cache", data / ".jet-cache")
        prepared = subprocess.run(["make", "-s", "hub-data", *make_vars, "DATA_SOURCE=offline"], cwd=root,
                                  capture_output=True, text=True)
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
        # a student takes the course's folder in an exchange that is already there, before the hub starts
        exchange.mkdir(mode=0o1777)
        os.chmod(exchange, 0o1777)
        course_id = launcher.course_id()
        as_user(students["bob"], "mkdir", "-m", "777", str(exchange / course_id))
        log = base / "hub.log"
        with open(log, "w") as output:
            hub_process = subprocess.Popen(hub_command, cwd=root, stdout=output, stderr=subprocess.STDOUT,
                                           start_new_session=True)

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
        yield Hub(url, base, course, exchange, grader, students, password, log, course_id)
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
        for account in [hub.grader, *hub.students.values()]:
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


class Terminal:
    """A JupyterLab terminal of one account, opened in its browser page (File -> New -> Terminal); commands
    are typed into it as a person types them. Each typed line also sends its output and exit status to
    files in the account's home (~/.journey/), which the test waits for: the event that the command ended."""

    def __init__(self, hub: Hub, page, account: str):
        self.hub, self.page, self.account, self.count = hub, page, account, 0
        self.folder = hub.home(account) / ".journey"
        page.locator(".lm-MenuBar-itemLabel", has_text="File").first.click()
        page.locator(".lm-Menu-item:visible", has_text="New").first.hover()
        page.locator(".lm-Menu-item:visible .lm-Menu-itemLabel:text-is('Terminal')").first.click()
        self.screen = page.locator(".jp-Terminal:visible .xterm").last
        self.screen.wait_for()
        # the shell is ready once a typed line runs: type the first one again until it has
        for attempt in range(5):
            self._type("mkdir -p ~/.journey && echo ready > ~/.journey/ready")
            try:
                wait_for(lambda: (self.folder / "ready").is_file(), f"{account}'s terminal to answer", 30)
                break
            except pytest.fail.Exception:
                if attempt == 4:
                    raise

    def _type(self, line: str) -> None:
        self.screen.click()
        self.page.keyboard.type(line)
        self.page.keyboard.press("Enter")

    def run(self, command: str, check: bool = True, timeout: float = 600) -> str:
        """Type ``command``; wait for it to end; its output (stdout and stderr). ``check``: it must succeed."""
        self.count += 1
        out, status = self.folder / f"{self.count}.out", self.folder / f"{self.count}.status"
        self._type(f"{{ {command} ; }} > ~/.journey/{self.count}.out 2>&1; echo $? > ~/.journey/{self.count}.status")
        wait_for(lambda: status.is_file() and status.read_text().strip(), f"`{command}` to end in "
                 f"{self.account}'s terminal", timeout, 0.5)
        code, text = int(status.read_text()), out.read_text()
        if check and code != 0:
            pytest.fail(f"`{command}` failed ({code}) in {self.account}'s terminal:\n{text[-4000:]}")
        return text


def terminal(hub: Hub, pages, account: str) -> Terminal:
    """The account's terminal, opened once and kept for the journey."""
    if account not in hub.terminals:
        hub.terminals[account] = Terminal(hub, pages[account], account)
    return hub.terminals[account]


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
    the formgrader (inside the Lab) and the course list; no news pop-up; the course's exchange folder is the
    grader's, the one a student had made moved aside."""
    for account in pages:
        environment = server_environment(account)
        assert environment["USER"] == account and environment["COURSE_EXCHANGE"] == str(hub.exchange)
        disabled = pages[account].evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).disabledExtensions")
        assert "@jupyterlab/apputils-extension:announcements" in disabled, disabled
    for account in hub.students.values():
        assert nbgrader_menu(pages[account]) == ["Assignment List"]
    page = pages[hub.grader]
    grader_menu = nbgrader_menu(page)
    assert {"Assignment List", "Formgrader", "Course List"} <= set(grader_menu), grader_menu
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(".lm-Menu-item:visible", has_text="Formgrader").click()
    frame = page.frame_locator(".jp-MainAreaWidget:not(.lm-mod-hidden) iframe").first
    appears(page, frame.locator("text=Manage Assignments").first, "the formgrader inside the grader's Lab")
    assert oct(hub.exchange.stat().st_mode & 0o7777) == "0o1777"
    assert oct(hub.course.stat().st_mode & 0o777) == "0o700" and hub.course.owner() == hub.grader
    course_folder = hub.exchange / hub.course_id
    assert course_folder.owner() == hub.grader and not course_folder.is_symlink()
    modes = {name: oct((course_folder / name).stat().st_mode & 0o7777) for name in ("outbound", "inbound", "feedback")}
    assert modes == {"outbound": "0o755", "inbound": "0o2733", "feedback": "0o711"}
    (aside,) = hub.exchange.glob(f".{hub.course_id}.taken-by-uid-*")
    assert aside.owner() == "root" and "moved aside" in hub.log.read_text()
    hub.done.add("servers")


def test_release_in_the_graders_terminal_then_both_students_fetch_in_the_assignments_tab(hub, pages):
    hub.require("servers")
    grader = terminal(hub, pages, hub.grader)
    grader.run(f"nbgrader generate_assignment {ASSIGNMENT} --force")
    grader.run(f"nbgrader db assignment add {ASSIGNMENT} --duedate=\"$(date -d '+7 days' '+%Y-%m-%d 18:00:00') UTC\"")
    grader.run(f"nbgrader release_assignment {ASSIGNMENT}")
    outbound = hub.exchange / hub.course_id / "outbound" / ASSIGNMENT
    assert sorted(p.name for p in outbound.iterdir()) == [NOTEBOOK]  # no solutions, no metric ranges
    for role in ("alice", "bob"):
        account = hub.students[role]
        page = pages[account]
        open_assignments(page)
        released = row(page, "released")
        assert hub.course_id in released.inner_text()
        released.locator(".item_status button", has_text="Fetch").click()
        row(page, "fetched").locator("button", has_text="Submit").wait_for()
        fetched = hub.home(account) / ASSIGNMENT / NOTEBOOK
        assert fetched.owner() == account
        assert notebooks.read(fetched).cells == notebooks.read(outbound / NOTEBOOK).cells
    hub.done.add("fetched")


def test_a_students_first_cells_read_the_class_data(hub, pages):
    """bob opens the fetched notebook and runs it: the data cell reads the class's data, and the run stops at
    the first exercise, as it does for every untouched notebook."""
    hub.require("fetched")
    from test_browser import PANEL, page_state, run_all_cells

    bob = hub.students["bob"]
    page = pages[bob]
    page.goto(f"{hub.url}/user/{bob}/lab/workspaces/first-cells/tree/{ASSIGNMENT}/{NOTEBOOK}")
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="attached")

    def kernel_idle() -> bool:
        sessions = page.request.get(f"{hub.url}/user/{bob}/api/sessions").json()
        return any(s["path"].endswith(NOTEBOOK) and s["kernel"] and s["kernel"]["execution_state"] == "idle"
                   for s in sessions)

    wait_for(kernel_idle, f"the kernel of bob's notebook to start: {page_state(page)}", 600, 0.5)
    run_all_cells(page)
    outputs = "\n".join(page.locator(f"{PANEL} .jp-OutputArea-output").all_text_contents())
    assert "data source: generated offline" in outputs, outputs[-3000:]
    assert "Error" not in outputs.replace("NotImplementedError", ""), outputs[-3000:]
    errors = page.locator(f"{PANEL} .jp-OutputArea-output").filter(has_text="NotImplementedError")
    assert errors.count() == 1  # Run All stops at the first exercise
    hub.done.add("first cells")


def tampering(answer: dict) -> dict:
    """The perfect answer with an IPython hook in its first answer cell: a construct no answer needs, which
    `make grade` lists to look at (a manual grade; the grader's checks decided the scores)."""
    flagged = copy.deepcopy(answer)
    first = next(iter(notebooks.solution_cells(flagged).values()))
    first.source += '\nget_ipython().events.register("post_run_cell", lambda result: None)\n'
    return flagged


def work(hub: Hub, account: str, notebook) -> None:
    """The student's work on the fetched notebook (their editing, here written in one go)."""
    as_user(account, "tee", str(hub.home(account) / ASSIGNMENT / NOTEBOOK), text_input=json.dumps(notebook))


def submit_from_a_terminal(hub: Hub, pages, account: str, notebook) -> None:
    """nbgrader's commands typed in the student's terminal: fetch, (the student's work), submit."""
    shell = terminal(hub, pages, account)
    shell.run(f"nbgrader fetch_assignment {ASSIGNMENT}")
    work(hub, account, notebook)
    shell.run(f"nbgrader submit {ASSIGNMENT}")


def test_submit_by_clicking_perfect_and_untouched_then_others_from_a_terminal_one_late(hub, pages):
    hub.require("fetched")
    alice, bob, carol, dave = (hub.students[r] for r in ("alice", "bob", "carol", "dave"))
    release = notebooks.read(hub.home(alice) / ASSIGNMENT / NOTEBOOK)
    solution = notebooks.read(notebooks.solution_path(hub.course, ASSIGNMENT))
    answer = perfect(release, solution)
    work(hub, alice, answer)
    for account in (alice, bob):
        page = pages[account]
        open_assignments(page)
        row(page, "fetched").locator("button", has_text="Submit").click()
        page.locator(f"#submitted_assignments_list > .list_item", has_text=ASSIGNMENT).wait_for()
    submit_from_a_terminal(hub, pages, dave, tampering(answer))
    # the due date passes (it is the moment of the last submission so far); carol submits late
    due = max(p.read_text().strip() for p in hub.exchange.glob("*/inbound/*/timestamp.txt"))
    grader = terminal(hub, pages, hub.grader)
    grader.run(f'nbgrader db assignment add {ASSIGNMENT} --duedate="{due}"')
    hub.due = due
    grader.run(f"echo '{LATE_POLICY.strip()}' >> nbgrader_config.py")  # the guide's late policy
    submit_from_a_terminal(hub, pages, carol, answer)
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


COLLECT = f'make -s -C "$COURSE_CHECKOUT" collect A={ASSIGNMENT} COURSE_DIR="$PWD"'


def test_collect_in_the_graders_terminal(hub, pages):
    hub.require("submitted")
    output = terminal(hub, pages, hub.grader).run(COLLECT)
    submitted = hub.course / "grading" / "submitted"
    assert sorted(p.name for p in submitted.iterdir()) == sorted(hub.students.values()), output
    alice = hub.students["alice"]
    hub.alice_collected = (submitted / alice / ASSIGNMENT / NOTEBOOK).read_bytes()
    hub.done.add("collected")


def test_games_with_the_exchange_are_refused_and_reported(hub, pages):
    """bob, in his terminal: a submission in alice's name (nbgrader's own --student), a submission folder of
    his own made by hand whose notebook, timestamp, gradebook and solutions are links into the course (one in
    a subfolder), and a notebook file in the inbound folder named like alice's submission. The grader's next
    collect takes none of it, names each refusal by student, and alice's collected work stays hers."""
    hub.require("collected")
    alice, bob = hub.students["alice"], hub.students["bob"]
    shell = terminal(hub, pages, bob)
    shell.run(f"nbgrader submit {ASSIGNMENT} --student {alice}")
    course = hub.course
    inbound = '"$COURSE_EXCHANGE/$COURSE_ID/inbound"'
    stamp = "$(date -u '+%Y-%m-%d %H:%M:%S.%6N UTC')"
    shell.run(f'd={inbound}/"$USER+{ASSIGNMENT}+{stamp}+handmade"; mkdir -p "$d/more" && '
              f'ln -s {course}/solutions/{ASSIGNMENT}/{NOTEBOOK} "$d/{NOTEBOOK}" && '
              f'ln -s {course}/grading/gradebook.db "$d/gradebook.db" && ln -s {course}/solutions "$d/solutions" && '
              f'ln -s {course}/grading/gradebook.db "$d/more/notes.db" && '
              f'ln -s {course}/nbgrader_config.py "$d/timestamp.txt"')
    shell.run(f'cp ~/{ASSIGNMENT}/{NOTEBOOK} {inbound}/"{alice}+{ASSIGNMENT}+{stamp}+named-like-hers"')
    output = terminal(hub, pages, hub.grader).run(COLLECT)
    submitted = hub.course / "grading" / "submitted"
    assert (submitted / alice / ASSIGNMENT / NOTEBOOK).read_bytes() == hub.alice_collected, output
    log = json.loads((hub.course / "grading" / "runs" / f"{ASSIGNMENT}.collect.json").read_text())
    refused = json.dumps(log.get("refused", log))
    for name in ("handmade", "named-like-hers"):
        assert name in refused, refused
    assert refused.count(f"{alice}+{ASSIGNMENT}") >= 2, refused  # bob's --student submission and the file
    secret = solution_lines(hub.course)  # bob never answered: no line of a solution may reach his folder
    taken = sorted(p.relative_to(submitted / bob).as_posix() for p in (submitted / bob).rglob("*"))
    assert taken == [ASSIGNMENT, f"{ASSIGNMENT}/{NOTEBOOK}", f"{ASSIGNMENT}/submission_secret.txt",
                     f"{ASSIGNMENT}/timestamp.txt"], taken
    leaked = [path for path in (submitted / bob).rglob("*") if path.is_file()
              and any(line in path.read_text(errors="replace") for line in secret)]
    assert not leaked and not any(p.is_symlink() for p in submitted.rglob("*")), leaked
    hub.done.add("games refused")


def test_grade_in_the_graders_terminal_and_the_formgrader_shows_every_submission(hub, pages):
    hub.require("games refused")
    alice, bob, carol, dave = (hub.students[r] for r in ("alice", "bob", "carol", "dave"))
    grader = terminal(hub, pages, hub.grader)
    output = grader.run(f'make -s -C "$COURSE_CHECKOUT" grade A={ASSIGNMENT} COURSE_DIR="$PWD"')
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
    assert rows[dave] == (full, full, 0, True), output  # the scan's finding asks for a look: scores kept, manual grade
    report = grader.run(f'make -s -C "$COURSE_CHECKOUT" report A={ASSIGNMENT} COURSE_DIR="$PWD"')
    assert f"{bob}: refused at collect" in report, report  # the refusals at collect, by student
    refusals = (hub.course / "grading" / "reports" / f"{ASSIGNMENT}_refused_at_collect.csv").read_text()
    assert "handmade" in refusals and "named-like-hers" in refusals and alice not in refusals.split(",")[0], refusals
    page = pages[hub.grader].context.new_page()  # a second tab: the Lab keeps its terminal
    page.goto(f"{hub.url}/user/{hub.grader}/formgrader/manage_submissions/{ASSIGNMENT}")
    for account, (score, maximum, _, flagged) in rows.items():
        line = page.locator("tr", has=page.locator("td.student-id", has_text=account))
        appears(page, line, f"{account}'s submission in the formgrader")
        status = line.locator("td.status").inner_text().strip()
        assert status == ("needs manual grading" if flagged else "graded"), (account, status)
        shown = line.locator("td.score").inner_text().strip()
        assert [float(x) for x in shown.split("/")] == pytest.approx([score, maximum]), (account, shown)
    page.close()
    hub.done.add("graded")


def lines_between(course: Path, begin: str, end: str) -> list[str]:
    """Code lines found only between ``begin`` and ``end`` markers of the solution (not elsewhere in it);
    lines that are only a string (a failed check's message, which feedback may show) are left out."""
    block = re.compile(rf"{re.escape(begin)}\n(.*?){re.escape(end)}", re.S)
    sources = [cell.source for cell in notebooks.read(notebooks.solution_path(course, ASSIGNMENT)).cells]
    elsewhere = "\n".join(block.sub("", source) for source in sources)  # a line there may be part of one here
    lines = {line.strip() for source in sources for found in block.findall(source) for line in found.splitlines()}
    return sorted(line for line in lines if len(line) > 15 and line not in elsewhere and not re.match(r"[rbfu]*[\"']", line))


def hidden_test_lines(course: Path) -> list[str]:
    return lines_between(course, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def solution_lines(course: Path) -> list[str]:
    return lines_between(course, "### BEGIN SOLUTION", "### END SOLUTION")


def markdown_formulas(course: Path) -> list[str]:
    """LaTeX of the solution's markdown formulas that no code cell holds: feedback must draw, not show, them."""
    cells = notebooks.read(notebooks.solution_path(course, ASSIGNMENT)).cells
    code = "\n".join(c.source for c in cells if c.cell_type == "code")
    found = {f for c in cells if c.cell_type == "markdown" for f in re.findall(r"\$([^$\n]{6,})\$", c.source)}
    return sorted(f for f in found if "\\" in f and f not in code)


def test_each_student_fetches_their_own_feedback_in_the_browser(hub, pages):
    hub.require("graded")
    alice, bob, carol = (hub.students[r] for r in ("alice", "bob", "carol"))
    terminal(hub, pages, hub.grader).run(f"nbgrader release_feedback {ASSIGNMENT}")
    hidden = hidden_test_lines(hub.course)
    graded = "\n".join(c.source for c in notebooks.read(hub.course / "grading" / "autograded" / alice / ASSIGNMENT / NOTEBOOK).cells)
    assert sum(line in graded for line in hidden) > len(hidden) / 2 > 10  # what grading ran, and feedback must not show
    answers = solution_lines(hub.course)
    formulas = markdown_formulas(hub.course)
    expected = {alice: "19.0 / 19.0", bob: "0.0 / 19.0"}
    for account, score in expected.items():
        page = pages[account]
        open_assignments(page)
        submitted = row(page, "submitted")
        submitted.locator("button", has_text="Fetch Feedback").first.click()
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
        assert frame.locator("math").count() > 10 and not [f for f in formulas if f in text]  # drawn, untrusted, offline
    for path in (hub.home(bob) / ASSIGNMENT / "feedback").rglob("*"):
        if path.is_file():
            content = path.read_text(errors="replace")
            assert not [line for line in answers if line in content], f"an answer in bob's feedback {path}"
    # carol, in her terminal: her feedback carries the late penalty
    terminal(hub, pages, carol).run(f"nbgrader fetch_feedback {ASSIGNMENT}")
    (page_of_carol,) = (hub.home(carol) / ASSIGNMENT / "feedback").glob(f"*/{ASSIGNMENT}.html")
    assert "Late submission penalty (Score: -19.0)" in page_of_carol.read_text()
    hub.done.add("feedback")


def test_feedback_stays_private(hub):
    hub.require("feedback")
    alice, bob = hub.students["alice"], hub.students["bob"]
    (feedback,) = hub.exchange.glob(f"{hub.course_id}/feedback")
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


def test_the_hub_names_missing_or_unreadable_class_data(offline_data_dir, tmp_path):
    """`make hub` refuses while the class's data is missing or closed to the students, naming what."""
    assert {m.split(" (")[0] for m in launcher.missing_data(tmp_path)} == \
        {"amplitude regression", "top tagging short", "top tagging reference", "digits"}
    data = tmp_path / "data"
    shutil.copytree(offline_data_dir, data, ignore=shutil.ignore_patterns(".jet-cache"))
    os.chmod(data, 0o755)
    assert launcher.missing_data(data) == []
    closed = next(p for p in data.rglob("*.npy"))
    os.chmod(closed, 0o600)
    (problem,) = launcher.missing_data(data)
    assert "cannot read" in problem and str(closed) in problem


def test_grading_warns_when_the_kernels_data_lacks_the_assignments_dataset(tmp_path, monkeypatch, capsys):
    from course_utils.instructor.__main__ import _warn_missing_data

    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    _warn_missing_data(tmp_path, "01_amplitude_regression")
    warned = capsys.readouterr().out
    assert "amplitude regression" in warned and str(tmp_path) in warned and "make hub-data" in warned
    assert "digits" not in warned  # only the assignment's own data
