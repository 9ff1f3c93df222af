"""The probe server: the student's kernel answers the grader's probe requests with plain data.

The grader runs :func:`listen` once (an ``execute_request``), opens a comm to :data:`COMM_TARGET` and sends
each request as a comm message (JSON text, :mod:`course_utils.grading.wire`); the answer comes back as a comm
message too. (:func:`serve` answers one request of an ``execute_request`` by a display under :data:`MIME`.)
A request names what to do: resolve a name of the notebook, call a handle (a class builds an object, a
function or method runs) with arrays, numbers and handles as arguments, read an attribute, run backward
and report gradients, count the calls of a submodule. Objects that are not plain data stay here, named by
a handle. Modules the grader passes by value (small ``torch.nn`` layers and the course's instruments)
are mirrored: their state comes in with the request and goes back with the answer.

This module holds no test and no expected value: the grader compares what it answers. Student code can
change anything here; it can then only answer other data.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from torch import nn

from ...gradecells import draws, gradients, layers, loops, sampling, training
from .. import wire
from ..modules import _numpy, _requires_grad, build_module, load_module_state, module_state

#: the MIME type of an answer to :func:`serve`
MIME = "text/x-course-probe"
#: the most items an iterable may give, and characters of printed output a call may return
MAX_ITEMS = 10_000
MAX_PRINTED = 100_000
#: the comm target of :func:`listen`
COMM_TARGET = "course-probe"
#: autograd's state read at the C level, taken when the server is imported (before any student cell runs), as
#: tensors' ``requires_grad`` is (``modules._requires_grad``): a replaced ``torch.is_grad_enabled`` cannot answer
_grad_enabled = torch._C.is_grad_enabled


class ProbeServer:
    """Handles and mirrors of one grading kernel, over the notebook's namespace ``namespace``."""

    def __init__(self, namespace: dict):
        self.namespace = namespace
        self.handles: dict[int, object] = {}
        self._numbers: dict[int, int] = {}  # id of a handled object -> its handle (one number per object)
        self.mirrors: dict[int, nn.Module] = {}
        self.optimizers: dict[int, torch.optim.Optimizer] = {}

    # -- data both ways ------------------------------------------------------------------------------
    def plain(self, value, depth: int = 0):
        """``value`` as plain data: numbers, text, arrays and containers as they are, anything else a handle."""
        kind = type(value)
        if value is None or kind in (bool, int, float, str):
            return value
        if isinstance(value, np.generic) and value.dtype.kind in "biuf":
            return value.item()
        if isinstance(value, torch.Tensor):
            if value.dtype.is_complex or value.is_sparse or value.device.type == "meta":
                return self._handle(value)
            return wire.ArrayValue(_numpy(value), tensor=True, requires_grad=bool(_requires_grad(value)))
        if kind is np.ndarray and value.dtype.kind in wire.NUMERIC_KINDS and value.dtype.fields is None:
            return wire.ArrayValue(np.array(value), tensor=False)
        if depth < wire.MAX_DEPTH and isinstance(value, (list, tuple)):  # a named tuple or torch.Size: a tuple
            return (list if isinstance(value, list) else tuple)(self.plain(v, depth + 1) for v in value)
        if depth < wire.MAX_DEPTH and isinstance(value, dict) and all(type(k) in (str, int) for k in value):
            return {k: self.plain(v, depth + 1) for k, v in value.items()}  # an OrderedDict (a state_dict): a dict
        if isinstance(value, nn.Module) and any(value is m for m in self.mirrors.values()):
            number = next(n for n, m in self.mirrors.items() if m is value)
            return wire.MirrorRef(number)
        return self._handle(value)

    def _handle(self, value) -> wire.Handle:
        number = self._numbers.get(id(value))
        if number is None or self.handles.get(number) is not value:
            number = len(self.handles) + 1
            self.handles[number] = value
            self._numbers[id(value)] = number
        kind = type(value)
        return wire.Handle(number, f"{kind.__module__}.{kind.__qualname__}",
                           tuple(f"{k.__module__}.{k.__qualname__}" for k in kind.__mro__), callable(value))

    def live(self, value):
        """A request's value with handles, mirrors and arrays made objects of this process."""
        if isinstance(value, wire.Handle):
            return self.handles[value.number]
        if isinstance(value, wire.MirrorRef):
            return self.mirrors[value.number]
        if isinstance(value, wire.ArrayValue):
            if not value.tensor:
                return np.array(value.array)
            tensor = torch.from_numpy(np.array(value.array))
            return tensor.requires_grad_(True) if value.requires_grad and tensor.is_floating_point() else tensor
        if isinstance(value, wire.LoaderValue):
            return self._loader(value)
        if isinstance(value, wire.OptimizerValue):
            return self._optimizer(value)
        if isinstance(value, list):
            return [self.live(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.live(v) for v in value)
        if isinstance(value, dict):
            return {k: self.live(v) for k, v in value.items()}
        return value

    def _loader(self, value: wire.LoaderValue):
        from torch.utils.data import DataLoader, TensorDataset

        from ...gradecells.batches import loader_with_batches

        dataset = TensorDataset(*(self.live(t) for t in value.tensors))
        if value.indexed:
            from ...gradecells.batches import FixedBatches

            return DataLoader(dataset, sampler=FixedBatches(list(value.sizes)), batch_size=None)
        if value.batch_size is not None:
            return DataLoader(dataset, batch_size=value.batch_size, shuffle=False, drop_last=value.drop_last)
        return loader_with_batches(dataset, list(value.sizes))

    def _optimizer(self, value: wire.OptimizerValue):
        """The optimizer over the mirrors' parameters, kept for the whole check (its state, e.g. Adam's moments)."""
        found = self.optimizers.get(value.number)
        if found is None:
            params = [dict(self.mirrors[number].named_parameters())[name] for number, name in value.params]
            hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in value.hyper.items()}
            found = self.optimizers[value.number] = getattr(torch.optim, value.kind)(params, **hyper)
        return found

    # -- requests ------------------------------------------------------------------------------------
    def answer(self, request: dict):
        op = request["op"]
        if op == "reset":
            self.handles.clear()
            self._numbers.clear()
            self.mirrors.clear()
            self.optimizers.clear()
            return {"default_dtype": str(torch.get_default_dtype())}
        if op == "resolve":
            if request["name"] not in self.namespace:
                return wire.Failure("NameError", f"name {request['name']!r} is not defined in the notebook")
            return self.plain(self.namespace[request["name"]])
        if op == "getattr":
            return self.plain(getattr(self.handles[request["target"].number], request["name"]))
        if op == "setattr":
            setattr(self.handles[request["target"].number], request["name"], self.live(request["value"]))
            return None
        if op == "assign":  # the grader changed a tensor attribute it read: the same change here, in place
            current = getattr(self.handles[request["target"].number], request["name"])
            with torch.no_grad():
                current.copy_(torch.from_numpy(np.array(request["value"].array)).to(current.dtype))
            return None
        if op == "snapshot":
            return self._snapshot(self.handles[request["target"].number], request["flags"])
        if op in CALLS:
            return self._call(op, request)
        raise ValueError(f"unknown request {op!r}")

    @staticmethod
    def _snapshot(model: nn.Module, flags: list[str]) -> dict:
        """A model's modes, ``requires_grad`` and flags (``gradecells.state.snapshot`` of a handle)."""
        training, values = {}, {}
        for name, module in model.named_modules():
            training[name or "<model>"] = bool(module.training)
            for flag in flags:
                if hasattr(module, flag):
                    value = getattr(module, flag)
                    values[f"{name or '<model>'}.{flag}"] = value if type(value) in (bool, int, float, str) else repr(value)
        requires_grad = {name: bool(_requires_grad(p)) for name, p in model.named_parameters()}
        return {"training": training, "requires_grad": requires_grad, "flags": values}

    def _call(self, op: str, request: dict) -> dict:
        for number in [n for n in self.mirrors if n not in request.get("mirrors", {})]:
            del self.mirrors[number]  # the check no longer holds it: never synchronised again
        for number, (spec, state) in request.get("mirrors", {}).items():
            if number not in self.mirrors:
                self.mirrors[number] = build_module(spec)
            load_module_state(self.mirrors[number], state)
        target = self.handles[request["target"].number] if isinstance(request["target"], wire.Handle) \
            else self.mirrors[request["target"].number]
        function = getattr(target, request["method"]) if request.get("method") else target
        args, kwargs = self.live(request["args"]), self.live(request["kwargs"])
        arrays_in = {key: value.clone() if torch.is_tensor(value) else value.copy()
                     for key, value in _top_level_arrays(args, kwargs).items()}
        seed_everything(request["seed"])
        torch.set_grad_enabled(bool(request["grad"]))
        result = CALLS[op](self, target, function, args, kwargs, request)
        changed = {}
        for key, value in _top_level_arrays(args, kwargs).items():
            before = arrays_in[key]
            same = torch.equal(value, before) if torch.is_tensor(value) else np.array_equal(value, before, equal_nan=True)
            if not same:
                changed[key] = self.plain(value.detach() if torch.is_tensor(value) else value)
        attached = [self.plain(getattr(self.handles[number], name)) for number, name in request.get("attached", [])]
        return {"result": self.plain(result), "arrays_after": changed, "attached": attached,
                "mirrors": {number: module_state(module) for number, module in self.mirrors.items()},
                "grad_enabled": _grad_enabled(), "default_dtype": str(torch.get_default_dtype())}


