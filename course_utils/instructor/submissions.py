"""Synthetic student submissions for the demo class and the grading tests.

Each is the student notebook (nbgrader's release) with its answer cells filled in the way
a kind of student would: a perfect one, an untouched one, and several broken ones.
"""
from __future__ import annotations

import copy
from typing import Callable

import nbformat

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
        changed = edit(cell.source)
        if changed == cell.source:
            raise ValueError(f"the edit of answer cell {grade_id!r} did not apply: the demo student would be perfect")
        cell.source = changed
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


def _kl_prior_first(source: str) -> str:
    """The draft's slip: KL_DIV called with prior and posterior swapped, i.e. KL(p || q)."""
    return source.replace("KL_DIV(self.W_mu, F.softplus(self.W_rho), self.prior_mu, self.prior_sigma)",
                          "KL_DIV(self.prior_mu, self.prior_sigma, self.W_mu, F.softplus(self.W_rho))")


def _missing_colon(source: str) -> str:
    """The def line of the cell's function without its colon."""
    return source.replace("-> np.ndarray:", "-> np.ndarray", 1)


def _blundell_overflows(source: str) -> str:
    """The paper's formula for the complexity weights taken literally: 2^M overflows for many minibatches."""
    return source.replace("weight = 2.0 ** -batch_index / (1.0 - 2.0 ** -n_batches)",
                          "weight = 2.0 ** (n_batches - batch_index) / (2.0**n_batches - 1)")


def _mean_over_all_slots(source: str) -> str:
    """Masks the padding but divides by the number of slots instead of each jet's constituents."""
    return source.replace("(self.Phi(x) * weights).sum(dim=1) / weights.sum(dim=1)",
                          "(self.Phi(x) * weights).sum(dim=1) / x.shape[1]")


def _class_of_five(slip: tuple[str, str, Callable[[str], str]], loop_in: str,
                   syntax_error: tuple[str, Callable[[str], str]]) -> dict[str, tuple[str, Callable]]:
    """alice (perfect), bob (untouched), carol (``slip``: description, answer cell, edit that passes the
    visible tests and fails a hidden one), dave (an infinite loop in answer cell ``loop_in``), erin
    (``syntax_error``: answer cell and the edit that breaks it)."""
    description, slip_cell, slip_edit = slip
    error_cell, error_edit = syntax_error
    return {
        "alice": ("perfect solution", perfect),
        "bob": ("untouched student notebook", untouched),
        "carol": (f"{description} (passes visible, fails hidden tests)", _edit_answer(slip_cell, slip_edit)),
        "dave": (f"infinite loop in the {loop_in} cell", _edit_answer(loop_in, lambda s: INFINITE_LOOP + s)),
        "erin": (f"syntax error in {error_cell}", _edit_answer(error_cell, error_edit)),
    }


#: per assignment, student id -> (description, how the submission is made)
DEMO_CLASSES: dict[str, dict[str, tuple[str, Callable]]] = {
    "01_amplitude_regression": _class_of_five(
        ("neg_log_gauss with a broadcasting bug", "neg_log_gauss", _broadcasting_nll), "neg_log_gauss",
        ("get_prediction", _syntax_error)),
    "02_mnist_bayes_by_backprop": _class_of_five(
        ("minibatch_loss with 2^M formed literally", "minibatch_loss", _blundell_overflows), "bayesian_linear",
        ("mc_predict", _syntax_error)),
    "03_jet_bayesian_cnn": _class_of_five(
        ("KL(p || q) instead of KL(q || p) in BBBConv2d", "bbbconv2d", _kl_prior_first), "train_epoch",
        ("get_prediction", _syntax_error)),
    "04_top_tagging_deepsets": _class_of_five(
        ("masked mean divided by all slots, not by the jet's constituents", "pseudo_particle_flow", _mean_over_all_slots),
        "early_stopping", ("jet_axis_features", _missing_colon)),
}


