"""What a student's feedback shows of the grading, whatever their code printed.

Replaces nbgrader's ``ClearHiddenTests`` in ``generate_feedback`` (``nbgrader_config.py``):

* a grade cell shows its visible part only (the hidden tests' region is cut out; a region whose end
  marker is missing is cut to the end of the cell), and of a grade cell with hidden tests only the
  error's type and message: its message with every line of a hidden test taken out, at most
  :data:`MESSAGE_LIMIT` characters;
* every cell that ran after the first hidden test shows no output (a short note instead): student code
  may have captured the tests' sources by then and print them later;
* other cells are left as they are (marker texts in a student's own cell are the student's text and
  never stop the feedback).
"""
from __future__ import annotations

import re

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
MESSAGE_LIMIT = 300
HIDDEN_NOTE = "[output not shown in feedback: this cell ran after the hidden tests]"
REDACTED = "[hidden test]"
#: shorter lines of hidden tests (a bracket, ``else:``) are too common to redact
MIN_REDACTED_LENGTH = 8


def split_hidden(source: str) -> tuple[str, list[str]]:
    """(the visible part of a test cell, the lines of its hidden tests)."""
    visible, hidden, inside = [], [], False
    for line in source.split("\n"):
        if BEGIN in line:
            inside = True
        elif END in line and inside:
            inside = False
        elif inside:
            hidden.append(line)
        else:
            visible.append(line)
    return "\n".join(visible), hidden


def redact(message: str, hidden_lines: list[str], limit: int = MESSAGE_LIMIT) -> str:
    """``message`` without any hidden-test line it contains, cut to ``limit`` characters."""
    for line in sorted({h.strip() for h in hidden_lines if len(h.strip()) >= MIN_REDACTED_LENGTH}, key=len, reverse=True):
        message = message.replace(line, REDACTED)
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _summary(cell, hidden_lines: list[str]) -> list:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return []
    name = redact(str(errors[-1].get("ename", "Error")), hidden_lines, 80)
    message = redact(str(errors[-1].get("evalue", "")), hidden_lines)
    return [nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])]


def filter_feedback(notebook) -> None:
    """Apply the rules of this module to an autograded ``notebook`` (in place)."""
    hidden_lines = [line for cell in notebook.cells if _is_grade(cell) for line in split_hidden(cell.source)[1]]
    after_hidden = False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        if _is_grade(cell):
            visible, hidden = split_hidden(cell.source)
            if hidden or after_hidden:
                cell.outputs = _summary(cell, hidden_lines)
            cell.source = visible
            after_hidden = after_hidden or bool(hidden)
        elif after_hidden and cell.get("outputs"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=HIDDEN_NOTE + "\n")]


def _is_grade(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


class FilterFeedback(NbGraderPreprocessor):
    """``generate_feedback``'s filter of hidden tests and of what student code printed after them."""

    def preprocess(self, nb, resources):
        filter_feedback(nb)
        nb.metadata.pop("celltoolbar", None)
        return nb, resources
