"""Instruments: small models that a test hands to the student's function and that record how they were run.

:class:`RecordingNet` stands in for a DeepSets network (``latent``, ``proba_from_latent``, ``forward``)
whose outputs are known from its inputs, and records the batch sizes it saw and the modes it ran in.
An instrument can be passed by value to a student's process and back (``probe_init``, ``probe_record``,
``load_probe_record``), so a check in the grader's process reads what it recorded there. What an instrument
notes is a :class:`Record`: the instrument appends to it, and any other change (cleared, rewritten, replaced)
by the code under test is seen, so a check can refuse a record it cannot trust.
"""
from __future__ import annotations

import sys
from collections.abc import Iterable

import numpy as np
import torch
from torch import nn


_THIS_MODULE = globals()


def _fingerprint(item: object) -> object:
    """What an entry holds, so that a change in place (a tensor or array edited after it was recorded) is seen."""
    if isinstance(item, torch.Tensor):
        item = item.detach().cpu()
        if item.is_floating_point() and item.element_size() < 4:  # half precision has no NumPy twin (bfloat16)
            item = item.double()
        item = item.numpy()
    if isinstance(item, np.ndarray):
        return (item.dtype.str, item.shape, hash(np.ascontiguousarray(item).tobytes()))
    if isinstance(item, (tuple, list)):
        return tuple(_fingerprint(part) for part in item)
    return repr(item)


class Record(list):
    """A list the instrument appends to; any other change, also to an entry in place or an entry appended by
    code outside this module (an answer forging what the model saw), marks it as changed (:meth:`is_changed`)."""

    def __init__(self, items: Iterable = ()):
        again = hasattr(self, "_length")  # a record started over by hand
        super().__init__(items)
        self.changed, self._length = again, len(self)
        self._fingerprints = [_fingerprint(item) for item in self]

    def append(self, item: object) -> None:
        if sys._getframe(1).f_globals is not _THIS_MODULE:  # only the instruments below append
            self.changed = True
        super().append(item)
        self._length += 1
        self._fingerprints.append(_fingerprint(item))

    def is_changed(self) -> bool:
        return (self.changed or len(self) != self._length
                or [_fingerprint(item) for item in list.__iter__(self)] != self._fingerprints)


def _marks_change(name: str):
    def method(self, *args, **kwargs):
        self.changed = True
        return getattr(list, name)(self, *args, **kwargs)
    method.__name__ = name
    return method


for _name in ("clear", "extend", "insert", "pop", "remove", "reverse", "sort", "__setitem__", "__delitem__",
              "__iadd__", "__imul__"):
    setattr(Record, _name, _marks_change(_name))


class RecordKeeper:
    """For instruments: ``_keep(name=items, ...)`` starts the named records (every name in ``RECORDS``);
    :meth:`records_changed` tells whether one of them was changed or replaced since."""

    RECORDS: tuple[str, ...] = ()

    def _keep(self, **records: Iterable) -> None:
        self._kept = {**getattr(self, "_kept", {}), **{name: Record(items) for name, items in records.items()}}
        for name in records:
            setattr(self, name, self._kept[name])

    def records_changed(self) -> bool:
        kept = getattr(self, "_kept", {})
        return any(not isinstance(kept.get(name), Record) or getattr(self, name, None) is not kept[name]
                   or kept[name].is_changed() for name in type(self).RECORDS)


def _calls_and_modes(calls: list[int], modes: list[tuple[bool, bool]]) -> dict:
    """Batch sizes and (training, grad enabled) per call, as arrays."""
    return {"calls": np.array(calls, dtype=np.int64), "modes": np.array(modes, dtype=bool).reshape(-1, 2)}


def _from_calls_and_modes(record: dict) -> tuple[list[int], list[tuple[bool, bool]]]:
    calls = np.asarray(record.get("calls", []), dtype=np.int64).reshape(-1).tolist()
    modes = [tuple(pair) for pair in np.asarray(record.get("modes", []), dtype=bool).reshape(-1, 2).tolist()]
    return calls, modes


class RecordingNet(RecordKeeper, nn.Module):
    """latent = (number of real constituents, scale x first feature of the first slot)[-inner_dim:],
    p(top) = sigmoid(the last latent value); records the batch sizes and (training, grad enabled) per call."""

    RECORDS = ("calls", "modes")

    def __init__(self, inner_dim: int = 2):
        super().__init__()
        self.inner_dim, self.scale = inner_dim, nn.Parameter(torch.ones(()))
        self._keep(calls=[], modes=[])  # batch sizes, (training, grad enabled)

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
        calls, modes = _from_calls_and_modes(record)
        self._keep(calls=calls, modes=modes)


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


