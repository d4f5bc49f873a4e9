"""Time-boxed runs (issue 19): the stopping rule and the config's limits, without Ray."""

from __future__ import annotations

import re

import pytest

from league.budget import StopReason, TimeBudget, stop_reason
from league.config import LeagueConfig, load_config, validate_config
from league.errors import ConfigError


@pytest.mark.parametrize(("iteration", "target", "elapsed_s", "budget_s", "expected"), [
    (0, 30, 0.0, None, None),                          # no budget: only the iteration target
    (30, 30, 0.0, None, StopReason.ITERATIONS),
    (3, None, 59.9, 60.0, None),                        # budget not yet spent: another iteration
    (3, None, 60.0, 60.0, StopReason.TIME_BUDGET),      # spent exactly: stop
    (3, 30, 75.0, 60.0, StopReason.TIME_BUDGET),        # the budget comes first
    (30, 30, 75.0, 60.0, StopReason.ITERATIONS),        # both at once: the run ended normally
    (5, 30, 10.0, 60.0, None),
])
def test_stop_reason_stops_at_whichever_limit_comes_first(iteration, target, elapsed_s, budget_s, expected):
    assert stop_reason(iteration=iteration, target=target, elapsed_s=elapsed_s, budget_s=budget_s) is expected


def test_a_time_budget_is_spent_once_its_minutes_have_passed_on_its_clock():
    now = [1000.0]
    budget = TimeBudget.of_minutes(0.5, clock=lambda: now[0])
    assert budget.seconds == 30.0 and budget.elapsed() == 0.0 and not budget.spent()
    now[0] += 29.5
    assert budget.elapsed() == 29.5 and not budget.spent()
    now[0] += 0.5
    assert budget.spent()
    unlimited = TimeBudget.of_minutes(None, clock=lambda: now[0])
    now[0] += 1e9
    assert unlimited.seconds is None and not unlimited.spent()


def test_minutes_alone_lift_the_iteration_limit_and_both_keep_both():
    assert load_config(None, {}).iterations == 30 and load_config(None, {}).minutes is None
    alone = load_config(None, {"minutes": 2.5})
    assert (alone.iterations, alone.minutes) == (None, 2.5)
    both = load_config(None, {"minutes": "0.5", "iterations": 4})
    assert (both.iterations, both.minutes) == (4, 0.5)
    # A stored run (run.json) keeps its limits as they were: no iteration limit stays none.
    assert LeagueConfig.model_validate(alone.model_dump(mode="json")).iterations is None
    with pytest.raises(ConfigError, match=re.escape(
            "iterations: None runs without an iteration limit and needs minutes (a time budget)")):
        validate_config({"iterations": None})


@pytest.mark.parametrize(("value", "problem"), [
    ("0", "Input should be greater than 0 (got '0')"),
    ("-1", "Input should be greater than 0 (got '-1')"),
    ("abc", "Input should be a valid number, unable to parse string as a number (got 'abc')"),
    ("inf", "Input should be a finite number (got 'inf')"),
])
@pytest.mark.parametrize("resume", [False, True])
def test_a_bad_minutes_is_a_one_line_usage_error_naming_the_flag(tmp_path, value, problem, resume):
    from typer.testing import CliRunner

    from league.cli import app

    args = ["run", "--game", "tictactoe", "--run-dir", str(tmp_path / "run"), "--minutes", value]
    result = CliRunner().invoke(app, args + (["--resume"] if resume else []), env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    assert result.output == f"error: invalid config (--minutes): minutes: {problem}\n"
    assert not (tmp_path / "run").exists()  # refused before anything was made
