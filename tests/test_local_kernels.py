"""The course's own notebooks run in kernels on private Unix sockets, not TCP ports."""
import json
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.instructor import execute
from course_utils.instructor.local_kernels import PrivateSocketKernelManager

REPORT = """import json, os
from ipykernel.connect import get_connection_file
path = get_connection_file()
print(json.dumps({"path": path, "transport": json.load(open(path))["transport"],
                  "mode": os.stat(os.path.dirname(path)).st_mode & 0o777}))"""


def test_a_course_kernel_listens_on_unix_sockets_in_a_private_folder_that_goes_with_it(capfd):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(REPORT)])
    NotebookClient(notebook, kernel_name="python3", timeout=120,
                   kernel_manager_class=PrivateSocketKernelManager).execute()
    seen = json.loads(notebook.cells[0].outputs[0]["text"])
    assert seen["transport"] == "ipc" and seen["mode"] == 0o700
    assert not Path(seen["path"]).parent.exists()
    assert "without encryption" not in capfd.readouterr().err


def test_solutions_are_executed_in_such_kernels(monkeypatch, root):
    papermill = pytest.importorskip("papermill")
    seen = {}

    def stop(*args, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stopped before running")

    monkeypatch.setattr(papermill, "execute_notebook", stop)
    with pytest.raises(RuntimeError, match="stopped"):
        execute.execute_solution(root, "01_amplitude_regression", "ci")
    assert seen["kernel_manager_class"] is PrivateSocketKernelManager
