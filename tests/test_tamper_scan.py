"""The tamper scan: honest answers are never flagged, attacks on the tests always are.

The honest corpus is every answer the course's tests know to be a student's own work: each solution (its
answer cells as a perfect student submits them), every right answer written differently and every wrong
answer of ``tests/test_grading_0N.py`` (their ``ALTERNATIVES`` and ``WRONG``, imported: they grow with the
course), and the honest students of the demo classes.
"""
from __future__ import annotations

import importlib

import nbformat
import pytest

from conftest import ASSIGNMENTS
from course_utils.instructor import notebooks
from course_utils.instructor.sandbox.tamper_scan import context_of, scan_bindings, scan_notebook, scan_source
from course_utils.instructor.submissions import (ATTACK_CLASS, FLAGGED, HARDENING_CLASS, DEMO_CLASSES, perfect,
                                                 untouched)

IMPORTS = {"torch": "torch", "np": "numpy", "nn": "torch.nn", "F": "torch.nn.functional", "math": "math", "os": "os",
           "plt": "matplotlib.pyplot"}


def honest_submissions(root, assignment: str) -> dict[str, nbformat.NotebookNode]:
    """Every honest submission of ``assignment`` the course's tests know of."""
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    release = notebooks.read(notebooks.release_path(root, assignment))
    grading = importlib.import_module(f"test_grading_{assignment[:2]}")
    found = {}
    for name, (grade_id, source) in grading.ALTERNATIVES.items():
        submission = perfect(release, solution)
        notebooks.solution_cells(submission)[grade_id].source = source
        found[f"right: {name}"] = submission
    for name, (grade_id, old, new) in grading.WRONG.items():
        submission = perfect(release, solution)
        cell = notebooks.solution_cells(submission)[grade_id]
        cell.source = _edited(cell.source, old, new)
        found[f"wrong: {name}"] = submission
    for student, (_, make) in DEMO_CLASSES[assignment].items():
        submission = make(release, solution)
        if not isinstance(submission, str):
            found[f"demo: {student}"] = submission
    return found


def _edited(source: str, old, new) -> str:
    """A wrong answer as ``WRONG`` describes it: ``old`` replaced by ``new`` (pairs of them as tuples), or the
    whole answer replaced when ``old`` is None."""
    if old is None:
        return new
    if isinstance(old, tuple):
        for one, other in zip(old, new):
            source = source.replace(one, other)
        return source
    return source.replace(old, new)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_honest_answer_is_ever_flagged(root, assignment):
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    release = notebooks.read(notebooks.release_path(root, assignment))
    submissions = honest_submissions(root, assignment)
    assert len(submissions) > 10 and "demo: alice" in submissions
    flagged = {name: [str(f) for f in scan_notebook(submission, solution, release)]
               for name, submission in submissions.items()}
    assert not {name: found for name, found in flagged.items() if found}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_demo_attacks_are_flagged_as_expected(root, assignment):
    """The hardening and attack students the class run flags; the others are stopped by the sandbox alone
    (they use nothing the scan could tell from an answer), or are no attack on the tests at all."""
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    release = notebooks.read(notebooks.release_path(root, assignment))
    flagged = set()
    for student, (_, make) in {**HARDENING_CLASS, **ATTACK_CLASS}.items():
        submission = make(release, solution)
        if not isinstance(submission, str) and scan_notebook(submission, solution, release):
            flagged.add(student)
    assert flagged == FLAGGED


