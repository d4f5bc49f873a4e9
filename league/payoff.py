"""The payoff matrix: win/draw/loss of every ordered pair of players, from match records.

Pure logic. The ledger keeps the same counters in Redis as matches arrive
(:meth:`~league.ledger.base.Ledger.payoff_counts`); :func:`payoff_from_matches`
derives them from the match records themselves, so the two can be checked
against each other.

A match with seats ``(a, b)`` adds ``a``'s outcome to ``(a, b)`` and ``b``'s to
``(b, a)``; with more seats, every ordered pair of seats. The score of ``a``
against ``b`` is ``(wins + draws / 2) / games``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from league.types import MatchRecord, Outcome, PairCounts, PlayerId


def payoff_from_matches(matches: Iterable[MatchRecord]) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
    """Counters of every ordered pair of players, from match records.

    Example:
        >>> from league.types import MatchId
        >>> m = MatchRecord(MatchId("m"), (PlayerId("a"), PlayerId("b")), (1.0, -1.0), 7, 0.0, 0.0)
        >>> payoff_from_matches([m])[("a", "b")], payoff_from_matches([m])[("b", "a")]
        (PairCounts(wins=1, draws=0, losses=0), PairCounts(wins=0, draws=0, losses=1))
    """
    tallies: dict[tuple[PlayerId, PlayerId], list[int]] = {}
    column = {Outcome.WIN: 0, Outcome.DRAW: 1, Outcome.LOSS: 2}
    for match in matches:
        for i, player in enumerate(match.seats):
            for j, opponent in enumerate(match.seats):
                if i != j:
                    tallies.setdefault((player, opponent), [0, 0, 0])[column[match.outcomes[i]]] += 1
    return {pair: PairCounts(*t) for pair, t in tallies.items()}


def learner_tallies(matches: Iterable[MatchRecord]) -> dict[PlayerId, tuple[float, int]]:
    """Each learner's points (win 1, draw 1/2) and seats played in the matches chosen for it.

    Self-play matches count every seat the learner held. Tallies from several
    env runners add up; :func:`learner_scores` turns them into scores.
    """
    value = {Outcome.WIN: 1.0, Outcome.DRAW: 0.5, Outcome.LOSS: 0.0}
    totals: dict[PlayerId, tuple[float, int]] = {}
    for match in matches:
        if match.learner is None:
            continue
        for seat, player in enumerate(match.seats):
            if player == match.learner:
                points, seats = totals.get(player, (0.0, 0))
                totals[player] = (points + value[match.outcomes[seat]], seats + 1)
    return totals


def learner_scores(tallies: Mapping[PlayerId, tuple[float, int]]) -> dict[PlayerId, float]:
    """Each learner's score, (wins + draws / 2) / seats played, from :func:`learner_tallies`.

    Example:
        >>> from league.types import MatchId
        >>> won = MatchRecord(MatchId("a"), (PlayerId("main"), PlayerId("r")), (1.0, -1.0), 7, 0.0, 0.0,
        ...                   learner=PlayerId("main"))
        >>> drew = MatchRecord(MatchId("b"), (PlayerId("r"), PlayerId("main")), (0.0, 0.0), 9, 0.0, 0.0,
        ...                    learner=PlayerId("main"))
        >>> learner_scores(learner_tallies([won, drew]))
        {'main': 0.75}
    """
    return {player: points / seats for player, (points, seats) in tallies.items() if seats}


@dataclass(frozen=True)
class Payoff:
    """The payoff matrix of a league.

    Attributes:
        players: Row and column order.
        counts: ``(player, opponent) -> PairCounts`` for every pair that met.
    """

    players: tuple[PlayerId, ...]
    counts: Mapping[tuple[PlayerId, PlayerId], PairCounts] = field(default_factory=dict)

    def __getitem__(self, pair: tuple[PlayerId, PlayerId]) -> PairCounts:
        return self.counts.get(pair, PairCounts())

    def score(self, player: PlayerId, opponent: PlayerId) -> float | None:
        """``player``'s score against ``opponent``; None if they never met."""
        return self[(player, opponent)].score

    def matrix(self, order: Sequence[PlayerId] | None = None) -> np.ndarray:
        """Scores as a square array (rows: player, columns: opponent; NaN where they never met)."""
        order = list(order if order is not None else self.players)
        out = np.full((len(order), len(order)), np.nan)
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                score = self.score(a, b)
                if score is not None:
                    out[i, j] = score
        return out

    def pairs_played(self) -> list[tuple[PlayerId, PlayerId]]:
        """Ordered pairs of distinct players that met, most games first."""
        pairs = [p for p, c in self.counts.items() if c.games and p[0] != p[1]]
        return sorted(pairs, key=lambda p: (-self.counts[p].games, p))
