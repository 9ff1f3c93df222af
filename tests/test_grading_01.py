"""Tutorial 01's grade cells against plausible wrong answers (each must lose points, in the grade cell that
checks the requirement it breaks) and against differently written right answers (each must keep full marks).

REQUIREMENTS lists, per exercise (answer cell), every requirement its text states, the grade cell that checks
it, and the wrong answers that break it.
"""
import pytest

from conftest import ROOT
from course_utils.instructor import notebooks
from grading_harness import edited, grade, grading_tests, solution_answers

ASSIGNMENT = "01_amplitude_regression"

NOISE = "self.random = torch.randn_like(self.logsig2_w)"
WEIGHT = "weight = self.mu_w + torch.exp(0.5 * self.logsig2_w) * self.random"
MU_INIT = "nn.init.normal_(self.mu_w, mean=0.0, std=1.0 / math.sqrt(self.in_features))"
LOGSIG2_INIT = "nn.init.normal_(self.logsig2_w, mean=-9.0, std=0.001)"
KL_BODY = "return 0.5 * torch.sum(self.mu_w**2 + torch.exp(self.logsig2_w) - self.logsig2_w - 1.0)"
NLL_BODY = "return torch.mean(0.5 * (mean - targets) ** 2 * torch.exp(-log_var) + 0.5 * log_var)"
NET_KL = "return sum(vb_layer.KL() for vb_layer in self.vb_layers) / self.training_size"
PASSES = "passes = [torch.cat([model(X) for X, _ in dataloader]) for _ in range(n_monte)]"
TO_NUMPY = "return tuple(t.cpu().numpy() for t in (mean, sigma_model, sigma_stoch, sigma_tot))"

