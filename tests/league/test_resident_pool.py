"""The bounded resident pool in a real league: RLlib policies on every runner, the store, the ledger."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from league.manager import MAIN, LeagueManager
from league.rllib.algorithm import resident_policies
from league.rllib.mapping import mirror_id
from league.types import PlayerId
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")

MAIN_ONLY = {"main_exploiters": 0, "league_exploiters": 0, "scripted": []}
TICTACTOE = {"game": "tictactoe", "evaluation": {"games": 0},
             "training": {"train_batch_size": 300, "minibatch_size": 64, "num_epochs": 1}}


@pytest.mark.parametrize("sampler", ["rllib", "league"])
def test_at_most_max_resident_frozen_policies_live_on_every_runner(tmp_path, sampler):
    config = tiny_config(tmp_path, iterations=6, resources={"num_env_runners": 1, "sampler": sampler},
                         roster={"main_exploiters": 0, "league_exploiters": 0, "scripted": ["random"]},
                         snapshots={"max_iterations_per_snapshot": 1, "max_resident_opponents": 2}, **TICTACTOE)
    always = sorted([MAIN, mirror_id(MAIN)])
    with LeagueManager(config) as manager:
        assert manager.algorithm.config.policy_map_capacity == 2 + 2
        restored = []
        for _ in range(6):
            report = manager.step()
            restored += report.restored
            assert len(report.resident) <= 2
            per_runner = resident_policies(manager.algorithm)
            assert len(per_runner) == 2  # the driver's runner and the remote one
            for policies in per_runner:
                assert policies == sorted(always + list(manager.resident))
            # Sampling used only resident policies (nothing was waiting on the store).
            assert set(report.agent_steps) <= set(always) | set(report.resident)
            assert manager.ledger.resident() == [MAIN, *manager.resident]
        # Every snapshot went to the store; more of them played than ever fit at once.
        assert manager.store.ids() == sorted(manager.snapshots) and len(manager.snapshots) == 6
        played = {p for m in manager.ledger.iter_matches() for p in m.seats} - {MAIN}
        assert len(played) > 2
        assert len(restored) > 2
        if sampler == "rllib":
            # Matches in flight against a dropped player were abandoned, never recorded half-played.
            assert manager.abandoned_episodes > 0
        else:
            # League's sampler runs every episode to its end within a sample call: none is in flight
            # when a player is dropped between iterations.
            assert manager.abandoned_episodes == 0
        assert manager.ledger.match_count() == manager.total_episodes + manager.anchor_matches
        assert all(m.length >= 5 for m in manager.ledger.iter_matches())  # tic-tac-toe needs 5 moves
        # RLlib's per-policy leftovers are removed with the policy.
        runner = manager.algorithm.env_runner
        assert set(runner.policy_dict) == set(runner.policy_map.keys())


def test_a_corrupted_snapshot_is_skipped_marked_unusable_and_the_run_goes_on(tmp_path):
    config = tiny_config(tmp_path, iterations=3, roster=MAIN_ONLY,
                         snapshots={"max_iterations_per_snapshot": 100, "max_resident_opponents": 2}, **TICTACTOE)
    with LeagueManager(config) as manager:
        manager.step()
        bad = manager.snapshot().player_id
        good = manager.snapshot().player_id
        weights = Path(config.snapshot_uri, bad, "weights.safetensors")
        weights.write_bytes(weights.read_bytes()[:-8] + b"tampered")
        report = manager.step()
        assert report.unusable == (bad,)
        assert bad not in manager.resident and good in manager.resident
        assert "checksum mismatch" in manager.ledger.unusable()[bad]
        assert bad in manager.store.unusable()
        manager.step()
        assert all(bad not in m.seats for m in manager.ledger.iter_matches())


def test_prune_removes_snapshots_from_the_store_the_ledger_and_the_algorithm(tmp_path):
    config = tiny_config(tmp_path, iterations=4, roster=MAIN_ONLY,
                         snapshots={"max_iterations_per_snapshot": 1, "max_resident_opponents": 4}, **TICTACTOE)
    with LeagueManager(config) as manager:
        manager.run()
        assert manager.snapshots == ["main_v1", "main_v2", "main_v3", "main_v4"]
        ratings = manager.ratings()
        best = max(manager.snapshots, key=lambda p: ratings[p].elo if p in ratings else -np.inf)
        pruned = manager.prune(keep_last=2, keep_top=1)
        kept = sorted({best, "main_v3", "main_v4"})
        assert pruned and sorted(pruned) == sorted({"main_v1", "main_v2"} - {best})
        # The last checkpoint still lists them, so they leave the store only with the next one.
        assert set(pruned) <= set(manager.store.ids())
        manager.checkpoint()
        assert sorted(manager.snapshots) == kept == manager.store.ids()
        assert {p.player_id for p in manager.ledger.players()} == {MAIN, *kept}
        assert all(p not in manager.resident for p in pruned)
        assert all(p not in manager.algorithm.env_runner.policy_map for p in pruned)
        manager.step()  # and the run goes on; the next snapshot gets a new id
        assert manager.snapshots[-1] == "main_v5"


def test_a_retention_policy_prunes_automatically(tmp_path):
    config = tiny_config(tmp_path, iterations=4, roster=MAIN_ONLY,
                         snapshots={"max_iterations_per_snapshot": 1, "keep_last": 2}, **TICTACTOE)
    with LeagueManager(config) as manager:
        reports = manager.run()
        assert manager.snapshots == ["main_v3", "main_v4"] == manager.store.ids()
        assert [r.pruned for r in reports] == [(), (), (PlayerId("main_v1"),), (PlayerId("main_v2"),)]
