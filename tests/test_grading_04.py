"""Tutorial 04's grade cells against plausible wrong answers (each must lose points, in the grade cells its
requirement table names) and against differently written right answers (each must keep full marks).

``REQUIREMENTS`` is the requirement-to-test table: per exercise (answer cell), each requirement as the
exercise text states it, the grade cell that checks it, and the wrong answers that violate it.
"""
from __future__ import annotations

import functools

import pytest
import torch

from conftest import ROOT
from course_utils.instructor import notebooks
from grading_harness import edited, grade, grading_tests, solution_answers, solution_with

ASSIGNMENT = "04_top_tagging_deepsets"

# ------------------------------------------------------------------ wrong answers: (answer cell, old, new)

LATENT = '''        real = m.bool().unsqueeze(-1)  # (N, M, 1)
        zero = torch.zeros((), dtype=x.dtype, device=x.device)
        phi = self.Phi(torch.where(real, x, zero))  # padded inputs never reach Phi (nan, inf stay out)
        phi = torch.where(real, phi, torch.zeros((), dtype=phi.dtype, device=phi.device))
        return phi.sum(dim=1) / real.sum(dim=1).to(phi.dtype)'''
FORWARD = "return self.proba_from_latent(self.latent(x, m))"
WEIGHTS = "        weights = m.to(x.dtype).unsqueeze(-1)\n"


def _latent(body: str) -> tuple[str, str, str]:
    return ("pseudo_particle_flow", LATENT, body)


BEST = "self.best_loss, self.best_epoch, self.bad_epochs = val_loss, self.epoch, 0"
COPY = "{name: tensor.detach().clone() for name, tensor in model.state_dict().items()}"
PREDICT_LOOP = "        for X, y, M in batches(test_dataset, batch_size):\n"
PREDICT_APPEND = "preds.append(model(X.to(device), M.to(device))[:, 0].cpu().numpy())"
DPHI_WRAP = "dphi = np.where(dphi > np.pi, dphi - 2 * np.pi, np.where(dphi <= -np.pi, dphi + 2 * np.pi, dphi))"
PREDICT_OFFSETS = '''
def predict_proba(model, test_dataset, batch_size=1024):
    model.eval()
    loader = batches(test_dataset, batch_size)
    truths, preds = np.zeros(len(test_dataset)), np.zeros(len(test_dataset))
    with torch.no_grad():
        for i, (X, y, M) in enumerate(loader):
            start = i * loader.batch_size
            truths[start:start + len(y)] = y.numpy()
            preds[start:start + len(y)] = model(X, M)[:, 0].numpy()
    return truths, preds


def latent(model, test_dataset, batch_size=1024):
    model.eval()
    with torch.no_grad():
        return np.concatenate([model.latent(X, M).numpy() for X, _, M in batches(test_dataset, batch_size)])
'''
PREDICT_DROP_LAST = PREDICT_OFFSETS.replace(
    '''    loader = batches(test_dataset, batch_size)
    truths, preds = np.zeros(len(test_dataset)), np.zeros(len(test_dataset))
    with torch.no_grad():
        for i, (X, y, M) in enumerate(loader):
            start = i * loader.batch_size
            truths[start:start + len(y)] = y.numpy()
            preds[start:start + len(y)] = model(X, M)[:, 0].numpy()
    return truths, preds''',
    '''    truths, preds = [], []
    with torch.no_grad():
        for X, y, M in DataLoader(test_dataset, batch_size=batch_size, drop_last=True):
            truths.append(y.numpy())
            preds.append(model(X, M)[:, 0].numpy())
    return np.concatenate(truths), np.concatenate(preds)''')

