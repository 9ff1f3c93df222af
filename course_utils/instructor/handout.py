"""The handout: what a student receives for one assignment, and nothing else.

``python -m course_utils.instructor handout A [--due B ...]`` writes ``build/handout/A/`` and ``build/handout/A.zip``:

    README.md            how to set up, fetch the data, work, validate and hand in
    environment.yml      the conda environment (pyproject.toml for pip), without the course's test tools
    pyproject.toml
    nbgrader_config.py   cell time limits for Validate (no grading settings)
    data/get_data.py     the data command, for this assignment's dataset
    course_utils/        only the modules the notebook and the data command import (never ``instructor``)
    A/A.ipynb            the student notebook (nbgrader's release: no solutions, no hidden tests)

Before anything is written, :func:`leaks` checks the handout in a scratch folder: no solution or
hidden-test region, none of this assignment's answers, and no definition that would earn points in
another assignment whose due date has not passed (``--due`` names those that have). Nothing is
written when a check fails.
"""
from __future__ import annotations

import ast
import re
import shutil
import tempfile
from pathlib import Path

import nbformat

from . import notebooks
from .inprocess_grading import grade, solution_answers

HANDOUT_DIR = Path("build") / "handout"
PACKAGE = "course_utils"
#: packages only the course's tests and the instructor's services need (a handout's environment leaves them out)
INSTRUCTOR_ONLY = ("pytest", "nbval", "playwright", "jupyterhub", "dask", "distributed", "psycopg")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


class HandoutLeak(RuntimeError):
    """A handout would give away what it must not."""


# --- which modules a handout needs -------------------------------------------------------------

def imported_modules(source: str, module: str | None = None) -> set[str]:
    """Absolute names of the course_utils modules (and packages) that ``source`` imports;
    ``module`` is the importing module's own name, for relative imports."""
    package = module.rsplit(".", 1)[0] if module else ""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")}


def module_path(root: Path, name: str) -> Path | None:
    """The file of module or package ``name`` below ``root``, or None (a name imported from a module)."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_closure(root: Path, start: set[str]) -> set[Path]:
    """Files of ``start`` and of every course module they import, with their packages' ``__init__.py``."""
    files: set[Path] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # the packages on the way
            path = module_path(root, ".".join(parts[:depth]))
            if path is None or path in files:
                continue
            files.add(path)
            own = ".".join(parts[:depth]) + (".__init__" if path.name == "__init__.py" else "")
            todo += sorted(imported_modules(path.read_text(), own))
    return files


def notebook_modules(notebook) -> set[str]:
    """The course modules the notebook's code cells import (magics and shell lines skipped)."""
    found: set[str] = set()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            try:
                found |= imported_modules(code)
            except SyntaxError:
                continue
    return found


def data_command_modules(root: Path, assignment: str) -> set[str]:
    """What ``data/get_data.py`` imports, plus the module of each dataset ``assignment`` uses."""
    from ..datasets import registry

    entries = registry.for_assignment(assignment)
    return imported_modules((root / "data" / "get_data.py").read_text()) | {
        f"{PACKAGE}.datasets.{entry.module}" for entry in entries}


# --- the files beside the notebook -------------------------------------------------------------

def project_dependencies(pyproject: str) -> list[str]:
    """The ``[project] dependencies`` list of a pyproject.toml (read without tomllib, for Python 3.10)."""
    block = re.search(r"^dependencies\s*=\s*\[(.*?)^\]", pyproject, re.S | re.M)
    if block is None:
        raise ValueError("pyproject.toml has no [project] dependencies list")
    return re.findall(r'^\s*"([^"]+)"', block.group(1), re.M)


def _student_dependencies(root: Path) -> list[str]:
    return [d for d in project_dependencies((root / "pyproject.toml").read_text())
            if not d.lower().startswith(INSTRUCTOR_ONLY)]


def _pyproject(root: Path, assignment: str) -> str:
    deps = "".join(f'    "{d}",\n' for d in _student_dependencies(root))
    return (f'[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "course-utils"\nversion = "0.1.0"\n'
            f'description = "Helpers for the tutorial {assignment} of the course Bayesian deep learning for particle physics"\n'
            f'requires-python = ">=3.10"\ndependencies = [\n{deps}]\n\n'
            f'[tool.setuptools.packages.find]\ninclude = ["course_utils*"]\n')


