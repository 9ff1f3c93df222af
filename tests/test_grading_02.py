"""Tutorial 02's grade cells against plausible wrong answers (each must lose points) and against
differently written right answers (each must keep full marks)."""
from grading_harness import grading_tests

ASSIGNMENT = "02_mnist_bayes_by_backprop"


GAUSS = "return -0.5 * math.log(2 * math.pi) - torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)"
BLUNDELL = "weight = 2.0 ** -batch_index / (1.0 - 2.0 ** -n_batches)"
WRONG = {
    # Gaussian log densities
    "log sigma^2 in the normalisation": ("log_gaussian", "- torch.log(sigma) -", "- torch.log(sigma**2) -"),
    "no 1/2 in the exponent": ("log_gaussian", "(x - mu) ** 2 / (2 * sigma**2)", "(x - mu) ** 2 / sigma**2"),
    "normalisation dropped": ("log_gaussian", GAUSS, "return -torch.log(sigma) - (x - mu) ** 2 / (2 * sigma**2)"),
    "summed over the elements": ("log_gaussian", GAUSS, f"return ({GAUSS[len('return '):]}).sum()"),
    "logsigma: exp(-logsigma) instead of exp(-2 logsigma)": (
        "log_gaussian", "torch.exp(-2 * logsigma)", "torch.exp(-logsigma)"),
    "logsigma: -2 logsigma in the normalisation": ("log_gaussian", "- logsigma - 0.5", "- 2 * logsigma - 0.5"),
    # the scale-mixture prior
    "the log of the summed densities": (
        "log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.log(torch.exp(broad) + torch.exp(narrow))"),
    "the larger component only": ("log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.maximum(broad, narrow)"),
    "pi on the narrow component": (
        "log_mixture_prior", "broad = math.log(pi) + log_gaussian_logsigma(w, 0.0, math.log(sigma1))\n    narrow = math.log(1 - pi)",
        "broad = math.log(1 - pi) + log_gaussian_logsigma(w, 0.0, math.log(sigma1))\n    narrow = math.log(pi)"),
    "summed over the weights": ("log_mixture_prior", "torch.logaddexp(broad, narrow)", "torch.logaddexp(broad, narrow).sum()"),
    # the Bayes-by-Backprop layer
    "sigma = exp(rho)": ("bayesian_linear", "F.softplus(self.weight_rho), F.softplus(self.bias_rho)",
                         "torch.exp(self.weight_rho), torch.exp(self.bias_rho)"),
    "one noise value for all weights": (
        "bayesian_linear", "weight = self.weight_mu + weight_sigma * torch.randn_like(weight_sigma)",
        "weight = self.weight_mu + weight_sigma * torch.randn(())"),
    "noise on the CPU whatever the parameters": (
        "bayesian_linear", "weight_sigma * torch.randn_like(weight_sigma)", "weight_sigma * torch.randn(weight_sigma.shape)"),
    "biases not sampled": ("bayesian_linear", "bias = self.bias_mu + bias_sigma * torch.randn_like(bias_sigma)",
                           "bias = self.bias_mu + 0 * bias_sigma"),
    "log q without the biases": ("bayesian_linear", "\n                          + log_gaussian(bias, self.bias_mu, bias_sigma).sum())", ")"),
    "log p under a single Gaussian": (
        "bayesian_linear", "self.log_p = log_mixture_prior(weight, *prior).sum()",
        "self.log_p = log_gaussian(weight, 0.0, self.prior_sigma1).sum()"),
    "log q at the means, not at the sample": (
        "bayesian_linear", "log_gaussian(weight, self.weight_mu, weight_sigma)", "log_gaussian(self.weight_mu, self.weight_mu, weight_sigma)"),
    "log q and log p detached": (
        "bayesian_linear", "        else:\n            weight, bias = self.weight_mu, self.bias_mu",
        "            self.log_q, self.log_p = self.log_q.detach(), self.log_p.detach()\n"
        "        else:\n            weight, bias = self.weight_mu, self.bias_mu"),
    "no sampling in eval mode even with sample=True": ("bayesian_linear", "if self.training or sample:", "if self.training:"),
    # the loss
    "log_categ averaged, not summed": ("minibatch_loss", ".gather(1, labels.unsqueeze(1)).sum()", ".gather(1, labels.unsqueeze(1)).mean()"),
    "the log of a softmax": ("minibatch_loss", "F.log_softmax(logits, dim=-1)", "torch.log(F.softmax(logits, dim=-1))"),
    "2^M formed literally": ("minibatch_loss", BLUNDELL, "weight = 2.0 ** (n_batches - batch_index) / (2.0**n_batches - 1)"),
    "blundell counted from 0": ("minibatch_loss", BLUNDELL, "weight = 2.0 ** -(batch_index - 1) / (1.0 - 2.0 ** -n_batches)"),
    "complexity cost not split": ("minibatch_loss", "weight = 1.0 / n_batches", "weight = 1.0"),
    "likelihood added": ("minibatch_loss", "(log_q - log_p) - log_likelihood", "(log_q - log_p) + log_likelihood"),
    "unknown schedule accepted": ("minibatch_loss", 'raise ValueError(f"unknown schedule {schedule!r}: use \'uniform\' or \'blundell\'")',
                                  "weight = 1.0 / n_batches"),
    # Monte Carlo prediction
    "logits averaged, no softmax": ("mc_predict", "F.softmax(model(batch), dim=-1)", "model(batch)"),
    "the extremes, not the interval": ("mc_predict", "[(1 - interval) / 2, (1 + interval) / 2]", "[0.0, 1.0]"),
    "gradients tracked": ("mc_predict", "    with torch.no_grad():\n        samples", "    if True:\n        samples"),
    "all inputs in one pass": ("mc_predict", "torch.split(x, batch_size)", "[x]"),
}


