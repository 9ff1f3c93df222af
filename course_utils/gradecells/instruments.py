"""Instruments: small models that a test hands to the student's function and that record how they were run.

:class:`RecordingNet` stands in for a DeepSets network (``latent``, ``proba_from_latent``, ``forward``)
whose outputs are known from its inputs, and records the batch sizes it saw and the modes it ran in.
An instrument can be passed by value to a student's process and back (``probe_init``, ``probe_record``,
``load_probe_record``), so a check in the grader's process reads what it recorded there.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _calls_and_modes(calls: list[int], modes: list[tuple[bool, bool]]) -> dict:
    """Batch sizes and (training, grad enabled) per call, as arrays."""
    return {"calls": np.array(calls, dtype=np.int64), "modes": np.array(modes, dtype=bool).reshape(-1, 2)}


def _from_calls_and_modes(record: dict) -> tuple[list[int], list[tuple[bool, bool]]]:
    calls = np.asarray(record.get("calls", []), dtype=np.int64).reshape(-1).tolist()
    modes = [tuple(pair) for pair in np.asarray(record.get("modes", []), dtype=bool).reshape(-1, 2).tolist()]
    return calls, modes


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
        return _calls_and_modes(self.calls, self.modes)

    def load_probe_record(self, record: dict) -> None:
        self.calls, self.modes = _from_calls_and_modes(record)


#: instruments by name, as a spec names them
INSTRUMENTS = {"RecordingNet": RecordingNet}


def _packed(passes: list[torch.Tensor]) -> dict:
    """Recorded passes (each (batch, classes)) as one array and the batch sizes (sent as data, not lists)."""
    if not passes:
        return {"rows": np.zeros((0, 4), dtype=np.float32), "sizes": np.zeros(0, dtype=np.int64)}
    return {"rows": torch.cat(passes).numpy(), "sizes": np.array([len(p) for p in passes], dtype=np.int64)}


def _unpacked(record: dict) -> list[torch.Tensor]:
    rows, sizes = record.get("rows"), np.asarray(record.get("sizes", []), dtype=np.int64).reshape(-1)
    return list(torch.split(torch.as_tensor(np.asarray(rows, dtype=np.float32)), sizes.tolist())) if len(sizes) else []


class TwoFacedClassifier(nn.Module):
    """A classifier for Monte Carlo tests: each pass returns, for all inputs, the log of one of two fixed
    probability vectors over four classes, chosen at random; input n multiplies the logits by its first
    feature. Records each call's batch size, (training, grad enabled) and the probabilities it gave."""

    def __init__(self):
        super().__init__()
        self.first = torch.log(torch.tensor([0.7, 0.1, 0.1, 0.1]))
        self.second = torch.log(torch.tensor([0.1, 0.1, 0.4, 0.4]))
        self.scale = nn.Parameter(torch.ones(()))
        self.calls: list[int] = []
        self.modes: list[tuple[bool, bool]] = []
        self.passes: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        self.calls.append(len(x))
        self.modes.append((self.training, torch.is_grad_enabled()))
        base = self.first if torch.rand(()) < 0.5 else self.second
        logits = base.unsqueeze(0) * x[:, :1] * self.scale
        self.passes.append(torch.softmax(logits.detach(), dim=-1))
        return logits

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {**_calls_and_modes(self.calls, self.modes), "passes": _packed(self.passes)}

    def load_probe_record(self, record: dict) -> None:
        self.calls, self.modes = _from_calls_and_modes(record)
        self.passes = _unpacked(record.get("passes", {}))


class RandomLogits(nn.Module):
    """Each pass returns random logits 2 N(0, 1) + the first four features, and records its probabilities."""

    def __init__(self):
        super().__init__()
        self.passes: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        logits = 2 * torch.randn(len(x), 4) + x[:, :4]
        self.passes.append(torch.softmax(logits.detach(), dim=-1))
        return logits

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {"passes": _packed(self.passes)}

    def load_probe_record(self, record: dict) -> None:
        self.passes = _unpacked(record.get("passes", {}))


class NoisyLinear(nn.Module):
    """Weights mu + N(0, 1) noise when training or when asked to sample, else the means."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.mu = nn.Parameter(torch.randn(n_out, n_in))

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        weight = self.mu + torch.randn_like(self.mu) if (self.training or sample) else self.mu
        return torch.nn.functional.linear(x, weight)


class NoisyNet(nn.Module):
    """Two noisy layers (3 -> 6 -> 4 classes); records whether each pass asked its layers to sample."""

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([NoisyLinear(3, 6), NoisyLinear(6, 4)])
        self.sampled: list[bool] = []

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        self.sampled.append(bool(self.training or sample))
        return self.layers[1](torch.relu(self.layers[0](x, sample)), sample)

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {"sampled": np.array(self.sampled, dtype=bool)}

    def load_probe_record(self, record: dict) -> None:
        self.sampled = [bool(s) for s in np.asarray(record.get("sampled", []), dtype=bool)]


INSTRUMENTS.update({"TwoFacedClassifier": TwoFacedClassifier, "RandomLogits": RandomLogits, "NoisyNet": NoisyNet})