def demo_class(assignment: str, hardening: bool = False) -> dict[str, tuple[str, Callable]]:
    """The demo students of ``assignment``; with ``hardening``, also the submissions that attack the grader."""
    if assignment not in DEMO_CLASSES:
        raise KeyError(f"no demo class for {assignment}: add one to DEMO_CLASSES")
    return {**DEMO_CLASSES[assignment], **(HARDENING_CLASS if hardening else {})}


# Submissions that try to take the grader down. They work on any assignment: the answer cells and grade
# cells they break are found from the notebook's structure (each answer cell is followed by its tests).
MEMORY_BOMB = ("hoard = [np.ones(2**24) for _ in range(10**6)]  # 128 MiB at a time, until memory runs out\n")
KERNEL_KILL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)  # the kernel kills itself\n"
COURSE_WRITER = """import pathlib
# writes garbage where a course folder keeps its gradebook, its config and the instructor's notebook
for target in ["../../../gradebook.db", "../../../../nbgrader_config.py"]:
    pathlib.Path(target).write_text("overwritten by a student")
for target in pathlib.Path("../../../../solutions").glob("*/*.ipynb"):
    target.write_text("{}")
"""


def _prefixed(position: int, code: str):
    """The perfect submission with ``code`` run first in the answer cell at ``position`` (0, 1, ... or -1, -2)."""
    def make(release, solution):
        filled = perfect(release, solution)
        cell = notebooks.solution_cells(filled)[notebooks.answer_ids(filled)[position]]
        cell.source = code + cell.source
        return filled
    return make


def _without_last_grade_cell(release, solution):
    """The last grade cell deleted (earlier test cells of an exercise may define helpers the later ones use,
    so deleting the last one breaks that cell alone)."""
    filled = perfect(release, solution)
    filled.cells.remove(list(notebooks.graded_cells(filled))[-1])
    return filled


def _last_grade_cell_before_its_answer(release, solution):
    filled = perfect(release, solution)
    last = list(notebooks.graded_cells(filled))[-1]
    answer = notebooks.solution_cells(filled)[notebooks.answer_ids(filled)[-1]]
    filled.cells.remove(last)
    filled.cells.insert(filled.cells.index(answer), last)
    return filled


def _with_writer(release, solution):
    filled = perfect(release, solution)
    filled.cells.insert(filled.cells.index(next(notebooks.graded_cells(filled))),
                        nbformat.v4.new_code_cell(COURSE_WRITER))
    return filled


def _truncated_json(release, solution) -> str:
    """The perfect notebook's file cut off half way: not valid JSON."""
    text = nbformat.writes(perfect(release, solution))
    return text[: len(text) // 2]


#: student id -> (description, how the submission is made); a maker may return text (written as is)
HARDENING_CLASS: dict[str, tuple[str, Callable]] = {
    "frank": ("memory bomb in the last answer cell", _prefixed(-1, MEMORY_BOMB)),
    "grace": ("kills its own kernel in the second-to-last answer cell", _prefixed(-2, KERNEL_KILL)),
    "heidi": ("deleted the last grade cell", _without_last_grade_cell),
    "ivan": ("moved the last grade cell above its answer cell", _last_grade_cell_before_its_answer),
    "judy": ("writes into the course folder and the gradebook (answers perfect)", _with_writer),
    "mallory": ("notebook file cut in half: not valid JSON", _truncated_json),
}


def hardening_expectations(solution) -> dict[str, list[str] | None]:
    """Per hardening student, the grade cells that must score 0 (the rest keeps full marks); None: all of them."""
    answers = notebooks.answer_ids(solution)
    graded = [notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)]
    return {
        "frank": notebooks.grade_ids_after(solution, answers[-1]),
        "grace": notebooks.grade_ids_after(solution, answers[-2], until_next_answer=False),
        "heidi": graded[-1:],
        "ivan": graded[-1:],
        "judy": [],
        "mallory": None,
    }
