"""Execute solution notebooks with papermill and collect their metrics and run times."""
from __future__ import annotations

import json
import time
from pathlib import Path

from . import notebooks


def results_dir(root: Path) -> Path:
    folder = Path(root) / "build" / "results"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_metrics(notebook) -> dict:
    """The JSON printed by the cell tagged ``metrics`` (empty if there is none)."""
    for cell in notebooks.cells_with_tag(notebook, "metrics"):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                return json.loads(output["text"].strip().splitlines()[-1])
    return {}


def execute_solution(root: Path, assignment: str, scale: str) -> dict:
    """Run ``solutions/A/A.ipynb`` at ``scale`` into ``build/executed``; return and store the result."""
    import papermill

    from .local_kernels import PrivateSocketKernelManager

    source = notebooks.solution_path(root, assignment)
    target = Path(root) / "build" / "executed" / f"{assignment}.{scale}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    papermill.execute_notebook(
        str(source), str(target), parameters={"SCALE": scale}, cwd=str(source.parent),
        kernel_name="python3", progress_bar=False, log_output=False,
        kernel_manager_class=PrivateSocketKernelManager,
    )
    result = {
        "assignment": assignment,
        "scale": scale,
        "runtime_s": round(time.perf_counter() - start, 1),
        "metrics": read_metrics(notebooks.read(target)),
        "executed_notebook": str(target.relative_to(root)),
    }
    (results_dir(root) / f"{assignment}.{scale}.json").write_text(json.dumps(result, indent=2) + "\n")
    return result