WRONG = {
    # ---- PseudoParticleFlow: the masked pooling
    "mean over every slot, padding included": _latent("        return self.Phi(x).mean(dim=1)"),
    "Phi(x) times the mask: nan or inf in a padded slot leaks": _latent(
        WEIGHTS + "        return (self.Phi(x) * weights).sum(dim=1) / weights.sum(dim=1)"),
    "inputs masked, but Phi(0) of the padding still summed": _latent(
        WEIGHTS + "        return self.Phi(x * weights).sum(dim=1) / weights.sum(dim=1)"),
    "divided by the number of slots": _latent(
        LATENT.replace("real.sum(dim=1).to(phi.dtype)", "x.shape[1]")),
    "divided by the constituents of the whole batch": _latent(
        LATENT.replace("real.sum(dim=1).to(phi.dtype)", "real.sum().to(phi.dtype)")),
    "sum, not mean": _latent(LATENT.replace(" / real.sum(dim=1).to(phi.dtype)", "")),
    "max pooling": _latent(LATENT.replace("phi.sum(dim=1) / real.sum(dim=1).to(phi.dtype)", "phi.amax(dim=1)")),
    "the padding assumed at the end of each jet": _latent(
        "        real = (torch.arange(x.shape[1]) < m.sum(dim=1, keepdim=True)).unsqueeze(-1)\n"
        + LATENT.split("\n", 1)[1]),
    "squeezed latent: one jet or inner_dim=1 lose an axis": _latent(
        LATENT.replace("return phi.sum(dim=1) / real.sum(dim=1).to(phi.dtype)",
                       "return (phi.sum(dim=1) / real.sum(dim=1).to(phi.dtype)).squeeze()")),
    "a Python loop over jets": _latent(
        "        return torch.stack([self.Phi(x[i][m[i].bool()]).mean(dim=0) for i in range(len(x))])"),
    "forward without F": ("pseudo_particle_flow", FORWARD, "return torch.sigmoid(self.latent(x, m)[:, :1])"),
    "forward squeezed to (N,)": ("pseudo_particle_flow", FORWARD, FORWARD + ".squeeze(-1)"),
    "latent detached from the graph": _latent(LATENT.replace("return phi.sum", "return phi.detach().sum")),
    "forward detached from the graph": ("pseudo_particle_flow", FORWARD, FORWARD + ".detach()"),
    # ---- EarlyStopping
    "the live state_dict kept, not a copy": ("early_stopping", COPY, "model.state_dict()"),
    "a shallow copy of the state_dict": ("early_stopping", COPY, "dict(model.state_dict())"),
    "the weights copied every epoch, not at the best one": (
        "early_stopping", "        else:\n            self.bad_epochs += 1",
        f"        else:\n            self.bad_epochs += 1\n        self.best_state = {COPY}"),
    "restore with assign=True shares the stored tensors": (
        "early_stopping", "model.load_state_dict(self.best_state)", "model.load_state_dict(self.best_state, assign=True)"),
    "ties counted as improvements": ("early_stopping", "if val_loss < self.best_loss:", "if val_loss <= self.best_loss:"),
    "a minimum change of 1e-4": ("early_stopping", "if val_loss < self.best_loss:", "if val_loss < self.best_loss - 1e-4:"),
    "a relative minimum change of 0.1 %": ("early_stopping", "if val_loss < self.best_loss:",
                                           "if val_loss < 0.999 * self.best_loss:"),
    "improvement measured against the previous epoch": (
        "early_stopping", "        if val_loss < self.best_loss:\n",
        "        previous, self._previous = getattr(self, '_previous', math.inf), val_loss\n"
        "        if val_loss < previous:\n"),
    "stops one epoch late": ("early_stopping", "return self.bad_epochs >= self.patience", "return self.bad_epochs > self.patience"),
    "bad epochs never reset": ("early_stopping", BEST, "self.best_loss, self.best_epoch = val_loss, self.epoch"),
    "best epoch counted from 0": ("early_stopping", BEST,
                                  "self.best_loss, self.best_epoch, self.bad_epochs = val_loss, self.epoch - 1, 0"),
    "first epoch skipped": ("early_stopping", "        if val_loss < self.best_loss:",
                            "        if self.epoch == 1:\n            return False\n        if val_loss < self.best_loss:"),
    "best loss starts at 1000": ("early_stopping", "self.best_loss = math.inf", "self.best_loss = 1000.0"),
    "restore does not load the weights": ("early_stopping", "model.load_state_dict(self.best_state)", "return self.best_state"),
    # ---- predict_proba and latent
    "model left in training mode": ("predict", "    model.eval()\n    device = next(model.parameters()).device\n    truths",
                                    "    device = next(model.parameters()).device\n    truths"),
    "latent leaves the model in training mode": (
        "predict", "    model.eval()\n    device = next(model.parameters()).device\n    with torch.no_grad():\n        parts",
        "    device = next(model.parameters()).device\n    with torch.no_grad():\n        parts"),
    "gradients tracked": ("predict", "    with torch.no_grad():\n        for X, y, M", "    if True:\n        for X, y, M"),
    "predict_proba leaves autograd switched off": (
        "predict", "    with torch.no_grad():\n        for X, y, M", "    torch.set_grad_enabled(False)\n    if True:\n        for X, y, M"),
    "latent leaves autograd switched off": (
        "predict", "    with torch.no_grad():\n        parts", "    torch.set_grad_enabled(False)\n    if True:\n        parts"),
    "parameters frozen instead of no_grad": (
        "predict", "    with torch.no_grad():\n        for X, y, M",
        "    model.requires_grad_(False)\n    if True:\n        for X, y, M"),
    "all jets in one batch": ("predict", PREDICT_LOOP, "        for X, y, M in batches(test_dataset, len(test_dataset)):\n"),
    "torch.chunk into batch_size pieces": (
        "predict", PREDICT_LOOP,
        "        for X, y, M in (test_dataset[i] for i in torch.chunk(torch.arange(len(test_dataset)), batch_size)):\n"),
    "torch.chunk into ceil(N / batch_size) equal pieces": (
        "predict", PREDICT_LOOP,
        "        for X, y, M in (test_dataset[i] for i in torch.chunk(torch.arange(len(test_dataset)), "
        "math.ceil(len(test_dataset) / batch_size))):\n"),
    "shuffled order": ("predict", PREDICT_LOOP, "        for X, y, M in batches(test_dataset, batch_size, shuffle=True):\n"),
    "squeezed predictions: a last batch of one loses its axis": (
        "predict", PREDICT_APPEND, "preds.append(model(X.to(device), M.to(device)).squeeze().cpu().numpy())"),
    "truths returned as a tensor": ("predict", "return np.concatenate(truths), np.concatenate(preds)",
                                    "return torch.cat([torch.as_tensor(t) for t in truths]), np.concatenate(preds)"),
    "predictions returned as a tensor": ("predict", "return np.concatenate(truths), np.concatenate(preds)",
                                         "return np.concatenate(truths), torch.as_tensor(np.concatenate(preds))"),
    "latent returns the probabilities": ("predict", "parts = [model.latent(", "parts = [model("),
    "latent returned as a tensor": ("predict", "    return np.concatenate(parts)", "    return torch.as_tensor(np.concatenate(parts))"),
    "squeezed latent: inner_dim=1 loses its axis": ("predict", "    return np.concatenate(parts)",
                                                    "    return np.concatenate(parts).squeeze()"),
    "latent of every batch but the last": ("predict", "    return np.concatenate(parts)",
                                           "    return np.concatenate(parts[:-1] or parts)"),
    "batch offsets from the loader's batch_size": ("predict", None, PREDICT_OFFSETS),
    "the last, incomplete batch dropped": ("predict", None, PREDICT_DROP_LAST),
    # ---- jet_axis_features
    "no phi wrapping": ("jet_axis_features", DPHI_WRAP, "pass"),
    "phi wrapped into [0, 2 pi)": ("jet_axis_features", DPHI_WRAP, "dphi = np.mod(dphi, 2 * np.pi)"),
    "phi wrapped modulo pi": ("jet_axis_features", DPHI_WRAP, "dphi = np.mod(dphi + np.pi / 2, np.pi) - np.pi / 2"),
    "phi wrapped on one side only": ("jet_axis_features", DPHI_WRAP, "dphi = np.where(dphi > np.pi, dphi - 2 * np.pi, dphi)"),
    "arctan2(py, py)": ("jet_axis_features", "np.arctan2(x[..., 2], x[..., 1])", "np.arctan2(x[..., 2], x[..., 2])"),
    "the leading constituent as the axis": ("jet_axis_features", "jet = x.sum(axis=1)", "jet = x[:, 0]"),
    "jet pT as the scalar sum of the constituents' pT": (
        "jet_axis_features", "jet_pt, jet_energy = np.hypot(jet[:, 1], jet[:, 2]), jet[:, 0]",
        "jet_pt, jet_energy = (pt * mask).sum(axis=1), jet[:, 0]"),
    "the jet's rapidity instead of its pseudorapidity": (
        "jet_axis_features", "jet_eta = np.arcsinh(jet[:, 3] / jet_pt)",
        "jet_eta = 0.5 * np.log((jet[:, 0] + jet[:, 3]) / (jet[:, 0] - jet[:, 3]))"),
    "padding not set to zero": ("jet_axis_features", "return np.where(mask[..., None], features, 0.0)", "return features"),
    "delta eta with the wrong sign": ("jet_axis_features", "eta - jet_eta[:, None]", "jet_eta[:, None] - eta"),
    "energy fraction with pT": ("jet_axis_features", "np.log(safe_energy / jet_energy[:, None])",
                                "np.log(safe_pt / jet_pt[:, None])"),
    "log10 instead of the natural logarithm": ("jet_axis_features", "np.stack([np.log(safe_pt), np.log(safe_energy)",
                                               "np.stack([np.log10(safe_pt), np.log10(safe_energy)"),
    "the input's padding overwritten in place": (
        "jet_axis_features", "    jet = x.sum(axis=1)  # (N, 4)\n", "    jet = x.sum(axis=1)  # (N, 4)\n    constituents[~mask] = 1.0\n"),
    # ---- found by a red team that saw only the student notebook
    "Phi on the raw padding, its outputs masked: nan gradients": _latent(
        "        real = m.bool().unsqueeze(-1)\n        phi = torch.where(real, self.Phi(x), torch.zeros(()))\n"
        "        return phi.sum(dim=1) / real.sum(dim=1)"),
    "True only at the epoch bad_epochs reaches patience": (
        "early_stopping", "return self.bad_epochs >= self.patience", "return self.bad_epochs == self.patience"),
    "only the parameters copied (no buffers)": (
        "early_stopping", COPY + "\n", "{name: p.detach().clone() for name, p in model.named_parameters()}\n"),
    "predict_proba puts the model in training mode at the end": (
        "predict", "    return np.concatenate(truths), np.concatenate(preds)",
        "    model.train()\n    return np.concatenate(truths), np.concatenate(preds)"),
    "latent puts the model in training mode at the end": (
        "predict", "    return np.concatenate(parts)", "    model.train()\n    return np.concatenate(parts)"),
    # ---- probes on generated inputs: padding in any slots, random dataset sizes, stated defaults left out
    "the first slot always counted as real": _latent(
        "        real = m.bool().clone()\n        real[:, 0] = True\n        real = real.unsqueeze(-1)\n"
        + LATENT.split("\n", 1)[1]),
    "divided by the position of the last real slot, not the number of real ones": _latent(
        LATENT.replace("real.sum(dim=1).to(phi.dtype)", "(m * torch.arange(1, m.shape[1] + 1)).amax(dim=1, keepdim=True)")),
    "predict_proba's default batch_size 1000": (
        "predict", "def predict_proba(model, test_dataset, batch_size: int = 1024)",
        "def predict_proba(model, test_dataset, batch_size: int = 1000)"),
    "latent's default batch_size 1000": (
        "predict", "def latent(model, test_dataset, batch_size: int = 1024)", "def latent(model, test_dataset, batch_size: int = 1000)"),
    "predict_proba: an empty last batch when batch_size divides N": (
        "predict", PREDICT_LOOP,
        "        for X, y, M in (test_dataset[i * batch_size:(i + 1) * batch_size] "
        "for i in range(len(test_dataset) // batch_size + 1)):\n"),
    "latent: an empty last batch when batch_size divides N": (
        "predict", "for X, _, M in batches(test_dataset, batch_size)]",
        "for X, _, M in (test_dataset[i * batch_size:(i + 1) * batch_size] "
        "for i in range(len(test_dataset) // batch_size + 1))]"),
    "jet_axis_features: the padding assumed at the end of each jet": (
        "jet_axis_features", "mask = x[..., 0] > 0", "mask = np.arange(x.shape[1]) < (x[..., 0] > 0).sum(axis=1)[:, None]"),
    # ---- found by a second red team (student notebook only), checked since
    "Phi called twice per batch": _latent(LATENT.replace(
        "        phi = self.Phi(torch.where(real, x, zero))",
        "        self.Phi(torch.where(real, x, zero))\n        phi = self.Phi(torch.where(real, x, zero))")),
    "a nan loss counted as an improvement": (
        "early_stopping", "if val_loss < self.best_loss:", "if not val_loss >= self.best_loss:"),
    "predict_proba unfreezes every parameter": (
        "predict", "    return np.concatenate(truths), np.concatenate(preds)",
        "    for parameter in model.parameters():\n        parameter.requires_grad_(True)\n"
        "    return np.concatenate(truths), np.concatenate(preds)"),
    "jet_axis_features: a Python loop over the jets": (
        "jet_axis_features", "    x = np.asarray(constituents, dtype=np.float64)\n",
        "    x = np.asarray(constituents, dtype=np.float64)\n    if len(x) > 1:\n"
        "        return np.concatenate([jet_axis_features(x[i:i + 1]) for i in range(len(x))])\n"),
}

