"""Whole-match matchmaking and the policy mapping that reads it (pure, no Ray)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from league.matchmaking import MatchPlan, self_play_plan
from league.rllib.mapping import MatchMapping
from league.types import PlayerId

MAIN = PlayerId("main")
SNAPS = [PlayerId("main_v1"), PlayerId("main_v2")]


def test_no_snapshots_means_pure_self_play():
    plan = self_play_plan(MAIN, [], self_play_fraction=0.3, seed=0, iteration=1)
    assert plan.opponents == (MAIN,)


def test_decisions_are_reproducible_from_the_seed():
    a = self_play_plan(MAIN, SNAPS, self_play_fraction=0.5, seed=7, iteration=3)
    b = self_play_plan(MAIN, SNAPS, self_play_fraction=0.5, seed=7, iteration=3)
    c = self_play_plan(MAIN, SNAPS, self_play_fraction=0.5, seed=8, iteration=3)
    first = [a.decide(1, k, 2) for k in range(200)]
    assert first == [b.decide(1, k, 2) for k in range(200)]
    assert first != [c.decide(1, k, 2) for k in range(200)]


def test_learner_plays_each_seat_equally():
    plan = self_play_plan(MAIN, SNAPS, self_play_fraction=0.0, seed=0, iteration=1)
    seats = Counter(plan.decide(0, k, 2).index(MAIN) for k in range(1000))
    assert seats == {0: 500, 1: 500}


def test_opponent_frequencies_follow_the_plan():
    plan = self_play_plan(MAIN, SNAPS, self_play_fraction=0.5, seed=0, iteration=1)
    opponents = Counter()
    for k in range(4000):
        seats = plan.decide(0, k, 2)
        opponents[seats[1 - k % 2]] += 1
    assert abs(opponents[MAIN] / 4000 - 0.5) < 0.03
    assert abs(opponents[SNAPS[0]] / 4000 - 0.25) < 0.03


def test_plan_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="sum to 1"):
        MatchPlan(MAIN, (MAIN,), (0.5,), 0, 1)


def test_mapping_decides_the_whole_match_once_per_episode():
    plan = self_play_plan(MAIN, SNAPS, self_play_fraction=0.0, seed=0, iteration=1)
    mapping = MatchMapping(plan, ["player_0", "player_1"])
    worker = SimpleNamespace(worker_index=1)
    for episode_id in range(50):
        episode = SimpleNamespace(episode_id=episode_id)
        # Ask for the second seat first, then the first, then again: one decision.
        second = mapping("player_1", episode, worker)
        first = mapping("player_0", episode, worker)
        assert mapping("player_1", episode, worker) == second
        assert (first, second) == plan.decide(1, episode_id, 2)
        assert MAIN in (first, second) and (first, second) != (MAIN, MAIN)
