"""The league manager on a real local Ray, a real RLlib PPO Algorithm and a real Redis."""

from __future__ import annotations

import time

import numpy as np
import pytest

from league.errors import LedgerUnavailable
from league.manager import MAIN, LeagueManager
from league.rllib.algorithm import weights_everywhere
from league.types import Role
from tests.conftest import tiny_config

pytestmark = pytest.mark.usefixtures("ray_session")


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_frozen_snapshot_stays_fixed_on_driver_and_remote_runner_while_main_trains(tmp_path):
    config = tiny_config(tmp_path, iterations=4, resources={"num_env_runners": 1},
                         snapshots={"snapshot_every": 100}, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        manager.step()
        snapshot = manager.snapshot()
        # get_weights() of a CPU torch policy returns views of the live parameters: copy.
        frozen = {k: np.array(v, copy=True) for k, v in manager.algorithm.get_policy(MAIN).get_weights().items()}
        copies = weights_everywhere(manager.algorithm, snapshot.player_id)
        assert len(copies) == 2  # the driver's runner and one remote env runner
        assert all(_same(c, frozen) for c in copies)

        manager.step()
        manager.step()

        main_now = weights_everywhere(manager.algorithm, MAIN)
        assert all(not _same(w, frozen) for w in main_now), "main must keep training"
        assert all(_same(c, frozen) for c in weights_everywhere(manager.algorithm, snapshot.player_id))
        assert snapshot.player_id not in manager.trainable
        # The snapshot really played: the ledger has matches with it in a seat.
        assert manager.ledger.games_played().get(snapshot.player_id, 0) > 0


def test_every_episode_is_one_ledger_match_and_snapshots_join_the_roster(tmp_path):
    config = tiny_config(tmp_path, iterations=3, resources={"num_env_runners": 1})
    with LeagueManager(config) as manager:
        reports = manager.run()
        assert [r.iteration for r in reports] == [1, 2, 3]
        assert manager.total_episodes == sum(r.episodes for r in reports) > 0
        assert manager.ledger.match_count() == manager.total_episodes
        assert manager.snapshots == ["main_v1", "main_v2", "main_v3"]
        assert [p.role for p in manager.ledger.players()] == [Role.MAIN] + [Role.SNAPSHOT] * 3
        assert set(manager.algorithm.config.policies) == {"main"}  # snapshots were added at run time
        assert {"main_v1", "main_v2", "main_v3"} <= set(manager.algorithm.env_runner.policy_map.keys())
        # Every match has main in a seat; main moved first in about half of them.
        matches = list(manager.ledger.iter_matches())
        assert all(MAIN in m.seats for m in matches)
        first = sum(m.seats[0] == MAIN for m in matches) / len(matches)
        assert 0.4 < first <= 1.0
        assert manager.ledger.progress()["iteration"] == 3
        assert all(r.evaluation is not None and r.evaluation.games == 20 for r in reports)


def test_stopping_the_embedded_redis_mid_run_is_a_clear_error_not_a_hang(tmp_path):
    config = tiny_config(tmp_path, iterations=3, evaluation={"games": 0})
    with LeagueManager(config) as manager:
        manager.step()
        manager._embedded.kill()
        start = time.monotonic()
        with pytest.raises(LedgerUnavailable, match="lost the Redis ledger"):
            manager.step()
        assert time.monotonic() - start < 60
        manager._embedded = None  # already gone
