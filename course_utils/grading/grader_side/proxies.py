"""The grader's view of the student's process: handles, and values sent and received as plain data.

A :class:`Session` sends requests through a channel and turns answers into grader objects: arrays into
new tensors or NumPy arrays, containers into new containers, anything else into a :class:`Remote`, a handle
whose attribute reads and calls are further requests. Nothing the student's process sends is ever more than
data here. Small modules the grader passes (``nn.Linear``, an instrument) are mirrored: the grader's own
module keeps its identity, its state is sent with every call and what the call left in it comes back.
Every call carries a seed drawn from the grader's torch generator (so ``torch.manual_seed`` in a check
makes the student's random draws reproducible) and the grader's autograd mode; the autograd mode and
default dtype the call leaves behind come back, so checks of side effects see them.
"""
from __future__ import annotations

import numbers
import weakref

import numpy as np
import torch
from torch import nn

from ...gradecells import returns
from .. import wire
from ..modules import load_module_state, module_spec, module_state

#: default dtypes a call may leave behind in the grader: float32 and float64 only (a half-precision default would
#: make the check's own references imprecise)
DTYPES = {str(d): d for d in (torch.float32, torch.float64)}


class StudentError(Exception):
    """The student's code raised an exception (its type's name and message, as text)."""

    def __init__(self, type_name: str, message: str):
        Exception.__init__(self, f"{type_name}: {message}" if message else type_name)
        self.type_name, self.message = type_name, message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name


#: built-in exceptions a check may catch by their own name (``except ValueError``) when the student's code raised them
CATCHABLE = {cls.__name__: cls for cls in (ValueError, TypeError, KeyError, IndexError, RuntimeError, ArithmeticError,
                                          ZeroDivisionError, OverflowError, NotImplementedError, AttributeError,
                                          LookupError)}  # never StopIteration: it would end the check's own loops
_CATCHABLE_ERRORS = {name: type(f"Student{name}", (StudentError, cls), {"__init__": StudentError.__init__,
                                                                          "__str__": StudentError.__str__})
                     for name, cls in CATCHABLE.items()}


def student_error(type_name: str, message: str) -> StudentError:
    """The exception the student's code raised, as the grader sees it: a :class:`StudentError` that is also the
    built-in exception of that name where there is one (a check can catch ``ValueError``); only its name and
    message cross."""
    return _CATCHABLE_ERRORS.get(type_name, StudentError)(type_name, message)


