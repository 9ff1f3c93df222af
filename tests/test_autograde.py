"""Autograding end to end in temporary courses, as an instructor runs it.

Every assignment's demo class (five kinds of submission) is graded by the parallel command, run as the
instructor guide shows it (`make grade A=... COURSE_DIR=... WORKERS=2` from the course root). Tutorial 01's
class also holds the submissions that attack the grader (``submissions.HARDENING_CLASS``: among them what
nbgrader itself cannot take, pasted test cells, another schema version, 20 000 cells, and folders that are
no student id) and the eleven that attack the grading (test tampering, peeking, breaking others, network,
process and disk bombs, a detached process, marker texts: ``submissions.ATTACK_CLASS``), and its demo class of
five is graded a second time by nbgrader's own serial `nbgrader autograde`: the gradebook and the feedback
must be the same.
"""
import hashlib
import html
import json
import os
import re
import socket
import sqlite3
import subprocess
import threading

import pytest

from conftest import ASSIGNMENTS
from grading_services import share_probe_key
from course_utils.instructor import notebooks
from course_utils.instructor.demo import grade, prepare_course, submit
from course_utils.instructor.nbgrader_cli import grades
from course_utils.instructor.sandbox.kernel_sandbox import Limits, detect_isolation
from course_utils.grading.grader_side import GRADED_BY_THE_GRADER
from course_utils.instructor.submissions import (ATTACK_CLASS, FLAGGED, FLAGGED_BEFORE_RUN, GRADER_SIDE_ATTACKS,
                                                 HARDENING_CLASS,
                                                 INVALID_IDS, NETWORK_PORT, attack_expectations, demo_class,
                                                 hardening_expectations)

pytestmark = pytest.mark.slow

HARDENED = "01_amplitude_regression"  # the assignment whose demo class also attacks the grader
ROOT_ON_DEBIAN = os.geteuid() == 0 and os.path.isfile("/etc/debian_version")


def needs_sandbox():
    """The attacks on the grading run only where student kernels are isolated (as root on Debian they must be)."""
    isolation = detect_isolation()
    if not isolation.isolated:
        message = f"student kernels are not isolated here ({isolation.reason}): the attack students are left out"
        pytest.fail(message) if ROOT_ON_DEBIAN else pytest.skip(message)

# per assignment and broken student: the grade cells that must score zero, and those that must keep
# full marks (None: every other cell)
EXPECTED = {
    "01_amplitude_regression": {
        "carol": (["test_neg_log_gauss_reference"], None),
        "dave": (["test_neg_log_gauss_values", "test_neg_log_gauss_reference", "test_neg_log_gauss_dtypes"],
                 ["test_vblinear_parameters", "test_vblinear_forward", "test_vblinear_sampling", "test_vblinear_kl",
                  "test_vblinear_gradients", "test_vblinear_dtypes", "test_get_prediction_shapes",
                  "test_get_prediction_statistics", "test_get_prediction_loaders_and_state"]),
        "erin": (["test_get_prediction_shapes", "test_get_prediction_statistics", "test_get_prediction_loaders_and_state"],
                 None),
    },
    "02_mnist_bayes_by_backprop": {
        "carol": (["test_minibatch_loss"], None),
        "dave": (["test_bayesian_linear_forward", "test_bayesian_linear_sampling", "test_bayesian_linear_log_densities"],
                 ["test_log_gaussian", "test_log_gaussian_logsigma", "test_mixture_prior_values", "test_mixture_prior_tails",
                  "test_log_categ", "test_minibatch_loss", "test_minibatch_loss_rules", "test_mc_predict_shapes",
                  "test_mc_predict_intervals"]),
        "erin": (["test_mc_predict_shapes", "test_mc_predict_intervals"], None),
    },
    "03_jet_bayesian_cnn": {
        "carol": (["test_bbbconv_kl"], None),
        "dave": (["test_train_epoch_runs", "test_train_epoch_reference"],
                 ["test_bbbconv_parameters", "test_bbbconv_forward", "test_bbbconv_sampling", "test_bbbconv_kl",
                  "test_bbbconv_stability_and_devices",
                  "test_bayesconvnet_structure", "test_bayesconvnet_forward", "test_bayesconvnet_kl",
                  "test_get_prediction_shapes", "test_get_prediction_statistics"]),
        "erin": (["test_get_prediction_shapes", "test_get_prediction_statistics"], None),
    },
    "04_top_tagging_deepsets": {
        "carol": (["test_pfn_masking"], None),
        "dave": (["test_early_stopping_sequence", "test_early_stopping_best_weights"],
                 ["test_pfn_shapes", "test_pfn_masking", "test_pfn_permutation_and_gradients", "test_predict_proba",
                  "test_latent_batched", "test_jet_axis_shapes_and_padding", "test_jet_axis_values",
                  "test_jet_axis_symmetries"]),
        "erin": (["test_jet_axis_shapes_and_padding", "test_jet_axis_values", "test_jet_axis_symmetries"], None),
    },
}


