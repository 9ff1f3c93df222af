"""Student notebooks rendered as HTML without anything the browser would run.

A feedback page (``nbgrader generate_feedback``) and the formgrader's view of a submission are HTML made from
a notebook the student wrote: an output of type ``text/html``, ``application/javascript`` or ``image/svg+xml``
(an object with ``_repr_html_`` is enough, no import needed) and raw HTML in a markdown cell would otherwise
reach the page as written, scripts, ``onerror`` attributes and style sheets included, and run for whoever
opens it, the instructor in the formgrader too. :class:`InertStudentContent`, an ``HTMLExporter``
preprocessor (``nbgrader_config.py``), keeps of each rich output only the kinds a browser draws without
running anything (:data:`INERT_KINDS`: text and raster images; the course's own outputs are exactly these)
and escapes the tag openings of markdown cells, so a student's ``<script>`` shows as text.
"""
from __future__ import annotations

import html
import re

from nbconvert.preprocessors import Preprocessor

#: output kinds shown as they are: plain text and raster images (never run, never parsed as markup)
INERT_KINDS = frozenset({"text/plain", "image/png", "image/jpeg", "image/gif"})
DROPPED_NOTE = "[an output of type {} is not shown here: only text and images are]"
#: a ``<`` that could open a tag, a comment or a processing instruction
TAG_OPENING = re.compile(r"<(?=[A-Za-z/!?])")
#: a link target that runs code when followed (browsers skip whitespace and control characters inside a scheme)
_GAP = r"[\s\x00-\x1f]*"
SCRIPT_URL = re.compile("(?i)(" + "|".join(_GAP.join(word) for word in ("javascript", "vbscript")) + ")" + _GAP + ":")


def inert_output(output: dict) -> None:
    """``output`` with only its :data:`INERT_KINDS` (a note in text when nothing inert is left), in place."""
    data = output.get("data")
    if not isinstance(data, dict):
        return
    dropped = sorted(kind for kind in data if kind not in INERT_KINDS)
    for kind in dropped:
        del data[kind]
    if dropped and not data:
        data["text/plain"] = DROPPED_NOTE.format(", ".join(dropped))
    metadata = output.get("metadata")
    if isinstance(metadata, dict):
        for kind in dropped:
            metadata.pop(kind, None)


def inert_markdown(source: str) -> str:
    """Markdown whose raw HTML shows as text: character references decoded first (``jav&#x61;script:``, also
    nested, is what the renderer would turn into a link target), then every ``<`` that could open a tag becomes
    ``&lt;``, and ``javascript:``-like link targets become an unknown scheme (``javascript-:``)."""
    text = source
    for _ in range(10):  # `&amp;#x61;` is `&#x61;` once decoded
        decoded = html.unescape(text)
        if decoded == text:
            break
        text = decoded
    return SCRIPT_URL.sub(lambda match: f"{match.group(1)}-:", TAG_OPENING.sub("&lt;", text))


def make_inert(notebook) -> None:
    """Every rich output and markdown cell of ``notebook`` inert (in place)."""
    for cell in notebook.cells:
        if cell.get("cell_type") == "markdown":
            cell.source = inert_markdown(cell.get("source", ""))
        for output in cell.get("outputs", []):
            inert_output(output)


class InertStudentContent(Preprocessor):
    """``HTMLExporter`` preprocessor: nothing of a rendered notebook runs in the browser (see the module)."""

    def preprocess(self, nb, resources):
        make_inert(nb)
        return nb, resources
