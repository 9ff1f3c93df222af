"""What nbgrader cannot take never stops a class run (no kernel runs here).

A notebook with cell metadata nbgrader rejects (a pasted test cell, another ``schema_version``, flags or cell types
a student changed) gets the release's metadata before anything runs it (``normalise.normalise_cells``); one with
too many cells is not run (``class_grading.crowded_notebook``); a folder of ``grading/submitted`` that is not a
student id is never graded (``class_grading.invalid_student_id``); a replay nbgrader stops for all is run per
student (``class_grading._replay``). The class run of these cases is in ``tests/test_autograde.py`` (niaj, pat,
uma and the folders ``alice,carol`` and ``*``).
"""
from __future__ import annotations

import copy
import time

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator
from nbgrader.preprocessors import CheckCellMetadata, DeduplicateIds

from conftest import ASSIGNMENTS
from course_utils.instructor import class_grading, notebooks
from course_utils.instructor.normalise import MAX_CELLS, cell_limit, instructor_cells, normalise_cells
from course_utils.instructor.submission_run import RunSnapshot, SubmissionResult
from course_utils.instructor.submissions import ATTACK_CLASS, DEMO_CLASSES, HARDENING_CLASS, MANY_CELLS, perfect


def nbgrader_takes(notebook) -> bool:
    """Whether nbgrader's sanitising steps that judge cell metadata (those that stopped whole class runs) pass."""
    try:
        checked, _ = DeduplicateIds().preprocess(copy.deepcopy(notebook), {})
        CheckCellMetadata().preprocess(checked, {})
        MetadataValidator().validate_nb(checked)
    except Exception:
        return False
    return True


def assert_as_released(notebook, release):
    """Each instructor cell's grade id on exactly one cell, with the release's metadata and cell type."""
    carried = [notebooks.nbgrader_meta(c).get("grade_id") for c in notebook.cells if "nbgrader" in c.metadata]
    assert sorted(carried) == sorted(instructor_cells(release))
    for cell in notebook.cells:
        if "nbgrader" in cell.metadata:
            original = instructor_cells(release)[cell.metadata.nbgrader["grade_id"]]
            assert cell.metadata.nbgrader == original.metadata.nbgrader and cell.cell_type == original.cell_type
    assert nbgrader_takes(notebook)


@pytest.fixture(scope="module", params=ASSIGNMENTS)
def assignment(request, root):
    release = notebooks.read(notebooks.release_path(root, request.param))
    solution = notebooks.read(notebooks.solution_path(root, request.param))
    return request.param, release, solution


def test_honest_submissions_are_left_as_they_are(assignment):
    """Every demo student but those this file is about: nothing to change, no note (the file is not rewritten)."""
    name, release, solution = assignment
    for student, (_, make) in {**DEMO_CLASSES[name], **HARDENING_CLASS, **ATTACK_CLASS}.items():
        if student in ("niaj", "pat", "uma"):  # uma: its 20 000 cells, below
            continue
        submission = make(release, solution)
        if isinstance(submission, str):
            continue
        before = copy.deepcopy(submission)
        assert normalise_cells(submission, release) == [], student
        assert submission == before, student


def test_pasted_test_cells_become_ordinary_cells_and_the_originals_stay(assignment):
    """niaj pastes a test cell below itself and another at the top: nbgrader stops (for the whole class) at the
    second cell with a grade id; normalised, the originals keep their ids and the copies are plain code cells."""
    _, release, solution = assignment
    submission = HARDENING_CLASS["niaj"][1](release, solution)
    tests = list(notebooks.graded_cells(perfect(release, solution)))
    assert not nbgrader_takes(submission)
    notes = normalise_cells(submission, release)
    assert len(notes) == 2 and all("pasted copy" in note for note in notes)
    assert_as_released(submission, release)
    for test, original in ((tests[0], 0), (tests[-1], 1)):  # pasted below the first, above the last
        copies = [i for i, c in enumerate(submission.cells) if c.source == test.source]
        assert len(copies) == 2 and all(submission.cells[i].cell_type == "code" for i in copies)
        assert [i for i in copies if "nbgrader" in submission.cells[i].metadata] == [copies[original]]


def test_a_copy_pasted_above_its_answer_is_not_the_graded_one(assignment):
    """The cell that keeps a grade id is the first after the previous instructor cell: the original, wherever the
    copy is pasted."""
    _, release, solution = assignment
    submission = perfect(release, solution)
    last_test = list(notebooks.graded_cells(submission))[-1]
    submission.cells.insert(1, copy.deepcopy(last_test))
    normalise_cells(submission, release)
    assert "nbgrader" not in submission.cells[1].metadata
    assert "nbgrader" in submission.cells[submission.cells.index(last_test, 2)].metadata
    assert_as_released(submission, release)


@pytest.mark.parametrize("change", ["schema_version 1", "schema_version 4", "not graded", "points", "unlocked",
                                    "extra key", "markdown", "metadata not a mapping", "foreign id",
                                    "id of no cell", "solution flag on a test", "empty"])