def test_every_assignment_has_demo_expectations():
    assert set(EXPECTED) == set(ASSIGNMENTS)


BY_THE_GRADER = "04_top_tagging_deepsets"  # an assignment whose grade cells the grader decides, attacked


def class_of(assignment: str) -> dict:
    extra = GRADER_SIDE_ATTACKS if assignment == BY_THE_GRADER else {}
    return {**demo_class(assignment, hardening=assignment == HARDENED), **extra}


def make_course(root, folder, assignment, students):
    prepare_course(root, folder, [assignment])
    share_probe_key(folder)
    submit(folder, assignment, students)
    return folder


#: connections that reached the grader's loopback on NETWORK_PORT while tutorial 01's class was graded
REACHED: list = []


def _listen(server: socket.socket) -> None:
    while True:
        try:
            connection, _ = server.accept()
        except OSError:  # closed: the class run is over
            return
        REACHED.append(connection.recv(100))
        connection.close()


@pytest.fixture(scope="module")
def class_runs(root, tmp_path_factory, notebook_env):
    """Each assignment's class graded once, on first use, in parallel with `make grade` as the guide shows it
    (for tutorial 01, with a server on the grader's loopback that the network attack tries to reach)."""
    cache = {}

    def run_for(assignment):
        if assignment not in cache:
            course = make_course(root, tmp_path_factory.mktemp("course"), assignment, class_of(assignment))
            with socket.socket() as server:
                if assignment == HARDENED:  # the class with the network attack
                    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    server.bind(("127.0.0.1", NETWORK_PORT))
                    server.listen()
                    threading.Thread(target=_listen, args=(server,), daemon=True).start()
                try:
                    result = subprocess.run(["make", "-s", "grade", f"A={assignment}", f"COURSE_DIR={course}",
                                             "WORKERS=2"], cwd=root, env=notebook_env, capture_output=True, text=True)
                finally:
                    if assignment == HARDENED:
                        server.shutdown(socket.SHUT_RDWR)  # ends the accepting thread and frees the port
            assert result.returncode == 0, result.stdout + result.stderr
            solution = notebooks.read(notebooks.solution_path(root, assignment))
            run = json.loads((course / "grading" / "runs" / f"{assignment}.json").read_text())
            cache[assignment] = assignment, course, solution, grades(course, assignment), run, result.stdout
        return cache[assignment]

    return run_for


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def graded(request, class_runs):
    return class_runs(request.param)


@pytest.fixture(scope="module")
def hardened(class_runs):
    return class_runs(HARDENED)


@pytest.fixture(scope="module")
def graded_serially(root, tmp_path_factory, notebook_env):
    """Tutorial 01's demo class of five graded by nbgrader's own serial command."""
    course = make_course(root, tmp_path_factory.mktemp("serial"), HARDENED, demo_class(HARDENED))
    cell_grades, _ = grade(course, HARDENED, env=notebook_env, serial=True)
    return course, cell_grades


def test_every_submission_is_graded_on_every_cell(graded):
    assignment, _, solution, cell_grades, _, _ = graded
    expected = {notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)}
    assert set(cell_grades) == set(class_of(assignment)) - INVALID_IDS
    for student, cells in cell_grades.items():
        assert set(cells) == expected, student


def test_solution_gets_full_marks(graded):
    _, _, solution, cell_grades, _, _ = graded
    alice = cell_grades["alice"]
    assert sum(s for s, _ in alice.values()) == notebooks.total_points(solution) > 0
    assert all(score == maximum for score, maximum in alice.values())


def test_untouched_notebook_gets_zero(graded):
    _, _, _, cell_grades, _, _ = graded
    assert sum(score for score, _ in cell_grades["bob"].values()) == 0


