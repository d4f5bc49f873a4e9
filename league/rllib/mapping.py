"""The policy mapping function: reads whole-match decisions made by a :class:`MatchPlan`.

RLlib asks for each agent's policy separately; League decides the whole match
(every seat) the first time any agent of an episode is mapped, caches it by
episode id, and answers every later agent of that episode from the cache.

Per-match learner (AlphaStar's rule): only the learner the match was chosen
for trains on it. A trainable opponent therefore plays through its *mirror*,
a policy id outside ``policies_to_train`` whose weights are copied from the
player before every iteration's sampling: same moves, no training samples.
In self-play (the learner in every seat) every seat trains the learner, as in
RLlib's own self-play examples, unless ``self_play_learns_both_seats`` is off;
then only the learner's own seat trains and the others play as its mirror.

The object is plain data plus a counter, so it pickles to env runners and is
rebuilt from league state rather than restored from a pickled function.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from typing import Any

from league.matchmaking import Match, MatchPlan
from league.player_ids import MIRROR_SUFFIX, mirror_id  # mirror_id: also re-exported
from league.types import PlayerId

#: Decisions kept per runner; only episodes still running need theirs.
_CACHE_SIZE = 4096
_MIRROR_SUFFIX = MIRROR_SUFFIX


def player_of(policy_id: str) -> PlayerId:
    """The player behind a policy id (a mirror's player, or the id itself)."""
    return PlayerId(policy_id.removesuffix(_MIRROR_SUFFIX))


def is_mirror(policy_id: str) -> bool:
    """Whether ``policy_id`` is a mirror of a trainable player."""
    return policy_id.endswith(_MIRROR_SUFFIX)


def seat_policies(match: Match, trainable: AbstractSet[PlayerId], *,
                  self_play_learns_both_seats: bool = True) -> tuple[str, ...]:
    """The RLlib policy id of every seat: the learner trains, other trainable players play as mirrors.

    Example:
        >>> seat_policies(Match("main_exploiter", ("main", "main_exploiter"), 1), {"main", "main_exploiter"})
        ('main-mirror', 'main_exploiter')
        >>> seat_policies(Match("main", ("main", "main"), 1), {"main"}, self_play_learns_both_seats=False)
        ('main-mirror', 'main')
    """
    out = []
    for seat, player in enumerate(match.seats):
        learns = player == match.learner and (self_play_learns_both_seats or seat == match.learner_seat)
        out.append(player if learns or player not in trainable else mirror_id(player))
    return tuple(out)


class MatchMapping:
    """A ``policy_mapping_fn`` that maps agents to the seats of a decided match.

    Args:
        plan: The iteration's match plan.
        seat_agents: Agent ids in seat order (``env.possible_agents``).
        trainable: Players in ``policies_to_train``.
        self_play_learns_both_seats: Whether every seat of a self-play match trains the learner.
    """

    def __init__(self, plan: MatchPlan, seat_agents: Sequence[str], trainable: AbstractSet[PlayerId],
                 *, self_play_learns_both_seats: bool = True) -> None:
        self.plan = plan
        self.trainable = frozenset(trainable)
        self.self_play_learns_both_seats = self_play_learns_both_seats
        self._seat_of = {agent: i for i, agent in enumerate(seat_agents)}
        #: The league iteration this mapping serves (set by ``install_mapping``; match records carry it).
        self.iteration = 0
        self._decisions: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._episodes_seen = 0

    def decision(self, episode_id: int, worker_index: int) -> tuple[str, ...]:
        """The policy id of every seat of episode ``episode_id``, deciding them on first sight."""
        seats = self._decisions.get(episode_id)
        if seats is None:
            match = self.plan.decide(worker_index, self._episodes_seen, len(self._seat_of))
            seats = seat_policies(match, self.trainable,
                                  self_play_learns_both_seats=self.self_play_learns_both_seats)
            self._episodes_seen += 1
            self._decisions[episode_id] = seats
            if len(self._decisions) > _CACHE_SIZE:
                self._decisions.popitem(last=False)
        return seats

    def __call__(self, agent_id: str, episode: Any, worker: Any = None, **kwargs: Any) -> str:
        """RLlib's ``policy_mapping_fn(agent_id, episode, worker, **kwargs)``."""
        worker_index = getattr(worker, "worker_index", 0)
        return self.decision(episode.episode_id, worker_index)[self._seat_of[agent_id]]
