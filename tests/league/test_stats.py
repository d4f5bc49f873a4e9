"""Known values of the Wilson interval (Wilson 1927; e.g. Agresti & Coull 1998, table values)."""

from __future__ import annotations

import pytest

from league.stats import wilson_interval


def test_half_of_a_hundred():
    low, high = wilson_interval(0.5, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)


def test_all_wins_keeps_an_upper_bound_of_one_and_a_lower_bound_below():
    low, high = wilson_interval(1.0, 200)
    assert high == pytest.approx(1.0) and round(low, 4) == 0.9812  # 200 / (200 + 1.96^2)


def test_no_games_says_nothing_and_bad_scores_are_refused():
    assert wilson_interval(0.0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError, match="score must be in"):
        wilson_interval(1.5, 10)
