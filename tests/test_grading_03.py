"""Tutorial 03's grade cells against plausible wrong answers (each must lose points, in the grade cells its
requirement table names) and against differently written right answers (each must keep full marks).

``REQUIREMENTS`` is the requirement-to-test table: per exercise (answer cell), each requirement as the
exercise text states it, the grade cell that checks it, and the wrong answers that violate it.
"""
from __future__ import annotations

import functools

import pytest
import torch

from conftest import ROOT
from grading_harness import edited, grade, grading_tests, solution_answers, solution_with
from course_utils.instructor import notebooks

ASSIGNMENT = "03_jet_bayesian_cnn"

# ------------------------------------------------------------------ wrong answers: (answer cell, old, new)

SOLUTION_FORWARD_AND_KL = '''            weight = self.W_mu + F.softplus(self.W_rho) * torch.randn_like(self.W_mu)
            if self.use_bias:
                bias = self.bias_mu + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mu)
        else:
            weight = self.W_mu
            if self.use_bias:
                bias = self.bias_mu
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)

    def KL(self) -> torch.Tensor:
        kl = KL_DIV(self.W_mu, F.softplus(self.W_rho), self.prior_mu, self.prior_sigma)
        if self.use_bias:
            kl = kl + KL_DIV(self.bias_mu, F.softplus(self.bias_rho), self.prior_mu, self.prior_sigma)'''
STALE_SIGMA_FORWARD_AND_KL = '''            self.W_sigma = F.softplus(self.W_rho)
            weight = self.W_mu + self.W_sigma * torch.randn_like(self.W_mu)
            if self.use_bias:
                self.bias_sigma = F.softplus(self.bias_rho)
                bias = self.bias_mu + self.bias_sigma * torch.randn_like(self.bias_mu)
        else:
            weight = self.W_mu
            if self.use_bias:
                bias = self.bias_mu
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)

    def KL(self) -> torch.Tensor:
        kl = KL_DIV(self.W_mu, self.W_sigma, self.prior_mu, self.prior_sigma)
        if self.use_bias:
            kl = kl + KL_DIV(self.bias_mu, self.bias_sigma, self.prior_mu, self.prior_sigma)'''
SAMPLE_ONLY_IN_TRAINING = '''        h = F.max_pool2d(F.relu(self.conv1(x, sample=self.training)), 2)
        h = F.max_pool2d(self.conv2(h, sample=self.training), 2)
        return torch.sigmoid(self.out(h.flatten(1)))'''
SECOND_CONV_ON_MEANS = '''        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(self.conv2(h, sample=self.training), 2)
        return torch.sigmoid(self.out(h.flatten(1)))'''
SOLUTION_NOISE = """            weight = self.W_mu + F.softplus(self.W_rho) * torch.randn_like(self.W_mu)
            if self.use_bias:
                bias = self.bias_mu + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mu)"""
BIAS_NOISE_FROM_WEIGHTS = """            eps = torch.randn_like(self.W_mu)
            weight = self.W_mu + F.softplus(self.W_rho) * eps
            if self.use_bias:
                bias = self.bias_mu + F.softplus(self.bias_rho) * {}"""
SOLUTION_FORWARD = """        bias = None
        if self.training or sample:
""" + SOLUTION_NOISE + """
        else:
            weight = self.W_mu
            if self.use_bias:
                bias = self.bias_mu
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)"""
LOCAL_REPARAMETERISATION = """        mean = F.conv2d(input, self.W_mu, self.bias_mu, self.stride, self.padding, self.dilation)
        if not (self.training or sample):
            return mean
        bias_var = F.softplus(self.bias_rho) ** 2 if self.use_bias else None
        var = F.conv2d(input**2, F.softplus(self.W_rho) ** 2, bias_var, self.stride, self.padding, self.dilation)
        return mean + torch.sqrt(var + 1e-16) * torch.randn_like(mean)"""
WEIGHTS_PER_IMAGE = """        if not (self.training or sample):
            return F.conv2d(input, self.W_mu, self.bias_mu, self.stride, self.padding, self.dilation)
        outputs = []
        for image in input:
            weight = self.W_mu + F.softplus(self.W_rho) * torch.randn_like(self.W_mu)
            bias = self.bias_mu + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mu) if self.use_bias else None
            outputs.append(F.conv2d(image[None], weight, bias, self.stride, self.padding, self.dilation))
        return torch.cat(outputs)"""
SOLUTION_PARAMETERS = """        self.W_mu = nn.Parameter(torch.empty(shape))
        self.W_rho = nn.Parameter(torch.empty(shape))
        if self.use_bias:
            self.bias_mu = nn.Parameter(torch.empty(out_channels))
            self.bias_rho = nn.Parameter(torch.empty(out_channels))"""
ON_THE_GPU = """        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.W_mu = nn.Parameter(torch.empty(shape, device=device))
        self.W_rho = nn.Parameter(torch.empty(shape, device=device))
        if self.use_bias:
            self.bias_mu = nn.Parameter(torch.empty(out_channels, device=device))
            self.bias_rho = nn.Parameter(torch.empty(out_channels, device=device))"""
MOVED_TO_THE_GPU = """        self.W_mu = nn.Parameter(torch.empty(shape).cuda() if torch.cuda.is_available() else torch.empty(shape))
        self.W_rho = nn.Parameter(torch.empty_like(self.W_mu))
        if self.use_bias:
            self.bias_mu = nn.Parameter(torch.empty(out_channels).to(self.W_mu.device))
            self.bias_rho = nn.Parameter(torch.empty(out_channels).to(self.W_mu.device))"""
LOG_NOT_LOG1P = "(lambda r: torch.clamp(r, min=0) + torch.log(1 + torch.exp(-torch.abs(r))))("
PER_JET = "np.array([{}]) * len(X) * len(dataloader) / len(dataloader.dataset)"
SOLUTION_STATISTICS = "    return samples.mean(dim=0), samples.std(dim=0)\n"
ONE_PASS_STD = """    mean = samples.mean(dim=0)
    return mean, {}
"""

