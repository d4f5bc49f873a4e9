"""Ratings: Elo and a Bayesian skill rating with uncertainty, from match records.

Pure logic (no Ray, Redis or torch): :class:`RatingBook` folds matches, one at
a time and in ledger order, into two ratings per player:

* **Elo** (Elo 1978): the expected score of A against B is
  ``E = 1 / (1 + 10 ** ((R_B - R_A) / 400))`` and a match moves A by
  ``K * (S - E)`` with ``S`` = 1, 1/2 or 0. Equal ratings give E = 1/2; a
  400-point lead gives E = 10/11.
* **OpenSkill** (Weng & Lin 2011, Plackett-Luce model, from the ``openskill``
  package): a Gaussian belief ``mu ± sigma`` per player; ``mu - 3 sigma`` is a
  conservative skill estimate.

Multi-seat matches update Elo pairwise (every pair of seats, scored by their
returns, against the ratings from before the match) and OpenSkill by rank.
Matches where one player holds more than one seat (self-play) carry no
information about relative skill and leave ratings unchanged. Every player,
snapshots included, starts at the initial ratings, so ratings are a function
of the ledger's match sequence alone and can be recomputed from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from openskill.models import PlackettLuce

from league.types import MatchRecord, PlayerId


@dataclass(frozen=True)
class Rating:
    """One player's ratings.

    Attributes:
        elo: Elo rating.
        mu: OpenSkill mean skill.
        sigma: OpenSkill uncertainty (standard deviation of the skill belief).
        games: Rated matches the player took part in.
    """

    elo: float
    mu: float
    sigma: float
    games: int = 0

    @property
    def conservative(self) -> float:
        """``mu - 3 sigma``: a skill the player very probably exceeds."""
        return self.mu - 3.0 * self.sigma


def elo_expected(rating: float, opponent: float) -> float:
    """Expected score of a player rated ``rating`` against one rated ``opponent``.

    Example:
        >>> elo_expected(1600.0, 1200.0)  # 10/11
        0.9090909090909091
    """
    return 1.0 / (1.0 + 10.0 ** ((opponent - rating) / 400.0))


def elo_update(rating: float, opponent: float, score: float, k: float) -> tuple[float, float]:
    """Both ratings after one game in which the first player scored ``score`` (1, 1/2 or 0).

    Example:
        >>> elo_update(1200.0, 1200.0, 1.0, k=16.0)
        (1208.0, 1192.0)
    """
    delta = k * (score - elo_expected(rating, opponent))
    return rating + delta, opponent - delta


class RatingBook:
    """Every player's ratings, updated match by match.

    Args:
        elo_initial: Elo of a player's first match.
        elo_k: Elo K-factor.
        start: Ratings to continue from (for example the ones stored in the ledger).
    """

    def __init__(self, *, elo_initial: float = 1200.0, elo_k: float = 16.0,
                 start: Mapping[PlayerId, Rating] | None = None) -> None:
        self.elo_initial = elo_initial
        self.elo_k = elo_k
        self._model = PlackettLuce()
        self._elo: dict[PlayerId, float] = {}
        self._skill: dict[PlayerId, object] = {}
        self._games: dict[PlayerId, int] = {}
        for player, rating in (start or {}).items():
            self._elo[player] = rating.elo
            self._skill[player] = self._model.rating(mu=rating.mu, sigma=rating.sigma)
            self._games[player] = rating.games

    def _ensure(self, player: PlayerId) -> None:
        if player not in self._elo:
            self._elo[player] = self.elo_initial
            self._skill[player] = self._model.rating()
            self._games[player] = 0

    def update(self, match: MatchRecord) -> bool:
        """Fold one match in; return False if it was not rated (a player held two seats)."""
        seats = match.seats
        if len(set(seats)) != len(seats) or len(seats) < 2:
            return False
        for player in seats:
            self._ensure(player)
        before = {p: self._elo[p] for p in seats}
        for i in range(len(seats)):
            for j in range(i + 1, len(seats)):
                a, b = seats[i], seats[j]
                ra, rb = match.returns[i], match.returns[j]
                score = 1.0 if ra > rb else 0.5 if ra == rb else 0.0
                delta = elo_update(before[a], before[b], score, self.elo_k)[0] - before[a]
                self._elo[a] += delta
                self._elo[b] -= delta
        teams = [[self._skill[p]] for p in seats]
        rated = self._model.rate(teams, ranks=[-r for r in match.returns])
        for player, team in zip(seats, rated):
            self._skill[player] = team[0]
            self._games[player] += 1
        return True

    def update_all(self, matches: Iterable[MatchRecord]) -> int:
        """Fold matches in, in order; return how many were rated."""
        return sum(self.update(m) for m in matches)

    def ratings(self) -> dict[PlayerId, Rating]:
        """Every rated player's current ratings."""
        return {
            player: Rating(self._elo[player], float(self._skill[player].mu),  # type: ignore[attr-defined]
                           float(self._skill[player].sigma), self._games[player])  # type: ignore[attr-defined]
            for player in self._elo
        }


def compute_ratings(matches: Iterable[MatchRecord], *, elo_initial: float = 1200.0,
                    elo_k: float = 16.0) -> dict[PlayerId, Rating]:
    """Ratings from scratch over ``matches`` in order (what the ledger's stored ratings must equal)."""
    book = RatingBook(elo_initial=elo_initial, elo_k=elo_k)
    book.update_all(matches)
    return book.ratings()


def rating_history(matches: Iterable[MatchRecord], *, elo_initial: float = 1200.0,
                   elo_k: float = 16.0) -> dict[PlayerId, list[tuple[int, Rating]]]:
    """Every player's ratings after each iteration, folding ``matches`` in ledger order.

    A player's series starts at the first iteration it was rated in and gets a
    point at each iteration its ratings changed (plus the last iteration), so it
    grows with the player's own matches, not with the league's size; its last
    point equals :func:`compute_ratings` over the same matches.

    Example:
        >>> from league.types import MatchId
        >>> won = MatchRecord(MatchId("m"), (PlayerId("a"), PlayerId("b")), (1.0, -1.0), 7, 0.0, 0.0, iteration=1)
        >>> [(it, r.elo) for it, r in rating_history([won])["a"]]
        [(1, 1208.0)]
    """
    book = RatingBook(elo_initial=elo_initial, elo_k=elo_k)
    history: dict[PlayerId, list[tuple[int, Rating]]] = {}
    current: int | None = None

    def close(iteration: int, *, last: bool = False) -> None:
        for player, rating in book.ratings().items():
            series = history.setdefault(player, [])
            if not series or series[-1][1] != rating or (last and series[-1][0] != iteration):
                series.append((iteration, rating))

    for match in matches:
        if current is not None and match.iteration != current:
            close(current)
        current = match.iteration
        book.update(match)
    if current is not None:
        close(current, last=True)
    return history
