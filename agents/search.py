"""Depth-limited alpha-beta search players for Connect Four and tic-tac-toe (pure Python; no Ray, no torch).

Negamax with alpha-beta pruning (Knuth and Moore 1975, "An analysis of
alpha-beta pruning") over bitboards built from the PettingZoo observation a
scripted chooser receives: ``(6, 7, 2)`` for Connect Four, ``(3, 3, 2)`` for
tic-tac-toe, channel 0 the discs of the player to move, channel 1 the opponent's.

Scores are from the side to move. A win on the ``p``-th move after the root
scores ``WIN - p`` and a loss ``-(WIN - p)``, so a faster win and a slower loss
are preferred; a full board scores 0. Depth ``d`` searches ``d`` moves (the
root's own move is the first); at every node, the horizon included, the side to
move takes an immediate win, and a side facing two immediate wins it cannot
both block has lost. So depth 1 already wins in one and blocks a loss in one.
At the horizon a static evaluation scores the position:

* Connect Four: ``THREAT`` per empty cell that would complete a player's four
  (playable now or later), ``THREE`` per open three (a line of four cells
  holding three of one player's discs and none of the other's), ``TWO`` per open
  two, ``CENTRE`` per disc in the centre column; the player to move's count
  minus the opponent's. Without the threat term depth 4 lost to depth 2
  (0.29 over 40 games); with it each depth measured beat the one below.
* tic-tac-toe: lines still open to the player to move minus those open to the opponent
  (counting only lines that hold at least one mark).

Connect Four also skips moves that are sound to skip (Pons, "Solving Connect
4", 2019): with an opponent's immediate win to block, only the block; never the
cell under an opponent's winning cell. Root moves are all searched with a
window one below the best score so far, so every move that ties the best has
its exact score; :func:`alphabeta_move` breaks the tie with the caller's
``np.random.Generator``.

Example:
    >>> board = np.zeros((6, 7, 2)); board[5, 0:3, 0] = 1; board[4, 0:3, 1] = 1
    >>> alphabeta_move(board, np.ones(7), np.random.default_rng(0), depth=2)
    3
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CONNECT_FOUR = "connect_four"
TICTACTOE = "tictactoe"
#: The games the search players know.
SEARCH_GAMES = frozenset({CONNECT_FOUR, TICTACTOE})

#: Score of a win on the move after the root (a win ``p`` moves ahead scores ``WIN - p``).
WIN = 1_000_000
_INF = 10 * WIN

#: Connect Four evaluation weights: per threat cell, per open three, per open two, per centre-column disc.
THREAT, THREE, TWO, CENTRE = 12, 5, 2, 3

# Connect Four bitboard: bit ``7 * column + height`` (height 0 at the bottom); bit 6 of each
# column is an always-empty sentinel, so shifted lines never wrap from one column to the next.
_ROWS, _COLS, _STRIDE = 6, 7, 7
_BOTTOM = sum(1 << (_STRIDE * c) for c in range(_COLS))
_BOARD = _BOTTOM * ((1 << _ROWS) - 1)
_COLUMN = tuple(((1 << _ROWS) - 1) << (_STRIDE * c) for c in range(_COLS))
_CENTRE_COLUMN = _COLUMN[_COLS // 2]
_ORDER = (3, 2, 4, 1, 5, 0, 6)  # centre first: better moves first, more cut-offs
#: Bit of observation cell (row, column), row 0 the top, in row-major order.
_C4_BITS = tuple(1 << (_STRIDE * c + (_ROWS - 1 - r)) for r in range(_ROWS) for c in range(_COLS))
#: Shift of each line direction: vertical, horizontal, diagonal down-right, diagonal up-right.
_DIRECTIONS = (1, _STRIDE, _STRIDE - 1, _STRIDE + 1)


def _window_starts(step: int) -> int:
    """Cells from which four cells ``step`` apart all lie on the board."""
    d_col, d_height = {1: (0, 1), _STRIDE: (1, 0), _STRIDE - 1: (1, -1), _STRIDE + 1: (1, 1)}[step]
    starts = 0
    for c in range(_COLS):
        for h in range(_ROWS):
            if 0 <= c + 3 * d_col < _COLS and 0 <= h + 3 * d_height < _ROWS:
                starts |= 1 << (_STRIDE * c + h)
    return starts


_STARTS = tuple(_window_starts(step) for step in _DIRECTIONS)


def _c4_is_win(discs: int) -> bool:
    """Whether ``discs`` hold four in a line."""
    for step in _DIRECTIONS:
        pairs = discs & (discs >> step)
        if pairs & (pairs >> (2 * step)):
            return True
    return False


def _c4_winning_cells(discs: int, occupied: int) -> int:
    """Empty cells where one more of ``discs`` makes four in a line (playable now or not)."""
    cells = (discs << 1) & (discs << 2) & (discs << 3)
    for step in _DIRECTIONS[1:]:
        ahead = (discs << step) & (discs << 2 * step)
        cells |= ahead & (discs << 3 * step)
        cells |= ahead & (discs >> step)
        behind = (discs >> step) & (discs >> 2 * step)
        cells |= behind & (discs << step)
        cells |= behind & (discs >> 3 * step)
    return cells & (_BOARD ^ occupied)


def _c4_evaluate(mine: int, theirs: int) -> int:
    """Static score of a Connect Four position for the player owning ``mine`` (see the module docstring)."""
    occupied = mine | theirs
    threats = _c4_winning_cells(mine, occupied).bit_count() - _c4_winning_cells(theirs, occupied).bit_count()
    score = THREAT * threats
    score += CENTRE * ((mine & _CENTRE_COLUMN).bit_count() - (theirs & _CENTRE_COLUMN).bit_count())
    for step, starts in zip(_DIRECTIONS, _STARTS, strict=True):
        m1, m2, m3 = mine >> step, mine >> 2 * step, mine >> 3 * step
        t1, t2, t3 = theirs >> step, theirs >> 2 * step, theirs >> 3 * step
        for a0, a1, a2, a3, free, sign in (
            (mine, m1, m2, m3, starts & ~(theirs | t1 | t2 | t3), 1),
            (theirs, t1, t2, t3, starts & ~(mine | m1 | m2 | m3), -1),
        ):
            if not free:
                continue
            # How many of the window's four cells are set, by a two-level adder: pairs and singles.
            both01, one01, both23, one23 = a0 & a1, a0 ^ a1, a2 & a3, a2 ^ a3
            threes = ((both01 & one23) | (one01 & both23)) & free
            twos = ((both01 & ~(one23 | both23)) | (both23 & ~(one01 | both01)) | (one01 & one23)) & free
            score += sign * (THREE * threes.bit_count() + TWO * twos.bit_count())
    return score


def _c4_negamax(mine: int, occupied: int, depth: int, alpha: int, beta: int, ply: int) -> int:
    """Score of the position for the player to move (owning ``mine``), ``ply`` moves after the root."""
    playable = (occupied + _BOTTOM) & _BOARD
    if not playable:
        return 0
    if _c4_winning_cells(mine, occupied) & playable:
        return WIN - ply - 1
    theirs = mine ^ occupied
    threats = _c4_winning_cells(theirs, occupied)
    forced = threats & playable
    if forced & (forced - 1):  # two immediate wins for the opponent: one block is not enough
        return -(WIN - ply - 2)
    if depth == 0:
        return _c4_evaluate(mine, theirs)
    if forced:
        playable = forced
    playable &= ~(threats >> 1)  # the cell under an opponent's winning cell hands it over
    if not playable:
        return -(WIN - ply - 2)
    best = -_INF
    for column in _ORDER:
        cell = playable & _COLUMN[column]
        if not cell:
            continue
        score = -_c4_negamax(theirs, occupied | cell, depth - 1, -beta, -alpha, ply + 1)
        if score > best:
            best = score
            if score > alpha:
                alpha = score
                if alpha >= beta:
                    break
    return best


def _c4_root_scores(board: np.ndarray, legal: Sequence[int], depth: int) -> dict[int, int]:
    mine = sum(_C4_BITS[i] for i in np.flatnonzero(board[:, :, 0].ravel()))
    theirs = sum(_C4_BITS[i] for i in np.flatnonzero(board[:, :, 1].ravel()))
    occupied = mine | theirs
    ordered = sorted(legal, key=lambda column: _ORDER.index(column))
    scores: dict[int, int] = {}
    best = -_INF
    for column in ordered:
        cell = (occupied + (1 << (_STRIDE * column))) & _COLUMN[column]
        if not cell:
            raise ValueError(f"column {column} is full but the action mask allows it")
        if _c4_is_win(mine | cell):
            score = WIN - 1
        else:
            score = -_c4_negamax(theirs, occupied | cell, depth - 1, -_INF, -(best - 1), 1)
        scores[column] = score
        best = max(best, score)
    return scores


# Tic-tac-toe bitboard: bit i is square i, the action that plays it (observation cell (i // 3, i % 3)).
_SQUARES = (1 << 9) - 1
_LINES = tuple(sum(1 << i for i in line) for line in (
    (0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)))
_TTT_ORDER = (4, 0, 2, 6, 8, 1, 3, 5, 7)


def _ttt_winning_cells(marks: int, empty: int) -> int:
    """Empty squares where one more of ``marks`` completes a line."""
    cells = 0
    for line in _LINES:
        rest = line & ~marks
        if rest & empty and not rest & (rest - 1):
            cells |= rest
    return cells


def _ttt_evaluate(mine: int, theirs: int) -> int:
    score = 0
    for line in _LINES:
        if line & mine and not line & theirs:
            score += 1
        elif line & theirs and not line & mine:
            score -= 1
    return score


def _ttt_negamax(mine: int, occupied: int, depth: int, alpha: int, beta: int, ply: int) -> int:
    empty = _SQUARES ^ occupied
    if not empty:
        return 0
    if _ttt_winning_cells(mine, empty):
        return WIN - ply - 1
    theirs = mine ^ occupied
    forced = _ttt_winning_cells(theirs, empty)
    if forced & (forced - 1):
        return -(WIN - ply - 2)
    if depth == 0:
        return _ttt_evaluate(mine, theirs)
    moves = forced or empty
    best = -_INF
    for square in _TTT_ORDER:
        cell = 1 << square
        if not moves & cell:
            continue
        score = -_ttt_negamax(theirs, occupied | cell, depth - 1, -beta, -alpha, ply + 1)
        if score > best:
            best = score
            if score > alpha:
                alpha = score
                if alpha >= beta:
                    break
    return best


def _ttt_root_scores(board: np.ndarray, legal: Sequence[int], depth: int) -> dict[int, int]:
    mine = sum(1 << int(i) for i in np.flatnonzero(board[:, :, 0].ravel()))
    theirs = sum(1 << int(i) for i in np.flatnonzero(board[:, :, 1].ravel()))
    occupied = mine | theirs
    scores: dict[int, int] = {}
    best = -_INF
    for square in sorted(legal, key=_TTT_ORDER.index):
        cell = 1 << square
        if occupied & cell:
            raise ValueError(f"square {square} is taken but the action mask allows it")
        if any((mine | cell) & line == line for line in _LINES):
            score = WIN - 1
        else:
            score = -_ttt_negamax(theirs, occupied | cell, depth - 1, -_INF, -(best - 1), 1)
        scores[square] = score
        best = max(best, score)
    return scores


def game_of(observation: np.ndarray) -> str:
    """The search game an observation's shape belongs to.

    Raises:
        ValueError: for a shape that is neither game's board.
    """
    shape = tuple(np.shape(observation))
    if shape == (_ROWS, _COLS, 2):
        return CONNECT_FOUR
    if shape == (3, 3, 2):
        return TICTACTOE
    raise ValueError(f"alpha-beta plays Connect Four (6, 7, 2) and tic-tac-toe (3, 3, 2) boards, "
                     f"not an observation of shape {shape}")


def root_scores(observation: np.ndarray, action_mask: np.ndarray, depth: int) -> dict[int, int]:
    """Each legal move's score; exact for every move that ties the best, an upper bound below it for the rest.

    Args:
        observation: PettingZoo's board for the player to move (see the module docstring).
        action_mask: Legal moves (nonzero: legal).
        depth: Moves searched, the root's own included (at least 1).

    Raises:
        ValueError: for a depth below 1, no legal move, or an observation of neither game.
    """
    if depth < 1:
        raise ValueError(f"depth must be at least 1, got {depth}")
    board = np.asarray(observation) > 0.5
    legal = [int(a) for a in np.flatnonzero(np.asarray(action_mask) > 0)]
    if not legal:
        raise ValueError("no legal action: the action mask is all zeros")
    if game_of(board) == CONNECT_FOUR:
        return _c4_root_scores(board, legal, depth)
    return _ttt_root_scores(board, legal, depth)


def best_moves(observation: np.ndarray, action_mask: np.ndarray, depth: int) -> list[int]:
    """The legal moves with the best score at ``depth``, in increasing order (see :func:`root_scores`)."""
    scores = root_scores(observation, action_mask, depth)
    best = max(scores.values())
    return sorted(move for move, score in scores.items() if score == best)


def alphabeta_move(observation: np.ndarray, action_mask: np.ndarray, rng: np.random.Generator, *,
                   depth: int) -> int:
    """A best move at ``depth``, ties between equally scored moves broken by ``rng``.

    A :data:`agents.heuristics.Chooser` once ``depth`` is bound
    (``functools.partial(alphabeta_move, depth=4)``).
    """
    return int(rng.choice(best_moves(observation, action_mask, depth)))
