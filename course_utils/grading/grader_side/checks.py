"""A grade cell's check, run in the grader's process against the student's process.

:func:`run_check` executes the grade cell's code (visible and hidden tests, from the instructor's
notebook) here. Its namespace holds the instructor notebook's imports; every other name the code reads
(the student's classes and functions, the notebook's given definitions) is looked up in the student's
process and comes back as a handle or as plain data (:mod:`.proxies`). The outcome is pass or the error's
name and message, written into the cell as an output by :func:`outcome_outputs` (nbgrader scores a grade
cell by its errors).
"""
from __future__ import annotations

import ast
import builtins
import time
from dataclasses import dataclass

import torch

from ...gradecells import returns
from .channel import ChannelTimeout
from .probe_seeds import SALTED_SEED, salted_seed, with_salted_seeds
from .proxies import Session, StudentError

#: the error name shown when a check fails without an exception type of its own
CHECK_FAILED = "AssertionError"


@dataclass(frozen=True)
class Outcome:
    """A check's result: passed, or the error's name and message (as students may read them)."""

    passed: bool
    error_name: str = ""
    message: str = ""


class GraderNamespace(dict):
    """Globals of a check: names it does not define itself come from the student's process."""

    def __init__(self, session: Session, base: dict):
        super().__init__(base)
        self.session = session

    def __missing__(self, name: str):
        if hasattr(builtins, name) or name.startswith("__"):
            raise KeyError(name)
        try:
            value = self.session.resolve(name)
        except StudentError as exc:
            if exc.type_name == "NameError":
                raise NameError(f"name {name!r} is not defined in the notebook") from None
            raise
        self[name] = value
        return value


def top_level_statements(source: str, definitions: bool = False) -> str:
    """The import statements and literal constants (``NAME = literal``) of a cell (and, with ``definitions``, its
    function and class definitions): what a cell gives later cells without running anything."""
    kinds = (ast.Import, ast.ImportFrom) + ((ast.FunctionDef, ast.ClassDef) if definitions else ())
    kept = []
    for node in ast.parse(source).body:
        if isinstance(node, kinds):
            kept.append(node)
        elif isinstance(node, ast.Assign) and all(isinstance(target, ast.Name) for target in node.targets):
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            kept.append(node)
    return ast.unparse(ast.Module(body=kept, type_ignores=[]))


def imports_of(source: str) -> str:
    """The import statements and literal constants of a cell (the instructor's notebook: trusted)."""
    return top_level_statements(source)


def notebook_imports(notebook) -> str:
    """Every import and literal constant of the notebook's cells that are no grade cells."""
    parts = []
    for cell in notebook.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and not meta.get("grade"):
            try:
                parts.append(imports_of(cell.source))
            except SyntaxError:
                continue
    return "\n".join(parts)


def _short(text: str, limit: int = 2000) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


def run_check(source: str, channel, imports: str, name: str = "grade cell", seconds: float = 600.0,
              salt: bytes | None = None) -> Outcome:
    """Run a grade cell's code here, against the student's process behind ``channel``; with a ``salt``
    (:func:`.probe_seeds.submission_salt`) every seed the code sets is mixed with it, so its probes are drawn anew."""
    session = Session(channel)
    saved = (torch.is_grad_enabled(), torch.get_default_dtype(), torch.random.get_rng_state())
    if hasattr(channel, "deadline"):
        channel.deadline = time.monotonic() + seconds
    try:
        returns.forget_watched()
        session.reset()
        namespace = GraderNamespace(session, {"__name__": "__grade_cell__", "__builtins__": builtins,
                                              SALTED_SEED: salted_seed(salt)})
        exec(compile(imports, f"<imports for {name}>", "exec"), namespace)  # noqa: S102  (the instructor's notebook)
        exec(with_salted_seeds(source, f"<{name}>"), namespace)  # noqa: S102  (the instructor's grade cell)
        return Outcome(True)
    except StudentError as exc:  # the student's own exception: its built-in name only, never its text
        return Outcome(False, _shown_name(exc.type_name), STUDENT_RAISED)
    except ChannelTimeout as exc:
        return Outcome(False, "TimeoutError", str(exc))
    except AssertionError as exc:
        return Outcome(False, CHECK_FAILED, _short(str(exc)))
    except Exception as exc:  # noqa: BLE001  (a grader-side error on the student's answer, e.g. a wrong shape)
        return Outcome(False, type(exc).__name__, _short(str(exc)))
    finally:
        if hasattr(channel, "deadline"):
            channel.deadline = float("inf")
        torch.set_grad_enabled(saved[0])
        torch.set_default_dtype(saved[1])
        torch.random.set_rng_state(saved[2])


#: the message of a check that failed because the student's code raised: the student's own message never
#: reaches the outputs (it could carry what the student's code saw of the check's inputs to the feedback)
STUDENT_RAISED = "raised by your code during this test (run the visible tests in your notebook to see its message)"


def _shown_name(name: str) -> str:
    """The name of the student's exception as shown: a built-in exception's name, else ``Exception``."""
    found = getattr(builtins, name, None)
    shown = name if isinstance(found, type) and issubclass(found, BaseException) else "Exception"
    return "StudentAssertionError" if shown == "AssertionError" else shown


def outcome_outputs(outcome: Outcome) -> list:
    """The outputs of a grade cell decided by the grader: none when it passed, an error output when not."""
    import nbformat

    if outcome.passed:
        return []
    return [nbformat.v4.new_output("error", ename=outcome.error_name, evalue=outcome.message,
                                   traceback=[f"{outcome.error_name}: {outcome.message}"])]
