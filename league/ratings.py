"""Ratings: Elo and a Bayesian skill rating with uncertainty, from match records.

Pure logic (no Ray, Redis or torch): :class:`RatingBook` folds matches, in
ledger order, into two ratings per player:

* **Elo**, on Elo's scale: the expected score of A against B is
  ``E = 1 / (1 + 10 ** ((R_B - R_A) / 400))``; equal ratings give E = 1/2 and a
  400-point lead gives E = 10/11. Two methods (``ratings.elo_method``):

  - ``fitted`` (the default): the Bradley-Terry maximum a posteriori fit of
    every player's Elo to all the pairwise results so far (:func:`fit_elo`;
    a draw is half a win). Each player also gets ``prior_games`` virtual draws
    against a fixed player rated ``elo_initial``, which pins the scale and keeps
    a player with few or one-sided results finite. The fit depends on the
    results only, not on their order: a snapshot's rating uses every game it
    ever played, whenever it played them, as BayesElo rates a population of
    chess engines.
  - ``online``: a match moves A by ``K * (S - E)`` with ``S`` = 1, 1/2 or 0
    (Elo 1978). Cheap and familiar, but path dependent in a league: a snapshot
    that stops playing keeps the rating of the moment it stopped, and the
    population it was rated against has moved on since.
* **OpenSkill** (Weng & Lin 2011, Plackett-Luce model, from the ``openskill``
  package), folded match by match: a Gaussian belief ``mu ± sigma`` per player;
  ``mu - 3 sigma`` is a conservative skill estimate.

Multi-seat matches count for Elo pairwise (fitted: every ordered pair of
distinct players' outcomes, as in the payoff matrix; online: every pair of seats
scored by their returns) and update OpenSkill by rank. Self-play (one player in
every seat) carries no information about relative skill and leaves ratings
unchanged; OpenSkill and online Elo skip any match where a player holds more
than one seat. Every player, snapshots included, starts at the initial
ratings, so ratings are a function of the ledger's matches alone and can be
recomputed from them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from openskill.models import PlackettLuce, PlackettLuceRating

from league.types import MatchRecord, Outcome, PairCounts, PlayerId

#: How Elo is computed: ``fitted`` to all results at once (:func:`fit_elo`) or ``online``, match by match.
EloMethod = Literal["fitted", "online"]
#: Column of each outcome in a pair's [wins, draws, losses] counters.
_COLUMN = {Outcome.WIN: 0, Outcome.DRAW: 1, Outcome.LOSS: 2}
#: Elo points per natural-log unit of odds (400 points are odds of 10 to 1).
_ELO_PER_NAT = 400.0 / math.log(10.0)
#: Longest move of one Newton step in :func:`fit_elo` (2 nats: about 350 Elo points).
_MAX_STEP_NATS = 2.0
#: Most Newton steps :func:`fit_elo` takes (it needs far fewer: a few per 350 points of spread, then a handful).
_MAX_NEWTON_STEPS = 500


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


def fit_elo(pairs: Mapping[tuple[PlayerId, PlayerId], PairCounts], *, initial: float = 1200.0,
            prior_games: float = 2.0, players: Iterable[PlayerId] = (),
            start: Mapping[PlayerId, float] | None = None) -> dict[PlayerId, float]:
    """Every player's Elo fitted to pairwise results (Bradley-Terry, maximum a posteriori).

    Maximises ``sum over pairs of points(a, b) * log E(a, b)`` (a draw is half a
    point each) plus, for every player, ``prior_games`` virtual draws against a
    fixed player rated ``initial``. The objective is strictly concave, so it has
    one maximum; Newton's method finds it, with steps capped at about 350 Elo
    points and halved until the objective improves, and stops when the full
    Newton step is under 1e-9 points.

    Args:
        pairs: Counters per ordered pair ``(player, opponent)``, as in the payoff
            matrix. A pair held in both orders counts as the mean of the two
            views (the same games, unless seats of a many-player match lost
            together: then each saw a loss and the pair counts as a draw).
            Pairs of a player with itself are ignored.
        initial: Elo of the fixed virtual opponent (and of a player with no games).
        prior_games: Virtual draws per player against it (> 0).
        players: Players to rate even if they have no results.
        start: Elo to start the search from (a previous fit). The answer does not
            depend on it beyond float rounding (well under 1e-6 points).

    Example (``a`` won both games; with the virtual draws it scored 3 of 4 points):
        >>> elo = fit_elo({("a", "b"): PairCounts(wins=2, draws=0, losses=0)}, prior_games=2.0)
        >>> {player: round(rating, 1) for player, rating in elo.items()}
        {'a': 1331.4, 'b': 1068.6}
    """
    if prior_games <= 0:
        raise ValueError(f"prior_games must be > 0 (got {prior_games})")
    names = sorted({p for pair in pairs for p in pair} | set(players))
    if not names:
        return {}
    index = {p: i for i, p in enumerate(names)}
    n = len(names)
    points = np.zeros((n, n))  # points[i, j]: points i scored against j
    for (a, b), counts in pairs.items():
        if a == b:
            continue
        share = 0.5 if (b, a) in pairs else 1.0  # a pair held in both orders: the mean of the two views
        i, j = index[a], index[b]
        points[i, j] += share * (counts.wins + counts.draws / 2)
        points[j, i] += share * (counts.losses + counts.draws / 2)
    games = points + points.T
    scored = points.sum(axis=1) + prior_games / 2
    theta = np.array([((start or {}).get(p, initial) - initial) / _ELO_PER_NAT for p in names])

    def objective(t: np.ndarray) -> float:
        diff = t[:, None] - t[None, :]
        return float(-(points * np.logaddexp(0.0, -diff)).sum()
                     - prior_games / 2 * (np.logaddexp(0.0, -t) + np.logaddexp(0.0, t)).sum())

    value = objective(theta)
    for _ in range(_MAX_NEWTON_STEPS):
        expected = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        anchor = 1.0 / (1.0 + np.exp(-theta))
        gradient = scored - (games * expected).sum(axis=1) - prior_games * anchor
        curvature = games * expected * (1.0 - expected)
        hessian = np.diag(curvature.sum(axis=1) + prior_games * anchor * (1.0 - anchor)) - curvature
        step = np.linalg.solve(hessian, gradient)
        longest = float(np.abs(step).max())
        if longest * _ELO_PER_NAT < 1e-9:  # the full Newton step: at the maximum
            break
        step *= min(1.0, _MAX_STEP_NATS / longest)  # far from the maximum the curvature misleads
        size = 1.0
        while size >= 1e-10:
            candidate = theta + size * step
            new_value = objective(candidate)
            if new_value >= value - 1e-12 * max(1.0, abs(value)):
                break
            size /= 2
        else:  # no step improves the objective: theta is the maximum to float precision
            break
        theta, value = candidate, new_value
    return {p: initial + _ELO_PER_NAT * float(theta[index[p]]) for p in names}


class RatingBook:
    """Every player's ratings, updated match by match.

    Args:
        elo_initial: Elo of a new player (and of the fitted method's virtual opponent).
        elo_k: Elo K-factor (``online`` only).
        elo_method: ``fitted`` (Elo fitted to all results, :func:`fit_elo`) or ``online``.
        elo_prior_games: Virtual draws per player against ``elo_initial`` (``fitted`` only).
        start: Ratings to continue from (for example the ones stored in the ledger).
        pairs: Pairwise results already folded into ``start``: the ledger's payoff
            counters, or :meth:`pairs` of another book. ``fitted`` refits Elo to
            them, so it refuses ``start`` without ``pairs``.
    """

    def __init__(self, *, elo_initial: float = 1200.0, elo_k: float = 16.0, elo_method: EloMethod = "fitted",
                 elo_prior_games: float = 2.0, start: Mapping[PlayerId, Rating] | None = None,
                 pairs: Mapping[tuple[PlayerId, PlayerId], PairCounts] | None = None) -> None:
        if elo_method not in ("fitted", "online"):
            raise ValueError(f"unknown elo_method {elo_method!r}: expected 'fitted' or 'online'")
        if elo_method == "fitted" and start and pairs is None:
            raise ValueError("a fitted-Elo book continuing from start ratings needs the pairs they were fitted to")
        self.elo_initial = elo_initial
        self.elo_k = elo_k
        self.elo_method = elo_method
        self.elo_prior_games = elo_prior_games
        self._model = PlackettLuce()
        self._elo: dict[PlayerId, float] = {}
        self._skill: dict[PlayerId, PlackettLuceRating] = {}
        self._games: dict[PlayerId, int] = {}
        self._pairs: dict[tuple[PlayerId, PlayerId], list[int]] = {
            pair: [c.wins, c.draws, c.losses] for pair, c in (pairs or {}).items() if pair[0] != pair[1]}
        self._elo_current = elo_method == "online"  # False: self._elo awaits a refit to self._pairs
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
        if len(set(seats)) > 1:  # every pair of distinct players, exactly as the payoff counts it
            for i, player in enumerate(seats):
                for opponent in seats:
                    if player != opponent:
                        self._pairs.setdefault((player, opponent), [0, 0, 0])[_COLUMN[match.outcomes[i]]] += 1
            for player in seats:  # whoever the fit rates is a rated player, even from an unrated match
                self._ensure(player)
            self._elo_current = self.elo_method == "online"
        if len(set(seats)) != len(seats) or len(seats) < 2:
            return False
        if self.elo_method == "online":
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
        for player, team in zip(seats, rated, strict=True):
            self._skill[player] = team[0]
            self._games[player] += 1
        return True

    def update_all(self, matches: Iterable[MatchRecord]) -> int:
        """Fold matches in, in order; return how many were rated."""
        return sum(self.update(m) for m in matches)

    def pairs(self) -> dict[tuple[PlayerId, PlayerId], PairCounts]:
        """Win/draw/loss of every ordered pair of distinct players over every match folded in (the payoff's counts)."""
        return {pair: PairCounts(*counts) for pair, counts in self._pairs.items()}

    def ratings(self) -> dict[PlayerId, Rating]:
        """Every rated player's current ratings."""
        if not self._elo_current:
            self._elo.update(fit_elo(self.pairs(), initial=self.elo_initial, prior_games=self.elo_prior_games,
                                     players=self._skill, start=self._elo))
            self._elo_current = True
        return {
            player: Rating(self._elo[player], float(self._skill[player].mu),
                           float(self._skill[player].sigma), self._games[player])
            for player in self._skill
        }


def compute_ratings(matches: Iterable[MatchRecord], *, elo_initial: float = 1200.0, elo_k: float = 16.0,
                    elo_method: EloMethod = "fitted", elo_prior_games: float = 2.0) -> dict[PlayerId, Rating]:
    """Ratings from scratch over ``matches`` in order (what the ledger's stored ratings must equal).

    The keywords are :class:`RatingBook`'s.
    """
    book = RatingBook(elo_initial=elo_initial, elo_k=elo_k, elo_method=elo_method, elo_prior_games=elo_prior_games)
    book.update_all(matches)
    return book.ratings()


def rating_history(matches: Iterable[MatchRecord], *, elo_initial: float = 1200.0, elo_k: float = 16.0,
                   elo_method: EloMethod = "fitted", elo_prior_games: float = 2.0,
                   elo_step: float = 1.0) -> dict[PlayerId, list[tuple[int, Rating]]]:
    """Every player's ratings after each iteration, folding ``matches`` in ledger order.

    A player's series starts at the first iteration it was rated in and gets a
    point at each iteration it played rated matches, and at each iteration its
    Elo moved by ``elo_step`` points or more since its last point (plus the last
    iteration); its last point equals :func:`compute_ratings` over the same
    matches. Online Elo moves only when the player plays, so its series grows
    with its own matches. Fitted Elo is refit to all results each iteration, so
    a player that stopped playing still moves as the league's results re-rate
    its old opponents. The other keywords are :class:`RatingBook`'s.

    Example:
        >>> from league.types import MatchId
        >>> won = MatchRecord(MatchId("m"), (PlayerId("a"), PlayerId("b")), (1.0, -1.0), 7, 0.0, 0.0, iteration=1)
        >>> [(it, r.elo) for it, r in rating_history([won], elo_method="online")["a"]]
        [(1, 1208.0)]
    """
    book = RatingBook(elo_initial=elo_initial, elo_k=elo_k, elo_method=elo_method, elo_prior_games=elo_prior_games)
    history: dict[PlayerId, list[tuple[int, Rating]]] = {}
    current: int | None = None

    def close(iteration: int, *, last: bool = False) -> None:
        for player, rating in book.ratings().items():
            series = history.setdefault(player, [])
            previous = series[-1][1] if series else None
            if (previous is None or previous.games != rating.games or abs(previous.elo - rating.elo) >= elo_step
                    or (last and series[-1][0] != iteration)):
                series.append((iteration, rating))

    for match in matches:
        if current is not None and match.iteration != current:
            close(current)
        current = match.iteration
        book.update(match)
    if current is not None:
        close(current, last=True)
    return history
