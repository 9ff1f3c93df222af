"""Which parameters does a term reach through autograd?

Checking only that a total loss "has some gradient" misses a term that was detached (``mu.data``,
``torch.tensor(mu)``, log q evaluated at a detached sample): check each term against each
parameter it must, or must not, reach.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import torch


def reached(term: torch.Tensor, params: Mapping[str, torch.Tensor]) -> dict[str, bool]:
    """name -> whether ``term`` has a non-zero gradient with respect to that parameter."""
    names = list(params)
    if not torch.is_tensor(term) or not term.requires_grad:
        return {name: False for name in names}
    grads = torch.autograd.grad(term.sum(), [params[n] for n in names], retain_graph=True, allow_unused=True)
    return {name: g is not None and bool(torch.any(g != 0)) and bool(torch.all(torch.isfinite(g)))
            for name, g in zip(names, grads)}


def assert_reaches(term: torch.Tensor, params: Mapping[str, torch.Tensor], names: Iterable[str], term_name: str) -> None:
    """Fail unless ``term`` has a non-zero, finite gradient into every parameter in ``names``."""
    result = reached(term, params)
    missing = [name for name in names if not result[name]]
    assert not missing, f"no gradient flows from {term_name} into {', '.join(missing)}"


def assert_misses(term: torch.Tensor, params: Mapping[str, torch.Tensor], names: Iterable[str], term_name: str) -> None:
    """Fail if ``term`` depends (through autograd) on any parameter in ``names``."""
    result = reached(term, params)
    extra = [name for name in names if result[name]]
    assert not extra, f"{term_name} must not depend on {', '.join(extra)}"


def parameter_gradients(model, method: str, *args) -> dict[str, torch.Tensor | None]:
    """name -> the gradient of ``model.<method>(*args).sum()`` with respect to each parameter (None where it
    does not reach one), the gradients zeroed first. ``model`` may live in the student's process (a handle
    of ``course_utils.grading``): backward then runs there and only the gradients come back."""
    if getattr(type(model), "is_remote_handle", False):
        return model._session.call(model, method, args, {}, op="gradients")
    for parameter in model.parameters():
        parameter.grad = None
    with torch.enable_grad():
        getattr(model, method)(*args).sum().backward()
    return {name: None if p.grad is None else p.grad.detach().clone() for name, p in model.named_parameters()}


def module_calls(model, submodule: str, method: str, *args) -> int:
    """How many times ``model.<submodule>`` runs during ``model.<method>(*args)`` (``model`` local or a handle)."""
    if getattr(type(model), "is_remote_handle", False):
        return model._session.call(model, method, args, {}, op="count_calls", submodule=submodule)
    calls = []
    handle = model.get_submodule(submodule).register_forward_hook(lambda *a: calls.append(1))
    try:
        getattr(model, method)(*args)
    finally:
        handle.remove()
    return len(calls)


def pass_gradients(model, method: str, *args, terms=("output",)):
    """One pass ``model.<method>(*args)`` and, for each term, its value and its gradient in every parameter:
    ``"output"`` is the output's sum, any other name an attribute the pass left on the model (``log_q``).
    Returns (output, {term: {parameter name: gradient or None}}, {term: value}); ``model`` local or a handle."""
    if getattr(type(model), "is_remote_handle", False):
        found = model._session.call(model, method, args, {}, op="pass_gradients", terms=list(terms))
        return found["output"], found["grads"], found["values"]
    names, parameters = zip(*model.named_parameters()) if list(model.parameters()) else ((), ())
    with torch.enable_grad():
        output = getattr(model, method)(*args)
        values, grads = {}, {}
        for term in terms:
            value = output if term == "output" else getattr(model, term)
            values[term] = value
            if torch.is_tensor(value) and value.requires_grad and parameters:
                found = torch.autograd.grad(value.sum(), list(parameters), retain_graph=True, allow_unused=True)
                grads[term] = dict(zip(names, found))
            else:
                grads[term] = dict.fromkeys(names)
    return output.detach(), grads, values


def input_gradients(function, *args):
    """``function(*args)`` and the gradient of its sum in each tensor argument with ``requires_grad`` (None for
    the others): (output, [gradient or None per argument]); ``function`` local or a handle."""
    if getattr(type(function), "is_remote_handle", False):
        found = function._session.call(function, None, args, {}, op="input_gradients")
        grads = found["grads"]
        assert isinstance(grads, list) and len(grads) == len(args), "one gradient (or None) per argument"
        for index, (arg, grad) in enumerate(zip(args, grads)):
            wanted = tuple(arg.shape) if torch.is_tensor(arg) and arg.requires_grad else None
            assert (grad is None and wanted is None) or (torch.is_tensor(grad) and tuple(grad.shape) == wanted), \
                f"the gradient of argument {index} has the shape {tuple(getattr(grad, 'shape', ()))}, not its argument's {wanted}"
        return found["output"], grads
    with torch.enable_grad():
        output = function(*args)
        leaves = [a for a in args if torch.is_tensor(a) and a.requires_grad]
        found = iter(torch.autograd.grad(output.sum(), leaves, allow_unused=True) if leaves else ())
    return output.detach(), [next(found) if torch.is_tensor(a) and a.requires_grad else None for a in args]


def unreached(grads: Mapping[str, torch.Tensor | None], names: Iterable[str]) -> list[str]:
    """Those of ``names`` whose gradient in ``grads`` is missing, zero everywhere or not finite."""
    def reaches(grad) -> bool:
        return torch.is_tensor(grad) and bool(torch.any(grad != 0)) and bool(torch.all(torch.isfinite(grad)))

    return [name for name in names if not reaches(grads.get(name))]


def assert_pass_reaches(model, method: str, args: tuple, names: Iterable[str], term_name: str) -> None:
    """Fail unless the sum of ``model.<method>(*args)`` has a non-zero, finite gradient in every parameter of
    ``names`` (``model`` local or a handle)."""
    _, grads, _ = pass_gradients(model, method, *args)
    missing = unreached(grads["output"], names)
    assert not missing, f"no gradient flows from {term_name} into {', '.join(missing)}"
