"""Grades decided in the grader's process (``course_utils.grading``): the wire format takes plain data only,
the grader's side never builds a student object, and a check sees what a right or wrong answer really does.

The checks run here against a namespace of code written for the test (``LocalChannel``), and once against a
real kernel (``KernelChannel``); tutorial 04's class with the attacks is graded end to end in test_autograde.
"""
from __future__ import annotations

import base64
import io
import json
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from course_utils.grading import wire
from course_utils.grading.grader_side.channel import KernelChannel, LocalChannel
from course_utils.grading.grader_side.checks import STUDENT_RAISED, run_check
from course_utils.grading.grader_side.proxies import Remote, Session, StudentError
from course_utils.grading.student_side import probe_server

IMPORTS = "import numpy as np\nimport torch\nfrom torch import nn"


def student(code: str) -> LocalChannel:
    namespace = {"__name__": "__main__"}
    exec(code, namespace)  # noqa: S102  (the test's own code, playing a student)
    return LocalChannel(namespace)


# -- the wire format -------------------------------------------------------------------------------------
def test_plain_values_cross_unchanged():
    value = {"a": [1, 2.5, float("nan"), float("-inf"), None, True, "text"], 3: (1, (2,)),
             "x": wire.ArrayValue(np.arange(6, dtype=np.float32).reshape(2, 3), tensor=True, requires_grad=True),
             "scalar": wire.ArrayValue(np.array(2.0), tensor=True)}
    back = wire.loads(wire.dumps(value))
    assert back["a"][:2] == [1, 2.5] and np.isnan(back["a"][2]) and back["a"][3:] == [float("-inf"), None, True, "text"]
    assert back[3] == (1, (2,))
    assert back["x"].tensor and back["x"].requires_grad and np.array_equal(back["x"].array, value["x"].array)
    assert back["x"].array.dtype == np.float32 and back["scalar"].array.shape == ()


def _npy(array: np.ndarray, allow_pickle: bool = False) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return base64.b64encode(buffer.getvalue()).decode()


class _Payload:
    ran = []

    def __reduce__(self):
        return (_Payload.ran.append, ("unpickled",))


@pytest.mark.parametrize("message", [
    json.dumps({"array": _npy(np.array([_Payload()], dtype=object), allow_pickle=True), "tensor": True, "requires_grad": False}),
    json.dumps({"array": _npy(np.array(["text"])), "tensor": False, "requires_grad": False}),
    json.dumps({"array": _npy(np.zeros(2, dtype=[("a", "f4")])), "tensor": False, "requires_grad": False}),
    json.dumps({"pickle": base64.b64encode(pickle.dumps(_Payload())).decode()}),
    json.dumps({"result": 1, "passed": True}),
    json.dumps({"float": "1e308"}),
    "NaN",
    json.dumps({"array": "not base64!", "tensor": False, "requires_grad": False}),
    "[" * 100 + "]" * 100,
])
def test_anything_but_plain_data_is_refused_and_nothing_is_unpickled(message):
    with pytest.raises(wire.WireError):
        wire.loads(message)
    assert not _Payload.ran


def test_messages_are_bounded(monkeypatch):
    monkeypatch.setattr(wire, "MAX_MESSAGE_CHARS", 1000)
    with pytest.raises(wire.WireError):
        wire.dumps(wire.ArrayValue(np.zeros(1000)))
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps(["x" * 2000]))


# -- what the student's side sends ----------------------------------------------------------------------
def test_objects_stay_in_the_student_process_as_handles():
    channel = student("""
import numpy as np, torch
class Lying(np.ndarray):
    def __array_function__(self, *a):
        return True
class Tensorish(torch.Tensor):
    pass
def numbers():
    return np.zeros(3).view(Lying)
def tensor():
    return torch.ones(2).as_subclass(Tensorish)
def thing():
    return object()
""")
    session = Session(channel)
    assert isinstance(session.resolve("numbers")(), Remote)  # an ndarray subclass is no plain array
    assert isinstance(session.resolve("thing")(), Remote)
    found = session.resolve("tensor")()  # its numbers, whatever its class says: a plain tensor here
    assert type(found) is torch.Tensor and torch.equal(found, torch.ones(2))


