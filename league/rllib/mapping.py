"""The policy mapping function: reads whole-match decisions made by a :class:`MatchPlan`.

RLlib asks for each agent's policy separately; League decides the whole match
(every seat) the first time any agent of an episode is mapped, caches it by
episode id, and answers every later agent of that episode from the cache. The
object is plain data plus a counter, so it pickles to env runners and is
rebuilt from league state rather than restored from a pickled function.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Sequence

from league.matchmaking import MatchPlan
from league.types import PlayerId

#: Decisions kept per runner; only episodes still running need theirs.
_CACHE_SIZE = 4096


class MatchMapping:
    """A ``policy_mapping_fn`` that maps agents to the seats of a decided match.

    Args:
        plan: The iteration's match plan.
        seat_agents: Agent ids in seat order (``env.possible_agents``).
    """

    def __init__(self, plan: MatchPlan, seat_agents: Sequence[str]) -> None:
        self.plan = plan
        self._seat_of = {agent: i for i, agent in enumerate(seat_agents)}
        self._decisions: OrderedDict[int, tuple[PlayerId, ...]] = OrderedDict()
        self._episodes_seen = 0

    def decision(self, episode_id: int, worker_index: int) -> tuple[PlayerId, ...]:
        """The seats of episode ``episode_id``, deciding them on first sight."""
        seats = self._decisions.get(episode_id)
        if seats is None:
            seats = self.plan.decide(worker_index, self._episodes_seen, len(self._seat_of))
            self._episodes_seen += 1
            self._decisions[episode_id] = seats
            if len(self._decisions) > _CACHE_SIZE:
                self._decisions.popitem(last=False)
        return seats

    def __call__(self, agent_id: str, episode: Any, worker: Any = None, **kwargs: Any) -> str:
        """RLlib's ``policy_mapping_fn(agent_id, episode, worker, **kwargs)``."""
        worker_index = getattr(worker, "worker_index", 0)
        return self.decision(episode.episode_id, worker_index)[self._seat_of[agent_id]]
