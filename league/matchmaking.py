"""Matchmaking: who plays whom, decided once per match, reproducible from the run seed.

Pure logic: no Ray, Redis or torch. Before each iteration's sampling the driver
asks a :class:`Matchmaker` for every trainable player's opponent distribution,
given a read-only :class:`LeagueView`, and turns the answers into a
:class:`MatchPlan`. The plan is plain data, shipped to every env runner, whose
policy mapping function only reads the whole-match decision the plan makes
for each new episode.

Built-in rules (:class:`AlphaStarMatchmaker`) follow Vinyals et al. 2019,
"Grandmaster level in StarCraft II using multi-agent reinforcement learning"
(Nature 575), Methods, "League composition":

* main agents: 35% self-play, 50% prioritized fictitious self-play (PFSP)
  over every frozen player, 15% against main exploiters and snapshots they no
  longer beat; optionally (``main.scripted``, 0 by default) a share of PFSP
  over the scripted players alone;
* main exploiters: the current main agents, or PFSP (variance weighting) over
  the mains' snapshots while they beat the mains less than 20% of the time;
* league exploiters: PFSP over every frozen player.

PFSP gives an opponent the learner beats with rate ``x`` the weight
``f(x)``: ``hard`` ``(1 - x)^p``, ``variance`` ``x(1 - x)``, ``linear``
``1 - x`` or ``uniform`` 1. Win rates include a prior of ``prior_games``
pseudo-games at 1/2, so an unplayed pair counts as an even one.

Seat rule: the learner's seat cycles with the episode counter, so it moves
first and second equally often.
"""

from __future__ import annotations

import abc
import functools
import importlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from league.errors import ConfigError, LeagueError
from league.ratings import Rating
from league.types import PairCounts, PfspWeighting, PlayerId, Role

if TYPE_CHECKING:
    from league.config import MatchmakingConfig

#: What a matchmaker returns for a learner: weights over opponents (one player
#: fills every other seat) or over whole line-ups (one player per other seat).
#: (A Mapping's keys are invariant: each form is named so a dict of either type fits.)
OpponentWeights = (Mapping[PlayerId, float] | Mapping[tuple[PlayerId, ...], float]
                   | Mapping[PlayerId | tuple[PlayerId, ...], float])


def win_rate(counts: PairCounts, prior_games: float) -> float:
    """Score ``(wins + draws/2)`` per game, with ``prior_games`` pseudo-games at 1/2.

    Example:
        >>> win_rate(PairCounts(wins=3, draws=0, losses=1), prior_games=2.0)  # (3 + 1) / 6
        0.6666666666666666
    """
    games = counts.games + prior_games
    if games <= 0:
        return 0.5
    return (counts.wins + 0.5 * counts.draws + 0.5 * prior_games) / games


def pfsp_weights(win_rates: Sequence[float], weighting: PfspWeighting, exponent: float = 2.0) -> np.ndarray:
    """Normalised PFSP probabilities of opponents the learner beats with ``win_rates``.

    If every weight is zero (the learner beats everyone surely under ``hard``),
    the opponents are drawn uniformly.

    Example:
        >>> pfsp_weights([0.0, 0.5], PfspWeighting.HARD).round(3).tolist()  # 1 : 0.25
        [0.8, 0.2]
    """
    x = np.clip(np.asarray(win_rates, dtype=np.float64), 0.0, 1.0)
    if weighting is PfspWeighting.HARD:
        weights = (1.0 - x) ** exponent
    elif weighting is PfspWeighting.VARIANCE:
        weights = x * (1.0 - x)
    elif weighting is PfspWeighting.LINEAR:
        weights = 1.0 - x
    else:
        weights = np.ones_like(x)
    total = weights.sum()
    if total <= 0.0:
        return np.full(len(x), 1.0 / len(x))
    return weights / total


@dataclass(frozen=True)
class PlayerView:
    """A player as matchmakers see it.

    Attributes:
        player_id: The player's id (its RLlib policy id).
        role: Its role.
        parent: The player a snapshot was frozen from.
        created_iteration: Iteration it joined the league.
        generation_start: Iteration its current weights' generation began (its
            last snapshot or reset); results of a trainable player count from here.
    """

    player_id: PlayerId
    role: Role
    parent: PlayerId | None = None
    created_iteration: int = 0
    generation_start: int = 0

    @property
    def trainable(self) -> bool:
        """Whether the player learns."""
        return self.role.trainable