def test_a_forged_answer_fails_the_check_and_runs_nothing():
    channel = student("def f():\n    return 1\n")
    channel.server = type("Forger", (), {"answer": lambda self, request: None})()
    forged = json.dumps({"result": {"array": _npy(np.array([_Payload()], dtype=object), allow_pickle=True),
                                    "tensor": True, "requires_grad": False}, "passed": True})
    original = probe_server.respond
    try:
        probe_server.respond = lambda server, text: forged
        outcome = run_check("assert f() == 1", channel, IMPORTS)
    finally:
        probe_server.respond = original
    assert not outcome.passed and not _Payload.ran


def test_student_exceptions_come_back_as_text():
    outcome = run_check("f(2)", student("def f(x):\n    raise ValueError(f'bad {x}')\n"), IMPORTS)
    assert (outcome.passed, outcome.error_name, outcome.message) == (False, "ValueError", STUDENT_RAISED)
    outcome = run_check("g()", student(""), IMPORTS)
    assert not outcome.passed and outcome.error_name == "NameError"


def test_attributes_the_check_sets_and_tensors_it_changes_in_place_reach_the_student_object():
    channel = student("import torch\nclass A:\n    def __init__(self):\n        self.flag, self.w = True, torch.zeros(3)\n"
                      "    def report(self):\n        return self.flag, self.w.sum().item()\n")
    session = Session(channel)
    a = session.resolve("A")()
    a.flag = False
    w = a.w
    w.fill_(2.0)  # the grader's copy, changed in place: sent before the next request
    assert a.report() == (False, 6.0)
    b = session.resolve("A")()
    b.w  # read, unchanged: nothing is sent
    with pytest.raises(TypeError):
        a.flag = object()  # only plain data, handles and small modules cross


# -- a check sees what the answer really does -----------------------------------------------------------
LIVE_STATE = """
class Keeper:
    def keep(self, model):
        self.state = model.state_dict()  # a live reference, not a copy
    def restore(self, model):
        model.load_state_dict(self.state)
"""
COPIED_STATE = LIVE_STATE.replace("model.state_dict()", "{k: v.clone() for k, v in model.state_dict().items()}")
KEEP_CHECK = """
probe = nn.Linear(2, 1)
keeper = Keeper()
with torch.no_grad():
    probe.weight.fill_(1.0)
keeper.keep(probe)
with torch.no_grad():
    probe.weight.fill_(5.0)
keeper.restore(probe)
assert torch.all(probe.weight == 1.0), "restore loads the kept weights"
"""


@pytest.mark.parametrize("code, passes", [(COPIED_STATE, True), (LIVE_STATE, False)])
def test_modules_passed_by_the_grader_keep_their_identity_in_the_student_process(code, passes):
    assert run_check(KEEP_CHECK, student(code), IMPORTS).passed is passes


@pytest.mark.parametrize("body, passes", [("return x * 2", True), ("x *= 2\n    return x", False)])
def test_changes_to_watched_array_arguments_in_place_come_back(body, passes):
    check = ("from course_utils.gradecells import returns\nx = np.ones(3)\nf(returns.watched(x))\n"
             "assert np.all(x == 1), 'f changed its input'")
    assert run_check(check, student(f"def f(x):\n    {body}\n"), IMPORTS).passed is passes


def test_a_function_cannot_change_the_data_a_check_compares_with():
    """An input the check does not watch keeps the check's values, whatever the function did to its copy."""
    check = ("x = np.arange(3.0)\nreference = x\nfound = f(x)\n"
             "assert np.allclose(found, 2 * reference), 'f doubles'")
    assert not run_check(check, student("def f(x):\n    x[:] = 0\n    return 2 * x\n"), IMPORTS).passed
    assert run_check(check, student("def f(x):\n    return 2 * x\n"), IMPORTS).passed


