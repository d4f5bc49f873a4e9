"""The behaviour every :class:`~league.ledger.base.Ledger` backend must show.

A backend's test module subclasses :class:`LedgerContract` and provides a
``ledger`` fixture built on a real server.
"""

from __future__ import annotations

import re
import time

import pytest

from league.ledger.base import PROGRESS_FIELDS, Ledger, PairCounts
from league.ratings import Rating, compute_ratings
from league.types import MatchId, MatchRecord, PlayerId, PlayerRecord, Role

MAIN, SNAP = PlayerId("main"), PlayerId("main_v1")


def match(match_id: str, seats=(MAIN, SNAP), returns=(1.0, -1.0), iteration: int = 1,
          learner: PlayerId | None = MAIN) -> MatchRecord:
    """A match record for tests."""
    return MatchRecord(MatchId(match_id), tuple(seats), tuple(returns), 12, time.time(), 0.5,
                       iteration=iteration, learner=learner)


class LedgerContract:
    """Tests inherited by every ledger backend."""

    def test_a_replayed_match_moves_the_counters_once(self, ledger: Ledger):
        record = match("m-1")
        assert ledger.record([record]) == 1
        assert ledger.record([record]) == 0
        assert ledger.record([record, record]) == 0
        assert ledger.match_count() == 1
        assert ledger.pair_counts(MAIN, SNAP) == PairCounts(wins=1)
        assert ledger.pair_counts(SNAP, MAIN) == PairCounts(losses=1)
        assert ledger.games_played() == {MAIN: 1, SNAP: 1}

    def test_counters_follow_outcomes_per_ordered_pair(self, ledger: Ledger):
        ledger.record([
            match("a", (MAIN, SNAP), (1.0, -1.0)),
            match("b", (SNAP, MAIN), (1.0, -1.0)),
            match("c", (MAIN, SNAP), (0.0, 0.0)),
            match("d", (MAIN, MAIN), (-1.0, 1.0)),
        ])
        assert ledger.pair_counts(MAIN, SNAP) == PairCounts(wins=1, draws=1, losses=1)
        assert ledger.pair_counts(SNAP, MAIN) == PairCounts(wins=1, draws=1, losses=1)
        assert ledger.pair_counts(MAIN, MAIN) == PairCounts(wins=1, losses=1)
        assert ledger.games_played() == {MAIN: 4, SNAP: 3}
        assert ledger.match_count() == 4

    def test_matches_read_back_in_order(self, ledger: Ledger):
        records = [match(f"m{i}", returns=(float(i % 2), 0.0)) for i in range(5)]
        ledger.record(records)
        assert [m.match_id for m in ledger.iter_matches()] == [r.match_id for r in records]
        assert ledger.get_match(MatchId("m3")) == records[3]
        assert ledger.get_match(MatchId("missing")) is None

    def test_roster_and_progress_round_trip(self, ledger: Ledger):
        ledger.save_player(PlayerRecord(MAIN, Role.MAIN))
        ledger.save_player(PlayerRecord(SNAP, Role.SNAPSHOT, parent=MAIN, created_iteration=5))
        ledger.save_player(PlayerRecord(SNAP, Role.SNAPSHOT, parent=MAIN, created_iteration=5))
        assert ledger.players() == [PlayerRecord(MAIN, Role.MAIN),
                                    PlayerRecord(SNAP, Role.SNAPSHOT, MAIN, 5)]
        assert ledger.progress() == dict.fromkeys(PROGRESS_FIELDS, 0)
        ledger.set_progress(iteration=3, env_steps=1200, episodes=40, anchor_matches=8)
        ledger.set_progress(resumes=2)
        assert ledger.progress() == {**dict.fromkeys(PROGRESS_FIELDS, 0), "iteration": 3, "env_steps": 1200,
                                     "episodes": 40, "anchor_matches": 8, "resumes": 2}
        with pytest.raises(ValueError, match=re.escape("unknown progress counters ['iterations']")):
            ledger.set_progress(iterations=4)

    def test_evaluations_are_kept_in_order_once_per_iteration_and_opponent(self, ledger: Ledger):
        ledger.add_evaluation(10, "random", PairCounts(wins=3, losses=1))
        ledger.add_evaluation(2, "random", PairCounts(wins=4))
        ledger.add_evaluation(2, "random", PairCounts(wins=4))
        ledger.add_evaluation(2, "heuristic", PairCounts(losses=4))
        assert ledger.evaluations() == [(2, "heuristic", PairCounts(losses=4)), (2, "random", PairCounts(wins=4)),
                                        (10, "random", PairCounts(wins=3, losses=1))]
        ledger.drop_evaluations_after(2)
        assert [e[0] for e in ledger.evaluations()] == [2, 2]

    def test_exploitability_is_kept_once_per_iteration_and_rolled_back_with_evaluations(self, ledger: Ledger):
        ledger.add_exploitability(12, {"main": 0.25, "mixture": 0.125})
        ledger.add_exploitability(3, {"main": 0.5})
        ledger.add_exploitability(3, {"main": 0.375})
        assert ledger.exploitability() == [(3, {"main": 0.375}), (12, {"main": 0.25, "mixture": 0.125})]
        ledger.drop_evaluations_after(11)
        assert ledger.exploitability() == [(3, {"main": 0.375})]

    def test_truncate_takes_back_the_newest_matches_and_their_counters(self, ledger: Ledger):
        other = PlayerId("random")
        kept = [match("a", iteration=1), match("b", (SNAP, MAIN), (1.0, -1.0), iteration=1)]
        ledger.record(kept)
        before = (ledger.payoff_counts(), ledger.games_played(), ledger.window_counts([MAIN, SNAP], 1, 2))
        ledger.record([match("c", iteration=2), match("d", (MAIN, other), (0.0, 0.0), iteration=2),
                       match("e", (MAIN, MAIN), (1.0, -1.0), iteration=2)])
        assert ledger.truncate(2) == 3
        assert ledger.match_count() == 2
        assert [m.match_id for m in ledger.iter_matches()] == ["a", "b"]
        assert (ledger.payoff_counts(), ledger.games_played(), ledger.window_counts([MAIN, SNAP], 1, 2)) == before
        assert (MAIN, other) not in ledger.payoff_counts()
        assert ledger.get_match(MatchId("d")) is None
        assert ledger.truncate(2) == 0
        # A taken-back match can be recorded again, and counts once.
        assert ledger.record([match("d", (MAIN, other), (0.0, 0.0), iteration=2)]) == 1
        assert ledger.pair_counts(MAIN, other) == PairCounts(draws=1)

    def test_payoff_counts_cover_every_ordered_pair_that_met(self, ledger: Ledger):
        other = PlayerId("random")
        ledger.record([match("a", (MAIN, SNAP), (1.0, -1.0)), match("b", (other, MAIN), (0.0, 0.0)),
                       match("c", (MAIN, SNAP), (-1.0, 1.0))])
        assert ledger.payoff_counts() == {
            (MAIN, SNAP): PairCounts(wins=1, losses=1), (SNAP, MAIN): PairCounts(wins=1, losses=1),
            (MAIN, other): PairCounts(draws=1), (other, MAIN): PairCounts(draws=1),
        }

    def test_window_counts_only_count_the_asked_iterations_and_players(self, ledger: Ledger):
        ledger.record([match("a", iteration=1), match("b", iteration=2),
                       match("c", (SNAP, MAIN), (1.0, -1.0), iteration=3),
                       match("d", (MAIN, SNAP), (0.0, 0.0), iteration=3)])
        assert ledger.window_counts([MAIN], 2, 3) == {(MAIN, SNAP): PairCounts(wins=1, draws=1, losses=1)}
        assert ledger.window_counts([SNAP], 1, 1) == {(SNAP, MAIN): PairCounts(losses=1)}
        assert ledger.window_counts([MAIN], 4, 9) == {}

    def test_ratings_round_trip_with_their_cursor(self, ledger: Ledger):
        assert ledger.ratings() == ({}, 0)
        records = [match("a"), match("b", (SNAP, MAIN)), match("c", (MAIN, SNAP), (0.0, 0.0))]
        ledger.record(records)
        ratings = compute_ratings(ledger.iter_matches())
        ledger.save_ratings(ratings, 3)
        assert ledger.ratings() == (ratings, 3)
        assert isinstance(ratings[MAIN], Rating) and ratings[MAIN].games == 3
        assert [m.match_id for m in ledger.iter_matches(start=2)] == ["c"]
        assert ledger.get_match(MatchId("a")).learner == MAIN

    def test_removing_a_player_keeps_its_history(self, ledger: Ledger):
        ledger.save_player(PlayerRecord(MAIN, Role.MAIN))
        ledger.save_player(PlayerRecord(SNAP, Role.SNAPSHOT, parent=MAIN, created_iteration=1))
        ledger.record([match("m-1")])
        ledger.remove_player(SNAP)
        assert [p.player_id for p in ledger.players()] == [MAIN]
        assert ledger.pair_counts(MAIN, SNAP) == PairCounts(wins=1)
        assert ledger.match_count() == 1

    def test_resident_and_unusable_players_are_recorded(self, ledger: Ledger):
        assert ledger.resident() == [] and ledger.unusable() == {}
        ledger.set_resident([MAIN, SNAP])
        ledger.set_resident([MAIN])
        assert ledger.resident() == [MAIN]
        ledger.mark_unusable(SNAP, "checksum mismatch")
        assert ledger.unusable() == {SNAP: "checksum mismatch"}