class TwoFacedClassifier(RecordKeeper, nn.Module):
    """A classifier for Monte Carlo tests: each pass returns, for all inputs, the log of one of two fixed
    probability vectors over four classes, chosen at random; input n multiplies the logits by its first
    feature. Records each call's batch size, (training, grad enabled) and the probabilities it gave."""

    RECORDS = ("calls", "modes", "passes")

    def __init__(self):
        super().__init__()
        self.first = torch.log(torch.tensor([0.7, 0.1, 0.1, 0.1]))
        self.second = torch.log(torch.tensor([0.1, 0.1, 0.4, 0.4]))
        self.scale = nn.Parameter(torch.ones(()))
        self._keep(calls=[], modes=[], passes=[])  # batch sizes, (training, grad enabled), probabilities

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
        calls, modes = _from_calls_and_modes(record)
        self._keep(calls=calls, modes=modes, passes=_unpacked(record.get("passes", {})))


class RandomLogits(RecordKeeper, nn.Module):
    """Each pass returns random logits 2 N(0, 1) + the first four features, and records its probabilities."""

    RECORDS = ("passes",)

    def __init__(self):
        super().__init__()
        self._keep(passes=[])

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        logits = 2 * torch.randn(len(x), 4) + x[:, :4]
        self.passes.append(torch.softmax(logits.detach(), dim=-1))
        return logits

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {"passes": _packed(self.passes)}

    def load_probe_record(self, record: dict) -> None:
        self._keep(passes=_unpacked(record.get("passes", {})))


