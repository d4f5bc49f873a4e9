"""The alpha-beta search players (issue 19): positions played on the real PettingZoo envs, no Ray."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from pettingzoo.classic import connect_four_v3, tictactoe_v3

from agents import search
from agents.heuristics import ALPHABETA_DEPTHS, CHOOSERS, OPT_IN, connects_four, random_legal
from agents.search import alphabeta_move, best_moves, root_scores
from league.arena import ScriptedActor, head_to_head, play_games
from league.config import LeagueConfig, RosterConfig

DEPTHS = list(ALPHABETA_DEPTHS)
ENVS = {"connect_four": connect_four_v3.env, "tictactoe": tictactoe_v3.env}


def position(game: str, moves: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The observation and action mask of the player to move after ``moves`` on the real env."""
    env = ENVS[game]()
    env.reset(seed=0)
    for move in moves:
        env.step(move)
    observation, _, terminated, truncated, _ = env.last()
    assert not (terminated or truncated)
    return observation["observation"], observation["action_mask"]


def test_the_registry_holds_six_depths_for_both_games_and_the_default_roster_leaves_them_out():
    assert DEPTHS == [1, 2, 3, 4, 5, 6]
    for depth in DEPTHS:
        chooser, games = CHOOSERS[f"alphabeta-{depth}"]
        assert games == frozenset({"connect_four", "tictactoe"}) and chooser.keywords == {"depth": depth}
    assert {f"alphabeta-{d}" for d in DEPTHS} == OPT_IN
    assert LeagueConfig(game="connect_four").scripted_players == ("random", "heuristic")
    assert LeagueConfig(game="tictactoe").scripted_players == ("random",)
    chosen = LeagueConfig(game="connect_four", roster=RosterConfig(scripted=("random", "alphabeta-2")))
    assert chosen.scripted_players == ("random", "alphabeta-2")


def test_an_alphabeta_player_in_a_game_it_does_not_play_is_refused_naming_it():
    with pytest.raises(ValueError, match=re.escape(
            "roster.scripted: 'alphabeta-4' plays only ['connect_four', 'tictactoe'], not 'rps'")):
        LeagueConfig(game="rps", roster=RosterConfig(scripted=("alphabeta-4",)))
    with pytest.raises(ValueError, match=re.escape("evaluation.opponent: 'alphabeta-1' plays only")):
        LeagueConfig(game="rps", evaluation={"opponent": "alphabeta-1"})
    config = LeagueConfig(game="tictactoe", evaluation={"opponent": "alphabeta-3"})
    assert config.evaluation.opponent == "alphabeta-3"


# (game, moves, the one right move): win in one beats blocking; a block when there is no win.
WIN_IN_ONE = [
    # Connect Four: first player has the bottom row's columns 1-3; the second a three in column 7 to block.
    ("connect_four", [0, 6, 1, 6, 2, 6], 3),
    # tic-tac-toe: X has squares 0 and 1 (line 0-1-2), O has 3 and 4 (line 3-4-5 open at 5).
    ("tictactoe", [0, 3, 1, 4], 2),
]
BLOCK_LOSS_IN_ONE = [
    # Connect Four: the first player's bottom row 1-3 threatens column 4; the second player must block.
    ("connect_four", [0, 0, 1, 1, 2], 3),
    # tic-tac-toe: X has squares 0 and 1; O (on the centre) must take square 2.
    ("tictactoe", [0, 4, 1], 2),
]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(("game", "moves", "right"), WIN_IN_ONE, ids=["connect_four", "tictactoe"])
def test_it_takes_a_win_in_one_rather_than_blocking(game, moves, right, depth):
    observation, mask = position(game, moves)
    assert best_moves(observation, mask, depth) == [right]
    assert root_scores(observation, mask, depth)[right] == search.WIN - 1
    env = ENVS[game]()
    env.reset(seed=0)
    for move in moves:
        env.step(move)
    mover = env.agent_selection
    env.step(alphabeta_move(observation, mask, np.random.default_rng(depth), depth=depth))
    assert env.terminations[mover] and env.rewards[mover] == 1


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(("game", "moves", "right"), BLOCK_LOSS_IN_ONE, ids=["connect_four", "tictactoe"])
def test_it_blocks_a_loss_in_one(game, moves, right, depth):
    observation, mask = position(game, moves)
    assert best_moves(observation, mask, depth) == [right]
    scores = root_scores(observation, mask, depth)
    # Every other move loses on the opponent's reply (score -(WIN - 2)); the block does not lose that fast.
    assert all(score <= -(search.WIN - 2) for move, score in scores.items() if move != right)
    assert scores[right] > -(search.WIN - 2)