# (grade_id of the answer cell, old, new): the solution with one slip
WRONG = {
    # --- VBLinear: parameters and initialisation
    "noise registered as a parameter": (
        "vblinear", 'self.register_buffer("random", torch.zeros(out_features, in_features))',
        "self.random = nn.Parameter(torch.zeros(out_features, in_features), requires_grad=False)"),
    "an extra learned scale parameter": (
        "vblinear", 'self.register_buffer("random"',
        'self.scale = nn.Parameter(torch.ones(()))\n        self.register_buffer("random"'),
    "resample starts False": (
        "vblinear", 'self.register_buffer("random"', 'self.resample = False\n        self.register_buffer("random"'),
    "mu_w std 1/sqrt(out_features) (fan-out)": (
        "vblinear", MU_INIT, "nn.init.normal_(self.mu_w, mean=0.0, std=1.0 / math.sqrt(self.out_features))"),
    "mu_w Xavier normal": ("vblinear", MU_INIT, "nn.init.xavier_normal_(self.mu_w)"),
    "mu_w nn.Linear's default (Kaiming uniform)": (
        "vblinear", MU_INIT, "nn.init.kaiming_uniform_(self.mu_w, a=math.sqrt(5))"),
    "mu_w uniform with the right standard deviation": (
        "vblinear", MU_INIT, "nn.init.uniform_(self.mu_w, -math.sqrt(3 / self.in_features), math.sqrt(3 / self.in_features))"),
    "mu_w std 1/in_features": ("vblinear", MU_INIT, "nn.init.normal_(self.mu_w, mean=0.0, std=1.0 / self.in_features)"),
    "mu_w mean 1/sqrt(in_features)": (
        "vblinear", MU_INIT, "nn.init.normal_(self.mu_w, mean=1.0 / math.sqrt(self.in_features), std=1.0 / math.sqrt(self.in_features))"),
    "logsig2_w initialised at 0": ("vblinear", LOGSIG2_INIT, "nn.init.normal_(self.logsig2_w, mean=0.0, std=0.001)"),
    "logsig2_w at 2 ln 0.01 = -9.21 (sigma = 0.01)": ("vblinear", LOGSIG2_INIT, "nn.init.constant_(self.logsig2_w, 2 * math.log(0.01))"),
    "logsig2_w around -9 with a spread of 0.05": ("vblinear", LOGSIG2_INIT, "nn.init.normal_(self.logsig2_w, mean=-9.0, std=0.05)"),
    "logsig2_w at -18 (log sigma = -9)": ("vblinear", LOGSIG2_INIT, "nn.init.normal_(self.logsig2_w, mean=-18.0, std=0.001)"),
    "logsig2_w in a wide band": ("vblinear", LOGSIG2_INIT, "nn.init.normal_(self.logsig2_w, mean=-9.0, std=1.0)"),
    "bias initialised randomly": ("vblinear", "nn.init.zeros_(self.bias)", "nn.init.normal_(self.bias, std=0.1)"),
    "initialisation in __init__, reset_parameters does nothing": (
        "vblinear", f"{MU_INIT}\n        {LOGSIG2_INIT}\n        nn.init.zeros_(self.bias)", "pass"),
    # --- VBLinear: forward
    "sigma = exp(logsig2) instead of its square root": (
        "vblinear", "torch.exp(0.5 * self.logsig2_w) * self.random", "torch.exp(self.logsig2_w) * self.random"),
    "uniform noise": ("vblinear", NOISE, "self.random = torch.rand_like(self.logsig2_w)"),
    "noise drawn after the weights are built": (
        "vblinear", f"if self.resample:\n            {NOISE}\n        {WEIGHT}",
        f"{WEIGHT}\n        if self.resample:\n            {NOISE}"),
    "noise on the outputs (local reparameterisation)": (
        "vblinear", "return F.linear(x, weight, self.bias)",
        "mean = F.linear(x, self.mu_w, self.bias)\n"
        "        std = torch.sqrt(F.linear(x**2, torch.exp(self.logsig2_w)) + 1e-16)\n"
        "        return mean + std * torch.randn_like(mean)"),
    "noise on the bias too": (
        "vblinear", "return F.linear(x, weight, self.bias)",
        "return F.linear(x, weight, self.bias + 0.01 * torch.randn_like(self.bias))"),
    "no bias in the output": ("vblinear", "return F.linear(x, weight, self.bias)", "return F.linear(x, weight)"),
    "Bayesian biases with a width of their own": (
        "vblinear", "self.bias = nn.Parameter(torch.empty(out_features))",
        "self.bias = nn.Parameter(torch.empty(out_features))\n"
        "        self.logsig2_b = nn.Parameter(torch.full((out_features,), -9.0))"),
    "Bayesian biases sampled in the forward pass": (
        "vblinear", "return F.linear(x, weight, self.bias)",
        "bias_noise = torch.randn_like(self.bias)\n"
        "        return F.linear(x, weight, self.bias + torch.exp(torch.full_like(self.bias, -4.5)) * bias_noise)"),
    "noise scaled by sigma when stored": (
        "vblinear", f"{NOISE}\n        {WEIGHT}",
        "self.random = torch.exp(0.5 * self.logsig2_w) * torch.randn_like(self.logsig2_w)\n"
        "        weight = self.mu_w + torch.exp(0.5 * self.logsig2_w) * torch.randn_like(self.logsig2_w)"),
    "uniform noise with unit variance": (
        "vblinear", NOISE, "self.random = (torch.rand_like(self.logsig2_w) - 0.5) * math.sqrt(12.0)"),
    "noise with standard deviation 0.1": ("vblinear", NOISE, "self.random = 0.1 * torch.randn_like(self.logsig2_w)"),
    # --- VBLinear: sampling
    "samples only in training mode": ("vblinear", "if self.resample:", "if self.resample and self.training:"),
    "noise drawn even when frozen": ("vblinear", "if self.resample:\n            self.random", "if True:\n            self.random"),
    "noise not kept: a frozen layer uses stale noise": (
        "vblinear", f"{NOISE}\n        {WEIGHT}",
        "noise = torch.randn_like(self.logsig2_w)\n        else:\n            noise = self.random\n"
        "        weight = self.mu_w + torch.exp(0.5 * self.logsig2_w) * noise"),
    "noise shared by all weights of a row": (
        "vblinear", NOISE, "self.random = torch.randn(1, self.in_features).expand_as(self.logsig2_w)"),
    "noise shared by all weights of a column": (
        "vblinear", NOISE, "self.random = torch.randn(self.out_features, 1).expand_as(self.logsig2_w)"),
    "one noise value for the whole layer": ("vblinear", NOISE, "self.random = torch.randn(()).expand_as(self.logsig2_w)"),
    "noise reseeded on every pass": (
        "vblinear", NOISE, "torch.manual_seed(0)\n            self.random = torch.randn_like(self.logsig2_w)"),
    "noise drawn once in __init__ only": (
        "vblinear", f"if self.resample:\n            {NOISE}\n",
        "if not hasattr(self, '_drawn'):\n            self.random = torch.randn_like(self.logsig2_w)\n            self._drawn = True\n"),
    # --- VBLinear: KL
    "KL without the -1": ("vblinear", "- self.logsig2_w - 1.0)", "- self.logsig2_w)"),
    "KL with the biases": ("vblinear", "return 0.5 * torch.sum(", "return 0.5 * torch.sum(self.bias**2) + 0.5 * torch.sum("),
    "KL with sigma instead of sigma^2": ("vblinear", "+ torch.exp(self.logsig2_w) -", "+ torch.exp(0.5 * self.logsig2_w) -"),
    "KL averaged over the weights": ("vblinear", "return 0.5 * torch.sum(", "return 0.5 * torch.mean("),
    "KL with ln sigma instead of ln sigma^2": ("vblinear", "- self.logsig2_w - 1.0)", "- 0.5 * self.logsig2_w - 1.0)"),
    "KL summed over one axis only": ("vblinear", "return 0.5 * torch.sum(", "return 0.5 * torch.sum(dim=0, input="),
    "KL(p || q) instead of KL(q || p)": (
        "vblinear", KL_BODY, "return 0.5 * torch.sum(self.logsig2_w + (1.0 + self.mu_w**2) * torch.exp(-self.logsig2_w) - 1.0)"),
    "KL returned as a Python float": ("vblinear", KL_BODY, f"{KL_BODY[:6]} float({KL_BODY[7:]})"),
    # --- VBLinear: gradients
    "weights from mu_w.data": ("vblinear", "weight = self.mu_w +", "weight = self.mu_w.data +"),
    "weights from a detached copy of mu_w": ("vblinear", "weight = self.mu_w +", "weight = self.mu_w.clone().detach() +"),
    "sigma detached in the forward pass": (
        "vblinear", "torch.exp(0.5 * self.logsig2_w) * self.random", "torch.exp(0.5 * self.logsig2_w.detach()) * self.random"),
    "KL with a detached logsig2_w": (
        "vblinear", KL_BODY,
        "logsig2 = self.logsig2_w.detach()\n        return 0.5 * torch.sum(self.mu_w**2 + torch.exp(logsig2) - logsig2 - 1.0)"),
    "logsig2_w frozen (requires_grad=False)": (
        "vblinear", "self.logsig2_w = nn.Parameter(torch.empty(out_features, in_features))",
        "self.logsig2_w = nn.Parameter(torch.empty(out_features, in_features), requires_grad=False)"),
    # --- neg_log_gauss
    "NLL summed over the batch": ("neg_log_gauss", "return torch.mean(", "return torch.sum("),
    "NLL with sigma instead of sigma^2": ("neg_log_gauss", "torch.exp(-log_var)", "torch.exp(-0.5 * log_var)"),
    "NLL with log sigma^2 instead of its half": ("neg_log_gauss", "+ 0.5 * log_var)", "+ log_var)"),
    "NLL columns swapped": ("neg_log_gauss", "mean, log_var = outputs[:, 0], outputs[:, 1]", "log_var, mean = outputs[:, 0], outputs[:, 1]"),
    "NLL reads column 1 as ln sigma": (
        "neg_log_gauss", NLL_BODY, "return torch.mean(0.5 * (mean - targets) ** 2 * torch.exp(-2 * log_var) + log_var)"),
    "NLL with the log variance clamped to [-6, 6]": (
        "neg_log_gauss", "mean, log_var = outputs[:, 0], outputs[:, 1]",
        "mean, log_var = outputs[:, 0], outputs[:, 1].clamp(-6.0, 6.0)"),
    "NLL median over the batch": ("neg_log_gauss", "return torch.mean(", "return torch.median("),
    "NLL by F.gaussian_nll_loss, whose default floors sigma^2 at 1e-6": (
        "neg_log_gauss", "return torch.mean(0.5 * (mean - targets) ** 2 * torch.exp(-log_var) + 0.5 * log_var)",
        "return F.gaussian_nll_loss(mean, targets, torch.exp(log_var))"),
    "NLL with the log variance clamped to [-10, 10]": (
        "neg_log_gauss", "mean, log_var = outputs[:, 0], outputs[:, 1]",
        "mean, log_var = outputs[:, 0], outputs[:, 1].clamp(-10.0, 10.0)"),
    "NLL targets not flattened": ("neg_log_gauss", "targets = targets.reshape(-1)", "targets = targets"),
    "NLL returned as a Python float": ("neg_log_gauss", NLL_BODY, f"return float({NLL_BODY[7:]})"),
    "NLL with the variance detached": ("neg_log_gauss", "torch.exp(-log_var)", "torch.exp(-log_var.detach())"),
    "NLL with the mean detached": ("neg_log_gauss", "(mean - targets)", "(mean.detach() - targets)"),
    # --- bayes_amp_net
    "tanh instead of ReLU": ("bayes_amp_net", "stack += [vb_layer, nn.ReLU()]", "stack += [vb_layer, nn.Tanh()]"),
    "no activation at all (an affine network)": ("bayes_amp_net", "stack += [vb_layer, nn.ReLU()]", "stack += [vb_layer]"),
    "the log variance output clamped to [-10, 10]": (
        "bayes_amp_net", "        return self.model(x)",
        "        out = self.model(x)\n        return torch.stack([out[:, 0], out[:, 1].clamp(-10.0, 10.0)], dim=1)"),
    "ReLU after the output layer too": (
        "bayes_amp_net", "self.model = nn.Sequential(*stack, self.vb_layers[-1])",
        "self.model = nn.Sequential(*stack, self.vb_layers[-1], nn.ReLU())"),
    "leaky ReLU": ("bayes_amp_net", "stack += [vb_layer, nn.ReLU()]", "stack += [vb_layer, nn.LeakyReLU(0.1)]"),
    "ReLU on the inputs": ("bayes_amp_net", "return self.model(x)", "return self.model(torch.relu(x))"),
    "only two hidden layers": ("bayes_amp_net", "            VBLinear(hdn_dim, hdn_dim),\n            VBLinear(hdn_dim, hdn_dim),\n",
                               "            VBLinear(hdn_dim, hdn_dim),\n"),
    "hdn_dim 64 by default": ("bayes_amp_net", "hdn_dim: int = 50)", "hdn_dim: int = 64)"),
    "hdn_dim ignored": ("bayes_amp_net", "self.training_size = training_size\n", "self.training_size = training_size\n        hdn_dim = 50\n"),
    "a plain nn.Linear output layer": ("bayes_amp_net", "VBLinear(hdn_dim, opt_dim)", "nn.Linear(hdn_dim, opt_dim)"),
    "an extra learned output scale": (
        "bayes_amp_net", "self.model = nn.Sequential(*stack, self.vb_layers[-1])",
        "self.model = nn.Sequential(*stack, self.vb_layers[-1])\n        self.scale = nn.Parameter(torch.ones(2))"),
    "network switches sampling off in eval mode": (
        "bayes_amp_net", "return self.model(x)",
        "for layer in self.vb_layers:\n            layer.resample = self.training\n        return self.model(x)"),
    "KL not divided by the training size": ("bayes_amp_net", NET_KL, "return sum(vb_layer.KL() for vb_layer in self.vb_layers)"),
    "KL of the hidden layers only": (
        "bayes_amp_net", NET_KL, "return sum(vb_layer.KL() for vb_layer in self.vb_layers[:-1]) / self.training_size"),
    "network KL detached": (
        "bayes_amp_net", NET_KL, "return sum(vb_layer.KL().detach() for vb_layer in self.vb_layers) / self.training_size"),
    "network KL as a Python float": (
        "bayes_amp_net", NET_KL, "return float(sum(vb_layer.KL() for vb_layer in self.vb_layers) / self.training_size)"),
    "network NLL rewritten with the broadcasting slip": (
        "bayes_amp_net", "return neg_log_gauss(outputs, targets)",
        "return torch.mean(0.5 * (outputs[:, 0] - targets) ** 2 * torch.exp(-outputs[:, 1]) + 0.5 * outputs[:, 1])"),
    "network NLL summed over the batch": (
        "bayes_amp_net", "return neg_log_gauss(outputs, targets)", "return neg_log_gauss(outputs, targets) * len(outputs)"),
    # --- train_epoch
    "no zero_grad": ("train_epoch", "        optimizer.zero_grad()\n", ""),
    "KL left out of the training loss": ("train_epoch", "loss = nll + kl\n", "loss = nll\n"),
    "KL detached in the training loss": ("train_epoch", "loss = nll + kl\n", "loss = nll + kl.detach()\n"),
    "KL divided by the number of batches in training": ("train_epoch", "loss = nll + kl\n", "loss = nll + kl / len(dataloader)\n"),
    "step before backward": (
        "train_epoch", "optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()",
        "optimizer.zero_grad()\n        optimizer.step()\n        loss.backward()"),
    "one optimiser step per epoch": (
        "train_epoch", "        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n"
        "        per_batch.append((loss.item(), kl.item(), nll.item()))\n",
        "        loss.backward()\n        per_batch.append((loss.item(), kl.item(), nll.item()))\n"
        "    optimizer.step()\n    optimizer.zero_grad()\n"),
    "training returns the last batch's values": (
        "train_epoch", "loss_mean, kl_mean, nll_mean = np.mean(per_batch, axis=0).tolist()",
        "loss_mean, kl_mean, nll_mean = per_batch[-1]"),
    "training returns a list": ("train_epoch", "return loss_mean, kl_mean, nll_mean", "return [loss_mean, kl_mean, nll_mean]"),
    "training with the global neg_log_gauss, not the model's": (
        "train_epoch", "nll = model.neg_log_gauss(model(X), y)", "nll = neg_log_gauss(model(X), y)"),
    "training returns the NLL as the total": (
        "train_epoch", "per_batch.append((loss.item(), kl.item(), nll.item()))",
        "per_batch.append((nll.item(), kl.item(), nll.item()))"),
    "training averages per event": (
        "train_epoch", "per_batch.append((loss.item(), kl.item(), nll.item()))",
        "per_batch += [(loss.item(), kl.item(), nll.item())] * len(X)"),
    "training counts batches from dataloader.batch_size": (
        "train_epoch", "loss_mean, kl_mean, nll_mean = np.mean(per_batch, axis=0).tolist()",
        "n_batches = math.ceil(len(dataloader.dataset) / dataloader.batch_size)\n"
        "    loss_mean, kl_mean, nll_mean = (np.sum(per_batch, axis=0) / n_batches).tolist()"),
    "training returns 0-dim tensors": (
        "train_epoch", "loss_mean, kl_mean, nll_mean = np.mean(per_batch, axis=0).tolist()",
        "loss_mean, kl_mean, nll_mean = torch.tensor(per_batch).mean(dim=0)"),
    "training freezes the parameters at the end": (
        "train_epoch", "    loss_mean, kl_mean, nll_mean = np.mean(",
        "    for p in model.parameters():\n        p.requires_grad_(False)\n    loss_mean, kl_mean, nll_mean = np.mean("),
    "training leaves autograd off": (
        "train_epoch", "    loss_mean, kl_mean, nll_mean = np.mean(",
        "    torch.set_grad_enabled(False)\n    loss_mean, kl_mean, nll_mean = np.mean("),
    # --- validate_epoch
    "validation with gradients": ("train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
                                  "    if True:\n        kl = model.KL().item()"),
    "validation leaves autograd off": (
        "train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
        "    torch.set_grad_enabled(False)\n    if True:\n        kl = model.KL().item()"),
    "validation freezes the parameters instead of no_grad": (
        "train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
        "    for p in model.parameters():\n        p.requires_grad_(False)\n    if True:\n        kl = model.KL().item()"),
    "validation leaves resample off": (
        "train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
        "    for m in model.modules():\n        if hasattr(m, 'resample'):\n            m.resample = False\n"
        "    with torch.no_grad():\n        kl = model.KL().item()"),
    "validation averages per event": (
        "train_epoch", "for X, y in dataloader]", "for X, y in dataloader for _ in range(len(X))]"),
    "validation sums over the batches": ("train_epoch", "nll = float(np.mean(nll_per_batch))", "nll = float(np.sum(nll_per_batch))"),
    "validation returns the terms in the wrong order": ("train_epoch", "return nll + kl, kl, nll", "return kl, nll, nll + kl"),
    "validation returns 0-dim tensors": (
        "train_epoch", "return nll + kl, kl, nll", "return torch.tensor(nll + kl), torch.tensor(kl), torch.tensor(nll)"),
    "validation trains a step": (
        "train_epoch", "    nll = float(np.mean(nll_per_batch))",
        "    with torch.no_grad():\n        for p in model.parameters():\n            p.mul_(0.99)\n"
        "    nll = float(np.mean(nll_per_batch))"),
    # --- get_prediction
    "sigma_stoch as the mean of sigma": (
        "get_prediction", "sigma_stoch = torch.sqrt(variances.mean(dim=0))", "sigma_stoch = torch.sqrt(variances).mean(dim=0)"),
    "sigma_stoch from the mean log variance": (
        "get_prediction", "sigma_stoch = torch.sqrt(variances.mean(dim=0))",
        "sigma_stoch = torch.exp(0.5 * outputs[..., 1].mean(dim=0))"),
    "variances read as exp(log variance / 2)": (
        "get_prediction", "variances = outputs[..., 0], torch.exp(outputs[..., 1])",
        "variances = outputs[..., 0], torch.exp(0.5 * outputs[..., 1])"),
    "sigma_model from the variances": (
        "get_prediction", "sigma_model = means.std(dim=0, unbiased=False)", "sigma_model = variances.std(dim=0, unbiased=False)"),
    "sigma_tot as a plain sum": (
        "get_prediction", "sigma_tot = torch.sqrt(sigma_model**2 + sigma_stoch**2)", "sigma_tot = sigma_model + sigma_stoch"),
    "spread over the events instead of the passes": (
        "get_prediction", "sigma_model = means.std(dim=0, unbiased=False)", "sigma_model = means.std(dim=1, unbiased=False)"),
    "sigma_model as half the range of the sampled means": (
        "get_prediction", "sigma_model = means.std(dim=0, unbiased=False)",
        "sigma_model = (means.max(dim=0).values - means.min(dim=0).values) / 2"),
    "n_monte 50 by default": ("get_prediction", "n_monte: int = 30)", "n_monte: int = 50)"),
    "n_monte + 1 passes": ("get_prediction", "for _ in range(n_monte)]", "for _ in range(n_monte + 1)]"),
    "n_monte - 1 passes": ("get_prediction", "for _ in range(n_monte)]", "for _ in range(1, n_monte)]"),
    "returns tensors": ("get_prediction", TO_NUMPY, "return mean, sigma_model, sigma_stoch, sigma_tot"),
    "prediction leaves autograd off": (
        "get_prediction", "    with torch.no_grad():\n        passes",
        "    torch.set_grad_enabled(False)\n    if True:\n        passes"),
    "prediction switches resampling off": (
        "get_prediction", "    with torch.no_grad():\n        passes",
        "    for m in model.modules():\n        if hasattr(m, 'resample'):\n            m.resample = False\n"
        "    with torch.no_grad():\n        passes"),
    "prediction freezes the parameters instead of no_grad": (
        "get_prediction", "    with torch.no_grad():\n        passes",
        "    for p in model.parameters():\n        p.requires_grad_(False)\n    if True:\n        passes"),
    "batches stacked instead of concatenated": (
        "get_prediction", "torch.cat([model(X) for X, _ in dataloader])",
        "torch.stack([model(X) for X, _ in dataloader]).reshape(-1, 2)"),
    "one network per pass, resample left off": (
        "get_prediction", PASSES,
        "passes = []\n        for _ in range(n_monte):\n            outputs = []\n"
        "            for i, (X, _) in enumerate(dataloader):\n"
        "                for m in model.modules():\n                    if hasattr(m, 'resample'):\n"
        "                        m.resample = i == 0\n"
        "                outputs.append(model(X))\n            passes.append(torch.cat(outputs))"),
    "squeeze breaks a batch of one": ("get_prediction", "torch.cat([model(X) for X, _ in dataloader])",
                                      "torch.cat([model(X).squeeze() for X, _ in dataloader])"),
    "one sample per pass for the whole batch stacked n_monte times": (
        "get_prediction", PASSES,
        "passes = list(torch.cat([model(X.repeat(n_monte, 1)).reshape(n_monte, len(X), -1) for X, _ in dataloader], dim=1))"),
    "batch offsets from dataloader.batch_size": (
        "get_prediction", PASSES,
        "n_events = len(dataloader.dataset)\n        passes = []\n        for _ in range(n_monte):\n"
        "            out = torch.empty(n_events, 2)\n            for i, (X, _) in enumerate(dataloader):\n"
        "                out[i * dataloader.batch_size:i * dataloader.batch_size + len(X)] = model(X)\n"
        "            passes.append(out)"),
    # --- found by a red team that saw only the student notebook
    "validation switches autograd on at the end, whatever the caller had": (
        "train_epoch", "    nll = float(np.mean(nll_per_batch))", "    torch.set_grad_enabled(True)\n    nll = float(np.mean(nll_per_batch))"),
    "training switches autograd on for good": (
        "train_epoch", "    per_batch = []\n", "    torch.set_grad_enabled(True)\n    per_batch = []\n"),
    "training switches every resample flag on": (
        "train_epoch", "    per_batch = []\n",
        "    for layer in model.modules():\n        if hasattr(layer, 'resample'):\n            layer.resample = True\n    per_batch = []\n"),
    "prediction switches every resample flag on": (
        "get_prediction", "    with torch.no_grad():\n        passes",
        "    for layer in model.modules():\n        if hasattr(layer, 'resample'):\n            layer.resample = True\n"
        "    with torch.no_grad():\n        passes"),
    "prediction with a warm-up pass": (
        "get_prediction", "    with torch.no_grad():\n        passes",
        "    with torch.no_grad():\n        [model(X) for X, _ in dataloader]\n        passes"),
    "prediction mean is the median": ("get_prediction", "mean = means.mean(dim=0)", "mean = means.median(dim=0).values"),
}


