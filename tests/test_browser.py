"""The student's journey in a real browser: JupyterLab (started by `make lab`, on 127.0.0.1 only) in
headless Debian chromium, driven by Playwright. The student opens tutorial 01, runs every cell, and
clicks nbgrader's Validate: the untouched notebook lists its failing tests, a perfect one passes.

`make test` installs chromium where it runs as root on Debian (CI); elsewhere the test is skipped and
says why. The server runs the notebooks at the grading setting (COURSE_SCALE=grading), so that each
run and each validation takes seconds.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from course_utils.instructor import notebooks
from course_utils.instructor.submissions import perfect

pytestmark = pytest.mark.slow

ASSIGNMENT = "01_amplitude_regression"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook in front


def browser_or_skip():
    """Playwright's sync API; skips plainly where Debian's chromium is not there and cannot be installed."""
    installable = os.geteuid() == 0 and Path("/etc/debian_version").is_file()
    if not Path(CHROMIUM).is_file():
        if installable:
            pytest.fail("chromium is missing although this is Debian as root: `make browser` should have installed it")
        pytest.skip("the browser journey needs Debian's chromium, which only root can install (apt-get install "
                    "chromium); not installed here, so the test is skipped")
    return pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make install)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def lab(root, tmp_path_factory, notebook_env):
    """`make lab` serving a copy of the course's student folder, with a perfect submission beside it."""
    browser_or_skip()
    course = tmp_path_factory.mktemp("lab")
    shutil.copy(root / "nbgrader_config.py", course / "nbgrader_config.py")
    shutil.copytree(root / "notebooks" / ASSIGNMENT, course / "notebooks" / ASSIGNMENT)
    release = notebooks.read(notebooks.release_path(root, ASSIGNMENT))
    solution = notebooks.read(notebooks.solution_path(root, ASSIGNMENT))
    notebooks.write(perfect(release, solution), course / "notebooks" / ASSIGNMENT / "perfect.ipynb")
    # JupyterLab draws only the cells in view unless told otherwise: draw them all, so that outputs can be read
    settings = course / "lab-settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = free_port(), uuid.uuid4().hex
    env = {**notebook_env, "COURSE_SCALE": "grading", "JUPYTERLAB_SETTINGS_DIR": str(course / "lab-settings")}
    arguments = (f"--no-browser --port={port} --IdentityProvider.token={token} --ServerApp.port_retries=0 "
                 f"--LabApp.workspaces_dir={course / 'workspaces'}")  # not the user's saved layouts
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_DIR={course}", f"LAB_ARGS={arguments}"], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600  # a guard against a server that never starts, not a wait
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read() if server.poll() is not None else ""
                    pytest.fail(f"JupyterLab did not start on {url}:\n{output[-3000:]}")
                time.sleep(0.5)
        yield url, token, course
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def page(lab):
    sync_api = browser_or_skip()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox"] if os.geteuid() == 0 else [])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def kernel_idle_on_server(lab, name) -> bool:
    """True once the server reports the notebook's kernel started and idle (the REST API, not the page)."""
    url, token, _ = lab
    with urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=10) as response:
        sessions = json.load(response)
    return any(s["path"].endswith(name) and s["kernel"] and s["kernel"]["execution_state"] == "idle" for s in sessions)


def open_notebook(page, lab, name):
    url, token, _ = lab
    # a workspace of its own: only this notebook open, whatever an earlier test left open
    workspace = Path(name).stem.replace("_", "-")
    page.goto(f"{url}/lab/workspaces/{workspace}/tree/notebooks/{ASSIGNMENT}/{name}?token={token}")
    page.wait_for_selector(f"{PANEL} .jp-Cell", state="attached")
    page.wait_for_selector(f"{PANEL} .validate-button")  # nbgrader's toolbar button
    page.wait_for_selector(f"{PANEL} .jp-Notebook-ExecutionIndicator[data-status='idle']", state="attached")
    # the indicator reads idle before a kernel exists; Run All before the kernel is there runs nothing
    deadline = time.monotonic() + KERNEL_START_LIMIT_S  # a guard against a kernel that never starts, not a wait
    while not kernel_idle_on_server(lab, name):
        assert time.monotonic() < deadline, f"the kernel of {name} did not start: {page_state(page)}"
        time.sleep(0.5)


