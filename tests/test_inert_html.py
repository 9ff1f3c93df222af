"""Student notebooks rendered as HTML (feedback pages, the formgrader) hold nothing a browser would run."""
from __future__ import annotations

import re

import nbformat
from nbconvert import HTMLExporter

from course_utils.instructor.feedback_math import MathToMathML
from course_utils.instructor.sandbox.inert_html import DROPPED_NOTE, InertStudentContent, inert_markdown, make_inert
from course_utils.instructor.submissions import ACTIVE_MARKDOWN

ACTIVE = re.compile(r"<script[^>]*>[^<]*xss|<[a-z]+[^>]*\sonerror\s*=|href=[\"']?javascript:|<style[^>]*>[^<]*\.score",
                    re.IGNORECASE)


def student_notebook():
    notebook = nbformat.v4.new_notebook()
    notebook.cells.append(nbformat.v4.new_markdown_cell(ACTIVE_MARKDOWN + "\n\nwith $p_T<500$ and `x < y`, "
                                                        "[more](jav&#x61;script:alert(1)) [again](jav&amp;#x61;script:1)"))
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": "<b>x</b><script>document.title='xss-h'</script>",
                                                     "text/plain": "plain x"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": "document.title='xss-js'"}),
        nbformat.v4.new_output("display_data", data={"image/svg+xml": "<svg><script>document.title='xss-s'</script></svg>",
                                                     "image/png": "iVBORw0KGgo="}),
        nbformat.v4.new_output("execute_result", execution_count=1,
                               data={"text/markdown": "<img src=x onerror=\"document.title='xss-m'\">", "text/plain": "m"}),
    ]
    notebook.cells.append(cell)
    return notebook


def test_only_text_and_raster_images_are_kept_of_an_output():
    notebook = student_notebook()
    make_inert(notebook)
    kinds = [sorted(output["data"]) for output in notebook.cells[1].outputs]
    assert kinds == [["text/plain"], ["text/plain"], ["image/png"], ["text/plain"]]
    assert notebook.cells[1].outputs[0]["data"]["text/plain"] == "plain x"
    assert notebook.cells[1].outputs[1]["data"]["text/plain"] == DROPPED_NOTE.format("application/javascript")


def test_markdown_tags_show_as_text_and_comparisons_stay():
    assert inert_markdown("a <script>x</script> b") == "a &lt;script>x&lt;/script> b"
    assert inert_markdown("<!-- c --> <?php") == "&lt;!-- c --> &lt;?php"
    assert inert_markdown("p_T < 500 and 3 <4") == "p_T < 500 and 3 <4"
    assert inert_markdown("[x](JavaScript:alert(1))") == "[x](JavaScript-:alert(1))"
    # character references the renderer would decode into a link target, also nested, and a tab in the scheme
    for hidden in ("jav&#x61;script:", "&#106;avascript:", "javascript&colon;", "jav&amp;#x61;script:", "java\tscript:"):
        assert "-:" in inert_markdown(f"[x]({hidden}alert(1))"), hidden
    assert inert_markdown("&lt;script&gt;") == "&lt;script>"


def course_exporter(root) -> HTMLExporter:
    """An HTMLExporter with the course's nbgrader configuration, loaded as the formgrader loads it."""
    from nbgrader.apps import NbGrader
    import os

    here = os.getcwd()
    os.chdir(root)
    try:
        app = NbGrader()
        app.load_config_file()
    finally:
        os.chdir(here)
    return HTMLExporter(config=app.config)


def test_the_course_configuration_renders_student_notebooks_inert(root):
    exporter = course_exporter(root)
    assert any(isinstance(p, InertStudentContent) for p in exporter._preprocessors), \
        "nbgrader_config.py must give HTMLExporter the InertStudentContent preprocessor"
    exporter.register_preprocessor(MathToMathML(), enabled=True)  # as generate_feedback does after it
    body, _ = exporter.from_notebook_node(student_notebook())
    assert not ACTIVE.search(body), ACTIVE.search(body)
    assert "document.title='xss-js'" not in body and "xss-s" not in body
    assert "&lt;script" in body and "plain x" in body and "iVBORw0KGgo=" in body
    assert "<math" in body and "&lt;/mo&gt;" not in body, "the formula p_T<500 is still drawn as MathML"
