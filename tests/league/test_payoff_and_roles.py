"""Payoff derivation, the initial roster and snapshot triggers (pure, known answers)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from league.config import load_config
from league.ledger.base import PairCounts
from league.matchmaking import LeagueView, PlayerView
from league.payoff import Payoff, payoff_from_matches
from league.roles import generation_score, initial_roster, resets_after_snapshot, snapshot_due
from league.types import MatchId, MatchRecord, PlayerId, Role

A, B, C = PlayerId("a"), PlayerId("b"), PlayerId("c")


def m(seats, returns):
    return MatchRecord(MatchId("x"), tuple(seats), tuple(returns), 10, 0.0, 0.0)


def test_payoff_is_derived_per_ordered_pair():
    counts = payoff_from_matches([m((A, B), (1, -1)), m((B, A), (1, -1)), m((A, B), (0, 0)),
                                  m((C, A), (-1, 1)), m((A, A), (1, -1))])
    assert counts[(A, B)] == PairCounts(wins=1, draws=1, losses=1)
    assert counts[(B, A)] == PairCounts(wins=1, draws=1, losses=1)
    assert counts[(A, C)] == PairCounts(wins=1) and counts[(C, A)] == PairCounts(losses=1)
    assert counts[(A, A)] == PairCounts(wins=1, losses=1)
    payoff = Payoff((A, B, C), counts)
    matrix = payoff.matrix()
    assert matrix[0, 1] == 0.5 and matrix[0, 2] == 1.0 and matrix[2, 0] == 0.0
    assert math.isnan(matrix[1, 2])
    assert payoff.pairs_played() == [(A, B), (B, A), (A, C), (C, A)]


def test_initial_roster_has_roles_counts_and_scripted_players():
    config = load_config(None, {"roster": {"main_agents": 2, "main_exploiters": 1, "league_exploiters": 2}})
    roster = initial_roster(config)
    assert [(p.player_id, p.role) for p in roster] == [
        ("main", Role.MAIN), ("main_2", Role.MAIN), ("main_exploiter", Role.MAIN_EXPLOITER),
        ("league_exploiter", Role.LEAGUE_EXPLOITER), ("league_exploiter_2", Role.LEAGUE_EXPLOITER),
        ("random", Role.SCRIPTED), ("heuristic", Role.SCRIPTED),
    ]
    assert [p.trainable for p in roster] == [True] * 5 + [False] * 2
    rps = load_config(None, {"game": "rps"})
    assert [p.player_id for p in initial_roster(rps)][-1:] == ["random"]  # heuristic is Connect Four only


def _view(results):
    return LeagueView(8, (PlayerView(A, Role.MAIN_EXPLOITER, generation_start=5),), results)


def test_snapshot_fires_on_the_win_rate_threshold_with_enough_games_or_on_age():
    rules = load_config(None, {"snapshots": {"win_rate_threshold": 0.7, "min_games": 10,
                                             "max_iterations_per_snapshot": 4}}).snapshots
    learner = PlayerView(A, Role.MAIN_EXPLOITER, generation_start=5)
    strong = {(A, B): PairCounts(wins=8, losses=2), (A, A): PairCounts(wins=5, losses=5)}
    # Self-play is left out: 0.8 over 10 games against b.
    assert generation_score(A, _view(strong), {A: 0.5, B: 0.5}) == (0.8, 10)
    assert snapshot_due(learner, _view(strong), {A: 0.5, B: 0.5}, rules, iteration=6)
    few = {(A, B): PairCounts(wins=8, losses=1)}
    assert not snapshot_due(learner, _view(few), {B: 1.0}, rules, iteration=6)       # 9 games < 10
    weak = {(A, B): PairCounts(wins=6, losses=4), (A, C): PairCounts(wins=10)}
    # weighted by the distribution: 0.75 * 0.6 + 0.25 * 1.0 = 0.7 -> fires; 0.9/0.1 -> 0.64 does not
    assert generation_score(A, _view(weak), {B: 0.75, C: 0.25})[0] == pytest.approx(0.7)
    assert not snapshot_due(learner, _view(weak), {B: 0.9, C: 0.1}, rules, iteration=8)
    assert snapshot_due(learner, _view(weak), {B: 0.9, C: 0.1}, rules, iteration=9)  # 4 iterations old


def test_reset_probability():
    rng = np.random.default_rng(0)
    assert resets_after_snapshot(1.0, rng) and not resets_after_snapshot(0.0, rng)
    draws = [resets_after_snapshot(0.25, np.random.default_rng([0, i])) for i in range(4000)]
    assert abs(np.mean(draws) - 0.25) < 0.02