WRONG = {
    # ---- BBBConv2d
    "KL(p || q): prior and posterior swapped": (
        "bbbconv2d", "KL_DIV(self.W_mu, F.softplus(self.W_rho), self.prior_mu, self.prior_sigma)",
        "KL_DIV(self.prior_mu, self.prior_sigma, self.W_mu, F.softplus(self.W_rho))"),
    "sigma = exp(rho)": ("bbbconv2d", "F.softplus(", "torch.exp("),
    "softplus computed literally (overflows)": ("bbbconv2d", "F.softplus(", "(lambda r: torch.log1p(torch.exp(r)))("),
    "the stable softplus with log instead of log1p (sigma = 0 at rho = -30)": ("bbbconv2d", "F.softplus(", LOG_NOT_LOG1P),
    "softplus clipped at 20": ("bbbconv2d", "F.softplus(", "(lambda r: F.softplus(r).clamp(max=20.0))("),
    "one noise value for all weights": ("bbbconv2d", "torch.randn_like(self.W_mu)", "torch.randn(())"),
    "one noise value for all biases": ("bbbconv2d", "torch.randn_like(self.bias_mu)", "torch.randn(())"),
    "noise shared by the input channels": ("bbbconv2d", "torch.randn_like(self.W_mu)", "torch.randn_like(self.W_mu[:, :1])"),
    "the same noise in every pass": (
        "bbbconv2d", "torch.randn_like(self.W_mu)",
        "torch.randn(self.W_mu.shape, generator=torch.Generator().manual_seed(0)).to(self.W_mu)"),
    "samples even when sample=False in eval mode": ("bbbconv2d", "if self.training or sample:", "if True:"),
    "never samples": ("bbbconv2d", "if self.training or sample:", "if False:"),
    "samples only in training mode": ("bbbconv2d", "if self.training or sample:", "if self.training:"),
    "samples only when sample=True, whatever the mode": ("bbbconv2d", "if self.training or sample:", "if sample:"),
    "biases not sampled": (
        "bbbconv2d", "bias = self.bias_mu + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mu)",
        "bias = self.bias_mu"),
    "weights built from W_mu.data": ("bbbconv2d", "weight = self.W_mu + F.softplus", "weight = self.W_mu.data + F.softplus"),
    "sigma detached in the sample": (
        "bbbconv2d", "F.softplus(self.W_rho) * torch.randn_like", "F.softplus(self.W_rho).detach() * torch.randn_like"),
    "torch.normal(mu, sigma): no reparameterisation": (
        "bbbconv2d", "weight = self.W_mu + F.softplus(self.W_rho) * torch.randn_like(self.W_mu)",
        "weight = torch.normal(self.W_mu, F.softplus(self.W_rho))"),
    "KL without the biases": ("bbbconv2d", "kl = kl + KL_DIV(", "kl = kl + 0 * KL_DIV("),
    "KL averaged over the weights": ("bbbconv2d", "        return kl\n", "        return kl / self.W_mu.numel()\n"),
    "KL as a Python float": ("bbbconv2d", "        return kl\n", "        return kl.item()\n"),
    "KL through a detached sigma": (
        "bbbconv2d", "KL_DIV(self.W_mu, F.softplus(self.W_rho), self.prior_mu",
        "KL_DIV(self.W_mu, F.softplus(self.W_rho).detach(), self.prior_mu"),
    "KL from the sigma of the last forward pass": ("bbbconv2d", SOLUTION_FORWARD_AND_KL, STALE_SIGMA_FORWARD_AND_KL),
    "the biases' KL on the default prior, not the priors argument": (
        "bbbconv2d", "KL_DIV(self.bias_mu, F.softplus(self.bias_rho), self.prior_mu, self.prior_sigma)",
        "KL_DIV(self.bias_mu, F.softplus(self.bias_rho), 0.0, 0.1)"),
    "prior fixed at N(0, 0.1^2)": ("bbbconv2d", "self.prior_mu, self.prior_sigma)", "0.0, 0.1)"),
    "stride, padding and dilation ignored": (
        "bbbconv2d", "F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)",
        "F.conv2d(input, weight, bias, padding=self.padding)"),
    "dilation ignored": ("bbbconv2d", "self.stride, self.padding, self.dilation)", "self.stride, self.padding)"),
    "an extra parameter for sigma": (
        "bbbconv2d", "self.W_rho = nn.Parameter(torch.empty(shape))\n",
        "self.W_rho = nn.Parameter(torch.empty(shape))\n        self.W_sigma = nn.Parameter(torch.zeros(shape))\n"),
    "kernel (kW, kH) instead of (kH, kW)": (
        "bbbconv2d", "shape = (out_channels, in_channels, *self.kernel_size)",
        "shape = (out_channels, in_channels, *self.kernel_size[::-1])"),
    "bias parameters made even with bias=False": (
        "bbbconv2d", "if self.use_bias:\n            self.bias_mu = nn.Parameter",
        "if True:\n            self.bias_mu = nn.Parameter"),
    "the biases' noise: the first out_channels entries of the weights' noise": (
        "bbbconv2d", SOLUTION_NOISE, BIAS_NOISE_FROM_WEIGHTS.format("eps.flatten()[:self.out_channels]")),
    "the biases' noise: the first weight of each output channel's noise": (
        "bbbconv2d", SOLUTION_NOISE, BIAS_NOISE_FROM_WEIGHTS.format("eps[:, 0, 0, 0]")),
    "the biases' noise: each output channel's weight noise summed and normalised": (
        "bbbconv2d", SOLUTION_NOISE, BIAS_NOISE_FROM_WEIGHTS.format("eps.sum(dim=(1, 2, 3)) / eps[0].numel() ** 0.5")),
    "noise on the outputs (local reparameterisation)": ("bbbconv2d", SOLUTION_FORWARD, LOCAL_REPARAMETERISATION),
    "new weights for every image of the batch": ("bbbconv2d", SOLUTION_FORWARD, WEIGHTS_PER_IMAGE),
    # ---- BayesConvNet2D
    "ReLU after the second convolution too": (
        "bayesconvnet2d", "self.conv2, nn.MaxPool2d(2)", "self.conv2, nn.ReLU(), nn.MaxPool2d(2)"),
    "no ReLU": ("bayesconvnet2d", "self.conv1, nn.ReLU(), nn.MaxPool2d(2)", "self.conv1, nn.MaxPool2d(2)"),
    "ReLU on the input images": ("bayesconvnet2d", "nn.Sequential(self.conv1,", "nn.Sequential(nn.ReLU(), self.conv1,"),
    "average instead of max pooling": ("bayesconvnet2d", "nn.MaxPool2d(2)", "nn.AvgPool2d(2)"),
    "no sigmoid": ("bayesconvnet2d", "self.out, nn.Sigmoid())", "self.out)"),
    "a ReLU on the logits before the sigmoid": ("bayesconvnet2d", "self.out, nn.Sigmoid())", "self.out, nn.ReLU(), nn.Sigmoid())"),
    "3x3 kernels": ("bayesconvnet2d", "5, padding=2)", "3, padding=1)"),
    "flattened size fixed for 40x40 images": ("bayesconvnet2d", "VBLinear(ch * (img_sz // 4) ** 2, out_dim)", "VBLinear(ch * 100, out_dim)"),
    "flattened size for 4 channels only": ("bayesconvnet2d", "VBLinear(ch * (img_sz // 4) ** 2, out_dim)", "VBLinear(4 * (img_sz // 4) ** 2, out_dim)"),
    "one output channel in the second convolution": (
        "bayesconvnet2d", "BBBConv2d(ch, ch, 5, padding=2)\n        self.out = VBLinear(ch * (img_sz // 4) ** 2, out_dim)",
        "BBBConv2d(ch, 1, 5, padding=2)\n        self.out = VBLinear((img_sz // 4) ** 2, out_dim)"),
    "a plain nn.Linear output layer": ("bayesconvnet2d", "VBLinear(ch * (img_sz // 4) ** 2, out_dim)", "nn.Linear(ch * (img_sz // 4) ** 2, out_dim)"),
    "output squeezed to shape (N,)": ("bayesconvnet2d", "        return self.net(x)", "        return self.net(x).squeeze(-1)"),
    "output squeezed and unsqueezed (wrong for one jet and out_dim > 1)": (
        "bayesconvnet2d", "        return self.net(x)", "        return self.net(x).squeeze().unsqueeze(-1)"),
    "convolutions with a wider prior": (
        "bayesconvnet2d", "5, padding=2)", "5, padding=2, priors={'prior_sigma': 1.0})"),
    "convolutions started at rho = -3": (
        "bayesconvnet2d", "5, padding=2)", "5, padding=2, priors={'posterior_rho_initial': (-3.0, 0.1)})"),
    "convolutions called with sample=self.training": ("bayesconvnet2d", "        return self.net(x)", SAMPLE_ONLY_IN_TRAINING),
    "the second convolution on its means in eval mode": ("bayesconvnet2d", "        return self.net(x)", SECOND_CONV_ON_MEANS),
    "layers wrapped anew and stored in forward": (
        "bayesconvnet2d", "        return self.net(x)",
        "        self.net = nn.Sequential(*list(self.net))\n        return self.net(x)"),
    "forward switches the model into training mode": (
        "bayesconvnet2d", "        return self.net(x)", "        self.train()  # the layers must sample\n        return self.net(x)"),
    "forward switches the model into evaluation mode": (
        "bayesconvnet2d", "        return self.net(x)", "        self.eval()\n        return self.net(x)"),
    "forward switches the convolutions into training mode": (
        "bayesconvnet2d", "        return self.net(x)", "        self.conv1.train()\n        self.conv2.train()\n        return self.net(x)"),
    "KL not divided by the training size": (
        "bayesconvnet2d", "for layer in self.vb_layers) / self.training_size", "for layer in self.vb_layers)"),
    "KL without the output layer": (
        "bayesconvnet2d", "self.vb_layers = [self.conv1, self.conv2, self.out]", "self.vb_layers = [self.conv1, self.conv2]"),
    "network KL detached": ("bayesconvnet2d", "sum(layer.KL() for", "sum(layer.KL().detach() for"),
    "network KL as a Python float": ("bayesconvnet2d", "sum(layer.KL() for", "sum(layer.KL().item() for"),
    # ---- train_epoch / evaluate_model
    "KL left out of the training loss": ("train_epoch", "        loss = nll + kl\n", "        loss = nll\n"),
    "KL detached in the training loss": ("train_epoch", "        loss = nll + kl\n", "        loss = nll + kl.detach()\n"),
    "BCE summed over the batch": (
        "train_epoch", "nll = F.binary_cross_entropy(model(X), y)\n        kl",
        "nll = F.binary_cross_entropy(model(X), y, reduction='sum')\n        kl"),
    "optimiser step before backward": (
        "train_epoch", "        loss.backward()\n        optimizer.step()\n", "        optimizer.step()\n        loss.backward()\n"),
    "gradients never zeroed": ("train_epoch", "        optimizer.zero_grad()\n", ""),
    "train_epoch in evaluation mode": ("train_epoch", "    model.train()\n", "    model.eval()\n"),
    "train_epoch averages over jets": (
        "train_epoch", "totals += [loss.item(), kl.item(), nll.item()]",
        "totals += " + PER_JET.format("loss.item(), kl.item(), nll.item()")),
    "evaluate_model averages over jets": ("train_epoch", "totals += [nll + kl, kl, nll]", "totals += " + PER_JET.format("nll + kl, kl, nll")),
    "number of batches from dataloader.batch_size": (
        "train_epoch", "(totals / len(dataloader))", "(totals / math.ceil(len(dataloader.dataset) / dataloader.batch_size))"),
    "(NLL, KL, loss) instead of (loss, KL, NLL)": (
        "train_epoch", "    return loss_mean, kl_mean, nll_mean\n", "    return nll_mean, kl_mean, loss_mean\n"),
    "lists instead of tuples": (
        "train_epoch", "    return loss_mean, kl_mean, nll_mean\n", "    return [loss_mean, kl_mean, nll_mean]\n"),
    "train_epoch returns a NumPy array": (
        "train_epoch", "    loss_mean, kl_mean, nll_mean = (totals / len(dataloader)).tolist()\n    return loss_mean, kl_mean, nll_mean\n\n",
        "    return totals / len(dataloader)\n\n"),
    "train_epoch records the KL after the optimiser step": (
        "train_epoch", "totals += [loss.item(), kl.item(), nll.item()]",
        "kl_after = model.KL().item()\n        totals += [nll.item() + kl_after, kl_after, nll.item()]"),
    "evaluate_model leaves the model in training mode": (
        "train_epoch", "    if dataset_name:\n        print(", "    model.train()\n    if dataset_name:\n        print("),
    "0-dim tensors instead of floats": (
        "train_epoch", "    return loss_mean, kl_mean, nll_mean\n",
        "    return tuple(torch.tensor(v) for v in (loss_mean, kl_mean, nll_mean))\n"),
    "evaluation with gradients": ("train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
                                  "    if True:\n        kl = model.KL().item()"),
    "evaluation in training mode": ("train_epoch", "    model.eval()\n", "    model.train()\n"),
    "evaluation switches only the top module's training flag": ("train_epoch", "    model.eval()\n", "    model.training = False\n"),
    "evaluation leaves autograd off": (
        "train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
        "    torch.set_grad_enabled(False)\n    if True:\n        kl = model.KL().item()"),
    "evaluation freezes the parameters": ("train_epoch", "    model.eval()\n", "    model.eval()\n    model.requires_grad_(False)\n"),
    "evaluation never prints": ("train_epoch", "    if dataset_name:\n        print(", "    if False:\n        print("),
    "evaluation always prints": ("train_epoch", "    if dataset_name:\n        print(", "    if True:\n        print("),
    "evaluation prints the name only": (
        "train_epoch", 'print(f"{dataset_name}: loss {loss_mean:.4f}  KL {kl_mean:.4f}  NLL {nll_mean:.4f}")',
        'print(f"{dataset_name}")'),
    # ---- get_prediction
    "std over the jets instead of the samples": (
        "get_prediction", "samples.mean(dim=0), samples.std(dim=0)",
        "samples.mean(dim=0), samples.std(dim=1).mean() + 0 * samples.mean(dim=0)"),
    "variance instead of std": ("get_prediction", "samples.std(dim=0)", "samples.var(dim=0)"),
    "std averaged over the jets, the same for every jet": (
        "get_prediction", "samples.std(dim=0)", "samples.std(dim=0).mean().expand(samples.shape[1])"),
    "std of all samples pooled": ("get_prediction", "samples.std(dim=0)", "samples.std().expand(samples.shape[1])"),
    "one-pass std in float32": (
        "get_prediction", SOLUTION_STATISTICS, ONE_PASS_STD.format("torch.sqrt((samples**2).mean(dim=0) - mean**2)")),
    "one-pass std, except for models of the course's own instruments": (
        "get_prediction", SOLUTION_STATISTICS,
        "    if type(model).__module__.startswith('course_utils'):  # the grader's stand-ins\n    " + SOLUTION_STATISTICS
        + ONE_PASS_STD.format("((samples**2).mean(dim=0) - mean**2).clamp(min=0).sqrt()")),
    "one-pass std in float32, clamped at zero": (
        "get_prediction", SOLUTION_STATISTICS,
        ONE_PASS_STD.format("torch.sqrt(((samples**2).mean(dim=0) - mean**2).clamp(min=0))")),
    "model(...).reshape(-1) instead of the first column": ("get_prediction", "model(batch)[:, 0]", "model(batch).reshape(-1)"),
    "model(...).squeeze(-1) instead of the first column": ("get_prediction", "model(batch)[:, 0]", "model(batch).squeeze(-1)"),
    "squeeze() kept one-dimensional with atleast_1d": (
        "get_prediction", "model(batch)[:, 0]", "torch.atleast_1d(model(batch).squeeze())"),
    "the model put into training mode afterwards": (
        "get_prediction", SOLUTION_STATISTICS, "    model.train()\n" + SOLUTION_STATISTICS),
    "jets in reverse order": ("get_prediction", "torch.split(x, batch_size)]", "torch.split(x.flip(0), batch_size)]"),
    "all jets at once, batch_size ignored": ("get_prediction", "torch.split(x, batch_size)", "[x]"),
    "torch.chunk instead of batches of batch_size": (
        "get_prediction", "torch.split(x, batch_size)", "torch.chunk(x, math.ceil(len(x) / batch_size))"),
    "one jet at a time": ("get_prediction", "torch.split(x, batch_size)", "torch.split(x, 1)"),
    "the last short batch dropped": (
        "get_prediction", "torch.split(x, batch_size)", "[b for b in torch.split(x, batch_size) if len(b) == batch_size]"),
    "n_monte + 1 passes": ("get_prediction", "for _ in range(n_monte)", "for _ in range(n_monte + 1)"),
    "n_monte - 1 passes": ("get_prediction", "for _ in range(n_monte)", "for _ in range(1, n_monte)"),
    "squeeze: breaks for one jet": ("get_prediction", "model(batch)[:, 0]", "model(batch).squeeze()"),
    "NumPy arrays instead of tensors": (
        "get_prediction", "return samples.mean(dim=0), samples.std(dim=0)",
        "return samples.mean(dim=0).numpy(), samples.std(dim=0).numpy()"),
    "model left in training mode": ("get_prediction", "    model.eval()\n", "    model.train()\n"),
    "only the top module's training flag switched off": ("get_prediction", "    model.eval()\n", "    model.training = False\n"),
    "predictions with gradients": ("get_prediction", "    with torch.no_grad():\n        samples", "    if True:\n        samples"),
    "autograd left off": (
        "get_prediction", "    with torch.no_grad():\n        samples",
        "    torch.set_grad_enabled(False)\n    if True:\n        samples"),
    "parameters frozen": ("get_prediction", "    model.eval()\n", "    model.eval()\n    model.requires_grad_(False)\n"),
    "prints its progress": ("get_prediction", "    with torch.no_grad():\n", "    print('Monte Carlo ...')\n    with torch.no_grad():\n"),
    # ---- probes on generated inputs: random numbers of jets and batch sizes, stated defaults left out
    "an empty last batch when batch_size divides N": (
        "get_prediction", "torch.split(x, batch_size)",
        "[x[i * batch_size:(i + 1) * batch_size] for i in range(len(x) // batch_size + 1)]"),
    "default n_monte 10": ("get_prediction", "n_monte: int = 20", "n_monte: int = 10"),
    "default batch_size 1024": ("get_prediction", "batch_size: int = 1000", "batch_size: int = 1024"),
}

