#!/usr/bin/env python3
"""How far tutorial 02's Bayes-by-Backprop posterior is from convergence at the "ci" setting, and what
longer training changes: the ci network (2 x 400, Adam 1e-3, batches of 128, uniform split of the
complexity cost) trained on the same digits for more epochs, with the notebook's own code, checkpoints
and metrics (each with its bootstrap standard deviation over the test digits).

    .venv/bin/python benchmarks/bbb_convergence.py [--epochs 400] [--checkpoints 80 160 240 320 400]

Needs the digits (`python data/get_data.py digits data`; the offline stand-in without network). Takes
about 0.6 s an epoch on 2 CPU threads with the offline digits; run it under the course's heavy-job lock.
Up to the first checkpoint it trains exactly as the notebook does (same seeds, same order of random
draws: the evaluations at checkpoints draw from a forked generator), so its first line reproduces the
notebook's stored run on the same CPU type.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.instructor import notebooks  # noqa: E402
from course_utils.instructor.inprocess_grading import definitions_only  # noqa: E402

ASSIGNMENT = "02_mnist_bayes_by_backprop"


def notebook_namespace(scale: str) -> dict:
    """The solution notebook's definitions and settings at ``scale`` (its settings cell run as it is)."""
    solution = notebooks.read(notebooks.solution_path(ROOT, ASSIGNMENT))
    namespace: dict = {"__name__": "bbb_convergence", "SCALE": scale}
    os.environ.pop("COURSE_SCALE", None)
    for cell in solution.cells:
        if cell.cell_type != "code" or notebooks.nbgrader_meta(cell).get("grade"):
            continue
        source = notebooks.strip_solution_markers(cell.source)
        settings_cell = "SETTINGS = {" in source
        if settings_cell:
            namespace["SCALE"] = scale
        code = source if settings_cell else definitions_only(source)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "notebook", "exec"), namespace)  # noqa: S102
    namespace["PRIOR"] = dict(pi=0.5, sigma1=1.0, sigma2=math.exp(-6))
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--checkpoints", type=int, nargs="*", default=[80, 160, 240, 320, 400])
    args = parser.parse_args()
    ns = notebook_namespace("ci")
    seed, settings, prior = ns["SEED"], ns["SETTINGS"], ns["PRIOR"]
    device = ns["runtime"].setup_run(seed=seed, threads=2)
    ns["device"] = device
    data = ns["digits"].load(ns["data_dir"]())
    as_tensors = ns["as_tensors"]
    x_train, y_train = as_tensors(data.x_train, data.y_train)
    x_test, y_test = as_tensors(data.x_test, data.y_test)
    ns.update(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    print(f"{ASSIGNMENT} at ci: {len(x_train)} training digits, {len(x_test)} test digits, {settings}")

    estimate, with_error, calibration_errors = ns["estimate"], ns["with_error"], ns["calibration_errors"]
    shuffled = x_test[:, torch.randperm(784, generator=ns["runtime"].seeded_generator(seed))]
    labels = y_test.numpy()

    ns["x_val"], ns["y_val"] = as_tensors(data.x_val, data.y_val)
    torch.manual_seed(seed)
    plain = ns["DeterministicNetwork"](n_hidden=settings["hidden"]).to(device)
    with contextlib.redirect_stdout(io.StringIO()):
        ns["fit"](plain, bayesian=False, label="deterministic")
    plain.eval()
    with torch.no_grad():
        plain_proba = F.softmax(plain(x_test.to(device)), dim=-1).cpu()
    plain_hit, plain_confidence = plain_proba.argmax(dim=1).numpy() == labels, plain_proba.max(dim=1).values.numpy()
    print(f"deterministic network, {settings['epochs']} epochs: accuracy {with_error(estimate(lambda h: h.mean(-1), plain_hit))}, "
          f"ECE {with_error(estimate(calibration_errors, plain_hit, plain_confidence))}, mean confidence minus accuracy "
          f"{with_error(estimate(lambda h, c: c.mean(-1) - h.mean(-1), plain_hit, plain_confidence))}", flush=True)

    def ece_gap(h1, c1, h2, c2):
        return calibration_errors(h1, c1) - calibration_errors(h2, c2)

    def evaluate(model) -> str:
        with torch.random.fork_rng():
            mean = ns["mc_predict"](model, x_test.to(device), n_samples=settings["n_monte"])[0].cpu()
            other = ns["mc_predict"](model, shuffled.to(device), n_samples=settings["n_monte"])[0].cpu()
        hit = (mean.argmax(dim=1).numpy() == labels)
        confidence = mean.max(dim=1).values.numpy()
        pruned = {f: ns["pruned_hits"](model, f) for f in (0.0, 0.95, 0.98)}
        with torch.no_grad():
            sigmas = torch.cat([F.softplus(layer.weight_rho).flatten() for layer in model.layers]).cpu()
        spike = float((sigmas < 1.5 * prior["sigma2"]).double().mean())
        wide = float((sigmas > F.softplus(torch.tensor(-4.5))).double().mean())
        return (f"accuracy {with_error(estimate(lambda h: h.mean(-1), hit))}, ECE {with_error(estimate(calibration_errors, hit, confidence))} "
                f"(deterministic minus this {with_error(estimate(ece_gap, plain_hit, plain_confidence, hit, confidence))}), "
                f"mean confidence minus accuracy {with_error(estimate(lambda h, c: c.mean(-1) - h.mean(-1), hit, confidence))}, "
                f"confidence on shuffled digits {with_error(estimate(lambda c: c.mean(-1), other.max(dim=1).values.numpy()))}, "
                f"mean-weight accuracy with 0 / 95 / 98 % pruned "
                + " / ".join(with_error(estimate(lambda h: h.mean(-1), pruned[f])) for f in (0.0, 0.95, 0.98))
                + f"; widths below 1.5 sigma2: {spike:.1%}, above the initial range: {wide:.1%}")

    loader = ns["DataLoader"](ns["TensorDataset"](x_train, y_train), batch_size=settings["batch_size"], shuffle=True,
                              generator=ns["runtime"].seeded_generator(seed))
    torch.manual_seed(seed)
    model = ns["BayesianNeuralNetwork"](n_hidden=settings["hidden"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    n_batches, start = len(loader), time.perf_counter()
    n_weights = sum(p.numel() for name, p in model.named_parameters() if name.endswith("_mu"))
    print(f"{n_weights} weights and biases; about log 2 nats each at best: {n_weights * math.log(2) / len(x_train):.1f} nats per digit")
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        sums = np.zeros(2)
        for index, (X, y) in enumerate(loader, start=1):
            X, y = X.to(device), y.to(device)
            log_likelihood = ns["log_categ"](model(X), y)
            loss = ns["minibatch_loss"](model.log_q, model.log_p, log_likelihood, index, n_batches, "uniform")
            optimizer.zero_grad()
            (loss / len(x_train)).backward()
            optimizer.step()
            sums += [(model.log_q - model.log_p).item() / n_batches, -log_likelihood.item()]
        history.append(sums / len(x_train))
        if epoch in args.checkpoints:
            recent = np.array(history[-11:])
            drift = (recent[0, 0] - recent[-1, 0]) / (len(recent) - 1)
            print(f"epoch {epoch:4d} ({time.perf_counter() - start:5.0f} s): complexity {history[-1][0]:.1f} nats per digit "
                  f"(falling {drift:.2f} per epoch), NLL {history[-1][1]:.4f}; {evaluate(model)}", flush=True)


if __name__ == "__main__":
    main()
