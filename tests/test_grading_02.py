"""Tutorial 02's grade cells against plausible wrong answers (each must lose points, in the grade cell that
checks the requirement it breaks) and against differently written right answers (each must keep full marks).

REQUIREMENTS is the requirement-to-test table: for every exercise (answer cell), each requirement its text
states, the grade cell that checks it and the wrong answers that break it.
"""
from __future__ import annotations

import pytest
import torch

from conftest import ROOT
from course_utils.instructor import notebooks
from grading_harness import edited, grade, grading_tests, solution_answers

ASSIGNMENT = "02_mnist_bayes_by_backprop"


GAUSS = "return -0.5 * math.log(2 * math.pi) - torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)"
SIGMA_AS_TENSOR = "sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)"
LOGSIGMA_AS_TENSOR = "logsigma = torch.as_tensor(logsigma, dtype=x.dtype, device=x.device)"
COMPONENTS = ("broad = math.log(pi) + log_gaussian_logsigma(w, 0.0, math.log(sigma1))\n"
              "    narrow = math.log(1 - pi) + log_gaussian_logsigma(w, 0.0, math.log(sigma2))")
SIGMAS = "F.softplus(self.weight_rho), F.softplus(self.bias_rho)"
WEIGHT_NOISE = "weight_sigma * torch.randn_like(weight_sigma)"
BIAS_DRAW = "bias = self.bias_mu + bias_sigma * torch.randn_like(bias_sigma)"
MEAN_BRANCH = "        else:\n            weight, bias = self.weight_mu, self.bias_mu"
ZERO_TERMS = ("            self.log_q = self.weight_mu.new_zeros(())\n"
              "            self.log_p = self.weight_mu.new_zeros(())\n")
LOG_P = "self.log_p = log_mixture_prior(weight, *prior).sum() + log_mixture_prior(bias, *prior).sum()"
LINEAR_RETURN = "        return F.linear(x, weight, bias)"
LOCAL_REPARAMETERISATION = """        if self.training or sample:
            mean = F.linear(x, self.weight_mu, self.bias_mu)
            std = torch.sqrt(F.linear(x**2, weight_sigma**2, bias_sigma**2))
            return mean + std * torch.randn_like(mean)
        return F.linear(x, weight, bias)"""
GATHER = "F.log_softmax(logits, dim=-1).gather(1, labels.unsqueeze(1)).sum()"
BLUNDELL = "weight = 2.0 ** -batch_index / (1.0 - 2.0 ** -n_batches)"
LOSS_RETURN = "return weight * (log_q - log_p) - log_likelihood"
MC_RETURN = "    return samples.mean(dim=0), low, high"
QUANTILES = "    low, high = torch.quantile(samples, tails, dim=0)"
NORMAL_INTERVAL = ("    z = torch.distributions.Normal(0.0, 1.0).icdf(tails[1])\n"
                   "    low, high = samples.mean(dim=0) - z * samples.std(dim=0), samples.mean(dim=0) + z * samples.std(dim=0)")

