"""Which layers a network is built of, by class name, for a local module and a handle alike.

``isinstance(m, BBBConv2d)`` needs the class object itself; a check that may run in the grader's process
(``course_utils.grading``) sees the student's modules as handles, whose classes are known by name. These
helpers compare qualified class names, so the same check reads both.
"""
from __future__ import annotations


def class_names(obj) -> tuple[str, ...]:
    """The qualified names (``module.QualName``) of ``obj``'s class and its bases, the class first."""
    if getattr(type(obj), "is_remote_handle", False):
        return tuple(obj.type_names)
    return tuple(f"{kind.__module__}.{kind.__qualname__}" for kind in type(obj).__mro__)


def class_name(obj) -> str:
    """``obj``'s class's own name, without its module (``"BBBConv2d"``)."""
    return class_names(obj)[0].rsplit(".", 1)[-1]


def is_a(obj, *names: str) -> bool:
    """Whether ``obj``'s class or one of its bases has one of ``names``: a bare name (``"VBLinear"``) matches
    a class of that name in any module, a qualified one (``"torch.nn.modules.linear.Linear"``) only itself."""
    found = class_names(obj)
    return any(full == name or ("." not in name and full.rsplit(".", 1)[-1] == name) for full in found for name in names)


def is_exactly(obj, *names: str) -> bool:
    """Whether ``obj``'s own class (not a base) has one of ``names`` (bare or qualified, as for :func:`is_a`)."""
    own = class_names(obj)[0]
    return any(own == name or ("." not in name and own.rsplit(".", 1)[-1] == name) for name in names)


def layers_of(model, *names: str) -> list:
    """The modules of ``model`` (itself included, in ``model.modules()`` order) that are one of ``names``."""
    return [module for module in model.modules() if is_a(module, *names)]


def structure(model) -> list[tuple[str, str]]:
    """(name, qualified class name) of every module of ``model``, in order: what ``__init__`` built."""
    return [(name, class_names(module)[0]) for name, module in model.named_modules()]


def traced_calls(model, x, chosen: list) -> tuple[object, list[tuple[object, object]]]:
    """``model(x)`` and the (first input, output) of every call of the modules ``chosen`` during that pass, in call
    order (copies, taken as each call returns); ``model`` local or a handle."""
    if getattr(type(model), "is_remote_handle", False):
        found = model._session.call(model, None, (x,), {}, op="trace_calls", layers=[layer._handle for layer in chosen])
        return found["output"], [tuple(pair) for pair in found["calls"]]
    import torch

    calls = []

    def record(module, args, output):  # copies: an in-place activation may change the output afterwards
        calls.append((args[0].detach().clone(), output.detach().clone()))

    hooks = [module.register_forward_hook(record) for module in chosen]
    try:
        with torch.no_grad():
            output = model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return output, calls