DISTRIBUTIONS = '''
def log_gaussian(x, mu, sigma):
    return torch.distributions.Normal(mu, sigma).log_prob(x)


def log_gaussian_logsigma(x, mu, logsigma):
    logsigma = torch.as_tensor(logsigma, dtype=x.dtype)
    z = (x - mu) * torch.exp(-logsigma)
    return -logsigma - 0.5 * np.log(2 * np.pi) - 0.5 * z * z
'''
LOGSUMEXP = '''
def log_mixture_prior(w, pi, sigma1, sigma2):
    terms = torch.stack([np.log(pi) - np.log(sigma1) - 0.5 * (w / sigma1) ** 2,
                         np.log(1 - pi) - np.log(sigma2) - 0.5 * (w / sigma2) ** 2])
    return torch.logsumexp(terms, dim=0) - 0.5 * np.log(2 * np.pi)
'''
NORMAL_LAYER = '''
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

    def _draw(self, mu, rho):
        sigma = torch.log1p(torch.exp(-rho.abs())) + rho.clamp(min=0)
        value = mu + sigma * torch.empty_like(mu).normal_()
        log_q = torch.distributions.Normal(mu, sigma).log_prob(value).sum()
        log_p = log_mixture_prior(value, self.prior_pi, self.prior_sigma1, self.prior_sigma2).sum()
        return value, log_q, log_p

    def forward(self, x, sample=True):
        if not (self.training or sample):
            self.log_q = self.log_p = torch.tensor(0.0)
            return x @ self.weight_mu.T + self.bias_mu
        weight, q_w, p_w = self._draw(self.weight_mu, self.weight_rho)
        bias, q_b, p_b = self._draw(self.bias_mu, self.bias_rho)
        self.log_q, self.log_p = q_w + q_b, p_w + p_b
        return x @ weight.T + bias
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
ALTERNATIVES = {
    "torch.distributions and a standardised variable": ("log_gaussian", DISTRIBUTIONS),
    "logsumexp over a stack, by hand": ("log_mixture_prior", LOGSUMEXP),
    "a helper per parameter, softplus by hand, @ instead of F.linear": ("bayesian_linear", NORMAL_LAYER),
    "nll_loss and a table of schedules": ("minibatch_loss", LOSS_TABLE),
    "batches outer, samples inner": ("mc_predict", BATCHES_OUTER),
}


(test_the_solution_gets_full_marks, test_a_wrong_answer_loses_points,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, WRONG, ALTERNATIVES)
