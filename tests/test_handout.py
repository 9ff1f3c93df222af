"""The handout (`make handout`): what a student receives holds no answers and runs on its own.

Built as the Makefile builds it (`python -m course_utils.instructor handout ... --in-order` from the course
root), then read file by file; the leak check is shown to catch a marker, the assignment's own solution and
a definition that earns points in another assignment not yet due. Tutorial 01's handout is then used
as a student uses it: its data command, its helper package, and nbgrader's Validate from its folder.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS
from course_utils.instructor import handout, notebooks
from course_utils.instructor.inprocess_grading import solution_answers
from course_utils.instructor.submissions import perfect

FIRST = "01_amplitude_regression"


@pytest.fixture(scope="module")
def handouts(root, tmp_path_factory):
    """Every assignment's handout, built as `make handout` builds them (in course order, each after the
    ones before are due), in a copy of the course; the command prints where each went."""
    course = tmp_path_factory.mktemp("course")
    shutil.copytree(root, course, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".venv", ".git", "build", "grading", "data", "*.zip"))
    (course / "data").mkdir()
    shutil.copy(root / "data" / "get_data.py", course / "data" / "get_data.py")
    done = subprocess.run([sys.executable, "-m", "course_utils.instructor", "handout", *ASSIGNMENTS, "--in-order"],
                          cwd=course, capture_output=True, text=True, env={**os.environ, "COURSE_ROOT": str(course)})
    assert done.returncode == 0, done.stderr
    for assignment in ASSIGNMENTS:
        assert f"build/handout/{assignment}.zip" in done.stdout
        assert (course / "build" / "handout" / f"{assignment}.zip").is_file()
    return course / "build" / "handout"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_handout_holds_the_student_notebook_and_no_instructor_material(root, handouts, assignment):
    folder = handouts / assignment
    student = notebooks.read(folder / assignment / f"{assignment}.ipynb")
    assert student.cells == notebooks.read(notebooks.release_path(root, assignment)).cells
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert not any(f.startswith(("solutions/", "tests/", "grading/", "course_utils/instructor/")) for f in files)
    assert not any(f.endswith("expected_metrics.json") for f in files)
    assert {"README.md", "environment.yml", "pyproject.toml", "nbgrader_config.py", "data/get_data.py"} <= files
    for path, text in handout.handout_text(folder).items():
        for marker in handout.MARKERS:
            assert marker not in text, f"{path} holds {marker!r}"
    assert handout.leaks(root, assignment, folder, due=tuple(ASSIGNMENTS[:ASSIGNMENTS.index(assignment)])) == []
    environment = (folder / "environment.yml").read_text() + (folder / "pyproject.toml").read_text()
    assert "pytest" not in environment and "nbval" not in environment and "torch==2.13.0" in environment


def test_a_handout_carries_only_the_modules_its_notebook_and_data_command_import(handouts):
    modules = {p.relative_to(handouts / FIRST).as_posix() for p in (handouts / FIRST / "course_utils").rglob("*.py")}
    assert "course_utils/datasets/amplitude_regression.py" in modules
    assert "course_utils/datasets/toptagging.py" not in modules and "course_utils/physics/jet_generation.py" not in modules
    assert "course_utils/datasets/digits.py" not in modules


def test_the_leak_check_catches_markers_solutions_and_answers_to_other_assignments(root, handouts, tmp_path):
    clean = tmp_path / "clean"
    shutil.copytree(handouts / "02_mnist_bayes_by_backprop", clean)
    assert handout.leaks(root, "02_mnist_bayes_by_backprop", clean, due=(FIRST,)) == []

    marked = tmp_path / "marked"
    shutil.copytree(clean, marked)
    (marked / "notes.md").write_text("### BEGIN HIDDEN TESTS\n")
    assert any("BEGIN HIDDEN TESTS" in p for p in handout.leaks(root, "02_mnist_bayes_by_backprop", marked, due=(FIRST,)))

    own = tmp_path / "own"
    shutil.copytree(clean, own)
    shutil.copy(notebooks.solution_path(root, "02_mnist_bayes_by_backprop"), own / "copy.ipynb")
    assert any("solution to 02_mnist_bayes_by_backprop" in p for p in handout.leaks(root, "02_mnist_bayes_by_backprop", own))

    # tutorial 01's layer, written differently enough that no line is copied, handed out with tutorial 02
    borrowed = tmp_path / "borrowed"
    shutil.copytree(clean, borrowed)
    layer = solution_answers(notebooks.read(notebooks.solution_path(root, FIRST)))["vblinear"]
    (borrowed / "course_utils" / "layers.py").write_text("import math\nimport torch\nfrom torch import nn\n"
                                                         "from torch.nn import functional as F\n\n\n" + layer)
    problems = handout.leaks(root, "02_mnist_bayes_by_backprop", borrowed)
    assert any("earn points in 01_amplitude_regression" in p for p in problems), problems
    assert not any("earn points" in p for p in handout.leaks(root, "02_mnist_bayes_by_backprop", borrowed, due=(FIRST,)))


def test_nothing_is_written_when_the_check_fails(root, tmp_path, monkeypatch):
    monkeypatch.setattr(handout, "leaks", lambda *args, **kwargs: ["a planted problem"])
    with pytest.raises(handout.HandoutLeak, match="a planted problem"):
        handout.build_handout(root, FIRST, tmp_path / "out")
    assert not (tmp_path / "out" / FIRST).exists() and not (tmp_path / "out" / f"{FIRST}.zip").exists()


def _student_env(folder: Path, data_dir: Path) -> dict[str, str]:
    """A student's environment: the handout's own helper package first, the offline data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    env.update(PYTHONPATH=str(folder), COURSE_DATA_DIR=str(data_dir), COURSE_SCALE="grading", PYTHONHASHSEED="0",
               MPLBACKEND="Agg")
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def test_the_data_command_of_a_handout_serves_its_dataset_and_names_the_others(handouts, tmp_path):
    folder = handouts / FIRST
    env = {**_student_env(folder, tmp_path), "PYTHONPATH": ""}
    done = subprocess.run([sys.executable, "data/get_data.py", "1", str(tmp_path / "data"), "--offline", "--quiet"],
                          cwd=folder, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "tutorial-2-data" / "SOURCE.json").is_file()
    other = subprocess.run([sys.executable, "data/get_data.py", "2", str(tmp_path / "data"), "--offline"],
                           cwd=folder, capture_output=True, text=True, env=env)
    assert other.returncode == 2 and "not part of this copy of the course" in other.stderr


