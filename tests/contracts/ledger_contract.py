"""The behaviour every :class:`~league.ledger.base.Ledger` backend must show.

A backend's test module subclasses :class:`LedgerContract` and provides two
fixtures on a real server: ``ledger`` (a fresh run's ledger) and ``ledger_url``
(the URL :func:`~league.ledger.open_ledger` reaches that server by).
"""

from __future__ import annotations

import re
import time
import uuid

import pytest

from league.errors import InvalidIdError
from league.ledger import open_ledger
from league.ledger.base import PROGRESS_FIELDS, Ledger, PairCounts
from league.ratings import Rating, compute_ratings
from league.types import MatchId, MatchRecord, PlayerId, PlayerRecord, Role

MAIN, SNAP = PlayerId("main"), PlayerId("main_v1")


def fresh_run_id(prefix: str) -> str:
    """A run id no other test uses (an external test server keeps its keys between sessions)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


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

    def test_a_removed_player_loses_its_unusable_mark_and_rejoins_at_the_end(self, ledger: Ledger):
        other = PlayerId("random")
        for player in (PlayerRecord(MAIN, Role.MAIN), PlayerRecord(SNAP, Role.SNAPSHOT, MAIN, 1),
                       PlayerRecord(other, Role.SCRIPTED)):
            ledger.save_player(player)
        ledger.mark_unusable(SNAP, "checksum mismatch")
        ledger.remove_player(SNAP)
        assert ledger.unusable() == {}
        ledger.save_player(PlayerRecord(SNAP, Role.SNAPSHOT, MAIN, 4))
        assert ledger.players() == [PlayerRecord(MAIN, Role.MAIN), PlayerRecord(other, Role.SCRIPTED),
                                    PlayerRecord(SNAP, Role.SNAPSHOT, MAIN, 4)]

    def test_unsafe_player_ids_are_refused(self, ledger: Ledger):
        with pytest.raises(InvalidIdError, match=re.escape("invalid player id '../x'")):
            ledger.remove_player(PlayerId("../x"))
        with pytest.raises(InvalidIdError, match=re.escape("invalid player id '../x'")):
            ledger.mark_unusable(PlayerId("../x"), "bad")

    def test_saved_ratings_replace_the_previous_ones(self, ledger: Ledger):
        ledger.save_ratings({MAIN: Rating(1210.0, 26.0, 8.0, 2), SNAP: Rating(1190.0, 24.0, 8.0, 2)}, 2)
        ledger.save_ratings({MAIN: Rating(1220.5, 27.0, 7.5, 3)}, 3)
        assert ledger.ratings() == ({MAIN: Rating(1220.5, 27.0, 7.5, 3)}, 3)
        ledger.save_ratings({}, 0)
        assert ledger.ratings() == ({}, 0)

    def test_truncating_to_zero_empties_every_counter(self, ledger: Ledger):
        ledger.record([match("a", iteration=1), match("b", (SNAP, MAIN), (0.0, 0.0), iteration=2),
                       match("c", (MAIN, MAIN), (1.0, -1.0), iteration=2)])
        assert ledger.truncate(-1) == 3
        assert ledger.match_count() == 0 and list(ledger.iter_matches()) == []
        assert ledger.payoff_counts() == {} and ledger.games_played() == {}
        assert ledger.window_counts([MAIN, SNAP], 0, 9) == {}
        assert ledger.pair_counts(MAIN, MAIN) == PairCounts()

    def test_an_empty_resident_list_is_recorded(self, ledger: Ledger):
        ledger.set_resident([MAIN])
        ledger.set_resident([])
        assert ledger.resident() == []

    def test_the_server_is_named(self, ledger: Ledger):
        assert isinstance(ledger.server(), str) and ledger.server()

    def test_open_ledger_of_the_same_url_and_run_sees_the_same_data(self, ledger_url: str):
        run_id = fresh_run_id("run-shared")
        first = open_ledger(ledger_url, run_id)
        first.record([match("m-1"), match("m-2", iteration=2)])
        first.save_player(PlayerRecord(MAIN, Role.MAIN))
        first.set_progress(iteration=2)
        first.close()
        again = open_ledger(ledger_url, run_id)
        try:
            assert [m.match_id for m in again.iter_matches()] == ["m-1", "m-2"]
            assert again.record([match("m-2", iteration=2)]) == 0
            assert again.pair_counts(MAIN, SNAP) == PairCounts(wins=2)
            assert again.players() == [PlayerRecord(MAIN, Role.MAIN)]
            assert again.progress()["iteration"] == 2
        finally:
            again.close()

    def test_runs_of_one_url_are_isolated(self, ledger_url: str):
        a, b = open_ledger(ledger_url, fresh_run_id("run-a")), open_ledger(ledger_url, fresh_run_id("run-b"))
        try:
            a.record([match("same-id")])
            a.save_player(PlayerRecord(MAIN, Role.MAIN))
            a.add_evaluation(1, "random", PairCounts(wins=1))
            assert b.match_count() == 0 and b.players() == [] and b.evaluations() == []
            assert b.record([match("same-id")]) == 1
            assert a.pair_counts(MAIN, SNAP) == b.pair_counts(MAIN, SNAP) == PairCounts(wins=1)
        finally:
            a.close()
            b.close()

    def test_a_record_larger_than_a_write_batch_counts_each_new_match_once(self, ledger_url: str):
        ledger = open_ledger(ledger_url, fresh_run_id("run-batches"), write_batch=2)
        try:
            ledger.record([match("m-1")])
            records = [match(f"m-{i}") for i in range(5)] + [match("m-3")]
            assert ledger.record(records) == 4
            assert ledger.match_count() == 5
            assert ledger.pair_counts(MAIN, SNAP) == PairCounts(wins=5)
            assert [m.match_id for m in ledger.iter_matches()] == ["m-1", "m-0", "m-2", "m-3", "m-4"]
        finally:
            ledger.close()

    def test_a_run_id_that_would_escape_a_namespace_is_refused(self, ledger_url: str):
        with pytest.raises(InvalidIdError, match=re.escape("invalid run id '../etc'")):
            open_ledger(ledger_url, "../etc")
