"""The state a call leaves behind: torch's global switches and a model's modes, flags and parameters.

Take a :func:`snapshot` before and after a call and compare them: a function that turns off
autograd globally (``torch.set_grad_enabled(False)``), freezes parameters, leaves a layer's
``resample`` flag switched off or changes the default dtype has a visible side effect.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch
from torch import nn


@dataclass(frozen=True)
class Snapshot:
    """Global torch switches and, for a model, every module's mode, every parameter's
    ``requires_grad`` and the chosen attributes (``"<module name>.<attribute>"``)."""

    grad_enabled: bool
    inference_mode: bool
    default_dtype: torch.dtype
    training: dict[str, bool] = field(default_factory=dict)
    requires_grad: dict[str, bool] = field(default_factory=dict)
    flags: dict[str, object] = field(default_factory=dict)


def snapshot(model: nn.Module | None = None, flags: Iterable[str] = ()) -> Snapshot:
    """The state now; ``flags`` are attribute names looked up on every module that has them."""
    training, requires_grad, values = {}, {}, {}
    if getattr(type(model), "is_remote_handle", False):  # a model in the student's process (course_utils.grading)
        found = model._session.snapshot(model._handle, list(flags))
        return Snapshot(torch.is_grad_enabled(), torch.is_inference_mode_enabled(), torch.get_default_dtype(),
                        found["training"], found["requires_grad"], found["flags"])
    if model is not None:
        for name, module in model.named_modules():
            training[name or "<model>"] = module.training
            for flag in flags:
                if hasattr(module, flag):
                    values[f"{name or '<model>'}.{flag}"] = getattr(module, flag)
        requires_grad = {name: p.requires_grad for name, p in model.named_parameters()}
    return Snapshot(torch.is_grad_enabled(), torch.is_inference_mode_enabled(), torch.get_default_dtype(),
                    training, requires_grad, values)


def differences(before: Snapshot, after: Snapshot, ignore: Iterable[str] = ()) -> list[str]:
    """Human-readable differences; ``ignore`` may hold ``"training"`` (modes a call may change) and
    ``"default_dtype"`` (where the exercise text does not speak of it)."""
    ignore = set(ignore)
    found = []
    if before.grad_enabled != after.grad_enabled:
        found.append(f"autograd was {'on' if before.grad_enabled else 'off'} before the call and "
                     f"{'on' if after.grad_enabled else 'off'} after it (restore it, e.g. with `with torch.no_grad():`)")
    if before.inference_mode != after.inference_mode:
        found.append("inference mode was left switched on")
    if "default_dtype" not in ignore and before.default_dtype != after.default_dtype:
        found.append(f"the default dtype changed from {before.default_dtype} to {after.default_dtype}")
    if "training" not in ignore:
        changed = [name for name, mode in before.training.items() if after.training.get(name, mode) != mode]
        if changed:
            found.append(f"the train/eval mode of {', '.join(changed[:3])} changed")
    frozen = [name for name, grad in before.requires_grad.items() if grad and not after.requires_grad.get(name, grad)]
    if frozen:
        found.append(f"requires_grad was switched off for {', '.join(frozen[:3])}")
    flipped = [name for name, value in before.flags.items() if after.flags.get(name, value) != value]
    if flipped:
        found.append(", ".join(f"{name} changed from {before.flags[name]!r} to {after.flags.get(name)!r}"
                               for name in flipped[:3]))
    return found


def assert_state_kept(before: Snapshot, after: Snapshot, call: str, ignore: Iterable[str] = ()) -> None:
    """Fail with every side effect of ``call`` found between the two snapshots."""
    found = differences(before, after, ignore)
    assert not found, f"{call} left state behind: " + "; ".join(found)


def modes(model: nn.Module) -> set[bool]:
    """The distinct ``training`` flags of the model's modules ({False}: everything in eval mode)."""
    return {module.training for module in model.modules()}
