"""The league loop's own logic on a fake trainer: no Ray, each test well under a second of loop time.

The ledger is a real (embedded) Redis; the trainer is :class:`tests.league.fake_trainer.FakeTrainer`.
Resume rollback, anchor games, retention and the counters are checked here at the unit level;
tests/league/test_resume.py and test_manager.py check the same behaviour with RLlib.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from league.anchors import anchor_records, play_anchor_games
from league.arena import GameResult
from league.checkpoint import latest_checkpoint
from league.errors import RunDirError
from league.manager import MAIN, LeagueManager
from league.rollback import plan_rollback
from league.standing import RunCounters, Standing
from league.types import PlayerId, PlayerRecord, Role
from tests.conftest import tiny_config
from tests.league.fake_trainer import FakeTrainer, UniformActor

MAIN_ONLY = {"main_exploiters": 0, "league_exploiters": 0, "scripted": []}


def _config(tmp_path, **overrides):
    base = {"game": "tictactoe", "iterations": 3, "roster": MAIN_ONLY, "evaluation": {"games": 0}}
    return tiny_config(tmp_path, **{**base, **overrides})


def _crash(manager: LeagueManager) -> None:
    """Leave as a killed run would: no checkpoint at exit for the iteration in progress."""
    manager._mid_iteration = True
    manager.close()


def test_the_loop_on_a_fake_trainer_records_each_match_once_and_freezes_every_iteration(tmp_path):
    start = time.perf_counter()
    with LeagueManager(_config(tmp_path), trainer=FakeTrainer) as league:
        reports = league.run()
        assert [r.episodes for r in reports] == [FakeTrainer.matches] * 3
        assert league.ledger.match_count() == 3 * FakeTrainer.matches
        assert league.snapshots == ["main_v1", "main_v2", "main_v3"]
        # A snapshot holds main's weights when it froze: the fake trainer adds one per iteration.
        assert [float(league.store.load(s).weights["w"][0]) for s in league.snapshots] == [1.0, 2.0, 3.0]
        # Ratings fold in every match against another player (self-play rates nobody).
        against_others = [m for m in league.ledger.iter_matches() if set(m.seats) != {MAIN}]
        assert against_others and league.ratings()[MAIN].games == len(against_others)
        trainer = league.trainer
    assert trainer.stopped
    assert latest_checkpoint(tmp_path / "run").state.iteration == 3
    assert trainer.learners[MAIN]["updates"] == 3  # every iteration trained through the port
    assert time.perf_counter() - start < 20  # embedded Redis start and stop included


def test_the_loop_imports_neither_ray_nor_torch_its_only_door_to_them_is_the_trainer_port():
    code = ("import sys, league.manager, league.trainer; "
            "print(sorted(m for m in ('ray', 'torch', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_resume_with_the_fake_trainer_restores_iteration_snapshots_and_counters(tmp_path):
    config = _config(tmp_path, iterations=4, checkpoint_every=2)
    league = LeagueManager(config, trainer=FakeTrainer)
    league.run(3)
    _crash(league)
    with LeagueManager(config, resume=True, trainer=FakeTrainer) as again:
        assert again.iteration == 2
        assert again.snapshots == ["main_v1", "main_v2"]  # main_v3 was frozen after the checkpoint
        assert "main_v3" not in again.store.ids()
        assert again.ledger.match_count() == 2 * FakeTrainer.matches
        assert again.resumes == 1
        assert float(again.trainer.weights(MAIN)["w"][0]) == 2.0  # the checkpoint's learner state
        again.run()
        assert again.iteration == 4 and again.snapshots == ["main_v1", "main_v2", "main_v3", "main_v4"]
        assert again.ledger.match_count() == 4 * FakeTrainer.matches  # iteration 3 counts once
        assert again.ledger.progress()["resumes"] == 1


def test_retention_prunes_on_the_fake_trainer_and_deletes_files_only_after_the_next_checkpoint(tmp_path):
    config = _config(tmp_path, iterations=4, checkpoint_every=2, snapshots={"keep_last": 2})
    with LeagueManager(config, trainer=FakeTrainer) as league:
        league.run(3)
        assert league.snapshots == ["main_v2", "main_v3"]
        assert "main_v1" in league.store.ids()  # the last checkpoint (iteration 2) still lists it
        assert "main_v1" not in {p.player_id for p in league.ledger.players()}
        league.run(1)  # iteration 4 checkpoints
        assert league.snapshots == ["main_v3", "main_v4"]
        assert set(league.store.ids()) == {"main_v3", "main_v4"}


def test_anchor_games_are_ledger_matches_without_a_learner_against_every_scripted_player(tmp_path):
    config = _config(tmp_path, game="connect_four", iterations=1,
                     roster={**MAIN_ONLY, "scripted": ["random", "heuristic"]}, ratings={"anchor_games": 4})
    with LeagueManager(config, trainer=FakeTrainer) as league:
        report = league.step()
        assert report.anchor_matches == 8
        anchors = [m for m in league.ledger.iter_matches() if m.learner is None]
        assert len(anchors) == 8 and {m.match_id.rsplit("-", 1)[0] for m in anchors} == \
            {"anchor-main_v1-random", "anchor-main_v1-heuristic"}
        assert league.anchor_matches == 8


def test_anchor_records_put_the_snapshot_in_the_seat_it_played():
    records = anchor_records(PlayerId("main_v2"), "heuristic",
                             [GameResult(1.0, -1.0, 0, 5), GameResult(0.0, 0.0, 1, 9)], num_seats=2, iteration=4)
    assert [(r.seats, r.returns, r.length, r.iteration, r.learner) for r in records] == [
        (("main_v2", "heuristic"), (1.0, -1.0), 5, 4, None),
        (("heuristic", "main_v2"), (0.0, 0.0), 9, 4, None)]


def test_anchor_games_replay_exactly_from_the_seed():
    def play():
        return play_anchor_games(PlayerId("main_v1"), UniformActor, scripted=["random"], games=6,
                                 game="tictactoe", env_config={}, seed=3, iteration=2, num_seats=2)

    first, second = play(), play()
    assert [(m.seats, m.returns, m.length) for m in first] == [(m.seats, m.returns, m.length) for m in second]
    assert {m.seats.index("main_v1") for m in first} == {0, 1}  # seats alternate


def _snapshot(pid: str, iteration: int) -> PlayerRecord:
    return PlayerRecord(PlayerId(pid), Role.SNAPSHOT, PlayerId("main"), iteration)


MAIN_RECORD = PlayerRecord(PlayerId("main"), Role.MAIN)


def test_rollback_takes_back_later_snapshots_and_orphans_and_keeps_outside_players():
    outsider = PlayerRecord(PlayerId("champion"), Role.SNAPSHOT, None, 1)  # league add-opponent
    roster = [MAIN_RECORD, _snapshot("main_v1", 2), outsider]
    rollback = plan_rollback(roster, ledger_position=40, iteration=2,
                             in_store={"main_v1", "main_v2", "champion", "crashed_upload"},
                             on_ledger=[MAIN_RECORD, _snapshot("main_v1", 2), outsider, _snapshot("main_v2", 3)])
    assert rollback.truncate_to == 40
    assert [p.player_id for p in rollback.roster] == ["main", "main_v1", "champion"]
    assert rollback.remove_from_ledger == ("main_v2",)
    assert rollback.orphans == ("crashed_upload", "main_v2")
    assert rollback.deleted == ()


def test_rollback_keeps_a_snapshot_deleted_behind_leagues_back_but_marks_it_and_drops_a_pruned_one():
    roster = [MAIN_RECORD, _snapshot("main_v1", 1), _snapshot("main_v2", 2), _snapshot("main_v3", 3)]
    # main_v1 was pruned offline (off the ledger's roster), main_v2's files were deleted by hand.
    rollback = plan_rollback(roster, ledger_position=10, in_store={"main_v3"},
                             on_ledger=[MAIN_RECORD, _snapshot("main_v2", 2), _snapshot("main_v3", 3)],
                             snapshot_uri="/tmp/s")
    assert [p.player_id for p in rollback.roster] == ["main", "main_v2", "main_v3"]
    assert [player for player, _ in rollback.deleted] == ["main_v2"]
    assert "missing from the snapshot store '/tmp/s'" in rollback.deleted[0][1]
    assert rollback.remove_from_ledger == () and rollback.orphans == ()


def test_rollback_refuses_a_store_that_holds_none_of_the_checkpoints_snapshots():
    with pytest.raises(RunDirError, match="none of the 1 snapshots of checkpoint iteration 5 is in the snapshot store"):
        plan_rollback([MAIN_RECORD, _snapshot("main_v1", 1)], ledger_position=3, in_store={"other"},
                      on_ledger=[MAIN_RECORD], iteration=5)


def test_counters_add_the_live_parts_and_count_a_resume():
    counters = RunCounters.from_stored({"env_runner_restarts": 2, "ledger_retries": 1, "resumes": 1,
                                        "wall_seconds": 30}, resumed=True)
    counters.runner_ledger_retries += 4
    counters.env_restarts += 1
    counters.wall_seconds += 0.6
    assert counters.stored(runner_restarts_live=1, ledger_retries_live=2) == {
        "env_runner_restarts": 3, "env_restarts": 1, "ledger_retries": 7, "resumes": 2, "wall_seconds": 31}


def test_a_standing_survives_its_checkpoint_state():
    standing = Standing.fresh([MAIN_RECORD, PlayerRecord(PlayerId("random"), Role.SCRIPTED)])
    standing.roster.append(_snapshot("main_v1", 1))
    standing.iteration, standing.env_steps, standing.rated = 1, 70, 12
    standing.snapshot_versions[PlayerId("main")] = 1
    again = Standing.from_state(standing.to_state("run-x", resident=[PlayerId("main_v1")], ratings={}),
                                resumed=False)
    assert (again.roster, again.iteration, again.env_steps, again.rated, again.snapshot_versions,
            again.last_checkpoint) == (standing.roster, 1, 70, 12, {"main": 1}, 1)
    assert again.frozen == ["random", "main_v1"] and again.trainable == ["main"]
