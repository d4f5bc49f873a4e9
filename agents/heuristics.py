"""Scripted move choosers as pure numpy functions (no Ray, no torch).

Each chooser takes one agent's observation, its legal-action mask and an
explicit ``np.random.Generator`` and returns an action index. The RLlib policy
wrappers in :mod:`agents.scripted` and the arena (:mod:`league.arena`) call these.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from agents.search import SEARCH_GAMES, alphabeta_move

#: (observation, action_mask, rng) -> action
Chooser = Callable[[np.ndarray, np.ndarray, np.random.Generator], int]

_CONNECT_FOUR_ROWS, _CONNECT_FOUR_COLS = 6, 7


def random_legal(observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator) -> int:
    """A uniformly random legal action.

    Example:
        >>> random_legal(np.zeros(3), np.array([0, 1, 0]), np.random.default_rng(0))
        1
    """
    legal = np.flatnonzero(np.asarray(action_mask) > 0)
    if legal.size == 0:
        raise ValueError("no legal action: the action mask is all zeros")
    return int(rng.choice(legal))


def _drop_row(board: np.ndarray, column: int) -> int | None:
    """Row index a disc dropped in ``column`` lands on (row 0 is the top), or None if full."""
    occupied = board[:, column, 0] + board[:, column, 1]
    empty_rows = np.flatnonzero(occupied == 0)
    return int(empty_rows[-1]) if empty_rows.size else None


def connects_four(plane: np.ndarray, row: int, column: int) -> bool:
    """Whether the disc at (row, column) of ``plane`` (one player's 6x7 discs) is in a line of four."""
    return _line_of_four((np.asarray(plane) != 0).tolist(), row, column)


def _winning_columns(board: np.ndarray, legal: np.ndarray, channel: int) -> list[int]:
    """Legal columns where a disc of ``channel``'s player completes four.

    Works on Python lists (one conversion per call): numpy's per-element
    indexing made this the costliest part of a scripted player's move.
    """
    occupied = (board[:, :, 0] + board[:, :, 1]).tolist()
    plane = (board[:, :, channel] != 0).tolist()
    wins = []
    for column in legal.tolist():
        row = next((r for r in range(_CONNECT_FOUR_ROWS - 1, -1, -1) if not occupied[r][column]), None)
        if row is None:
            continue
        plane[row][column] = True
        if _line_of_four(plane, row, column):
            wins.append(int(column))
        plane[row][column] = False
    return wins


def _line_of_four(plane: list[list[bool]], row: int, column: int) -> bool:
    """Whether the disc at (row, column) of a 6x7 nested list of booleans is in a line of four."""
    for d_row, d_col in ((0, 1), (1, 0), (1, 1), (1, -1)):
        count = 1
        for sign in (1, -1):
            r, c = row + sign * d_row, column + sign * d_col
            while 0 <= r < _CONNECT_FOUR_ROWS and 0 <= c < _CONNECT_FOUR_COLS and plane[r][c]:
                count += 1
                r, c = r + sign * d_row, c + sign * d_col
        if count >= 4:
            return True
    return False


def connect_four_heuristic(
    observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator
) -> int:
    """Connect Four: win if possible, else block an immediate loss, else prefer the centre.

    ``observation`` is PettingZoo's ``(6, 7, 2)`` board: channel 0 holds the
    discs of the player to move, channel 1 the opponent's. Ties (two winning or
    blocking columns, or two columns equally near the centre) are broken by ``rng``.
    """
    board = np.asarray(observation)
    legal = np.flatnonzero(np.asarray(action_mask) > 0)
    if legal.size == 0:
        raise ValueError("no legal action: the action mask is all zeros")
    for channel in (0, 1):  # 0: our winning move; 1: the opponent's, which we block
        columns = _winning_columns(board, legal, channel)
        if columns:
            return int(rng.choice(columns))
    distance = np.abs(legal - _CONNECT_FOUR_COLS // 2)
    nearest = legal[distance == distance.min()]
    return int(rng.choice(nearest))


#: Search depths of the alpha-beta players ``alphabeta-1`` ... ``alphabeta-6`` (:mod:`agents.search`).
ALPHABETA_DEPTHS = (1, 2, 3, 4, 5, 6)


def alphabeta_id(depth: int) -> str:
    """The scripted player id of the alpha-beta player searching ``depth`` moves.

    Example:
        >>> alphabeta_id(4)
        'alphabeta-4'
    """
    return f"alphabeta-{depth}"


#: Scripted choosers by name, and the games each one supports (None: every game).
CHOOSERS: dict[str, tuple[Chooser, frozenset[str] | None]] = {
    "random": (random_legal, None),
    "heuristic": (connect_four_heuristic, frozenset({"connect_four"})),
    **{alphabeta_id(d): (partial(alphabeta_move, depth=d), SEARCH_GAMES) for d in ALPHABETA_DEPTHS},
}

#: Scripted players a league seeds only when ``roster.scripted`` names them: the search players, as
#: every one of them in every Connect Four or tic-tac-toe league would cost anchor games and resident
#: policies the user did not ask for. An unset roster seeds the other players that support the game.
OPT_IN: frozenset[str] = frozenset(alphabeta_id(depth) for depth in ALPHABETA_DEPTHS)
