"""The plain-data format between the student's kernel and the grader: JSON, arrays as ``.npy`` bytes.

Values: ``None``, bools, ints, floats (nan and inf included), strings, lists, tuples, dicts with string
or integer keys, NumPy arrays and torch tensors of numbers (sent as ``.npy``, read back with
``allow_pickle=False`` and numeric dtypes only), handles (an object that stays in the student's process,
named by a number) and the grader's mirrors of small modules. Nothing decoded here can run code: the
grader's side decodes only into the types above. Sizes and depths are bounded.
"""
from __future__ import annotations

import base64
import io
import json
import math
from dataclasses import dataclass, field

import numpy as np

#: the largest message either side accepts (characters of JSON)
MAX_MESSAGE_CHARS = 64 * 1024**2
#: the most values (numbers, strings, containers, arrays) one message may hold, and entries one dict may hold:
#: a message of millions of empty lists or of colliding integer keys would cost the grader memory or time
MAX_ITEMS = 200_000
MAX_DICT_ENTRIES = 10_000
#: how deep lists, tuples and dicts may nest
MAX_DEPTH = 24
#: the dtype kinds an array may have: bool, signed and unsigned integers, floats, complex numbers
NUMERIC_KINDS = "biufc"


class WireError(ValueError):
    """A message that is not plain data of this format."""


@dataclass(frozen=True)
class Handle:
    """An object that stays in the student's process: its number, and its type's names for messages."""

    number: int
    type_name: str = ""
    type_names: tuple[str, ...] = ()
    callable: bool = False


@dataclass(frozen=True)
class MirrorRef:
    """The grader's module number ``number``, mirrored in the student's process (see ``proxies.Mirrors``)."""

    number: int


@dataclass(frozen=True)
class ArrayValue:
    """An array, and whether it was a torch tensor (with its ``requires_grad``) or a NumPy array."""

    array: np.ndarray
    tensor: bool = False
    requires_grad: bool = False


@dataclass(frozen=True)
class LoaderValue:
    """A data loader over a ``TensorDataset``, in order: its tensors, its ``batch_size`` with ``drop_last`` (or
    None), the sizes of its batches, and whether each batch is the dataset indexed by a list of indices
    (``batch_size=None`` with a batch sampler as its sampler, as the course's own loaders are)."""

    tensors: tuple
    batch_size: int | None
    drop_last: bool
    sizes: tuple
    indexed: bool = False


@dataclass(frozen=True)
class OptimizerValue:
    """The grader's optimizer number ``number``: its class (``SGD``, ``Adam``, ``AdamW``), its hyperparameters and
    its parameters, each named by (mirrored module's number, parameter name)."""

    number: int
    kind: str
    hyper: dict
    params: tuple


#: the optimizers the grader may pass
OPTIMIZERS = ("SGD", "Adam", "AdamW")


@dataclass(frozen=True)
class Failure:
    """An exception raised in the student's process: its type's name and message, as text."""

    type_name: str
    message: str


@dataclass
class ModuleState:
    """A small module's state as data: parameters and buffers, modes, ``requires_grad``, gradients and
    what an instrument recorded."""

    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    training: list[bool] = field(default_factory=list)
    requires_grad: dict[str, bool] = field(default_factory=dict)
    grads: dict[str, np.ndarray | None] = field(default_factory=dict)
    record: dict = field(default_factory=dict)