@pytest.mark.slow
def test_a_handout_runs_and_validates_on_its_own(root, handouts, offline_data_dir, tmp_path):
    """From the handout's folder, with its own helper package: a perfect notebook passes Validate, the
    untouched one fails it."""
    folder = tmp_path / FIRST
    shutil.copytree(handouts / FIRST, folder)
    env = _student_env(folder, offline_data_dir)
    where = subprocess.run([sys.executable, "-c", "import course_utils, sys; print(course_utils.__file__)"],
                           cwd=folder / FIRST, capture_output=True, text=True, env=env)
    assert Path(where.stdout.strip()).is_relative_to(folder), where.stdout + where.stderr
    release = notebooks.read(folder / FIRST / f"{FIRST}.ipynb")
    solution = notebooks.read(notebooks.solution_path(root, FIRST))
    notebooks.write(perfect(release, solution), folder / FIRST / "perfect.ipynb")
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    passed = subprocess.run([nbgrader, "validate", f"{FIRST}/perfect.ipynb"], cwd=folder, capture_output=True,
                            text=True, env=env)
    assert "Success! Your notebook passes all the tests." in passed.stdout, passed.stdout[-3000:] + passed.stderr[-3000:]
    failed = subprocess.run([nbgrader, "validate", f"{FIRST}/{FIRST}.ipynb"], cwd=folder, capture_output=True,
                            text=True, env=env)
    assert "VALIDATION FAILED" in failed.stdout and "NotImplementedError" in failed.stdout, failed.stdout[-3000:]
