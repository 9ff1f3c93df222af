"""An optimizer over a model's parameters, made where the model lives.

``torch.optim.Adam(model.parameters())`` needs the parameters themselves; a model in the student's process
(a handle of ``course_utils.grading``) gives copies, so its optimizer is made there with :func:`optimizer`.
"""
from __future__ import annotations

import torch

#: the optimizers a check may make
KINDS = ("SGD", "Adam", "AdamW")


def optimizer(kind: str, model, **hyper):
    """``torch.optim.<kind>(model.parameters(), **hyper)``; for a handle, made in the student's process."""
    if kind not in KINDS:
        raise ValueError(f"an optimizer is one of {KINDS}, not {kind!r}")
    if getattr(type(model), "is_remote_handle", False):
        return model._session.call(model, None, (), {}, op="optimizer", kind=kind, hyper=dict(hyper))
    return getattr(torch.optim, kind)(model.parameters(), **hyper)
