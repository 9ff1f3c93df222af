"""Many passes of a stochastic function or layer, as one request when it lives in the student's process.

Statistics of sampled weights or predictions need hundreds of passes; through a handle (``course_utils.grading``)
each pass would be a round trip to the student's kernel. :func:`repeated_passes` makes them all in one.
"""
from __future__ import annotations

#: the most passes one call may ask for
MAX_PASSES = 2000


def repeated_passes(function, n: int, *args, **kwargs) -> list:
    """``[function(*args, **kwargs) for _ in range(n)]``, the passes made one after the other with the same
    arguments (so each draws its own noise); ``function`` local or a handle."""
    if not 0 < n <= MAX_PASSES:
        raise ValueError(f"between 1 and {MAX_PASSES} passes, not {n}")
    if getattr(type(function), "is_remote_handle", False):
        return function._session.call(function, None, args, kwargs, op="repeat", count=int(n))
    return [function(*args, **kwargs) for _ in range(n)]
