"""A time-boxed league run (issue 19): it stops within one iteration of its budget, checkpointed, and
resumes with a fresh budget."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from league.budget import StopReason
from league.checkpoint import latest_checkpoint
from league.cli import app
from league.manager import LeagueManager
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")

MAIN_ONLY = {"main_exploiters": 0, "league_exploiters": 0, "scripted": []}
MINUTES = 0.15  # a 9-second budget: a few tic-tac-toe iterations of about 3-4 s on 2 busy cores


def _seconds(report) -> float:
    """An iteration's wall time, from its report (restore time is part of league_time_s)."""
    return report.train_time_s + report.league_time_s + report.evaluation_time_s


def test_a_time_boxed_run_stops_within_one_iteration_of_its_budget_checkpointed_and_resumes(tmp_path):
    # Evaluation and checkpoints are far apart: only the budget's last iteration makes them due.
    config = tiny_config(tmp_path, game="tictactoe", iterations=1000, minutes=MINUTES, roster=MAIN_ONLY,
                         checkpoint_every=1000, evaluation={"games": 4, "every": 1000})
    budget = MINUTES * 60
    with LeagueManager(config) as manager:
        start = time.monotonic()
        reports = manager.run()
        wall = time.monotonic() - start
        assert manager.stop_reason is StopReason.TIME_BUDGET
        assert 1 <= len(reports) < 1000 and manager.iteration == len(reports)
        durations = [_seconds(r) for r in reports]
        # Every iteration before the last one started with budget left; the last one ended past it.
        assert sum(durations[:-1]) < budget <= wall
        assert wall <= budget + durations[-1] + 1.0, (wall, durations)
        # The last iteration is the run's end: evaluated and committed by a checkpoint, before close.
        assert reports[-1].evaluation is not None and reports[-1].evaluation.games == 4
        assert all(r.evaluation is None for r in reports[:-1])
        checkpoint = latest_checkpoint(config.run_dir)
        assert checkpoint is not None and checkpoint.state.iteration == manager.iteration
        assert set(checkpoint.players) == {"main"}
        assert manager.ledger.progress()["checkpoint"] == manager.iteration
        stopped_at = manager.iteration
    assert latest_checkpoint(config.run_dir).state.iteration == stopped_at

    runner = CliRunner()
    result = runner.invoke(app, ["run", "--resume", "--run-dir", str(config.run_dir),
                                 "--minutes", str(MINUTES), "--quiet"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert f"after iteration {stopped_at} of 1000 (resume 1), for at most {MINUTES:g} more minutes" \
        in result.output
    assert lines[-1].startswith(f"stopped on the time budget ({MINUTES:g} minutes) after iteration ")
    status = runner.invoke(app, ["status", "--run-dir", str(config.run_dir), "--json"])
    assert status.exit_code == 0, status.output
    data = json.loads(status.output)
    assert data["iteration"] > stopped_at and data["checkpoint"] == data["iteration"] and data["resumes"] == 1
    assert f"after iteration {data['iteration']}, checkpointed" in lines[-1]
    assert data["wall_seconds"] >= round(2 * MINUTES * 60) - 1  # both budgets spent, resumes included
    assert latest_checkpoint(config.run_dir).state.iteration == data["iteration"]
