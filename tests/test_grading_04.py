"""Tutorial 04's grade cells against plausible wrong answers (each must lose points) and against
differently written right answers (each must keep full marks)."""
from pathlib import Path

from course_utils.instructor import notebooks
from grading_harness import grading_tests

ASSIGNMENT = "04_top_tagging_deepsets"


POOLING = "(self.Phi(x) * weights).sum(dim=1) / weights.sum(dim=1)"
BEST = "self.best_loss, self.best_epoch, self.bad_epochs = val_loss, self.epoch, 0"
DPHI_WRAP = "dphi = np.where(dphi > np.pi, dphi - 2 * np.pi, np.where(dphi <= -np.pi, dphi + 2 * np.pi, dphi))"
WRONG = {
    # the masked pooling
    "mean over every slot, padding included": ("pseudo_particle_flow", POOLING, "self.Phi(x).mean(dim=1)"),
    "inputs masked, but Phi(0) of the padding still summed": (
        "pseudo_particle_flow", POOLING, "self.Phi(x * weights).sum(dim=1) / weights.sum(dim=1)"),
    "divided by the number of slots": ("pseudo_particle_flow", POOLING, "(self.Phi(x) * weights).sum(dim=1) / x.shape[1]"),
    "divided by the constituents of the whole batch": (
        "pseudo_particle_flow", POOLING, "(self.Phi(x) * weights).sum(dim=1) / weights.sum()"),
    "max pooling": ("pseudo_particle_flow", POOLING, "(self.Phi(x) * weights).amax(dim=1)"),
    "forward without F": ("pseudo_particle_flow", "return self.proba_from_latent(self.latent(x, m))",
                          "return torch.sigmoid(self.latent(x, m)[:, :1])"),
    "latent detached from the graph": ("pseudo_particle_flow", POOLING, f"({POOLING}).detach()"),
    # early stopping
    "the live state_dict kept, not a copy": (
        "early_stopping", "{name: tensor.detach().clone() for name, tensor in model.state_dict().items()}",
        "model.state_dict()"),
    "ties counted as improvements": ("early_stopping", "if val_loss < self.best_loss:", "if val_loss <= self.best_loss:"),
    "stops one epoch late": ("early_stopping", "return self.bad_epochs >= self.patience", "return self.bad_epochs > self.patience"),
    "bad epochs never reset": ("early_stopping", BEST, "self.best_loss, self.best_epoch = val_loss, self.epoch"),
    "first epoch skipped (the draft)": ("early_stopping", "        if val_loss < self.best_loss:",
                                        "        if self.epoch == 1:\n            return False\n        if val_loss < self.best_loss:"),
    "restore does not load the weights": ("early_stopping", "model.load_state_dict(self.best_state)", "return self.best_state"),
    # batched inference
    "model left in training mode": ("predict", "    model.eval()\n    device = next(model.parameters()).device\n    truths",
                                    "    device = next(model.parameters()).device\n    truths"),
    "gradients tracked": ("predict", "    with torch.no_grad():\n        for X, y, M", "    if True:\n        for X, y, M"),
    "all jets in one batch": ("predict", "for X, y, M in batches(test_dataset, batch_size)",
                              "for X, y, M in batches(test_dataset, len(test_dataset))"),
    "shuffled order": ("predict", "for X, y, M in batches(test_dataset, batch_size)",
                       "for X, y, M in batches(test_dataset, batch_size, shuffle=True)"),
    "latent returns the probabilities": ("predict", "parts = [model.latent(", "parts = [model("),
    # jet-axis features
    "no phi wrapping": ("jet_axis_features", DPHI_WRAP, "pass"),
    "phi wrapped into [0, 2 pi)": ("jet_axis_features", DPHI_WRAP, "dphi = np.mod(dphi, 2 * np.pi)"),
    "the draft's arctan2(py, py)": ("jet_axis_features", "np.arctan2(x[..., 2], x[..., 1])", "np.arctan2(x[..., 2], x[..., 2])"),
    "the leading constituent as the axis": ("jet_axis_features", "jet = x.sum(axis=1)", "jet = x[:, 0]"),
    "padding not set to zero": ("jet_axis_features", "return np.where(mask[..., None], features, 0.0)", "return features"),
    "delta eta with the wrong sign": ("jet_axis_features", "eta - jet_eta[:, None]", "jet_eta[:, None] - eta"),
    "energy fraction with pT": ("jet_axis_features", "np.log(safe_energy / jet_energy[:, None])",
                                "np.log(safe_pt / jet_pt[:, None])"),
    "computed in float32": ("jet_axis_features", "np.asarray(constituents, dtype=np.float64)",
                            "np.asarray(constituents, dtype=np.float32)"),
}


# the constructor is given in the notebook: both alternatives keep it and write their own pooling
def _with_given_constructor(pooling: str) -> str:
    """The solution's PseudoParticleFlow class with its latent/forward replaced by ``pooling``."""
    root = Path(__file__).resolve().parent.parent
    source = notebooks.strip_solution_markers(
        notebooks.solution_cells(notebooks.read(notebooks.solution_path(root, ASSIGNMENT)))["pseudo_particle_flow"].source)
    return source[:source.index("    def latent(")] + pooling


EINSUM_POOLING = _with_given_constructor('''    def latent(self, x, m):
        m = m.float()
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
        return self.bad_epochs == self.patience

    def restore(self, model):
        model.load_state_dict(copy.deepcopy(self.best_state))
'''
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
ALTERNATIVES = {
    "einsum pooling with a float mask (the draft's way)": ("pseudo_particle_flow", EINSUM_POOLING),
    "torch.where pooling with a bool mask": ("pseudo_particle_flow", WHERE_POOLING),
    "copy.deepcopy of the state_dict": ("early_stopping", DEEPCOPY_STOPPER),
    "a default DataLoader and slices by hand": ("predict", DATALOADER_PREDICT),
    "course_utils kinematics and arctan2(sin, cos)": ("jet_axis_features", HELPERS_FEATURES),
}


(test_the_solution_gets_full_marks, test_a_wrong_answer_loses_points,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, WRONG, ALTERNATIVES)
