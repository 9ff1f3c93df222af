"""The instructor report: which exercises a class got wrong, and why, from a course's gradebook.

For each assignment: per grade cell and per exercise (an answer cell and the test cells after it), the
mean score, the fraction of students with full marks and the failure messages seen most often in the
autograded notebooks; per student, the total of every assignment; the submissions the last class run
flagged for a manual grade, with the reasons (``grading/runs/<A>.json``), and the submission folders the last
collect refused, by student (``grading/runs/<A>.collect.json``). Written to ``grading/reports/``
as CSV files and one figure per assignment (a heat map of students x grade cells beside a bar chart per
exercise).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import notebooks
from .nbgrader_cli import grades

#: failure messages listed per grade cell
TOP_MESSAGES = 3


@dataclass
class AssignmentScores:
    """One assignment's autograded scores: students x grade cells, in notebook order."""

    assignment: str
    scores: pd.DataFrame            # rows: students, columns: grade ids
    max_scores: pd.Series           # per grade id
    exercises: dict[str, list[str]]  # answer cell id -> its grade ids
    failures: dict[str, Counter]    # grade id -> failure message -> count


def gradebook_scores(course_dir: Path, assignment: str) -> tuple[pd.DataFrame, pd.Series]:
    """Scores (students x grade cells) and maximum scores of ``assignment`` from the gradebook."""
    cell_grades = grades(course_dir, assignment)
    scores = pd.DataFrame({s: {c: v[0] for c, v in cells.items()} for s, cells in cell_grades.items()}).T.sort_index()
    maxima = {c: v[1] for cells in cell_grades.values() for c, v in cells.items()}
    return scores, pd.Series(maxima, dtype=float)


def failure_message(output) -> str:
    """One line that names a failure: the exception and the first line of its message."""
    message = str(output.get("evalue", "")).strip().splitlines()
    text = f"{output.get('ename', 'Error')}: {message[0]}" if message and message[0] else output.get("ename", "Error")
    return re.sub(r"\s+", " ", text)[:120]


def failure_messages(course_dir: Path, assignment: str) -> dict[str, Counter]:
    """Per grade id, how often each failure message appears in the autograded notebooks."""
    failures: dict[str, Counter] = {}
    for path in sorted((Path(course_dir) / "grading" / "autograded").glob(f"*/{assignment}/*.ipynb")):
        try:
            autograded = notebooks.read(path)
        except Exception:  # a notebook nbgrader could not write whole: its scores are in the gradebook
            continue
        for cell in notebooks.graded_cells(autograded):
            grade_id = notebooks.nbgrader_meta(cell)["grade_id"]
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    failures.setdefault(grade_id, Counter())[failure_message(output)] += 1
    return failures


def exercises_of(course_dir: Path, assignment: str) -> dict[str, list[str]]:
    """Answer cell id -> its grade cells, from the assignment's source notebooks."""
    result: dict[str, list[str]] = {}
    for path in sorted((Path(course_dir) / "solutions" / assignment).glob("*.ipynb")):
        source = notebooks.read(path)
        for answer in notebooks.answer_ids(source):
            result[answer] = notebooks.grade_ids_after(source, answer)
    return result


def assignment_scores(course_dir: Path, assignment: str) -> AssignmentScores:
    scores, maxima = gradebook_scores(course_dir, assignment)
    exercises = exercises_of(course_dir, assignment)
    order = [grade_id for ids in exercises.values() for grade_id in ids]
    order += [c for c in scores.columns if c not in order]
    scores = scores.reindex(columns=[c for c in order if c in scores.columns]).fillna(0.0)
    return AssignmentScores(assignment, scores, maxima.reindex(scores.columns), exercises,
                            failure_messages(course_dir, assignment))


def cell_table(result: AssignmentScores) -> pd.DataFrame:
    """Per grade cell: exercise, points, mean score, fraction with full marks, top failure messages."""
    exercise_of = {grade_id: answer for answer, ids in result.exercises.items() for grade_id in ids}
    full = result.scores.eq(result.max_scores, axis=1)
    rows = []
    for grade_id in result.scores.columns:
        counts = result.failures.get(grade_id, Counter()).most_common(TOP_MESSAGES)
        rows.append({
            "grade_cell": grade_id,
            "exercise": exercise_of.get(grade_id, ""),
            "points": result.max_scores[grade_id],
            "mean_score": round(float(result.scores[grade_id].mean()), 3),
            "full_marks_fraction": round(float(full[grade_id].mean()), 3),
            "top_failures": " | ".join(f"{count}x {message}" for message, count in counts),
        })
    return pd.DataFrame(rows)


def exercise_table(result: AssignmentScores) -> pd.DataFrame:
    """Per exercise: points, mean score, fraction of students with all of its points."""
    rows = []
    for answer, ids in result.exercises.items():
        ids = [i for i in ids if i in result.scores.columns]
        if not ids:
            continue
        earned, points = result.scores[ids].sum(axis=1), float(result.max_scores[ids].sum())
        rows.append({"exercise": answer, "points": points, "mean_score": round(float(earned.mean()), 3),
                     "full_marks_fraction": round(float((earned == points).mean()), 3)})
    return pd.DataFrame(rows)


def student_totals(course_dir: Path, assignments: list[str]) -> pd.DataFrame:
    """Students x assignments: total autograded score (NaN: no submission)."""
    totals = {a: assignment_scores(course_dir, a).scores.sum(axis=1) for a in assignments}
    table = pd.DataFrame(totals)
    table.index.name = "student"
    return table


