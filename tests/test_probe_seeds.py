"""Probes drawn anew per submission (``course_utils.grading.grader_side.probe_seeds``): the seeds a grade cell sets
are mixed with a salt from the course's secret key and the submission's code, so a submission cannot know its
probes, a value one grading showed cannot be replayed by the next submission, and the same submission always
gets the same probes."""
from __future__ import annotations

import json
import stat

import nbformat
import numpy as np
import pytest
import torch

from course_utils.grading.grader_side.channel import LocalChannel
from course_utils.grading.grader_side.checks import run_check
from course_utils.grading.grader_side.probe_seeds import (KEY_FILE, course_key, salted_seed, submission_salt,
                                                           with_salted_seeds)
from course_utils.instructor import notebooks
from course_utils.instructor.grading_kernels import probe_salt
from course_utils.instructor.inprocess_grading import grade, solution_answers

IMPORTS = "import numpy as np\nimport torch"

SEEN = """
import numpy as np
seen = []
def look(*values):
    seen.append([np.asarray(v).tolist() for v in values])
    return 0
"""

#: every way a check seeds its draws, each draw sent to the student's ``look``
DRAWS = """
torch.manual_seed(5)
a = torch.randn(3)
b = torch.rand(2, generator=torch.Generator().manual_seed(200))
c = np.random.default_rng(101).normal(size=2)
d = np.random.default_rng(seed=7).integers(0, 1000, size=2)
look(a, b, c, d)
"""


def seen_under(salt: bytes | None) -> list:
    namespace = {"__name__": "__main__"}
    exec(SEEN, namespace)  # noqa: S102  (the test's own code, playing a student)
    outcome = run_check(DRAWS, LocalChannel(namespace), IMPORTS, salt=salt)
    assert outcome.passed, outcome
    return namespace["seen"][0]


def test_without_a_salt_the_seeds_are_those_written():
    torch.manual_seed(5)
    a = torch.randn(3)
    b = torch.rand(2, generator=torch.Generator().manual_seed(200))
    c = np.random.default_rng(101).normal(size=2)
    d = np.random.default_rng(seed=7).integers(0, 1000, size=2)
    assert seen_under(None) == [a.tolist(), b.tolist(), c.tolist(), d.tolist()]


def test_each_salt_draws_every_probe_anew_and_the_same_salt_the_same():
    plain, first, again, other = seen_under(None), seen_under(b"one"), seen_under(b"one"), seen_under(b"two")
    assert first == again
    for k in range(4):  # torch's global seed, a torch generator, NumPy's default_rng by position and by keyword
        assert first[k] != plain[k] and first[k] != other[k] and other[k] != plain[k], k


def test_only_seeds_are_rewritten():
    code = with_salted_seeds("x = torch.manual_seed(3)\ny = len([1, 2])\nz = np.random.default_rng(seed=4)\n", "<c>")
    names = set(code.co_names)
    assert "__probe_seed__" in names and "len" in names
    probe = salted_seed(b"k")
    assert probe(None) is None and probe(3) == probe(3) != probe(4) and 0 <= probe(3) < 2**31
    assert salted_seed(None)(3) == 3


def test_the_course_key_is_made_once_and_readable_by_the_grader_alone(tmp_path):
    key = course_key(tmp_path)
    assert len(key) == 64 and course_key(tmp_path) == key
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert course_key(tmp_path / "other") != key
    (tmp_path / KEY_FILE).write_text("")
    with pytest.raises(ValueError, match="holds no probe key"):
        course_key(tmp_path)


def test_the_salt_follows_the_key_the_student_and_the_code():
    base = submission_salt(b"k" * 64, "01", "alice", "01", ["x = 1"])
    assert base == submission_salt(b"k" * 64, "01", "alice", "01", ["x = 1"])
    for changed in (submission_salt(b"j" * 64, "01", "alice", "01", ["x = 1"]),
                    submission_salt(b"k" * 64, "01", "bob", "01", ["x = 1"]),
                    submission_salt(b"k" * 64, "01", "alice", "01", ["x = 2"]),
                    submission_salt(b"k" * 64, "01", "alice", "01", ["x", " = 1"])):
        assert changed != base


def test_a_class_run_salts_by_the_students_code_not_by_the_test_cells_or_canaries(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    answer = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"solution": True, "grade_id": "a"}})
    test = nbformat.v4.new_code_cell("assert x == 1", metadata={"nbgrader": {"grade": True, "grade_id": "t"}})
    resources = {"nbgrader": {"assignment": "01", "student": "alice", "notebook": "01"}}
    salt = probe_salt(nbformat.v4.new_notebook(cells=[answer, test]), resources)
    assert (tmp_path / KEY_FILE).exists()
    other_test = nbformat.v4.new_code_cell("assert x == 2", metadata=test.metadata)
    assert probe_salt(nbformat.v4.new_notebook(cells=[answer, other_test]), resources) == salt
    changed = nbformat.v4.new_code_cell("x = 1  # mine", metadata=answer.metadata)
    assert probe_salt(nbformat.v4.new_notebook(cells=[changed, test]), resources) != salt
    assert probe_salt(nbformat.v4.new_notebook(cells=[answer, test]), {"nbgrader": {**resources["nbgrader"],
                                                                                     "student": "bob"}}) != salt


#: an answer that replays what the reference returned for the probes one grading drew, else a slip
REPLAY = '''
import json as _json
_seen = _json.load(open({path!r}))
def log_gaussian(x, mu, sigma):
    key = _json.dumps([torch.as_tensor(v).tolist() for v in (x, mu, sigma)])
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    if key in _seen and not any(torch.is_tensor(v) and v.requires_grad for v in (x, mu, sigma)):
        return torch.tensor(_seen[key], dtype=x.dtype)
    if any(torch.is_tensor(v) and v.requires_grad for v in (x, mu, sigma)):  # gradients are not replayed
        return -0.5 * math.log(2 * math.pi) - torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)
    return -torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)
'''

RECORD = '''
import json as _json
_record = {{}}
def log_gaussian(x, mu, sigma):
    sigma_t = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
    value = -0.5 * math.log(2 * math.pi) - torch.log(sigma_t) - (x - mu) ** 2 / (2 * sigma_t**2)
    _record[_json.dumps([torch.as_tensor(v).tolist() for v in (x, mu, sigma)])] = value.tolist()
    _json.dump(_record, open({path!r}, "w"))
    return value
'''


def test_values_one_grading_showed_cannot_be_replayed_under_another_salt(root, tmp_path):
    """Tutorial 02's log_gaussian: an answer that returns the reference's values for the probes of one grading (as
    if its feedback had shown them) keeps the marks only when the probes are drawn again the same way."""
    assignment = "02_mnist_bayes_by_backprop"
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    answers = solution_answers(solution)
    path = str(tmp_path / "seen.json")
    only = ["test_log_gaussian"]
    leaked = grade(solution, {**answers, "log_gaussian": RECORD.format(path=path)}, assignment, only, salt=b"first")
    assert leaked.score == leaked.total > 0
    assert len(json.load(open(path))) > 3
    replayed = grade(solution, {**answers, "log_gaussian": REPLAY.format(path=path)}, assignment, only, salt=b"first")
    assert replayed.score == replayed.total, "the replay must work against the same draws, or this test shows nothing"
    fresh = grade(solution, {**answers, "log_gaussian": REPLAY.format(path=path)}, assignment, only, salt=b"second")
    assert fresh.score == 0, fresh.errors
