"""Checkpoints and resume in process: exact restores, roll-back of an uncommitted iteration, the run lock."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from league.cli import app
from league.errors import LeagueError, LedgerUnavailable, RunDirError
from league.manager import MAIN, LeagueManager
from league.offline import prune_run
from league.ratings import compute_ratings
from league.rllib.algorithm import checkpoint_state, weights_everywhere
from league.run_dir import RunInfo
from league.types import Role
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")


def _equal(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _crash(manager: LeagueManager) -> None:
    """Leave as a killed run would: no checkpoint at exit for the iteration in progress."""
    manager._mid_iteration = True
    manager.close()


def test_resume_rolls_back_an_uncommitted_iteration_and_restores_players_exactly(tmp_path):
    config = tiny_config(tmp_path, iterations=4, checkpoint_every=2, snapshots={"keep_last": 2},
                         evaluation={"games": 10, "every": 1})
    manager = LeagueManager(config)
    manager.step()
    manager.step()  # committed by the checkpoint after iteration 2
    committed = {pid: checkpoint_state(manager.algorithm, pid) for pid in manager.trainable}
    roster = [p.player_id for p in manager.players]
    position = manager.ledger.match_count()
    report = manager.step()  # iteration 3: matches, snapshots and prunes that no checkpoint covers
    assert not report.checkpointed and report.new_snapshots and report.pruned
    assert manager.ledger.match_count() > position
    _crash(manager)

    resumed = LeagueManager.resume(config.run_dir)
    try:
        assert resumed.iteration == 2 and resumed.resumes == 1
        assert [p.player_id for p in resumed.players] == roster
        # The ledger holds exactly what the checkpoint consumed, with counters to match.
        assert resumed.ledger.match_count() == position
        matches = list(resumed.ledger.iter_matches())
        assert max(m.iteration for m in matches) == 2
        assert resumed.ledger.payoff_counts() == _payoff(matches)
        assert [e[0] for e in resumed.ledger.evaluations()] == [1, 2]
        # Snapshots frozen in iteration 3 are gone; the ones it pruned are back and load.
        snapshots = [p.player_id for p in resumed.players if p.role is Role.SNAPSHOT]
        assert resumed.store.ids() == sorted(snapshots)
        assert not any(s.endswith("_v3") for s in snapshots)
        for snapshot in snapshots:
            assert resumed.store.load(snapshot).weights
        # Weights, Adam moments, timestep and KL coefficient are those of the checkpoint, on every runner.
        for pid in resumed.trainable:
            assert _equal(checkpoint_state(resumed.algorithm, pid), committed[pid])
        assert all(_equal(w, committed[MAIN]["weights"]) for w in weights_everywhere(resumed.algorithm, MAIN))

        reports = resumed.run()
        assert [r.iteration for r in reports] == [3, 4]
        history = resumed.history
        matches = list(resumed.ledger.iter_matches())
        assert [h.iteration for h in history] == [1, 2, 3, 4]
        assert len(matches) == len({m.match_id for m in matches}) == sum(h.matches + h.anchor_matches
                                                                          for h in history)
        assert dict(sorted(Counter(m.iteration for m in matches).items())) == {
            h.iteration: h.matches + h.anchor_matches for h in history}
        stored, rated = resumed.ledger.ratings()
        assert rated == len(matches)
        for player, rating in compute_ratings(matches).items():
            assert stored[player].elo == pytest.approx(rating.elo, abs=1e-9)
            assert stored[player].sigma == pytest.approx(rating.sigma, abs=1e-9)
        assert resumed.ledger.progress()["resumes"] == 1
    finally:
        resumed.close()


def _payoff(matches):
    from league.payoff import payoff_from_matches

    return payoff_from_matches(matches)


def test_a_run_folder_in_use_is_refused_and_released_on_close(tmp_path):
    config = tiny_config(tmp_path, iterations=1, roster={"main_exploiters": 0, "league_exploiters": 0,
                                                           "scripted": []})
    with LeagueManager(config):
        with pytest.raises(RunDirError, match=r"is in use by another League process \(pid \d+\)"):
            LeagueManager.resume(config.run_dir)
        with pytest.raises(RunDirError, match="in use by another League process"):
            prune_run(config.run_dir, keep_last=1, keep_top=None)
    with LeagueManager.resume(config.run_dir, iterations=2) as again:
        assert again.iteration == 0
        again.run()
        assert again.iteration == 2
    with LeagueManager.resume(config.run_dir) as done:
        assert done.iteration == 2 and done.run() == []


def test_resume_cli_refuses_config_changes_and_missing_runs(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(app, ["run", "--resume", "--run-dir", str(tmp_path / "nothing")])
    assert missing.exit_code == 2
    assert "no League run in" in missing.output and "run.json not found" in missing.output
    RunInfo("run-x", "connect_four", None, 1.0, {"game": "connect_four"}).write(tmp_path)
    changed = runner.invoke(app, ["run", "--resume", "--run-dir", str(tmp_path), "--game", "tictactoe"],
                            env={"COLUMNS": "300"})
    assert changed.exit_code == 2
    assert re.search(r"changes game 'connect_four' -> 'tictactoe' \(--game\) \(only --iterations, "
                     r"--minutes, --num-env-runners and --address may change", changed.output)
    both = runner.invoke(app, ["run", "--resume", "--overwrite", "--run-dir", str(tmp_path)], env={"COLUMNS": "300"})
    assert both.exit_code == 2 and "pass one of them" in both.output


def test_status_shows_the_fault_counters(tmp_path):
    config = tiny_config(tmp_path, iterations=1, roster={"main_exploiters": 0, "league_exploiters": 0,
                                                           "scripted": []}, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        manager.run()
    result = CliRunner().invoke(app, ["status", "--run-dir", str(config.run_dir), "--json"])
    assert result.exit_code == 0
    status = json.loads(result.output)
    assert {k: status[k] for k in ("env_runner_restarts", "env_restarts", "ledger_retries", "resumes")} == {
        "env_runner_restarts": 0, "env_restarts": 0, "ledger_retries": 0, "resumes": 0}


def test_resume_refuses_a_ledger_that_lost_matches_or_a_store_without_the_runs_snapshots(tmp_path):
    config = tiny_config(tmp_path, iterations=2, roster={"main_exploiters": 0, "league_exploiters": 0,
                                                           "scripted": []}, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        manager.run()
        position = manager.ledger.match_count()
        manager.ledger.truncate(position - 5)  # as a Redis restarted without persistence would
    with pytest.raises(LedgerUnavailable, match=rf"holds {position - 5} matches .* already consumed {position}"):
        LeagueManager.resume(config.run_dir)

    shutil.rmtree(config.run_dir / "snapshots")
    with pytest.raises(RunDirError, match=r"none of the 2 snapshots of checkpoint iteration 2 is in the snapshot "
                                          r"store .*Nothing was changed"):
        LeagueManager.resume(config.run_dir)


def test_a_failed_step_must_be_resumed_not_stepped_again(tmp_path):
    config = tiny_config(tmp_path, iterations=3, roster={"main_exploiters": 0, "league_exploiters": 0,
                                                           "scripted": []}, evaluation={"games": 0})
    manager = LeagueManager(config)
    try:
        manager.step()
        manager._mid_iteration = True  # as if the next step had raised part-way
        with pytest.raises(LeagueError, match="failed part-way; close this league and continue with `league run "
                                              "--resume`"):
            manager.step()
    finally:
        manager.close()
    with LeagueManager.resume(config.run_dir, iterations=2) as resumed:
        assert resumed.iteration == 1
    assert json.loads((config.run_dir / "run.json").read_text())["config"]["iterations"] == 2


def test_a_deleted_snapshot_folder_is_reported_and_marked_unusable_not_dropped(tmp_path, caplog):
    config = tiny_config(tmp_path, game="tictactoe", iterations=2, evaluation={"games": 0},
                         roster={"main_exploiters": 0, "league_exploiters": 0, "scripted": []})
    with LeagueManager(config) as manager:
        manager.run()
    assert {"main_v1", "main_v2"} <= {p.player_id for p in manager.players}
    shutil.rmtree(config.run_dir / "snapshots" / "main_v1")  # behind League's back

    with caplog.at_level("WARNING", logger="league.manager"), LeagueManager.resume(config.run_dir) as resumed:
        assert "main_v1" in {p.player_id for p in resumed.players}  # still on the roster...
        assert "main_v1" not in resumed.frozen  # ...but never played
        assert "main_v2" in resumed.frozen
    assert any("'main_v1' is missing from the snapshot store" in r.getMessage() for r in caplog.records)
    result = CliRunner().invoke(app, ["status", "--run-dir", str(config.run_dir), "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert "main_v1" in {p["id"] for p in status["players"]}
    assert "missing from the snapshot store" in status["unusable"]["main_v1"]


def _fingerprint(manager_or_dir) -> dict:
    """The run's ledger matches, store snapshots and each snapshot's weights digest, read offline."""
    import hashlib

    from league.offline import open_ledger, run_store

    run_dir = manager_or_dir
    with open_ledger(run_dir) as (info, ledger):
        matches = ledger.match_count()
        progress = ledger.progress()
    store = run_store(info, run_dir)
    digests = {}
    for snapshot in sorted(store.ids()):
        folder = run_dir / "snapshots" / snapshot
        digests[snapshot] = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(folder.rglob("*"))
                                                    if p.is_file())).hexdigest()
    return {"matches": matches, "iteration": progress["iteration"], "snapshots": digests}


def test_a_resume_whose_checkpoints_are_gone_or_damaged_is_refused_with_nothing_changed(tmp_path):
    """Issue 20, hole 1: a resume with no verified checkpoint truncated the ledger and overwrote snapshots."""
    config = tiny_config(tmp_path, game="tictactoe", iterations=2)
    with LeagueManager(config) as manager:
        manager.run()
    run_dir = config.run_dir
    before = _fingerprint(run_dir)
    assert before["matches"] > 0 and before["snapshots"] and before["iteration"] == 2

    # The newest checkpoint damaged: an older one verifies, but the run committed iteration 2 after it.
    newest = sorted((run_dir / "checkpoints").glob("iter-*"))[-1]
    (newest / "state.json").write_text("{}")
    for _attempt in range(2):  # the first attempt sets the damaged one aside; the second must refuse as well
        with pytest.raises(RunDirError, match=re.escape("Nothing was changed")) as refused:
            LeagueManager.resume(run_dir, iterations=3)
        assert "checkpoint iteration 2" in str(refused.value) and "--from-scratch" in str(refused.value)
        assert _fingerprint(run_dir) == before

    # Every checkpoint deleted, as in the issue.
    for folder in (run_dir / "checkpoints").iterdir():
        shutil.rmtree(folder)
    result = CliRunner().invoke(app, ["run", "--resume", "--run-dir", str(run_dir), "--iterations", "3"])
    assert result.exit_code == 2, result.output
    assert "no checkpoint that verifies" in result.output and "Nothing was changed" in result.output
    assert _fingerprint(run_dir) == before

    # The explicit way on: start over from iteration 0 with the run's own configuration.
    with LeagueManager.resume(run_dir, iterations=1, from_scratch=True) as fresh:
        assert fresh.iteration == 0 and fresh.ledger.match_count() == 0 and fresh.snapshots == []
        fresh.run()
        assert fresh.iteration == 1