ALTERNATIVE_NLL = """
def neg_log_gauss(outputs, targets):
    dist = torch.distributions.Normal(outputs[:, 0], torch.exp(0.5 * outputs[:, 1]))
    return -dist.log_prob(targets.view(-1)).mean()
"""
GAUSSIAN_NLL = """
def neg_log_gauss(outputs, targets):
    return F.gaussian_nll_loss(outputs[:, 0], targets.reshape(-1), torch.exp(outputs[:, 1]), eps=1e-12)
"""
NLL_WITH_CONSTANT = """
def neg_log_gauss(outputs, targets):
    mu, log_var = outputs.unbind(dim=-1)
    if targets.dim() == 2:
        targets = targets.squeeze(-1)
    nll = 0.5 * (log_var + (targets - mu) ** 2 / log_var.exp()) + 0.5 * torch.log(torch.tensor(2 * math.pi))
    return nll.mean()
"""
NUMPY_CONSTANT_NLL = """
def neg_log_gauss(outputs, targets):
    mean = outputs[:, :1]
    log_var = outputs[:, 1:]
    targets = targets.view(-1, 1)
    return (0.5 * np.log(2 * np.pi) + 0.5 * log_var + (mean - targets) ** 2 / (2 * torch.exp(log_var))).mean()
"""
EXPLICIT_NET = '''
ipt_dim = 20
opt_dim = 2


class bayes_amp_net(nn.Module):
    def __init__(self, training_size, hdn_dim=50):
        super().__init__()
        self.training_size = training_size
        self.inp = VBLinear(ipt_dim, hdn_dim)
        self.hidden_a = VBLinear(hdn_dim, hdn_dim)
        self.hidden_b = VBLinear(hdn_dim, hdn_dim)
        self.out = VBLinear(hdn_dim, opt_dim)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        x = self.act(self.inp(x))
        x = F.relu(self.hidden_a(x))
        x = torch.clamp(self.hidden_b(x), min=0.0)
        return self.out(x)

    def KL(self):
        total = 0.0
        for layer in (self.inp, self.hidden_a, self.hidden_b, self.out):
            total = total + layer.KL()
        return total / self.training_size

    def neg_log_gauss(self, outputs, targets):
        return neg_log_gauss(outputs, targets)
'''
DRAFT_STYLE_NET = '''
ipt_dim = 20
opt_dim = 2


class bayes_amp_net(nn.Module):
    def __init__(self, training_size, hdn_dim=50):
        super(bayes_amp_net, self).__init__()
        self.training_size = training_size
        self.vb_layers = []
        self.all_layers = []
        sizes = [ipt_dim, hdn_dim, hdn_dim, hdn_dim]
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layer = VBLinear(n_in, n_out)
            self.vb_layers.append(layer)
            self.all_layers += [layer, nn.ReLU()]
        self.vb_layers.append(VBLinear(hdn_dim, opt_dim))
        self.all_layers.append(self.vb_layers[-1])
        self.model = nn.Sequential(*self.all_layers)

    def forward(self, x):
        return self.model(x)

    def KL(self):
        return torch.stack([layer.KL() for layer in self.vb_layers]).sum() / self.training_size

    neg_log_gauss = staticmethod(neg_log_gauss)
'''
NUMPY_PREDICTION = """
def get_prediction(model, dataloader, n_monte=30):
    means, variances = [], []
    with torch.no_grad():
        for X, _ in dataloader:
            samples = np.stack([model(X).numpy() for _ in range(n_monte)])
            means.append(samples[..., 0])
            variances.append(np.exp(samples[..., 1]))
    means, variances = np.concatenate(means, axis=1), np.concatenate(variances, axis=1)
    sigma_model = means.std(axis=0, ddof=1)
    sigma_stoch = np.sqrt(variances.mean(axis=0))
    return means.mean(axis=0), sigma_model, sigma_stoch, np.sqrt(sigma_model ** 2 + sigma_stoch ** 2)
"""
PREDICTION_RESTORING_MODES = """
def get_prediction(model, dataloader, n_monte=30):
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            samples = torch.stack([torch.cat([model(X) for X, _ in dataloader]) for _ in range(n_monte)])
    finally:
        model.train(was_training)
    mu, var = samples[..., 0].double(), samples[..., 1].double().exp()
    sigma_model = mu.var(dim=0).sqrt()
    sigma_stoch = var.mean(dim=0).sqrt()
    return (mu.mean(dim=0).numpy(), sigma_model.numpy(), sigma_stoch.numpy(),
            (sigma_model ** 2 + sigma_stoch ** 2).sqrt().numpy())
"""
PREDICTION_ONE_NETWORK_PER_PASS = """
def get_prediction(model, dataloader, n_monte=30):
    layers = [m for m in model.modules() if hasattr(m, "resample")]
    flags = [m.resample for m in layers]
    passes = []
    try:
        with torch.no_grad():
            for _ in range(n_monte):
                outputs = []
                for i, (X, _) in enumerate(dataloader):
                    for m in layers:
                        m.resample = i == 0  # one network for the whole pass
                    outputs.append(model(X))
                passes.append(torch.cat(outputs))
    finally:
        for m, flag in zip(layers, flags):
            m.resample = flag
    samples = torch.stack(passes)
    mean = samples[..., 0].mean(0)
    sigma_model = samples[..., 0].std(0)
    sigma_stoch = samples[..., 1].exp().mean(0).sqrt()
    sigma_tot = torch.sqrt(sigma_model ** 2 + sigma_stoch ** 2)
    return mean.numpy(), sigma_model.numpy(), sigma_stoch.numpy(), sigma_tot.numpy()
"""
PREDICTION_DETACH_LOOP = """
def get_prediction(model, dataloader, n_monte=30):
    sums = sum_sq = var_sum = None
    for _ in range(n_monte):
        out = torch.cat([model(X).detach() for X, _ in dataloader]).double()
        mu, var = out[:, 0], out[:, 1].exp()
        sums = mu if sums is None else sums + mu
        sum_sq = mu ** 2 if sum_sq is None else sum_sq + mu ** 2
        var_sum = var if var_sum is None else var_sum + var
    mean = sums / n_monte
    sigma_model = (sum_sq / n_monte - mean ** 2).clamp(min=0).sqrt()
    sigma_stoch = (var_sum / n_monte).sqrt()
    sigma_tot = (sigma_model ** 2 + sigma_stoch ** 2).sqrt()
    return tuple(np.asarray(t) for t in (mean, sigma_model, sigma_stoch, sigma_tot))
"""
DRAFT_STYLE_LAYER = '''
class VBLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.resample = True
        self.bias = nn.Parameter(torch.Tensor(out_features))
        self.mu_w = nn.Parameter(torch.Tensor(out_features, in_features))
        self.logsig2_w = nn.Parameter(torch.Tensor(out_features, in_features))
        self.random = torch.randn_like(self.logsig2_w)
        self.reset_parameters()

    def reset_parameters(self):
        stdv = 1.0 / math.sqrt(self.mu_w.size(1))
        self.mu_w.data.normal_(0, stdv)
        self.logsig2_w.data.zero_().normal_(-9, 0.001)
        self.bias.data.zero_()

    def forward(self, input):
        if self.resample:
            self.random = torch.randn_like(self.logsig2_w)
        s2_w = self.logsig2_w.exp()
        weight = self.mu_w + s2_w.sqrt() * self.random
        return nn.functional.linear(input, weight, self.bias)

    def KL(self):
        logsig2_w = self.logsig2_w.clamp(-30, 11)
        kl = 0.5 * (self.mu_w.pow(2) + logsig2_w.exp() - logsig2_w - 1).sum()
        return kl
'''
DISTRIBUTIONS_LAYER = '''
class VBLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.resample = True
        self.mu_w = nn.Parameter(torch.zeros(out_features, in_features))
        self.logsig2_w = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.register_buffer("random", torch.zeros(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self):
        nn.init.kaiming_normal_(self.mu_w, nonlinearity="linear")  # std = 1 / sqrt(fan_in)
        nn.init.constant_(self.logsig2_w, -9.0)
        nn.init.zeros_(self.bias)

    def forward(self, x):
        if self.resample:
            unit = torch.distributions.Normal(torch.zeros_like(self.mu_w), torch.ones_like(self.mu_w))
            self.random = unit.sample()
        sigma = torch.exp(self.logsig2_w / 2)
        return x @ (self.mu_w + sigma * self.random).T + self.bias

    def KL(self):
        q = torch.distributions.Normal(self.mu_w, torch.exp(0.5 * self.logsig2_w))
        p = torch.distributions.Normal(0.0, 1.0)
        return torch.distributions.kl_divergence(q, p).sum()
'''
RANDN_LAYER = '''
class VBLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.resample = True
        self.mu_w = nn.Parameter(torch.empty(out_features, in_features))
        self.logsig2_w = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.register_buffer("random", torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self):
        with torch.no_grad():
            self.mu_w.normal_(0.0, self.in_features ** -0.5)
            self.logsig2_w.fill_(-9.0)
            self.bias.zero_()

    def forward(self, x):
        if self.resample:
            self.random = torch.randn(self.mu_w.shape, dtype=self.mu_w.dtype, device=self.mu_w.device)
        std = torch.exp(0.5 * self.logsig2_w)
        return torch.einsum("...i,oi->...o", x, self.mu_w + std * self.random) + self.bias

    def KL(self):
        var = self.logsig2_w.exp()
        return 0.5 * (self.mu_w.square() + var - self.logsig2_w - 1).sum()
'''
IN_PLACE_NOISE_LAYER = '''
class VBLinear(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.resample = True
        self.mu_w = nn.Parameter(torch.randn(out_features, in_features) / math.sqrt(in_features))
        self.logsig2_w = nn.Parameter(torch.full((out_features, in_features), -9.0))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.register_buffer("random", torch.zeros(out_features, in_features))

    def reset_parameters(self):
        with torch.no_grad():
            self.mu_w.copy_(torch.randn_like(self.mu_w) / math.sqrt(self.in_features))
            self.logsig2_w.fill_(-9.0)
            self.bias.zero_()

    def forward(self, x):
        if self.resample:
            self.random.normal_()
        weight = torch.addcmul(self.mu_w, self.logsig2_w.mul(0.5).exp(), self.random)
        return F.linear(x, weight, self.bias)

    def KL(self):
        return 0.5 * (self.mu_w ** 2 + self.logsig2_w.exp() - self.logsig2_w - 1).sum()
'''
TRAIN_ZERO_GRAD_AFTER_STEP = """
def train_epoch(dataloader, model, optimizer):
    model.train()
    totals, n_batches = np.zeros(3), 0
    for X, y in dataloader:
        nll = model.neg_log_gauss(model(X), y)
        kl = model.KL()
        (nll + kl).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        totals += [nll.item() + kl.item(), kl.item(), nll.item()]
        n_batches += 1
    loss, kl_mean, nll_mean = totals / n_batches
    return float(loss), float(kl_mean), float(nll_mean)


def validate_epoch(dataloader, model):
    model.eval()
    losses, kls, nlls = [], [], []
    with torch.inference_mode():
        for X, y in dataloader:
            nll = model.neg_log_gauss(model(X), y)
            kl = model.KL()
            losses.append((nll + kl).item())
            kls.append(kl.item())
            nlls.append(nll.item())
    return sum(losses) / len(losses), sum(kls) / len(kls), sum(nlls) / len(nlls)
"""
TRAIN_TENSOR_ACCUMULATION = """
def train_epoch(dataloader, model, optimizer):
    model.train()
    total = torch.zeros(3, dtype=torch.float64)
    for batch, (X, y) in enumerate(dataloader, start=1):
        optimizer.zero_grad()
        nll = model.neg_log_gauss(model(X), y)
        kl = model.KL()
        loss = kl + nll
        loss.backward()
        optimizer.step()
        total += torch.stack([loss.detach(), kl.detach(), nll.detach()]).double()
    return tuple((total / batch).tolist())


def validate_epoch(dataloader, model):
    model.eval()
    total = torch.zeros(3, dtype=torch.float64)
    n = 0
    with torch.no_grad():
        for X, y in dataloader:
            nll, kl = model.neg_log_gauss(model(X), y), model.KL()
            total += torch.stack([nll + kl, kl, nll]).double()
            n += 1
    loss, kl, nll = (total / n).tolist()
    return loss, kl, nll
"""


