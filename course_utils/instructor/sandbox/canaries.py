"""Grader-inserted test cells that must fail: a kernel that reports one as passing lies about the tests.

A canary is a copy of one of the notebook's real test cells as the kernel runs them (the visible and
the hidden tests, restored by nbgrader) with one more check, put before the cell's first statement, that
cannot hold: an ``assert`` of literals only, which no name in the student's namespace can change. In an
honest kernel it fails with exactly that ``AssertionError`` before any of the copied code runs, so it
changes nothing the later cells see (the random stream, the student's objects). Student code that
makes failing tests pass (an IPython hook that clears errors, a silenced ``showtraceback``, a
transformer that drops ``assert``) makes it pass, or fail otherwise: either flags the submission. The kernel cannot tell canaries from test cells
by their text (both are copies of the same test code), and the cell metadata that marks them never
reaches the kernel. One canary sits next to a randomly chosen test cell (before or after it), one right
after the last test cell. After execution the grader takes them out and shifts the execution counts of
the cells after them back, so that the notebook holds the submission's cells only.
"""
from __future__ import annotations

import ast
import random
from dataclasses import dataclass

import nbformat

#: cell metadata key that marks a canary (the kernel never sees metadata)
CANARY_KEY = "course_canary"


#: errors that mean the canary did not run (the kernel died or hung, memory ran out), not that the kernel lied
NOT_RUN = {"KernelDied", "CellTimeoutError", "NotGraded", "MemoryError", "KeyboardInterrupt"}


@dataclass(frozen=True)
class CanaryResult:
    """What became of one canary: ``failed`` (as it must), ``passed`` or ``altered`` (the kernel did not run
    the check as written: it lies about tests), or ``not run``."""

    copied_from: str  # grade id of the test cell it copies
    outcome: str
    detail: str = ""


def is_canary(cell) -> bool:
    return bool(cell.get("metadata", {}).get(CANARY_KEY))


def _grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


def _is_test(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and bool(meta.get("grade")) and not meta.get("solution") and bool(cell.source.strip())


def failing_check(source: str, rng: random.Random) -> tuple[str, str]:
    """An ``assert`` of literals that cannot hold, worded like the checks of ``source`` (it reuses one of
    their messages), and its message."""
    messages = []
    try:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assert) and isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str):
                messages.append(node.msg.value)
    except SyntaxError:
        pass
    message = rng.choice(messages) if messages else "unexpected value"
    expected = round(rng.uniform(0.1, 5.0), 3)
    found = round(expected + rng.choice((-1, 1)) * rng.uniform(0.05, 1.0), 3)
    tolerance = rng.choice(("1e-6", "1e-4", "1e-3"))
    return f"assert -{tolerance} < {found} - {expected} < {tolerance}, {message!r}\n", message


def canary_of(cell, rng: random.Random):
    """A copy of test ``cell`` with :func:`failing_check` before its first statement."""
    lines = cell.source.splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#")), len(lines))
    check, message = failing_check(cell.source, rng)
    canary = nbformat.v4.new_code_cell("".join(lines[:first]) + check + "".join(lines[first:]))
    canary.metadata[CANARY_KEY] = {"copied_from": _grade_id(cell), "message": message}
    return canary


def plant(notebook, rng: random.Random | None = None) -> int:
    """Insert the canaries into ``notebook`` (in place); returns how many."""
    rng = rng or random.SystemRandom()
    tests = [cell for cell in notebook.cells if _is_test(cell)]
    if not tests:
        return 0
    last = tests[-1]
    notebook.cells.insert(notebook.cells.index(last) + 1, canary_of(last, rng))
    planted = 1
    others = [cell for cell in tests if cell is not last]
    if others:
        chosen = rng.choice(others)
        notebook.cells.insert(notebook.cells.index(chosen) + rng.choice((0, 1)), canary_of(chosen, rng))
        planted += 1
    return planted


def _outcome(cell) -> CanaryResult:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    marks = cell.metadata[CANARY_KEY]
    copied = marks.get("copied_from", "")
    if cell.get("execution_count") is None and not errors:
        return CanaryResult(copied, "not run")
    if not errors:
        return CanaryResult(copied, "passed", "a check that cannot hold was reported as passing")
    name, message = errors[0].get("ename", ""), str(errors[0].get("evalue", ""))
    if name in NOT_RUN:
        return CanaryResult(copied, "not run", name)
    if name == "AssertionError" and message == marks.get("message"):
        return CanaryResult(copied, "failed", name)
    return CanaryResult(copied, "altered", f"a check that cannot hold ended in {name}: {message[:100]}")


def collect(notebook) -> list[CanaryResult]:
    """Take the canaries out of an executed ``notebook`` (in place), shift the execution counts of the
    cells after them back, and say what became of each."""
    results, executed_before = [], 0
    kept = []
    for cell in notebook.cells:
        if is_canary(cell):
            results.append(_outcome(cell))
            executed_before += cell.get("execution_count") is not None
            continue
        if cell.cell_type == "code" and cell.get("execution_count") is not None and executed_before:
            cell.execution_count -= executed_before
            for output in cell.get("outputs", []):
                if output.get("execution_count") is not None:
                    output["execution_count"] -= executed_before
        kept.append(cell)
    notebook.cells = kept
    return results
