"""Small modules as data, for both sides: the grader passes its probe layers and instruments by value.

:func:`module_spec` (grader) describes a module as ``{"class", "init", "children"}``; :func:`build_module`
(student side) builds it again; :func:`module_state` and :func:`load_module_state` carry its parameters,
buffers, modes, gradients and an instrument's record each way. Only the ``torch.nn`` classes of
:data:`BUILDERS`, ``nn.Sequential`` of them and the instruments of ``course_utils.gradecells.instruments``
can be passed: nothing else is ever built from a message.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from . import wire

#: a tensor's own autograd flag, read at the C level: a property set on ``nn.Parameter`` cannot answer for it
_requires_grad = torch._C.TensorBase.__dict__["requires_grad"].__get__

#: ``torch.nn`` classes the grader may pass by value, with how each is built from its spec's ``init`` list
BUILDERS = {
    "Linear": lambda i: nn.Linear(int(i[0]), int(i[1]), bias=bool(i[2])),
    "BatchNorm1d": lambda i: nn.BatchNorm1d(int(i[0]), eps=float(i[1]), momentum=i[2], affine=bool(i[3]),
                                            track_running_stats=bool(i[4])),
    "ReLU": lambda i: nn.ReLU(), "Sigmoid": lambda i: nn.Sigmoid(), "Tanh": lambda i: nn.Tanh(),
    "Identity": lambda i: nn.Identity(), "Softplus": lambda i: nn.Softplus(), "ELU": lambda i: nn.ELU(),
    "Flatten": lambda i: nn.Flatten(), "LeakyReLU": lambda i: nn.LeakyReLU(float(i[0])),
    "Dropout": lambda i: nn.Dropout(float(i[0])),
}


def build_module(spec: dict) -> nn.Module:
    """A module from a spec ``{"class", "init", "children"}`` (see ``proxies.module_spec``)."""
    name = spec["class"]
    if name == "Sequential":
        return nn.Sequential(*(build_module(child) for _, child in spec["children"]))
    if name.startswith("instrument:"):
        from ..gradecells import instruments

        return instruments.INSTRUMENTS[name.split(":", 1)[1]](**spec["init"])
    return BUILDERS[name](spec["init"])


def module_state(module: nn.Module, records_checked: bool = True) -> wire.ModuleState:
    """``module``'s state as data; ``records_checked``: an instrument's record says whether anything but the
    instrument changed it (in the student's process; the grader's own copies need no such look)."""
    state = wire.ModuleState()
    for key, tensor in module.state_dict(keep_vars=True).items():
        state.tensors[key] = _numpy(tensor.detach())
    state.training = [m.training for m in module.modules()]
    for key, parameter in module.named_parameters():
        state.requires_grad[key] = bool(_requires_grad(parameter))
        state.grads[key] = None if parameter.grad is None else _numpy(parameter.grad.detach())
    recorder = getattr(module, "probe_record", None)
    state.record = _arrays_as_values(recorder()) if callable(recorder) else {}
    changed = getattr(module, "records_changed", None) if records_checked else None
    if callable(changed) and changed():
        state.record["changed"] = True
    return state


def _arrays_as_values(value):
    """An instrument's record with its NumPy arrays as wire arrays (sent as ``.npy``, not as lists)."""
    if isinstance(value, np.ndarray):
        return wire.ArrayValue(value)
    if isinstance(value, dict):
        return {k: _arrays_as_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_arrays_as_values(v) for v in value)
    return value


def _values_as_arrays(value):
    if isinstance(value, wire.ArrayValue):
        return np.array(value.array)
    if isinstance(value, dict):
        return {k: _values_as_arrays(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_values_as_arrays(v) for v in value)
    return value


class RecordChanged(AssertionError):
    """The code under test changed what an instrument it was given recorded."""


def load_module_state(module: nn.Module, state: wire.ModuleState, from_student: bool = False) -> None:
    """Make ``module``'s state ``state`` (in place: references to its tensors stay valid). A state
    ``from_student`` whose instrument record was changed by anything but the instrument raises
    :class:`RecordChanged`: what the model was run with is then unknown."""
    if from_student and state.record.get("changed") is True:
        raise RecordChanged(f"the code under test changed what the {type(module).__name__} it was given recorded "
                            "of its passes (only the model writes that record), so how it was run is unknown")
    own = module.state_dict(keep_vars=True)
    with torch.no_grad():
        for key, array in state.tensors.items():
            new = torch.from_numpy(np.array(array)).to(own[key].dtype)
            owner_name, _, leaf = key.rpartition(".")
            owner = module.get_submodule(owner_name) if owner_name else module
            if own[key].is_inference() and leaf in owner._buffers:  # made under inference_mode: replaced, not changed
                owner._buffers[leaf] = new
            else:
                own[key].copy_(new)
    for sub, mode in zip(module.modules(), state.training):
        sub.training = mode
    for key, parameter in module.named_parameters():
        parameter.requires_grad_(state.requires_grad.get(key, parameter.requires_grad))
        grad = state.grads.get(key)
        parameter.grad = None if grad is None else torch.from_numpy(np.array(grad)).to(parameter.dtype)
    loader = getattr(module, "load_probe_record", None)
    if callable(loader):
        loader(_values_as_arrays(state.record))


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return tensor.resolve_conj().resolve_neg().numpy().copy()




def module_spec(module: nn.Module) -> dict:
    """How :func:`build_module` builds ``module`` again (a ``TypeError`` for modules that cannot be passed)."""
    kind = type(module)
    probe_init = getattr(module, "probe_init", None)
    if callable(probe_init):
        return {"class": f"instrument:{kind.__name__}", "init": probe_init(), "children": []}
    if kind is nn.Sequential:
        return {"class": "Sequential", "init": [], "children": [[name, module_spec(child)] for name, child in module.named_children()]}
    if kind.__module__.startswith("torch.nn.") and kind.__name__ in BUILDERS:
        init = {"Linear": lambda m: [m.in_features, m.out_features, m.bias is not None],
                "BatchNorm1d": lambda m: [m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats],
                "LeakyReLU": lambda m: [m.negative_slope], "Dropout": lambda m: [m.p]}.get(kind.__name__, lambda m: [])
        return {"class": kind.__name__, "init": init(module), "children": []}
    raise TypeError(f"the grader cannot pass a {kind.__name__} to the student's code")
