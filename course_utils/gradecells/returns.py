"""Return types as an exercise text states them, and value comparisons that ignore dtype and container."""
from __future__ import annotations

import numbers

import numpy as np
import torch


def as_float64(value) -> np.ndarray:
    """A tensor (any dtype or device), array, number or nested list as a float64 NumPy array."""
    if torch.is_tensor(value):
        return value.detach().to("cpu", torch.float64).numpy()
    return np.asarray(value, dtype=np.float64)


def close(value, expected, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Values equal within tolerances, whatever their dtypes, devices and containers; shapes must match."""
    a, b = as_float64(value), as_float64(expected)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def assert_float(value, what: str) -> None:
    """A Python float (NumPy's float64 is one), not a tensor, an array or an int."""
    assert isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)) and \
        not torch.is_tensor(value) and not isinstance(value, np.ndarray) and isinstance(value, float), \
        f"{what} must be a Python float, not {type(value).__name__}"


def assert_array(value, what: str, shape: tuple[int, ...] | None = None) -> None:
    """A NumPy array (not a tensor or a list), of ``shape`` if given."""
    assert isinstance(value, np.ndarray), f"{what} must be a NumPy array, not {type(value).__name__}"
    if shape is not None:
        assert value.shape == tuple(shape), f"{what} has shape {value.shape}, expected {tuple(shape)}"


def assert_tensor(value, what: str, shape: tuple[int, ...] | None = None) -> None:
    """A torch tensor, of ``shape`` if given."""
    assert torch.is_tensor(value), f"{what} must be a torch tensor, not {type(value).__name__}"
    if shape is not None:
        assert tuple(value.shape) == tuple(shape), f"{what} has shape {tuple(value.shape)}, expected {tuple(shape)}"


#: arrays a test watches for changes in place (id -> the array, kept alive while watched)
_WATCHED: dict[int, object] = {}


def watched(value):
    """``value`` (an array or tensor a test passes to the student's function), marked so that a change the
    function makes to it in place shows in it. In-process it always does; when the function runs in the
    student's process (``course_utils.grading``) only changes to watched arguments are copied back, so that a
    function cannot change the other data a test compares with."""
    _WATCHED[id(value)] = value
    return value


def is_watched(value) -> bool:
    return _WATCHED.get(id(value)) is value


def forget_watched() -> None:
    _WATCHED.clear()


def printed(function, *args, **kwargs) -> tuple[object, str]:
    """``function(*args, **kwargs)`` and what it printed to stdout; ``function`` local or a handle (then it runs,
    and prints, in the student's process)."""
    if getattr(type(function), "is_remote_handle", False):
        found = function._session.call(function, None, args, kwargs, op="printed")
        if not isinstance(found, dict) or not isinstance(found.get("printed"), str):
            raise TypeError("a call's printed output came back as something other than text")
        return found["result"], found["printed"]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()) as output:
        result = function(*args, **kwargs)
    return result, output.getvalue()