class NoisyLinear(nn.Module):
    """Weights mu + N(0, 1) noise when training or when asked to sample, else the means."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.mu = nn.Parameter(torch.randn(n_out, n_in))

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        weight = self.mu + torch.randn_like(self.mu) if (self.training or sample) else self.mu
        return torch.nn.functional.linear(x, weight)


class NoisyNet(RecordKeeper, nn.Module):
    """Two noisy layers (3 -> 6 -> 4 classes); records whether each pass asked its layers to sample."""

    RECORDS = ("sampled",)

    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([NoisyLinear(3, 6), NoisyLinear(6, 4)])
        self._keep(sampled=[])

    def forward(self, x: torch.Tensor, sample: bool = True) -> torch.Tensor:
        self.sampled.append(bool(self.training or sample))
        return self.layers[1](torch.relu(self.layers[0](x, sample)), sample)

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {"sampled": np.array(self.sampled, dtype=bool)}

    def load_probe_record(self, record: dict) -> None:
        self._keep(sampled=[bool(s) for s in np.asarray(record.get("sampled", []), dtype=bool)])


INSTRUMENTS.update({"TwoFacedClassifier": TwoFacedClassifier, "RandomLogits": RandomLogits, "NoisyNet": NoisyNet})


# -- stand-ins for tutorial 03's training loop and Monte Carlo predictions ------------------------------------
def _modes_and_grad(model: nn.Module) -> tuple[bool, bool, bool]:
    """(any module training, every module training, autograd on) now."""
    flags = [m.training for m in model.modules()]
    return any(flags), all(flags), torch.is_grad_enabled()


def _triples(rows: list[tuple]) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


class ToyBayesClassifier(RecordKeeper, nn.Module):
    """A small stochastic classifier with a KL term, standing in for a Bayesian CNN: the flattened image times
    weights mu + softplus(rho) * noise, then a sigmoid; ``KL()`` is that of N(mu, sigma) to N(0, 1) over
    ``n_train``. Records, per pass, (any module training, every module training, autograd on)."""

    RECORDS = ("passes",)

    def __init__(self, n_in: int, n_train: int):
        super().__init__()
        self.n_in, self.n_train = n_in, n_train
        self.mu = nn.Parameter(0.1 * torch.randn(1, n_in))
        self.rho = nn.Parameter(torch.full((1, n_in), -3.0))
        self.bias = nn.Parameter(torch.zeros(1))
        self.head = nn.Identity()  # a submodule: train() and eval() must reach every module
        self._keep(passes=[])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.passes.append(_modes_and_grad(self))
        weight = self.mu + torch.nn.functional.softplus(self.rho) * torch.randn_like(self.mu)
        return self.head(torch.sigmoid(torch.nn.functional.linear(x.flatten(1), weight, self.bias)))

    def KL(self) -> torch.Tensor:  # noqa: N802  (the course's name for it)
        sigma = torch.nn.functional.softplus(self.rho)
        return (0.5 * (self.mu**2 + sigma**2) - torch.log(sigma) - 0.5).sum() / self.n_train

    def probe_init(self) -> dict:
        return {"n_in": self.n_in, "n_train": self.n_train}

    def probe_record(self) -> dict:
        return {"passes": _triples(self.passes)}

    def load_probe_record(self, record: dict) -> None:
        rows = np.asarray(record.get("passes", []), dtype=np.int64).reshape(-1, 3)
        self._keep(passes=[tuple(bool(v) for v in row) for row in rows])


class PlainClassifier(nn.Module):
    """A deterministic classifier (flatten, Linear(n_in, 6), tanh, Linear(6, 1), sigmoid) whose "KL" is a weight
    decay, 1e-2 times the sum of its squared parameters: one epoch of training is exactly predictable."""

    def __init__(self, n_in: int = 16):
        super().__init__()
        self.n_in = n_in
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(n_in, 6), nn.Tanh(), nn.Linear(6, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def KL(self) -> torch.Tensor:  # noqa: N802
        return 1e-2 * sum((p**2).sum() for p in self.parameters())

    def probe_init(self) -> dict:
        return {"n_in": self.n_in}


class NoisyTagger(RecordKeeper, nn.Module):
    """A stand-in Bayesian tagger: sigmoid(first pixel + shift + noise of width 0.3), new noise per jet and pass,
    in column 0; with ``columns=2`` a second column 10 + the first. Records each pass's (number of jets, any
    module training, autograd on)."""

    RECORDS = ("calls",)

    def __init__(self, columns: int = 1):
        super().__init__()
        self.columns = columns
        self.shift = nn.Parameter(torch.zeros(1))
        self.head = nn.Identity()  # a submodule: eval() must reach every module
        self._keep(calls=[])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((len(x), self.training or self.head.training, torch.is_grad_enabled()))
        first = torch.sigmoid(x[:, 0, 0, 0] + self.shift + 0.3 * torch.randn(len(x))).unsqueeze(-1)
        return first if self.columns == 1 else torch.cat([first, 10.0 + first], dim=1)

    def probe_init(self) -> dict:
        return {"columns": self.columns}

    def probe_record(self) -> dict:
        return {"calls": _triples(self.calls)}

    def load_probe_record(self, record: dict) -> None:
        rows = np.asarray(record.get("calls", []), dtype=np.int64).reshape(-1, 3)
        self._keep(calls=[(int(n), bool(t), bool(g)) for n, t, g in rows])


class KnownTagger(RecordKeeper, nn.Module):
    """Outputs p +- s with a random sign per pass and jet: p the first pixel, s = spread x the second pixel (so
    mean p and standard deviation s, different for every jet). Records the first pixels of each batch it sees."""

    RECORDS = ("seen",)

    def __init__(self, spread: float = 0.125):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))  # a tagger has parameters
        self.spread = spread
        self._keep(seen=[])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = x[:, 0, 0, 0]
        self.seen.append(p.detach().clone())
        sign = torch.randint(0, 2, p.shape, dtype=p.dtype) * 2 - 1
        return (p + self.spread * x[:, 0, 0, 1] * sign).unsqueeze(-1)

    def probe_init(self) -> dict:
        return {"spread": self.spread}

    def probe_record(self) -> dict:
        seen = [s.double() for s in self.seen]
        return {"values": torch.cat(seen).numpy() if seen else np.zeros(0),
                "sizes": np.array([len(s) for s in seen], dtype=np.int64)}

    def load_probe_record(self, record: dict) -> None:
        values = torch.as_tensor(np.asarray(record.get("values", np.zeros(0)), dtype=np.float64))
        sizes = np.asarray(record.get("sizes", []), dtype=np.int64).reshape(-1).tolist()
        self._keep(seen=[s.float() for s in torch.split(values, sizes)] if sizes and sum(sizes) == len(values) else [])


INSTRUMENTS.update({"ToyBayesClassifier": ToyBayesClassifier, "PlainClassifier": PlainClassifier,
                    "NoisyTagger": NoisyTagger, "KnownTagger": KnownTagger})


# -- stand-ins for tutorial 01's training loop and Monte Carlo predictions ------------------------------------
def _flag(value):
    """A flag as data (bools, numbers, text and None as they are; anything else as its repr)."""
    return value if value is None or type(value) in (bool, int, float, str) else repr(value)


class DeterministicAmplitudeNet(RecordKeeper, nn.Module):
    """Linear(20, 8), tanh, Linear(8, 2) -> (mean, log variance), with a loss and a weight-decay "KL" of its own
    (the Gaussian NLL plus 0.3 x the mean, and 1e-2 x the sum of its squared parameters), so one epoch is exactly
    predictable and the model's own loss is seen to be used; ``body[0]`` carries a ``resample`` flag. Records
    whether autograd was on in each pass."""

    RECORDS = ("grad_enabled",)

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(20, 8), nn.Tanh(), nn.Linear(8, 2))
        self.body[0].resample = True
        self._keep(grad_enabled=[])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        return self.body(x)

    def KL(self) -> torch.Tensor:  # noqa: N802
        return 1e-2 * sum((p**2).sum() for p in self.parameters())

    def neg_log_gauss(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        mean, log_var = outputs[:, 0], outputs[:, 1]
        gauss = 0.5 * (mean - targets.reshape(-1)) ** 2 * torch.exp(-log_var) + 0.5 * log_var
        return torch.mean(gauss + 0.3 * mean)

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {"grad_enabled": np.array(self.grad_enabled, dtype=bool), "resample": [_flag(self.body[0].resample)]}

    def load_probe_record(self, record: dict) -> None:
        self._keep(grad_enabled=[bool(v) for v in np.asarray(record.get("grad_enabled", []), dtype=bool).reshape(-1)])
        self.body[0].resample = (record.get("resample") or [True])[0]


class _NoisyWeights(nn.Module):
    """x W^T with W = mu + 0.3 noise, new noise per pass while ``resample`` is on (as VBLinear)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.mu = nn.Parameter(torch.randn(n_out, n_in) / n_in**0.5)
        self.resample = True
        self.register_buffer("noise", torch.zeros(n_out, n_in))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample:
            self.noise = torch.randn_like(self.mu)
        return x @ (self.mu + 0.3 * self.noise).T


