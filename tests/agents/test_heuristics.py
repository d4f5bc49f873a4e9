"""The scripted choosers, with hand-built Connect Four positions."""

from __future__ import annotations

import numpy as np
import pytest

from agents.heuristics import connect_four_heuristic, random_legal
from league.arena import ScriptedActor, head_to_head

ALL_LEGAL = np.ones(7)


def board(mine: list[tuple[int, int]], theirs: list[tuple[int, int]]) -> np.ndarray:
    """A (6, 7, 2) board; coordinates are (row, column) with row 5 at the bottom."""
    b = np.zeros((6, 7, 2), dtype=np.int8)
    for r, c in mine:
        b[r, c, 0] = 1
    for r, c in theirs:
        b[r, c, 1] = 1
    return b


def test_random_legal_only_picks_legal_moves():
    rng = np.random.default_rng(0)
    mask = np.array([0, 1, 0, 1, 0, 0, 0])
    picks = {random_legal(None, mask, rng) for _ in range(200)}
    assert picks == {1, 3}


def test_random_legal_rejects_an_all_zero_mask():
    with pytest.raises(ValueError, match="no legal action"):
        random_legal(None, np.zeros(7), np.random.default_rng(0))


def test_heuristic_takes_a_winning_move():
    b = board(mine=[(5, 0), (5, 1), (5, 2)], theirs=[(4, 0), (4, 1), (4, 2)])
    assert connect_four_heuristic(b, ALL_LEGAL, np.random.default_rng(0)) == 3


def test_heuristic_blocks_an_immediate_loss():
    b = board(mine=[(5, 6), (4, 6)], theirs=[(5, 1), (4, 1), (3, 1)])
    assert connect_four_heuristic(b, ALL_LEGAL, np.random.default_rng(0)) == 1


def test_heuristic_prefers_winning_over_blocking():
    b = board(mine=[(5, 6), (4, 6), (3, 6)], theirs=[(5, 1), (4, 1), (3, 1)])
    assert connect_four_heuristic(b, ALL_LEGAL, np.random.default_rng(0)) == 6


def test_heuristic_prefers_the_centre_and_respects_the_mask():
    empty = board([], [])
    assert connect_four_heuristic(empty, ALL_LEGAL, np.random.default_rng(0)) == 3
    mask = ALL_LEGAL.copy()
    mask[3] = 0
    assert connect_four_heuristic(empty, mask, np.random.default_rng(0)) in (2, 4)


def test_heuristic_beats_random_nearly_always():
    heuristic = ScriptedActor(connect_four_heuristic, np.random.default_rng(1))
    rand = ScriptedActor(random_legal, np.random.default_rng(2))
    counts = head_to_head("connect_four", heuristic, rand, games=200, seed=0)
    assert counts.games == 200
    assert counts.score >= 0.9


def _reference_heuristic(observation, action_mask, rng):
    """The heuristic as first written (numpy indexing throughout): the list-based one must match it."""
    from agents.heuristics import _drop_row, connects_four

    board = np.asarray(observation)
    legal = np.flatnonzero(np.asarray(action_mask) > 0)
    for channel in (0, 1):
        wins = []
        for column in legal:
            row = _drop_row(board, int(column))
            if row is None:
                continue
            plane = board[:, :, channel].copy()
            plane[row, column] = 1
            if connects_four(plane, row, int(column)):
                wins.append(int(column))
        if wins:
            return int(rng.choice(wins))
    distance = np.abs(legal - 3)
    return int(rng.choice(legal[distance == distance.min()]))


def test_the_connect_four_heuristic_matches_its_reference_on_random_positions():
    from pettingzoo.classic import connect_four_v3

    from agents.heuristics import connect_four_heuristic

    rng = np.random.default_rng(0)
    checked = 0
    for game in range(60):
        env = connect_four_v3.env()
        env.reset(seed=game)
        for _agent in env.agent_iter():
            obs, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            seed = int(rng.integers(1 << 30))
            ours = connect_four_heuristic(obs["observation"], obs["action_mask"], np.random.default_rng(seed))
            reference = _reference_heuristic(obs["observation"], obs["action_mask"], np.random.default_rng(seed))
            assert ours == reference
            checked += 1
            env.step(int(rng.choice(np.flatnonzero(obs["action_mask"]))))
    assert checked > 1000
