"""The league manager on a real local Ray, a real RLlib PPO Algorithm and a real Redis."""

from __future__ import annotations

import time

import numpy as np
import pytest

from league.errors import LedgerUnavailable, SnapshotCorrupt
from league.manager import MAIN, League, LeagueManager
from league.payoff import payoff_from_matches
from league.ratings import compute_ratings
from league.rllib.algorithm import current_weights, weights_everywhere
from league.rllib.mapping import mirror_id
from league.types import PlayerId, Role
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")

EXPLOITER = PlayerId("main_exploiter")
MAIN_ONLY = {"main_exploiters": 0, "league_exploiters": 0, "scripted": []}


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _copy(weights: dict) -> dict:
    # get_weights() of a CPU torch policy returns views of the live parameters: copy.
    return {k: np.array(v, copy=True) for k, v in weights.items()}


def test_frozen_snapshot_stays_fixed_on_driver_and_remote_runner_while_main_trains(tmp_path):
    config = tiny_config(tmp_path, iterations=4, resources={"num_env_runners": 1}, roster=MAIN_ONLY,
                         snapshots={"max_iterations_per_snapshot": 100}, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        manager.step()
        snapshot = manager.snapshot()
        frozen = _copy(manager.algorithm.get_policy(MAIN).get_weights())
        # Frozen into the store (verified on load); resident only once matchmaking picks it.
        assert _same(manager.store.load(snapshot.player_id).weights, frozen)
        assert snapshot.player_id not in manager.resident

        report = manager.step()
        assert snapshot.player_id in report.restored and snapshot.player_id in manager.resident
        copies = weights_everywhere(manager.algorithm, snapshot.player_id)
        assert len(copies) == 2  # the driver's runner and one remote env runner
        assert all(_same(c, frozen) for c in copies)
        manager.step()

        main_now = weights_everywhere(manager.algorithm, MAIN)
        assert all(not _same(w, frozen) for w in main_now), "main must keep training"
        assert all(_same(c, frozen) for c in weights_everywhere(manager.algorithm, snapshot.player_id))
        assert snapshot.player_id not in manager.trainable
        # The snapshot really played: the ledger has matches with it in a seat.
        assert manager.ledger.games_played().get(snapshot.player_id, 0) > 0


def test_a_full_league_records_every_episode_rates_it_and_grows_by_role(tmp_path):
    config = tiny_config(tmp_path, iterations=3)
    with League(config) as league:
        reports = league.run()
        assert [r.iteration for r in reports] == [1, 2, 3]
        assert league.total_episodes == sum(r.episodes for r in reports) > 0
        assert league.ledger.match_count() == league.total_episodes + league.anchor_matches

        trainable = ["main", "main_exploiter", "league_exploiter"]
        assert league.trainable == trainable
        runner = league.algorithm.env_runner
        assert sorted(pid for pid in runner.policy_map if runner.is_policy_to_train(pid)) == sorted(trainable)
        assert not any(runner.is_policy_to_train(p) for p in
                       ["random", "heuristic", "main_v1", mirror_id(MAIN), mirror_id(EXPLOITER)])
        # Every trainable player is frozen after every iteration (max_iterations_per_snapshot = 1).
        assert league.snapshots == [f"{p}_v{k}" for k in (1, 2, 3) for p in trainable]
        assert [p.role for p in league.ledger.players()][:5] == [
            Role.MAIN, Role.MAIN_EXPLOITER, Role.LEAGUE_EXPLOITER, Role.SCRIPTED, Role.SCRIPTED]
        assert {p.parent for p in league.players if p.role is Role.SNAPSHOT} == set(trainable)
        # The main exploiter resets after each snapshot (probability 1); main never does.
        assert all(EXPLOITER in r.resets and MAIN not in r.resets for r in reports)

        matches = list(league.ledger.iter_matches())
        trained = [m for m in matches if m.learner is not None]
        assert all(m.learner in trainable and m.learner in m.seats for m in trained)
        assert {m.learner for m in trained} == set(trainable)
        # Every snapshot played anchor_games rated games against each scripted player, with no learner.
        anchors = [m for m in matches if m.learner is None]
        assert len(anchors) == league.anchor_matches == 9 * 2 * config.ratings.anchor_games
        assert all(m.match_id.startswith("anchor-") and {"random", "heuristic"} & set(m.seats) for m in anchors)
        # Payoff and ratings are derived from the ledger and agree with a recomputation from its matches.
        assert dict(league.payoff().counts) == payoff_from_matches(matches)
        stored = league.ratings()
        assert stored.keys() == compute_ratings(matches).keys()
        for player, rating in compute_ratings(matches).items():
            assert stored[player].elo == pytest.approx(rating.elo)
            assert stored[player].sigma == pytest.approx(rating.sigma)
        assert league.ledger.ratings()[1] == len(matches)


def test_matches_chosen_by_the_exploiter_do_not_train_main(tmp_path):
    # main learns only against random; the main exploiter learns only against main.
    config = tiny_config(
        tmp_path, iterations=4, resources={"num_env_runners": 1}, training={"train_batch_size": 800},
        roster={"main_exploiters": 1, "league_exploiters": 0, "scripted": ["random"]},
        matchmaking={"main": {"self_play": 0.0, "pfsp": 1.0, "exploiters_and_forgotten": 0.0}},
        snapshots={"max_iterations_per_snapshot": 100}, evaluation={"games": 0},
    )
    with LeagueManager(config) as manager:
        reports = manager.run()
        matches = list(manager.ledger.iter_matches())
    steps = {pid: sum(r.agent_steps.get(pid, 0) for r in reports) for pid in (MAIN, mirror_id(MAIN))}

    def main_moves(learner: PlayerId) -> int:
        # Seat 0 moves first: ceil(length / 2) moves, seat 1 floor(length / 2).
        return sum((m.length + (1 - m.seats.index(MAIN))) // 2
                   for m in matches if m.learner == learner and MAIN in m.seats)

    vs_exploiter = [m for m in matches if set(m.seats) == {MAIN, EXPLOITER}]
    assert vs_exploiter and all(m.learner == EXPLOITER for m in vs_exploiter)
    assert all(m.learner == MAIN for m in matches if "random" in m.seats)
    # main's train batches hold its moves against random and nothing from the exploiter's matches:
    # each finished match adds its moves (plus at most a final row), and the episodes still in
    # flight on the remote runner's 4 sub-envs add at most 4 x 22 rows.
    slack = 4 * 22
    assert main_moves(MAIN) - slack <= steps[MAIN] <= main_moves(MAIN) + len(matches) + slack
    # ... while main's moves in the exploiter's matches went to its mirror, which is never trained.
    assert main_moves(EXPLOITER) > 2 * slack
    assert main_moves(EXPLOITER) - slack <= steps[mirror_id(MAIN)] <= main_moves(EXPLOITER) + len(matches) + slack


def test_reset_puts_the_exploiter_back_to_its_initial_weights_everywhere(tmp_path):
    config = tiny_config(tmp_path, iterations=2, resources={"num_env_runners": 1},
                         roster={"league_exploiters": 0, "scripted": []},
                         snapshots={"max_iterations_per_snapshot": 100}, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        initial = _copy(manager.algorithm.get_policy(EXPLOITER).get_weights())
        manager.step()
        assert not _same(_copy(manager.algorithm.get_policy(EXPLOITER).get_weights()), initial)
        manager.reset(EXPLOITER)
        assert all(_same(w, initial) for w in weights_everywhere(manager.algorithm, EXPLOITER))
        manager.step()  # sampling and training go on after a reset


def test_stopping_the_embedded_redis_mid_run_is_a_clear_error_not_a_hang(tmp_path):
    config = tiny_config(tmp_path, iterations=3, roster=MAIN_ONLY, evaluation={"games": 0},
                         ledger={"retry_timeout_s": 3.0})
    with LeagueManager(config) as manager:
        manager.step()
        manager._embedded.kill()
        start = time.monotonic()
        with pytest.raises(LedgerUnavailable, match="lost the Redis ledger"):
            manager.step()
        assert time.monotonic() - start < 60
        manager._embedded = None  # already gone


def test_a_snapshot_never_overwrites_a_store_entry_and_takes_the_next_free_version(tmp_path):
    # Issue 20: an id written behind the manager's back (here main_v1) was overwritten by main's next snapshot.
    config = tiny_config(tmp_path, game="tictactoe", roster=MAIN_ONLY, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        outsider = {k: np.full_like(v, 0.5) for k, v in current_weights(manager.algorithm, MAIN).items()}
        manager.store.put(manager._snapshot_info(PlayerId("main_v1"), Role.SNAPSHOT, None), outsider)
        first = manager.snapshot()
        second = manager.snapshot()
        assert (first.player_id, second.player_id) == ("main_v2", "main_v3")
        assert _same(manager.store.load(PlayerId("main_v1")).weights, outsider)
        assert _same(manager.store.load(first.player_id).weights, current_weights(manager.algorithm, MAIN))
        assert manager.snapshots == ["main_v2", "main_v3"]


def test_writing_a_players_weights_clears_its_stale_unusable_mark(tmp_path):
    # Issue 20: a stale UNUSABLE.json under players/<id> blocked every later export of the player.
    from typer.testing import CliRunner

    from league.cli import app

    config = tiny_config(tmp_path, game="tictactoe", roster=MAIN_ONLY, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        manager.save_players()
        manager.players_store.mark_unusable(MAIN, "checksum mismatch (an earlier iteration's weights)")
        with pytest.raises(SnapshotCorrupt, match="marked unusable"):
            manager.players_store.load(MAIN)
        manager.save_players()  # what every later iteration does
        assert _same(manager.players_store.load(MAIN).weights, current_weights(manager.algorithm, MAIN))
    result = CliRunner().invoke(app, ["export", "main", "--run-dir", str(config.run_dir), "--out",
                                      str(tmp_path / "export"), "--format", "torchscript"])
    assert result.exit_code == 0, result.output


def test_main_is_evaluated_against_each_reference_and_status_and_report_show_them(tmp_path):
    import re

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from league.display import report_line
    from league.report import write_report
    from league.status import read_status

    config = tiny_config(tmp_path, game="tictactoe", iterations=2,
                         roster={**MAIN_ONLY, "scripted": ["random", "alphabeta-1"]},
                         evaluation={"games": 6, "every": 1, "references": ["alphabeta-1"]})
    with LeagueManager(config) as manager:
        reports = manager.run()
        # Every evaluated iteration: main vs evaluation.opponent (report.evaluation, as before) and each reference.
        assert [sorted(r.reference_evaluations) for r in reports] == [["alphabeta-1"], ["alphabeta-1"]]
        assert all(r.evaluation.games == r.reference_evaluations["alphabeta-1"].games == 6 for r in reports)
        versus = [r.reference_evaluations["alphabeta-1"] for r in reports]
        assert manager.ledger.evaluations() == [  # sorted by iteration, then name
            (1, "alphabeta-1", versus[0]), (1, "random", reports[0].evaluation),
            (2, "alphabeta-1", versus[1]), (2, "random", reports[1].evaluation)]
        # Seeded streams: each evaluation replays exactly (iteration 2: the opponent's stream 0, the reference's 1).
        assert manager.evaluate(opponent="alphabeta-1", stream=1) == versus[1]
        assert manager.evaluate() == reports[-1].evaluation
        score = reports[-1].reference_scores["alphabeta-1"]
        assert f"score_vs_alphabeta-1={score:.3f}" in report_line(reports[-1])
    events = EventAccumulator(str(config.run_dir / "tensorboard"))
    events.Reload()
    scalars = events.Scalars("evaluation/score_vs_alphabeta-1")
    # pytest.approx does not reach into tuples: steps exactly, values to TensorBoard's float32.
    assert [e.step for e in scalars] == [r.iteration for r in reports]
    assert [e.value for e in scalars] == pytest.approx([r.reference_scores["alphabeta-1"] for r in reports], rel=1e-6)
    assert "evaluation/score_vs_random" in events.Tags()["scalars"]

    status = read_status(config.run_dir)
    last = reports[-1]
    assert status["latest_evaluation"] == {"iteration": 2, "opponents": {
        name: {"wins": c.wins, "draws": c.draws, "losses": c.losses, "score": c.score}
        for name, c in (("random", last.evaluation), ("alphabeta-1", last.reference_evaluations["alphabeta-1"]))}}
    assert list(status["latest_evaluation"]["opponents"]) == ["random", "alphabeta-1"]  # the opponent first
    assert len(status["evaluations"]) == 4 and status["win_rate_vs_random"] == last.evaluation.score
    # vs_scripted: each player's score against each scripted player, the payoff's (anchor games: snapshots met both).
    payoff = {(e["player"], e["opponent"]): e["score"] for e in status["payoff"]}
    players = {p["id"]: p for p in status["players"]}
    assert set(players["main_v1"]["vs_scripted"]) == {"random", "alphabeta-1"}
    assert players["main_v1"]["vs_scripted"]["alphabeta-1"] == payoff[("main_v1", "alphabeta-1")] is not None
    for pid, player in players.items():
        for scripted, value in player["vs_scripted"].items():
            assert value == payoff.get((pid, scripted)), (pid, scripted)

    page = write_report(config.run_dir, tmp_path / "report.html").read_text()
    chart = page[page.index('id="reference-chart"'):page.index('<table id="ratings"')]
    assert sorted(re.findall(r'<g id="reference-([^"]+)"', chart)) == ["alphabeta-1", "random"]
    assert page.index('id="summary"') < page.index('id="reference-chart"') < page.index('id="elo-chart"')
