"""The plan step: what matchmaking sees before an iteration.

:func:`league_view` builds the read-only :class:`~league.matchmaking.LeagueView`:
the roster (unusable players left out), each trainable player's results in
its current generation (the iterations after its last snapshot or reset, read
from the ledger's window counters), the ratings and the snapshots' meta-Nash.
The matchmaker turns it into the iteration's :class:`~league.matchmaking.MatchPlan`
(:func:`league.matchmaking.make_plan`).
"""

from __future__ import annotations

from collections.abc import Mapping

from league.ledger.base import Ledger
from league.matchmaking import LeagueView, PlayerView
from league.ratings import Rating
from league.standing import Standing
from league.types import PairCounts, PlayerId


def league_view(standing: Standing, ledger: Ledger, ratings: Mapping[PlayerId, Rating], *, iteration: int,
                pfsp_prior_games: float) -> LeagueView:
    """The view matchmaking sees before ``iteration`` is played (results up to ``iteration - 1``)."""
    results: dict[tuple[PlayerId, PlayerId], PairCounts] = {}
    for pid, start in standing.generation_start.items():
        results.update(ledger.window_counts([pid], start + 1, iteration - 1))
    players = tuple(
        PlayerView(p.player_id, p.role, p.parent, p.created_iteration,
                   standing.generation_start.get(p.player_id, p.created_iteration))
        for p in standing.roster if p.player_id not in standing.unusable
    )
    return LeagueView(iteration, players, results, dict(ratings), pfsp_prior_games, dict(standing.meta_nash))