WRONG = {
    # Exercise 1: Gaussian log densities
    "log sigma^2 in the normalisation": ("log_gaussian", "- torch.log(sigma) -", "- torch.log(sigma**2) -"),
    "no 1/2 in the exponent": ("log_gaussian", "(x - mu) ** 2 / (2 * sigma**2)", "(x - mu) ** 2 / sigma**2"),
    "the log of the density (underflows in the tails)": (
        "log_gaussian", GAUSS, "return torch.log(torch.exp(-(x - mu) ** 2 / (2 * sigma**2)) / (math.sqrt(2 * math.pi) * sigma))"),
    "normalisation dropped": ("log_gaussian", GAUSS, "return -torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)"),
    "summed over the elements": ("log_gaussian", GAUSS, f"return ({GAUSS[len('return '):]}).sum()"),
    "mu expanded to the shape of x": ("log_gaussian", "(x - mu) ** 2 / (2 * sigma**2)",
                                      "(x - torch.as_tensor(mu).expand_as(x)) ** 2 / (2 * sigma**2)"),
    "sigma copied out of the graph with torch.tensor": (
        "log_gaussian", SIGMA_AS_TENSOR, "sigma = torch.tensor(sigma, dtype=x.dtype, device=x.device)"),
    "logsigma: exp(-logsigma) instead of exp(-2 logsigma)": ("log_gaussian", "torch.exp(-2 * logsigma)", "torch.exp(-logsigma)"),
    "logsigma: -2 logsigma in the normalisation": ("log_gaussian", "- logsigma - 0.5", "- 2 * logsigma - 0.5"),
    "logsigma through log(exp(logsigma))": (
        "log_gaussian", "- logsigma - 0.5 * (x - mu) ** 2 * torch.exp(-2 * logsigma)",
        "- torch.log(torch.exp(logsigma)) - (x - mu) ** 2 / (2 * torch.exp(logsigma) ** 2)"),
    "logsigma copied out of the graph with torch.tensor": (
        "log_gaussian", LOGSIGMA_AS_TENSOR, "logsigma = torch.tensor(logsigma, dtype=x.dtype, device=x.device)"),
    # Exercise 2: the scale-mixture prior
    "the log of the summed densities": (
        "log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.log(torch.exp(broad) + torch.exp(narrow))"),
    "the summed densities floored before the log": (
        "log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.log((torch.exp(broad) + torch.exp(narrow)).clamp_min(1e-30))"),
    "the larger component only": ("log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.maximum(broad, narrow)"),
    "pi on the narrow component": (
        "log_mixture_prior", "broad = math.log(pi) + log_gaussian_logsigma(w, 0.0, math.log(sigma1))\n    narrow = math.log(1 - pi)",
        "broad = math.log(1 - pi) + log_gaussian_logsigma(w, 0.0, math.log(sigma1))\n    narrow = math.log(pi)"),
    "the narrow component's weight fixed at 1/2": ("log_mixture_prior", "narrow = math.log(1 - pi)", "narrow = math.log(0.5)"),
    "sigma2 fixed at e^-6": ("log_mixture_prior", "math.log(sigma2)", "-6.0"),
    "summed over the weights": ("log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.logaddexp(broad, narrow).sum()"),
    # Exercise 3: the Bayes-by-Backprop layer
    "sample=False by default": ("bayesian_linear", "sample: bool = True", "sample: bool = False"),
    "no sampling in eval mode even with sample=True": ("bayesian_linear", "if self.training or sample:", "if self.training:"),
    "sample decides alone, training mode ignored": ("bayesian_linear", "if self.training or sample:", "if sample:"),
    "log_q and log_p not reset without sampling": ("bayesian_linear", ZERO_TERMS, ""),
    "zero log densities as Python numbers": ("bayesian_linear", ZERO_TERMS, "            self.log_q = self.log_p = 0.0\n"),
    "autograd switched off in the mean branch": (
        "bayesian_linear", MEAN_BRANCH, "        else:\n            torch.set_grad_enabled(False)\n            weight, bias = self.weight_mu, self.bias_mu"),
    "parameters frozen in the mean branch": (
        "bayesian_linear", MEAN_BRANCH,
        "        else:\n            for parameter in self.parameters():\n                parameter.requires_grad_(False)\n"
        "            weight, bias = self.weight_mu, self.bias_mu"),
    "widths frozen in the mean branch": (
        "bayesian_linear", MEAN_BRANCH,
        "        else:\n            self.weight_rho.requires_grad_(False)\n            self.bias_rho.requires_grad_(False)\n"
        "            weight, bias = self.weight_mu, self.bias_mu"),
    "noise on the outputs (local reparameterisation)": ("bayesian_linear", LINEAR_RETURN, LOCAL_REPARAMETERISATION),
    "sigma = exp(rho)": ("bayesian_linear", SIGMAS, "torch.exp(self.weight_rho), torch.exp(self.bias_rho)"),
    "softplus clamped at rho = 20": (
        "bayesian_linear", SIGMAS,
        "torch.log1p(torch.exp(self.weight_rho.clamp(max=20))), torch.log1p(torch.exp(self.bias_rho.clamp(max=20)))"),
    "softplus by torch.where (nan gradients at large rho)": (
        "bayesian_linear", SIGMAS,
        "torch.where(self.weight_rho > 20, self.weight_rho, torch.log1p(torch.exp(self.weight_rho))), F.softplus(self.bias_rho)"),
    "softplus written as log(1 + exp(rho))": (
        "bayesian_linear", SIGMAS, "torch.log(1 + torch.exp(self.weight_rho)), torch.log(1 + torch.exp(self.bias_rho))"),
    "widths floored at 1e-6": ("bayesian_linear", SIGMAS,
                               "F.softplus(self.weight_rho).clamp(min=1e-6), F.softplus(self.bias_rho).clamp(min=1e-6)"),
    "one noise value for all weights": ("bayesian_linear", WEIGHT_NOISE, "weight_sigma * torch.randn(())"),
    "one noise value shared by all biases": (
        "bayesian_linear", BIAS_DRAW,
        "bias = self.bias_mu + bias_sigma * torch.randn((), dtype=bias_sigma.dtype, device=bias_sigma.device)"),
    "biases reuse the weights' noise": (
        "bayesian_linear", BIAS_DRAW, "bias = self.bias_mu + bias_sigma * (weight - self.weight_mu)[:, 0] / weight_sigma[:, 0]"),
    "noise reseeded from a pass counter (layers of equal shape draw equal noise)": (
        "bayesian_linear", f"weight = self.weight_mu + {WEIGHT_NOISE}",
        "self.passes = getattr(self, 'passes', 0) + 1\n"
        "            with torch.random.fork_rng(devices=[]):\n"
        "                torch.manual_seed(self.passes)\n"
        f"                weight = self.weight_mu + {WEIGHT_NOISE}"),
    "biases not sampled": ("bayesian_linear", BIAS_DRAW, "bias = self.bias_mu + 0 * bias_sigma"),
    "weights built from mu.data": ("bayesian_linear", "weight = self.weight_mu + ", "weight = self.weight_mu.data + "),
    "widths built from rho.data": ("bayesian_linear", SIGMAS, "F.softplus(self.weight_rho.data), F.softplus(self.bias_rho.data)"),
    "log q without the biases": ("bayesian_linear", "\n                          + log_gaussian(bias, self.bias_mu, bias_sigma).sum())", ")"),
    "log p under a single Gaussian": (
        "bayesian_linear", "self.log_p = log_mixture_prior(weight, *prior).sum()", "self.log_p = log_gaussian(weight, 0.0, self.prior_sigma1).sum()"),
    "log p with the default prior, not the layer's": (
        "bayesian_linear", "prior = (self.prior_pi, self.prior_sigma1, self.prior_sigma2)", "prior = (0.5, 1.0, math.exp(-6))"),
    "log q at the means, not at the sample": (
        "bayesian_linear", "log_gaussian(weight, self.weight_mu, weight_sigma)", "log_gaussian(self.weight_mu, self.weight_mu, weight_sigma)"),
    "log q at a detached sample": (
        "bayesian_linear", "log_gaussian(weight, self.weight_mu, weight_sigma)", "log_gaussian(weight.detach(), self.weight_mu, weight_sigma)"),
    "log p at a detached sample": ("bayesian_linear", "log_mixture_prior(weight, *prior)", "log_mixture_prior(weight.detach(), *prior)"),
    "log q and log p detached": (
        "bayesian_linear", MEAN_BRANCH,
        "            self.log_q, self.log_p = self.log_q.detach(), self.log_p.detach()\n" + MEAN_BRANCH),
    "log p as a Python float": ("bayesian_linear", LOG_P, LOG_P + ".item()"),
    "log q added up over passes": ("bayesian_linear", "self.log_q = (log_gaussian", "self.log_q = self.log_q + (log_gaussian"),
    # Exercise 4: the loss of a minibatch
    "log_categ averaged, not summed": ("minibatch_loss", ".gather(1, labels.unsqueeze(1)).sum()", ".gather(1, labels.unsqueeze(1)).mean()"),
    "the log of a softmax": ("minibatch_loss", "F.log_softmax(logits, dim=-1)", "torch.log(F.softmax(logits, dim=-1))"),
    "softmax over the batch": ("minibatch_loss", "F.log_softmax(logits, dim=-1)", "F.log_softmax(logits, dim=0)"),
    "squeezed logits break a batch of one": ("minibatch_loss", GATHER, "F.log_softmax(logits.squeeze(), dim=1).gather(1, labels.unsqueeze(1)).sum()"),
    "logits shifted in place for stability": (
        "minibatch_loss", "    return F.log_softmax(logits, dim=-1)",
        "    with torch.no_grad():\n        logits -= logits.max(dim=-1, keepdim=True).values\n    return F.log_softmax(logits, dim=-1)"),
    "log_categ as a Python float": ("minibatch_loss", GATHER, GATHER + ".item()"),
    "logits shifted by one maximum for the whole batch": (
        "minibatch_loss", "    return F.log_softmax(logits, dim=-1)",
        "    shifted = logits - logits.max()\n    return (shifted - shifted.exp().sum(dim=-1, keepdim=True).log())"),
    "2^M formed literally": ("minibatch_loss", BLUNDELL, "weight = 2.0 ** (n_batches - batch_index) / (2.0**n_batches - 1)"),
    "blundell counted from 0": ("minibatch_loss", BLUNDELL, "weight = 2.0 ** -(batch_index - 1) / (1.0 - 2.0 ** -n_batches)"),
    "blundell normalised by 2^M": ("minibatch_loss", BLUNDELL, "weight = 2.0 ** -batch_index"),
    "blundell normalised by 2^(M+1) - 1": ("minibatch_loss", BLUNDELL, "weight = 2.0 ** -batch_index / (1.0 - 2.0 ** -(n_batches + 1))"),
    "blundell by default": ("minibatch_loss", 'schedule: str = "uniform"', 'schedule: str = "blundell"'),
    "complexity cost not split": ("minibatch_loss", "weight = 1.0 / n_batches", "weight = 1.0"),
    "likelihood added": ("minibatch_loss", "(log_q - log_p) - log_likelihood", "(log_q - log_p) + log_likelihood"),
    "unknown schedule accepted": ("minibatch_loss", 'raise ValueError(f"unknown schedule {schedule!r}: use \'uniform\' or \'blundell\'")',
                                  "weight = 1.0 / n_batches"),
    "only one unknown schedule refused": (
        "minibatch_loss", 'raise ValueError(f"unknown schedule {schedule!r}: use \'uniform\' or \'blundell\'")',
        'if schedule == "exponential":\n            raise ValueError(schedule)\n        weight = 1.0 / n_batches'),
    "the loss as a Python float": ("minibatch_loss", LOSS_RETURN, "return float(weight * (log_q - log_p) - log_likelihood)"),
    "log p detached in the loss": ("minibatch_loss", "(log_q - log_p)", "(log_q - log_p.detach())"),
    # Exercise 5: Monte Carlo predictions
    "logits averaged, no softmax": ("mc_predict", "F.softmax(model(batch), dim=-1)", "model(batch)"),
    "the extremes, not the interval": ("mc_predict", "[(1 - interval) / 2, (1 + interval) / 2]", "[0.0, 1.0]"),
    "mean plus or minus a normal quantile of the spread": ("mc_predict", QUANTILES, NORMAL_INTERVAL),
    "nearest-rank quantiles": ("mc_predict", QUANTILES, QUANTILES[:-1] + ', interpolation="nearest")'),
    "quantiles rounded down to a sample": ("mc_predict", QUANTILES, QUANTILES[:-1] + ', interpolation="lower")'),
    "n_samples 10 by default": ("mc_predict", "n_samples: int = 20", "n_samples: int = 10"),
    "interval 0.8 by default": ("mc_predict", "interval: float = 0.9", "interval: float = 0.8"),
    "batch_size 100 by default": ("mc_predict", "batch_size: int = 1000", "batch_size: int = 100"),
    "gradients tracked": ("mc_predict", "    with torch.no_grad():\n        samples", "    if True:\n        samples"),
    "autograd switched off for good": (
        "mc_predict", "    with torch.no_grad():\n        samples", "    torch.set_grad_enabled(False)\n    if True:\n        samples"),
    "parameters frozen": ("mc_predict", "    model.eval()\n",
                          "    model.eval()\n    for parameter in model.parameters():\n        parameter.requires_grad_(False)\n"),
    "model put back in training mode": ("mc_predict", MC_RETURN, "    model.train()\n" + MC_RETURN),
    "all inputs in one pass": ("mc_predict", "torch.split(x, batch_size)", "[x]"),
    "torch.chunk instead of batches of batch_size": ("mc_predict", "torch.split(x, batch_size)", "torch.chunk(x, batch_size)"),
    "one pass repeated n_samples times": ("mc_predict", "for _ in range(n_samples)])", "for _ in range(1)]).expand(n_samples, -1, -1)"),
    "one sample too few": ("mc_predict", "for _ in range(n_samples)])", "for _ in range(n_samples - 1)])"),
    "the network called with sample=False": ("mc_predict", "model(batch)", "model(batch, sample=False)"),
    "the network told to sample only in training mode": ("mc_predict", "model(batch)", "model(batch, model.training)"),
    "NumPy arrays returned": ("mc_predict", MC_RETURN, "    return samples.mean(dim=0).numpy(), low.numpy(), high.numpy()"),
    "squeezed results": ("mc_predict", MC_RETURN, "    return samples.mean(dim=0).squeeze(), low.squeeze(), high.squeeze()"),
}