# ------------------------------------------------------------------ the requirement-to-test table

REQUIREMENTS = {
    "pseudo_particle_flow": [
        ("latent: the mean of Phi over the real constituents, each jet divided by its own number of them",
         "test_pfn_masking",
         ["mean over every slot, padding included", "inputs masked, but Phi(0) of the padding still summed",
          "divided by the number of slots", "divided by the constituents of the whole batch", "sum, not mean",
          "max pooling"]),
        ("padded slots never enter, whatever values x holds there, nan and inf included", "test_pfn_masking",
         ["mean over every slot, padding included", "Phi(x) times the mask: nan or inf in a padded slot leaks",
          "inputs masked, but Phi(0) of the padding still summed"]),
        ("the padding may sit in any slots (the mean against a per-jet reference, random shapes)", "test_pfn_masking",
         ["the padding assumed at the end of each jet", "the first slot always counted as real",
          "divided by the position of the last real slot, not the number of real ones"]),
        ("padded slots never enter the gradients either (nan or inf in the padding)", "test_pfn_masking",
         ["Phi on the raw padding, its outputs masked: nan gradients"]),
        ("latent of shape (N, inner_dim), forward of shape (N, 1), for any N >= 1 and inner_dim >= 1 (random shapes)",
         "test_pfn_shapes",
         ["squeezed latent: one jet or inner_dim=1 lose an axis", "forward squeezed to (N,)"]),
        ("forward = proba_from_latent(latent(x, m))", "test_pfn_shapes", ["forward without F"]),
        ("the output does not depend on the order of the constituents", "test_pfn_permutation_and_gradients",
         ["the padding assumed at the end of each jet", "the first slot always counted as real",
          "divided by the position of the last real slot, not the number of real ones"]),
        ("differentiable: the output's gradients reach Phi and F", "test_pfn_permutation_and_gradients",
         ["latent detached from the graph", "forward detached from the graph", "forward without F"]),
        ("vectorised: Phi runs once per batch, whatever the number of jets or constituents", "test_pfn_shapes",
         ["a Python loop over jets", "Phi called twice per batch"]),
    ],
    "early_stopping": [
        ("a strictly lower loss, by any amount, is an improvement; an equal or higher one is not",
         "test_early_stopping_sequence",
         ["ties counted as improvements", "a minimum change of 1e-4", "a relative minimum change of 0.1 %",
          "improvement measured against the previous epoch"]),
        ("best_epoch counts the calls of step from 1; the first epoch is the best so far", "test_early_stopping_sequence",
         ["best epoch counted from 0", "first epoch skipped", "best loss starts at 1000"]),
        ("an improvement resets bad_epochs to 0; step returns True once bad_epochs reaches patience",
         "test_early_stopping_sequence", ["stops one epoch late", "bad epochs never reset"]),
        ("step returns True whenever bad_epochs >= patience, False otherwise", "test_early_stopping_sequence",
         ["True only at the epoch bad_epochs reaches patience"]),
        ("any loss not strictly below the best (nan included) adds one to bad_epochs", "test_early_stopping_sequence",
         ["a nan loss counted as an improvement"]),
        ("best_state is the whole state_dict, parameters and buffers", "test_early_stopping_best_weights",
         ["only the parameters copied (no buffers)"]),
        ("best_state: a copy of the state_dict at the best epoch that later training does not change",
         "test_early_stopping_best_weights",
         ["the live state_dict kept, not a copy", "a shallow copy of the state_dict",
          "the weights copied every epoch, not at the best one", "restore with assign=True shares the stored tensors"]),
        ("restore(model) loads the best weights into the model", "test_early_stopping_best_weights",
         ["restore does not load the weights", "the weights copied every epoch, not at the best one"]),
    ],
    "predict": [
        ("predict_proba: labels and top probabilities in dataset order, two NumPy arrays of shape (N,)",
         "test_predict_proba",
         ["shuffled order", "truths returned as a tensor", "predictions returned as a tensor",
          "squeezed predictions: a last batch of one loses its axis", "the last, incomplete batch dropped"]),
        ("batches of batch_size jets, the last one holding the rest (one jet perhaps), for random dataset sizes",
         "test_predict_proba",
         ["all jets in one batch", "torch.chunk into batch_size pieces", "torch.chunk into ceil(N / batch_size) equal pieces",
          "squeezed predictions: a last batch of one loses its axis", "batch offsets from the loader's batch_size",
          "the last, incomplete batch dropped", "predict_proba: an empty last batch when batch_size divides N"]),
        ("predict_proba's default batch_size is 1024 (called without the argument)", "test_predict_proba",
         ["predict_proba's default batch_size 1000"]),
        ("latent: batches of batch_size jets for random dataset sizes; the default batch_size is 1024", "test_latent_batched",
         ["latent: an empty last batch when batch_size divides N", "latent's default batch_size 1000"]),
        ("the model runs in evaluation mode without tracking gradients (predict_proba)", "test_predict_proba",
         ["model left in training mode", "gradients tracked"]),
        ("afterwards the model is in evaluation mode or back in the caller's mode (predict_proba)", "test_predict_proba",
         ["predict_proba puts the model in training mode at the end"]),
        ("afterwards the model is in evaluation mode or back in the caller's mode (latent)", "test_latent_batched",
         ["latent puts the model in training mode at the end"]),
        ("afterwards autograd and requires_grad are as before the call (predict_proba)", "test_predict_proba",
         ["predict_proba leaves autograd switched off", "parameters frozen instead of no_grad",
          "predict_proba unfreezes every parameter"]),
        ("latent: model.latent(X, M) of every jet in dataset order, a NumPy array (N, inner_dim), also for inner_dim 1",
         "test_latent_batched",
         ["latent returns the probabilities", "latent returned as a tensor", "squeezed latent: inner_dim=1 loses its axis",
          "latent of every batch but the last"]),
        ("the model runs in evaluation mode, autograd as before the call afterwards (latent)", "test_latent_batched",
         ["latent leaves the model in training mode", "latent leaves autograd switched off"]),
    ],
    "jet_axis_features": [
        ("shape (N, M, 6), exactly 0 in every padded slot, no nan or -inf", "test_jet_axis_shapes_and_padding",
         ["padding not set to zero"]),
        ("a slot is real when E > 0, the padding in any slots", "test_jet_axis_values",
         ["jet_axis_features: the padding assumed at the end of each jet"]),
        ("the input array is left unchanged", "test_jet_axis_shapes_and_padding", ["the input's padding overwritten in place"]),
        ("vectorised over the jets: no Python loop over them", "test_jet_axis_shapes_and_padding",
         ["jet_axis_features: a Python loop over the jets"]),
        ("the six features in the table's order to 1e-5, log the natural logarithm, phi = arctan2(py, px)",
         "test_jet_axis_values",
         ["delta eta with the wrong sign", "energy fraction with pT", "log10 instead of the natural logarithm",
          "arctan2(py, py)", "the jet's rapidity instead of its pseudorapidity"]),
        ("the jet axis (pT, eta, phi, E of the jet) from the jet's total four-momentum", "test_jet_axis_values",
         ["the leading constituent as the axis", "jet pT as the scalar sum of the constituents' pT"]),
        ("delta phi wrapped into (-pi, pi], at the +-pi seam and beyond pi/2 from the axis", "test_jet_axis_symmetries",
         ["no phi wrapping", "phi wrapped into [0, 2 pi)", "phi wrapped modulo pi", "phi wrapped on one side only"]),
    ],
}

