"""The read-only commands import neither Ray nor torch nor TensorFlow.

``league status``, ``league report`` and ``league prune --dry-run`` read a stopped
run from its folder (run.json, its embedded Redis, its snapshot store): none of
them trains, so none may pay for Ray, torch or TensorFlow at start-up. Each
runs here as ``python -X importtime -m league ...`` on a real run folder that
``league run`` wrote (one tiny Connect Four iteration, in its own process, so this
module never starts Ray itself).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Top-level packages that reading a run must not import.
HEAVY = frozenset({"ray", "torch", "tensorflow"})

#: One iteration of a league small enough to train in seconds (see tests.conftest.tiny_config).
TINY_RUN_TOML = """\
game = "connect_four"
[training]
train_batch_size = 400
minibatch_size = 64
num_epochs = 1
hiddens = [32]
[resources]
num_envs_per_env_runner = 4
[snapshots]
max_iterations_per_snapshot = 1
[evaluation]
games = 10
[ratings]
anchor_games = 4
"""


def _league(*args: str, importtime: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python [-X importtime] -m league ARGS`` and return the finished process."""
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "league", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200"})


def _imported_top_level(stderr: str) -> set[str]:
    """The top-level packages ``-X importtime`` lists in ``stderr`` (``ray`` for ``ray.rllib`` too)."""
    return {line.rsplit("|", 1)[1].strip().split(".")[0] for line in stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stopped run's folder, written by one tiny ``league run`` iteration."""
    folder = tmp_path_factory.mktemp("light-imports")
    config = folder / "tiny.toml"
    config.write_text(TINY_RUN_TOML)
    run = folder / "run"
    done = _league("run", str(config), "--iterations", "1", "--run-dir", str(run), "--no-recipe", "--quiet",
                   timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return run


def _snapshot_files(run: Path) -> list[str]:
    """Every file under the run's snapshot store, to show a dry run changed none."""
    return sorted(str(p.relative_to(run)) for p in (run / "snapshots").rglob("*") if p.is_file())


def test_status_imports_neither_ray_nor_torch_nor_tensorflow(run_dir: Path) -> None:
    table = _league("status", "--run-dir", str(run_dir), importtime=True)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "main_exploiter" in table.stdout and "Payoff" in table.stdout  # the table was drawn
    imported = _imported_top_level(table.stderr)
    assert {"league", "redis"} <= imported  # -X importtime's list was read
    assert not imported & HEAVY, sorted(imported & HEAVY)

    as_json = _league("status", "--run-dir", str(run_dir), "--json", importtime=True)
    assert as_json.returncode == 0, as_json.stderr[-3000:]
    assert json.loads(as_json.stdout)["iteration"] == 1
    assert not _imported_top_level(as_json.stderr) & HEAVY


def test_report_imports_neither_ray_nor_torch_nor_tensorflow(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    report = _league("report", "--run-dir", str(run_dir), "--out", str(out), importtime=True)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "report written to" in report.stdout and out.stat().st_size > 0
    imported = _imported_top_level(report.stderr)
    assert "league" in imported
    assert not imported & HEAVY, sorted(imported & HEAVY)


def test_a_dry_run_prune_imports_neither_ray_nor_torch_nor_tensorflow(run_dir: Path) -> None:
    before = _snapshot_files(run_dir)
    prune = _league("prune", "--run-dir", str(run_dir), "--keep-last", "1", "--dry-run", importtime=True)
    assert prune.returncode == 0, prune.stderr[-3000:]
    assert prune.stdout.startswith("would remove "), prune.stdout
    imported = _imported_top_level(prune.stderr)
    assert "league" in imported
    assert not imported & HEAVY, sorted(imported & HEAVY)
    assert _snapshot_files(run_dir) == before  # a dry run changes nothing
