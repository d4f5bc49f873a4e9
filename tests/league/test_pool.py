"""The resident pool's pure parts: choosing residents, restricting the plan, LRU bookkeeping."""

from __future__ import annotations

import numpy as np
import pytest

from league.matchmaking import LearnerPlan, MatchPlan
from league.pool import ResidentPool, appearance_mass, choose_residents, restrict_plan
from league.ratings import Rating
from league.retention import prunable
from league.types import PlayerId, PlayerRecord, Role

MAIN, EXP = PlayerId("main"), PlayerId("main_exploiter")
SNAPS = [PlayerId(f"main_v{i}") for i in range(1, 11)]


def _plan(main_weights: dict, exploiter_weights: dict | None = None) -> MatchPlan:
    learners = [LearnerPlan(MAIN, tuple((p,) for p in main_weights), tuple(main_weights.values()))]
    shares = [1.0]
    if exploiter_weights:
        learners.append(LearnerPlan(EXP, tuple((p,) for p in exploiter_weights), tuple(exploiter_weights.values())))
        shares = [0.5, 0.5]
    return MatchPlan(tuple(learners), tuple(shares), 0, 1)


def test_every_learner_keeps_a_playable_lineup_and_the_pool_stays_within_capacity():
    # main wants only snapshots 0-4, the exploiter only 5-9: with room for 2, each gets one.
    plan = _plan({p: 0.2 for p in SNAPS[:5]}, {p: 0.2 for p in SNAPS[5:]})
    for seed in range(20):
        chosen = choose_residents(plan, SNAPS, 2, np.random.default_rng(seed))
        assert len(chosen) == 2
        assert set(chosen) & set(SNAPS[:5]) and set(chosen) & set(SNAPS[5:])
        restricted = restrict_plan(plan, SNAPS, chosen)
        assert {p for lp in restricted.learners for lineup in lp.lineups for p in lineup} <= set(chosen)
        assert all(abs(sum(lp.probabilities) - 1) < 1e-9 for lp in restricted.learners)


def test_residents_are_drawn_in_proportion_to_how_much_matchmaking_wants_them():
    # main: self-play half the time, one heavy snapshot, nine light ones; room for 2.
    weights = {MAIN: 0.5, SNAPS[0]: 0.41, **{p: 0.01 for p in SNAPS[1:]}}
    counts = dict.fromkeys(SNAPS, 0)
    for seed in range(400):
        for p in choose_residents(_plan(weights), SNAPS, 2, np.random.default_rng(seed)):
            counts[p] += 1
    # P(the heavy one is left out) = (0.09 / 0.5) * (0.08 / 0.49) = 2.9%: about 388 of 400.
    assert 370 <= counts[SNAPS[0]] < 400
    assert all(20 < counts[p] < 70 for p in SNAPS[1:])  # the other place is shared evenly (~44 each)


def test_the_choice_is_reproducible_from_the_seed():
    plan = _plan({p: 0.1 for p in SNAPS})
    a = choose_residents(plan, SNAPS, 3, np.random.default_rng([7, 2, 4]))
    b = choose_residents(plan, SNAPS, 3, np.random.default_rng([7, 2, 4]))
    assert a == b and len(set(a)) == 3


def test_trainable_opponents_never_take_a_place():
    plan = _plan({MAIN: 0.5, EXP: 0.3, SNAPS[0]: 0.2})
    assert choose_residents(plan, [SNAPS[0]], 4, np.random.default_rng(0)) == (SNAPS[0],)
    assert appearance_mass(plan, [SNAPS[0]]) == {SNAPS[0]: pytest.approx(0.2)}


def test_restricting_keeps_trainable_lineups_and_renormalizes():
    plan = _plan({MAIN: 0.5, SNAPS[0]: 0.25, SNAPS[1]: 0.25})
    restricted = restrict_plan(plan, SNAPS, [SNAPS[1]])
    assert restricted.learners[0].lineups == ((MAIN,), (SNAPS[1],))
    assert restricted.learners[0].probabilities == pytest.approx((2 / 3, 1 / 3))


def test_lru_evicts_the_least_recently_used_only_when_room_is_needed():
    pool = ResidentPool(3)
    change = pool.change(["a", "b", "c"])
    assert change.evict == () and change.restore == ("a", "b", "c")
    pool.apply(change)
    pool.use(["a"])  # b is now the least recently used
    assert pool.change(["a"]).evict == ()  # nothing needs room: residents stay
    change = pool.change(["d", "a"])
    assert change.evict == ("b",) and change.restore == ("d",)
    pool.apply(change)
    assert pool.resident == ["c", "a", "d"] and len(pool) == 3
    with pytest.raises(ValueError, match="capacity is 3"):
        pool.change(["w", "x", "y", "z"])


def test_retention_keeps_the_newest_and_the_best_and_never_trainable_players():
    roster = [PlayerRecord(MAIN, Role.MAIN), PlayerRecord(PlayerId("random"), Role.SCRIPTED)] + [
        PlayerRecord(p, Role.SNAPSHOT, MAIN, i) for i, p in enumerate(SNAPS, 1)]
    ratings = {p: Rating(1200 + 10 * i, 25, 8, 5) for i, p in enumerate(SNAPS)}
    ratings[SNAPS[2]] = Rating(2000, 30, 5, 50)  # the best, and old
    pruned = prunable(roster, ratings, keep_last=3, keep_top=1)
    assert pruned == [SNAPS[i] for i in (0, 1, 3, 4, 5, 6)]
    assert prunable(roster, ratings, keep_last=None, keep_top=None) == []
    assert prunable(roster, ratings, keep_last=0, keep_top=None) == SNAPS
