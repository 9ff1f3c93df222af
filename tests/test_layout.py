"""course_utils is laid out by layer, and imports only ever point down the layers."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "course_utils"
# layer of each subpackage: a module may import its own subpackage and lower layers only
LAYERS = {"physics": 0, "datafiles": 0, "gradecells": 0, "datasets": 1, "grading": 1, "notebook": 2, "instructor": 3}


def subpackage_of(module: str) -> str | None:
    """'course_utils.datasets.digits' -> 'datasets'; None for the package itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "course_utils" else None


def imported_modules(path: Path, source: str) -> list[str]:
    """Absolute names of the course_utils modules that ``source`` (the module at ``path``) imports."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found += [prefix] + [f"{prefix}.{alias.name}" for alias in node.names]
    return [name for name in found if name.startswith("course_utils")]


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def test_every_module_sits_in_a_known_layer():
    assert {p.name for p in PACKAGE.glob("*.py")} == {"__init__.py"}, "modules go into a layer's folder"
    assert {p.relative_to(PACKAGE).parts[0] for p in MODULES} == set(LAYERS)


def upward_imports(path: Path, source: str) -> list[str]:
    """The imports of ``source`` that reach a layer above (or beside) the module's own."""
    own = path.relative_to(PACKAGE).parts[0]
    wrong = []
    for name in imported_modules(path, source):
        target = subpackage_of(name)
        if target is None or target == own or target not in LAYERS:
            continue  # the package itself, its own subpackage, or a module name inside a subpackage
        if LAYERS[target] >= LAYERS[own]:
            wrong.append(name)
    return wrong


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_the_layers(path):
    assert not upward_imports(path, path.read_text()), "a layer may only import the layers below it"


def test_layer_check_catches_wrong_imports():
    """The check above can fail: upward and sideways imports are reported, downward ones are not."""
    physics = PACKAGE / "physics" / "probe.py"
    notebook = PACKAGE / "notebook" / "probe.py"
    assert upward_imports(physics, "from ..datasets import registry\nfrom . import lorentz\n") == \
        ["course_utils.datasets", "course_utils.datasets.registry"]
    assert upward_imports(physics, "import course_utils.datafiles.errors\n") == ["course_utils.datafiles.errors"]
    assert upward_imports(notebook, "from course_utils.instructor import notebooks\n")
    assert not upward_imports(notebook, "from ..datasets.digits import load\nfrom ..physics import lorentz\n")


def test_the_student_side_of_grading_imports_nothing_of_the_grader_side():
    """The trust boundary of ``course_utils.grading``: what runs in the student's kernel (``student_side``, and
    the shared ``wire`` and ``modules``) never imports the grader's side, where checks and references live."""
    grading = PACKAGE / "grading"
    student_side = sorted((grading / "student_side").glob("*.py")) + [grading / "wire.py", grading / "modules.py"]
    for path in student_side:
        imported = imported_modules(path, path.read_text())
        assert not [name for name in imported if "grader_side" in name or "instructor" in name], path.name
    assert imported_modules(grading / "student_side" / "probe_server.py",
                            "from ..grader_side import checks\n") == ["course_utils.grading.grader_side",
                                                                       "course_utils.grading.grader_side.checks"]


def test_every_make_target_the_guides_name_is_a_target_and_in_make_help():
    import re
    import subprocess

    root = Path(__file__).resolve().parents[1]
    texts = [root / "README.md", root / "data" / "README.md", *sorted((root / "docs").glob("*.md"))]
    named = {m for path in texts for m in re.findall(r"`make ([a-z][a-z-]+)", path.read_text())}
    targets = set(re.findall(r"^([a-z][a-z-]*):", (root / "Makefile").read_text(), flags=re.M))
    shown = subprocess.run(["make", "-s", "help"], cwd=root, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"[a-z][a-z-]+", shown))
    assert named and named <= targets, named - targets
    assert named - {"help"} <= listed, named - listed