# requirement-to-test table: {exercise (answer cell): [(requirement as the text states it, grade cell, [wrong answers])]}
REQUIREMENTS = {
    "log_gaussian": [
        ("log N(x; mu, sigma^2) elementwise", "test_log_gaussian",
         ["log sigma^2 in the normalisation", "no 1/2 in the exponent", "normalisation dropped"]),
        ("far in the tails too, where the density underflows: the formula itself, not the log of the density", "test_log_gaussian",
         ["the log of the density (underflows in the tails)"]),
        ("arguments broadcast (numbers allowed except x); the result has the broadcast shape", "test_log_gaussian",
         ["summed over the elements", "mu expanded to the shape of x"]),
        ("differentiable in every tensor argument", "test_log_gaussian", ["sigma copied out of the graph with torch.tensor"]),
        ("the same density from log sigma: -log sigma and exp(-2 log sigma)", "test_log_gaussian_logsigma",
         ["logsigma: exp(-logsigma) instead of exp(-2 logsigma)", "logsigma: -2 logsigma in the normalisation"]),
        ("log sigma used as it is: finite at log sigma = 100 in float32", "test_log_gaussian_logsigma",
         ["logsigma through log(exp(logsigma))"]),
        ("log_gaussian_logsigma differentiable in every tensor argument", "test_log_gaussian_logsigma",
         ["logsigma copied out of the graph with torch.tensor"]),
    ],
    "log_mixture_prior": [
        ("elementwise log of the mixture, same shape as w", "test_mixture_prior_values",
         ["summed over the weights", "the larger component only", "pi on the narrow component"]),
        ("any pi, sigma1, sigma2 as given (the narrow component near w = 0)", "test_mixture_prior_values",
         ["the narrow component's weight fixed at 1/2", "sigma2 fixed at e^-6"]),
        ("finite values and gradients in the tails: add the densities in log space", "test_mixture_prior_tails",
         ["the log of the summed densities", "the summed densities floored before the log", "the larger component only"]),
    ],
    "bayesian_linear": [
        ("training mode, or sample=True (the default) in evaluation mode: draw a sample; otherwise the means",
         "test_bayesian_linear_forward",
         ["sample=False by default", "no sampling in eval mode even with sample=True", "sample decides alone, training mode ignored"]),
        ("without sampling, log_q and log_p are zero 0-dim tensors", "test_bayesian_linear_forward",
         ["log_q and log_p not reset without sampling", "zero log densities as Python numbers"]),
        ("one sample of the weights per pass, shared by every input of the batch", "test_bayesian_linear_forward",
         ["noise on the outputs (local reparameterisation)"]),
        ("a call, with or without sampling, leaves the layer and torch otherwise unchanged (modes, requires_grad, the autograd "
         "switch)", "test_bayesian_linear_forward",
         ["autograd switched off in the mean branch", "parameters frozen in the mean branch", "widths frozen in the mean branch"]),
        ("w = mu + softplus(rho) * eps, for every rho (never clipped), finite gradients at rho = 100", "test_bayesian_linear_sampling",
         ["sigma = exp(rho)", "softplus clamped at rho = 20", "softplus written as log(1 + exp(rho))", "widths floored at 1e-6",
          "softplus by torch.where (nan gradients at large rho)"]),
        ("independent noise for every weight, every bias and every layer", "test_bayesian_linear_sampling",
         ["one noise value for all weights", "one noise value shared by all biases", "biases reuse the weights' noise",
          "biases not sampled", "noise reseeded from a pass counter (layers of equal shape draw equal noise)"]),
        ("the output reaches mu and rho through the sample", "test_bayesian_linear_sampling",
         ["weights built from mu.data", "widths built from rho.data"]),
        ("log_q: log q of the sample under the layer's Gaussians, weights and biases, a 0-dim tensor", "test_bayesian_linear_log_densities",
         ["log q without the biases", "log q at the means, not at the sample"]),
        ("log_p: the scale-mixture prior with the layer's pi, sigma1, sigma2, weights and biases", "test_bayesian_linear_log_densities",
         ["log p under a single Gaussian", "log p with the default prior, not the layer's"]),
        ("log_q and log_p in the graph, through the sample (d log q / d mu = 0, d log q / d rho = -sigmoid(rho) / sigma)",
         "test_bayesian_linear_log_densities",
         ["log q at a detached sample", "log p at a detached sample", "log q and log p detached", "log p as a Python float"]),
        ("each call replaces log_q and log_p", "test_bayesian_linear_log_densities", ["log q added up over passes"]),
    ],
    "minibatch_loss": [
        ("log_categ: the sum over the batch of log softmax(logits)[label], a 0-dim tensor", "test_log_categ",
         ["log_categ averaged, not summed", "softmax over the batch", "log_categ as a Python float"]),
        ("log_categ stable for large logits", "test_log_categ",
         ["the log of a softmax", "logits shifted by one maximum for the whole batch"]),
        ("log_categ for any N >= 1", "test_log_categ", ["squeezed logits break a batch of one"]),
        ("log_categ leaves the caller's logits unchanged", "test_log_categ", ["logits shifted in place for stability"]),
        ("uniform: pi_i = 1/M; pi_i (log q - log p) - log likelihood; uniform by default", "test_minibatch_loss",
         ["complexity cost not split", "likelihood added", "blundell by default"]),
        ("blundell: pi_i = 2^(M-i) / (2^M - 1), i from 1 to M, every M >= 1, no overflow at M = 2000", "test_minibatch_loss",
         ["2^M formed literally", "blundell counted from 0", "blundell normalised by 2^M", "blundell normalised by 2^(M+1) - 1"]),
        ("an unknown schedule raises ValueError", "test_minibatch_loss_rules",
         ["unknown schedule accepted", "only one unknown schedule refused"]),
        ("the loss is a 0-dim tensor differentiable in each term", "test_minibatch_loss_rules",
         ["the loss as a Python float", "log p detached in the loss"]),
    ],
    "mc_predict": [
        ("three tensors of shape (N, classes): softmax probabilities averaged over the samples", "test_mc_predict_shapes",
         ["logits averaged, no softmax", "NumPy arrays returned"]),
        ("any N >= 1", "test_mc_predict_shapes", ["squeezed results"]),
        ("one forward pass per sample and batch, consecutive batches of batch_size (20 samples, batches of 1000 by default)",
         "test_mc_predict_shapes",
         ["all inputs in one pass", "torch.chunk instead of batches of batch_size", "one pass repeated n_samples times",
          "one sample too few", "n_samples 10 by default", "batch_size 100 by default"]),
        ("evaluation mode and no gradients during the passes", "test_mc_predict_shapes", ["gradients tracked"]),
        ("afterwards autograd as the caller had it, requires_grad kept, the model in evaluation mode or its own mode",
         "test_mc_predict_shapes", ["autograd switched off for good", "parameters frozen", "model put back in training mode"]),
        ("the quantiles (1 - interval)/2 and (1 + interval)/2 of the samples, linearly interpolated, in the order of x, "
         "for few and many samples", "test_mc_predict_intervals",
         ["the extremes, not the interval", "mean plus or minus a normal quantile of the spread", "nearest-rank quantiles",
          "quantiles rounded down to a sample"]),
        ("the defaults n_samples=20 and interval=0.9", "test_mc_predict_intervals",
         ["n_samples 10 by default", "interval 0.8 by default"]),
        ("model(batch): the network's layers sample in evaluation mode", "test_mc_predict_intervals",
         ["the network called with sample=False", "the network told to sample only in training mode"]),
    ],
}