def test_altered_metadata_is_the_release_s_again(assignment, change):
    """Whatever a student writes in nbgrader's cell metadata, the instructor cells get the release's back and other
    cells lose theirs; nbgrader then takes the notebook."""
    _, release, solution = assignment
    submission = perfect(release, solution)
    test = next(notebooks.graded_cells(submission))
    student_cell = nbformat.v4.new_code_cell("x = 1")
    submission.cells.insert(2, student_cell)
    meta = test.metadata.nbgrader
    if change == "schema_version 1":
        meta["schema_version"] = 1
    elif change == "schema_version 4":
        meta["schema_version"] = 4
    elif change == "not graded":
        meta["grade"] = False
    elif change == "points":
        meta["points"] = 1000
    elif change == "unlocked":
        meta["locked"] = False
    elif change == "extra key":
        meta["mine"] = "x"
    elif change == "markdown":
        test.cell_type = "markdown"
        del test["outputs"], test["execution_count"]
    elif change == "metadata not a mapping":
        student_cell["metadata"] = ["x"]
    elif change == "foreign id":
        student_cell.metadata["nbgrader"] = {"grade": True, "grade_id": "mine", "points": 50, "solution": False,
                                             "locked": True, "schema_version": 3}
    elif change == "id of no cell":
        student_cell.metadata["nbgrader"] = 7
    elif change == "solution flag on a test":
        meta["solution"] = True
    elif change == "empty":
        test.metadata["nbgrader"] = {"grade_id": meta["grade_id"]}
    notes = normalise_cells(submission, release)
    assert notes
    assert_as_released(submission, release)
    assert submission.cells[2].source == "x = 1" and "nbgrader" not in submission.cells[2].metadata


def test_a_notebook_with_too_many_cells_is_not_run_and_is_found_quickly(tmp_path, root):
    """uma's 20 000 markdown cells: counted from the JSON (under a second), reported, never read cell by cell."""
    name = f"{ASSIGNMENTS[0]}.ipynb"
    release = notebooks.read(notebooks.release_path(root, ASSIGNMENTS[0]))
    solution = notebooks.read(notebooks.solution_path(root, ASSIGNMENTS[0]))
    limits = {name: cell_limit(release)}
    assert MAX_CELLS <= limits[name] < MANY_CELLS and len(release.cells) * 5 < MAX_CELLS
    notebooks.write(HARDENING_CLASS["uma"][1](release, solution), tmp_path / "uma" / name)
    notebooks.write(perfect(release, solution), tmp_path / "alice" / name)
    (tmp_path / "mallory").mkdir()
    (tmp_path / "mallory" / name).write_text('{"cells": [')
    start = time.perf_counter()
    reason = class_grading.crowded_notebook(tmp_path / "uma", limits)
    assert time.perf_counter() - start < 2
    assert f"has {len(release.cells) + MANY_CELLS} cells, more than the {MAX_CELLS}" in reason
    assert class_grading.crowded_notebook(tmp_path / "alice", limits) == ""
    assert class_grading.crowded_notebook(tmp_path / "mallory", limits) == ""  # not JSON: unreadable_notebook's
    assert class_grading.crowded_notebook(tmp_path / "nobody", limits) == ""


VALID_IDS = ["alice", "s1234567", "jean-luc.picard", "o_brien", "A" * 32]
INVALID_IDS = ["a,b", "*", "alice*", "?", "[ab]", "{a,b}", " alice", "alice ", "a b", ".hidden", "..", "-rf", "--force",
               "a/b", "a+b", "a;b", "élodie", "A" * 33, "", "a\nb"]


def test_only_student_ids_are_graded(tmp_path):
    """A folder name with a separator, glob, space, path part or leading '.'/'-' is no student id (collect's
    rule): left out of submitted_students, so never on nbgrader's command line nor graded."""
    assert all(class_grading.invalid_student_id(name) == "" for name in VALID_IDS)
    assert all("not a valid student id" in class_grading.invalid_student_id(name) for name in INVALID_IDS)
    folders = [n for n in INVALID_IDS if n and "/" not in n and n != ".."]  # the others cannot be folder names
    for name in VALID_IDS + folders:
        (tmp_path / "grading" / "submitted" / name / "A1").mkdir(parents=True)
    assert class_grading.submitted_students(tmp_path, "A1") == sorted(VALID_IDS)
    assert class_grading.submission_folders(tmp_path, "A1") == sorted(VALID_IDS + folders)
    run = class_grading.ClassRun("A1", VALID_IDS, 1, invalid_ids={"a\nb": "not a valid student id"})
    assert run.notes() == ["'a\\nb': not graded: not a valid student id"]


def _snapshot(tmp_path, root, students: dict) -> RunSnapshot:
    """A run snapshot of tutorial 01 (source, release, ``students``' notebooks: name -> notebook or text)."""
    assignment = ASSIGNMENTS[0]
    snapshot = RunSnapshot(tmp_path, assignment, tmp_path / "data", {}, "none")
    release = notebooks.read(notebooks.release_path(root, assignment))
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    notebooks.write(solution, snapshot.source / f"{assignment}.ipynb")
    notebooks.write(release, snapshot.release / f"{assignment}.ipynb")
    for student, make in students.items():
        made = make(release, solution)
        path = snapshot.submission(student) / f"{assignment}.ipynb"
        if isinstance(made, str):
            path.parent.mkdir(parents=True)
            path.write_text(made)
        else:
            notebooks.write(made, path)
    return snapshot