def array_to_text(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.array(array, order="C", copy=True), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def array_from_text(text: str) -> np.ndarray:
    try:
        array = np.load(io.BytesIO(base64.b64decode(text.encode("ascii"), validate=True)), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001  (any malformed bytes)
        raise WireError(f"not an array in .npy format: {exc}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in NUMERIC_KINDS or array.dtype.fields is not None:
        raise WireError(f"arrays hold numbers only, not {getattr(array, 'dtype', type(array).__name__)}")
    return array


def _float(value: float):
    return value if math.isfinite(value) else {"float": repr(value)}


def to_json(value, depth: int = 0):
    """``value`` (already plain: see the module's list) as JSON-ready Python data."""
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, list):
        return [to_json(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [to_json(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise WireError(f"dict keys are strings or integers, not {type(key).__name__}")
        return {"dict": [[key, to_json(v, depth + 1)] for key, v in value.items()]}
    if isinstance(value, ArrayValue):
        return {"array": array_to_text(value.array), "tensor": value.tensor, "requires_grad": value.requires_grad}
    if isinstance(value, Handle):
        return {"handle": value.number, "type": value.type_name, "types": list(value.type_names),
                "callable": value.callable}
    if isinstance(value, MirrorRef):
        return {"mirror": value.number}
    if isinstance(value, Failure):
        return {"failure": [value.type_name, value.message]}
    if isinstance(value, LoaderValue):
        return {"loader": [to_json(list(value.tensors), depth + 1), value.batch_size, value.drop_last, list(value.sizes),
                           value.indexed]}
    if isinstance(value, OptimizerValue):
        return {"optimizer": [value.number, value.kind, to_json(value.hyper, depth + 1),
                              [[int(m), str(n)] for m, n in value.params]]}
    if isinstance(value, ModuleState):
        return {"module_state": {"tensors": {k: array_to_text(v) for k, v in value.tensors.items()},
                                 "training": list(value.training), "requires_grad": dict(value.requires_grad),
                                 "grads": {k: None if v is None else array_to_text(v) for k, v in value.grads.items()},
                                 "record": to_json(value.record, depth + 1)}}
    raise WireError(f"not plain data: {type(value).__name__}")


def from_json(data, depth: int = 0):
    """The inverse of :func:`to_json`; anything else is a :class:`WireError`."""
    if depth > MAX_DEPTH:
        raise WireError("nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [from_json(v, depth + 1) for v in data]
    if not isinstance(data, dict) or len(data) < 1:
        raise WireError(f"not plain data: {type(data).__name__}")
    if set(data) == {"float"}:
        if data["float"] not in ("nan", "inf", "-inf"):
            raise WireError("a float is nan, inf or -inf here")
        return float(data["float"])
    if set(data) == {"tuple"} and isinstance(data["tuple"], list):
        return tuple(from_json(v, depth + 1) for v in data["tuple"])
    if set(data) == {"dict"} and isinstance(data["dict"], list):
        out = {}
        for pair in data["dict"]:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))
                    and not isinstance(pair[0], bool)):
                raise WireError("a dict entry is a [key, value] pair with a string or integer key")
            out[pair[0]] = from_json(pair[1], depth + 1)
        return out
    if set(data) == {"array", "tensor", "requires_grad"}:
        return ArrayValue(array_from_text(_text(data["array"])), bool(data["tensor"] is True),
                          bool(data["requires_grad"] is True))
    if set(data) == {"handle", "type", "types", "callable"}:
        if not isinstance(data["handle"], int) or isinstance(data["handle"], bool):
            raise WireError("a handle is a number")
        names = data["types"] if isinstance(data["types"], list) else []
        return Handle(data["handle"], _text(data["type"])[:200], tuple(_text(n)[:200] for n in names[:50]),
                      data["callable"] is True)
    if set(data) == {"mirror"} and isinstance(data["mirror"], int) and not isinstance(data["mirror"], bool):
        return MirrorRef(data["mirror"])
    if set(data) == {"loader"} and isinstance(data["loader"], list) and len(data["loader"]) == 5:
        tensors, batch_size, drop_last, sizes, indexed = data["loader"]
        tensors = from_json(tensors, depth + 1)
        if not (isinstance(tensors, list) and all(isinstance(t, ArrayValue) for t in tensors)
                and (batch_size is None or _count(batch_size)) and isinstance(drop_last, bool)
                and isinstance(sizes, list) and all(_count(n) for n in sizes) and isinstance(indexed, bool)):
            raise WireError("a loader is tensors, a batch size or None, drop_last, batch sizes and how batches are read")
        return LoaderValue(tuple(tensors), batch_size, drop_last, tuple(sizes), indexed)
    if set(data) == {"optimizer"} and isinstance(data["optimizer"], list) and len(data["optimizer"]) == 4:
        number, kind, hyper, params = data["optimizer"]
        hyper = from_json(hyper, depth + 1)
        if not (_count(number) and kind in OPTIMIZERS and isinstance(hyper, dict) and isinstance(params, list)
                and all(isinstance(p, list) and len(p) == 2 and _count(p[0]) and isinstance(p[1], str) for p in params)):
            raise WireError("an optimizer is a number, a kind, hyperparameters and (module, parameter) names")
        return OptimizerValue(number, kind, hyper, tuple((p[0], p[1]) for p in params))
    if set(data) == {"failure"} and isinstance(data["failure"], list) and len(data["failure"]) == 2:
        return Failure(_text(data["failure"][0])[:100], _text(data["failure"][1])[:4000])
    if set(data) == {"module_state"} and isinstance(data["module_state"], dict):
        raw = data["module_state"]
        state = ModuleState()
        state.tensors = {_text(k): array_from_text(_text(v)) for k, v in _mapping(raw.get("tensors")).items()}
        state.training = [bool(v is True) for v in raw.get("training", []) if isinstance(v, bool)]
        state.requires_grad = {_text(k): v is True for k, v in _mapping(raw.get("requires_grad")).items()}
        state.grads = {_text(k): None if v is None else array_from_text(_text(v))
                       for k, v in _mapping(raw.get("grads")).items()}
        record = from_json(raw.get("record", {"dict": []}), depth + 1)
        state.record = record if isinstance(record, dict) else {}
        return state
    raise WireError(f"not plain data: an object with keys {sorted(map(str, data))[:5]}")


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _text(value) -> str:
    if not isinstance(value, str):
        raise WireError(f"expected text, got {type(value).__name__}")
    return value


def _mapping(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WireError("expected a mapping")
    return value


def dumps(value) -> str:
    text = json.dumps(to_json(value), allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_MESSAGE_CHARS:
        raise WireError(f"a message of {len(text)} characters is over the limit of {MAX_MESSAGE_CHARS}")
    return text


def loads(text: str):
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_CHARS:
        raise WireError("a message is text of bounded size")
    try:
        data = json.loads(text, parse_constant=_no_constant, object_pairs_hook=_bounded_object)
    except (ValueError, RecursionError) as exc:
        raise WireError(f"not JSON: {exc}") from None
    _count_items(data)
    return from_json(data)


def _bounded_object(pairs: list) -> dict:
    if len(pairs) > 16:  # the format's own objects have at most five keys; dicts travel as lists of pairs
        raise WireError("a JSON object of more than 16 keys is not part of this format")
    return dict(pairs)


def _count_items(data) -> None:
    """Refuse a message of more than MAX_ITEMS values or a dict of more than MAX_DICT_ENTRIES entries."""
    stack, seen = [data], 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > MAX_ITEMS:
            raise WireError(f"a message holds more than {MAX_ITEMS} values")
        if isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            if "dict" in value and isinstance(value["dict"], list) and len(value["dict"]) > MAX_DICT_ENTRIES:
                raise WireError(f"a dict of more than {MAX_DICT_ENTRIES} entries")
            stack.extend(value.values())


def _no_constant(name: str):
    raise WireError(f"bare {name} is not part of this format")
