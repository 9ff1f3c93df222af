"""nbval re-runs the solution notebooks on another CPU path than the one that stored their outputs.

The rule (README, maintainer notes): nbval compares exactly what is the same on every x86-64
machine (data summaries, preprocessing constants, shapes, settings, demos on untrained layers).
Cells whose outputs come out of float32 training carry the tag ``nbval-ignore-output``; their
numbers are checked against the ranges in ``solutions/<A>/expected_metrics.json`` instead.
Running under a different ``ATEN_CPU_CAPABILITY`` changes the float32 training path on this very
machine, as another CPU type would: a training number that slipped into a compared output fails.
"""
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ASSIGNMENTS
from course_utils.instructor import notebooks
from course_utils.instructor.expectations import expected_ranges, out_of_range
from course_utils.notebook.metrics import METRICS_FILE_ENV

pytestmark = pytest.mark.slow


def run_nbval(path, root, env):
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
               "--nbval-sanitize-with", str(root / "tests" / "nbval_sanitize.cfg"), str(path)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)


def other_capability(stored: str) -> dict[str, str]:
    """ATEN_CPU_CAPABILITY for a re-run that takes another float32 path than ``stored``."""
    return {"ATEN_CPU_CAPABILITY": "default" if stored.upper() != "DEFAULT" else "avx2"}


#: solutions re-run at once: each notebook sets its own thread count, so its numbers do not change, and two
#: notebooks side by side keep both cores busy (on two cores the four took 307 s instead of 446 s one by one)
NBVAL_AT_ONCE = 2


@pytest.fixture(scope="module")
def nbval_runs(root, notebook_env, tmp_path_factory) -> dict:
    """Every solution re-run by nbval on the other CPU path (two at a time): assignment -> (result, metrics file)."""
    def rerun(assignment: str):
        path = notebooks.solution_path(root, assignment)
        stored = notebooks.read(path).metadata.get("course", {}).get("outputs_cpu_capability")
        assert stored, "run `make outputs`: it records the CPU capability the outputs were made with"
        metrics_file = tmp_path_factory.mktemp(f"nbval-{assignment}") / "metrics.json"
        env = {**notebook_env, **other_capability(stored), METRICS_FILE_ENV: str(metrics_file)}
        return run_nbval(path, root, env), metrics_file

    longest_first = sorted(ASSIGNMENTS, key=lambda a: a != "03_jet_bayesian_cnn")
    with ThreadPoolExecutor(NBVAL_AT_ONCE) as pool:
        return dict(zip(longest_first, pool.map(rerun, longest_first)))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_reproduces_its_stored_outputs_on_another_cpu_path(root, nbval_runs, assignment):
    result, metrics_file = nbval_runs[assignment]
    assert result.returncode == 0, result.stdout[-5000:]

    metrics = json.loads(metrics_file.read_text())
    assert metrics["scale"] == "ci" and metrics["data_source"] == "offline"
    ranges = expected_ranges(root, assignment)["ci"]
    assert ranges, f"solutions/{assignment}/expected_metrics.json must give ranges for the CI scale"
    assert not out_of_range(metrics, ranges), out_of_range(metrics, ranges)


def test_other_capability_differs_from_the_stored_one():
    assert other_capability("AVX512") == other_capability("AVX2") == {"ATEN_CPU_CAPABILITY": "default"}
    assert other_capability("DEFAULT") == {"ATEN_CPU_CAPABILITY": "avx2"}


def test_metric_ranges_catch_broken_training():
    ranges = {"loss": (-1.0, -0.4), "width": (0.5, 1.0)}
    assert out_of_range({"loss": -0.7, "width": 0.8}, ranges) == []
    assert len(out_of_range({"loss": 1.4, "width": 0.8}, ranges)) == 1, "a flat curve leaves the loss high"
    assert len(out_of_range({"loss": None, "width": float("nan")}, ranges)) == 2, "NaN training"
    missing = out_of_range({"width": 0.8}, ranges)
    assert len(missing) == 1 and missing[0].startswith("loss = None"), "a metric the notebook did not report"


TRAINING_PROBE = """
import torch
torch.set_num_threads(2)
torch.manual_seed(0)
x, y = torch.randn(512, 20), torch.randn(512, 1)
net = torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 2))
optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
for step in range(300):
    out = net(x)
    loss = (0.5 * (out[:, :1] - y) ** 2 * torch.exp(-out[:, 1:]) + 0.5 * out[:, 1:]).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(torch.backends.cpu.get_cpu_capability(), repr(loss.item()))
"""


def test_the_other_cpu_path_changes_float32_training(root, notebook_env):
    """The re-run above has teeth: under the other capability, float32 training gives other numbers,
    as on another CPU type (if it did not, a training number in a compared output would go unnoticed)."""
    def train(env):
        return subprocess.run([sys.executable, "-c", TRAINING_PROBE], env=env, capture_output=True, text=True,
                              check=True).stdout.split()

    native = {k: v for k, v in notebook_env.items() if k != "ATEN_CPU_CAPABILITY"}
    native_isa, native_loss = train(native)
    other_isa, other_loss = train({**native, **other_capability(native_isa)})
    assert native_isa != other_isa
    assert native_loss != other_loss, f"{native_isa} and {other_isa} trained to the same loss {native_loss}"


def test_nbval_fails_when_a_stored_output_changes(root, notebook_env, tmp_path):
    """The check above can fail: the first cells of a solution, with one stored number altered."""
    solution = notebooks.read(notebooks.solution_path(root, "01_amplitude_regression"))
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