DISTRIBUTIONS = '''
def log_gaussian(x, mu, sigma):
    mu, sigma = (torch.as_tensor(v, dtype=x.dtype, device=x.device) for v in (mu, sigma))
    return torch.distributions.Normal(mu, sigma).log_prob(x)


def log_gaussian_logsigma(x, mu, logsigma):
    logsigma = torch.as_tensor(logsigma, dtype=x.dtype, device=x.device)
    z = (x - mu) * torch.exp(-logsigma)
    return -logsigma - 0.5 * np.log(2 * np.pi) - 0.5 * z * z
'''
IN_FLOAT64 = '''
def _float64(value, like):
    return torch.as_tensor(value, dtype=torch.float64, device=like.device)


def log_gaussian(x, mu, sigma):
    x64, mu64, sigma64 = x.double(), _float64(mu, x), _float64(sigma, x)
    return (-0.5 * math.log(2 * math.pi) - torch.log(sigma64) - (x64 - mu64) ** 2 / (2 * sigma64**2)).to(x.dtype)


def log_gaussian_logsigma(x, mu, logsigma):
    x64, mu64, logsigma64 = x.double(), _float64(mu, x), _float64(logsigma, x)
    return (-0.5 * math.log(2 * math.pi) - logsigma64 - 0.5 * torch.square(x64 - mu64) / torch.exp(2 * logsigma64)).to(x.dtype)
'''
LOGSUMEXP = '''
def log_mixture_prior(w, pi, sigma1, sigma2):
    terms = torch.stack([np.log(pi) - np.log(sigma1) - 0.5 * (w / sigma1) ** 2,
                         np.log(1 - pi) - np.log(sigma2) - 0.5 * (w / sigma2) ** 2])
    return torch.logsumexp(terms, dim=0) - 0.5 * np.log(2 * np.pi)
'''
MAX_LOG1P = '''
def log_mixture_prior(w, pi, sigma1, sigma2):
    a = math.log(pi) + log_gaussian(w, 0.0, sigma1)
    b = math.log(1 - pi) + log_gaussian(w, 0.0, sigma2)
    return torch.maximum(a, b) + torch.log1p(torch.exp(-(a - b).abs()))
'''
MIXTURE_SAME_FAMILY = '''
def log_mixture_prior(w, pi, sigma1, sigma2):
    like = dict(dtype=w.dtype, device=w.device)
    mixture = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=torch.tensor([pi, 1 - pi], **like)),
        torch.distributions.Normal(torch.zeros(2, **like), torch.tensor([sigma1, sigma2], **like)))
    return mixture.log_prob(w)
'''
LAYER_INIT = '''
class BayesianLinear(nn.Module):
    def __init__(self, in_features, out_features, prior_pi=0.5, prior_sigma1=1.0, prior_sigma2=math.exp(-6)):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.prior_pi, self.prior_sigma1, self.prior_sigma2 = prior_pi, prior_sigma1, prior_sigma2
        bound = 1 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_rho = nn.Parameter(torch.empty(out_features, in_features).uniform_(-5.5, -4.5))
        self.bias_mu = nn.Parameter(torch.zeros(out_features))
        self.bias_rho = nn.Parameter(torch.empty(out_features).uniform_(-5.5, -4.5))
        self.log_q = torch.zeros(())
        self.log_p = torch.zeros(())
'''
NORMAL_LAYER = LAYER_INIT + '''
    def _draw(self, mu, rho):
        sigma = torch.log1p(torch.exp(-rho.abs())) + rho.clamp(min=0)
        value = mu + sigma * torch.empty_like(mu).normal_()
        log_q = torch.distributions.Normal(mu, sigma).log_prob(value).sum()
        log_p = log_mixture_prior(value, self.prior_pi, self.prior_sigma1, self.prior_sigma2).sum()
        return value, log_q, log_p

    def forward(self, x, sample=True):
        if not (self.training or sample):
            self.log_q = self.log_p = self.weight_mu.new_tensor(0.0)
            return x @ self.weight_mu.T + self.bias_mu
        weight, q_w, p_w = self._draw(self.weight_mu, self.weight_rho)
        bias, q_b, p_b = self._draw(self.bias_mu, self.bias_rho)
        self.log_q, self.log_p = q_w + q_b, p_w + p_b
        return x @ weight.T + bias
'''
RSAMPLE_ONE_VECTOR = LAYER_INIT + '''
    def forward(self, x, sample=True):
        if self.training or sample:
            mu = torch.cat([self.weight_mu.flatten(), self.bias_mu])
            sigma = F.softplus(torch.cat([self.weight_rho.flatten(), self.bias_rho]))
            posterior = torch.distributions.Normal(mu, sigma)
            theta = posterior.rsample()
            self.log_q = posterior.log_prob(theta).sum()
            self.log_p = log_mixture_prior(theta, self.prior_pi, self.prior_sigma1, self.prior_sigma2).sum()
            n_weights = self.weight_mu.numel()
            weight, bias = theta[:n_weights].view_as(self.weight_mu), theta[n_weights:]
        else:
            weight, bias = self.weight_mu, self.bias_mu
            self.log_q, self.log_p = x.new_zeros(()), x.new_zeros(())
        return F.linear(x, weight, bias)
'''
EPS_BY_HAND = LAYER_INIT + '''
    def forward(self, x, sample=True):
        if not (self.training or sample):
            self.log_q = torch.zeros((), dtype=x.dtype, device=x.device)
            self.log_p = torch.zeros((), dtype=x.dtype, device=x.device)
            return F.linear(x, self.weight_mu, self.bias_mu)
        w_sigma, b_sigma = F.softplus(self.weight_rho), F.softplus(self.bias_rho)
        w_eps = torch.randn(self.weight_mu.shape, dtype=self.weight_mu.dtype, device=self.weight_mu.device)
        b_eps = torch.randn(self.bias_mu.shape, dtype=self.bias_mu.dtype, device=self.bias_mu.device)
        weight, bias = self.weight_mu + w_sigma * w_eps, self.bias_mu + b_sigma * b_eps
        log_q = 0
        log_p = 0
        for value, mu, sigma in ((weight, self.weight_mu, w_sigma), (bias, self.bias_mu, b_sigma)):
            log_q = log_q + torch.sum(log_gaussian(value, mu, sigma))
            log_p = log_p + torch.sum(log_mixture_prior(value, self.prior_pi, self.prior_sigma1, self.prior_sigma2))
        self.log_q, self.log_p = log_q, log_p
        return F.linear(x, weight, bias)
'''
LOG_Q_FROM_NOISE = LAYER_INIT + '''
    def forward(self, x, sample=True):
        if not self.training and not sample:
            self.log_q = self.log_p = torch.zeros_like(self.bias_mu).sum()
            return F.linear(x, self.weight_mu, self.bias_mu)
        log_q = log_p = 0.0
        drawn = []
        for mu, rho in ((self.weight_mu, self.weight_rho), (self.bias_mu, self.bias_rho)):
            sigma = F.softplus(rho)
            eps = torch.randn_like(mu)
            value = mu + sigma * eps
            log_q = log_q + (-0.5 * math.log(2 * math.pi) - torch.log(sigma) - 0.5 * eps**2).sum()  # log q(w) with w = mu + sigma eps
            log_p = log_p + log_mixture_prior(value, self.prior_pi, self.prior_sigma1, self.prior_sigma2).sum()
            drawn.append(value)
        self.log_q, self.log_p = log_q, log_p
        return F.linear(x, *drawn)
'''
LOSS_TABLE = '''
def log_categ(logits, labels):
    return -F.nll_loss(F.log_softmax(logits, dim=1), labels, reduction="sum")


SCHEDULES = {
    "uniform": lambda i, m: 1 / m,
    "blundell": lambda i, m: 0.5**i / (1 - 0.5**m),
}


def minibatch_loss(log_q, log_p, log_likelihood, batch_index, n_batches, schedule="uniform"):
    if schedule not in SCHEDULES:
        raise ValueError(schedule)
    return SCHEDULES[schedule](batch_index, n_batches) * (log_q - log_p) - log_likelihood
'''
INTEGER_POWERS = '''
def log_categ(logits, labels):
    return -F.cross_entropy(logits, labels, reduction="sum")


def minibatch_loss(log_q, log_p, log_likelihood, batch_index, n_batches, schedule="uniform"):
    if schedule == "uniform":
        pi = 1 / n_batches
    elif schedule == "blundell":
        pi = 2 ** (n_batches - batch_index) / (2**n_batches - 1)  # Python integers are exact: no overflow
    else:
        raise ValueError(f"unknown schedule {schedule}")
    return pi * (log_q - log_p) - log_likelihood
'''
EXPM1 = '''
def log_categ(logits, labels):
    picked = torch.take_along_dim(logits, labels[:, None], dim=1).squeeze(1)
    return (picked - torch.logsumexp(logits, dim=1)).sum()


def minibatch_loss(log_q, log_p, log_likelihood, batch_index, n_batches, schedule="uniform"):
    if schedule == "uniform":
        pi = 1.0 / n_batches
    elif schedule == "blundell":
        pi = math.exp(-batch_index * math.log(2)) / -math.expm1(-n_batches * math.log(2))
    else:
        raise ValueError(schedule)
    return pi * log_q - pi * log_p - log_likelihood
'''
BATCHES_OUTER = '''
@torch.no_grad()
def mc_predict(model, x, n_samples=20, interval=0.9, batch_size=1000):
    model.eval()
    means, lows, highs = [], [], []
    for start in range(0, len(x), batch_size):
        batch = x[start:start + batch_size]
        probs = torch.stack([torch.softmax(model(batch), dim=1) for _ in range(n_samples)], dim=1)  # (B, S, C)
        means.append(probs.mean(dim=1))
        lows.append(torch.quantile(probs, (1 - interval) / 2, dim=1))
        highs.append(torch.quantile(probs, (1 + interval) / 2, dim=1))
    return torch.cat(means), torch.cat(lows), torch.cat(highs)
'''
SAMPLES_LAST = '''
def mc_predict(model, x, n_samples=20, interval=0.9, batch_size=1000):
    model.eval()
    with torch.no_grad():
        passes = []
        for _ in range(n_samples):
            chunks = [F.softmax(model(x[i:i + batch_size], sample=True), dim=1) for i in range(0, x.shape[0], batch_size)]
            passes.append(torch.cat(chunks, dim=0))
        samples = torch.stack(passes, dim=-1)  # (N, classes, samples)
        low = torch.quantile(samples, 0.5 - interval / 2, dim=-1)
        high = torch.quantile(samples, 0.5 + interval / 2, dim=-1)
        return samples.mean(dim=-1), low, high
'''
RESTORES_MODE = '''
def mc_predict(model, x, n_samples=20, interval=0.9, batch_size=1000):
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            probs = None
            for k in range(n_samples):
                for start in range(0, len(x), batch_size):
                    p = torch.softmax(model(x[start:start + batch_size]), dim=-1)
                    if probs is None:
                        probs = x.new_empty((n_samples, len(x), p.shape[-1]), dtype=p.dtype)
                    probs[k, start:start + len(p)] = p
        levels = torch.tensor([(1 - interval) / 2, (1 + interval) / 2], dtype=probs.dtype, device=probs.device)
        low, high = torch.quantile(probs, levels, dim=0)
        return probs.mean(dim=0), low, high
    finally:
        model.train(was_training)
'''
CPU_NUMBERS = '''
def log_gaussian(x, mu, sigma):
    mu, sigma = torch.as_tensor(mu, dtype=x.dtype), torch.as_tensor(sigma, dtype=x.dtype)  # numbers: 0-dim CPU tensors
    return -0.5 * math.log(2 * math.pi) - torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)


def log_gaussian_logsigma(x, mu, logsigma):
    logsigma = torch.as_tensor(logsigma, dtype=x.dtype)
    return -0.5 * math.log(2 * math.pi) - logsigma - (x - mu) ** 2 / (2 * torch.exp(2 * logsigma))
'''
CPU_LOG_PI = '''
def log_mixture_prior(w, pi, sigma1, sigma2):
    broad = torch.log(torch.tensor(pi, dtype=w.dtype)) + log_gaussian(w, 0.0, sigma1)
    narrow = torch.log(torch.tensor(1 - pi, dtype=w.dtype)) + log_gaussian(w, 0.0, sigma2)
    return torch.logaddexp(broad, narrow)
'''
ZEROS_IN_THE_GRAPH = LAYER_INIT + '''
    def forward(self, x, sample=True):
        if self.training or sample:
            weight_sigma, bias_sigma = F.softplus(self.weight_rho), F.softplus(self.bias_rho)
            weight = self.weight_mu + weight_sigma * torch.randn_like(weight_sigma)
            bias = self.bias_mu + bias_sigma * torch.randn_like(bias_sigma)
            self.log_q = log_gaussian(weight, self.weight_mu, weight_sigma).sum() + log_gaussian(bias, self.bias_mu, bias_sigma).sum()
            self.log_p = log_mixture_prior(torch.cat([weight.flatten(), bias]), self.prior_pi, self.prior_sigma1, self.prior_sigma2).sum()
        else:
            weight, bias = self.weight_mu, self.bias_mu
            self.log_q = torch.zeros_like(weight).sum()
            self.log_p = weight.sum() * 0
        return torch.einsum("ni,oi->no", x, weight) + bias
'''
TO_THE_CPU = '''
def mc_predict(model, x, n_samples=20, interval=0.9, batch_size=1000):
    model.eval()
    previous = torch.is_grad_enabled()
    torch.set_grad_enabled(False)
    try:
        samples = torch.stack([torch.cat([F.softmax(model(x[i:i + batch_size]), dim=-1) for i in range(0, len(x), batch_size)])
                               for _ in range(n_samples)]).cpu()
    finally:
        torch.set_grad_enabled(previous)
    ends = np.quantile(samples.numpy(), [(1 - interval) / 2, (1 + interval) / 2], axis=0)
    return samples.mean(dim=0), torch.from_numpy(ends[0]), torch.from_numpy(ends[1])
'''
#: slips that broke only the dropped rules (float64 precision, any device, the default dtype): with float32 tensors
#: on the CPU, as the notebook makes them, each is a right answer
FLOAT32_ON_THE_CPU = {
    "sigma made float32": ("log_gaussian", SIGMA_AS_TENSOR, "sigma = torch.as_tensor(sigma, dtype=torch.float32, device=x.device)"),
    "a float32 constant log(2 pi)": ("log_gaussian", "-0.5 * math.log(2 * math.pi)", "-0.5 * torch.log(torch.tensor(2 * math.pi))"),
    "a number sigma made a CPU tensor of the shape of x": (
        "log_gaussian", SIGMA_AS_TENSOR,
        "sigma = torch.full(x.shape, float(sigma), dtype=x.dtype) if not torch.is_tensor(sigma) else sigma"),
    "a number logsigma made a float32 tensor": (
        "log_gaussian", LOGSIGMA_AS_TENSOR, "logsigma = logsigma if torch.is_tensor(logsigma) else torch.tensor(logsigma)"),
    "log pi as a float32 tensor": ("log_mixture_prior", "broad = math.log(pi)", "broad = torch.log(torch.tensor(pi))"),
    "components from Normal with number parameters (float32)": (
        "log_mixture_prior", COMPONENTS,
        "broad = math.log(pi) + torch.distributions.Normal(0.0, sigma1).log_prob(w)\n"
        "    narrow = math.log(1 - pi) + torch.distributions.Normal(0.0, sigma2).log_prob(w)"),
    "a float32 log-sum-exp": ("log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.logaddexp(broad.float(), narrow.float())"),
    "mixture weights made on the CPU": (
        "log_mixture_prior", "return torch.logaddexp(broad, narrow)",
        "weights = torch.tensor([pi, 1 - pi], dtype=w.dtype)\n"
        "    terms = torch.stack([broad - math.log(pi), narrow - math.log(1 - pi)], dim=-1) + weights.log()\n"
        "    return torch.logsumexp(terms, dim=-1)"),
    "the default dtype set to the parameters' dtype": (
        "bayesian_linear", "        if self.training or sample:",
        "        torch.set_default_dtype(self.weight_mu.dtype)\n        if self.training or sample:"),
    "the default dtype set to that of x in the mean branch": (
        "bayesian_linear", MEAN_BRANCH, "        else:\n            torch.set_default_dtype(x.dtype)\n            weight, bias = self.weight_mu, self.bias_mu"),
    "zero log densities in float32 on the CPU, as the constructor makes them": (
        "bayesian_linear", ZERO_TERMS, "            self.log_q = torch.zeros(())\n            self.log_p = torch.zeros(())\n"),
    "zero log densities in float32 on the device of x": (
        "bayesian_linear", ZERO_TERMS,
        "            self.log_q = torch.zeros((), device=x.device)\n            self.log_p = torch.zeros((), device=x.device)\n"),
    "zero log densities on the CPU in the parameters' dtype": (
        "bayesian_linear", ZERO_TERMS,
        "            self.log_q = torch.zeros((), dtype=self.weight_mu.dtype)\n"
        "            self.log_p = torch.zeros((), dtype=self.weight_mu.dtype)\n"),
    "noise on the CPU whatever the parameters": ("bayesian_linear", WEIGHT_NOISE, "weight_sigma * torch.randn(weight_sigma.shape)"),
    "noise always float32": ("bayesian_linear", WEIGHT_NOISE, "weight_sigma * torch.randn(weight_sigma.shape, device=weight_sigma.device)"),
    "float32 noise converted to the parameters' dtype": (
        "bayesian_linear", WEIGHT_NOISE, "weight_sigma * torch.randn(weight_sigma.shape).to(weight_sigma)"),
    "log_categ in float32": ("minibatch_loss", "F.log_softmax(logits, dim=-1)", "F.log_softmax(logits.float(), dim=-1)"),
    "uniform weight as a float32 tensor": ("minibatch_loss", "weight = 1.0 / n_batches", "weight = torch.tensor(1.0 / n_batches)"),
    "float32 quantile levels": ("mc_predict", "dtype=samples.dtype", "dtype=torch.float32"),
    "probabilities in float32": ("mc_predict", "F.softmax(model(batch), dim=-1)", "F.softmax(model(batch).float(), dim=-1)"),
    "inputs cast to float32": ("mc_predict", "    model.eval()\n", "    model.eval()\n    x = x.float()\n"),
    "inputs cast to the default dtype": ("mc_predict", "    model.eval()\n", "    model.eval()\n    x = x.to(torch.get_default_dtype())\n"),
    "model and inputs cast to float32": ("mc_predict", "    model.eval()\n", "    model.eval()\n    model, x = model.float(), x.float()\n"),
    "the default dtype set to that of x": ("mc_predict", "    model.eval()\n", "    model.eval()\n    torch.set_default_dtype(x.dtype)\n"),
}