def _solution_edited(grade_id: str, old: str, new: str) -> tuple[str, str]:
    """(grade_id, the solution's answer with one edit): a right answer that differs from it in one place."""
    answers = solution_answers(notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT)))
    return grade_id, edited(answers, grade_id, old, new)[grade_id]


ALTERNATIVES = {
    # float32 on the CPU, as the notebook makes its tensors: dtypes and devices need no care of their own
    "noise from torch.randn in the default dtype": _solution_edited(
        "vblinear", NOISE, "self.random = torch.randn(self.out_features, self.in_features)"),
    "noise from torch.randn of the weights' shape on their device": _solution_edited(
        "vblinear", NOISE, "self.random = torch.randn(self.logsig2_w.shape, device=self.logsig2_w.device)"),
    "noise from torch.randn with the weights' dtype": _solution_edited(
        "vblinear", NOISE, "self.random = torch.randn(self.mu_w.shape, dtype=self.mu_w.dtype)"),
    "KL cast to float32": _solution_edited("vblinear", KL_BODY, f"{KL_BODY}.float()"),
    "torch.mm for the (N, in_features) inputs of the course": _solution_edited(
        "vblinear", "return F.linear(x, weight, self.bias)", "return torch.mm(x, weight.T) + self.bias"),
    "NLL with the columns cast to float32": _solution_edited(
        "neg_log_gauss", "mean, log_var = outputs[:, 0], outputs[:, 1]",
        "mean, log_var = outputs[:, 0].float(), outputs[:, 1].float()"),
    "NLL with the targets cast to float32": _solution_edited(
        "neg_log_gauss", "targets = targets.reshape(-1)", "targets = targets.reshape(-1).float()"),
    "the draft's layer (noise as a plain attribute, clamped KL)": ("vblinear", DRAFT_STYLE_LAYER),
    "torch.distributions noise and KL, x @ W.T, Kaiming normal with gain 1, constant -9": ("vblinear", DISTRIBUTIONS_LAYER),
    "noise from torch.randn with the weights' dtype and device, einsum": ("vblinear", RANDN_LAYER),
    "noise drawn in place into the buffer, init in __init__ and reset_parameters, addcmul": ("vblinear", IN_PLACE_NOISE_LAYER),
    "torch.distributions likelihood": ("neg_log_gauss", ALTERNATIVE_NLL),
    "F.gaussian_nll_loss": ("neg_log_gauss", GAUSSIAN_NLL),
    "with the constant log(2 pi)/2 as a float32 tensor, unbind": ("neg_log_gauss", NLL_WITH_CONSTANT),
    "(N, 1) columns and NumPy's constant": ("neg_log_gauss", NUMPY_CONSTANT_NLL),
    "explicit layers, inplace ReLU, F.relu and clamp": ("bayes_amp_net", EXPLICIT_NET),
    "the draft's lists of layers, stacked KL, a static loss": ("bayes_amp_net", DRAFT_STYLE_NET),
    "zero_grad after the step, inference_mode, per-batch KL in validation": ("train_epoch", TRAIN_ZERO_GRAD_AFTER_STEP),
    "float64 tensor accumulation, enumerate from 1": ("train_epoch", TRAIN_TENSOR_ACCUMULATION),
    "NumPy, batches outer and samples inner, ddof=1": ("get_prediction", NUMPY_PREDICTION),
    "restores the caller's mode, inference_mode, float64, unbiased variance": ("get_prediction", PREDICTION_RESTORING_MODES),
    "one network per pass, resample flags restored": ("get_prediction", PREDICTION_ONE_NETWORK_PER_PASS),
    "running sums, detach instead of no_grad": ("get_prediction", PREDICTION_DETACH_LOOP),
}


