"""The arena (league/arena.py): one game loop, lockstep and seeded drivers, known seeded results.

The known values below were computed with the two loops the arena replaced
(``league.evaluation.play_games`` and ``league.headtohead.play_one`` /
``head_to_head`` at commit 41520a0) on the same seeds; the arena must replay
them exactly (the manager's evaluations and the recorded benchmarks depend on it).
"""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from agents.heuristics import CHOOSERS, connect_four_heuristic, random_legal
from league.arena import GameResult, ScriptedActor, pair_counts, play_game, play_games, play_seeded_games
from league.headtohead import ScriptedPlayer, head_to_head
from league.play import HumanActor
from league.types import PairCounts

rng = np.random.default_rng


class SamplingActor:
    """Uniform over the legal moves with one batched draw per call, as ``PolicyActor`` samples."""

    def __init__(self, generator: np.random.Generator) -> None:
        self.rng = generator
        self.masks: list[np.ndarray] = []

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """One sampled legal move per row."""
        self.masks.extend(action_masks)
        cumulative = np.asarray(action_masks, dtype=np.float64).cumsum(axis=1)
        draws = self.rng.random((len(cumulative), 1)) * cumulative[:, -1:]
        return (cumulative < draws).sum(axis=1)


def _rows(results: list[GameResult]) -> list[tuple[float, float, int, int]]:
    return [(r.a, r.b, r.a_seat, r.length) for r in results]


def test_lockstep_games_replay_the_old_evaluation_loop_exactly():
    # Known values: league.evaluation.play_games at 41520a0, same actors and seeds.
    c4 = play_games("connect_four", ScriptedActor(connect_four_heuristic, rng(1)), ScriptedActor(random_legal, rng(2)),
                    games=6, seed=11)
    assert _rows(c4) == [(1.0, -1.0, 0, 7), (1.0, -1.0, 1, 10), (1.0, -1.0, 0, 17), (1.0, -1.0, 1, 8),
                         (1.0, -1.0, 0, 7), (1.0, -1.0, 1, 8)]
    rps = play_games("rps", SamplingActor(rng(3)), ScriptedActor(random_legal, rng(4)), games=4, seed=5)
    assert _rows(rps) == [(2.0, -2.0, 0, 15), (-5.0, 5.0, 1, 15), (2.0, -2.0, 0, 15), (-6.0, 6.0, 1, 15)]
    both = SamplingActor(rng(6))  # one actor in both seats: asked for side A's moves, then side B's
    assert _rows(play_games("tictactoe", both, both, games=4, seed=2)) == [
        (1.0, -1.0, 0, 7), (-1.0, 1.0, 1, 9), (1.0, -1.0, 0, 7), (-1.0, 1.0, 1, 9)]


def test_seeded_games_replay_the_old_league_eval_loop_exactly():
    # Known values: league.headtohead.play_one and head_to_head at 41520a0, same players and seeds.
    a = ScriptedPlayer("alphabeta-1", *CHOOSERS["alphabeta-1"])
    b = ScriptedPlayer("random", *CHOOSERS["random"])
    results = play_seeded_games("tictactoe", a.actor, b.actor, games=6, seed=3)
    assert [(r.a, r.b) for r in results] == [(1.0, -1.0)] * 5 + [(0.0, 0.0)]
    assert [r.a_seat for r in results] == [0, 1, 0, 1, 0, 1]
    assert head_to_head(a, b, games=6, seed=3, game="tictactoe").counts == PairCounts(wins=5, draws=1, losses=0)
    rps = play_seeded_games("rps", b.actor, b.actor, games=3, seed=9)
    assert [(r.a, r.b) for r in rps] == [(-1.0, 1.0), (-2.0, 2.0), (0.0, 0.0)]
    assert head_to_head(b, b, games=3, seed=9, game="rps").counts == PairCounts(wins=0, draws=1, losses=2)


def test_a_seeded_game_replays_on_its_own():
    a = ScriptedPlayer("heuristic", *CHOOSERS["heuristic"])
    b = ScriptedPlayer("random", *CHOOSERS["random"])
    series = play_seeded_games("connect_four", a.actor, b.actor, games=5, seed=4)
    k = 3
    alone = play_game("connect_four", a.actor(rng([4, k, 0])), b.actor(rng([4, k, 1])), a_seat=k % 2, seed=4 + k)
    assert alone == series[k]


def test_actors_get_the_legal_moves_and_seats_alternate():
    first, second = SamplingActor(rng(0)), SamplingActor(rng(1))
    results = play_games("tictactoe", first, second, games=3, seed=0)
    assert [r.a_seat for r in results] == [0, 1, 0]
    masks = first.masks + second.masks
    assert len(masks) == sum(r.length for r in results)
    # Tic-tac-toe: each move fills a square, so the masks of one game's moves have 9, 8, 7, ... legal moves.
    assert sorted({int(m.sum()) for m in masks}) == list(range(10 - max(r.length for r in results), 10))


def test_pair_counts_are_a_view_from_side_a():
    results = [GameResult(1.0, -1.0, 0, 5), GameResult(0.0, 0.0, 1, 9), GameResult(-1.0, 1.0, 0, 6),
               GameResult(1.0, -1.0, 1, 7)]
    assert pair_counts(results) == PairCounts(wins=2, draws=1, losses=1)
    assert pair_counts([]) == PairCounts()


def test_the_person_at_the_terminal_is_an_actor_that_asks_until_a_legal_move():
    answers = iter(["1", "hello", "3"])
    out = io.StringIO()
    person = HumanActor("tictactoe", lambda prompt: next(answers), Console(file=out, width=200))
    mask = np.array([0, 1, 1, 0, 0, 0, 0, 0, 0], dtype=np.float32)
    assert person.act_batch(np.zeros((1, 3, 3, 2), dtype=np.float32), mask[None]).tolist() == [2]
    assert "'1' is not a legal move; legal moves: 2, 3" in out.getvalue()
    assert "'hello' is not a move; legal moves: 2, 3" in out.getvalue()
