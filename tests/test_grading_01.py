"""Tutorial 01's grade cells against plausible wrong answers (each must lose points) and against
differently written right answers (each must keep full marks)."""
from grading_harness import grading_tests

ASSIGNMENT = "01_amplitude_regression"


# (grade_id, old, new): one slip each
WRONG = {
    "noise shared by all weights of a row": (
        "vblinear", "self.random = torch.randn_like(self.logsig2_w)",
        "self.random = torch.randn(1, self.in_features).expand_as(self.logsig2_w)"),
    "noise shared by all weights of a column": (
        "vblinear", "self.random = torch.randn_like(self.logsig2_w)",
        "self.random = torch.randn(self.out_features, 1).expand_as(self.logsig2_w)"),
    "one noise value for the whole layer": (
        "vblinear", "self.random = torch.randn_like(self.logsig2_w)",
        "self.random = torch.randn(()).expand_as(self.logsig2_w)"),
    "sigma = exp(logsig2) instead of its square root": (
        "vblinear", "torch.exp(0.5 * self.logsig2_w) * self.random", "torch.exp(self.logsig2_w) * self.random"),
    "noise drawn even when frozen": (
        "vblinear", "if self.resample:\n            self.random", "if True:\n            self.random"),
    "KL without the -1": (
        "vblinear", "- self.logsig2_w - 1.0)", "- self.logsig2_w)"),
    "KL with the biases": (
        "vblinear", "return 0.5 * torch.sum(", "return 0.5 * torch.sum(self.bias ** 2) + 0.5 * torch.sum("),
    "logsig2_w initialised at 0": (
        "vblinear", "nn.init.normal_(self.logsig2_w, mean=-9.0, std=0.001)", "nn.init.normal_(self.logsig2_w, mean=0.0, std=0.001)"),
    "NLL summed over the batch": (
        "neg_log_gauss", "return torch.mean(", "return torch.sum("),
    "NLL with sigma instead of sigma^2": (
        "neg_log_gauss", "torch.exp(-log_var)", "torch.exp(-0.5 * log_var)"),
    "NLL targets not flattened": (
        "neg_log_gauss", "targets = targets.reshape(-1)", "targets = targets"),
    "tanh instead of ReLU": (
        "bayes_amp_net", "stack += [vb_layer, nn.ReLU()]", "stack += [vb_layer, nn.Tanh()]"),
    "no activation at all (an affine network)": (
        "bayes_amp_net", "stack += [vb_layer, nn.ReLU()]", "stack += [vb_layer]"),
    "ReLU after the output layer too": (
        "bayes_amp_net", "self.model = nn.Sequential(*stack, self.vb_layers[-1])",
        "self.model = nn.Sequential(*stack, self.vb_layers[-1], nn.ReLU())"),
    "leaky ReLU": (
        "bayes_amp_net", "stack += [vb_layer, nn.ReLU()]", "stack += [vb_layer, nn.LeakyReLU(0.1)]"),
    "KL not divided by the training size": (
        "bayes_amp_net", "for vb_layer in self.vb_layers) / self.training_size", "for vb_layer in self.vb_layers)"),
    "no zero_grad": (
        "train_epoch", "        optimizer.zero_grad()\n", ""),
    "validation with gradients": (
        "train_epoch", "    with torch.no_grad():\n        kl = model.KL().item()", "    if True:\n        kl = model.KL().item()"),
    "KL left out of the training loss": (
        "train_epoch", "loss = nll + kl\n", "loss = nll\n"),
    "sigma_stoch as the mean of sigma": (
        "get_prediction", "sigma_stoch = torch.sqrt(variances.mean(dim=0))",
        "sigma_stoch = torch.sqrt(variances).mean(dim=0)"),
    "sigma_stoch from the mean log variance": (
        "get_prediction", "sigma_stoch = torch.sqrt(variances.mean(dim=0))",
        "sigma_stoch = torch.exp(0.5 * outputs[..., 1].mean(dim=0))"),
    "sigma_model from the variances": (
        "get_prediction", "sigma_model = means.std(dim=0, unbiased=False)",
        "sigma_model = variances.std(dim=0, unbiased=False)"),
    "sigma_tot as a plain sum": (
        "get_prediction", "sigma_tot = torch.sqrt(sigma_model**2 + sigma_stoch**2)", "sigma_tot = sigma_model + sigma_stoch"),
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

ALTERNATIVES = {
    "torch.distributions likelihood": ("neg_log_gauss", ALTERNATIVE_NLL),
    "F.gaussian_nll_loss": ("neg_log_gauss", GAUSSIAN_NLL),
    "explicit layers, inplace ReLU, F.relu and clamp": ("bayes_amp_net", EXPLICIT_NET),
    "NumPy, batches outer and samples inner, ddof=1": ("get_prediction", NUMPY_PREDICTION),
    "the draft's layer (noise as a plain attribute, clamped KL)": ("vblinear", DRAFT_STYLE_LAYER),
}


(test_the_solution_gets_full_marks, test_a_wrong_answer_loses_points,
 test_a_differently_written_right_answer_keeps_full_marks) = grading_tests(ASSIGNMENT, WRONG, ALTERNATIVES)