# exercise (answer cell) -> [(requirement as its text states it, grade cell that checks it, wrong answers that break it)]
REQUIREMENTS = {
    "vblinear": [
        ("three parameters and no others: mu_w, logsig2_w (out, in) and bias (out,); random is not a parameter; the "
         "biases are deterministic", "test_vblinear_parameters",
         ["noise registered as a parameter", "an extra learned scale parameter", "Bayesian biases with a width of their own"]),
        ("resample starts as True", "test_vblinear_parameters", ["resample starts False"]),
        ("mu_w from a normal distribution with mean 0 and standard deviation 1/sqrt(in_features)",
         "test_vblinear_parameters",
         ["mu_w std 1/sqrt(out_features) (fan-out)", "mu_w Xavier normal", "mu_w nn.Linear's default (Kaiming uniform)",
          "mu_w uniform with the right standard deviation", "mu_w std 1/in_features", "mu_w mean 1/sqrt(in_features)"]),
        ("logsig2_w at -9 or in a narrow band around it; bias zero", "test_vblinear_parameters",
         ["logsig2_w initialised at 0", "logsig2_w at -18 (log sigma = -9)", "logsig2_w in a wide band",
          "logsig2_w at 2 ln 0.01 = -9.21 (sigma = 0.01)", "logsig2_w around -9 with a spread of 0.05",
          "bias initialised randomly"]),
        ("reset_parameters (called by __init__) re-initialises the layer", "test_vblinear_parameters",
         ["initialisation in __init__, reset_parameters does nothing"]),
        ("forward returns x W^T + b with W = mu_w + sigma * random, sigma = exp(logsig2_w / 2), one weight sample for "
         "all events, a deterministic bias; inputs (N, in_features) -> (N, out_features)", "test_vblinear_forward",
         ["sigma = exp(logsig2) instead of its square root", "noise on the outputs (local reparameterisation)",
          "noise on the bias too", "no bias in the output", "noise scaled by sigma when stored",
          "noise drawn after the weights are built", "Bayesian biases sampled in the forward pass"]),
        ("the noise is standard normal", "test_vblinear_dtypes",
         ["noise with standard deviation 0.1", "uniform noise", "uniform noise with unit variance"]),
        ("with resample true every pass draws new noise, in training and in evaluation mode alike",
         "test_vblinear_sampling", ["samples only in training mode", "noise drawn once in __init__ only",
                                     "noise reseeded on every pass"]),
        ("with resample = False the layer reuses its last noise (stored in self.random)", "test_vblinear_sampling",
         ["noise drawn even when frozen", "noise not kept: a frozen layer uses stale noise"]),
        ("one independent standard-normal number per weight", "test_vblinear_dtypes",
         ["noise shared by all weights of a row", "noise shared by all weights of a column",
          "one noise value for the whole layer"]),
        ("KL() is the KL divergence to N(0, 1), summed over the weights, the biases not included",
         "test_vblinear_kl", ["KL without the -1", "KL with the biases", "KL with sigma instead of sigma^2",
                              "KL averaged over the weights", "KL(p || q) instead of KL(q || p)",
                              "KL with ln sigma instead of ln sigma^2"]),
        ("KL() is a 0-dim tensor", "test_vblinear_kl", ["KL returned as a Python float", "KL summed over one axis only"]),
        ("the output reaches mu_w, bias and, through the sampled weights, logsig2_w; KL() reaches mu_w and logsig2_w",
         "test_vblinear_gradients", ["weights from mu_w.data", "weights from a detached copy of mu_w", "sigma detached in the forward pass",
                                     "KL with a detached logsig2_w", "logsig2_w frozen (requires_grad=False)"]),
    ],
    "neg_log_gauss": [
        ("the mean over the events of (mean - A)^2 / (2 sigma^2) + ln(sigma^2) / 2, column 0 the mean, column 1 "
         "ln sigma^2 (the constant ln(2 pi)/2 accepted)", "test_neg_log_gauss_values",
         ["NLL summed over the batch", "NLL with sigma instead of sigma^2", "NLL with log sigma^2 instead of its half",
          "NLL columns swapped", "NLL reads column 1 as ln sigma", "NLL median over the batch",
          "NLL with the log variance clamped to [-6, 6]", "NLL by F.gaussian_nll_loss, whose default floors sigma^2 at 1e-6",
          "NLL with the log variance clamped to [-10, 10]"]),
        ("a 0-dim tensor", "test_neg_log_gauss_values", ["NLL returned as a Python float"]),
        ("targets (N,) and (N, 1) give the same result, for any N >= 1", "test_neg_log_gauss_reference",
         ["NLL targets not flattened"]),
        ("differentiable in outputs (the Gaussian likelihood's gradients)", "test_neg_log_gauss_dtypes",
         ["NLL with the variance detached", "NLL with the mean detached"]),
    ],
    "bayes_amp_net": [
        ("20 -> hdn_dim -> hdn_dim -> hdn_dim -> 2 with four VBLinear layers; hdn_dim sets the width, 50 by default",
         "test_bayes_amp_net_structure", ["only two hidden layers", "hdn_dim ignored", "a plain nn.Linear output layer",
                                          "hdn_dim 64 by default"]),
        ("no parameters other than the layers'", "test_bayes_amp_net_structure", ["an extra learned output scale"]),
        ("a ReLU after each hidden layer", "test_bayes_amp_net_activations",
         ["tanh instead of ReLU", "no activation at all (an affine network)", "leaky ReLU"]),
        ("no activation after the output layer", "test_bayes_amp_net_activations",
         ["ReLU after the output layer too", "the log variance output clamped to [-10, 10]"]),
        ("the inputs enter the first layer as they are", "test_bayes_amp_net_activations", ["ReLU on the inputs"]),
        ("every layer draws new weights on every pass, in training and in evaluation mode", "test_bayes_amp_net_sampling",
         ["network switches sampling off in eval mode"]),
        ("KL() = sum of the four layers' KL / training_size, a 0-dim tensor", "test_bayes_amp_net_kl",
         ["KL not divided by the training size", "KL of the hidden layers only", "network KL as a Python float"]),
        ("KL() differentiable in every layer's mu_w and logsig2_w", "test_bayes_amp_net_kl", ["network KL detached"]),
        ("neg_log_gauss is exercise 2's loss, for targets (N,) and (N, 1)", "test_bayes_amp_net_kl",
         ["network NLL rewritten with the broadcasting slip", "network NLL summed over the batch"]),
    ],
    "train_epoch": [
        ("train_epoch: per batch zero the gradients, back-propagate NLL + KL (model.neg_log_gauss, model.KL()), one "
         "optimiser step", "test_train_epoch_reference",
         ["no zero_grad", "KL left out of the training loss", "KL detached in the training loss",
          "training with the global neg_log_gauss, not the model's", "KL divided by the number of batches in training",
          "step before backward", "one optimiser step per epoch"]),
        ("train_epoch returns a tuple of three Python floats with total = KL + NLL", "test_train_epoch_runs",
         ["training returns 0-dim tensors", "training returns the NLL as the total", "training returns a list"]),
        ("train_epoch: each term the mean over the batches, every batch counting once; any loader "
         "(batch_size None, a last batch of one)", "test_train_epoch_reference",
         ["training averages per event", "training counts batches from dataloader.batch_size",
          "training returns the last batch's values"]),
        ("train_epoch leaves autograd and requires_grad as it found them", "test_train_epoch_runs",
         ["training freezes the parameters at the end", "training leaves autograd off",
          "training switches autograd on for good"]),
        ("train_epoch leaves the layers' resample flags as it found them", "test_train_epoch_runs",
         ["training switches every resample flag on"]),
        ("validate_epoch computes no gradients", "test_validate_epoch",
         ["validation with gradients", "validation freezes the parameters instead of no_grad"]),
        ("validate_epoch leaves autograd, requires_grad and the resample flags as it found them", "test_validate_epoch",
         ["validation leaves autograd off", "validation freezes the parameters instead of no_grad",
          "validation leaves resample off",
          "validation switches autograd on at the end, whatever the caller had"]),
        ("validate_epoch: (total, KL, NLL) as Python floats, each the mean over the batches (every batch once)",
         "test_validate_epoch",
         ["validation averages per event", "validation sums over the batches",
          "validation returns the terms in the wrong order", "validation returns 0-dim tensors"]),
        ("validate_epoch does not change the model's parameters", "test_validate_epoch", ["validation trains a step"]),
    ],
    "get_prediction": [
        ("four NumPy arrays of shape (N,)", "test_get_prediction_shapes",
         ["returns tensors", "batches stacked instead of concatenated", "spread over the events instead of the passes"]),
        ("sigma_tot^2 = sigma_model^2 + sigma_stoch^2", "test_get_prediction_shapes", ["sigma_tot as a plain sum"]),
        ("each pass draws new networks (sigma_model > 0 for a Bayesian model)", "test_get_prediction_shapes",
         ["prediction switches resampling off", "one sample per pass for the whole batch stacked n_monte times"]),
        ("sigma_stoch^2 = the mean of the predicted variances exp(output[:, 1])", "test_get_prediction_statistics",
         ["sigma_stoch as the mean of sigma", "sigma_stoch from the mean log variance",
          "variances read as exp(log variance / 2)"]),
        ("sigma_model = the standard deviation of the sampled means (1/n or 1/(n-1))", "test_get_prediction_statistics",
         ["sigma_model from the variances", "sigma_model as half the range of the sampled means"]),
        ("exactly n_monte passes, 30 by default; mean = the average of the sampled means, in the loader's order",
         "test_get_prediction_statistics", ["n_monte 50 by default", "n_monte + 1 passes", "n_monte - 1 passes", "prediction with a warm-up pass",
                                              "prediction mean is the median"]),
        ("any loader: batch_size None, batches of any sizes, a last batch of one", "test_get_prediction_loaders_and_state",
         ["squeeze breaks a batch of one", "batch offsets from dataloader.batch_size", "batches stacked instead of concatenated"]),
        ("afterwards autograd, requires_grad and the resample flags are as they were", "test_get_prediction_loaders_and_state",
         ["prediction leaves autograd off", "one network per pass, resample left off", "prediction switches resampling off",
          "prediction freezes the parameters instead of no_grad", "prediction switches every resample flag on"]),
    ],
}