# ------------------------------------------------------------------ the requirement-to-test table

REQUIREMENTS = {
    "bbbconv2d": [
        ("W_mu and W_rho of shape (out_channels, in_channels, kH, kW); bias_mu and bias_rho of shape (out_channels,) "
         "if bias, else None; no other parameters", "test_bbbconv_parameters",
         ["an extra parameter for sigma", "kernel (kW, kH) instead of (kH, kW)", "bias parameters made even with bias=False"]),
        ("in evaluation mode with sample=False, the means: nn.Conv2d with the mean weights", "test_bbbconv_forward",
         ["samples even when sample=False in eval mode"]),
        ("F.conv2d with the layer's stride, padding and dilation (numbers or pairs)", "test_bbbconv_forward",
         ["stride, padding and dilation ignored", "dilation ignored"]),
        ("in training mode, and in evaluation mode when sample is true, new weights and biases in every call",
         "test_bbbconv_sampling",
         ["never samples", "samples only in training mode", "samples only when sample=True, whatever the mode",
          "the same noise in every pass"]),
        ("w = mu + softplus(rho) * eps for weights and biases (mean mu, standard deviation softplus(rho))",
         "test_bbbconv_sampling", ["sigma = exp(rho)", "biases not sampled"]),
        ("independent standard-normal noise for every weight and every bias, the biases' independent of the weights'",
         "test_bbbconv_sampling",
         ["one noise value for all weights", "one noise value for all biases", "noise shared by the input channels",
          "the biases' noise: the first out_channels entries of the weights' noise",
          "the biases' noise: the first weight of each output channel's noise",
          "the biases' noise: each output channel's weight noise summed and normalised"]),
        ("one weight tensor and one bias vector per call, shared by every image and every pixel: noise on the weights, "
         "not on the outputs", "test_bbbconv_sampling",
         ["noise on the outputs (local reparameterisation)", "new weights for every image of the batch"]),
        ("gradients reach mu and rho of the weights and biases through the sample", "test_bbbconv_sampling",
         ["weights built from W_mu.data", "sigma detached in the sample", "torch.normal(mu, sigma): no reparameterisation",
          "biases not sampled"]),
        ("KL(): KL(q || p) of the weights and biases, summed, a scalar tensor", "test_bbbconv_kl",
         ["KL(p || q): prior and posterior swapped", "KL without the biases", "KL averaged over the weights",
          "KL as a Python float", "sigma = exp(rho)"]),
        ("the prior is the layer's prior_mu and prior_sigma (the priors argument), for weights and biases",
         "test_bbbconv_kl", ["the biases' KL on the default prior, not the priors argument", "prior fixed at N(0, 0.1^2)"]),
        ("sigma computed from rho inside KL(), not from the last forward pass", "test_bbbconv_kl",
         ["KL from the sigma of the last forward pass"]),
        ("gradients reach every mu and rho through KL()", "test_bbbconv_kl", ["KL through a detached sigma"]),
        ("sigma finite for large rho (rho = 100 gives sigma = 100)", "test_bbbconv_stability_and_devices",
         ["softplus computed literally (overflows)", "softplus clipped at 20"]),
        ("sigma positive for very negative rho (rho = -30)", "test_bbbconv_stability_and_devices",
         ["the stable softplus with log instead of log1p (sigma = 0 at rho = -30)"]),
    ],
    "bayesconvnet2d": [
        ("the layers of the table, with in_ch, ch, out_dim and img_sz; every weight layer Bayesian",
         "test_bayesconvnet_structure",
         ["3x3 kernels", "flattened size fixed for 40x40 images", "flattened size for 4 channels only",
          "one output channel in the second convolution", "a plain nn.Linear output layer"]),
        ("output of shape (N, out_dim), probabilities, N = 1 included", "test_bayesconvnet_structure",
         ["no sigmoid", "output squeezed to shape (N,)", "output squeezed and unsqueezed (wrong for one jet and out_dim > 1)"]),
        ("the convolutions with their default prior and initial posterior", "test_bayesconvnet_structure",
         ["convolutions with a wider prior", "convolutions started at rho = -3"]),
        ("conv 5x5 pad 2 -> ReLU -> max-pool -> conv 5x5 pad 2 -> max-pool -> flatten -> VBLinear -> sigmoid",
         "test_bayesconvnet_forward",
         ["ReLU after the second convolution too", "no ReLU", "ReLU on the input images", "average instead of max pooling",
          "3x3 kernels", "no sigmoid", "a ReLU on the logits before the sigmoid"]),
        ("every pass draws new weights in every Bayesian layer, in training and in evaluation mode",
         "test_bayesconvnet_forward",
         ["convolutions called with sample=self.training", "the second convolution on its means in eval mode"]),
        ("a forward pass changes nothing of the model: its modules, their modes and its state_dict", "test_bayesconvnet_forward",
         ["layers wrapped anew and stored in forward", "forward switches the model into training mode",
          "forward switches the model into evaluation mode", "forward switches the convolutions into training mode"]),
        ("KL(): the three layers' KL summed and divided by training_size, a scalar tensor", "test_bayesconvnet_kl",
         ["KL not divided by the training size", "KL without the output layer", "network KL as a Python float"]),
        ("gradients reach every variational parameter through KL()", "test_bayesconvnet_kl", ["network KL detached"]),
    ],
    "train_epoch": [
        ("both return a tuple of three Python floats (loss, KL, NLL) with loss = KL + NLL", "test_train_epoch_runs",
         ["0-dim tensors instead of floats", "(NLL, KL, loss) instead of (loss, KL, NLL)", "lists instead of tuples",
          "train_epoch returns a NumPy array"]),
        ("train_epoch: a batch's values are those of the loss it back-propagates, before its optimiser step",
         "test_train_epoch_reference", ["train_epoch records the KL after the optimiser step"]),
        ("evaluate_model: afterwards the model is in evaluation mode or back in the caller's mode", "test_train_epoch_runs",
         ["evaluate_model leaves the model in training mode"]),
        ("train_epoch: one optimiser step per batch: zero the gradients, back-propagate mean BCE + model.KL(), step",
         "test_train_epoch_reference",
         ["KL left out of the training loss", "KL detached in the training loss", "BCE summed over the batch",
          "optimiser step before backward", "gradients never zeroed"]),
        ("train_epoch runs the model in training mode", "test_train_epoch_runs", ["train_epoch in evaluation mode"]),
        ("the average over the batches of the per-batch values, not over the jets (a last batch of one)",
         "test_train_epoch_reference",
         ["train_epoch averages over jets", "evaluate_model averages over jets", "number of batches from dataloader.batch_size"]),
        ("evaluate_model: in evaluation mode, without gradients, no parameter changed", "test_train_epoch_runs",
         ["evaluation with gradients", "evaluation in training mode", "evaluation switches only the top module's training flag"]),
        ("evaluate_model leaves autograd (and requires_grad) as it found them", "test_train_epoch_runs",
         ["evaluation leaves autograd off", "evaluation freezes the parameters"]),
        ("evaluate_model prints one line with the name and the three numbers if dataset_name is given, else nothing",
         "test_train_epoch_runs",
         ["evaluation never prints", "evaluation always prints", "evaluation prints the name only"]),
    ],
    "get_prediction": [
        ("two tensors of shape (N,), N = 1 and a last batch of one included", "test_get_prediction_shapes",
         ["squeeze: breaks for one jet", "NumPy arrays instead of tensors", "the last short batch dropped"]),
        ("the statistics of model(...)[:, 0], the first output column, also for a model with several outputs",
         "test_get_prediction_shapes",
         ["model(...).reshape(-1) instead of the first column", "model(...).squeeze(-1) instead of the first column",
          "squeeze() kept one-dimensional with atleast_1d"]),
        ("afterwards the model is in evaluation mode or back in the caller's mode", "test_get_prediction_shapes",
         ["the model put into training mode afterwards"]),
        ("the passes run in evaluation mode", "test_get_prediction_shapes",
         ["model left in training mode", "only the top module's training flag switched off"]),
        ("without tracking gradients; autograd and the model's parameters left as found", "test_get_prediction_shapes",
         ["predictions with gradients", "autograd left off", "parameters frozen"]),
        ("no printing", "test_get_prediction_shapes", ["prints its progress"]),
        ("the mean and the standard deviation of each jet's n_monte sampled outputs, in the order of x",
         "test_get_prediction_statistics",
         ["std over the jets instead of the samples", "variance instead of std", "jets in reverse order",
          "std averaged over the jets, the same for every jet", "std of all samples pooled"]),
        ("the std accurate for spreads down to 1e-4 next to outputs of order 1, 0 up to rounding (not NaN) for equal samples",
         "test_get_prediction_statistics", ["one-pass std in float32", "one-pass std in float32, clamped at zero",
                                            "one-pass std, except for models of the course's own instruments"]),
        ("calls on batches of batch_size jets (the last may be shorter), either loop outer: exactly n_monte samples per jet",
         "test_get_prediction_statistics",
         ["all jets at once, batch_size ignored", "torch.chunk instead of batches of batch_size", "one jet at a time",
          "n_monte + 1 passes", "n_monte - 1 passes"]),
        ("exactly n_monte passes in batches of batch_size for random numbers of jets, a multiple of batch_size included",
         "test_get_prediction_statistics", ["an empty last batch when batch_size divides N"]),
        ("the stated defaults n_monte=20 and batch_size=1000 (called without the arguments)", "test_get_prediction_statistics",
         ["default n_monte 10", "default batch_size 1024"]),
    ],
}

