"""Formulas in feedback pages as MathML, so they render where scripts do not run.

nbconvert's HTML leaves ``$...$`` for MathJax, a script fetched from the web: a feedback page opened in
JupyterLab's HTML viewer (untrusted, no scripts) or on a hub without internet showed raw LaTeX. This
preprocessor of ``nbgrader generate_feedback`` turns the formulas of markdown cells into MathML, which the
browser draws itself; code spans and code blocks are left alone, and a formula the converter cannot read
stays as it was.
"""
from __future__ import annotations

import re

from latex2mathml.converter import convert
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

#: fenced code blocks and inline code spans: never formulas
CODE = re.compile(r"```.*?```|~~~.*?~~~|`[^`\n]*`", re.S)
#: $$display$$, \begin{equation|align}...\end{...} and $inline$ (not \$, not $ followed by a space)
FORMULA = re.compile(
    r"(?<!\\)\$\$(?P<display>.+?)(?<!\\)\$\$"
    r"|(?P<environment>\\begin\{(?P<name>equation|align|gather)\*?\}.*?\\end\{(?P=name)\*?\})"
    r"|(?<![\\$])\$(?![\s$])(?P<inline>[^$\n]+?)(?<![\s\\])\$(?!\$)",
    re.S,
)


def to_mathml(latex: str, display: bool) -> str | None:
    """``latex`` as a MathML element, or None where the converter cannot read it (a ``<`` escaped as ``&lt;``
    by ``inert_html`` is read as ``<``)."""
    try:
        return convert(latex.strip().replace("&lt;", "<"), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any formula it cannot parse stays LaTeX
        return None


def _replace(match: re.Match) -> str:
    if match.group("inline") is not None:
        return to_mathml(match.group("inline"), display=False) or match.group(0)
    latex = match.group("display") if match.group("display") is not None else match.group("environment")
    return to_mathml(latex, display=True) or match.group(0)


def markdown_with_mathml(source: str) -> str:
    """``source`` with every formula outside code turned into MathML."""
    pieces, start = [], 0
    for code in CODE.finditer(source):
        pieces.append(FORMULA.sub(_replace, source[start:code.start()]))
        pieces.append(code.group(0))
        start = code.end()
    pieces.append(FORMULA.sub(_replace, source[start:]))
    return "".join(pieces)


#: markdown converted per cell and per notebook at most (characters); longer cells, and the cells past the
#: budget, keep their LaTeX: a student's notebook can hold markdown crafted to make the formula search slow
MAX_CELL_CHARS = 10_000
MAX_NOTEBOOK_CHARS = 300_000


class MathToMathML(Preprocessor):
    """Feedback preprocessor: the formulas of markdown cells as MathML (on unless configured off), within
    :data:`MAX_CELL_CHARS` per cell and :data:`MAX_NOTEBOOK_CHARS` per notebook."""

    enabled = Bool(True).tag(config=True)

    def preprocess(self, nb, resources):
        self._budget = MAX_NOTEBOOK_CHARS
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        size = len(cell.source)
        if cell.cell_type == "markdown" and size <= MAX_CELL_CHARS and size <= getattr(self, "_budget", MAX_NOTEBOOK_CHARS):
            self._budget = getattr(self, "_budget", MAX_NOTEBOOK_CHARS) - size
            cell.source = markdown_with_mathml(cell.source)
        return cell, resources