def test_a_student_exception_shows_its_built_in_name_only():
    code = ("class KernelDied(Exception):\n    pass\n"
            "def fake():\n    raise KernelDied('the kernel died in cell 3 (out of memory)')\n"
            "def asserting():\n    raise AssertionError('delta phi = 0.123456: wrap it into (-pi, pi]')\n"
            "def stop():\n    raise StopIteration\n")
    fake = run_check("fake()", student(code), IMPORTS)
    assert (fake.error_name, fake.message) == ("Exception", STUDENT_RAISED)
    asserting = run_check("asserting()", student(code), IMPORTS)
    assert asserting.error_name == "StudentAssertionError" and "0.123456" not in asserting.message
    # a StopIteration of the student's code must not end the check's own loops as if they were done
    stopped = run_check("assert all(map(lambda _: stop(), range(3))), 'never reached'", student(code), IMPORTS)
    assert not stopped.passed


def test_a_message_of_too_many_values_is_refused():
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps([[]] * (wire.MAX_ITEMS + 1)))
    with pytest.raises(wire.WireError):
        wire.loads(json.dumps({"dict": [[k * (2**61 - 1), 0] for k in range(wire.MAX_DICT_ENTRIES + 1)]}))


def test_autograd_mode_and_modes_a_call_leaves_come_back():
    check = ("model = nn.Linear(2, 1).train()\nrun(model)\n"
             "assert torch.is_grad_enabled(), 'autograd left off'\nassert model.training, 'mode changed'")
    assert run_check(check, student("import torch\ndef run(model):\n    with torch.no_grad():\n        model(torch.ones(1, 2))\n"),
                     IMPORTS).passed
    assert not run_check(check, student("import torch\ndef run(model):\n    torch.set_grad_enabled(False)\n"), IMPORTS).passed
    assert not run_check(check, student("def run(model):\n    model.eval()\n"), IMPORTS).passed


def test_seeds_of_the_check_make_the_student_draws_reproducible():
    code = "import torch\ndef draw():\n    return torch.randn(3)\n"
    check = "torch.manual_seed(1)\na = draw()\ntorch.manual_seed(1)\nb = draw()\nc = draw()\n" \
            "assert torch.equal(a, b) and not torch.equal(b, c)"
    assert run_check(check, student(code), IMPORTS).passed


RECORD_CHECK = """
from course_utils.gradecells.instruments import DeterministicAmplitudeNet
model = DeterministicAmplitudeNet()
validate(model, torch.ones(4, 20))
assert model.grad_enabled == [False], f"one pass without gradients, got {model.grad_enabled}"
"""
HONEST_PASS = "    with torch.no_grad():\n        model(x)\n"
SLIP = "    model(x)\n"


@pytest.mark.parametrize("body, passes", [
    (HONEST_PASS, True),
    ("    import copy\n    spare = copy.deepcopy(model)\n    spare.grad_enabled.clear()\n" + HONEST_PASS, True),
    ("    import copy\n    spare = copy.deepcopy(model)\n    spare(x)\n    model.grad_enabled.append(False)\n", False),
    (SLIP, False),
    (SLIP + "    model.grad_enabled[:] = [False]\n", False),
    (SLIP + "    model.grad_enabled.clear()\n    model.grad_enabled.append(False)\n", False),
    (SLIP + "    model.grad_enabled = [False]\n", False),
    (SLIP + "    model.grad_enabled.pop()\n    model.grad_enabled.append(False)\n", False),
    (SLIP + "    list.clear(model.grad_enabled)\n    model.grad_enabled.append(False)\n", False),
    (SLIP + "    model.__dict__['grad_enabled'] = type(model.grad_enabled)([False])\n", False),
    (SLIP + "    model.grad_enabled.__init__([False])\n", False),
    (SLIP + "    model._kept = {}\n    model.grad_enabled = [False]\n", False),
])
def test_what_an_instrument_recorded_cannot_be_rewritten_by_the_code_under_test(body, passes):
    """A slip (autograd on) hidden by rewriting the instrument's record fails the check, with a message that says
    so; a function that leaves the record alone (even one that copies the model and changes the copy) passes."""
    outcome = run_check(RECORD_CHECK, student(f"import torch\ndef validate(model, x):\n{body}"), IMPORTS)
    assert outcome.passed is passes, outcome
    if not passes and body != SLIP:
        assert "changed what the DeterministicAmplitudeNet it was given recorded" in outcome.message, outcome