class Session:
    """The requests of one grade cell's check to one student's process."""

    def __init__(self, channel):
        self.channel = channel
        #: modules this check passed, while the check holds them: a module it no longer holds (a stand-in made
        #: for one call) is neither sent nor synchronised again
        self.mirrors: weakref.WeakValueDictionary[int, nn.Module] = weakref.WeakValueDictionary()
        self._mirror_numbers: dict[int, int] = {}
        self._mirrors_passed = 0
        self._optimizers: dict[int, torch.optim.Optimizer] = {}
        #: tensors read from an attribute of a student object: (handle number, name) -> the grader's copies,
        #: and the value last synchronised; a check's in-place change is sent before the next request, and
        #: every call's answer brings the attribute's value after it
        self.attached: dict[tuple[int, str], list[torch.Tensor]] = {}
        self._synced: dict[tuple[int, str], torch.Tensor] = {}

    def reset(self) -> None:
        """Forget every handle, mirror and attached tensor (each check starts clean), and take the student's
        default dtype (a notebook that set float64 for itself gets probes made as its own test cells make them)."""
        self.mirrors.clear()
        self._mirror_numbers.clear()
        self._optimizers.clear()
        self.attached.clear()
        self._synced.clear()
        answer = self.request({"op": "reset"})
        if isinstance(answer, dict) and answer.get("default_dtype") in DTYPES:
            torch.set_default_dtype(DTYPES[answer["default_dtype"]])

    def request(self, payload: dict):
        answer = wire.loads(self.channel.exchange(wire.dumps(payload)))
        if isinstance(answer, wire.Failure):
            raise student_error(answer.type_name, answer.message)
        return answer

    # -- grader values out, answers in ----------------------------------------------------------------
    def send(self, value, depth: int = 0):
        if isinstance(value, Remote):
            return value._handle
        if value is None or type(value) in (bool, int, float, str):
            return value
        if isinstance(value, (np.generic, numbers.Number)) and not isinstance(value, complex):
            return value.item() if isinstance(value, np.generic) else (float(value) if isinstance(value, float) else int(value))
        if isinstance(value, torch.Tensor):
            return wire.ArrayValue(value.detach().cpu().numpy().copy(), tensor=True, requires_grad=bool(value.requires_grad))
        if isinstance(value, np.ndarray):
            return wire.ArrayValue(value.copy(), tensor=False)
        if isinstance(value, nn.Module):
            return wire.MirrorRef(self._mirror(value))
        if isinstance(value, torch.utils.data.DataLoader):
            return self._loader(value)
        if isinstance(value, torch.optim.Optimizer):
            return self._optimizer(value)
        if isinstance(value, (list, tuple)) and depth < wire.MAX_DEPTH:
            return type(value)(self.send(v, depth + 1) for v in value) if type(value) in (list, tuple) \
                else [self.send(v, depth + 1) for v in value]
        if isinstance(value, dict) and depth < wire.MAX_DEPTH:
            return {k: self.send(v, depth + 1) for k, v in value.items()}
        raise TypeError(f"the grader cannot send a {type(value).__name__} to the student's code")

    def _loader(self, loader) -> wire.LoaderValue:
        """A loader over a ``TensorDataset`` that gives its items in order (a shuffled one cannot be passed): batches
        of ``batch_size``, of a batch sampler's sizes, or (``batch_size=None`` with a batch sampler as its sampler,
        as the course's own loaders) the dataset indexed by a list of indices per batch."""
        dataset = loader.dataset
        if type(dataset) is not torch.utils.data.TensorDataset:
            raise TypeError("the grader passes data loaders over a TensorDataset only")
        indexed = loader.batch_size is None and loader.batch_sampler is None
        batches = [list(batch) for batch in (loader.sampler if indexed else loader.batch_sampler)]
        if [i for batch in batches for i in batch] != list(range(sum(len(batch) for batch in batches))):
            raise TypeError("the grader passes data loaders that give their items in order only")
        return wire.LoaderValue(tuple(self.send(t) for t in dataset.tensors), loader.batch_size, bool(loader.drop_last),
                                tuple(len(batch) for batch in batches), indexed)

    def _optimizer(self, optimizer) -> wire.OptimizerValue:
        """An optimizer over parameters of modules this check passes (their mirrors are its parameters there)."""
        kind = type(optimizer).__name__
        if kind not in wire.OPTIMIZERS or type(optimizer).__module__.split(".")[:2] != ["torch", "optim"]:
            raise TypeError(f"the grader cannot pass a {kind} optimizer to the student's code")
        owners = {id(p): (number, name) for number, module in self.mirrors.items() for name, p in module.named_parameters()}
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if len(optimizer.param_groups) != 1 or any(id(p) not in owners for p in params):
            raise TypeError("an optimizer passed to the student's code has one group of parameters of passed modules")
        hyper = {k: (list(v) if isinstance(v, tuple) else v) for k, v in optimizer.defaults.items()
                 if k in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps", "amsgrad")}
        number = next((n for n, o in self._optimizers.items() if o is optimizer), len(self._optimizers) + 1)
        self._optimizers[number] = optimizer
        return wire.OptimizerValue(number, kind, hyper, tuple(owners[id(p)] for p in params))

    def _mirror(self, module: nn.Module) -> int:
        number = self._mirror_numbers.get(id(module))
        if number is None or self.mirrors.get(number) is not module:
            module_spec(module)  # fails here for a module that cannot be passed
            self._mirrors_passed += 1
            number = self._mirrors_passed
            self.mirrors[number] = module
            self._mirror_numbers[id(module)] = number
        return number

    def receive(self, value, depth: int = 0):
        if isinstance(value, wire.ArrayValue):
            if not value.tensor:
                return value.array
            tensor = torch.from_numpy(value.array)
            return tensor.requires_grad_(True) if value.requires_grad and tensor.is_floating_point() else tensor
        if isinstance(value, wire.Handle):
            return Remote(self, value)
        if isinstance(value, wire.MirrorRef):
            if value.number not in self.mirrors:
                raise StudentError("WireError", "an answer named a module the grader never passed")
            return self.mirrors[value.number]
        if isinstance(value, list):
            return [self.receive(v, depth + 1) for v in value]
        if isinstance(value, tuple):
            return tuple(self.receive(v, depth + 1) for v in value)
        if isinstance(value, dict):
            return {k: self.receive(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (wire.ModuleState, wire.Failure)):
            raise StudentError("WireError", "an answer held state where a value belongs")
        return value

    # -- requests ---------------------------------------------------------------------------------------
    def resolve(self, name: str):
        return self.receive(self.request({"op": "resolve", "name": name}))

    def getattr(self, handle: wire.Handle, name: str):
        self._push_attached()
        value = self.receive(self.request({"op": "getattr", "target": handle, "name": name}))
        if torch.is_tensor(value):
            key = (handle.number, name)
            self.attached.setdefault(key, []).append(value)
            self._synced[key] = value.detach().clone()
        return value

    def setattr(self, handle: wire.Handle, name: str, value) -> None:
        self._push_attached()
        self.request({"op": "setattr", "target": handle, "name": name, "value": self.send(value)})

    def snapshot(self, handle: wire.Handle, flags) -> dict:
        """A student model's modes, ``requires_grad`` and flags (see ``gradecells.state``)."""
        self._push_attached()
        answer = self.request({"op": "snapshot", "target": handle, "flags": [str(f) for f in flags]})
        if not isinstance(answer, dict) or not all(isinstance(answer.get(k), dict) for k in ("training", "requires_grad", "flags")):
            raise StudentError("WireError", "a snapshot lacks its parts")
        return answer

    def _push_attached(self) -> None:
        """Send what the check changed in place in tensors it read from student objects."""
        for key, tensors in self.attached.items():
            synced = self._synced[key]
            for tensor in tensors:
                if tensor.shape != synced.shape or not torch.equal(torch.nan_to_num(tensor.detach()), torch.nan_to_num(synced)) \
                        or not torch.equal(tensor.detach().isnan(), synced.isnan()):
                    self.request({"op": "assign", "target": wire.Handle(key[0]), "name": key[1],
                                  "value": wire.ArrayValue(tensor.detach().cpu().numpy().copy(), tensor=True)})
                    self._synced[key] = synced = tensor.detach().clone()
                    with torch.no_grad():
                        for other in tensors:
                            if other is not tensor and other.shape == tensor.shape:
                                other.copy_(tensor)
                    break

    def _pull_attached(self, values: list) -> None:
        """The attached attributes' values after a call, into the grader's copies."""
        for key, value in zip(list(self.attached), values):
            if not isinstance(value, wire.ArrayValue):
                continue
            new = torch.from_numpy(np.array(value.array))
            for tensor in self.attached[key]:
                with torch.no_grad():
                    if tensor.shape == new.shape:
                        tensor.copy_(new.to(tensor.dtype))
                    else:
                        tensor.data = new.to(tensor.dtype).clone()
            self._synced[key] = new.clone()

    def call(self, target, method: str | None, args: tuple, kwargs: dict, op: str = "call", **extra):
        """Call ``target`` (a handle, or a mirrored module) or its ``method`` in the student's process."""
        self._push_attached()
        target_ref = target._handle if isinstance(target, Remote) else wire.MirrorRef(self._mirror(target))
        for value in (*args, *kwargs.values()):  # modules first: an optimizer passed before its model names their mirrors
            if isinstance(value, nn.Module):
                self._mirror(value)
        sent_args, sent_kwargs = self.send(list(args)), self.send(dict(kwargs))
        payload = {"op": op, "target": target_ref, "method": method, "args": sent_args, "kwargs": sent_kwargs,
                   "seed": int(torch.randint(0, 2**31 - 1, ()).item()), "grad": torch.is_grad_enabled(),
                   "mirrors": {n: (module_spec(m), module_state(m, records_checked=False)) for n, m in self.mirrors.items()},
                   "attached": [list(key) for key in self.attached], **extra}
        answer = self.request(payload)
        if not isinstance(answer, dict) or not {"result", "mirrors", "arrays_after", "grad_enabled", "attached"} <= set(answer):
            raise StudentError("WireError", "an answer to a call lacks its parts")
        self._pull_attached(answer["attached"] if isinstance(answer["attached"], list) else [])
        for number, state in answer["mirrors"].items():
            if number in self.mirrors and isinstance(state, wire.ModuleState):
                load_module_state(self.mirrors[number], state, from_student=True)
        self._write_back(args, kwargs, answer["arrays_after"])
        torch.set_grad_enabled(answer["grad_enabled"] is True)
        if answer.get("default_dtype") in DTYPES:
            torch.set_default_dtype(DTYPES[answer["default_dtype"]])
        return self.receive(answer["result"])

    def _write_back(self, args: tuple, kwargs: dict, changed: dict) -> None:
        """What the student's code did in place to array arguments the check watches
        (``gradecells.returns.watched``), done to the grader's arrays; other arguments stay as the check made them."""
        for key, value in changed.items():
            local = args[int(key)] if isinstance(key, str) and key.isdigit() and int(key) < len(args) else kwargs.get(key)
            if not isinstance(value, wire.ArrayValue) or local is None or not returns.is_watched(local):
                continue
            new = np.asarray(value.array)
            if torch.is_tensor(local) and tuple(local.shape) == new.shape:
                with torch.no_grad():
                    local.copy_(torch.from_numpy(new.copy()).to(local.dtype))
            elif isinstance(local, np.ndarray) and local.shape == new.shape:
                local[...] = new


class Remote:
    """A handle to an object in the student's process: reading an attribute or calling it is a request."""

    __slots__ = ("_session", "_handle")
    #: how the course's test helpers (``course_utils.gradecells``) tell a handle from a local object
    is_remote_handle = True

    def __init__(self, session: Session, handle: wire.Handle):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.getattr(self._handle, name)

    def __setattr__(self, name, value):
        self._session.setattr(self._handle, name, value)

    def __call__(self, *args, **kwargs):
        return self._session.call(self, None, args, kwargs)

    def __getitem__(self, key):
        return self._session.call(self, "__getitem__", (key,), {})

    def __len__(self) -> int:
        try:
            value = self._session.call(self, "__len__", (), {})
        except AttributeError:  # an object without a length (a generator): a TypeError, as len() raises it
            raise TypeError(f"{self._handle.type_name} has no len()") from None
        if type(value) is not int:
            raise StudentError("TypeError", "__len__ answered something that is not an integer")
        return value

    def __iter__(self):
        """The items, read in one request (a list, a tuple, or a generator such as ``model.modules()``)."""
        items = self._session.call(self, None, (), {}, op="items")
        if not isinstance(items, list):
            raise StudentError("TypeError", "iterating answered something that is not a list of items")
        return iter(items)

    def __eq__(self, other) -> bool:
        """The same object of the student's process (one handle per object within a check)."""
        return isinstance(other, Remote) and other._session is self._session and other._handle.number == self._handle.number

    def __hash__(self) -> int:
        return hash((id(self._session), self._handle.number))

    def __repr__(self) -> str:
        return f"<the student's {self._handle.type_name}>"

    @property
    def type_names(self) -> tuple[str, ...]:
        """The qualified names of the object's type and its bases, as the student's process reports them."""
        return self._handle.type_names
