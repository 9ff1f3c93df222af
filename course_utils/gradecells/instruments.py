"""Instruments: small models that a test hands to the student's function and that record how they were run.

:class:`RecordingNet` stands in for a DeepSets network (``latent``, ``proba_from_latent``, ``forward``)
whose outputs are known from its inputs, and records the batch sizes it saw and the modes it ran in.
An instrument can be passed by value to a student's process and back (``probe_init``, ``probe_record``,
``load_probe_record``), so a check in the grader's process reads what it recorded there.
"""
from __future__ import annotations

import torch
from torch import nn


class RecordingNet(nn.Module):
    """latent = (number of real constituents, scale x first feature of the first slot)[-inner_dim:],
    p(top) = sigmoid(the last latent value); records the batch sizes and (training, grad enabled) per call."""

    def __init__(self, inner_dim: int = 2):
        super().__init__()
        self.inner_dim, self.scale = inner_dim, nn.Parameter(torch.ones(()))
        self.calls: list[int] = []
        self.modes: list[tuple[bool, bool]] = []

    def latent(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        self.calls.append(len(x))
        self.modes.append((self.training, torch.is_grad_enabled()))
        return torch.stack([m.sum(dim=1), self.scale * x[:, 0, 0]][-self.inner_dim:], dim=1)

    def proba_from_latent(self, ell: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(ell[:, -1:])

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        return self.proba_from_latent(self.latent(x, m))

    def probe_init(self) -> dict:
        return {"inner_dim": self.inner_dim}

    def probe_record(self) -> dict:
        return {"calls": [int(c) for c in self.calls], "modes": [[bool(a), bool(b)] for a, b in self.modes]}

    def load_probe_record(self, record: dict) -> None:
        self.calls = [int(c) for c in record.get("calls", [])]
        self.modes = [(bool(a), bool(b)) for a, b in record.get("modes", [])]


#: instruments by name, as a spec names them
INSTRUMENTS = {"RecordingNet": RecordingNet}
