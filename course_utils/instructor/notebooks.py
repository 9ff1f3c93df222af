"""Reading and editing nbgrader notebooks."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import nbformat

SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION[^\n]*\n?", re.S | re.M)

def solution_path(root: Path, assignment: str) -> Path:
    return root / "solutions" / assignment / f"{assignment}.ipynb"


def release_path(root: Path, assignment: str) -> Path:
    return root / "notebooks" / assignment / f"{assignment}.ipynb"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def write(notebook: nbformat.NotebookNode, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(path))


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def graded_cells(notebook) -> Iterator:
    """Test cells that carry points."""
    return (cell for cell in notebook.cells if nbgrader_meta(cell).get("grade"))


def solution_cells(notebook) -> dict[str, nbformat.NotebookNode]:
    """Answer cells by grade_id."""
    return {nbgrader_meta(c)["grade_id"]: c for c in notebook.cells if nbgrader_meta(c).get("solution")}


def total_points(notebook) -> float:
    return float(sum(nbgrader_meta(cell).get("points", 0) for cell in graded_cells(notebook)))


def strip_solution_markers(source: str) -> str:
    """The code a perfect student would submit: the solution without its region markers."""
    return SOLUTION_REGION.sub(lambda match: match.group(1), source)


def cells_with_tag(notebook, tag: str) -> list:
    return [cell for cell in notebook.cells if tag in cell.get("metadata", {}).get("tags", [])]


def answer_ids(notebook) -> list[str]:
    """Answer cells' grade ids, in notebook order."""
    return [nbgrader_meta(c)["grade_id"] for c in notebook.cells if nbgrader_meta(c).get("solution")]


def grade_ids_after(notebook, answer_id: str, until_next_answer: bool = True) -> list[str]:
    """The grade cells after answer cell ``answer_id``: its own tests, or (not ``until_next_answer``) all of them."""
    found, result = False, []
    for cell in notebook.cells:
        meta = nbgrader_meta(cell)
        if meta.get("solution"):
            if found and until_next_answer:
                break
            found = found or meta["grade_id"] == answer_id
        elif found and meta.get("grade"):
            result.append(meta["grade_id"])
    return result