def _environment(root: Path) -> str:
    kept = []
    for line in (root / "environment.yml").read_text().splitlines():
        entry = line.strip().removeprefix("- ").strip()
        if line.lstrip().startswith("#") or entry.lower().startswith(INSTRUCTOR_ONLY):
            continue
        kept.append(line)
    return "# Conda environment for this tutorial: conda env create -f environment.yml && conda activate bdl-course\n" + \
        "\n".join(kept) + "\n"


NBGRADER_CONFIG = '''"""nbgrader settings for Validate: how long each cell may run (no grading settings here)."""
from course_utils.notebook.validation import configure_validate

configure_validate(get_config())  # noqa: F821  (provided by nbgrader when it loads this file)
'''


def _readme(assignment: str, datasets: list) -> str:
    data_lines = "\n".join(f"    python data/get_data.py {entry.number} data   # {entry.name}" for entry in datasets)
    return f"""# {assignment}

Your copy of this tutorial of *Bayesian deep learning for particle physics*.

## Set up once

With conda:

    conda env create -f environment.yml
    conda activate bdl-course

or with pip (Python 3.10 or newer):

    python -m venv .venv && . .venv/bin/activate
    pip install -e .

## The data

The notebook fetches its data when it first runs; to fetch it beforehand:

{data_lines}

Without network access an offline stand-in in the same layout is generated, and the notebook says
which one it loaded. Your instructor may name a class mirror: `--mirror URL`.

## Work and hand in

    jupyter lab

Open `{assignment}/{assignment}.ipynb`. Each exercise is a cell with `raise NotImplementedError()`:
replace it with your code. The test cells that follow hold visible tests; more tests run at grading,
so read each exercise's text carefully. Before handing in, run *Kernel → Restart and run all*, then
click **Validate** in the notebook's toolbar. Hand in `{assignment}.ipynb` as your instructor asks
(the Assignments tab on a course JupyterHub).
"""


# --- building and checking -----------------------------------------------------------------------

