"""Elo (fitted and online) and OpenSkill ratings from match records (pure, known answers)."""

from __future__ import annotations

import itertools
import math

import pytest

from league.payoff import payoff_from_matches
from league.ratings import RatingBook, compute_ratings, elo_expected, elo_update, fit_elo, rating_history
from league.types import MatchId, MatchRecord, PairCounts, PlayerId

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


def test_online_rating_book_folds_matches_in_order_by_returns():
    book = RatingBook(elo_initial=1200, elo_k=16, elo_method="online")
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


@pytest.mark.parametrize("method", ["fitted", "online"])
def test_incremental_ratings_equal_ratings_from_scratch(method):
    matches = [m((A, B), (1.0, -1.0), i) if i % 3 else m((C, A), (0.0, 0.0), i) for i in range(30)]
    matches += [m((B, C), (1.0, -1.0), 40 + i) for i in range(5)]
    book = RatingBook(elo_method=method)
    book.update_all(matches[:11])
    resumed = RatingBook(elo_method=method, start=book.ratings(), pairs=book.pairs())
    resumed.update_all(matches[11:])
    scratch = compute_ratings(matches, elo_method=method)
    for player, rating in scratch.items():
        assert resumed.ratings()[player].elo == pytest.approx(rating.elo)
        assert resumed.ratings()[player].mu == pytest.approx(rating.mu)
        assert resumed.ratings()[player].sigma == pytest.approx(rating.sigma)


def test_fitted_elo_known_answers():
    # Odds of 10 to 1 are 400 Elo points (10,000 games: the two virtual draws barely move it).
    elo = fit_elo({(A, B): PairCounts(wins=10_000, draws=0, losses=1_000)})
    assert elo[A] - elo[B] == pytest.approx(400, abs=0.5)
    # The virtual opponent at 1200 keeps the two symmetric around it.
    assert (elo[A] + elo[B]) / 2 == pytest.approx(1200, abs=1e-6)
    # A chain: a beats b 3:1 and b beats c 3:1; a and c never met, so a-c is the sum of the two gaps.
    gap = 400 * math.log10(3)  # 190.85
    elo = fit_elo({(A, B): PairCounts(3_000, 0, 1_000), (B, C): PairCounts(3_000, 0, 1_000)})
    assert elo[A] - elo[B] == pytest.approx(gap, abs=0.5) and elo[B] - elo[C] == pytest.approx(gap, abs=0.5)
    assert elo[B] == pytest.approx(1200, abs=1e-6)
    # Draws only: nobody moves. A player listed with no games sits at the initial rating.
    assert fit_elo({(A, B): PairCounts(0, 7, 0)}, players=[C], initial=1500) == {A: 1500, B: 1500, C: 1500}


def test_fitted_elo_solves_the_prior_equation_by_hand():
    # a won both games against b, plus 2 virtual draws each against a player at 1200. By symmetry
    # a = 1200 + x, b = 1200 - x, and a's points equal its expected points: 3 = 2 E(2x) + 2 E(x).
    x = fit_elo({(A, B): PairCounts(2, 0, 0)})[A] - 1200
    assert 2 * elo_expected(1200 + 2 * x, 1200) + 2 * elo_expected(1200 + x, 1200) == pytest.approx(3.0)
    assert x == pytest.approx(131.38, abs=0.01)


def test_fitted_elo_reads_a_pair_once_whichever_order_the_payoff_holds():
    one = fit_elo({(A, B): PairCounts(5, 1, 2)})
    both = fit_elo({(A, B): PairCounts(5, 1, 2), (B, A): PairCounts(2, 1, 5)})
    mirrored = fit_elo({(B, A): PairCounts(2, 1, 5)})
    assert one == pytest.approx(both) and one == pytest.approx(mirrored)
    with pytest.raises(ValueError, match="prior_games"):
        fit_elo({(A, B): PairCounts(1, 0, 0)}, prior_games=0)


def test_fitted_elo_does_not_depend_on_the_order_of_matches():
    matches = [m((A, B), (1.0, -1.0), i) for i in range(6)] + [m((B, C), (-1.0, 1.0), 10 + i) for i in range(4)]
    matches += [m((C, A), (0.0, 0.0), 20 + i) for i in range(3)]
    forward, backward = compute_ratings(matches), compute_ratings(list(reversed(matches)))
    assert {p: r.elo for p, r in forward.items()} == pytest.approx({p: r.elo for p, r in backward.items()})
    online = compute_ratings(matches, elo_method="online")
    online_backward = compute_ratings(list(reversed(matches)), elo_method="online")
    assert online[A].elo != pytest.approx(online_backward[A].elo)  # the online method is path dependent


