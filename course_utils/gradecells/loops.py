"""Does a function loop over events in Python? Count the lines of the student's code a call runs.

A vectorised function runs the same lines for 2 jets as for 40; a Python loop over the jets runs its
body once per jet. :func:`lines_run` counts the ``line`` events of code outside the Python installation
and the course's package during one call (``sys.settrace``), in this process or, for a handle of
``course_utils.grading``, in the student's.
"""
from __future__ import annotations

import os
import sys
import sysconfig


#: folders whose code is not the student's (the Python installation, the environment, this package)
_LIBRARY_ROOTS = tuple({os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"],
                                                      sysconfig.get_paths()["stdlib"],
                                                      os.path.dirname(os.path.dirname(os.path.abspath(__file__))))})


def _is_student_code(filename: str) -> bool:
    return not os.path.realpath(filename).startswith(_LIBRARY_ROOTS) if os.path.isabs(filename) else True


def count_lines(function, *args, **kwargs) -> tuple[object, int]:
    """``function(*args, **kwargs)`` and the number of lines of non-library code it ran."""
    counted = [0]
    wanted: dict = {}

    def tracer(frame, event, arg):
        code = frame.f_code
        if code not in wanted:
            wanted[code] = _is_student_code(code.co_filename)
        if not wanted[code]:
            return None
        if event == "line":
            counted[0] += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = function(*args, **kwargs)
    finally:
        sys.settrace(previous)
    return result, counted[0]


def lines_run(function, *args) -> int:
    """How many lines of the student's code ``function(*args)`` runs (``function`` local or a handle)."""
    if getattr(type(function), "is_remote_handle", False):
        return int(function._session.call(function, None, args, {}, op="count_lines"))
    return count_lines(function, *args)[1]


def assert_vectorised(function, small: tuple, large: tuple, what: str, events: str = "jets") -> None:
    """Fail when ``function`` runs more lines of its own code on ``large`` than on ``small`` arguments
    (the same but for the number of ``events``): a Python loop over them."""
    few, many = lines_run(function, *small), lines_run(function, *large)
    n_small, n_large = len(small[0]), len(large[0])
    assert many - few < n_large - n_small, (f"{what} ran {few} lines of code for {n_small} {events} and {many} for "
                                            f"{n_large}: work on all {events} at once, without a Python loop over them")