@pytest.mark.parametrize("student", ["carol", "dave", "erin"])
def test_a_broken_submission_loses_what_it_breaks_and_only_that(graded, student):
    """carol passes the visible tests but not the hidden ones; dave's runaway loop is cut off by the
    cell time limit and later cells still run; erin's syntax error costs only its exercise."""
    assignment, _, _, cell_grades, _, _ = graded
    cells = cell_grades[student]
    zero, full = EXPECTED[assignment][student]
    full = [name for name in cells if name not in zero] if full is None else full
    assert [cells[name][0] for name in zero] == [0] * len(zero), f"{student} should score 0 on {zero}"
    assert [cells[name][0] for name in full] == [cells[name][1] for name in full], f"{student} keeps {full}"


def test_autograde_runs_the_notebook_at_the_grading_scale(graded):
    """nbgrader_config.py makes `nbgrader autograde` set COURSE_SCALE=grading; the notebook prints its scale."""
    assignment, course, _, _, _, _ = graded
    autograded = notebooks.read(course / "grading" / "autograded" / "alice" / assignment / f"{assignment}.ipynb")
    printed = "".join(o.get("text", "") for c in autograded.cells if c.cell_type == "code" for o in c.outputs)
    assert "scale: grading" in printed


def test_feedback_and_export_hide_hidden_tests(graded, root):
    """No line of a hidden test in anyone's feedback, even a student's whose code printed every cell's source
    (eve) or whose own comments hold the hidden tests' markers (olivia)."""
    assignment, course, solution, _, run, _ = graded
    release = "\n".join(cell.source for cell in notebooks.read(notebooks.release_path(root, assignment)).cells)
    hidden_lines = {
        line.strip()
        for cell in notebooks.graded_cells(solution)
        for block in re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S)
        for line in block.splitlines()
        if len(line.strip()) > 25 and not line.strip().startswith("#") and line.strip() not in release
    }
    assert len(hidden_lines) > 10
    for student in class_of(assignment):
        if student in {**run["invalid"], **run["invalid_ids"]} or student in FLAGGED_BEFORE_RUN:
            assert not (course / "grading" / "feedback" / student).exists()  # not run: the run report says why
            continue
        page = (course / "grading" / "feedback" / student / assignment / f"{assignment}.html").read_text()
        submitted = (course / "grading" / "submitted" / student / assignment / f"{assignment}.ipynb").read_text()
        assert "HIDDEN TESTS" not in page or "HIDDEN TESTS" in submitted
        shown = [line for line in hidden_lines if html.escape(line) in page or line in page]
        assert not shown, f"{student}'s feedback shows hidden-test code: {shown[:3]}"
    exported = (course / "grading" / "grades.csv").read_text()
    assert all(student in exported for student in set(class_of(assignment)) - INVALID_IDS)
    assert "alice,carol" not in exported


def gradebook_rows(course, assignment, students):
    """Everything nbgrader's gradebook holds about the grading of ``students``, without timestamps."""
    from nbgrader.api import Gradebook

    rows = []
    with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gradebook:
        for student in students:
            submission = gradebook.find_submission(assignment, student)
            for notebook in submission.notebooks:
                rows += [("grade", student, g.name, g.auto_score, g.manual_score, g.extra_credit, g.needs_manual_grade)
                         for g in notebook.grades]
                rows += [("comment", student, c.name, c.auto_comment, c.manual_comment) for c in notebook.comments]
    return sorted(rows, key=repr)


def test_nothing_a_student_wrote_runs_in_their_feedback_page(hardened):
    """xavier's output (HTML, JavaScript and SVG with scripts) and raw HTML in a markdown cell show as text in the
    feedback page: no script, event attribute, style sheet or javascript: link of theirs is left in it."""
    assignment, course, _, cell_grades, _, _ = hardened
    page = (course / "grading" / "feedback" / "xavier" / assignment / f"{assignment}.html").read_text()
    assert "xss-" in page, "the feedback shows xavier's cells"
    active = [pattern for pattern in (r"<script[^>]*>[^<]*xss-", r"<[a-z]+[^>]*\sonerror\s*=", r"href=[\"']?javascript:",
                                      r"<style>\.score \{ display: none \}", r"<svg[^>]*>\s*<script")
              if re.search(pattern, page, flags=re.IGNORECASE)]
    assert not active, f"xavier's feedback page holds active content: {active}"
    assert "&lt;script&gt;document.title = 'xss-md'" in page or "&lt;script>document.title = 'xss-md'" in page
    assert all(score == points for score, points in cell_grades["xavier"].values())


