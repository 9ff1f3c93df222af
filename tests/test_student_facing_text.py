"""Students and instructors read about the physics, the papers and the course's own settings: no text they
receive speaks of drafts, development history, work sessions or how a number came to be chosen."""
import re

import pytest

from conftest import ASSIGNMENTS, ROOT
from course_utils.instructor import notebooks

#: words of development history, in anything a student reads
STUDENT_FORBIDDEN = re.compile(r"\bdrafts?\b|grew from|\bsessions?\b|was lent|planning notes|\bCI scale\b|"
                               r"\bthe issue\b|\bthe seeds?\b", re.I)
#: in the instructor, maintainer and results pages "CI" is the course's continuous integration, not history
DOCS_FORBIDDEN = re.compile(r"\bdrafts?\b|grew from|this session|was lent|planning notes|\bthe issue\b|"
                            r"quoted from the issue", re.I)


def _markdown_and_code(path):
    return "\n".join(cell.source for cell in notebooks.read(path).cells)


def _hits(pattern, text):
    return sorted({match.group(0) for match in pattern.finditer(text)})


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebooks_speak_of_the_subject_only(assignment):
    for path in (notebooks.release_path(ROOT, assignment), notebooks.solution_path(ROOT, assignment)):
        assert not _hits(STUDENT_FORBIDDEN, _markdown_and_code(path)), f"{path.relative_to(ROOT)}"


def test_the_student_guide_and_handout_readme_speak_of_the_subject_only():
    from course_utils.instructor import handout

    text = (ROOT / "docs" / "student-guide.md").read_text() + handout._readme("A", [])
    assert not _hits(STUDENT_FORBIDDEN, text)


@pytest.mark.parametrize("page", ["README.md", "docs/instructor-guide.md", "docs/maintainer-notes.md",
                                  "docs/results.md", "data/README.md"])
def test_docs_speak_of_the_course_not_its_history(page):
    assert not _hits(DOCS_FORBIDDEN, (ROOT / page).read_text()), page


def test_the_check_can_fail():
    assert _hits(STUDENT_FORBIDDEN, "As the draft did, measured at CI scale in this session.")
    assert _hits(DOCS_FORBIDDEN, "No GPU was lent to this session.")
    assert not _hits(STUDENT_FORBIDDEN, "the `ci` setting trains for two minutes; Blundell et al. draw a grid")