@pytest.mark.parametrize("depth", [3, 4, 5, 6])
def test_it_prefers_the_faster_win_and_the_slower_loss(depth):
    # tic-tac-toe, X (squares 6, 0) to move against O (7, 8): 3 wins now; 1, 2 and 4 win two moves later.
    observation, mask = position("tictactoe", [6, 7, 0, 8])
    assert best_moves(observation, mask, depth) == [3]
    assert root_scores(observation, mask, depth)[3] == search.WIN - 1
    later = mask.copy()
    later[3] = 0
    assert best_moves(observation, later, depth) == [1, 2, 4]
    assert root_scores(observation, later, depth)[1] == search.WIN - 3
    # X (7, 8) against O (6, 3), who threatens square 0: the block loses two moves later, the rest at once.
    observation, mask = position("tictactoe", [7, 6, 8, 3])
    if depth >= 4:
        assert root_scores(observation, mask, depth)[0] == -(search.WIN - 4)
    assert best_moves(observation, mask, depth) == [0]


@pytest.mark.parametrize(("game", "mask", "tied"), [
    ("connect_four", [1, 0, 0, 0, 0, 0, 1], [0, 6]),   # mirror images of each other on the empty board
    ("tictactoe", [1, 0, 1, 0, 0, 0, 1, 0, 1], [0, 2, 6, 8]),  # the four corners
])
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_ties_between_equally_scored_moves_are_broken_at_random_reproducibly(game, mask, tied, depth):
    observation, _ = position(game, [])
    mask = np.array(mask)
    assert best_moves(observation, mask, depth) == tied

    def draws(seed: int) -> list[int]:
        rng = np.random.default_rng(seed)
        return [alphabeta_move(observation, mask, rng, depth=depth) for _ in range(60)]

    assert set(draws(0)) == set(tied)  # every tied move is played
    assert draws(0) == draws(0)       # the same generator seed, the same choices
    assert draws(0) != draws(1)


def test_self_play_games_differ_by_the_tie_breaking_generator_alone():
    lengths = set()
    for seed in range(6):
        actor = ScriptedActor(functools.partial(alphabeta_move, depth=2), np.random.default_rng(seed))
        (result,) = play_games("connect_four", actor, actor, games=1, seed=0)
        lengths.add(result.length)
    assert len(lengths) > 1


