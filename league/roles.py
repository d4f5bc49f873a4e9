"""Role rules outside matchmaking: who is in the league, when players freeze, who resets.

Pure logic (no Ray, Redis or torch), after Vinyals et al. 2019 (AlphaStar),
Methods, "League composition":

* a trainable player is frozen into a snapshot when its score against its
  opponent distribution reaches ``win_rate_threshold`` (0.7) over at least
  ``min_games`` games of its current generation, or after
  ``max_iterations_per_snapshot`` iterations, whichever comes first;
* after a snapshot, main exploiters are reset to their initial weights
  (probability 1), league exploiters with probability 0.25, mains never.

Self-play matches are left out of the snapshot score: a player scores exactly
1/2 against itself, so they say nothing about whether it got stronger.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from league.config import LeagueConfig, SnapshotConfig
from league.matchmaking import LeagueView, PlayerView
from league.types import PairCounts, PlayerId, PlayerRecord, Role  # noqa: F401 - PairCounts: the doctest

#: Id prefixes of the trainable roles; the n-th player of a role (n >= 2) gets ``_n``.
ROLE_PREFIX: dict[Role, str] = {
    Role.MAIN: "main",
    Role.MAIN_EXPLOITER: "main_exploiter",
    Role.LEAGUE_EXPLOITER: "league_exploiter",
}


def initial_roster(config: LeagueConfig) -> list[PlayerRecord]:
    """The players a run starts with: trainable players by role, then scripted players.

    Example:
        >>> from league.config import load_config
        >>> [p.player_id for p in initial_roster(load_config(None, {"game": "tictactoe"}))]
        ['main', 'main_exploiter', 'league_exploiter', 'random']
    """
    counts = {Role.MAIN: config.roster.main_agents, Role.MAIN_EXPLOITER: config.roster.main_exploiters,
              Role.LEAGUE_EXPLOITER: config.roster.league_exploiters}
    roster = []
    for role, count in counts.items():
        for n in range(1, count + 1):
            suffix = "" if n == 1 else f"_{n}"
            roster.append(PlayerRecord(PlayerId(ROLE_PREFIX[role] + suffix), role))
    roster += [PlayerRecord(PlayerId(name), Role.SCRIPTED) for name in config.scripted_players]
    return roster


def generation_score(learner: PlayerId, league: LeagueView,
                     distribution: Mapping[PlayerId, float]) -> tuple[float | None, int]:
    """``learner``'s score against its opponent distribution, and the games behind it.

    The score is the distribution-weighted mean of its score against each
    opponent it met this generation (self-play left out); None if it met none.

    Example:
        >>> view = LeagueView(3, (), {("a", "b"): PairCounts(wins=3, losses=1),
        ...                          ("a", "c"): PairCounts(losses=2)})
        >>> generation_score("a", view, {"b": 0.5, "c": 0.25, "a": 0.25})  # (2/3 * .75 + 0 * .25) / ...
        (0.5, 6)
    """
    weighted, weight, games = 0.0, 0.0, 0
    for opponent, p in distribution.items():
        if opponent == learner:
            continue
        counts = league.counts(learner, opponent)
        if counts.games and p > 0:
            weighted += p * counts.score  # type: ignore[operator]
            weight += p
            games += counts.games
    return (weighted / weight if weight else None), games


def snapshot_due(learner: PlayerView, league: LeagueView, distribution: Mapping[PlayerId, float],
                 rules: SnapshotConfig, iteration: int) -> bool:
    """Whether ``learner`` should be frozen after ``iteration`` (see the module docstring)."""
    if iteration - learner.generation_start >= rules.max_iterations_per_snapshot:
        return True
    score, games = generation_score(learner.player_id, league, distribution)
    return score is not None and games >= rules.min_games and score >= rules.win_rate_threshold


def resets_after_snapshot(reset_probability: float, rng: np.random.Generator) -> bool:
    """Whether a player whose role resets with ``reset_probability`` is reset now."""
    if reset_probability >= 1.0:
        return True
    if reset_probability <= 0.0:
        return False
    return bool(rng.random() < reset_probability)

