"""Elo and OpenSkill ratings from match records (pure, known answers)."""

from __future__ import annotations

import pytest

from league.ratings import RatingBook, compute_ratings, elo_expected, elo_update
from league.types import MatchId, MatchRecord, PlayerId

A, B, C = PlayerId("a"), PlayerId("b"), PlayerId("c")


def m(seats, returns, i=0):
    return MatchRecord(MatchId(f"m{i}"), tuple(seats), tuple(returns), 10, 0.0, 0.0)


def test_elo_known_answers():
    # Equal ratings expect 1/2; a 400-point lead expects 10/11 (Elo's logistic curve, base 10, scale 400).
    assert elo_expected(1500, 1500) == 0.5
    assert elo_expected(1600, 1200) == pytest.approx(10 / 11)
    # K=16, equal ratings: a win moves 8 points each way, a draw nothing.
    assert elo_update(1200, 1200, 1.0, k=16) == (1208.0, 1192.0)
    assert elo_update(1200, 1200, 0.5, k=16) == (1200.0, 1200.0)
    # The favourite (expected 10/11) gains only 16 * 1/11 for the expected win.
    assert elo_update(1600, 1200, 1.0, k=16)[0] == pytest.approx(1600 + 16 / 11)


def test_rating_book_folds_matches_in_order_by_returns():
    book = RatingBook(elo_initial=1200, elo_k=16)
    assert book.update(m((A, B), (1.0, -1.0)))           # a beats b
    assert book.update(m((B, C), (0.0, 0.0), 1))          # b draws c
    ratings = book.ratings()
    assert ratings[A].elo == 1208 and ratings[B].elo == pytest.approx(1192 + 16 * (0.5 - elo_expected(1192, 1200)))
    assert ratings[A].mu > 25 > ratings[B].mu
    assert ratings[A].sigma < 25 / 3 and ratings[A].games == 1 and ratings[B].games == 2


def test_self_play_matches_are_not_rated():
    book = RatingBook()
    assert not book.update(m((A, A), (1.0, -1.0)))
    assert book.ratings() == {}


def test_skill_uncertainty_shrinks_and_the_stronger_player_ends_higher():
    matches = [m((A, B) if i % 2 else (B, A), (1.0, -1.0) if i % 2 else (-1.0, 1.0), i) for i in range(60)]
    matches += [m((B, C), (1.0, -1.0), 100 + i) for i in range(60)]
    ratings = compute_ratings(matches)
    assert ratings[A].elo > ratings[B].elo > ratings[C].elo
    assert ratings[A].mu > ratings[B].mu > ratings[C].mu
    assert ratings[B].sigma < ratings[A].sigma < 25 / 3  # b played twice as often
    assert ratings[A].conservative == pytest.approx(ratings[A].mu - 3 * ratings[A].sigma)


def test_incremental_ratings_equal_ratings_from_scratch():
    matches = [m((A, B), (1.0, -1.0), i) if i % 3 else m((C, A), (0.0, 0.0), i) for i in range(30)]
    book = RatingBook()
    book.update_all(matches[:11])
    resumed = RatingBook(start=book.ratings())
    resumed.update_all(matches[11:])
    scratch = compute_ratings(matches)
    for player, rating in scratch.items():
        assert resumed.ratings()[player].elo == pytest.approx(rating.elo)
        assert resumed.ratings()[player].mu == pytest.approx(rating.mu)
        assert resumed.ratings()[player].sigma == pytest.approx(rating.sigma)
