"""What a student's feedback shows of the grading, whatever their code printed.

Replaces nbgrader's ``ClearHiddenTests`` in ``generate_feedback`` (``nbgrader_config.py``):

* a grade cell shows its visible part only (the hidden tests' region is cut out; a region whose end
  marker is missing is cut to the end of the cell), and of a grade cell with hidden tests only the
  error's type (a built-in exception's name, else "Error") and its message, when the message is one the
  course's tests write: an assertion message of that cell or of ``course_utils.gradecells`` (its
  formatted values made of digits, signs and words of the cell's own messages only), shown with each
  formatted value as :data:`VALUE_NOTE` (student code that saw a hidden probe could spell it out in a value),
  at most :data:`MESSAGE_LIMIT` characters. Any other message (raised by the student's code, which may quote
  the hidden tests in any encoding) is replaced by :data:`WITHHELD`;
* every cell that ran after the first hidden test shows no output (a short note instead): student code
  may have captured the tests' sources by then and print them later;
* other cells are left as they are (marker texts in a student's own cell are the student's text and
  never stop the feedback), except that every text output loses its terminal colour codes and is cut at
  :data:`FEEDBACK_TEXT_LIMIT` characters, and a cell longer than :data:`FEEDBACK_SOURCE_LIMIT` characters
  (or past :data:`FEEDBACK_NOTEBOOK_SOURCE_LIMIT` in all) shows a note instead of its source.
"""
from __future__ import annotations

import ast
import builtins
import functools
import re
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

BEGIN, END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
MESSAGE_LIMIT = 300
HIDDEN_NOTE = "[output not shown in feedback: this cell ran after the hidden tests]"
REDACTED = "[hidden test]"
WITHHELD = "[message not shown: it did not come from the course's tests]"
#: words a formatted value in a test's message may hold besides the cell's own words (reprs of numbers and tensors)
VALUE_WORDS = frozenset("tensor array dtype torch numpy float float16 float32 float64 bfloat16 int int32 int64 bool "
                        "True False None nan inf e device cpu cuda meta grad_fn requires_grad Size shape".split())
GRADECELLS = Path(__file__).resolve().parents[2] / "gradecells"
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


def _template(node: ast.AST) -> list[str | None] | None:
    """A message expression as its literal parts and ``None`` for each formatted value; None if it is neither a
    string, an f-string nor a sum of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [part.value if isinstance(part, ast.Constant) else None for part in node.values]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is None and right is None:
            return None
        return (left or [None]) + (right or [None])
    return None


def message_templates(source: str) -> list[list[str | None]]:
    """The messages of the assertions in ``source`` (``assert ..., msg`` and ``raise AssertionError(msg)``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    found = []
    for node in ast.walk(tree):
        message = None
        if isinstance(node, ast.Assert):
            message = node.msg
        elif isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            message = node.exc.args[0]
        template = _template(message) if message is not None else None
        if template:
            found.append(template)
    return found


@functools.lru_cache(maxsize=1)
def gradecells_templates() -> tuple:
    """The assertion messages of the course's test helpers (``course_utils.gradecells``)."""
    return tuple(t for path in sorted(GRADECELLS.glob("*.py")) for t in message_templates(path.read_text()))


@functools.lru_cache(maxsize=1)
def grader_words() -> frozenset[str]:
    """The words of the grader's own error messages (a dead kernel, a notebook that could not be graded)."""
    return frozenset(_words((GRADECELLS.parent / "instructor" / "grading_kernels.py").read_text()))


@functools.lru_cache(maxsize=1)
def gradecells_words() -> frozenset[str]:
    """The words of the test helpers' own strings (what they report, e.g. which state a call left behind)."""
    return frozenset(w for path in sorted(GRADECELLS.glob("*.py")) for node in ast.walk(_tree(path.read_text()))
                     if isinstance(node, ast.Constant) and isinstance(node.value, str) for w in _words(node.value))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


def matching_template(message: str, source: str) -> list[str | None] | None:
    """The assertion message of the grade cell ``source`` or of the test helpers that ``message`` is, with
    formatted values made only of digits, signs and the words of the cell's own messages; None if none is."""
    templates = message_templates(source)
    allowed = VALUE_WORDS | gradecells_words() | {w for t in templates for part in t if part for w in _words(part)}
    allowed |= {w for node in ast.walk(_tree(source)) if isinstance(node, ast.Constant) and isinstance(node.value, str)
                for w in _words(node.value)}
    for template in templates + list(gradecells_templates()):
        pattern = "".join(re.escape(part) if part is not None else "(.{0,200}?)" for part in template)
        match = re.fullmatch(pattern, message, flags=re.DOTALL)
        if match and all(_words(value) <= allowed for value in match.groups()):
            return template
    return None


def from_the_tests(message: str, source: str) -> bool:
    """True when ``message`` is an assertion message of the grade cell ``source`` or of the test helpers."""
    return matching_template(message, source) is not None


#: what a formatted value of a test's message shows in a cell with hidden tests or after them
VALUE_NOTE = "…"


def without_values(template: list[str | None]) -> str:
    """A message's literal text, each formatted value shown as :data:`VALUE_NOTE`: in a cell with hidden tests or
    after one, a value can come from student code that saw a hidden probe and would spell it out."""
    return "".join(part if part is not None else VALUE_NOTE for part in template)


def _tree(source: str) -> ast.AST:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return ast.Module(body=[], type_ignores=[])


def _summary(cell, hidden_lines: list[str]) -> list:
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if not errors:
        return []
    name = str(errors[-1].get("ename", "Error"))
    if not (isinstance(getattr(builtins, name, None), type) or name in ("KernelDied", "NotGraded")):
        name = "Error"
    message = str(errors[-1].get("evalue", ""))
    by_the_grader = name in ("KernelDied", "NotGraded") and _words(message) <= grader_words()
    if message and not by_the_grader:
        template = matching_template(message, cell.source)
        message = WITHHELD if template is None else without_values(template)
    if message and not by_the_grader and message != WITHHELD:  # the tests' own words: a code hint in them stays
        message = redact(message, [])
    else:
        message = redact(message, hidden_lines)
    return [nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])]


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: characters of text one output keeps in feedback: converting terminal colour codes to HTML costs the grader
#: time that grows faster than the text, and feedback needs no megabytes of printout
FEEDBACK_TEXT_LIMIT = 100_000


