#!/usr/bin/env python3
"""What the kernel sandbox costs at its start: seconds until a grading kernel answers, started as plain
nbgrader starts it (jupyter_client, TCP) and in its sandbox (bubblewrap, ipc sockets), alternately.

    .venv/bin/python benchmarks/kernel_start.py [--starts 10]

Prints the mean and the standard error of the mean per way. Needs bubblewrap (`make sandbox`).
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jupyter_client.manager import AsyncKernelManager  # noqa: E402

from course_utils.instructor.sandbox.kernel_manager import SandboxedKernelManager  # noqa: E402


async def seconds_to_ready(manager_class) -> float:
    start = time.perf_counter()
    manager = manager_class(kernel_name="python3")
    await manager.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"])
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=120)
    ready = time.perf_counter() - start
    client.stop_channels()
    await manager.shutdown_kernel(now=True)
    return ready


async def main(starts: int) -> None:
    times: dict[str, list[float]] = {"plain": [], "sandboxed": []}
    for _ in range(starts):
        times["plain"].append(await seconds_to_ready(AsyncKernelManager))
        times["sandboxed"].append(await seconds_to_ready(SandboxedKernelManager))
    for way, values in times.items():
        error = statistics.stdev(values) / len(values) ** 0.5
        print(f"{way:10s} kernel ready in {statistics.mean(values):.3f} ± {error:.3f} s ({starts} starts)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=10)
    asyncio.run(main(parser.parse_args().starts))
