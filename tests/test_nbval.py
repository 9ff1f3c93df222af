"""nbval re-runs the solution notebooks and compares every stored output (CI scale)."""
import subprocess
import sys

import pytest

from course_utils.instructor import notebooks

pytestmark = pytest.mark.slow
ASSIGNMENTS = ["01_amplitude_regression"]


def run_nbval(path, root, env):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", str(root / "tests" / "nbval_sanitize.cfg"), str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_reproduces_its_stored_outputs(root, notebook_env, assignment):
    result = run_nbval(notebooks.solution_path(root, assignment), root, notebook_env)
    assert result.returncode == 0, result.stdout[-5000:]


def test_nbval_fails_when_a_stored_output_changes(root, notebook_env, tmp_path):
    """The check above can fail: the first cells of a solution, with one stored number altered."""
    solution = notebooks.read(notebooks.solution_path(root, ASSIGNMENTS[0]))
    data_cell = next(i for i, c in enumerate(solution.cells) if "amplitude_regression.load" in c.source)
    solution.cells = solution.cells[: data_cell + 1]
    intact = tmp_path / "intact.ipynb"
    notebooks.write(solution, intact)
    assert run_nbval(intact, root, notebook_env).returncode == 0

    stream = next(o for o in solution.cells[data_cell].outputs if o.output_type == "stream")
    assert "(30000, 5, 4)" in stream.text
    stream.text = stream.text.replace("(30000, 5, 4)", "(30000, 5, 3)", 1)
    altered = tmp_path / "altered.ipynb"
    notebooks.write(solution, altered)
    result = run_nbval(altered, root, notebook_env)
    assert result.returncode != 0
    assert "Cell outputs differ" in result.stdout and "5, 3)" in result.stdout