#: prompts, kernel indicator and open dialogs of the notebook in front: what a failing wait saw
PAGE_STATE = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  const prompts = panel ? [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent.trim()) : [];
  const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
  return JSON.stringify({title: panel && panel.querySelector('.jp-Toolbar') ? document.title : null, prompts,
    indicator: indicator && indicator.getAttribute('data-status'),
    dialogs: [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.slice(0, 300))});
}"""

#: true once Run All has started: some code cell waits or runs ("[*]") or has run ("[n]")
RUN_ALL_STARTED = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return !!panel && [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent));
}"""
#: true once Run All has finished: no code cell waits or runs ("[*]"), at least one has run, the kernel is idle.
#: (The kernel goes idle between cells too, so the indicator alone says nothing about the whole run.)
RUN_ALL_FINISHED = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  if (!panel) return false;
  const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.textContent);
  const idle = panel.querySelector(".jp-Notebook-ExecutionIndicator[data-status='idle']");
  return idle !== null && prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('[*]'));
}"""
#: generous limits: the run waits for the events above, and a busy CI runner may be many times slower than a laptop
RUN_LIMIT_MS = 600_000
START_LIMIT_MS = 120_000
KERNEL_START_LIMIT_S = 600


def page_state(page) -> str:
    return page.evaluate(PAGE_STATE)


def run_all_cells(page):
    """Run > Run All Cells, clicked again if no cell started (a click the page was not ready for)."""
    for attempt in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-item:visible", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(RUN_ALL_STARTED, timeout=START_LIMIT_MS, polling=250)
            break
        except Exception:  # playwright's TimeoutError
            if attempt == 2:
                raise AssertionError(f"Run All started no cell after three clicks: {page_state(page)}") from None
    try:
        page.wait_for_function(RUN_ALL_FINISHED, timeout=RUN_LIMIT_MS, polling=500)
    except Exception:
        raise AssertionError(f"Run All did not finish: {page_state(page)}") from None


def validate(page) -> str:
    page.locator(f"{PANEL} .validate-button").first.click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=RUN_LIMIT_MS)
    text = dialog.inner_text()
    dialog.locator("button", has_text="Ok").first.click()
    dialog.wait_for(state="detached")
    return text


def test_untouched_notebook_runs_until_the_first_exercise_and_fails_validation(page, lab):
    open_notebook(page, lab, f"{ASSIGNMENT}.ipynb")
    run_all_cells(page)
    outputs = page.locator(f"{PANEL} .jp-OutputArea-output")
    assert outputs.filter(has_text="NotImplementedError").count() == 1  # Run All stops at the first exercise
    assert outputs.filter(has_text="scale: grading").count() == 1
    report = validate(page)
    assert "Validation failed" in report or "The following cell failed" in report, report
    assert "NotImplementedError" in report, report


def test_perfect_submission_runs_and_passes_validation(page, lab):
    open_notebook(page, lab, "perfect.ipynb")
    run_all_cells(page)
    outputs = page.locator(f"{PANEL} .jp-OutputArea-output")
    assert outputs.filter(has_text="scale: grading").count() == 1
    assert outputs.filter(has_text="Traceback").count() == 0
    prompts = page.locator(f"{PANEL} .jp-CodeCell .jp-InputPrompt")
    assert prompts.count() > 20 and prompts.filter(has_text="[ ]").count() == 0  # every code cell ran
    report = validate(page)
    assert "Success! Your notebook passes all the tests." in report, report