# ------------------------------------------------------------------ right answers written differently


def _with_given_constructor(pooling: str) -> str:
    """The solution's PseudoParticleFlow class with its latent/forward replaced by ``pooling``."""
    source = notebooks.strip_solution_markers(
        notebooks.solution_cells(notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT)))["pseudo_particle_flow"].source)
    return source[:source.index("    def latent(")] + pooling


EINSUM_POOLING = _with_given_constructor('''    def latent(self, x, m):
        m = m.float()
        x = torch.where(m.unsqueeze(-1) > 0, x, torch.zeros_like(x))
        return torch.einsum("ijk,ij->ik", self.Phi(x), m) / torch.einsum("ij->i", m).unsqueeze(1)

    def forward(self, x, m):
        ell = self.latent(x, m)
        return self.F(ell)
''')
WHERE_POOLING = _with_given_constructor('''    def latent(self, x, m):
        real = m.bool().unsqueeze(-1)
        phi = torch.where(real, self.Phi(x), torch.zeros(()))
        return phi.sum(dim=1) / real.sum(dim=1).clamp(min=1)

    def forward(self, x, m):
        return self.proba_from_latent(self.latent(x, m))
''')
GATHER_POOLING = _with_given_constructor('''    def latent(self, x, m):
        real = m.bool()
        jet_of = torch.arange(len(x)).unsqueeze(1).expand_as(real)[real]
        phi = self.Phi(x[real])
        total = torch.zeros(len(x), phi.shape[1], dtype=phi.dtype).index_add(0, jet_of, phi)
        return total / real.sum(dim=1, keepdim=True)

    def forward(self, x, m):
        return self.proba_from_latent(self.latent(x, m))
''')
NANMEAN_POOLING = _with_given_constructor('''    def latent(self, x, m):
        real = m.bool()[..., None]
        phi = self.Phi(x.masked_fill(~real, 0.0))
        return torch.nanmean(phi.masked_fill(~real, float("nan")), dim=1)

    def forward(self, x, m):
        return self.proba_from_latent(self.latent(x, m))
''')
NAN_TO_NUM_POOLING = _with_given_constructor('''    def latent(self, x, m):
        weights = m.to(x.dtype)[:, :, None]
        clean = torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) * weights
        summed = (self.Phi(clean) * weights).sum(1)
        return summed / weights.sum(1)

    def forward(self, x, m):
        return self.F(self.latent(x, m))
''')
DEEPCOPY_STOPPER = '''
class EarlyStopping:
    def __init__(self, patience):
        self.patience = patience
        self.epoch = 0
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state = None
        self.bad_epochs = 0

    def step(self, val_loss, model):
        self.epoch += 1
        improved = val_loss < self.best_loss
        if improved:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_state = copy.deepcopy(model.state_dict())
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        return self.bad_epochs >= self.patience

    def restore(self, model):
        model.load_state_dict(copy.deepcopy(self.best_state))
'''
COPY_LOOP_STOPPER = '''
class EarlyStopping:
    """Stop when the validation loss has not improved for `patience` epochs; keep the best weights."""

    def __init__(self, patience: int):
        self.patience = patience
        self.epoch = 0
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_state = None
        self.bad_epochs = 0

    def step(self, val_loss: float, model: nn.Module) -> bool:
        self.epoch += 1
        if self.best_state is None or val_loss < self.best_loss:
            self.best_loss = val_loss
            self.best_epoch = self.epoch
            self.best_state = {}
            for name, value in model.state_dict().items():
                self.best_state[name] = value.cpu().clone()
            self.bad_epochs = 0
            return False
        self.bad_epochs += 1
        return bool(self.bad_epochs >= self.patience)

    def restore(self, model: nn.Module) -> None:
        with torch.no_grad():
            for name, tensor in model.state_dict().items():
                tensor.copy_(self.best_state[name])
'''
MODEL_COPY_STOPPER = DEEPCOPY_STOPPER.replace("copy.deepcopy(model.state_dict())", "copy.deepcopy(model).state_dict()")
DATALOADER_PREDICT = '''
def predict_proba(model, test_dataset, batch_size=1024):
    model.eval()
    device = next(model.parameters()).device
    loader = DataLoader(test_dataset, batch_size=batch_size, shuffle=False)
    truths, preds = np.zeros(len(test_dataset)), np.zeros(len(test_dataset))
    start = 0
    for X, y, M in loader:
        with torch.no_grad():
            p = model(X.to(device), M.to(device))[:, 0]
        truths[start:start + len(y)] = y.numpy()
        preds[start:start + len(y)] = p.cpu().numpy()
        start += len(y)
    return truths, preds


@torch.no_grad()
def latent(model, test_dataset, batch_size=1024):
    model.eval()
    device = next(model.parameters()).device
    out = np.zeros((len(test_dataset), model.inner_dim))
    for start in range(0, len(test_dataset), batch_size):
        X, _, M = test_dataset[list(range(start, min(start + batch_size, len(test_dataset))))]
        out[start:start + len(X)] = model.latent(X.to(device), M.to(device)).cpu().numpy()
    return out
'''
THROUGH_LATENT_PREDICT = '''
def predict_proba(model, test_dataset, batch_size=1024):
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            pairs = [(y, model.proba_from_latent(model.latent(X, M)).reshape(-1)) for X, y, M in batches(test_dataset, batch_size)]
    finally:
        model.train(was_training)
    return torch.cat([y for y, _ in pairs]).numpy(), torch.cat([p for _, p in pairs]).double().numpy()


def latent(model, test_dataset, batch_size=1024):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            device = next(model.parameters()).device
            out = torch.cat([model.latent(X.to(device), M.to(device)).cpu() for X, _, M in batches(test_dataset, batch_size)])
    finally:
        model.train(was_training)
    return out.numpy().astype(np.float64)
'''
SLICES_PREDICT = '''
@torch.no_grad()
def predict_proba(model, test_dataset, batch_size=1024):
    model.eval()
    preds = []
    for start in range(0, len(test_dataset), batch_size):
        X, _, M = test_dataset[start:start + batch_size]
        preds.append(model(X, M).view(-1).numpy())
    return test_dataset.y.numpy().copy(), np.concatenate(preds)


def latent(model, test_dataset, batch_size=1024):
    model.eval()
    chunks = []
    with torch.no_grad():
        for X, _, M in DataLoader(test_dataset, batch_size=batch_size):
            chunks.append(model.latent(X, M).reshape(len(X), model.inner_dim))
    return torch.cat(chunks).numpy()
'''
HELPERS_FEATURES = '''
def jet_axis_features(constituents):
    x = constituents.astype(np.float64)
    real = jets.padding_mask(x)
    jet = jets.jet_four_momentum(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        pt, energy = lorentz.pt(x), x[..., 0]
        log_pt, log_e = np.log(pt), np.log(energy)
        columns = [log_pt, log_e, log_pt - np.log(lorentz.pt(jet))[:, None], log_e - np.log(jet[:, 0])[:, None],
                   jets.constituent_eta(x) - lorentz.eta(jet)[:, None]]
        angle = jets.constituent_phi(x) - lorentz.phi(jet)[:, None]
        columns.append(np.arctan2(np.sin(angle), np.cos(angle)))
    features = np.stack(columns, axis=-1)
    features[~real] = 0.0
    return features
'''
LORENTZ_FEATURES = '''
def jet_axis_features(constituents):
    x = np.array(constituents, dtype=np.float64)  # a copy
    real = x[..., 0] > 0
    jet = x.sum(axis=1)[:, None, :]
    x[~real] = [1.0, 1.0, 0.0, 0.0]  # harmless placeholders, zeroed again below
    pt, jet_pt = lorentz.pt(x), lorentz.pt(jet)
    p, jet_p = np.linalg.norm(x[..., 1:], axis=-1), np.linalg.norm(jet[..., 1:], axis=-1)
    eta = 0.5 * np.log((p + x[..., 3]) / (p - x[..., 3]))
    jet_eta = 0.5 * np.log((jet_p + jet[..., 3]) / (jet_p - jet[..., 3]))
    out = np.empty(x.shape[:2] + (6,))
    out[..., 0] = np.log(pt)
    out[..., 1] = np.log(x[..., 0])
    out[..., 2] = np.log(pt) - np.log(jet_pt)
    out[..., 3] = np.log(x[..., 0]) - np.log(jet[..., 0])
    out[..., 4] = eta - jet_eta
    out[..., 5] = lorentz.delta_phi(lorentz.phi(x), lorentz.phi(jet))
    out[~real] = 0.0
    return out
'''
ANGLE_FEATURES = '''
def jet_axis_features(constituents):
    c = np.asarray(constituents).astype(np.float64)
    E, px, py, pz = np.moveaxis(c, -1, 0)
    mask = E > 0
    JE, Jx, Jy, Jz = c.sum(axis=1).T
    jpt = np.sqrt(Jx**2 + Jy**2)
    with np.errstate(all="ignore"):
        pt = np.sqrt(px**2 + py**2)
        feats = np.stack([
            np.log(pt), np.log(E), np.log(pt / jpt[:, None]), np.log(E / JE[:, None]),
            np.arcsinh(pz / pt) - np.arcsinh(Jz / jpt)[:, None],
            np.angle(np.exp(1j * (np.arctan2(py, px) - np.arctan2(Jy, Jx)[:, None]))),
        ], axis=-1)
    return np.where(mask[..., None], np.nan_to_num(feats), 0.0)
'''
def _solution_with(grade_id: str, *edits: tuple[str, str]) -> str:
    return solution_with(ASSIGNMENT, grade_id, *edits)