def _solution_edited(grade_id: str, old: str, new: str) -> tuple[str, str]:
    """(grade_id, the solution's answer with one edit): a right answer that differs from it in one place."""
    answers = solution_answers(notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT)))
    return grade_id, edited(answers, grade_id, old, new)[grade_id]


ALTERNATIVES = {
    **{name: _solution_edited(*edit) for name, edit in FLOAT32_ON_THE_CPU.items()},
    "torch.distributions with the numbers converted, and a standardised variable": ("log_gaussian", DISTRIBUTIONS),
    "computed in float64 and cast back to the dtype of x": ("log_gaussian", IN_FLOAT64),
    "numbers as 0-dim CPU tensors of the dtype of x, the exponent divided by e^(2 log sigma)": ("log_gaussian", CPU_NUMBERS),
    "logsumexp over a stack, by hand": ("log_mixture_prior", LOGSUMEXP),
    "max plus log1p, from log_gaussian": ("log_mixture_prior", MAX_LOG1P),
    "torch.distributions.MixtureSameFamily on the dtype and device of w": ("log_mixture_prior", MIXTURE_SAME_FAMILY),
    "log pi from a 0-dim CPU tensor of the dtype of w": ("log_mixture_prior", CPU_LOG_PI),
    "a helper per parameter, softplus by hand, @ instead of F.linear": ("bayesian_linear", NORMAL_LAYER),
    "rsample and log_prob of one Normal over weights and biases": ("bayesian_linear", RSAMPLE_ONE_VECTOR),
    "noise from torch.randn with dtype and device, a loop over weights and biases": ("bayesian_linear", EPS_BY_HAND),
    "log q from the noise itself: -log sigma - eps^2 / 2": ("bayesian_linear", LOG_Q_FROM_NOISE),
    "zeros in the graph, one prior over weights and biases, einsum": ("bayesian_linear", ZEROS_IN_THE_GRAPH),
    "nll_loss and a table of schedules": ("minibatch_loss", LOSS_TABLE),
    "cross_entropy and exact integer powers": ("minibatch_loss", INTEGER_POWERS),
    "logsumexp by hand and expm1": ("minibatch_loss", EXPM1),
    "batches outer, samples inner": ("mc_predict", BATCHES_OUTER),
    "inference mode, a preallocated tensor, the caller's mode restored": ("mc_predict", RESTORES_MODE),
    "samples on the last axis, sample=True passed, scalar quantile levels": ("mc_predict", SAMPLES_LAST),
    "autograd restored by hand, np.quantile, results on the CPU": ("mc_predict", TO_THE_CPU),
}