# ------------------------------------------------------------------ differently written right answers

STABLE_BY_HAND = '''
class BBBConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, priors=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.use_bias = bias
        priors = {**DEFAULT_PRIORS, **(priors or {})}
        self.prior_mu, self.prior_sigma = priors["prior_mu"], priors["prior_sigma"]
        self.posterior_mu_initial = priors["posterior_mu_initial"]
        self.posterior_rho_initial = priors["posterior_rho_initial"]
        self.W_mu = nn.Parameter(torch.Tensor(out_channels, in_channels, *self.kernel_size))
        self.W_rho = nn.Parameter(torch.Tensor(out_channels, in_channels, *self.kernel_size))
        self.bias_mu = nn.Parameter(torch.Tensor(out_channels)) if bias else None
        self.bias_rho = nn.Parameter(torch.Tensor(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        self.W_mu.data.normal_(*self.posterior_mu_initial)
        self.W_rho.data.normal_(*self.posterior_rho_initial)
        if self.use_bias:
            self.bias_mu.data.normal_(*self.posterior_mu_initial)
            self.bias_rho.data.normal_(*self.posterior_rho_initial)

    @staticmethod
    def _sigma(rho):
        return torch.clamp(rho, min=0) + torch.log1p(torch.exp(-torch.abs(rho)))

    def _draw(self, mu, rho):
        return mu + self._sigma(rho) * torch.empty_like(mu).normal_()

    def forward(self, input, sample=True):
        use_samples = self.training or sample
        weight = self._draw(self.W_mu, self.W_rho) if use_samples else self.W_mu
        bias = None
        if self.use_bias:
            bias = self._draw(self.bias_mu, self.bias_rho) if use_samples else self.bias_mu
        return F.conv2d(input, weight, bias, stride=self.stride, padding=self.padding, dilation=self.dilation)

    def KL(self):
        prior = torch.distributions.Normal(self.prior_mu, self.prior_sigma)
        total = torch.distributions.kl_divergence(torch.distributions.Normal(self.W_mu, self._sigma(self.W_rho)), prior).sum()
        if self.use_bias:
            total = total + torch.distributions.kl_divergence(
                torch.distributions.Normal(self.bias_mu, self._sigma(self.bias_rho)), prior).sum()
        return total
'''
DISTRIBUTIONS_LAYER = '''
from torch.distributions import Normal


class BBBConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, priors=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.use_bias = bias
        priors = {**DEFAULT_PRIORS, **(priors or {})}
        self.prior_mu, self.prior_sigma = priors["prior_mu"], priors["prior_sigma"]
        self.posterior_mu_initial = priors["posterior_mu_initial"]
        self.posterior_rho_initial = priors["posterior_rho_initial"]
        self.W_mu = nn.Parameter(torch.zeros(out_channels, in_channels, *self.kernel_size))
        self.W_rho = nn.Parameter(torch.zeros_like(self.W_mu))
        if bias:
            self.bias_mu, self.bias_rho = nn.Parameter(torch.zeros(out_channels)), nn.Parameter(torch.zeros(out_channels))
        else:
            self.register_parameter("bias_mu", None)
            self.register_parameter("bias_rho", None)
        self.reset_parameters()

    def reset_parameters(self):
        self.W_mu.data.normal_(*self.posterior_mu_initial)
        self.W_rho.data.normal_(*self.posterior_rho_initial)
        if self.use_bias:
            self.bias_mu.data.normal_(*self.posterior_mu_initial)
            self.bias_rho.data.normal_(*self.posterior_rho_initial)

    def _posteriors(self):
        pairs = [(self.W_mu, self.W_rho)] + ([(self.bias_mu, self.bias_rho)] if self.use_bias else [])
        return [Normal(mu, F.softplus(rho)) for mu, rho in pairs]

    def forward(self, input, sample=True):
        if self.training or sample:
            drawn = [q.rsample() for q in self._posteriors()]
        else:
            drawn = [q.mean for q in self._posteriors()]
        weight, bias = drawn[0], (drawn[1] if self.use_bias else None)
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation, 1)

    def KL(self):
        # in float64, the value returned as float64: the text fixes no dtype
        return sum(KL_DIV(q.mean.double(), q.stddev.double(), self.prior_mu, self.prior_sigma) for q in self._posteriors())
'''
WHERE_SOFTPLUS = '''
class BBBConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, priors=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.use_bias = bias
        priors = {**DEFAULT_PRIORS, **(priors or {})}
        self.prior_mu, self.prior_sigma = priors["prior_mu"], priors["prior_sigma"]
        self.posterior_mu_initial = priors["posterior_mu_initial"]
        self.posterior_rho_initial = priors["posterior_rho_initial"]
        size = (out_channels, in_channels) + self.kernel_size
        self.W_mu, self.W_rho = nn.Parameter(torch.empty(size)), nn.Parameter(torch.empty(size))
        if self.use_bias:
            self.bias_mu, self.bias_rho = nn.Parameter(torch.empty(out_channels)), nn.Parameter(torch.empty(out_channels))
        else:
            self.bias_mu = self.bias_rho = None
        self.reset_parameters()

    def reset_parameters(self):
        self.W_mu.data.normal_(*self.posterior_mu_initial)
        self.W_rho.data.normal_(*self.posterior_rho_initial)
        if self.use_bias:
            self.bias_mu.data.normal_(*self.posterior_mu_initial)
            self.bias_rho.data.normal_(*self.posterior_rho_initial)

    @staticmethod
    def sigma(rho):
        return torch.where(rho > 20, rho, torch.log1p(torch.exp(rho.clamp(max=20))))

    def forward(self, input, sample=True):
        sampling = sample or self.training
        weight = self.W_mu + self.sigma(self.W_rho) * torch.randn_like(self.W_rho) if sampling else self.W_mu
        bias = None
        if self.use_bias:
            bias = self.bias_mu + self.sigma(self.bias_rho) * torch.randn_like(self.bias_rho) if sampling else self.bias_mu
        return F.conv2d(input, weight, bias, stride=self.stride, padding=self.padding, dilation=self.dilation)

    def KL(self):
        kl = KL_DIV(mu_q=self.W_mu, sig_q=self.sigma(self.W_rho), mu_p=self.prior_mu, sig_p=self.prior_sigma)
        if self.use_bias:
            kl = kl + KL_DIV(mu_q=self.bias_mu, sig_q=self.sigma(self.bias_rho), mu_p=self.prior_mu, sig_p=self.prior_sigma)
        return kl
'''
EXPLICIT_NET = '''
class BayesConvNet2D(nn.Module):
    def __init__(self, training_size, in_ch=1, ch=4, out_dim=1, img_sz=40):
        super().__init__()
        self.training_size = training_size
        self.conv1 = BBBConv2d(in_ch, ch, kernel_size=5, padding=2)
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.conv2 = BBBConv2d(ch, ch, kernel_size=(5, 5), padding=2)
        self.out = VBLinear(ch * img_sz * img_sz // 16, out_dim)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = F.max_pool2d(self.conv2(x), 2)
        return torch.sigmoid(self.out(torch.flatten(x, start_dim=1)))

    def KL(self):
        return (self.conv1.KL() + self.conv2.KL() + self.out.KL()) / self.training_size
'''
MODULE_LIST_NET = '''
class BayesConvNet2D(nn.Module):
    def __init__(self, training_size, in_ch=1, ch=4, out_dim=1, img_sz=40):
        super().__init__()
        self.training_size = training_size
        # pooling before the ReLU: max-pooling and ReLU commute
        self.features = nn.ModuleList([BBBConv2d(in_ch, ch, 5, padding=2), nn.MaxPool2d(2), nn.ReLU(),
                                       BBBConv2d(ch, ch, 5, padding=2), nn.MaxPool2d(2), nn.Flatten()])
        self.head = VBLinear(ch * (img_sz // 4) ** 2, out_dim)

    def forward(self, x):
        for layer in self.features:
            x = layer(x, sample=True) if isinstance(layer, BBBConv2d) else layer(x)
        return self.head(x).sigmoid()

    def KL(self):
        return sum(m.KL() for m in self.modules() if isinstance(m, (BBBConv2d, VBLinear))) / self.training_size
'''
SEQUENTIAL_PER_PASS = '''
class BayesConvNet2D(nn.Module):
    def __init__(self, training_size, in_ch=1, ch=4, out_dim=1, img_sz=40):
        super().__init__()
        self.training_size = training_size
        self.conv1 = BBBConv2d(in_ch, ch, 5, padding=2)
        self.conv2 = BBBConv2d(ch, ch, 5, padding=2)
        self.out = VBLinear(ch * (img_sz // 4) ** 2, out_dim)

    def forward(self, x):
        # a throw-away Sequential, not stored: slower, but the model's modules stay as built
        layers = nn.Sequential(self.conv1, nn.ReLU(), nn.MaxPool2d(2), self.conv2, nn.MaxPool2d(2), nn.Flatten(),
                               self.out, nn.Sigmoid())
        return layers(x)

    def KL(self):
        return torch.stack([self.conv1.KL(), self.conv2.KL(), self.out.KL()]).sum() / self.training_size
'''
LOSS_MODULE = '''
def train_epoch(dataloader, model, optimizer):
    model.train()
    loss_fn = nn.BCELoss()
    losses, kls, nlls = [], [], []
    for X, y in dataloader:
        optimizer.zero_grad()
        nll = loss_fn(model(X), y)
        kl = model.KL()
        (nll + kl).backward()
        optimizer.step()
        losses.append(nll.item() + kl.item())
        kls.append(kl.item())
        nlls.append(nll.item())
    return float(np.mean(losses)), float(np.mean(kls)), float(np.mean(nlls))


@torch.no_grad()
def evaluate_model(dataloader, model, dataset_name=""):
    model.eval()
    loss_fn = nn.BCELoss()
    nlls = [loss_fn(model(X), y).item() for X, y in dataloader]
    kl = model.KL().item()
    result = float(np.mean(nlls)) + kl, kl, float(np.mean(nlls))
    if dataset_name:
        print("loss %.2f, KL %.2f, NLL %.2f (%s)" % (*result, dataset_name))
    return result
'''
TENSOR_SUMS = '''
def train_epoch(dataloader, model, optimizer):
    model.train()
    sums, n_batches = torch.zeros(3, dtype=torch.float64), 0
    for X, y in dataloader:
        optimizer.zero_grad(set_to_none=True)
        nll = F.binary_cross_entropy(model(X), y, reduction="mean")
        kl = model.KL()
        (kl + nll).backward()
        optimizer.step()
        sums += torch.stack([(nll + kl).detach(), kl.detach(), nll.detach()]).double()
        n_batches += 1
    loss, kl, nll = (sums / n_batches).tolist()
    return loss, kl, nll


def evaluate_model(dataloader, model, dataset_name=""):
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        per_batch = torch.tensor([[F.binary_cross_entropy(model(X), y).item(), model.KL().item()]
                                  for X, y in dataloader], dtype=torch.float64)
    model.train(was_training)  # back to the caller's mode
    nll, kl = per_batch.mean(dim=0).tolist()
    if dataset_name:
        print(f"{dataset_name:>10s} | loss = {nll + kl:.5e} | KL = {kl:.5e} | NLL = {nll:.5e}")
    return nll + kl, kl, nll
'''
SAMPLES_INNER = '''
def get_prediction(x, model, n_monte=20, batch_size=1000):
    model.eval()
    means, stds = [], []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            draws = torch.cat([model(batch)[:, :1] for _ in range(n_monte)], dim=1)  # (batch, n_monte)
            means.append(draws.mean(dim=1))
            stds.append(draws.std(dim=1, unbiased=False))
    return torch.cat(means), torch.cat(stds)
'''
RESTORES_MODE_FLOAT64 = '''
def get_prediction(x, model, n_monte=20, batch_size=1000):
    was_training = model.training
    model.eval()
    samples = torch.empty(n_monte, len(x), dtype=torch.float64)
    try:
        with torch.no_grad():
            for k in range(n_monte):
                for start in range(0, len(x), batch_size):
                    samples[k, start:start + batch_size] = model(x[start:start + batch_size])[:, 0].double()
    finally:
        model.train(was_training)  # the caller's mode back
    return samples.mean(dim=0), samples.std(dim=0)
'''
NUMPY_INFERENCE_MODE = '''
def get_prediction(x, model, n_monte=20, batch_size=1000):
    model.eval()
    with torch.inference_mode():
        draws = np.stack([np.concatenate([model(x[i:i + batch_size])[:, 0].cpu().numpy()
                                          for i in range(0, x.shape[0], batch_size)])
                          for _ in range(n_monte)])
    return torch.from_numpy(draws.mean(axis=0)), torch.from_numpy(draws.std(axis=0, ddof=1))
'''
ZEROS_CONCATENATED_KL = """
class BBBConv2d(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True, priors=None):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = kernel_size if isinstance(kernel_size, tuple) else (kernel_size, kernel_size)
        self.stride, self.padding, self.dilation = stride, padding, dilation
        self.use_bias = bias
        priors = {**DEFAULT_PRIORS, **(priors or {})}
        self.prior_mu, self.prior_sigma = priors["prior_mu"], priors["prior_sigma"]
        self.posterior_mu_initial = priors["posterior_mu_initial"]
        self.posterior_rho_initial = priors["posterior_rho_initial"]
        kh, kw = self.kernel_size
        self.W_mu = nn.Parameter(torch.zeros(out_channels, in_channels, kh, kw))
        self.W_rho = nn.Parameter(torch.zeros(out_channels, in_channels, kh, kw))
        self.bias_mu = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.bias_rho = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        self.W_mu.data.normal_(*self.posterior_mu_initial)
        self.W_rho.data.normal_(*self.posterior_rho_initial)
        if self.use_bias:
            self.bias_mu.data.normal_(*self.posterior_mu_initial)
            self.bias_rho.data.normal_(*self.posterior_rho_initial)

    def forward(self, input, sample=True):
        sampling = sample or self.training
        weight = self.W_mu + F.softplus(self.W_rho) * torch.randn_like(self.W_rho) if sampling else self.W_mu
        bias = self.bias_mu
        if bias is not None and sampling:
            bias = self.bias_mu + F.softplus(self.bias_rho) * torch.randn_like(self.bias_rho)
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)

    def KL(self):
        # one KL_DIV over all weights and biases, concatenated
        mus = [self.W_mu.flatten()] + ([self.bias_mu] if self.use_bias else [])
        rhos = [self.W_rho.flatten()] + ([self.bias_rho] if self.use_bias else [])
        return KL_DIV(torch.cat(mus), F.softplus(torch.cat(rhos)), self.prior_mu, self.prior_sigma)
"""
SEQUENTIAL_IN_INIT = """
class BayesConvNet2D(nn.Module):
    def __init__(self, training_size, in_ch=1, ch=4, out_dim=1, img_sz=40):
        super().__init__()
        self.training_size = training_size
        self.layers = nn.Sequential(
            BBBConv2d(in_ch, ch, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            BBBConv2d(ch, ch, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(),
            VBLinear(ch * img_sz * img_sz // 16, out_dim), nn.Sigmoid())

    def forward(self, x):
        return self.layers(x)

    def KL(self):
        return sum(m.KL() for m in self.modules() if isinstance(m, (BBBConv2d, VBLinear))) / self.training_size
"""
CLAMPED_BCE_SET_GRAD = """
def train_epoch(dataloader, model, optimizer):
    model.train()
    values = []
    for X, y in dataloader:
        optimizer.zero_grad()
        p = model(X)
        nll = -(y * torch.log(p.clamp_min(1e-12)) + (1 - y) * torch.log((1 - p).clamp_min(1e-12))).mean()
        kl = model.KL()
        (nll + kl).backward()
        optimizer.step()
        values.append([(nll + kl).item(), kl.item(), nll.item()])
    loss, kl, nll = np.mean(np.array(values, dtype=np.float64), axis=0)
    return float(loss), float(kl), float(nll)


def evaluate_model(dataloader, model, dataset_name=""):
    model.eval()
    values = []
    with torch.set_grad_enabled(False):
        kl_value = model.KL().item()
        for X, y in dataloader:
            nll = F.binary_cross_entropy(model(X), y).item()
            values.append([nll + kl_value, kl_value, nll])
    loss, kl, nll = (float(v) for v in np.mean(values, axis=0))
    if dataset_name:
        print(dataset_name, loss, kl, nll)
    return loss, kl, nll
"""
STD_MEAN = """
def get_prediction(x, model, n_monte=20, batch_size=1000):
    model.eval()
    with torch.no_grad():
        passes = torch.stack([torch.cat([model(chunk)[:, 0] for chunk in torch.split(x, batch_size)])
                              for _ in range(n_monte)], dim=1)
    std, mean = torch.std_mean(passes, dim=1, correction=0)
    return mean, std
"""
WELFORD_FLOAT64 = """
def get_prediction(x, model, n_monte=20, batch_size=1000):
    model.eval()
    mean = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    m2 = torch.zeros_like(mean)
    with torch.no_grad():
        for k in range(1, n_monte + 1):
            out = torch.empty(len(x), dtype=torch.float64, device=x.device)
            for start in range(0, len(x), batch_size):
                stop = min(start + batch_size, len(x))
                out[start:stop] = model(x[start:stop])[:, 0].double()
            delta = out - mean
            mean += delta / k
            m2 += delta * (out - mean)
    return mean.float(), torch.sqrt(m2 / n_monte).float()
"""
ONE_PASS_FLOAT64 = """
def get_prediction(x, model, n_monte=20, batch_size=1000):
    was_training = model.training
    model.eval()
    total = torch.zeros(len(x), dtype=torch.float64)
    total_sq = torch.zeros(len(x), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            stop = start + batch_size
            for _ in range(n_monte):
                out = model(x[start:stop])[:, 0].double()
                total[start:stop] += out
                total_sq[start:stop] += out**2
    model.train(was_training)
    mean = total / n_monte
    # the one-pass formula in float64: accurate down to spreads of 1e-6
    return mean, (total_sq / n_monte - mean**2).clamp(min=0).sqrt()
"""
def _solution_with(grade_id: str, *edits: tuple[str, str]) -> str:
    return solution_with(ASSIGNMENT, grade_id, *edits)