ALTERNATIVES = {
    "einsum pooling with a float mask, padded inputs zeroed first": ("pseudo_particle_flow", EINSUM_POOLING),
    "Phi on the real constituents only, index_add per jet": ("pseudo_particle_flow", GATHER_POOLING),
    "masked_fill and nanmean": ("pseudo_particle_flow", NANMEAN_POOLING),
    "nan_to_num, then the mask as weights": ("pseudo_particle_flow", NAN_TO_NUM_POOLING),
    "copy.deepcopy of the state_dict": ("early_stopping", DEEPCOPY_STOPPER),
    "copies tensor by tensor, restore by copy_": ("early_stopping", COPY_LOOP_STOPPER),
    "the state_dict of a deep copy of the model": ("early_stopping", MODEL_COPY_STOPPER),
    "a default DataLoader and slices by hand": ("predict", DATALOADER_PREDICT),
    "through proba_from_latent(latent(...)), the caller's mode restored, float64": ("predict", THROUGH_LATENT_PREDICT),
    "dataset slices, labels read from the dataset": ("predict", SLICES_PREDICT),
    "course_utils kinematics and arctan2(sin, cos)": ("jet_axis_features", HELPERS_FEATURES),
    "lorentz.delta_phi and the rapidity formula for eta": ("jet_axis_features", LORENTZ_FEATURES),
    "np.angle of a phase, nan_to_num": ("jet_axis_features", ANGLE_FEATURES),
    # right once the texts dropped a bool mask and float64 arithmetic (the notebook's masks are float, its data float32)
    "the count as M - (1 - m).sum(): right for the notebook's float masks": ("pseudo_particle_flow", _solution_with(
        "pseudo_particle_flow", ("real.sum(dim=1).to(phi.dtype)", "(x.shape[1] - (1 - m).sum(dim=1, keepdim=True))"))),
    "computed in float32": ("jet_axis_features", _solution_with(
        "jet_axis_features", ("np.asarray(constituents, dtype=np.float64)", "np.asarray(constituents, dtype=np.float32)"))),
    "computed in float32, returned as float64": ("jet_axis_features", _solution_with(
        "jet_axis_features", ("np.asarray(constituents, dtype=np.float64)", "np.asarray(constituents, dtype=np.float32)"),
        ("return np.where(mask[..., None], features, 0.0)", "return np.where(mask[..., None], features, 0.0).astype(np.float64)"))),
    "computed in the input's dtype": ("jet_axis_features", _solution_with(
        "jet_axis_features", ("x = np.asarray(constituents, dtype=np.float64)", "x = np.asarray(constituents)"))),
    "the padding overwritten in the float64 copy of the (float32) input": ("jet_axis_features", _solution_with(
        "jet_axis_features", ("    jet = x.sum(axis=1)  # (N, 4)\n", "    jet = x.sum(axis=1)  # (N, 4)\n    x[~mask] = 1.0\n"))),
    "the jet sum in the input's dtype": ("jet_axis_features", _solution_with(
        "jet_axis_features", ("jet = x.sum(axis=1)  # (N, 4)", "jet = np.asarray(constituents).sum(axis=1).astype(np.float64)"))),
}