KNOWN_TAGGER_CHECK = """
from course_utils.gradecells.instruments import KnownTagger
tagger = KnownTagger()
x = torch.rand(6, 1, 2, 2)
look(tagger, x)
assert torch.equal(torch.cat(tagger.seen), x[:, 0, 0, 0]), "the tagger saw the first pixels"
"""


@pytest.mark.parametrize("body, passes", [
    ("    tagger(x)\n", True),
    ("    tagger(x)\n    tagger.seen[0].mul_(1.0)\n", True),
    ("    tagger(x)\n    tagger.seen[0].add_(1.0)\n", False),
    ("    tagger(x)\n    tagger.seen[0][0] = -1.0\n", False),
])
def test_a_recorded_tensor_changed_in_place_is_seen(body, passes):
    """An entry of a record (a tensor) edited in place after the instrument recorded it marks the record as
    changed; leaving its values as they were does not."""
    outcome = run_check(KNOWN_TAGGER_CHECK, student(f"import torch\ndef look(tagger, x):\n{body}"), IMPORTS)
    if passes:
        assert outcome.passed, outcome
    else:
        assert not outcome.passed and "changed what the KnownTagger it was given recorded" in outcome.message, outcome


def test_record_fingerprints_cover_tensors_arrays_tuples_and_half_precision():
    from course_utils.gradecells.instruments import Record

    record = Record([torch.ones(3), np.zeros(2), (4, True), torch.ones(2, dtype=torch.bfloat16), 7])
    assert not record.is_changed()
    record[3].add_(1)
    assert record.is_changed()
    appended = Record([1])
    appended.append(2)  # by code other than an instrument's: an answer forging what the model saw
    assert appended.is_changed()
    other = Record([np.arange(3.0)])
    other[0][1] = 5.0
    assert other.is_changed()


LYING_REQUIRES_GRAD = """
import torch
from torch import nn
class _Always:
    def __get__(self, obj, owner=None):
        return True if obj is not None else self
    def __set__(self, obj, value):
        torch._C.TensorBase.__dict__["requires_grad"].__set__(obj, value)
def freeze(layer):
    for p in layer.parameters():
        p.requires_grad_(False)
    nn.Parameter.requires_grad = _Always()
    torch.Tensor.requires_grad = _Always()
def constant():
    return torch.ones(3)
"""


def test_a_property_that_lies_about_requires_grad_is_not_believed():
    """Student code that switches off a layer's gradients and then makes ``requires_grad`` answer True (a
    property on ``nn.Parameter`` and ``torch.Tensor``) is seen: the probe server reads the flag at the C level.
    (A kernel of its own: the lie is global to the process it is told in.)"""
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = AsyncKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)()
    client = km.client()
    client.start_channels()
    try:
        run_sync(client.wait_for_ready)(timeout=60)
        reply = run_sync(client.execute_interactive)(LYING_REQUIRES_GRAD, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]
        channel = KernelChannel(client)
        check = ("layer = nn.Linear(3, 2)\nfreeze(layer)\n"
                 "assert all(p.requires_grad for p in layer.parameters()), 'requires_grad was switched off'\n")
        outcome = run_check(check, channel, IMPORTS, seconds=60)
        assert (outcome.passed, outcome.message) == (False, "requires_grad was switched off"), outcome
        returned = run_check("assert not constant().requires_grad, 'no gradient'", channel, IMPORTS, seconds=60)
        assert returned.passed, returned
    finally:
        client.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


