"""Evaluation between iterations: main against the scripted references, and exact exploitability.

:class:`Evaluator` plays a trained player (greedy unless
``evaluation.explore``) against ``evaluation.opponent`` and each of
``evaluation.references`` on a plain PettingZoo env, seats alternating, each
on its own seeded streams (:mod:`league.streams`), and stores main's results
in the ledger; on OpenSpiel games it measures every trainable player's and
the snapshots' Nash mixture's exploitability (:mod:`league.exploitability`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from agents.heuristics import CHOOSERS
from league.arena import ScriptedActor, head_to_head
from league.config import LeagueConfig
from league.exploitability import LeagueExploitability, LeagueMeasure, ProbsFn
from league.iteration import MAIN
from league.ledger.base import Ledger
from league.measure import stored_probs
from league.snapshots.base import SnapshotStore
from league.streams import Purpose, stream
from league.trainer import Trainer
from league.types import PairCounts, PlayerId


class Evaluator:
    """Plays and measures a run's trained players between iterations.

    Args:
        config: The run's configuration (``evaluation``, ``game``, ``seed``).
        trainer: Where the trained players' policies are.
        ledger: Where main's results and the measures are stored.
        store: The snapshot store (the exploitability measure loads snapshots from it).
    """

    def __init__(self, config: LeagueConfig, trainer: Trainer, ledger: Ledger, store: SnapshotStore) -> None:
        self._config = config
        self._trainer = trainer
        self._ledger = ledger
        self._store = store
        self._exploitability: LeagueExploitability | None = None

    def evaluate(self, iteration: int, *, games: int | None = None, opponent: str | None = None,
                 player: PlayerId = MAIN, index: int = 0) -> PairCounts:
        """``player`` against a scripted player after ``iteration``, seats alternating.

        Args:
            iteration: The iteration just played (it names the random streams and the stored result).
            games: Games to play (default: ``evaluation.games``).
            opponent: The scripted player (default: ``evaluation.opponent``).
            player: Who plays it; only main's results are stored in the ledger.
            index: The opponent's position in ``evaluation.opponents``: its games draw from
                :attr:`~league.streams.Purpose.EVALUATION_PLAYER` and ``EVALUATION_SCRIPTED`` at that index,
                so each evaluation replays exactly and no two draw the same numbers.
        """
        evaluation = self._config.evaluation
        opponent = opponent or evaluation.opponent
        seed = self._config.seed
        rng = stream(seed, Purpose.EVALUATION_PLAYER, iteration, index)
        actor = self._trainer.actor(player, explore=evaluation.explore, rng=rng)
        scripted = ScriptedActor(CHOOSERS[opponent][0], stream(seed, Purpose.EVALUATION_SCRIPTED, iteration, index))
        counts = head_to_head(self._config.game, actor, scripted, games=games or evaluation.games,
                              seed=int(rng.integers(2**31)), env_config=self._config.env_config)
        if player == MAIN:
            self._ledger.add_evaluation(iteration, opponent, counts)
        return counts

    def evaluate_all(self, iteration: int) -> dict[str, PairCounts]:
        """Main against each of ``evaluation.opponents`` (the opponent, then the references), each stored."""
        return {opponent: self.evaluate(iteration, opponent=opponent, index=k)
                for k, opponent in enumerate(self._config.evaluation.opponents)}

    def measure_exploitability(self, iteration: int, trainable: Sequence[PlayerId],
                               snapshots: Sequence[PlayerId]) -> LeagueMeasure:
        """Exact exploitability of each of ``trainable`` and of the Nash mixture of ``snapshots``, stored.

        OpenSpiel games only; players are measured as they sample in training (stochastic policies).
        """
        config = self._config
        if self._exploitability is None:
            self._exploitability = LeagueExploitability(config.game)
        rng = np.random.default_rng(config.seed)
        players: dict[str, ProbsFn] = {
            player: self._trainer.actor(player, explore=True, rng=rng).action_probs for player in trainable}
        loaders: dict[str, Callable[[], ProbsFn | None]] = {
            player: functools.partial(stored_probs, self._store, player, config.game, config.env_config,
                                      config.training.framework)
            for player in snapshots}
        measure = self._exploitability.measure(players, loaders)
        self._ledger.add_exploitability(iteration, measure.values)
        return measure
