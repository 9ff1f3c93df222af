"""The course summary table printed at the end of ``make course``."""
from __future__ import annotations

import json
from pathlib import Path

from .execute import results_dir
from .expectations import expected_ranges, out_of_range


def _format_metrics(metrics: dict) -> str:
    shown = {k: v for k, v in metrics.items() if k not in ("scale",)}
    return ", ".join(f"{k}={v}" for k, v in shown.items()) or "-"


def _range_check(root: Path, assignment: str, result: dict) -> str:
    ranges = expected_ranges(root, assignment).get(result["scale"])
    if not ranges:
        return "none stated"
    problems = out_of_range(result["metrics"], ranges)
    return "all in range" if not problems else "OUT OF RANGE: " + "; ".join(problems)


def summary_table(root: Path, assignments: list[str]) -> str:
    folder = results_dir(root)
    demo_file = folder / "demo.json"
    demo = json.loads(demo_file.read_text()) if demo_file.exists() else {}
    lines = ["| notebook | scale | runtime | key metrics | expected ranges | demo class scores |",
             "|---|---|---|---|---|---|"]
    for assignment in assignments:
        runs = sorted(folder.glob(f"{assignment}.*.json"))
        scores = demo.get(assignment, {}).get("students", {})
        score_text = ", ".join(
            f"{student} {info['score']:g}/{info['max_score']:g}" for student, info in sorted(scores.items())
        ) or "not graded"
        if not runs:
            lines.append(f"| {assignment} | - | not executed | - | - | {score_text} |")
        for run in runs:
            result = json.loads(run.read_text())
            lines.append(
                f"| {assignment} | {result['scale']} | {result['runtime_s']:.0f} s | "
                f"{_format_metrics(result['metrics'])} | {_range_check(root, assignment, result)} | {score_text} |"
            )
    for assignment, result in demo.items():
        if assignment in assignments:
            lines.append("")
            lines.append(f"demo class of {assignment}: " + "; ".join(
                f"{student} = {info['description']}" for student, info in sorted(result["students"].items())))
    return "\n".join(lines)
