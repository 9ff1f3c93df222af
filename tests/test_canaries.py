"""Canary cells: copies of test cells that must fail; a kernel that does not fail them lies about the tests."""
from __future__ import annotations

import random

import nbformat
import pytest

from course_utils.instructor.grading_kernels import HardenedExecute
from course_utils.instructor.sandbox import canaries

TEST_CELL = ("# tests of answer()\nimport math\n\nvalue = answer()\nassert math.isclose(value, 2.0), \"answer() must be 2\"\n"
             "### BEGIN HIDDEN TESTS\nassert answer() > 1.5, \"answer() is too small\"\n### END HIDDEN TESTS\n")


def grade_cell(grade_id: str, source: str = TEST_CELL):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 1, "solution": False}
    return cell


def notebook(answer: str):
    cells = [nbformat.v4.new_code_cell(answer), grade_cell("test_a"), nbformat.v4.new_code_cell("print('between')"),
             grade_cell("test_b"), nbformat.v4.new_code_cell("print('after')")]
    result = nbformat.v4.new_notebook(cells=cells)
    result.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return result


def test_a_canary_is_a_test_cell_with_a_failing_check_before_its_code():
    original = notebook("def answer():\n    return 2.0")
    planted = notebook("def answer():\n    return 2.0")
    assert canaries.plant(planted, random.Random(3)) == 2
    added = [cell for cell in planted.cells if canaries.is_canary(cell)]
    assert len(planted.cells) == len(original.cells) + 2 and len(added) == 2
    for canary in added:
        lines = canary.source.splitlines()
        assert lines[0] == "# tests of answer()" and lines[1].startswith("assert -")
        assert "\n".join(lines[:1] + lines[2:]) + "\n" == TEST_CELL  # the test cell's code, untouched
        assert "nbgrader" not in canary.metadata  # never graded
        assert canary.metadata[canaries.CANARY_KEY]["message"] in ("answer() must be 2", "answer() is too small")
    last = next(i for i, c in enumerate(planted.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "test_b")
    after = planted.cells[last + 1]  # one canary right after the last test cell
    assert canaries.is_canary(after) and after.metadata[canaries.CANARY_KEY]["copied_from"] == "test_b"


def test_collect_takes_the_canaries_out_and_shifts_execution_counts_back():
    planted = notebook("def answer():\n    return 2.0")
    canaries.plant(planted, random.Random(0))
    for count, cell in enumerate(planted.cells, start=1):
        cell.execution_count = count
        if canaries.is_canary(cell):
            message = cell.metadata[canaries.CANARY_KEY]["message"]
            cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=message, traceback=[])]
    results = canaries.collect(planted)
    assert [r.outcome for r in results] == ["failed", "failed"]
    assert [c.execution_count for c in planted.cells] == [1, 2, 3, 4, 5]
    assert not any(canaries.is_canary(c) for c in planted.cells)


@pytest.mark.parametrize("outputs, count, outcome", [
    ([], 7, "passed"),
    ([("AssertionError", "MESSAGE")], 7, "failed"),
    ([("NameError", "name 'answer' is not defined")], 7, "altered"),  # the check did not run as written
    ([("AssertionError", "another message")], 7, "altered"),
    ([("KernelDied", "the kernel died")], None, "not run"),
    ([("CellTimeoutError", "")], 7, "not run"),
    ([], None, "not run"),
])
def test_what_became_of_a_canary(outputs, count, outcome):
    planted = notebook("def answer():\n    return 2.0")
    canaries.plant(planted, random.Random(1))
    canary = next(c for c in planted.cells if canaries.is_canary(c))
    message = canary.metadata[canaries.CANARY_KEY]["message"]
    canary.execution_count = count
    canary.outputs = [nbformat.v4.new_output("error", ename=name, evalue=message if value == "MESSAGE" else value,
                                             traceback=[]) for name, value in outputs]
    assert canaries.collect(planted)[0].outcome == outcome


LIARS = {
    "an IPython hook that clears errors": (
        "ip = get_ipython()\ndef _forget(result):\n    result.error_in_exec = None\n    result.error_before_exec = None\n"
        "ip.events.register('post_run_cell', _forget)\nip.showtraceback = lambda *a, **k: None\n"),
    "an AST transformer that drops asserts": (
        "import ast\nclass _NoAsserts(ast.NodeTransformer):\n    def visit_Assert(self, node):\n        return ast.Pass()\n"
        "get_ipython().ast_transformers.append(_NoAsserts())\n"),
    "a custom exception handler": (
        "def _quiet(shell, etype, value, tb, tb_offset=None):\n    shell.showtraceback = lambda *a, **k: None\n"
        "    return None\nget_ipython().set_custom_exc((AssertionError,), _quiet)\n"
        "get_ipython().events.register('post_run_cell', lambda r: setattr(r, 'error_in_exec', None))\n"),
}


def executed(answer: str):
    planted = notebook(answer)
    canaries.plant(planted, random.Random(2))
    HardenedExecute(timeout=60).preprocess(planted, {"metadata": {"path": "."}})
    return planted, canaries.collect(planted)


def test_an_honest_kernel_fails_every_canary():
    """A wrong answer too: the canaries fail on their own check, before the copied test code."""
    for answer in ("def answer():\n    return 2.0", "def answer():\n    return 3.0"):
        result, found = executed(answer)
        assert [r.outcome for r in found] == ["failed", "failed"]
        assert [c.execution_count for c in result.cells] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("name", list(LIARS))
def test_a_kernel_that_lies_about_tests_is_caught(name):
    """The submission's answer is wrong and its code makes the tests pass: the canaries do not fail as they must."""
    result, found = executed(LIARS[name] + "def answer():\n    return 3.0")
    assert not any(o.get("output_type") == "error" for o in result.cells[1].outputs), "the lie did not work"
    assert found and all(r.outcome in ("passed", "altered") for r in found), found