@pytest.mark.parametrize("game", ["connect_four", "tictactoe"])
def test_it_plays_only_legal_moves_also_under_a_narrower_mask(game):
    rng = np.random.default_rng(0)
    for depth in DEPTHS:
        env = ENVS[game]()
        env.reset(seed=depth)
        for agent in env.agent_iter():
            observation, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            mask = np.asarray(observation["action_mask"]).copy()
            legal = np.flatnonzero(mask)
            if legal.size > 2 and rng.random() < 0.5:  # a mask narrower than the board's: still obeyed
                mask[rng.choice(legal, size=legal.size // 2, replace=False)] = 0
            move = alphabeta_move(observation["observation"], mask, rng, depth=depth)
            assert mask[move] == 1, (game, depth, move, mask)
            env.step(move if agent == env.agents[0] else random_legal(None, observation["action_mask"], rng))


def test_depth_4_beats_depth_1_at_connect_four():
    # Measured: 31 W / 1 D / 8 L (0.79) over these 40 games; the bar leaves room for a change of eval.
    counts = head_to_head("connect_four",
                          ScriptedActor(functools.partial(alphabeta_move, depth=4), np.random.default_rng(1)),
                          ScriptedActor(functools.partial(alphabeta_move, depth=1), np.random.default_rng(2)),
                          games=40, seed=0)
    assert counts.score >= 0.65, counts


def test_depth_6_never_loses_to_random_at_tictactoe():
    counts = head_to_head("tictactoe",
                          ScriptedActor(functools.partial(alphabeta_move, depth=6), np.random.default_rng(1)),
                          ScriptedActor(random_legal, np.random.default_rng(2)), games=20, seed=0)
    assert counts.losses == 0 and counts.wins >= 15, counts


def test_bad_depth_mask_or_board_is_refused():
    observation, mask = position("connect_four", [])
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="depth must be at least 1, got 0"):
        alphabeta_move(observation, mask, rng, depth=0)
    with pytest.raises(ValueError, match="no legal action"):
        alphabeta_move(observation, np.zeros(7), rng, depth=2)
    with pytest.raises(ValueError, match=re.escape("not an observation of shape (3, 3)")):
        alphabeta_move(np.zeros((3, 3)), np.ones(9), rng, depth=2)


def _random_connect_four_boards(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Boards from random play that no one has won, channel 0 the player to move's discs."""
    boards = []
    while len(boards) < count:
        board, heights, turn = np.zeros((6, 7, 2), dtype=np.int8), [0] * 7, 0
        for _ in range(int(rng.integers(0, 30))):
            column = int(rng.choice([c for c in range(7) if heights[c] < 6]))
            row = 5 - heights[column]
            board[row, column, turn] = 1
            heights[column] += 1
            if connects_four(board[:, :, turn], row, column):
                break
            turn ^= 1
        else:
            boards.append(board if turn == 0 else board[:, :, ::-1].copy())
    return boards


def _reference_evaluation(board: np.ndarray) -> int:
    """The module docstring's Connect Four evaluation, counted cell by cell over every line of four."""
    mine, theirs = board[:, :, 0], board[:, :, 1]
    score = search.CENTRE * (int(mine[:, 3].sum()) - int(theirs[:, 3].sum()))
    for row in range(6):
        for column in range(7):
            for d_row, d_column in ((0, 1), (1, 0), (1, 1), (1, -1)):
                cells = [(row + k * d_row, column + k * d_column) for k in range(4)]
                if not all(0 <= r < 6 and 0 <= c < 7 for r, c in cells):
                    continue
                m, t = sum(int(mine[cell]) for cell in cells), sum(int(theirs[cell]) for cell in cells)
                for own, other, sign in ((m, t, 1), (t, m, -1)):
                    if other == 0:
                        score += sign * {3: search.THREE, 2: search.TWO}.get(own, 0)
            if not board[row, column].any():
                for plane, sign in ((mine, 1), (theirs, -1)):
                    filled = plane.copy()
                    filled[row, column] = 1
                    score += sign * search.THREAT * connects_four(filled, row, column)
    return score


def test_bitboard_evaluation_and_search_match_plain_references():
    rng = np.random.default_rng(0)
    for board in _random_connect_four_boards(40, rng):
        mine = sum(search._C4_BITS[i] for i in np.flatnonzero(board[:, :, 0].ravel()))
        theirs = sum(search._C4_BITS[i] for i in np.flatnonzero(board[:, :, 1].ravel()))
        assert search._c4_evaluate(mine, theirs) == _reference_evaluation(board)
        mask = (board[0].sum(axis=-1) == 0).astype(np.int8)
        for depth in (1, 2, 3):
            # The root's narrowed window gives the same best moves as searching every move with a full window.
            full = {}
            for column in np.flatnonzero(mask):
                cell = ((mine | theirs) + (1 << (7 * column))) & search._COLUMN[column]
                full[column] = (search.WIN - 1 if search._c4_is_win(mine | cell) else
                                -search._c4_negamax(theirs, mine | theirs | cell, depth - 1,
                                                    -search._INF, search._INF, 1))
            top = max(full.values())
            assert best_moves(board, mask, depth) == sorted(c for c, v in full.items() if v == top)