def plot_assignment(result: AssignmentScores, path: Path) -> Path:
    """Heat map of students x grade cells (fraction of the cell's points) and a bar chart per exercise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fractions = result.scores.div(result.max_scores, axis=1).to_numpy()
    exercises = exercise_table(result)
    height = max(3.5, 0.28 * len(result.scores) + 2.0)
    figure, (heat, bars) = plt.subplots(1, 2, figsize=(13, height), gridspec_kw={"width_ratios": [3, 2]})
    image = heat.imshow(fractions, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto", interpolation="nearest")
    heat.set_xticks(np.arange(fractions.shape[1]), result.scores.columns, rotation=70, ha="right", fontsize=7)
    heat.set_yticks(np.arange(fractions.shape[0]), result.scores.index, fontsize=7)
    heat.set_title(f"{result.assignment}: fraction of each test cell's points")
    figure.colorbar(image, ax=heat, fraction=0.03)
    positions = np.arange(len(exercises))
    bars.barh(positions + 0.2, exercises["mean_score"] / exercises["points"], height=0.4, label="mean score / points")
    bars.barh(positions - 0.2, exercises["full_marks_fraction"], height=0.4, label="students with full marks")
    bars.set_yticks(positions, exercises["exercise"], fontsize=8)
    bars.invert_yaxis()
    bars.set_xlim(0, 1)
    bars.set_title("per exercise")
    bars.legend(loc="lower right", fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _reasons(log: Path, key: str) -> dict[str, list[str]]:
    """Student -> reasons, the entry ``key`` of the JSON run log ``log``; empty without the log."""
    if not log.is_file():
        return {}
    return dict(sorted(json.loads(log.read_text()).get(key, {}).items()))


def flagged_students(course_dir: Path, assignment: str) -> dict[str, list[str]]:
    """Student -> why the last class run of ``assignment`` flagged their submission (0 on every test cell
    until graded by hand), from its run log; empty without a run log."""
    return _reasons(Path(course_dir) / "grading" / "runs" / f"{assignment}.json", "flagged")


def students_to_review(course_dir: Path, assignment: str) -> dict[str, list[str]]:
    """Student -> what the tamper scan found in their submission where the grader decided the grades (scores
    kept, needs a manual look), from the last class run's log; empty without a run log."""
    return _reasons(Path(course_dir) / "grading" / "runs" / f"{assignment}.json", "review")


def collect_refusals(course_dir: Path, assignment: str) -> dict[str, list[str]]:
    """Student (or folder name, where no account owns the folder) -> why the last collect of ``assignment``
    refused their submission folders, from its log; empty without a log."""
    return _reasons(Path(course_dir) / "grading" / "runs" / f"{assignment}.collect.json", "refused")


def _write_reasons(reasons: dict[str, list[str]], path: Path) -> Path:
    """``reasons`` (student -> list) as a CSV file of two columns, student and reasons."""
    pd.DataFrame({"student": list(reasons), "reasons": [" | ".join(r) for r in reasons.values()]}).to_csv(
        path, index=False)
    return path


def write_report(course_dir: Path, assignments: list[str], folder: Path | None = None) -> list[Path]:
    """CSV files and figures for ``assignments`` in ``folder`` (default ``grading/reports``)."""
    folder = Path(folder or Path(course_dir) / "grading" / "reports")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    graded = []
    for assignment in assignments:
        refused = collect_refusals(course_dir, assignment)
        if refused:
            written.append(_write_reasons(refused, folder / f"{assignment}_refused_at_collect.csv"))
        result = assignment_scores(course_dir, assignment)
        if result.scores.empty:
            continue
        graded.append(assignment)
        for name, table in (("cells", cell_table(result)), ("exercises", exercise_table(result))):
            path = folder / f"{assignment}_{name}.csv"
            table.to_csv(path, index=False)
            written.append(path)
        written.append(plot_assignment(result, folder / f"{assignment}.png"))
        flagged = flagged_students(course_dir, assignment)
        if flagged:
            written.append(_write_reasons(flagged, folder / f"{assignment}_flagged.csv"))
        to_review = students_to_review(course_dir, assignment)
        if to_review:
            written.append(_write_reasons(to_review, folder / f"{assignment}_review.csv"))
    if graded:
        path = folder / "students.csv"
        student_totals(course_dir, graded).to_csv(path)
        written.append(path)
    return written


def report_text(course_dir: Path, assignment: str) -> str:
    """A few lines for the terminal: each exercise's mean and its most frequent failure."""
    result = assignment_scores(course_dir, assignment)
    cells = cell_table(result)
    lines = [f"{assignment}: {len(result.scores)} students, mean total "
             f"{result.scores.sum(axis=1).mean():.1f}/{result.max_scores.sum():g}"]
    for row in exercise_table(result).itertuples():
        worst = cells[cells.exercise == row.exercise].sort_values("mean_score").iloc[0]
        failure = worst.top_failures.split(" | ")[0] if worst.top_failures else ""
        lines.append(f"  {row.exercise:24s} mean {row.mean_score:4.2f}/{row.points:g}  full marks "
                     f"{row.full_marks_fraction:4.0%}  {failure}")
    for student, reasons in flagged_students(course_dir, assignment).items():
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        lines.append(f"  ! {student}: flagged for a manual grade: {reasons[0][:160]}{more}")
    for student, reasons in students_to_review(course_dir, assignment).items():
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        lines.append(f"  ? {student}: to look at (scores kept): {reasons[0][:160]}{more}")
    for student, reasons in collect_refusals(course_dir, assignment).items():
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        lines.append(f"  ! {student}: refused at collect: {reasons[0][:160]}{more}")
    return "\n".join(lines)