def _tamed_text(text) -> str:
    text = ANSI.sub("", "".join(text) if isinstance(text, list) else str(text))
    return text if len(text) <= FEEDBACK_TEXT_LIMIT else text[:FEEDBACK_TEXT_LIMIT] + "\n[... cut in feedback]\n"


def tame(output) -> None:
    """Text of ``output`` without terminal colour codes and at most :data:`FEEDBACK_TEXT_LIMIT` characters long."""
    if "text" in output:
        output["text"] = _tamed_text(output["text"])
    if "traceback" in output:
        output["traceback"] = [_tamed_text(line) for line in output["traceback"]][:50]
    for kind in ("text/plain", "text/html"):
        if kind in output.get("data", {}):
            output["data"][kind] = _tamed_text(output["data"][kind])


#: the longest cell source the feedback shows, and the most source characters of one notebook it shows:
#: rendering a student's 20 MB markdown cell took nbconvert more than 10 GB of memory
FEEDBACK_SOURCE_LIMIT = 100_000
FEEDBACK_NOTEBOOK_SOURCE_LIMIT = 2_000_000
LONG_SOURCE_NOTE = "[this cell's {} characters are not shown in the feedback: the course shows cells of at most {}]"


def _bounded_sources(notebook) -> None:
    """Cells longer than FEEDBACK_SOURCE_LIMIT, and every cell past FEEDBACK_NOTEBOOK_SOURCE_LIMIT characters
    in all, keep a note in place of their source."""
    budget = FEEDBACK_NOTEBOOK_SOURCE_LIMIT
    for cell in notebook.cells:
        size = len(cell.get("source", ""))
        if size > FEEDBACK_SOURCE_LIMIT or size > budget:
            note = LONG_SOURCE_NOTE.format(size, FEEDBACK_SOURCE_LIMIT)
            cell.source = note if cell.cell_type != "code" else f"# {note}"
        else:
            budget -= size


def filter_feedback(notebook) -> None:
    """Apply the rules of this module to an autograded ``notebook`` (in place)."""
    _bounded_sources(notebook)
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
        for output in cell.get("outputs", []):
            tame(output)


def _is_grade(cell) -> bool:
    return bool(cell.get("metadata", {}).get("nbgrader", {}).get("grade"))


class FilterFeedback(NbGraderPreprocessor):
    """``generate_feedback``'s filter of hidden tests and of what student code printed after them."""

    def preprocess(self, nb, resources):
        filter_feedback(nb)
        nb.metadata.pop("celltoolbar", None)
        return nb, resources