def _apply(answers: dict[str, str], grade_id: str, old, new: str | tuple[str, ...]) -> dict[str, str]:
    """``edited`` for a slip, several edits (``old`` and ``new`` tuples), or (``old`` None) the whole answer
    cell replaced by ``new``."""
    if old is None:
        return {**answers, grade_id: new}
    if isinstance(old, tuple):
        for one_old, one_new in zip(old, new, strict=True):
            answers = edited(answers, grade_id, one_old, one_new)
        return answers
    return edited(answers, grade_id, old, new)


# the scaffold's solution and right-answer tests; the wrong answers are tested below, per requirement
(test_the_solution_gets_full_marks, _,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, {}, ALTERNATIVES)


@functools.lru_cache(maxsize=1)
def _solution():
    return notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT))


def _cells_that_must_fail(name: str) -> set[str]:
    return {cell for rows in REQUIREMENTS.values() for _, cell, names in rows if name in names}


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_loses_points_in_the_cells_its_requirements_name(name):
    solution = _solution()
    with torch.enable_grad():  # a variant that switches autograd off must not leak into the next test
        report = grade(solution, _apply(solution_answers(solution), *WRONG[name]), ASSIGNMENT,
                       only=notebooks.grade_ids_after(solution, WRONG[name][0]))  # the exercise's own test cells
    assert report.score < report.total, f"{name!r} got full marks"
    passed = sorted(_cells_that_must_fail(name) - set(report.errors))
    assert not passed, f"{name!r} violates a requirement that {passed} check, but passed there (errors: {report.errors})"