@dataclass(frozen=True)
class LeagueView:
    """A read-only view of the league for matchmaking.

    Attributes:
        iteration: The iteration about to be played.
        players: Every member, in the order they joined.
        results: ``(player, opponent) -> PairCounts`` for every trainable player,
            counted over its current generation (since ``generation_start``).
        ratings: Current ratings of every rated player.
        prior_games: Pseudo-games at 1/2 in :meth:`win_rate`.
        meta_nash: Nash weights of the frozen snapshots in their exact meta-game,
            from the latest exploitability measure (OpenSpiel games with
            ``evaluation.exploitability_every``; empty otherwise). See
            :mod:`league.exploitability`.
    """

    iteration: int
    players: tuple[PlayerView, ...]
    results: Mapping[tuple[PlayerId, PlayerId], PairCounts] = field(default_factory=dict)
    ratings: Mapping[PlayerId, Rating] = field(default_factory=dict)
    prior_games: float = 2.0
    meta_nash: Mapping[PlayerId, float] = field(default_factory=dict)

    def player(self, player_id: PlayerId) -> PlayerView:
        """The member with id ``player_id``."""
        for player in self.players:
            if player.player_id == player_id:
                return player
        raise KeyError(player_id)

    def with_role(self, *roles: Role) -> list[PlayerId]:
        """Ids of the members with one of ``roles``, in joining order."""
        return [p.player_id for p in self.players if p.role in roles]

    @property
    def frozen(self) -> list[PlayerId]:
        """Every player that does not learn: snapshots and scripted players."""
        return [p.player_id for p in self.players if not p.trainable]

    def counts(self, player: PlayerId, opponent: PlayerId) -> PairCounts:
        """``player``'s results against ``opponent`` (current generation)."""
        return self.results.get((player, opponent), PairCounts())

    def win_rate(self, player: PlayerId, opponent: PlayerId | Sequence[PlayerId]) -> float:
        """``player``'s score against ``opponent`` (or a group, results pooled), with the prior."""
        group = [opponent] if isinstance(opponent, str) else list(opponent)
        pooled = [self.counts(player, o) for o in group]
        total = PairCounts(sum(c.wins for c in pooled), sum(c.draws for c in pooled),
                           sum(c.losses for c in pooled))
        return win_rate(total, self.prior_games)


class Matchmaker(abc.ABC):
    """Decides each learner's opponents for the next iteration.

    Subclass it and implement :meth:`opponents`; select the subclass in TOML
    with ``[matchmaking] matchmaker = "package.module:ClassName"``. League calls
    :meth:`opponents` once per trainable player before each iteration, turns the
    weights into a seeded :class:`MatchPlan`, and records every match in the
    ledger, so the results your weights produce show up in ``league.payoff()``.

    Args:
        config: The run's ``[matchmaking]`` section (a
            :class:`~league.config.MatchmakingConfig`).

    Example:
        >>> class NewestSnapshot(Matchmaker):
        ...     def opponents(self, learner, league):
        ...         snapshots = league.with_role(Role.SNAPSHOT)
        ...         return {snapshots[-1] if snapshots else learner.player_id: 1.0}
    """

    #: Whether :meth:`opponents` reads :attr:`LeagueView.meta_nash`, which only the
    #: exploitability measure fills: League then refuses a run without one.
    needs_meta_nash: bool = False

    def __init__(self, config: object = None) -> None:
        self.config = config

    @abc.abstractmethod
    def opponents(self, learner: PlayerView, league: LeagueView) -> OpponentWeights:
        """Opponent weights for ``learner`` (need not sum to 1; zero weights are dropped).

        Keys are player ids (that player takes every other seat; the learner's
        own id means self-play) or tuples with one player id per other seat.
        """

    def learner_share(self, learner: PlayerView, league: LeagueView) -> float:
        """Relative share of the iteration's matches ``learner`` learns from (default: equal)."""
        return 1.0


