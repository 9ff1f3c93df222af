"""Synthetic student submissions for the demo class and the grading tests.

Each is the student notebook (nbgrader's release) with its answer cells filled in the way
a kind of student would: a perfect one, an untouched one, and several broken ones.
"""
from __future__ import annotations

import copy
from typing import Callable

from . import notebooks

INFINITE_LOOP = "while True:  # a student's runaway loop\n    pass\n"


def perfect(release, solution):
    """Every answer cell holds the solution code (without the region markers)."""
    filled = copy.deepcopy(release)
    answers = notebooks.solution_cells(solution)
    for grade_id, cell in notebooks.solution_cells(filled).items():
        cell.source = notebooks.strip_solution_markers(answers[grade_id].source)
    return filled


def untouched(release, solution):
    """The student notebook as handed out: every exercise raises NotImplementedError."""
    return copy.deepcopy(release)


def _edit_answer(grade_id: str, edit: Callable[[str], str]):
    def make(release, solution):
        filled = perfect(release, solution)
        cell = notebooks.solution_cells(filled)[grade_id]
        cell.source = edit(cell.source)
        return filled

    make.__doc__ = f"The perfect submission with answer cell {grade_id!r} edited."
    return make


def _broadcasting_nll(source: str) -> str:
    """A common slip: forget that targets of shape (N, 1) broadcast against (N,)."""
    return (
        "def neg_log_gauss(outputs, targets):\n"
        "    mean, log_var = outputs[:, 0], outputs[:, 1]\n"
        "    return torch.mean((mean - targets) ** 2 / (2 * torch.exp(log_var)) + 0.5 * log_var)\n"
    )


def _syntax_error(source: str) -> str:
    return source.replace("):", ")", 1)


#: student id -> (description, how the submission is made)
DEMO_CLASS: dict[str, tuple[str, Callable]] = {
    "alice": ("perfect solution", perfect),
    "bob": ("untouched student notebook", untouched),
    "carol": ("neg_log_gauss with a broadcasting bug (passes visible, fails hidden tests)",
              _edit_answer("neg_log_gauss", _broadcasting_nll)),
    "dave": ("infinite loop in the neg_log_gauss cell", _edit_answer("neg_log_gauss", lambda s: INFINITE_LOOP + s)),
    "erin": ("syntax error in get_prediction", _edit_answer("get_prediction", _syntax_error)),
}