ATTACKS = {
    "code from a hex string run by timeit": "import timeit\ntimeit.timeit(stmt=bytes.fromhex('7072696e74283129').decode(), number=1)",
    "code from a string run by the profiler": "import cProfile\ncProfile.run('print(1)')",
    "code from a string run by torch's benchmark timer": "from torch.utils import benchmark\nbenchmark.Timer(stmt='print(1)').timeit(1)",
    "an IPython hook": "ip = get_ipython()\nip.events.register('post_run_cell', lambda result: None)",
    "a silenced traceback": "import IPython\nIPython.get_ipython().showtraceback = lambda *a, **k: None",
    "the shell through exit": "shell = exit._ip",
    "an AST transformer": "import ast\nclass T(ast.NodeTransformer):\n    def visit_Assert(self, node):\n        return None",
    "tracing": "import sys\nsys.settrace(lambda *a: None)",
    "sys.modules under another name": "import sys as s\nshell = s.modules['IPython']",
    "sys.modules through torch": "shell = torch.sys.modules",
    "sys.modules imported": "from sys import modules",
    "exec": "exec(open('answers.py').read())",
    "eval": "f = eval('lambda: 1')",
    "compile": "code = compile('1', 'x', 'eval')",
    "the builtins module": "import builtins\nbuiltins.abs = lambda x: 0",
    "__builtins__": "__builtins__['abs'] = None",
    "frames through a traceback": "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    g = e.__traceback__.tb_frame.f_back.f_globals",
    "inspect": "import inspect\nframe = inspect.currentframe()",
    "the cells' sources": "print(In[-1])",
    "the cells' history": "print(_ih[3], _i5)",
    "gc": "import gc\nobjects = gc.get_objects()",
    "ctypes": "import ctypes",
    "subprocess": "import subprocess\nsubprocess.run(['ls'])",
    "os.system": "os.system('ls')",
    "os.fork": "pid = os.fork()",
    "signals": "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)",
    "sockets": "import socket",
    "importlib": "import importlib\nshell = importlib.import_module('IPython')",
    "__import__": "shell = __import__('IPython')",
    "getattr by a computed name": "g = getattr(f, 'f_' + 'globals')",
    "getattr of a frame attribute": "g = getattr(f, '__globals__')",
    "monkeypatching torch": "torch.allclose = lambda *a, **k: True",
    "monkeypatching numpy.testing": "np.testing.assert_allclose = lambda *a, **k: None",
    "monkeypatching math": "math.isclose = lambda *a, **k: True",
    "monkeypatching nn.Module": "nn.Module.__call__ = lambda self, *a: 0",
    "monkeypatching by setattr": "setattr(torch, 'allclose', lambda *a, **k: True)",
    "monkeypatching course_utils": "import course_utils.gradecells as checks\nchecks.sampling = None",
    "a tensor subclass": "class T(torch.Tensor):\n    pass",
    "an object equal to everything": "class X:\n    def __eq__(self, other):\n        return True",
    "a class built by type()": "X = type('X', (), {'__eq__': lambda s, o: True})",
    "a format string reading internals": "'{0.__class__}'.format(x)",
    "an absolute path": "notebook = open('/work/course/solutions/a.ipynb').read()",
    "a path above the working folder": "open('../../../gradebook.db', 'w')",
    "/proc": "os.listdir('/proc')",
    "a URL": "import pandas as pd\npd.read_csv('http://127.0.0.1:8000/answers.csv')",
    "a shell magic": "%%bash\nls",
    "a shell command": "!ls",
    "code hidden in %time": "%time get_ipython()",
    "pickle": "import pickle",
    "torch.load of pickles": "state = torch.load('model.pt')",
    "torch's operator registry": "torch.library.impl('aten::add', 'CPU')",
    "torch's private internals": "torch._C._set_grad_enabled(False)",
    "the namespace": "g = globals()",
    "the hidden tests' markers": "start = source.index('### BEGIN HIDDEN TESTS')",
    "threads": "import threading",
    "operator": "import operator\nget = operator.attrgetter('f_globals')",
    "types": "import types",
    "mock": "from unittest import mock",
    "os.sys": "modules = os.sys.modules",
    "numpy's os": "np.os.system('ls')",
    "sys.path": "import sys\nsys.path.insert(0, '/tmp')",
    "pickles through numpy": "a = np.load('x.npy', allow_pickle=True)",
    "pickles through joblib": "import joblib\nmodel = joblib.load('model.pkl')",
    "YAML objects": "import yaml\nconfig = yaml.load(text, Loader=yaml.Loader)",
    "the probe server, patched through a helper": ("from course_utils.grading.student_side import probe_server as ps\n"
                                                   "def install(where, f):\n    where.module_state = f\ninstall(ps, print)"),
    "the test helpers, patched through a helper": ("from course_utils.gradecells import sampling\n"
                                                   "def install(where, f):\n    where.layers_that_sample = f\n"
                                                   "install(sampling, print)"),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_every_attack_construct_is_flagged(name):
    assert scan_source(ATTACKS[name], IMPORTS), f"{name} was not flagged"


HONEST = {
    "an allowed magic": "%matplotlib inline\nx = 1",
    "code timed by a magic": "%%time\ny = torch.ones(3)",
    "help": "torch.ones?",
    "os.path": "path = os.path.join('a', 'b')",
    "settings of matplotlib": "plt.rcParams['figure.figsize'] = (3, 4)",
    "torch's settings": "torch.backends.cudnn.deterministic = True",
    "a module's modules": "layers = [m for m in model.modules()]",
    "an attribute named like IPython's": "self.kernel, self.events, self.shell = 1, 2, 3",
    "physics text": "print(f'{n} events in {path}')",
    "sys.version": "import sys\nprint(sys.version)",
    "a relative path": "open('results.txt', 'w').write('ok')",
    "a comment with the markers": "# ### BEGIN HIDDEN TESTS\nx = 1  # ### END SOLUTION",
    "a syntax error": "def f(:\n    pass",
    "getattr by a constant": "w = getattr(layer, 'weight')",
    "a loop variable": "for _ in range(3):\n    pass",
    "torch.load of weights": "state = torch.load('model.pt', weights_only=True)",
    "numpy.testing used": "np.testing.assert_allclose(a, b)",
}


@pytest.mark.parametrize("name", list(HONEST))
def test_honest_constructs_pass(name):
    assert scan_source(HONEST[name], IMPORTS) == []


def test_names_the_tests_use_cannot_be_rebound():
    context = context_of(["import torch\nimport numpy as np\nfrom torch import nn\ndef helper():\n    pass"],
                         ["assert all([torch.allclose(a, b), abs(x) < 1, helper()])"], ["def answer():\n    pass"])
    rebound = {"torch = None", "import jax.numpy as np", "all = lambda x: True", "def abs(x):\n    return 0",
               "def helper():\n    return 1", "for torch in []:\n    pass", "del torch"}
    kept = {"from torch import nn", "import numpy as np", "max = 3", "def answer():\n    return 2",
            "def f():\n    all = 1\n    return all"}
    assert all(scan_bindings(source, context, context.imports) for source in rebound)
    assert not any(scan_bindings(source, context, context.imports) for source in kept)


def test_only_cells_the_student_could_edit_are_scanned(root):
    """Restored test cells and unchanged instructor cells are the instructor's: never scanned, even when they
    use what an answer may not."""
    assignment = ASSIGNMENTS[0]
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    release = notebooks.read(notebooks.release_path(root, assignment))
    solution.cells[0] = nbformat.v4.new_code_cell("instructor_shell = get_ipython()")
    release.cells[0] = solution.cells[0]
    submission = untouched(release, solution)
    assert scan_notebook(submission, solution, release) == []
    submission.cells[0].source += "\n"
    assert [f.what for f in scan_notebook(submission, solution, release)] == ["get_ipython"]


def test_code_nested_too_deeply_to_scan_is_flagged_and_the_scan_goes_on():
    """A sum of 3000 terms is valid Python that the scan's tree walk cannot follow: flagged, never a crash
    that would stop the class run."""
    context = context_of([], ["assert f(1) == 2"], ["def f(x):\n    return 2 * x"])
    deep = "_padding = " + " + ".join(["1"] * 3000) + "\ndef f(x):\n    return 2 * x"
    from course_utils.instructor.sandbox.tamper_scan import scan_cells

    findings = scan_cells([(3, deep), (4, "y = f(2)")], context)
    assert [(f.cell, f.what) for f in findings] == [(3, "code nested too deeply to scan")]


def test_a_string_crafted_against_the_scan_is_flagged_at_once():
    """A string that made a regular expression backtrack for hours is flagged unread; format fields that read
    internals are still found, in linear time."""
    from course_utils.instructor.sandbox.tamper_scan import format_internals

    crafted = "{" + "." * 40000 + "_" * 40000
    assert not format_internals(crafted) and format_internals("{0.__class__}") and format_internals("{x[_y]}")
    assert not format_internals("{name} {a.b}")
    findings = scan_source(f"text = {crafted!r}\n")
    assert any("not read by the scan" in str(finding) for finding in findings)