class NashMatchmaker(Matchmaker):
    """PSRO's meta-solver: every learner plays the Nash mixture of the frozen snapshots.

    Policy-Space Response Oracles (Lanctot et al. 2017) grows a population by
    training a response to the Nash equilibrium of the population's meta-game;
    the Nash mixture of the population then approaches a Nash equilibrium of
    the game. Here each learner's opponents are the snapshots weighted by
    :attr:`LeagueView.meta_nash`, the exact meta-game Nash that League computes
    with the exploitability measure; so it needs ``[evaluation]
    exploitability_every`` (1: a fresh Nash every iteration) on an OpenSpiel
    game, and a run without it is refused. Until the first measure a learner
    plays itself.

    Select it with ``[matchmaking] matchmaker = "league.matchmaking:NashMatchmaker"``.
    """

    needs_meta_nash = True

    def opponents(self, learner: PlayerView, league: LeagueView) -> OpponentWeights:
        """The meta-game Nash weights of the snapshots still in the league, else self-play."""
        present = {p.player_id for p in league.players}
        weights = {p: w for p, w in league.meta_nash.items() if p in present and w > 0}
        return weights or {learner.player_id: 1.0}


def _mix(parts: Sequence[tuple[float, Mapping[PlayerId, float]]]) -> dict[PlayerId, float]:
    """Mix distributions by share, giving the share of an empty part to the others."""
    live = [(share, dist) for share, dist in parts if share > 0 and dist]
    total = sum(share for share, _ in live)
    mixed: dict[PlayerId, float] = {}
    for share, dist in live:
        norm = sum(dist.values())
        for player, weight in dist.items():
            mixed[player] = mixed.get(player, 0.0) + share / total * weight / norm
    return mixed


def _uniform(players: Sequence[PlayerId]) -> dict[PlayerId, float]:
    return {p: 1.0 / len(players) for p in players} if players else {}


class AlphaStarMatchmaker(Matchmaker):
    """AlphaStar's role rules, every probability and threshold from ``[matchmaking]``.

    Args:
        config: A :class:`~league.config.MatchmakingConfig`.
    """

    config: MatchmakingConfig

    def _pfsp(self, learner: PlayerView, league: LeagueView, candidates: Sequence[PlayerId],
              weighting: PfspWeighting, exponent: float) -> dict[PlayerId, float]:
        if not candidates:
            return {}
        rates = [league.win_rate(learner.player_id, c) for c in candidates]
        return dict(zip(candidates, pfsp_weights(rates, weighting, exponent).tolist(), strict=True))

    def opponents(self, learner: PlayerView, league: LeagueView) -> OpponentWeights:
        """Opponents by ``learner``'s role (see the module docstring)."""
        if learner.role is Role.MAIN:
            return self._main(learner, league)
        if learner.role is Role.MAIN_EXPLOITER:
            return self._main_exploiter(learner, league)
        if learner.role is Role.LEAGUE_EXPLOITER:
            return self._league_exploiter(learner, league)
        raise LeagueError(f"{learner.player_id!r} has role {learner.role.value!r}, which does not learn")

    def learner_share(self, learner: PlayerView, league: LeagueView) -> float:
        """The role's configured ``share``."""
        return float(self.config.role_rules(learner.role).share)

    def _main(self, learner: PlayerView, league: LeagueView) -> dict[PlayerId, float]:
        rules = self.config.main
        forgotten = [s for s in league.with_role(Role.SNAPSHOT)
                     if league.win_rate(learner.player_id, s) < rules.forgotten_win_rate]
        return _mix([
            (rules.self_play, _uniform(league.with_role(Role.MAIN))),
            (rules.pfsp, self._pfsp(learner, league, league.frozen, rules.pfsp_weighting, rules.pfsp_exponent)),
            (rules.exploiters_and_forgotten, _uniform(league.with_role(Role.MAIN_EXPLOITER) + forgotten)),
            (rules.scripted, self._pfsp(learner, league, league.with_role(Role.SCRIPTED), rules.pfsp_weighting,
                                        rules.pfsp_exponent)),
        ]) or {learner.player_id: 1.0}

    def _main_exploiter(self, learner: PlayerView, league: LeagueView) -> dict[PlayerId, float]:
        rules = self.config.main_exploiter
        mains = league.with_role(Role.MAIN)
        if league.win_rate(learner.player_id, mains) < rules.min_win_rate_vs_main:
            main_snapshots = [p.player_id for p in league.players
                              if p.role is Role.SNAPSHOT and p.parent in mains]
            if main_snapshots:
                return self._pfsp(learner, league, main_snapshots, rules.pfsp_weighting, rules.pfsp_exponent)
        return _uniform(mains)

    def _league_exploiter(self, learner: PlayerView, league: LeagueView) -> dict[PlayerId, float]:
        rules = self.config.league_exploiter
        frozen = league.frozen
        if not frozen:
            return _uniform(league.with_role(Role.MAIN))
        return self._pfsp(learner, league, frozen, rules.pfsp_weighting, rules.pfsp_exponent)


