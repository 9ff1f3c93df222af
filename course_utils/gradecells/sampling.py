"""Does each Bayesian layer draw new weights within a forward pass of the whole network?

A network can look stochastic as a whole while some of its Bayesian layers silently use their
means (for instance a network that passes ``sample=self.training`` to its layers, evaluated in
``eval()`` mode). :func:`layers_that_sample` replays a pass: every chosen layer receives, in a second
pass, exactly the arguments it received in the first; a layer whose output then changes drew new
weights (or noise) of its own, whatever the other layers did.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn


def _clone(value):
    if torch.is_tensor(value):
        return value.detach().clone()
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    return value


def _same(a, b) -> bool:
    if torch.is_tensor(a) and torch.is_tensor(b):
        return a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def layers_that_sample(model: nn.Module, x, layers: Sequence[nn.Module],
                       forward: Callable[[nn.Module, object], object] | None = None) -> list[bool]:
    """For each of ``layers`` (modules inside ``model``): whether it sampled during ``forward(model, x)``.

    ``forward`` defaults to ``model(x)``. The model's mode (train or eval) is left as the caller set
    it, and nothing about the model is changed. A layer that is never called counts as not sampling.
    """
    if getattr(type(model), "is_remote_handle", False):  # a model in the student's process (course_utils.grading)
        if forward is not None:
            raise TypeError("a model in the student's process is replayed with model(x) only")
        return model._session.call(model, None, (x,), {}, op="layers_that_sample", layers=[layer._handle for layer in layers])
    run = forward or (lambda m, inputs: m(inputs))
    calls: dict[int, list] = {i: [] for i in range(len(layers))}
    outputs: dict[int, list] = {i: [] for i in range(len(layers))}
    replaying = False
    handles = []

    def make_hooks(index: int):
        def before(module, args, kwargs):
            if not replaying:
                calls[index].append((_clone(args), _clone(kwargs)))
                return None
            position = len(outputs[index])
            if position < len(calls[index]):
                saved_args, saved_kwargs = calls[index][position]
                return _clone(saved_args), _clone(saved_kwargs)
            return None

        def after(module, args, kwargs, output):
            outputs[index].append(_clone(output))

        return before, after

    try:
        for index, layer in enumerate(layers):
            before, after = make_hooks(index)
            handles.append(layer.register_forward_pre_hook(before, with_kwargs=True))
            handles.append(layer.register_forward_hook(after, with_kwargs=True))
        with torch.no_grad():
            run(model, x)
            first = {i: list(outputs[i]) for i in outputs}
            for i in outputs:
                outputs[i].clear()
            replaying = True
            run(model, x)
    finally:
        for handle in handles:
            handle.remove()
    sampled = []
    for i in range(len(layers)):
        pairs = list(zip(first[i], outputs[i]))
        sampled.append(bool(pairs) and any(not _same(a, b) for a, b in pairs))
    return sampled


def assert_every_layer_samples(model: nn.Module, x, layers: Sequence[nn.Module], what: str = "",
                               forward: Callable[[nn.Module, object], object] | None = None) -> None:
    """Fail, naming the culprits, unless every one of ``layers`` samples within one pass."""
    sampled = layers_that_sample(model, x, layers, forward)
    from .layers import class_name

    silent = [f"{class_name(layer)} #{i + 1}" for i, (layer, s) in enumerate(zip(layers, sampled)) if not s]
    mode = "training" if model.training else "evaluation"
    assert not silent, (f"{what or 'the network'} in {mode} mode: {', '.join(silent)} gave the same output twice "
                        f"for the same input, so it used fixed weights instead of drawing a sample")
