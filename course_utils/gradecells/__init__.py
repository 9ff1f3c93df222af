"""Behaviour checks that the notebooks' test cells import.

Everything here runs inside the student's kernel, beside the student's code, exactly as the test
cells do. The checks are generic (does every Bayesian layer draw new weights, which state does a
call leave behind, which parameters does a loss term reach, is the noise independent, what happens
at batch edges, what type comes back) and hold no answer to any exercise.

- ``sampling``: whether each Bayesian layer of a network samples within one forward pass;
- ``state``: grad mode, module modes, ``requires_grad`` and flags before and after a call;
- ``gradients``: which parameters a term (a loss, log q, log p) reaches through autograd;
- ``layers``: the layers a network holds, by class name (for local modules and handles alike);
- ``training``: an optimizer over a model's parameters, made where the model lives;
- ``draws``: many passes of a stochastic layer or function (one request through a handle);
- ``noise``: independence of sampled noise, and its dtype and device;
- ``batches``: data loaders with awkward batch edges (a last batch of one, unequal batches,
  ``batch_size=None`` as the course's own loaders have);
- ``returns``: return types and comparisons of values whatever their dtype or container.

May import nothing else of the course (a bottom layer, like ``physics``).
"""
