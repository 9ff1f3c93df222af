"""Tutorial 03's grade cells against plausible wrong answers (each must lose points) and against
differently written right answers (each must keep full marks)."""
from grading_harness import grading_tests

ASSIGNMENT = "03_jet_bayesian_cnn"


WEIGHT_SAMPLE = "weight = self.W_mu + F.softplus(self.W_rho) * torch.randn_like(self.W_mu)"
WRONG = {
    "KL(p || q): prior and posterior swapped": (
        "bbbconv2d", "KL_DIV(self.W_mu, F.softplus(self.W_rho), self.prior_mu, self.prior_sigma)",
        "KL_DIV(self.prior_mu, self.prior_sigma, self.W_mu, F.softplus(self.W_rho))"),
    "sigma = exp(rho)": ("bbbconv2d", "F.softplus(self.W_rho)", "torch.exp(self.W_rho)"),
    "softplus computed literally (overflows)": ("bbbconv2d", "F.softplus(", "torch.log1p(torch.exp("),
    "noise on the CPU in float32 whatever the weights": (
        "bbbconv2d", "torch.randn_like(self.W_mu)", "torch.randn(self.W_mu.shape)"),
    "one noise value for all weights": ("bbbconv2d", "torch.randn_like(self.W_mu)", "torch.randn(())"),
    "samples even when sample=False in eval mode": ("bbbconv2d", "if self.training or sample:", "if True:"),
    "never samples": ("bbbconv2d", "if self.training or sample:", "if False:"),
    "biases not sampled": (
        "bbbconv2d", "bias = self.bias_mu + F.softplus(self.bias_rho) * torch.randn_like(self.bias_mu)",
        "bias = self.bias_mu"),
    "KL without the biases": ("bbbconv2d", "kl = kl + KL_DIV(", "kl = kl + 0 * KL_DIV("),
    "stride, padding and dilation ignored": (
        "bbbconv2d", "F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation)",
        "F.conv2d(input, weight, bias, padding=self.padding)"),
    "ReLU after the second convolution too": (
        "bayesconvnet2d", "self.conv2, nn.MaxPool2d(2)", "self.conv2, nn.ReLU(), nn.MaxPool2d(2)"),
    "no ReLU": ("bayesconvnet2d", "self.conv1, nn.ReLU(), nn.MaxPool2d(2)", "self.conv1, nn.MaxPool2d(2)"),
    "average instead of max pooling": ("bayesconvnet2d", "nn.MaxPool2d(2)", "nn.AvgPool2d(2)"),
    "no sigmoid": ("bayesconvnet2d", "self.out, nn.Sigmoid())", "self.out)"),
    "KL not divided by the training size": (
        "bayesconvnet2d", "for layer in self.vb_layers) / self.training_size", "for layer in self.vb_layers)"),
    "layers built in forward (the draft)": (
        "bayesconvnet2d", "        return self.net(x)",
        "        self.net = nn.Sequential(*list(self.net))\n        return self.net(x)"),
    "KL left out of the training loss": ("train_epoch", "        loss = nll + kl\n", "        loss = nll\n"),
    "BCE summed over the batch": (
        "train_epoch", "nll = F.binary_cross_entropy(model(X), y)\n        kl",
        "nll = F.binary_cross_entropy(model(X), y, reduction='sum')\n        kl"),
    "evaluation with gradients": ("train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()",
                                  "    if True:\n        kl = model.KL().item()"),
    "std over the jets instead of the samples": (
        "get_prediction", "samples.mean(dim=0), samples.std(dim=0)", "samples.mean(dim=0), samples.std(dim=1).mean() + 0 * samples.mean(dim=0)"),
    "all jets at once, batch_size ignored": ("get_prediction", "torch.split(x, batch_size)", "[x]"),
    "model left in training mode": ("get_prediction", "    model.eval()\n", "    model.train()\n"),
}


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
EXPLICIT_NET = '''
class BayesConvNet2D(nn.Module):
    def __init__(self, training_size, in_ch=1, ch=4, out_dim=1, img_sz=40):
        super().__init__()
        self.training_size = training_size
        self.conv1 = BBBConv2d(in_ch, ch, kernel_size=5, padding=2)
        self.pool = nn.MaxPool2d(kernel_size=2)
        self.conv2 = BBBConv2d(ch, 1, kernel_size=(5, 5), padding=2)
        self.out = VBLinear(img_sz * img_sz // 16, out_dim)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = F.max_pool2d(self.conv2(x), 2)
        return torch.sigmoid(self.out(torch.flatten(x, start_dim=1)))

    def KL(self):
        return (self.conv1.KL() + self.conv2.KL() + self.out.KL()) / self.training_size
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
    return float(np.mean(nlls)) + kl, kl, float(np.mean(nlls))
'''
SAMPLES_INNER = '''
def get_prediction(x, model, n_monte=20, batch_size=1000):
    model.eval()
    means, stds = [], []
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            batch = x[start:start + batch_size]
            draws = torch.cat([model(batch) for _ in range(n_monte)], dim=1)  # (batch, n_monte)
            means.append(draws.mean(dim=1))
            stds.append(draws.std(dim=1, unbiased=False))
    return torch.cat(means), torch.cat(stds)
'''
ALTERNATIVES = {
    "softplus by hand, noise with normal_(), KL from torch.distributions": ("bbbconv2d", STABLE_BY_HAND),
    "explicit forward with F.relu and F.max_pool2d": ("bayesconvnet2d", EXPLICIT_NET),
    "nn.BCELoss, lists and np.mean, a decorated evaluation": ("train_epoch", LOSS_MODULE),
    "batches outer, samples inner, biased std": ("get_prediction", SAMPLES_INNER),
}


(test_the_solution_gets_full_marks, test_a_wrong_answer_loses_points,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, WRONG, ALTERNATIVES)
