"""pyproject.toml (pip) and environment.yml (conda) must list the same packages and pins."""
import re
import tomllib

import pytest

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*$")
CONDA_TO_PIP = {"pytables": "tables"}  # the same package under another name on conda-forge


def normalise(requirement: str) -> tuple[str, str]:
    name, spec = REQUIREMENT.match(requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements(root) -> dict[str, str]:
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return dict(normalise(r) for r in listed)


def environment_requirements(root) -> dict[str, str]:
    """Packages of environment.yml: conda entries (conda pins '=x' read as '==x') and pip entries."""
    found = {}
    lines = (root / "environment.yml").read_text().splitlines()
    in_dependencies = False
    for line in lines:
        if line.startswith("dependencies:"):
            in_dependencies = True
            continue
        if in_dependencies and (match := re.match(r"^\s*-\s+(.+?)\s*$", line)):
            entry = match.group(1)
            if entry in ("pip", "pip:", "-e .") or entry.startswith("python"):
                continue
            name, spec = normalise(entry)
            found[CONDA_TO_PIP.get(name, name)] = re.sub(r"^=(?!=)", "==", spec)
    return found


def test_pyproject_and_environment_agree(root):
    assert environment_requirements(root) == pyproject_requirements(root)


@pytest.mark.parametrize("package, pin", [("torch", "==2.13.0"), ("nbgrader", "==0.9.6"), ("pythia8mc", "==8.317.2")])
def test_required_pins(root, package, pin):
    assert pyproject_requirements(root)[package] == pin


def test_environment_installs_course_utils(root):
    assert "- -e ." in (root / "environment.yml").read_text()
