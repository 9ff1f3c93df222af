"""The behaviour checks that grade cells import (course_utils.gradecells): each passes a right case and fails a wrong one."""
import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

from course_utils.gradecells import batches, gradients, noise, returns, sampling, state


class NoisyLinear(nn.Module):
    """A toy Bayesian layer: samples unless ``sample=False`` is passed."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.mu = nn.Parameter(torch.randn(n_out, n_in))
        self.log_sigma = nn.Parameter(torch.zeros(n_out, n_in))

    def forward(self, x, sample=True):
        weight = self.mu + torch.exp(self.log_sigma) * torch.randn_like(self.mu) if sample else self.mu
        return x @ weight.T


class TwoLayers(nn.Module):
    def __init__(self, sample_in_eval_second=True):
        super().__init__()
        self.first, self.second = NoisyLinear(4, 3), NoisyLinear(3, 2)
        self.sample_in_eval_second = sample_in_eval_second

    def forward(self, x):
        return self.second(torch.relu(self.first(x)), sample=self.training or self.sample_in_eval_second)


def test_every_layer_samples_passes_a_network_whose_layers_all_sample():
    net = TwoLayers().eval()
    assert sampling.layers_that_sample(net, torch.randn(5, 4), [net.first, net.second]) == [True, True]
    sampling.assert_every_layer_samples(net, torch.randn(5, 4), [net.first, net.second])
    assert not net.training, "the check leaves the mode alone"


def test_every_layer_samples_names_a_layer_that_uses_its_means_in_eval_mode():
    net = TwoLayers(sample_in_eval_second=False).eval()
    # the network as a whole still varies: only the replay shows which layer is silent
    x = torch.randn(5, 4)
    assert not torch.equal(net(x), net(x))
    assert sampling.layers_that_sample(net, x, [net.first, net.second]) == [True, False]
    with pytest.raises(AssertionError, match="NoisyLinear #2"):
        sampling.assert_every_layer_samples(net, x, [net.first, net.second])
    net.train()
    sampling.assert_every_layer_samples(net, x, [net.first, net.second])


def test_a_layer_never_called_does_not_count_as_sampling():
    net = TwoLayers().eval()
    unused = NoisyLinear(2, 2)
    assert sampling.layers_that_sample(net, torch.randn(2, 4), [unused]) == [False]


def test_state_snapshot_sees_grad_mode_frozen_parameters_modes_and_flags():
    net = TwoLayers()
    net.first.resample = True
    before = state.snapshot(net, flags=("resample",))
    assert state.differences(before, state.snapshot(net, flags=("resample",))) == []
    torch.set_grad_enabled(False)
    try:
        after = state.snapshot(net, flags=("resample",))
    finally:
        torch.set_grad_enabled(True)
    assert any("autograd" in d for d in state.differences(before, after))
    net.first.mu.requires_grad_(False)
    net.first.resample = False
    net.eval()
    found = state.differences(before, state.snapshot(net, flags=("resample",)))
    assert any("requires_grad" in d for d in found) and any("resample" in d for d in found)
    assert any("mode" in d for d in found)
    assert not any("mode" in d for d in state.differences(before, state.snapshot(net, ("resample",)), ignore=("training",)))
    with pytest.raises(AssertionError, match="left state behind"):
        state.assert_state_kept(before, state.snapshot(net, ("resample",)), "the call")
    assert state.modes(net) == {False}


def test_gradients_tell_terms_apart():
    mu, rho = nn.Parameter(torch.randn(3)), nn.Parameter(torch.randn(3))
    params = {"mu": mu, "rho": rho}
    sample = mu + torch.nn.functional.softplus(rho) * torch.randn(3)
    gradients.assert_reaches(sample.sum(), params, ["mu", "rho"], "the sample")
    detached = mu.data + torch.nn.functional.softplus(rho) * torch.randn(3)
    with pytest.raises(AssertionError, match="into mu"):
        gradients.assert_reaches(detached.sum(), params, ["mu", "rho"], "the sample")
    gradients.assert_misses(detached.sum(), params, ["mu"], "the sample")
    with pytest.raises(AssertionError):
        gradients.assert_misses(sample.sum(), params, ["mu"], "the sample")
    assert gradients.reached(torch.tensor(1.0), params) == {"mu": False, "rho": False}


def test_noise_independence_catches_shared_noise():
    torch.manual_seed(0)
    noise.assert_independent(torch.randn(400, 6, 5), "independent weights")
    row_shared = torch.randn(400, 6, 1).expand(400, 6, 5)
    with pytest.raises(AssertionError, match="independently"):
        noise.assert_independent(row_shared, "row-shared weights")
    with pytest.raises(AssertionError):
        noise.assert_independent(torch.randn(400, 1).expand(400, 4), "one value for all biases")
    with pytest.raises(AssertionError):
        noise.assert_independent(torch.zeros(400, 3), "constant")
    noise.assert_follows(torch.zeros(2, dtype=torch.float64), torch.ones(1, dtype=torch.float64), "the noise")
    with pytest.raises(AssertionError, match="float32"):
        noise.assert_follows(torch.zeros(2), torch.ones(1, dtype=torch.bfloat16), "the noise")


def test_loaders_with_batch_edges():
    data = TensorDataset(torch.arange(10.0).unsqueeze(1), torch.zeros(10, 1))
    loader = batches.loader_with_batches(data, [4, 5, 1])
    assert loader.batch_size is None
    assert [len(x) for x, _ in loader] == [4, 5, 1] and len(loader) == 3
    assert batches.batch_sizes(10, 4) == [4, 4, 2] and batches.batch_sizes(8, 4) == [4, 4]
    assert batches.mean_of_batch_means(np.arange(10.0), [4, 5, 1]) == pytest.approx((1.5 + 6.0 + 9.0) / 3)
    with pytest.raises(ValueError):
        batches.loader_with_batches(data, [4, 4])


def test_returns_types_and_close():
    returns.assert_float(1.5, "x")
    returns.assert_float(np.float64(1.5), "x")
    for wrong in (torch.tensor(1.5), np.array(1.5), 1, np.float32(1.5)):
        with pytest.raises(AssertionError):
            returns.assert_float(wrong, "x")
    returns.assert_array(np.zeros(3), "x", (3,))
    with pytest.raises(AssertionError):
        returns.assert_array(torch.zeros(3), "x")
    with pytest.raises(AssertionError):
        returns.assert_array(np.zeros(4), "x", (3,))
    returns.assert_tensor(torch.zeros(2, 3), "x", (2, 3))
    with pytest.raises(AssertionError):
        returns.assert_tensor(np.zeros(3), "x")
    assert returns.close(torch.tensor([1.0, 2.0], dtype=torch.float64), torch.tensor([1.0, 2.0]))
    assert returns.close([1.0, 2.0], np.array([1.0, 2.0 + 1e-9]))
    assert not returns.close(torch.zeros(2), torch.zeros(3))
    assert not returns.close(torch.zeros(2), torch.ones(2))


def test_in_process_grading_puts_torch_global_state_back(root):
    """A graded answer that switches autograd off or changes the default dtype does not leak into the next grading."""
    from course_utils.instructor import notebooks
    from course_utils.instructor.inprocess_grading import grade, solution_answers

    solution = notebooks.read(notebooks.solution_path(root, "01_amplitude_regression"))
    answers = solution_answers(solution)
    first = next(iter(answers))
    sloppy = {**answers, first: answers[first] + "\ntorch.set_grad_enabled(False)\ntorch.set_default_dtype(torch.float64)\n"}
    grade(solution, sloppy)
    assert torch.is_grad_enabled() and torch.get_default_dtype() == torch.float32