def seed_everything(seed: int) -> None:
    """torch's and NumPy's global generators from ``seed`` (torch's CPU generator directly: ``torch.manual_seed``
    costs a millisecond a call, and a check makes hundreds)."""
    torch.default_generator.manual_seed(seed)
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.manual_seed_all(seed)
    np.random.seed(seed % 2**32)


def _plain_call(server, target, function, args, kwargs, request):
    return function(*args, **kwargs)


def _repeated_call(server, target, function, args, kwargs, request):
    count = request.get("count")
    if type(count) is not int or not 0 < count <= draws.MAX_PASSES:
        raise ValueError("a repeated call needs a count between 1 and draws.MAX_PASSES")
    return [function(*args, **kwargs) for _ in range(count)]


def _items(server, target, function, args, kwargs, request):
    """The items of an iterable (a list, a generator such as ``model.modules()``), at most ``MAX_ITEMS``."""
    items = []
    for item in function:
        items.append(item)
        if len(items) > MAX_ITEMS:
            raise ValueError(f"an iterable of more than {MAX_ITEMS} items")
    return items


def _printed(server, target, function, args, kwargs, request):
    """The result, and what the call printed (at most ``MAX_PRINTED`` characters)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as printed:
        result = function(*args, **kwargs)
    return {"result": result, "printed": printed.getvalue()[:MAX_PRINTED]}


def _layers_that_sample(server, target, function, args, kwargs, request):
    layers = [server.live(layer) for layer in request["layers"]]
    return sampling.layers_that_sample(target, args[0], layers)


def _optimizer(server, target, function, args, kwargs, request):
    kind, hyper = request.get("kind"), request.get("hyper")
    if kind not in training.KINDS or not isinstance(hyper, dict):
        raise ValueError("an optimizer request names one of training.KINDS and its hyperparameters")
    return getattr(torch.optim, kind)(target.parameters(), **{k: tuple(v) if isinstance(v, list) else v for k, v in hyper.items()})


def _trace_calls(server, target, function, args, kwargs, request):
    output, calls = layers.traced_calls(target, args[0], [server.live(layer) for layer in request["layers"]])
    return {"output": output, "calls": calls}


def _parameter_gradients(server, target, function, args, kwargs, request):
    return gradients.parameter_gradients(target, request.get("method") or "__call__", *args)


def _pass_gradients(server, target, function, args, kwargs, request):
    """One pass, and the gradients of each term (the output's sum, or an attribute the pass left) in every parameter."""
    output, grads, values = gradients.pass_gradients(target, request.get("method") or "__call__", *args,
                                                     terms=tuple(request["terms"]))
    return {"output": output, "grads": grads, "values": values}


def _input_gradients(server, target, function, args, kwargs, request):
    """The output, and the gradient of its sum in every tensor argument that requires one (None elsewhere)."""
    output, grads = gradients.input_gradients(function, *args)
    return {"output": output, "grads": grads}


def _count_calls(server, target, function, args, kwargs, request):
    return gradients.module_calls(target, request["submodule"], request.get("method") or "__call__", *args)


def _count_lines(server, target, function, args, kwargs, request):
    return loops.count_lines(function, *args, **kwargs)[1]


#: the requests that run the student's code: how each computes its result
CALLS = {"call": _plain_call, "repeat": _repeated_call, "items": _items, "printed": _printed,
         "optimizer": _optimizer, "gradients": _parameter_gradients, "pass_gradients": _pass_gradients,
         "input_gradients": _input_gradients, "count_calls": _count_calls, "count_lines": _count_lines,
         "layers_that_sample": _layers_that_sample, "trace_calls": _trace_calls}


def _top_level_arrays(args: list, kwargs: dict) -> dict[str, object]:
    """The arrays and tensors passed as arguments themselves ("0", "1", ... and keyword names)."""
    found = {str(i): v for i, v in enumerate(args) if torch.is_tensor(v) or isinstance(v, np.ndarray)}
    found.update({k: v for k, v in kwargs.items() if torch.is_tensor(v) or isinstance(v, np.ndarray)})
    return found


def _namespace() -> dict:
    try:
        from IPython import get_ipython

        shell = get_ipython()
    except ImportError:
        shell = None
    return shell.user_ns if shell is not None else sys.modules["__main__"].__dict__


_SERVER: ProbeServer | None = None


def respond(server: ProbeServer, request_text: str) -> str:
    """The answer to one request, as wire text; an exception of the student's code becomes a failure."""
    try:
        answer = server.answer(wire.loads(request_text))
    except BaseException as exc:  # noqa: BLE001  (the student's code may raise anything, SystemExit included)
        answer = wire.Failure(type(exc).__name__, _message(exc))
    try:
        return wire.dumps(answer)
    except wire.WireError as exc:
        return wire.dumps(wire.Failure("WireError", str(exc)))


def _message(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # noqa: BLE001
        return "(no message)"


def serve(request_text: str) -> None:
    """Answer one request of the grader in this kernel (displayed under :data:`MIME`)."""
    from IPython.display import display

    display({MIME: respond(_server(), request_text)}, raw=True)


def _server() -> ProbeServer:
    global _SERVER
    if _SERVER is None:
        _SERVER = ProbeServer(_namespace())
    return _SERVER


def listen() -> None:
    """Answer the grader's requests sent as messages of a comm to :data:`COMM_TARGET` (a comm message costs a
    third of an ``execute_request``); displays ``"listening"`` under :data:`MIME` once registered."""
    from IPython import get_ipython
    from IPython.display import display

    def opened(comm, _message) -> None:
        @comm.on_msg
        def answer(message) -> None:
            request = message.get("content", {}).get("data", {}).get("request")
            comm.send({"answer": respond(_server(), request if isinstance(request, str) else "")})

    get_ipython().kernel.comm_manager.register_target(COMM_TARGET, opened)
    display({MIME: "listening"}, raw=True)
