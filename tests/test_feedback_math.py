"""Feedback pages show formulas as MathML (no script, no network), in the grading pipeline's own exporter."""
from __future__ import annotations

import re

import nbformat
from nbconvert import HTMLExporter

from course_utils.instructor.feedback_math import MathToMathML, markdown_with_mathml


def test_inline_display_and_environments_become_mathml():
    text = markdown_with_mathml(r"width $\sigma_\text{model}$, then $$\frac{1}{N}\sum_i x_i$$ and "
                                r"\begin{equation}a = b\end{equation}")
    assert text.count("<math") == 3 and "\\sigma" not in text and "\\frac" not in text and "\\begin" not in text
    assert 'display="inline"' in text and text.count('display="block"') == 2


def test_code_prices_and_unreadable_formulas_stay_as_written():
    source = "run `x = $y$` and\n```\nprint('$a$')\n```\ncosts $5 or $ 6; broken $\\frac{$ stays"
    assert markdown_with_mathml(source) == source


def test_the_feedback_exporter_keeps_the_mathml():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        r"Loss $\mathcal{L} = -\log p(y|x) + \mathrm{KL}$ with $a*b*c$ and *words*.")])
    exporter = HTMLExporter()
    exporter.register_preprocessor(MathToMathML)  # as nbgrader registers it: on by itself
    html, _ = exporter.from_notebook_node(notebook)
    body = html[html.index("<body"):]
    paragraph = re.search(r"<p>Loss .*?</p>", body, re.S).group(0)
    assert paragraph.count("<math") == 2 and "\\mathcal" not in paragraph
    assert paragraph.count("<em>") == 1  # the formula's stars are no emphasis; the words' are


def test_the_course_config_uses_it_for_feedback(root):
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    assert MathToMathML in config.GenerateFeedback.preprocessors


def test_crafted_markdown_costs_the_feedback_no_time():
    """A student's markdown of unclosed environments (quadratic for the formula search) is left as it is."""
    import nbformat

    from course_utils.instructor.feedback_math import MAX_CELL_CHARS, MathToMathML

    crafted = "\\begin{equation}" * 1_000_000
    assert len(crafted) > MAX_CELL_CHARS
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(crafted), nbformat.v4.new_markdown_cell("$x^2$")])
    converted, _ = MathToMathML().preprocess(notebook, {})
    assert converted.cells[0].source == crafted  # unbounded, the search over it took hours
    assert "<math" in converted.cells[1].source  # a cell within the bounds still gets MathML
