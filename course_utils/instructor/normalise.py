"""A submitted notebook's nbgrader cell metadata made the release's, before anything runs it.

nbgrader stops a whole ``nbgrader autograde`` (every student, not the one) at cell metadata it does not expect:
a grade id on two cells (a test cell a student copied and pasted: ``DeduplicateIds`` empties the metadata of all
but the last, which ``CheckCellMetadata`` then rejects), another ``schema_version`` (``SchemaTooOldError``,
``SchemaTooNewError``), metadata its schema refuses. :func:`normalise_cells` leaves nbgrader nothing of the
student's to judge: each cell of the release that carries nbgrader metadata (test, answer and locked cells)
keeps its identity on one cell of the submission, the one that carries its grade id, has its cell type and
comes first after the previous such cell (the original, where a copy was pasted above or below it), and that
cell gets the release's metadata as it is (a changed ``schema_version``, ``points``, ``grade`` or ``locked``
flag comes back). Every other cell loses its nbgrader metadata: a pasted test cell becomes an ordinary code
cell, which runs as the student's code (its visible asserts), while nbgrader restores the original and its
hidden tests from the source. An instructor cell with no cell carrying its id is what nbgrader makes of a
deleted cell (0 on it, a manual grade). Nothing a student writes in cell metadata then changes a score, so a
normalised submission is graded as usual, with a note in the run log, and not flagged.

:data:`MAX_CELLS` bounds the work one submission makes (each cell costs the serial replay and the feedback).
"""
from __future__ import annotations

import copy

import nbformat

#: a submitted notebook with more cells than this (or than CELLS_PER_RELEASE_CELL times its release's) is not
#: graded automatically: 0, flagged for a manual grade
MAX_CELLS = 2000
CELLS_PER_RELEASE_CELL = 5


def cell_limit(release) -> int:
    """The most cells a submission of ``release`` may hold."""
    return max(MAX_CELLS, CELLS_PER_RELEASE_CELL * len(release.cells))


def _nbgrader(cell) -> dict | None:
    metadata = cell.get("metadata")
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else None


def instructor_cells(release) -> dict[str, nbformat.NotebookNode]:
    """Grade id -> the release's cell, for every cell nbgrader grades, restores or keeps (in notebook order)."""
    found = {}
    for cell in release.cells:
        meta = _nbgrader(cell) or {}
        if isinstance(meta.get("grade_id"), str) and any(meta.get(k) for k in ("grade", "solution", "locked", "task")):
            found.setdefault(meta["grade_id"], cell)
    return found


def _retyped(cell, cell_type: str):
    """``cell`` as a cell of ``cell_type``: same source, metadata and id, no outputs or attachments."""
    make = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
            "raw": nbformat.v4.new_raw_cell}
    new = make[cell_type](source=cell.get("source", ""), metadata=cell.metadata)
    if "id" in cell:
        new["id"] = cell["id"]
    else:
        new.pop("id", None)
    return new


def normalise_cells(notebook, release) -> list[str]:
    """Give ``notebook``'s cells the release's nbgrader metadata (see the module docstring), in place; returns
    what was changed, as notes for the run log (empty: the notebook is as nbgrader expects it)."""
    canonical = instructor_cells(release)
    notes, cleared, foreign, copies = [], 0, 0, {}
    positions: dict[str, list[int]] = {}
    for index, cell in enumerate(notebook.cells):
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
            cleared += 1
        grade_id = (_nbgrader(cell) or {}).get("grade_id")
        if isinstance(grade_id, str) and grade_id in canonical:
            positions.setdefault(grade_id, []).append(index)
    kept, previous = {}, -1
    for grade_id, original in canonical.items():  # in the release's order
        found = positions.get(grade_id)
        if not found:
            continue
        typed = [i for i in found if notebook.cells[i].get("cell_type") == original.cell_type] or found
        previous = next((i for i in typed if i > previous), typed[0])
        kept[previous] = grade_id
    for index, cell in enumerate(notebook.cells):
        if "nbgrader" not in cell.metadata:
            continue
        grade_id = kept.get(index)
        if grade_id is None:
            carried = (_nbgrader(cell) or {}).get("grade_id")
            if isinstance(carried, str) and carried in canonical:
                copies[carried] = copies.get(carried, 0) + 1
            else:
                foreign += 1
            del cell.metadata["nbgrader"]
            continue
        original = canonical[grade_id]
        if cell.metadata["nbgrader"] != original.metadata["nbgrader"]:
            cell.metadata["nbgrader"] = copy.deepcopy(original.metadata["nbgrader"])
            notes.append(f"the nbgrader metadata of {grade_id} was not the release's: restored")
        if cell.get("cell_type") != original.cell_type:
            notes.append(f"{grade_id} was a {cell.get('cell_type')} cell: made a {original.cell_type} cell again")
            notebook.cells[index] = _retyped(cell, original.cell_type)
    for grade_id, count in copies.items():
        notes.append(f"{count} more cell{'s' if count > 1 else ''} with the id of {grade_id} "
                     f"({'pasted copies' if count > 1 else 'a pasted copy'}) run as ordinary code, not graded")
    if foreign:
        notes.append(f"nbgrader metadata removed from {foreign} cell{'s' if foreign > 1 else ''} that are no cell "
                     "of the release")
    if cleared:
        notes.append(f"{cleared} cell{'s' if cleared > 1 else ''} with metadata that is not a mapping: cleared")
    return notes
