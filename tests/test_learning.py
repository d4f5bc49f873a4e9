"""Does main actually get stronger? Real leagues with fixed seeds.

Connect Four: a league of main, its snapshots and the scripted ``random``
player (PFSP and self-play). An untrained greedy policy wins roughly 60-80%
against uniform random (random is that weak); the default test asks for a
clear gain over the same league's own first evaluation, the slow test for the
foundation issue's figure (>= 0.90 after 30 iterations). The full three-role
league against the ``heuristic`` player is ``scripts/c4_league.py`` (45 min).
"""

from __future__ import annotations

import pytest

from league.config import load_config
from league.manager import LeagueManager

pytestmark = pytest.mark.usefixtures("ray_session")

MAIN_AND_RANDOM = {"main_exploiters": 0, "league_exploiters": 0, "scripted": ["random"]}


def test_connect_four_league_learns_to_beat_random(tmp_path):
    config = load_config(None, {"game": "connect_four", "iterations": 10, "seed": 0,
                                "run_dir": tmp_path / "c4", "roster": MAIN_AND_RANDOM,
                                "snapshots": {"max_iterations_per_snapshot": 5},
                                "evaluation": {"games": 200, "every": 1}})
    with LeagueManager(config) as manager:
        before = manager.evaluate(games=200)
        reports = manager.run()
        after = reports[-1].evaluation
        assert after is not None and after.games == 200
        assert after.score >= 0.85, f"{before.score=} {after.score=}"
        assert after.score > before.score + 0.15
        assert manager.ledger.match_count() == manager.total_episodes + manager.anchor_matches
        assert len(manager.snapshots) == 2


@pytest.mark.slow
def test_thirty_iteration_connect_four_league_beats_random_90_percent(tmp_path):
    config = load_config(None, {"game": "connect_four", "iterations": 30, "seed": 0,
                                "run_dir": tmp_path / "c4", "roster": MAIN_AND_RANDOM,
                                "snapshots": {"max_iterations_per_snapshot": 5}})
    with LeagueManager(config) as manager:
        final = manager.run()[-1].evaluation
        assert final is not None and final.games >= 200
        assert final.score >= 0.90
        assert len(manager.snapshots) >= 3
