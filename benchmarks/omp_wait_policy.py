"""Seconds for a small two-thread training loop beside a CPU-bound job, with OpenMP's default and passive waiting.

    .venv/bin/python benchmarks/omp_wait_policy.py [--steps 2000]

On a busy 2-core machine (a CI runner, parallel grading) OpenMP threads that spin while they wait steal the
cores from the other job and from each other; OMP_WAIT_POLICY=PASSIVE (set by the Makefile and the tests)
lets them sleep. Prints both times and their ratio.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys

LOOP = """
import time, torch
torch.set_num_threads(2)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(20, 50), torch.nn.ReLU(), torch.nn.Linear(50, 50), torch.nn.ReLU(),
                          torch.nn.Linear(50, 2))
optimizer = torch.optim.Adam(net.parameters())
x, y = torch.randn(128, 20), torch.randn(128, 2)
start = time.perf_counter()
for _ in range({steps}):
    loss = ((net(x) - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(time.perf_counter() - start)
"""


def _busy() -> None:
    while True:
        pass


def timed(steps: int, policy: str | None) -> float:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    done = subprocess.run([sys.executable, "-c", LOOP.format(steps=steps)], env=env, capture_output=True, text=True,
                          check=True)
    return float(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000)
    args = parser.parse_args()
    hog = multiprocessing.Process(target=_busy, daemon=True)
    hog.start()
    try:
        default, passive = timed(args.steps, None), timed(args.steps, "PASSIVE")
    finally:
        hog.terminate()
    print(f"{args.steps} training steps, 2 threads, beside one CPU-bound process on {os.cpu_count()} cores:")
    print(f"  OpenMP default waiting: {default:.2f} s")
    print(f"  OMP_WAIT_POLICY=PASSIVE: {passive:.2f} s   (default / passive = {default / passive:.1f})")


if __name__ == "__main__":
    main()