def _write(root: Path, assignment: str, target: Path) -> None:
    release = notebooks.release_path(root, assignment)
    if not release.is_file():
        raise FileNotFoundError(f"no student notebook {release}: run `make notebooks` first")
    from ..datasets import registry

    student = notebooks.read(release)
    modules = notebook_modules(student) | data_command_modules(root, assignment)
    files = module_closure(root, modules)
    if any(path.relative_to(root).parts[:2] == (PACKAGE, "instructor") for path in files):
        raise HandoutLeak(f"{assignment}'s notebook or data command imports course_utils.instructor")
    for path in sorted(files):
        destination = target / path.relative_to(root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, destination)
    (target / "data").mkdir(exist_ok=True)
    shutil.copy2(root / "data" / "get_data.py", target / "data" / "get_data.py")
    notebooks.write(student, target / assignment / f"{assignment}.ipynb")
    (target / "pyproject.toml").write_text(_pyproject(root, assignment))
    (target / "environment.yml").write_text(_environment(root))
    (target / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
    (target / "README.md").write_text(_readme(assignment, registry.for_assignment(assignment)))


def handout_text(folder: Path) -> dict[Path, str]:
    """Every text file of a handout, notebooks as the code and markdown their cells hold."""
    texts = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".ipynb":
            notebook = notebooks.read(path)
            texts[path] = "\n".join(cell.source for cell in notebook.cells)
        elif path.suffix in (".py", ".md", ".yml", ".toml", ".txt", ".cfg", ".json"):
            texts[path] = path.read_text()
    return texts


def _normalised_lines(code: str) -> list[str]:
    lines = []
    for line in code.splitlines():
        line = re.sub(r"\s+", " ", line.split("#", 1)[0]).strip()
        if len(line) >= 12 and not line.startswith(("def ", "class ", "return", "raise NotImplementedError")):
            lines.append(line)
    return lines


def _answer_windows(code: str, width: int = 3, min_chars: int = 90) -> set[tuple[str, ...]]:
    """Runs of ``width`` consecutive code lines with ``min_chars`` characters or more between them
    (boilerplate such as ``model.eval()`` / ``with torch.no_grad():`` alone is too short to count)."""
    lines = _normalised_lines(code)
    windows = (tuple(lines[i:i + width]) for i in range(max(0, len(lines) - width + 1)))
    return {window for window in windows if sum(map(len, window)) >= min_chars}


def _definitions(texts: dict[Path, str]) -> dict[str, str]:
    """Top-level function and class definitions of the handout's code, by name."""
    found: dict[str, str] = {}
    for path, text in texts.items():
        if path.suffix == ".ipynb":
            notebook = nbformat.read(str(path), as_version=4)
            sources = [c.source for c in notebook.cells if c.cell_type == "code"]
        elif path.suffix == ".py":
            sources = [text]
        else:
            continue
        for source in sources:
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    found.setdefault(node.name, ast.get_source_segment(source, node))
    return found


def answered_cells(root: Path, other: str, definitions: dict[str, str]) -> list[str]:
    """Grade cells of assignment ``other`` that the ``definitions`` (name -> source) pass, used as answers."""
    solution = notebooks.read(notebooks.solution_path(root, other))
    answers = solution_answers(solution)
    untouched = notebooks.read(notebooks.release_path(root, other))
    stubs = {gid: cell.source for gid, cell in notebooks.solution_cells(untouched).items()}
    candidate, borrowed = dict(stubs), set()
    for grade_id, code in answers.items():
        names = [n.name for n in ast.parse(code).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        found = [definitions[name] for name in names if name in definitions]
        if found:
            candidate[grade_id] = "\n\n".join(found)
            borrowed.add(grade_id)
    if not borrowed:
        return []
    report = grade(solution, candidate)
    borrowed_tests = {gid for answer in borrowed for gid in notebooks.grade_ids_after(solution, answer)}
    return sorted(gid for gid in borrowed_tests if report.points.get(gid, 0) > 0)


def _copied_answers(root: Path, assignment: str, handout_windows: set) -> list[str]:
    """Exercises of ``assignment`` whose solution code (inside its solution regions) the handout repeats."""
    solution = notebooks.read(notebooks.solution_path(root, assignment))
    found = []
    for grade_id, cell in notebooks.solution_cells(solution).items():
        regions = "\n".join(match.group(1) for match in notebooks.SOLUTION_REGION.finditer(cell.source))
        if _answer_windows(regions) & handout_windows:
            found.append(f"the handout holds lines of the solution to {assignment}'s exercise {grade_id!r}")
    return found


def leaks(root: Path, assignment: str, folder: Path, due: tuple[str, ...] = ()) -> list[str]:
    """What the handout in ``folder`` gives away that it must not; empty when it is clean."""
    texts = handout_text(folder)
    problems = [f"{path.relative_to(folder)} holds the marker {marker!r}"
                for path, text in texts.items() for marker in MARKERS if marker in text]
    for part in ("solutions", "tests", "grading", f"{PACKAGE}/instructor"):
        if (folder / part).exists():
            problems.append(f"the handout holds {part}/")
    everything = "\n".join(texts.values())
    handout_windows = _answer_windows(everything)
    problems += _copied_answers(root, assignment, handout_windows)
    definitions = _definitions(texts)
    for other in sorted(p.name for p in (root / "solutions").glob("[0-9]*") if p.is_dir()):
        if other == assignment or other in due:
            continue
        problems += _copied_answers(root, other, handout_windows)
        passed = answered_cells(root, other, definitions)
        if passed:
            problems.append(f"definitions in the handout earn points in {other} (not yet due): {', '.join(passed)}; "
                            f"hand it out after {other} is due (--due {other})")
    return problems


def build_handout(root: Path, assignment: str, out: Path | None = None, due: tuple[str, ...] = ()) -> Path:
    """Build and check the handout of ``assignment``; return its zip. Nothing is written if a check fails."""
    out = Path(out) if out else root / HANDOUT_DIR
    with tempfile.TemporaryDirectory(prefix=f"handout-{assignment}-") as scratch:
        staged = Path(scratch) / assignment
        _write(root, assignment, staged)
        problems = leaks(root, assignment, staged, due)
        if problems:
            raise HandoutLeak(f"the handout of {assignment} was not written:\n  " + "\n  ".join(problems))
        out.mkdir(parents=True, exist_ok=True)
        archive = shutil.make_archive(str(Path(scratch) / assignment), "zip", root_dir=scratch, base_dir=assignment)
        final = out / assignment
        if final.exists():
            shutil.rmtree(final)
        shutil.copytree(staged, final)
        shutil.move(archive, out / f"{assignment}.zip")
    return out / f"{assignment}.zip"
