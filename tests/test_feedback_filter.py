"""What feedback shows: visible tests, scores and short messages; never a hidden test, whatever the code printed."""
from __future__ import annotations

import nbformat

import codecs

from course_utils.instructor.sandbox.feedback_filter import (HIDDEN_NOTE, MESSAGE_LIMIT, REDACTED, VALUE_NOTE, WITHHELD,
                                                             filter_feedback, from_the_tests, redact, split_hidden)

HIDDEN_LINE = "assert abs(kl - 3.2188758248682006) < 1e-6, 'the KL of the reference layer'"
GRADE = ("value = answer()\nassert value == 2, 'answer() must be 2'\n### BEGIN HIDDEN TESTS\n" + HIDDEN_LINE
         + "\n### END HIDDEN TESTS\n")


def grade_cell(source: str, *outputs):
    cell = nbformat.v4.new_code_cell(source, outputs=list(outputs))
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": "test", "points": 1, "locked": True, "solution": False}
    return cell


def stream(text: str):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def error(name: str, message: str):
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}", "...", HIDDEN_LINE])


def test_split_hidden_cuts_the_hidden_region_and_tolerates_a_missing_end():
    visible, hidden = split_hidden(GRADE)
    assert visible == "value = answer()\nassert value == 2, 'answer() must be 2'\n" and hidden == [HIDDEN_LINE]
    visible, hidden = split_hidden("x = 1\n# ### BEGIN HIDDEN TESTS\nsecret = 2\nmore = 3")
    assert visible == "x = 1" and hidden == ["secret = 2", "more = 3"]


def test_redact_removes_hidden_lines_and_caps_the_length():
    assert redact(f"failed: {HIDDEN_LINE} (line 4)", [HIDDEN_LINE, ")"]) == f"failed: {REDACTED} (line 4)"
    assert redact("the KL of the reference layer", [HIDDEN_LINE]) == "the KL of the reference layer"
    assert len(redact("x" * 10_000, [])) == MESSAGE_LIMIT