def test_the_snapshot_holds_what_phase_one_and_the_replay_read(tmp_path, root):
    """normalise_submissions rewrites only what it changed; a notebook whose cells cannot be handled at all is
    refused for that student alone."""
    def broken_cells(release, solution):
        return nbformat.writes(perfect(release, solution)).replace('"cells": [', '"cells": [["not a cell"], ', 1)

    def byte_order_mark(release, solution):  # as some editors save a file
        return "\ufeff" + nbformat.writes(perfect(release, solution))

    makers = {"alice": perfect, "niaj": HARDENING_CLASS["niaj"][1], "pat": HARDENING_CLASS["pat"][1],
              "zed": broken_cells, "bom": byte_order_mark}
    snapshot = _snapshot(tmp_path, root, makers)
    alice = (snapshot.submission("alice") / f"{ASSIGNMENTS[0]}.ipynb").read_bytes()
    notes, refused = class_grading.normalise_submissions(snapshot, sorted(makers))
    assert class_grading.unreadable_notebook(snapshot.submission("bom"), [f"{ASSIGNMENTS[0]}.ipynb"]) == ""
    assert set(notes) == {"niaj", "pat", "bom"} and list(refused) == ["zed"]
    assert notes["bom"] == [f"{ASSIGNMENTS[0]}.ipynb: a byte order mark removed"]
    assert not (snapshot.submission("bom") / f"{ASSIGNMENTS[0]}.ipynb").read_bytes().startswith(b"\xef\xbb\xbf")
    assert "could not be prepared" in refused["zed"]
    assert (snapshot.submission("alice") / f"{ASSIGNMENTS[0]}.ipynb").read_bytes() == alice
    release = notebooks.read(snapshot.release / f"{ASSIGNMENTS[0]}.ipynb")
    for student in ("niaj", "pat"):
        assert_as_released(notebooks.read(snapshot.submission(student) / f"{ASSIGNMENTS[0]}.ipynb"), release)


def test_a_replay_nbgrader_stops_for_all_is_run_per_student(tmp_path, root, monkeypatch):
    """When the class's replay stops without naming a student, each student is replayed alone (nbgrader's own
    submitted_directory: the snapshot's submissions, none of an invalid id); the one nbgrader cannot grade is
    flagged with the reason, the others graded."""
    snapshot = _snapshot(tmp_path, root, {"alice": perfect, "bob": perfect, "carol": perfect})
    calls = []

    def nbgrader(course_dir, *arguments, env=None):
        calls.append(arguments)
        if "--student" not in arguments:
            raise RuntimeError("autograde failed:\nnbgrader.nbgraderformat.common.SchemaTooOldError: old")
        if arguments[-1] == "bob":
            raise RuntimeError("autograde failed:\njsonschema.exceptions.ValidationError: bob's notebook\n"
                               "[AutogradeApp | ERROR] There was an error processing assignment 'A' for student 'bob'")

    monkeypatch.setattr(class_grading, "run_nbgrader", nbgrader)
    run = class_grading.ClassRun(ASSIGNMENTS[0], ["alice", "bob", "carol"], 1)
    results = {s: SubmissionResult(s) for s in ("alice", "bob", "carol")}
    class_grading._replay(tmp_path, ASSIGNMENTS[0], snapshot, results, run, None)
    assert [c[-1] for c in calls[1:]] == ["alice", "bob", "carol"]
    submitted = next(a for a in calls[0] if a.startswith("--CourseDirectory.submitted_directory="))
    folder = submitted.split("=", 1)[1]
    assert folder == str(tmp_path / "replay") and class_grading.PLAIN_PATH.fullmatch(folder)
    assert (tmp_path / "replay" / "alice" / ASSIGNMENTS[0] / f"{ASSIGNMENTS[0]}.ipynb").is_file()
    assert list(run.flagged) == ["bob"]
    assert run.flagged["bob"] == ["nbgrader could not grade the submission: jsonschema.exceptions.ValidationError: "
                                  "bob's notebook"]

    calls.clear()
    snapshot = _snapshot(tmp_path / "named", root, {"alice": perfect, "bob": perfect})

    def names_one(course_dir, *arguments, env=None):  # nbgrader went on with the others and names the one it failed
        calls.append(arguments)
        raise RuntimeError("ValueError: no\nThere was an error processing assignment 'A' for student 'bob'")

    monkeypatch.setattr(class_grading, "run_nbgrader", names_one)
    run = class_grading.ClassRun(ASSIGNMENTS[0], ["alice", "bob"], 1)
    class_grading._replay(tmp_path, ASSIGNMENTS[0], snapshot, {s: SubmissionResult(s) for s in ("alice", "bob")}, run,
                          None)
    assert [c[-1] for c in calls[1:]] == ["bob"] and run.flagged == {"bob": ["nbgrader could not grade the "
                                                                             "submission: ValueError: no"]}