@dataclass(frozen=True)
class Match:
    """A decided match: the player in every seat and the learner the match was chosen for.

    Attributes:
        learner: The player whose experience trains.
        seats: The player in each seat.
        learner_seat: The learner's own seat (in self-play it also fills the others).
    """

    learner: PlayerId
    seats: tuple[PlayerId, ...]
    learner_seat: int = 0


@dataclass(frozen=True)
class LearnerPlan:
    """One learner's opponent line-ups for an iteration.

    Attributes:
        learner: The player whose experience trains in these matches.
        lineups: Candidate line-ups: one player per other seat, in seat order.
        probabilities: Probability of each line-up; sums to 1.
    """

    learner: PlayerId
    lineups: tuple[tuple[PlayerId, ...], ...]
    probabilities: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.lineups or len(self.lineups) != len(self.probabilities):
            raise ValueError(f"{self.lineups=} and {self.probabilities=} must be non-empty and aligned")
        if abs(sum(self.probabilities) - 1.0) > 1e-6 or min(self.probabilities) < 0:
            raise ValueError(f"probabilities must be >= 0 and sum to 1, got {self.probabilities}")

    @property
    def opponents(self) -> dict[PlayerId, float]:
        """Probability that each player appears in a match (summed over line-ups)."""
        out: dict[PlayerId, float] = {}
        for lineup, p in zip(self.lineups, self.probabilities, strict=True):
            for player in dict.fromkeys(lineup):
                out[player] = out.get(player, 0.0) + p
        return out


