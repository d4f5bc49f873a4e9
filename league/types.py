"""Domain ids, closed sets and records shared across League.

Ids are ``NewType`` strings so that a player id cannot be passed where a match
id is expected without a type checker noticing. Records are frozen dataclasses;
nothing in League passes results around as dicts keyed by magic strings.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import NewType

from league.errors import InvalidIdError

PlayerId = NewType("PlayerId", str)
MatchId = NewType("MatchId", str)
RunId = NewType("RunId", str)

#: The only characters allowed in ids that become Redis keys, file names or
#: S3 keys: no path separators, no dots at the start, bounded length.
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")
#: The rule :data:`_ID_PATTERN` enforces, as error messages state it.
ID_RULE = "1-128 characters from [A-Za-z0-9_-], starting with a letter or digit"


def validate_id(value: str, *, kind: str) -> str:
    """Return ``value`` if it is a safe id, else raise :class:`InvalidIdError`.

    Args:
        value: The candidate id.
        kind: What the id names ("player id", "run id"), used in the message.

    Example:
        >>> validate_id("main_v3", kind="player id")
        'main_v3'
    """
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise InvalidIdError(f"invalid {kind} {value!r}: expected {ID_RULE}")
    return value


class Role(str, enum.Enum):
    """What a player is for in the league (AlphaStar's roles plus fixed players).

    Trainable roles (Vinyals et al. 2019, "Grandmaster level in StarCraft II"):
    ``main`` agents aim to be robust against everything; ``main_exploiter``
    agents look for weaknesses of the current mains; ``league_exploiter`` agents
    look for weaknesses of the whole league. Frozen roles: ``snapshot`` (a
    historical copy of a trainable player) and ``scripted`` (a fixed program such
    as ``random``).
    """

    MAIN = "main"
    MAIN_EXPLOITER = "main_exploiter"
    LEAGUE_EXPLOITER = "league_exploiter"
    SNAPSHOT = "snapshot"
    SCRIPTED = "scripted"

    @property
    def trainable(self) -> bool:
        """Whether players of this role learn (are in ``policies_to_train``)."""
        return self in (Role.MAIN, Role.MAIN_EXPLOITER, Role.LEAGUE_EXPLOITER)


class PfspWeighting(str, enum.Enum):
    """Prioritized fictitious self-play weightings of an opponent the learner beats with rate x."""

    HARD = "hard"          # (1 - x)^p: focus on the opponents it loses to
    VARIANCE = "variance"  # x (1 - x): focus on opponents of similar strength
    LINEAR = "linear"      # 1 - x
    UNIFORM = "uniform"    # 1


class Outcome(str, enum.Enum):
    """The result of one match for one seat."""

    WIN = "win"
    DRAW = "draw"
    LOSS = "loss"


@dataclass(frozen=True)
class PlayerRecord:
    """One member of the league roster.

    Attributes:
        player_id: Unique id; also the RLlib policy id.
        role: What the player is for.
        parent: The player this one was frozen from, if it is a snapshot.
        created_iteration: League iteration in which the player joined.
    """

    player_id: PlayerId
    role: Role
    parent: PlayerId | None = None
    created_iteration: int = 0

    @property
    def trainable(self) -> bool:
        """Whether the player is in ``policies_to_train``."""
        return self.role.trainable


@dataclass(frozen=True)
class MatchRecord:
    """One finished match (one RLlib episode), as written to the ledger.

    Attributes:
        match_id: Unique id derived from the env runner and RLlib episode id.
        seats: Player id per seat, in seat order (seat 0 moves first).
        returns: Undiscounted return per seat.
        length: Number of env steps in the episode.
        wall_time: Unix time at which the match ended.
        duration_s: Seconds from the first to the last step.
        iteration: League iteration during which the match finished.
        learner: The player whose experience from this match trained (the one
            matchmaking chose the match for); None if no seat trained.
    """

    match_id: MatchId
    seats: tuple[PlayerId, ...]
    returns: tuple[float, ...]
    length: int
    wall_time: float
    duration_s: float
    iteration: int = 0
    learner: PlayerId | None = None
    outcomes: tuple[Outcome, ...] = field(init=False)

    def __post_init__(self) -> None:
        if len(self.seats) != len(self.returns):
            raise ValueError(f"{len(self.seats)=} != {len(self.returns)=}")
        # The single best return wins; seats tied for the best return draw; the rest lose.
        best = max(self.returns)
        tied = self.returns.count(best) > 1
        outcomes = tuple(
            Outcome.LOSS if r < best else Outcome.DRAW if tied else Outcome.WIN for r in self.returns
        )
        object.__setattr__(self, "outcomes", outcomes)


@dataclass(frozen=True)
class PairCounts:
    """Results of ``player`` against ``opponent``, from ``player``'s side."""

    wins: int = 0
    draws: int = 0
    losses: int = 0

    @property
    def games(self) -> int:
        """Matches played between the two (in this order of seats' owners)."""
        return self.wins + self.draws + self.losses

    @property
    def score(self) -> float | None:
        """(wins + draws / 2) / games, or None if they never met."""
        return (self.wins + 0.5 * self.draws) / self.games if self.games else None