class ToyAmplitudeNet(nn.Module):
    """Two noisy weight matrices with ``resample`` flags (as VBLinear has), 20 -> 8 -> 2: (mean, log variance)."""

    def __init__(self):
        super().__init__()
        self.first, self.second = _NoisyWeights(20, 8), _NoisyWeights(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.tanh(self.first(x)))

    def probe_init(self) -> dict:
        return {}

    def probe_record(self) -> dict:
        return {"resample": [_flag(self.first.resample), _flag(self.second.resample)]}

    def load_probe_record(self, record: dict) -> None:
        flags = record.get("resample") or [True, True]
        self.first.resample, self.second.resample = (flags + [True, True])[:2]


class AlternatingAmplitudeModel(nn.Module):
    """Known answers, event i's index stored in input column 19, k its number of passes so far. ``kind``:
    ``"alternating"``: mean x_i0 + 0.3 (-1)^k, log variance ln(0.1 + x_i1^2) + (-1)^k; ``"unit"``: mean as there,
    log variance (-1)^k; ``"skewed"``: mean x_i0 + 0.6, - 0.3, - 0.3 for k = 0, 1, 2 (mod 3), log variance
    ln(0.1 + x_i1^2). The buffer ``passes`` counts each event's passes."""

    def __init__(self, n_events: int, kind: str = "alternating"):
        super().__init__()
        self.n_events, self.kind = n_events, kind
        self.unused = nn.Parameter(torch.zeros(1))  # so that next(model.parameters()) works
        self.register_buffer("passes", torch.zeros(n_events, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = x[:, -1].round().long()
        count = self.passes[index]
        self.passes[index] += 1
        if self.kind == "skewed":
            offset = torch.tensor([0.6, -0.3, -0.3], dtype=x.dtype)[count % 3]
            return torch.stack([x[:, 0] + offset, torch.log(0.1 + x[:, 1] ** 2)], dim=1)
        sign = 1.0 - 2.0 * (count % 2).to(x.dtype)
        log_var = torch.zeros_like(x[:, 0]) + sign if self.kind == "unit" else torch.log(0.1 + x[:, 1] ** 2) + sign
        return torch.stack([x[:, 0] + 0.3 * sign, log_var], dim=1)

    def probe_init(self) -> dict:
        return {"n_events": self.n_events, "kind": self.kind}


class TableAmplitudeModel(nn.Module):
    """On its k-th pass, event i (index in input column 19) gets row k of a table (passes, events, 2) of
    (mean, log variance); more passes than rows is an error. The buffer ``passes`` counts each event's passes."""

    def __init__(self, table: torch.Tensor | None = None, shape: list[int] | None = None):
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(1))
        self.register_buffer("table", table.clone() if table is not None else torch.zeros(*shape, 2))
        self.register_buffer("passes", torch.zeros(self.table.shape[1], dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        index = x[:, -1].round().long()
        if not torch.all(self.passes[index] < len(self.table)):
            raise IndexError("more passes over the data than the table has rows (n_monte)")
        out = self.table[self.passes[index], index]
        self.passes[index] += 1
        return out

    def probe_init(self) -> dict:
        return {"shape": [int(n) for n in self.table.shape[:2]]}


INSTRUMENTS.update({"DeterministicAmplitudeNet": DeterministicAmplitudeNet, "ToyAmplitudeNet": ToyAmplitudeNet,
                    "AlternatingAmplitudeModel": AlternatingAmplitudeModel, "TableAmplitudeModel": TableAmplitudeModel})