def _cdf(probabilities: Sequence[float]) -> np.ndarray:
    """The normalised cumulative distribution ``Generator.choice(n, p=probabilities)`` draws from."""
    cdf = np.asarray(probabilities, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    return cdf


def _draw(rng: np.random.Generator, cdf: np.ndarray) -> int:
    """``rng.choice(len(cdf), p=...)`` with the cdf built once: the same uniform draw, the same index.

    Example:
        >>> p = [0.1, 0.6, 0.3]
        >>> [_draw(np.random.default_rng(s), _cdf(p)) for s in range(6)] == \\
        ...     [int(np.random.default_rng(s).choice(3, p=p)) for s in range(6)]
        True
    """
    return int(cdf.searchsorted(rng.random(), side="right"))


@dataclass(frozen=True)
class MatchPlan:
    """Every learner's line-ups for one iteration, and how matches are shared among learners.

    Attributes:
        learners: One :class:`LearnerPlan` per trainable player.
        shares: Probability that a new match is for each learner; sums to 1.
        seed: The run seed.
        iteration: The league iteration the plan is for.
    """

    learners: tuple[LearnerPlan, ...]
    shares: tuple[float, ...]
    seed: int
    iteration: int

    def __post_init__(self) -> None:
        if not self.learners or len(self.learners) != len(self.shares):
            raise ValueError(f"need one share per learner, got {len(self.learners)} and {len(self.shares)}")
        if abs(sum(self.shares) - 1.0) > 1e-6 or min(self.shares) < 0:
            raise ValueError(f"shares must be >= 0 and sum to 1, got {self.shares}")

    @functools.cached_property
    def _cdfs(self) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Cumulative shares and line-up probabilities, as ``Generator.choice`` builds them per call."""
        return _cdf(self.shares), tuple(_cdf(plan.probabilities) for plan in self.learners)

    def for_learner(self, learner: PlayerId) -> LearnerPlan:
        """The plan of one learner."""
        for plan in self.learners:
            if plan.learner == learner:
                return plan
        raise KeyError(learner)

    def decide(self, worker_index: int, episode_number: int, num_seats: int) -> Match:
        """The players of one match, every seat at once.

        The draw depends only on (seed, iteration, worker_index, episode_number),
        so a rerun with the same seed makes the same decisions.

        Example:
            >>> plan = MatchPlan((LearnerPlan(PlayerId("main"), (("main_v1",),), (1.0,)),), (1.0,), 0, 1)
            >>> plan.decide(1, 0, 2).seats, plan.decide(1, 1, 2).seats
            (('main', 'main_v1'), ('main_v1', 'main'))
        """
        # default_rng's stream, built without its argument checks (a third of its 35 us, paid per match).
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            [self.seed, self.iteration, worker_index, episode_number])))
        shares_cdf, lineup_cdfs = self._cdfs
        index = _draw(rng, shares_cdf) if len(self.learners) > 1 else 0
        learner = self.learners[index]
        lineup = learner.lineups[_draw(rng, lineup_cdfs[index])]
        seat = episode_number % num_seats
        return Match(learner.learner, (*lineup[:seat], learner.learner, *lineup[seat:]), seat)


def make_plan(matchmaker: Matchmaker, league: LeagueView, *, num_seats: int, seed: int) -> MatchPlan:
    """Ask ``matchmaker`` about every trainable player and build the iteration's plan.

    Raises:
        LeagueError: if the matchmaker names an unknown player, gives a line-up
            of the wrong length, or gives a learner no opponent at all.
    """
    known = {p.player_id for p in league.players}
    name = type(matchmaker).__name__
    plans, shares = [], []
    for learner in (p for p in league.players if p.trainable):
        weights = matchmaker.opponents(learner, league)
        lineups, probabilities = [], []
        for key, weight in weights.items():
            lineup = (key,) * (num_seats - 1) if isinstance(key, str) else tuple(key)
            if len(lineup) != num_seats - 1:
                raise LeagueError(f"{name} gave {learner.player_id!r} the line-up {key!r}: "
                                  f"expected {num_seats - 1} player(s), one per other seat")
            unknown = [p for p in lineup if p not in known]
            if unknown:
                raise LeagueError(f"{name} chose unknown players {unknown} for {learner.player_id!r}; "
                                  f"league members: {sorted(known)}")
            if weight < 0 or not np.isfinite(weight):
                raise LeagueError(f"{name} gave {key!r} the weight {weight!r}: expected a finite number >= 0")
            if weight > 0:
                lineups.append(lineup)
                probabilities.append(float(weight))
        if not lineups:
            raise LeagueError(f"{name} gave {learner.player_id!r} no opponent with a positive weight")
        total = sum(probabilities)
        plans.append(LearnerPlan(learner.player_id, tuple(lineups), tuple(p / total for p in probabilities)))
        shares.append(max(0.0, float(matchmaker.learner_share(learner, league))))
    if sum(shares) <= 0:
        raise LeagueError(f"{name} gave every learner a share of 0")
    return MatchPlan(tuple(plans), tuple(s / sum(shares) for s in shares), seed, league.iteration)


def load_matchmaker(path: str | None, config: object) -> Matchmaker:
    """The matchmaker named by ``path`` (``"package.module:ClassName"``), or AlphaStar's rules.

    The current directory is importable, so a ``mypkg/mm.py`` next to the
    config file can be named ``"mypkg.mm:MyMatchmaker"``. It is appended to
    ``sys.path``, never put first: a file there (``json.py``, ``numpy.py``) must
    not shadow a module that is installed.

    Raises:
        ConfigError: if the module or class cannot be found or is not a Matchmaker.
    """
    if path is None:
        return AlphaStarMatchmaker(config)
    from envs.imported import append_to_sys_path  # the one rule for a user's folder on sys.path

    module_name, _, class_name = path.partition(":")
    append_to_sys_path(os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ConfigError(f"matchmaking.matchmaker: cannot import module {module_name!r} ({e})") from e
    except Exception as e:  # the user's module raised while importing: one line, not a traceback
        raise ConfigError(f"matchmaking.matchmaker: importing {module_name!r} raised "
                          f"{type(e).__name__}: {e}") from e
    cls = getattr(module, class_name, None)
    if not (isinstance(cls, type) and issubclass(cls, Matchmaker)):
        raise ConfigError(f"matchmaking.matchmaker: {path!r} is not a subclass of league.Matchmaker")
    return cls(config)