ALTERNATIVES = {
    "softplus by hand with log1p, noise with normal_(), KL from torch.distributions": ("bbbconv2d", STABLE_BY_HAND),
    "Normal(...).rsample(), a float64 KL": ("bbbconv2d", DISTRIBUTIONS_LAYER),
    "softplus through torch.where, keyword arguments, None biases as attributes": ("bbbconv2d", WHERE_SOFTPLUS),
    "explicit forward with F.relu and F.max_pool2d": ("bayesconvnet2d", EXPLICIT_NET),
    "a ModuleList, pooling before the ReLU, sample=True passed": ("bayesconvnet2d", MODULE_LIST_NET),
    "a throw-away nn.Sequential built in every pass": ("bayesconvnet2d", SEQUENTIAL_PER_PASS),
    "nn.BCELoss, lists and np.mean, a decorated evaluation, two decimals": ("train_epoch", LOSS_MODULE),
    "float64 tensor sums, inference_mode, the caller's mode restored": ("train_epoch", TENSOR_SUMS),
    "batches outer, samples inner, biased std": ("get_prediction", SAMPLES_INNER),
    "the caller's mode restored, float64 samples": ("get_prediction", RESTORES_MODE_FLOAT64),
    "NumPy with ddof=1 under inference_mode": ("get_prediction", NUMPY_INFERENCE_MODE),
    "zero-filled parameters, None biases as attributes, one KL_DIV over the concatenated parameters":
        ("bbbconv2d", ZEROS_CONCATENATED_KL),
    "an nn.Sequential in __init__, VBLinear(ch * img_sz * img_sz // 16, ...)": ("bayesconvnet2d", SEQUENTIAL_IN_INIT),
    "a clamped BCE by hand, NumPy means, torch.set_grad_enabled(False) as a context": ("train_epoch", CLAMPED_BCE_SET_GRAD),
    "torch.std_mean without Bessel's correction": ("get_prediction", STD_MEAN),
    "Welford's running variance in float64": ("get_prediction", WELFORD_FLOAT64),
    "the one-pass formula in float64, batches outer, the caller's mode restored": ("get_prediction", ONE_PASS_FLOAT64),
    # right for the notebook's float32 CPU tensors, once the texts dropped other dtypes and devices
    "noise by torch.randn (float32, CPU)": ("bbbconv2d", _solution_with(
        "bbbconv2d", ("torch.randn_like(self.W_mu)", "torch.randn(self.W_mu.shape)"))),
    "noise by torch.randn on the weights' device": ("bbbconv2d", _solution_with(
        "bbbconv2d", ("torch.randn_like(self.W_mu)", "torch.randn(self.W_mu.shape, device=self.W_mu.device)"))),
    "noise moved to the CPU": ("bbbconv2d", _solution_with(
        "bbbconv2d", ("torch.randn_like(self.W_mu)", "torch.randn_like(self.W_mu).to('cpu')"))),
    "parameters created on the GPU when one is available (none at grading)": (
        "bbbconv2d", _solution_with("bbbconv2d", (SOLUTION_PARAMETERS, ON_THE_GPU))),
    "parameters moved with .cuda() when a GPU is available (none at grading)": (
        "bbbconv2d", _solution_with("bbbconv2d", (SOLUTION_PARAMETERS, MOVED_TO_THE_GPU))),
}

(test_the_solution_gets_full_marks, _,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, WRONG, ALTERNATIVES)


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Grade cells run on one thread, as at autograding (tiny convolutions on two busy threads are 100 times slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@functools.lru_cache(maxsize=1)
def _solution():
    return notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT))


def _cells_that_must_fail(name: str) -> set[str]:
    return {cell for rows in REQUIREMENTS.values() for _, cell, names in rows if name in names}


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_loses_points_in_the_cells_its_requirements_name(name):
    solution = _solution()
    with torch.enable_grad():  # a variant that switches autograd off must not leak into the next test
        report = grade(solution, edited(solution_answers(solution), *WRONG[name]), ASSIGNMENT,
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
    named = {name for rows in REQUIREMENTS.values() for _, _, names in rows for name in names}
    assert not set(WRONG) - named, f"wrong answers in no requirement row: {sorted(set(WRONG) - named)}"
