"""pyproject.toml tells the truth: every imported package declared, ranges not pins, one version, py.typed,
and CI's exact versions in a constraints file that .ci/run passes to pip (issue 22)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import league

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("league", "agents", "envs")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group(0)).lower()


def _declared() -> dict[str, str]:
    requirements = list(PYPROJECT["dependencies"])
    for extra in PYPROJECT["optional-dependencies"].values():
        requirements.extend(extra)
    return {_name(r): r for r in requirements}


def _imported_top_level() -> set[str]:
    names: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in PACKAGES and n != "__future__"}


def test_every_imported_third_party_package_is_declared():
    distributions = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for module in sorted(_imported_top_level()):
        if module not in distributions:
            continue  # not installed here (an optional import); nothing to map it to
        names = {_name(d) for d in distributions[module]}
        if not names & declared.keys():
            missing[module] = sorted(names)
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"
    assert "dm-tree" in declared  # `import tree`
    assert "tomli" not in declared  # tomllib is the standard library's on every supported Python


def test_dependencies_are_ranges_and_ci_pins_this_machines_cpu_torch():
    declared = _declared()
    assert not [r for r in declared.values() if "==" in r], "an exact pin downgrades a user's newer release"
    assert declared["torch"] == "torch>=2.4"
    constraints = (ROOT / "constraints" / "ci.txt").read_text()
    assert re.search(r"^torch==2\.13\.0\+cpu$", constraints, re.M)
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r'pip install .*-c constraints/ci\.txt -e "\.\[test,tf,lint\]"', ci)


def test_python_versions_and_the_one_version_source():
    assert PYPROJECT["requires-python"] == ">=3.11,<3.12"  # tomllib (3.11+); 3.11 is the version tested
    assert "Programming Language :: Python :: 3.11" in PYPROJECT["classifiers"]
    assert "version" not in PYPROJECT and PYPROJECT["dynamic"] == ["version"]
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert setuptools["dynamic"]["version"] == {"attr": "league.__version__"}
    assert importlib.metadata.version("league") == league.__version__


def test_packages_ship_py_typed():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package in PACKAGES:
        assert (ROOT / package / "py.typed").is_file()
        assert "py.typed" in setuptools["package-data"][package]
