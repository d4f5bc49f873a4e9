"""Leagues on OpenSpiel games, exploitability per iteration, and ``league eval --exploitability``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from league.cli import app
from league.exploitability import MIXTURE
from league.manager import LeagueManager
from league.matchmaking import make_plan
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")

runner = CliRunner()
ROSTER = {"main_exploiters": 1, "league_exploiters": 0, "scripted": ["random"]}


@pytest.mark.parametrize("game, measured", [
    ("openspiel:leduc_poker", True),
    ("openspiel:liars_dice", False),
    ("openspiel:tic_tac_toe", False),  # no information-state tensor: the observation tensor
])
def test_a_short_league_runs_on_the_game(tmp_path, game, measured):
    config = tiny_config(tmp_path, game=game, roster=ROSTER,
                         evaluation={"exploitability_every": 1 if measured else 0})
    with LeagueManager(config) as league:
        reports = league.run()
        assert league.ledger.match_count() == league.total_episodes + league.anchor_matches > 0
        assert len(league.snapshots) >= 2  # main and its exploiter froze after each iteration
        assert reports[-1].evaluation is not None and reports[-1].evaluation.games == 20
        ratings = league.ratings()
        assert {"main", "main_exploiter", "random"} <= set(ratings)
        if measured:
            assert [it for it, _ in league.ledger.exploitability()] == [1, 2]
            values = reports[-1].exploitability
            assert set(values) == {"main", "main_exploiter", MIXTURE}
            assert all(0.0 <= v < 4.75 for v in values.values())  # Leduc's uniform random: 2.37
        else:
            assert reports[-1].exploitability == {}


@pytest.fixture(scope="module")
def kuhn_run(tmp_path_factory):
    """A two-iteration Kuhn poker league measured every iteration, and main exported."""
    tmp_path = tmp_path_factory.mktemp("kuhn")
    config = tiny_config(tmp_path, game="openspiel:kuhn_poker", roster=ROSTER,
                         evaluation={"exploitability_every": 1})
    with LeagueManager(config) as league:
        reports = league.run()
    out = tmp_path / "export"
    result = runner.invoke(app, ["export", "main", "--run-dir", str(config.run_dir), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return config.run_dir, out, reports


def test_kuhn_league_is_measured_every_iteration_and_status_shows_it(kuhn_run):
    run_dir, _, reports = kuhn_run
    for report in reports:
        assert set(report.exploitability) == {"main", "main_exploiter", MIXTURE}
        # Between a Nash equilibrium (0) and the worst Kuhn policy (a best response wins at most 2 chips).
        assert all(0.0 <= v <= 2.0 for v in report.exploitability.values())
    status = json.loads(runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"]).output)
    assert status["exploitability"] == [{"iteration": r.iteration, **r.exploitability} for r in reports]
    table = runner.invoke(app, ["status", "--run-dir", str(run_dir)]).output
    assert f"exploitability (iteration {reports[-1].iteration})" in table
    page = run_dir / "report.html"
    assert runner.invoke(app, ["report", "--run-dir", str(run_dir), "--out", str(page)]).exit_code == 0
    chart = page.read_text().split('id="exploitability"', 1)[1].split("</section>", 1)[0]
    assert chart.count("<svg") == 1 and chart.count("<path") > 10  # the lines of main, its exploiter, the mixture


def test_eval_exploitability_of_the_export_matches_the_league_measure(kuhn_run):
    _, out, reports = kuhn_run
    result = runner.invoke(app, ["eval", "--exploitability", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["game"] == "openspiel:kuhn_poker" and data["source"] == "export"
    assert data["exploitability"]["main"] == pytest.approx(reports[-1].exploitability["main"], abs=1e-5)


def test_eval_exploitability_of_the_run_gives_players_and_the_nash_mixture(kuhn_run):
    run_dir, _, reports = kuhn_run
    result = runner.invoke(app, ["eval", "--exploitability", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["exploitability"] == pytest.approx(reports[-1].exploitability, abs=1e-5)
    assert sum(data["mixture_weights"].values()) == pytest.approx(1.0)
    assert set(data["mixture_weights"]) == {"main_v1", "main_v2", "main_exploiter_v1", "main_exploiter_v2"}
    table = runner.invoke(app, ["eval", "--exploitability", str(run_dir)])
    assert "Nash mixture of the snapshots" in table.output


def test_exported_kuhn_agent_takes_the_information_state_vector(kuhn_run):
    import pyspiel

    from agents.opponent import load_opponent
    from envs.openspiel import OpenSpielEnv

    _, out, _ = kuhn_run
    bot = load_opponent(out)
    game = pyspiel.load_game("kuhn_poker")
    env = OpenSpielEnv("kuhn_poker")
    rng = np.random.default_rng(0)
    chips = 0.0
    for k in range(50):
        env.reset(seed=k)
        bot_agent = env.possible_agents[k % 2]
        for agent in env.agent_iter():
            observation, reward, terminated, truncated, _ = env.last()
            if terminated or truncated:
                chips += reward if agent == bot_agent else 0.0
                env.step(None)
                continue
            player = env.possible_agents.index(agent)
            vector = np.asarray(env.state.information_state_tensor(player), dtype=np.float32)
            np.testing.assert_array_equal(observation["observation"], vector)
            if agent == bot_agent:
                action = bot.act(vector, observation["action_mask"], explore=True, rng=rng)
            else:
                action = int(rng.choice(np.flatnonzero(observation["action_mask"])))
            assert action in env.state.legal_actions(player)
            env.step(action)
    assert np.isfinite(chips) and chips == pytest.approx(round(chips))  # whole chips won or lost
    assert game.num_distinct_actions() == bot.num_actions


def test_exploitability_is_refused_for_a_game_without_it(tmp_path):
    toml = tmp_path / "c4.toml"
    toml.write_text('game = "connect_four"\n[evaluation]\nexploitability_every = 1\n')
    result = runner.invoke(app, ["run", str(toml), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "evaluation.exploitability_every" in result.output


def test_eval_exploitability_refuses_a_folder_that_is_neither_export_nor_run(tmp_path):
    result = runner.invoke(app, ["eval", "--exploitability", str(tmp_path)])
    assert result.exit_code == 2
    assert re.search(r"neither an export folder .*opponent\.json.* nor a run folder .*run\.json",
                     result.output)


def test_a_resumed_nash_matchmaker_league_plays_the_nash_weights_of_its_checkpoint(tmp_path):
    config = tiny_config(tmp_path, game="openspiel:kuhn_poker", iterations=3,
                         roster={"main_exploiters": 0, "league_exploiters": 0, "scripted": []},
                         matchmaking={"matchmaker": "league.matchmaking:NashMatchmaker"},
                         evaluation={"games": 0, "exploitability_every": 1})
    with LeagueManager(config) as league:
        league.run(2)
        plan = make_plan(league.matchmaker, league.view(3), num_seats=2, seed=0).for_learner("main")
        uninterrupted = dict(zip(plan.lineups, plan.probabilities, strict=True))  # what iteration 3 would play
    measured = json.loads(runner.invoke(app, ["eval", "--exploitability", str(config.run_dir), "--json"]).output)
    nash = {(k,): w for k, w in measured["mixture_weights"].items() if w > 0}
    assert uninterrupted == pytest.approx(nash) and len(nash) >= 1
    with LeagueManager.resume(config.run_dir) as league:
        plan = league.plan.for_learner("main")
        assert dict(zip(plan.lineups, plan.probabilities, strict=True)) == pytest.approx(nash)
        report = league.step()
    assert report.iteration == 3 and set(report.exploitability) == {"main", MIXTURE}


def test_exploitability_refuses_games_it_does_not_cover(tmp_path):
    toml = tmp_path / "auction.toml"
    toml.write_text('game = "openspiel:first_sealed_auction"\n[evaluation]\nexploitability_every = 1\n')
    result = runner.invoke(app, ["run", str(toml), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "evaluation.exploitability_every" in result.output and "zero-sum" in result.output
    toml.write_text('game = "openspiel:breakthrough"\n[evaluation]\nexploitability_every = 1\n')
    result = runner.invoke(app, ["run", str(toml), "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and "no information-state string" in result.output


def test_the_nash_matchmaker_without_the_exploitability_measure_is_refused_with_exit_code_2(tmp_path):
    # The Kuhn recipe measures exploitability every 5 iterations; this file turns the measure off.
    (tmp_path / "psro.toml").write_text('[matchmaking]\nmatchmaker = "league.matchmaking:NashMatchmaker"\n'
                                        '[evaluation]\nexploitability_every = 0\n')
    result = runner.invoke(app, ["run", str(tmp_path / "psro.toml"), "--game", "openspiel:kuhn_poker",
                                 "--iterations", "1", "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    message = "matchmaking.matchmaker: 'league.matchmaking:NashMatchmaker' plays the meta-game Nash of the snapshots"
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "run").exists()  # refused before anything was created