@pytest.fixture(autouse=True)
def _one_thread_and_clean_torch_state():
    """Grade as autograde does (one thread), and undo what a wrong answer leaves in this process."""
    threads, grad_enabled, dtype = torch.get_num_threads(), torch.is_grad_enabled(), torch.get_default_dtype()
    validate = torch.distributions.Distribution._validate_args
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.set_grad_enabled(grad_enabled)
    torch.set_default_dtype(dtype)
    torch.distributions.Distribution.set_default_validate_args(validate)


(test_the_solution_gets_full_marks, _,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, WRONG, ALTERNATIVES)


def _solution(root):
    return notebooks.read(notebooks.solution_path(root, ASSIGNMENT))


def _cells_checking(name: str) -> list[str]:
    return sorted({grade_id for rows in REQUIREMENTS.values() for _, grade_id, names in rows if name in names})


@pytest.mark.parametrize("name", list(WRONG))
def test_a_wrong_answer_loses_points(root, name):
    """Each wrong answer loses points, in every grade cell the table says checks the requirement it breaks."""
    solution = _solution(root)
    report = grade(solution, edited(solution_answers(solution), *WRONG[name]), ASSIGNMENT,
                   only=notebooks.grade_ids_after(solution, WRONG[name][0]))  # the exercise's own test cells
    assert report.score < report.total, f"{name!r} got full marks"
    passed = [grade_id for grade_id in _cells_checking(name) if grade_id not in report.errors]
    assert not passed, f"{name!r} passed {passed}, which the requirement table says check it; failed: {report.errors}"


