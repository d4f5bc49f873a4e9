"""The docstring examples (``>>>``) of ``league/``, ``agents/`` and ``envs/`` run, and pass.

One test per module that has examples, found by reading the source files, so
collecting this file imports nothing and a module that gains its first example
is tested without a change here. Each module is imported only when its test
runs; a module whose optional dependency (the ``tf`` extra) is missing is
skipped, not failed. Examples run as ``python -m doctest`` runs them (no option
flags), each docstring in a fresh copy of its module's globals. None of them
starts Ray or trains; an example that needs a running league is marked
``# doctest: +SKIP`` in its docstring.
"""

from __future__ import annotations

import doctest
import importlib
import io
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

#: The repository root (this file is tests/test_doctests.py).
REPO_ROOT = Path(__file__).resolve().parents[1]
#: The packages whose docstring examples run.
PACKAGES = ("league", "agents", "envs")
#: Modules (or whole packages) whose examples do not run here (a name covers the module and, for a
#: package, every module under it). Empty: every module's examples run.
NOT_YET_COLLECTED: tuple[str, ...] = ()
#: Modules never imported here: ``python -m league`` runs the CLI when it is imported.
NEVER_IMPORTED = ("league.__main__",)
#: Optional dependencies (the ``tf`` extra): a module that needs a missing one is skipped.
OPTIONAL_DEPENDENCIES = ("tensorflow", "tf_keras", "tf2onnx")
#: How League's own import errors name a missing extra (``pip install 'league[tf]'``).
MISSING_EXTRA_HINT = "pip install 'league["


def module_name(path: Path, root: Path = REPO_ROOT) -> str:
    """The dotted module name of source file ``path`` under ``root`` (a package's ``__init__.py``: the package)."""
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def is_covered_by(name: str, prefixes: tuple[str, ...]) -> bool:
    """Whether module ``name`` is one of ``prefixes`` or inside one of them."""
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in prefixes)


def modules_with_examples(root: Path = REPO_ROOT) -> list[str]:
    """Every module of :data:`PACKAGES` whose source has a ``>>>`` example, less the excluded ones, sorted."""
    names = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = module_name(path, root)
            if is_covered_by(name, NOT_YET_COLLECTED + NEVER_IMPORTED):
                continue
            if ">>>" in path.read_text(encoding="utf-8"):
                names.append(name)
    return sorted(names)


def import_for_doctest(name: str) -> ModuleType:
    """Import module ``name``; skip the test when an optional dependency it needs is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing = e.name if isinstance(e, ModuleNotFoundError) else None
        if (missing and missing.split(".")[0] in OPTIONAL_DEPENDENCIES) or MISSING_EXTRA_HINT in str(e):
            pytest.skip(f"{name} needs an optional dependency that is not installed: {e}")
        raise


def run_examples(module: ModuleType) -> tuple[int, int, str]:
    """Run every docstring example of ``module``: (examples tried, examples failed, the failure report)."""
    report = io.StringIO()
    runner = doctest.DocTestRunner(verbose=False)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module):
        runner.run(test, out=report.write)
    return runner.tries, runner.failures, report.getvalue()


MODULES = modules_with_examples()


def test_the_examples_are_found():
    # A sanity floor, so a broken scan cannot pass by finding nothing (33 modules had examples when this was added).
    assert len(MODULES) >= 20, MODULES
    assert "league.ratings" in MODULES and "envs.registry" in MODULES and "agents.search" in MODULES


@pytest.mark.parametrize("prefix", NOT_YET_COLLECTED + NEVER_IMPORTED)
def test_every_excluded_name_is_a_module_of_the_repository(prefix):
    # A stale entry (a module renamed or removed) would hide nothing and should go.
    relative = Path(*prefix.split("."))
    assert (REPO_ROOT / relative.with_suffix(".py")).is_file() or (REPO_ROOT / relative / "__init__.py").is_file()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_pass(name):
    module = import_for_doctest(name)
    tried, failed, report = run_examples(module)
    if failed:
        pytest.fail(f"{failed} of {tried} docstring examples of {name} failed:\n{report}", pytrace=False)
    if tried == 0:
        pytest.skip(f"every docstring example of {name} is marked +SKIP (it needs a league run's output)")


@pytest.fixture
def scratch_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, str], str]]:
    """Write a module of the given source on a temporary ``sys.path`` entry; return its name (forgotten after)."""
    names: list[str] = []

    def write(name: str, source: str) -> str:
        (tmp_path / f"{name}.py").write_text(source)
        names.append(name)
        return name

    monkeypatch.syspath_prepend(str(tmp_path))
    yield write
    for name in names:
        sys.modules.pop(name, None)


def test_a_module_needing_a_missing_optional_dependency_is_skipped(scratch_module, monkeypatch):
    name = scratch_module("needs_tensorflow_for_doctest", "import tensorflow\n")
    monkeypatch.setitem(sys.modules, "tensorflow", None)  # None in sys.modules: `import tensorflow` fails
    with pytest.raises(pytest.skip.Exception, match="needs an optional dependency"):
        import_for_doctest(name)


def test_a_module_naming_a_missing_extra_is_skipped(scratch_module):
    # As agents/tf_models.py does when TensorFlow is missing.
    name = scratch_module("needs_extra_for_doctest",
                          "raise ImportError(\"the tf2 framework needs TensorFlow: pip install 'league[tf]'\")\n")
    with pytest.raises(pytest.skip.Exception, match="needs an optional dependency"):
        import_for_doctest(name)


def test_a_module_with_a_broken_import_fails(scratch_module):
    name = scratch_module("broken_import_for_doctest", "import no_such_module_anywhere\n")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_anywhere"):
        import_for_doctest(name)


def test_a_failing_example_is_reported(scratch_module):
    name = scratch_module("wrong_example_for_doctest", '"""\n>>> 1 + 1\n3\n"""\n')
    tried, failed, report = run_examples(importlib.import_module(name))
    assert (tried, failed) == (1, 1)
    assert "Expected:\n    3\nGot:\n    2" in report