def feedback_content(course, assignment, student):
    """The feedback page's text (tags, timestamps and printed durations removed) and its images."""
    page = (course / "grading" / "feedback" / student / assignment / f"{assignment}.html").read_text()
    images = re.findall(r"data:image/png;base64,([^\"']+)", page)
    text = re.sub(r"<style.*?</style>|<script.*?</script>", "", page, flags=re.S)
    text = re.sub(r"\d{4}-\d\d-\d\d[ T][\d:.]+", "TIME", re.sub(r"<[^>]+>", " ", text))
    text = re.sub(r"\b\d+(\.\d+)?\s*(s|ms|min)\b", "DURATION", text)  # wall-clock times the notebook prints
    return " ".join(text.split()), images


def test_parallel_grading_equals_serial_nbgrader(hardened, graded_serially):
    """Same scores per cell, same gradebook, same feedback (text and figures) as `nbgrader autograde`."""
    assignment, course, _, cell_grades, _, _ = hardened
    serial_course, serial_grades = graded_serially
    students = sorted(demo_class(assignment))
    assert {s: cell_grades[s] for s in students} == serial_grades
    assert gradebook_rows(course, assignment, students) == gradebook_rows(serial_course, assignment, students)
    for student in students:
        text, images = feedback_content(course, assignment, student)
        serial_text, serial_images = feedback_content(serial_course, assignment, student)
        assert text == serial_text, student
        assert images == serial_images and images, student


def test_attacks_on_the_grader_cost_only_what_they_break(hardened):
    """Memory bomb, deleted and moved grade cells, invalid JSON: each scores 0 on the cells it breaks and full
    marks elsewhere; a kernel that kills itself costs the tests after it; writes into the course reach nothing
    and cost nothing (judy's answers are perfect); the attacks on the tests earn nothing; the class run goes on."""
    _, _, solution, cell_grades, run, _ = hardened
    expectations = {**hardening_expectations(solution, HARDENED in GRADED_BY_THE_GRADER), **attack_expectations(solution)}
    for student, zero in ((s, z) for s, z in expectations.items() if s in class_of(HARDENED)):
        cells = cell_grades[student]
        zero = list(cells) if zero is None else zero
        assert zero or student in ("olivia", "niaj", "pat", "judy", "xavier")  # full marks expected
        assert {name: cells[name][0] for name in zero} == dict.fromkeys(zero, 0.0), student
        assert all(cells[name][0] == cells[name][1] for name in cells if name not in zero), student
    assert set(HARDENING_CLASS) - INVALID_IDS <= set(cell_grades)
    assert list(run["invalid"]) == ["mallory"] and "not a valid notebook" in run["invalid"]["mallory"]
    assert run["failed"] == {} and run["feedback_failed"] == {}