def test_the_requirement_table_is_complete(root):
    solution = _solution(root)
    grade_ids = {notebooks.nbgrader_meta(cell)["grade_id"] for cell in notebooks.graded_cells(solution)}
    answer_ids = set(notebooks.solution_cells(solution))
    assert set(REQUIREMENTS) == answer_ids, "one entry per answer cell"
    for exercise, rows in REQUIREMENTS.items():
        assert rows, f"{exercise} has no requirements"
        for requirement, grade_id, names in rows:
            assert grade_id in grade_ids, f"{exercise}: {requirement!r} names {grade_id!r}, not a grade cell of the notebook"
            assert names, f"{exercise}: {requirement!r} names no wrong answer"
            unknown = [name for name in names if name not in WRONG]
            assert not unknown, f"{exercise}: {requirement!r} names wrong answers that WRONG lacks: {unknown}"
            foreign = [name for name in names if WRONG[name][0] != exercise]
            assert not foreign, f"{exercise}: {requirement!r} names wrong answers of another exercise: {foreign}"
    listed = {name for rows in REQUIREMENTS.values() for _, _, names in rows for name in names}
    assert set(WRONG) <= listed, f"wrong answers in no row of the table: {sorted(set(WRONG) - listed)}"
    checked = {grade_id for rows in REQUIREMENTS.values() for _, grade_id, _ in rows}
    assert grade_ids <= checked, f"grade cells that check no requirement of the table: {sorted(grade_ids - checked)}"