# -- through a real kernel ------------------------------------------------------------------------------
def test_a_check_runs_against_a_real_kernel():
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import run_sync

    km = AsyncKernelManager(kernel_name="python3")
    run_sync(km.start_kernel)()
    client = km.client()
    client.start_channels()

    def run(code: str) -> None:
        reply = run_sync(client.execute_interactive)(code, timeout=60, output_hook=lambda msg: None)
        assert reply["content"]["status"] == "ok", reply["content"]

    try:
        run_sync(client.wait_for_ready)(timeout=60)
        run("import torch\nfrom torch import nn\ndef double(x):\n    return 2 * x\n"
            "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
            "        self.layer = nn.Linear(3, 2)\n    def forward(self, x):\n        return self.layer(x)\n")
        channel = KernelChannel(client)
        check = ("x = torch.randn(4, 3)\nassert torch.equal(double(x), 2 * x)\n"
                 "net = Net()\nassert net(x).shape == (4, 2)\nassert 'torch.nn.modules.module.Module' in net.type_names\n")
        outcome = run_check(check, channel, IMPORTS, seconds=60)
        assert outcome.passed, outcome
        assert channel.requests >= 4
        failing = run_check("assert double(torch.ones(1)).item() == 3.0, 'double(1) is 3?'", channel, IMPORTS, seconds=60)
        assert (failing.passed, failing.message) == (False, "double(1) is 3?")
        # a notebook that made float64 its default: the check's probes are made in float64, as its own test cells
        run("torch.set_default_dtype(torch.float64)")
        wide = run_check("x = torch.randn(4, 3)\nassert x.dtype == torch.float64\nnet = Net()\n"
                         "assert net(x).dtype == torch.float64", channel, IMPORTS, seconds=60)
        assert wide.passed and torch.get_default_dtype() == torch.float32, wide
        run("torch.set_default_dtype(torch.float32)")
        # patches beside the student's code: comparisons, a tracer (the check's comparisons are not there)
        run("import sys, numpy, torch\nsetattr(torch, 'equal', lambda *a, **k: True)\n"
            "setattr(numpy, 'allclose', lambda *a, **k: True)\nsys.settrace(lambda *a: None)\n"
            "def double(x):\n    return 3 * x\n")
        patched = run_check("x = torch.randn(4, 3)\nassert torch.equal(double(x), 2 * x), 'double doubles'", channel,
                            IMPORTS, seconds=60)
        assert (patched.passed, patched.message) == (False, "double doubles")
        run("import time\ndef slow():\n    time.sleep(30)\n")
        stuck = run_check("slow()", KernelChannel(client, interrupt=km.interrupt_kernel), IMPORTS, seconds=2)
        assert (stuck.passed, stuck.error_name) == (False, "TimeoutError")
        after = run_check("assert double(1) == 3", KernelChannel(client), IMPORTS, seconds=60)
        assert after.passed, f"the kernel answers again after the interrupt: {after}"
        # a kernel whose comms answer nothing: the check fails at once with its reason (no wait for the deadline)
        run("manager = get_ipython().kernel.comm_manager\nmanager.targets.clear()\nmanager.register_target = lambda *args, **kwargs: None")
        silent = run_check("assert double(1) == 3", KernelChannel(client), IMPORTS, seconds=600)
        assert (silent.passed, silent.error_name) == (False, "TimeoutError") and "probe server" in silent.message, silent
    finally:
        client.stop_channels()
        run_sync(km.shutdown_kernel)(now=True)