def test_the_requirement_tables_cover_every_exercise_and_every_wrong_answer():
    solution = _solution()
    answer_ids = notebooks.answer_ids(solution)
    assert sorted(REQUIREMENTS) == sorted(answer_ids), "one table per answer cell"
    for exercise, rows in REQUIREMENTS.items():
        assert rows, f"{exercise} has no requirements"
        own_cells = notebooks.grade_ids_after(solution, exercise)
        for requirement, cell, names in rows:
            assert cell in own_cells, f"{exercise}: {cell!r} is not one of its grade cells {own_cells} ({requirement})"
            unknown = [name for name in names if name not in WRONG]
            assert not unknown, f"{exercise}: unknown wrong answers {unknown}"
            assert all(WRONG[name][0] == exercise for name in names), f"{exercise}: a row names another exercise's slip"
        checked = {cell for _, cell, _ in rows}
        assert checked == set(own_cells), f"{exercise}: grade cells that check no requirement: {set(own_cells) - checked}"
    named = {name for rows in REQUIREMENTS.values() for _, _, names in rows for name in names}
    assert not set(WRONG) - named, f"wrong answers in no requirement row: {sorted(set(WRONG) - named)}"


def test_every_test_cell_stands_alone():
    """Each grade cell passes with the solution even when every other test cell is deleted."""
    solution = _solution()
    answers = solution_answers(solution)
    graded = [cell for cell in notebooks.graded_cells(solution)]
    for keep in graded:
        alone = notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT))
        alone.cells = [c for c in alone.cells if not notebooks.nbgrader_meta(c).get("grade")
                       or notebooks.nbgrader_meta(c)["grade_id"] == notebooks.nbgrader_meta(keep)["grade_id"]]
        report = grade(alone, answers, ASSIGNMENT)
        assert report.score == report.total > 0, f"{notebooks.nbgrader_meta(keep)['grade_id']} alone: {report.errors}"