def test_fitted_elo_puts_the_player_everyone_beats_last_where_online_elo_does_not():
    # The league's case: snapshot x beat random 6 of 10 early on, then main beat x 40 times and random
    # 10 times. Online, random keeps the rating it had when it met x, and x sinks below it.
    random, x, main = PlayerId("random"), PlayerId("x"), PlayerId("main")
    matches = [m((x, random), (1.0, -1.0) if i % 5 < 3 else (-1.0, 1.0), i) for i in range(10)]
    matches += [m((main, x), (1.0, -1.0), 100 + i) for i in range(40)]
    matches += [m((main, random), (1.0, -1.0), 200 + i) for i in range(10)]
    online = compute_ratings(matches, elo_method="online")
    assert online[random].elo > online[x].elo
    fitted = compute_ratings(matches)
    assert fitted[main].elo > fitted[x].elo > fitted[random].elo


def test_unknown_elo_method_is_refused():
    with pytest.raises(ValueError, match="elo_method"):
        RatingBook(elo_method="glicko")  # type: ignore[arg-type]


def test_the_book_counts_pairs_exactly_as_the_payoff_does():
    # A resumed league seeds the fit from the ledger's payoff counters, so the two must agree, three-seat
    # matches with a player in two seats included.
    matches = [m((A, B), (1.0, -1.0), 0), m((A, A), (1.0, -1.0), 1), m((A, B, C), (1.0, 0.0, -1.0), 2),
               m((A, A, C), (0.0, 1.0, -1.0), 3), m((C, B, A), (0.0, 0.0, -1.0), 4)]
    book = RatingBook()
    book.update_all(matches)
    payoff = {pair: counts for pair, counts in payoff_from_matches(matches).items() if pair[0] != pair[1]}
    assert book.pairs() == payoff
    resumed = RatingBook(start=book.ratings(), pairs=payoff)
    assert {p: r.elo for p, r in resumed.ratings().items()} == pytest.approx(
        {p: r.elo for p, r in book.ratings().items()})


@pytest.mark.parametrize("method", ["fitted", "online"])
def test_rating_history_ends_at_the_ratings_and_records_each_move(method):
    # c beats b once in iteration 1 and stops; a keeps beating b in iterations 1-3.
    matches = [MatchRecord(MatchId("c"), (C, B), (1.0, -1.0), 7, 0.0, 0.0, iteration=1)]
    matches += [MatchRecord(MatchId(f"x{i}"), (A, B), (1.0, -1.0), 7, 0.0, 0.0, iteration=1 + i // 4)
                for i in range(12)]
    history = rating_history(matches, elo_method=method)
    final = compute_ratings(matches, elo_method=method)
    assert history.keys() == final.keys()
    for player, series in history.items():
        assert series[-1][0] == 3 and series[-1][1].elo == pytest.approx(final[player].elo)
        for (_, before), (_, after) in itertools.pairwise(series[:-1]):  # every point but the last one moved
            assert after.games != before.games or abs(after.elo - before.elo) >= 1.0
    c_iterations = [iteration for iteration, _ in history[C]]
    if method == "online":
        assert c_iterations == [1, 3]  # its own match, then the last iteration
    else:
        assert c_iterations == [1, 2, 3]  # as b sinks, the fit lowers the player who beat b


def test_a_fitted_book_refuses_start_ratings_without_their_pairs():
    book = RatingBook()
    book.update(m((A, B), (1.0, -1.0)))
    with pytest.raises(ValueError, match="pairs"):
        RatingBook(start=book.ratings())
    assert RatingBook(elo_method="online", start=book.ratings()).ratings()[A].elo == book.ratings()[A].elo


def test_fitted_elo_converges_from_a_start_far_on_the_wrong_side():
    # A previous fit that the new results reverse (a reset exploiter keeps its id): the same answer as
    # from a cold start, not an overshoot into a singular Hessian.
    pairs = {(A, B): PairCounts(40, 0, 0), (B, C): PairCounts(40, 0, 0), (C, A): PairCounts(300, 0, 0)}
    cold = fit_elo(pairs)
    assert fit_elo(pairs, start={A: 2000, B: 1200, C: 400}) == pytest.approx(cold, abs=1e-6)
    few = {(A, B): PairCounts(3, 0, 7)}
    assert fit_elo(few, start={A: 600, B: 1800}) == pytest.approx(fit_elo(few), abs=1e-6)


def test_a_player_only_in_an_unrated_many_seat_match_is_still_rated():
    # (a, a, c): a holds two seats, so OpenSkill skips the match, but the a-c results count for Elo.
    book = RatingBook()
    assert not book.update(m((A, A, C), (1.0, 1.0, -1.0)))
    assert set(book.ratings()) == {A, C} and book.ratings()[A].elo > book.ratings()[C].elo