# -- the test helpers give the same answers on a handle as on a local object ----------------------------
HELPERS_STUDENT = """
import numpy as np, torch
from torch import nn
def square(x, y):
    return x**2 * y
def detached(x, y):
    return (x**2 * y).detach()
class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.arange(6.0).reshape(2, 3))
        self.unused = nn.Parameter(torch.ones(1))
    def forward(self, x):
        out = x @ self.w.T
        self.term = (self.w ** 2).sum()
        return out
def looping(x):
    return np.array([row.sum() for row in x])
def vectorised(x):
    return x.sum(axis=1)
def noisy(n):
    return torch.randn(n)
def raises(kind):
    raise {"value": ValueError, "key": KeyError, "own": type("OwnError", (Exception,), {})}[kind]("no")
"""
HELPERS_CHECK = """
from course_utils.gradecells import gradients, loops, state
from course_utils.gradecells.draws import repeated_passes
torch.manual_seed(3)
passes = repeated_passes(noisy, 50, 4)
assert len(passes) == 50 and all(p.shape == (4,) for p in passes) and torch.stack(passes).std(dim=0).min() > 0.5
torch.manual_seed(3)
assert all(torch.equal(a, b) for a, b in zip(passes, repeated_passes(noisy, 50, 4))), "the check's seed decides the draws"
x = torch.tensor([1.0, 2.0], requires_grad=True)
out, grads = gradients.input_gradients(square, x, torch.tensor([3.0, 4.0]))
assert torch.allclose(out, torch.tensor([3.0, 16.0])) and torch.allclose(grads[0], torch.tensor([6.0, 16.0])) and grads[1] is None
try:
    gradients.input_gradients(detached, x, torch.tensor([3.0, 4.0]))
except RuntimeError:
    pass
else:
    raise AssertionError("a detached output has no gradient")
layer = Layer()
out, term_grads, values = gradients.pass_gradients(layer, "forward", torch.ones(4, 3), terms=("output", "term"))
assert out.shape == (4, 2) and torch.allclose(term_grads["output"]["w"], torch.full((2, 3), 4.0))
assert torch.allclose(term_grads["term"]["w"], 2 * torch.arange(6.0).reshape(2, 3)) and term_grads["term"]["unused"] is None
assert values["term"].requires_grad and abs(values["term"].item() - 55.0) < 1e-6
assert set(gradients.parameter_gradients(layer, "forward", torch.ones(1, 3))) == {"w", "unused"}
snapshot = state.snapshot(layer)
assert snapshot.training == {"<model>": True} and snapshot.requires_grad == {"w": True, "unused": True}
assert loops.lines_run(vectorised, np.ones((40, 3))) == loops.lines_run(vectorised, np.ones((2, 3)))
assert loops.lines_run(looping, np.ones((40, 3))) > loops.lines_run(looping, np.ones((2, 3))) + 30
for kind, caught in (("value", ValueError), ("key", KeyError)):
    try:
        raises(kind)
    except caught:
        pass
try:
    raises("own")
except Exception as exc:
    assert "OwnError" in type(exc).__name__ + str(exc)
"""


def test_the_helpers_answer_alike_on_handles_and_on_local_objects():
    outcome = run_check(HELPERS_CHECK, student(HELPERS_STUDENT), IMPORTS)
    assert outcome.passed, outcome
    local = {"__name__": "__main__"}
    exec(IMPORTS + "\n" + HELPERS_STUDENT + "\n" + HELPERS_CHECK, local)  # noqa: S102  (the same check, in-process)


def test_gradients_of_another_shape_than_their_arguments_fail_the_check():
    """A kernel answering input gradients as empty arrays (which torch.allclose broadcasts to True) fails."""
    lying = student("import torch\ndef f(x):\n    return x.sum()\n")
    original = lying.server.answer

    def answer(request):
        found = original(request)
        if request.get("op") == "input_gradients":
            found["result"]["grads"] = [wire.ArrayValue(np.zeros((0,) + g.array.shape, np.float32), tensor=True)
                                        for g in found["result"]["grads"]]
        return found

    lying.server.answer = answer
    check = ("from course_utils.gradecells import gradients\n_, (g,) = gradients.input_gradients(f, torch.ones(3, 2, "
             "requires_grad=True))\nassert torch.allclose(g, torch.ones(3, 2))")
    outcome = run_check(check, lying, IMPORTS)
    assert not outcome.passed and "shape" in outcome.message, outcome