def test_feedback_shows_no_hidden_test_and_nothing_printed_after_the_first_one():
    """A student's hook printed every cell's source (hidden tests included) into the outputs."""
    cells = [
        nbformat.v4.new_code_cell("def answer():\n    return 3", outputs=[stream("def answer():\n    return 3\n")]),
        nbformat.v4.new_code_cell("plot()", outputs=[nbformat.v4.new_output("display_data", data={"image/png": "AAAA"})]),
        grade_cell(GRADE, stream(GRADE), error("AssertionError", f"answer() must be 2 {HIDDEN_LINE}")),
        nbformat.v4.new_code_cell("print(stolen)", outputs=[stream(HIDDEN_LINE + "\n")]),
        grade_cell("assert answer() == 2, 'visible only'", stream("printed by a visible test\n")),
        nbformat.v4.new_code_cell("# my notes: ### BEGIN HIDDEN TESTS\nx = 1  # ### END SOLUTION"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    filter_feedback(notebook)
    answer, plot, graded, stolen, visible, notes = notebook.cells
    assert answer.outputs[0]["text"].startswith("def answer") and plot.outputs[0]["data"]["image/png"] == "AAAA"
    assert HIDDEN_LINE not in graded.source and "HIDDEN TESTS" not in graded.source
    assert [(o["output_type"], o["ename"], o["evalue"]) for o in graded.outputs] == [
        ("error", "AssertionError", WITHHELD)]  # not a message the tests write: the student's code made it
    assert graded.outputs[0]["traceback"] == [f"AssertionError: {WITHHELD}"]
    assert stolen.outputs == [stream(HIDDEN_NOTE + "\n")]
    assert visible.outputs == []  # a passing test after the hidden ones: its score says it all
    assert notes.source.startswith("# my notes: ### BEGIN HIDDEN TESTS")  # the student's own text, left alone
    assert HIDDEN_LINE not in nbformat.writes(notebook)


SOURCE = ("value = answer()\nassert value == 2, 'answer() must be 2'\n### BEGIN HIDDEN TESTS\n"
          "assert abs(kl - 3.2) < 1e-6, f'the KL of the reference layer is {kl}, expected 3.2'\n"
          "returns.assert_tensor(out, 'the output of one jet', (1, 5))\n### END HIDDEN TESTS\n")


def test_feedback_shows_the_messages_the_tests_write_and_no_other():
    """Student code can raise any message (the hidden tests' source, rot13-encoded): only the assertion messages of
    the cell and of the course's test helpers are shown, their formatted values without foreign words."""
    shown = ["answer() must be 2", "the KL of the reference layer is 2.9999, expected 3.2",
             "the KL of the reference layer is tensor(2.5, dtype=torch.float64), expected 3.2",
             "the output of one jet has shape (5,), expected (1, 5)"]
    import torch

    from course_utils.gradecells import state

    before = state.snapshot(torch.nn.Linear(2, 1))
    with torch.no_grad():
        after = state.snapshot(torch.nn.Linear(2, 1))
    try:  # what a test helper reports in its own words
        state.assert_state_kept(before, after, "the output of one jet")
    except AssertionError as error:
        shown.append(str(error))
    assert len(shown) == 5
    hidden = split_hidden(SOURCE)[1][0]
    withheld = [f"answer() must be 2 {hidden}", codecs.encode(hidden, "rot13"),
                "the KL of the reference layer is abs kl reference, expected 3.2 returns assert_tensor",
                "the KL of the reference layer is vgf uvqqra, expected 3.2", "shapes cannot be multiplied (2x3 and 4x5)"]
    for message in shown:
        assert from_the_tests(message, SOURCE), message
    for message in withheld:
        assert not from_the_tests(message, SOURCE), message


def test_feedback_names_only_builtin_errors_and_the_graders_own():
    cells = [grade_cell(SOURCE, error(name, message)) for name, message in (
        ("NotImplementedError", ""), ("assert_abs_kl_reference", "answer() must be 2"),
        ("KernelDied", "the kernel died in cell 4 (out of memory, or killed by the code); this cell and the ones after it did not run"),
        ("KernelDied", codecs.encode(split_hidden(SOURCE)[1][0], "rot13")))]
    notebook = nbformat.v4.new_notebook(cells=cells)
    filter_feedback(notebook)
    assert [(c.outputs[0]["ename"], c.outputs[0]["evalue"]) for c in notebook.cells] == [
        ("NotImplementedError", ""), ("Error", "answer() must be 2"),
        ("KernelDied", "the kernel died in cell 4 (out of memory, or killed by the code); this cell and the ones after it "
                       "did not run"), ("KernelDied", WITHHELD)]


def test_feedback_text_has_no_colour_codes_and_a_bounded_length():
    """Megabytes of terminal colour codes made feedback take minutes: they are dropped and long text is cut."""
    from course_utils.instructor.sandbox.feedback_filter import FEEDBACK_TEXT_LIMIT

    flood = "\x1b[31mred\x1b[0m " * 200_000
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(flood)", outputs=[stream(flood)])])
    filter_feedback(notebook)
    text = notebook.cells[0].outputs[0]["text"]
    assert "\x1b" not in text and text.startswith("red red ") and len(text) <= FEEDBACK_TEXT_LIMIT + 100


def test_feedback_shows_no_cell_too_long_to_render():
    """A 20 MB markdown cell (nbconvert took more than 10 GB rendering one) and the cells past the notebook's
    budget show a note; the others, and the tests' visible parts, as they were."""
    from course_utils.instructor.sandbox.feedback_filter import FEEDBACK_NOTEBOOK_SOURCE_LIMIT, FEEDBACK_SOURCE_LIMIT

    huge = "*a_" * 6_700_000
    cells = [nbformat.v4.new_markdown_cell("## my notes"), nbformat.v4.new_markdown_cell(huge),
             nbformat.v4.new_code_cell("x = 1  # " + "y" * (FEEDBACK_SOURCE_LIMIT + 1)),
             *[nbformat.v4.new_markdown_cell("z" * FEEDBACK_SOURCE_LIMIT)
               for _ in range(FEEDBACK_NOTEBOOK_SOURCE_LIMIT // FEEDBACK_SOURCE_LIMIT + 1)],
             grade_cell(GRADE)]
    notebook = nbformat.v4.new_notebook(cells=cells)
    filter_feedback(notebook)
    sources = [cell.source for cell in notebook.cells]
    assert sources[0] == "## my notes"
    assert sources[1].startswith("[this cell's 20100000 characters are not shown") and sources[2].startswith("# [this cell's")
    shown = [s for s in sources[3:-1] if not s.startswith("[this cell")]
    assert len(shown) == FEEDBACK_NOTEBOOK_SOURCE_LIMIT // FEEDBACK_SOURCE_LIMIT - 1  # "## my notes" took a share
    assert sources[-1] == split_hidden(GRADE)[0] and HIDDEN_LINE not in "".join(sources)  # a short cell still fits


def test_a_message_in_a_cell_with_hidden_tests_shows_no_value_student_code_chose():
    """A student's answer can spell out a hidden probe's inputs in the value a test's message formats (the KL
    13690712.25 encodes the probe's 37 minibatches): feedback shows the message's own text, each value as …"""
    cells = [grade_cell(SOURCE, error("AssertionError", "the KL of the reference layer is 13690712.25, expected 3.2")),
             grade_cell("assert value == 2, f'answer() is {value}, not 2'",
                        error("AssertionError", "answer() is 900007, not 2"))]
    notebook = nbformat.v4.new_notebook(cells=cells)
    filter_feedback(notebook)
    assert [c.outputs[0]["evalue"] for c in notebook.cells] == [
        f"the KL of the reference layer is {VALUE_NOTE}, expected 3.2", f"answer() is {VALUE_NOTE}, not 2"]


def test_a_tests_own_hint_is_not_taken_for_hidden_code():
    """A hidden test's message that names the line it would like to see (`with torch.no_grad():`, also a line of
    the hidden tests) shows it: the message is the test's own text."""
    source = ("### BEGIN HIDDEN TESTS\nwith torch.no_grad():\n    out = f()\n"
              "assert ok, 'autograd was left on: restore it, e.g. with torch.no_grad():'\n### END HIDDEN TESTS\n")
    notebook = nbformat.v4.new_notebook(cells=[grade_cell(source, error(
        "AssertionError", "autograd was left on: restore it, e.g. with torch.no_grad():"))])
    filter_feedback(notebook)
    assert notebook.cells[0].outputs[0]["evalue"] == "autograd was left on: restore it, e.g. with torch.no_grad():"