def test_attacks_beside_checks_decided_by_the_grader_earn_nothing(class_runs):
    """Tutorial 04's grade cells run in the grader's process: a tracer, patched comparisons, a hidden run_cell
    wrapper, lying array and tensor subclasses with a forward hook, a peek for the notebook and its
    ``expected``, a replaced probe server answering with pickles: each scores 0 on every cell, by the checks
    themselves (the tamper scan's findings only ask for a look: scores stand, nothing is zeroed by it), and
    the kernel saw no test: no notebook in its folder, no grade cell run in it."""
    assert BY_THE_GRADER in GRADED_BY_THE_GRADER
    assignment, course, solution, cell_grades, run, _ = class_runs(BY_THE_GRADER)
    for student in GRADER_SIDE_ATTACKS:
        assert {name: score for name, (score, _) in cell_grades[student].items()} == dict.fromkeys(cell_grades[student], 0.0), student
    assert not set(run["flagged"]) & set(GRADER_SIDE_ATTACKS), "the scan zeroes nothing where the grader decides"
    assert {"yusuf", "quinn", "tess"} <= set(run["review"])
    assert sum(score for score, _ in cell_grades["alice"].values()) == notebooks.total_points(solution)
    peeker = notebooks.read(course / "grading" / "autograded" / "sam" / assignment / f"{assignment}.ipynb")
    printed = "".join(o.get("text", "") for c in peeker.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "notebooks here: []" in printed
    alice = notebooks.read(course / "grading" / "autograded" / "alice" / assignment / f"{assignment}.ipynb")
    tests = list(notebooks.graded_cells(alice))
    assert tests and all(cell.execution_count is None and not cell.outputs for cell in tests)


def test_what_the_scan_finds_asks_for_a_look_and_the_scores_stand(hardened, course_gradebook):
    """Tutorial 01's grades are decided in the grader's process: every attack on the tests that the tamper scan
    finds is listed to look at, with its reasons in the run log and the command's output, and needs a manual grade
    in the gradebook, its automatic scores as the checks gave them (0 for the attacks: their answers are the
    untouched notebook's). Only uma, not run, is flagged and zeroed; nothing else needs a manual grade."""
    _, _, _, cell_grades, run, stdout = hardened
    needs_sandbox()
    assert HARDENED in GRADED_BY_THE_GRADER
    assert set(run["flagged"]) == FLAGGED_BEFORE_RUN and set(run["review"]) == FLAGGED
    assert set(ATTACK_CLASS) <= set(cell_grades)
    assert any("get_ipython" in reason for reason in run["review"]["eve"])
    for student in FLAGGED_BEFORE_RUN:
        assert f"{student}: flagged" in stdout
        assert all(auto == 0 and needs for auto, needs in course_gradebook(student)), student
    for student in FLAGGED:
        assert f"{student}: to look at (scores kept)" in stdout
        assert all(needs for _, needs in course_gradebook(student)), student
        assert [auto for auto, _ in course_gradebook(student)] == [score for score, _ in cell_grades[student].values()]
    for student in set(cell_grades) - FLAGGED - FLAGGED_BEFORE_RUN - {"heidi"}:  # heidi: nbgrader's, a deleted cell
        assert not any(needs for _, needs in course_gradebook(student)), student


def test_what_nbgrader_cannot_take_stops_no_one(hardened, course_gradebook):
    """Cell metadata nbgrader stops a whole class at (niaj's pasted test cells, pat's other schema version) is made
    the release's before the run: both keep their full marks, with a note, unflagged. uma's 20 000 cells are not
    run: 0, flagged. The folders `alice,carol` and `*` are no student ids: never graded, reported; alice and carol
    (whom nbgrader's comma-separated lists would have named) are graded as ever."""
    assignment, course, solution, cell_grades, run, stdout = hardened
    for student in ("niaj", "pat"):
        assert all(score == maximum for score, maximum in cell_grades[student].values()), student
        assert student not in run["flagged"] and not any(needs for _, needs in course_gradebook(student)), student
        assert f"{student}: cell metadata made the release's" in stdout
    assert sum("pasted copy" in note for note in run["normalised"]["niaj"]) == 2
    assert any("metadata of" in note and "restored" in note for note in run["normalised"]["pat"])
    executed = notebooks.read(course / "grading" / "autograded" / "niaj" / assignment / f"{assignment}.ipynb")
    carried = [notebooks.nbgrader_meta(c)["grade_id"] for c in executed.cells if notebooks.nbgrader_meta(c)]
    assert len(carried) == len(set(carried)) == len(notebooks.answer_ids(solution)) + len(cell_grades["niaj"])
    assert len(executed.cells) == len(solution.cells) + 2  # the two pasted copies, run as niaj's own cells

    assert "cells, more than the 2000 graded automatically" in run["flagged"]["uma"][0]
    assert not (course / "grading" / "autograded" / "uma").exists() and "uma" not in run["normalised"]
    assert sum(score for score, _ in cell_grades["uma"].values()) == 0

    assert set(run["invalid_ids"]) == INVALID_IDS
    for folder in INVALID_IDS:
        assert "not a valid student id" in run["invalid_ids"][folder] and f"{folder}: not graded" in stdout
        assert not (course / "grading" / "autograded" / folder).exists()
        assert not (course / "grading" / "feedback" / folder).exists()
    assert cell_grades["alice"] and cell_grades["carol"] and not INVALID_IDS & set(cell_grades)
    assert run["failed"] == {}


@pytest.fixture(scope="module")
def course_gradebook(hardened):
    """Per student of tutorial 01's class: (automatic score, needs a manual grade) of each code grade cell."""
    from nbgrader.api import Gradebook

    assignment, course, _, _, _, _ = hardened

    def rows(student):
        with Gradebook(f"sqlite:///{course / 'grading' / 'gradebook.db'}") as gradebook:
            submission = gradebook.find_submission(assignment, student)
            return [(g.auto_score, g.needs_manual_grade) for nb in submission.notebooks for g in nb.grades
                    if g.cell.cell_type == "code"]

    return rows


def printed(course, assignment: str, student: str, marker: str) -> str:
    """What the cell of ``student``'s autograded notebook whose source holds ``marker`` printed."""
    notebook = notebooks.read(course / "grading" / "autograded" / student / assignment / f"{assignment}.ipynb")
    cell = next(c for c in notebook.cells if c.cell_type == "code" and marker in c.source)
    return "".join(o.get("text", "") for o in cell.outputs)


def test_the_kernel_sandbox_stops_what_the_scan_does_not_flag(hardened):
    """Run in a kernel of their own, the attacks find nothing, reach nothing and fill nothing of the grader's:
    no solution, gradebook or other submission is visible, nothing of other students can be overwritten
    (alice, graded beside them, keeps full marks), no connection leaves the kernel, processes and scratch
    space stop at their limits."""
    assignment, course, solution, cell_grades, run, _ = hardened
    needs_sandbox()
    assert "isolated" in run["isolation"] and "NOT" not in run["isolation"]
    assert printed(course, assignment, "trudy", "stolen") == "found 0 solution cells, 0 gradebooks, 0 submissions, 0 probe keys\n"
    assert printed(course, assignment, "victor", "overwrote") == "overwrote 0 files of others\n"
    assert sum(score for score, _ in cell_grades["alice"].values()) == notebooks.total_points(solution)
    assert printed(course, assignment, "wendy", "socket").endswith("reached 0 hosts\n") and REACHED == []
    assert 0 < int(printed(course, assignment, "rupert", "os.fork").split()[1]) < Limits().tasks
    filled = eval(printed(course, assignment, "sybil", "filler").split(":", 1)[1])
    assert max(filled.values()) <= max(Limits().tmp_mb, Limits().work_mb) and min(filled.values()) > 0


def test_writes_into_the_course_reach_nothing_and_the_course_stays_whole(hardened, root):
    """judy writes by relative path where a course keeps its gradebook, config and solutions: in its sandbox there
    is nothing there; the class's own files are untouched."""
    assignment, course, _, _, run, stdout = hardened
    needs_sandbox()
    assert run["tampered"] == {} and run["restored"] == []
    assert any("files outside the working folder" in reason for reason in run["review"]["judy"])
    for name in ("nbgrader_config.py", f"solutions/{assignment}/{assignment}.ipynb"):
        assert hashlib.sha256((course / name).read_bytes()).digest() == hashlib.sha256((root / name).read_bytes()).digest()
    with sqlite3.connect(course / "grading" / "gradebook.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert "judy: to look at (scores kept)" in stdout and "mallory: not a valid notebook" in stdout


def test_instructor_report(hardened, root, notebook_env):
    """`make report` on the graded class: per-cell and per-exercise tables, the failures, totals, a figure."""
    import pandas as pd

    assignment, course, solution, cell_grades, _, _ = hardened
    result = subprocess.run(["make", "-s", "report", f"COURSE_DIR={course}", f"A={assignment}"], cwd=root,
                            env=notebook_env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = course / "grading" / "reports"
    cells = pd.read_csv(folder / f"{assignment}_cells.csv").set_index("grade_cell")
    assert list(cells.index) == [notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)]
    for name, row in cells.iterrows():
        scores = [grades_[name][0] for grades_ in cell_grades.values()]
        assert row.mean_score == pytest.approx(sum(scores) / len(scores), abs=1e-3)
        assert row.full_marks_fraction == pytest.approx(
            sum(s == row.points for s in scores) / len(scores), abs=1e-3)
    assert "NotImplementedError" in cells.loc["test_vblinear_forward", "top_failures"]  # bob's untouched notebook
    assert "NameError" in cells.loc["test_get_prediction_shapes", "top_failures"]  # erin, frank
    exercises = pd.read_csv(folder / f"{assignment}_exercises.csv")
    assert exercises.points.sum() == notebooks.total_points(solution)
    totals = pd.read_csv(folder / "students.csv").set_index("student")[assignment]
    assert totals.to_dict() == {s: sum(v for v, _ in c.values()) for s, c in cell_grades.items()}
    figure = (folder / f"{assignment}.png").read_bytes()
    assert figure.startswith(b"\x89PNG") and len(figure) > 20_000
    assert "get_prediction" in result.stdout and "mean total" in result.stdout
    flagged = pd.read_csv(folder / f"{assignment}_flagged.csv").set_index("student")
    assert set(flagged.index) == FLAGGED_BEFORE_RUN & set(cell_grades) and "cells" in flagged.loc["uma", "reasons"]
    to_review = pd.read_csv(folder / f"{assignment}_review.csv").set_index("student")
    assert set(to_review.index) == FLAGGED & set(cell_grades) and "os.kill" in to_review.loc["grace", "reasons"]
    assert "uma: flagged for a manual grade" in result.stdout and "grace: to look at (scores kept)" in result.stdout