@pytest.fixture(autouse=True)
def _torch_global_state_restored():
    """The grading runs in this process: a wrong answer that switches autograd off or changes the default dtype
    (as some here do) must not change the tests that follow. One thread, as the autograder's kernels have."""
    import torch

    grad_mode, dtype, threads = torch.is_grad_enabled(), torch.get_default_dtype(), torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_grad_enabled(grad_mode)
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)


# the harness's solution and right-answer tests; each wrong answer is graded once, below, where the score and
# the cells that must fail are both checked
test_the_solution_gets_full_marks, _, test_a_differently_written_right_answer_keeps_full_marks = grading_tests(
    ASSIGNMENT, WRONG, ALTERNATIVES)


def _solution(root):
    return notebooks.read(notebooks.solution_path(root, ASSIGNMENT))


def _grade_ids(solution) -> list[str]:
    return [notebooks.nbgrader_meta(c)["grade_id"] for c in notebooks.graded_cells(solution)]


def _cells_that_must_fail(name: str) -> set[str]:
    return {grade_id for rows in REQUIREMENTS.values() for _, grade_id, names in rows if name in names}


def test_every_requirement_names_an_existing_grade_cell_and_every_exercise_has_requirements(root):
    solution = _solution(root)
    grade_ids = set(_grade_ids(solution))
    answers = set(notebooks.solution_cells(solution))
    assert set(REQUIREMENTS) == answers, "one list of requirements per answer cell"
    for exercise, rows in REQUIREMENTS.items():
        assert rows, exercise
        for requirement, grade_id, names in rows:
            assert grade_id in grade_ids, f"{exercise}: {grade_id!r} is not a grade cell of the solution"
            assert names and set(names) <= set(WRONG), f"{requirement!r} names unknown wrong answers"
    checked = {grade_id for rows in REQUIREMENTS.values() for _, grade_id, _ in rows}
    assert grade_ids <= checked, f"grade cells no requirement points to: {sorted(grade_ids - checked)}"


def test_every_wrong_answer_breaks_a_stated_requirement():
    unlisted = [name for name in WRONG if not _cells_that_must_fail(name)]
    assert not unlisted, f"wrong answers in no row of REQUIREMENTS: {unlisted}"
    for name, (grade_id, _, _) in WRONG.items():
        assert grade_id in REQUIREMENTS, name


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_loses_points_in_the_cells_that_check_what_it_breaks(root, name):
    """The notebook graded with one slip (its exercise's test cells): it loses points, and every grade cell that
    REQUIREMENTS names for it scores zero."""
    solution = _solution(root)
    report = grade(solution, edited(solution_answers(solution), *WRONG[name]), ASSIGNMENT,
                   only=notebooks.grade_ids_after(solution, WRONG[name][0]))  # the exercise's own test cells
    assert report.score < report.total, f"{name!r} got full marks"
    passed = sorted(_cells_that_must_fail(name) - set(report.errors))
    assert not passed, f"{name!r} passed {passed}"
