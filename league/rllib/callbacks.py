"""RLlib callbacks that turn finished episodes into match records.

Each env runner buffers one :class:`~league.types.MatchRecord` per finished
episode; the driver drains every runner's buffer after an iteration's sampling
and writes them to the ledger in one pipeline (see :func:`drain_matches`).
"""

from __future__ import annotations

import os
import time
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

from league.types import MatchId, MatchRecord, PlayerId

_START_KEY = "league_start_time"


class MatchRecorder(RLlibCallback):
    """Buffers a match record for every episode that ends on this env runner."""

    def __init__(self) -> None:
        super().__init__()
        self.iteration = 0
        # A fresh nonce per runner process keeps match ids unique even when a
        # seeded run draws the same episode ids again (for example after a resume).
        self._nonce = os.urandom(4).hex()
        self._buffer: list[MatchRecord] = []

    def on_episode_start(self, *, episode: Any, **kwargs: Any) -> None:
        """Note the wall time the match started."""
        episode.user_data[_START_KEY] = time.time()

    def on_episode_end(self, *, episode: Any, base_env: Any = None, env_index: int | None = None,
                       worker: Any = None, **kwargs: Any) -> None:
        """Turn the finished episode into a match record."""
        env = base_env.get_sub_environments()[env_index or 0]
        returns: dict[str, float] = {}
        seats: dict[str, str] = {}
        for (agent, policy_id), total in episode.agent_rewards.items():
            returns[agent] = returns.get(agent, 0.0) + float(total)
            seats[agent] = policy_id
        agents = [a for a in env.possible_agents if a in seats]
        now = time.time()
        worker_index = getattr(worker, "worker_index", 0)
        self._buffer.append(
            MatchRecord(
                match_id=MatchId(f"{worker_index}-{self._nonce}-{episode.episode_id}"),
                seats=tuple(PlayerId(seats[a]) for a in agents),
                returns=tuple(returns[a] for a in agents),
                length=int(episode.length),
                wall_time=now,
                duration_s=now - episode.user_data.get(_START_KEY, now),
                iteration=self.iteration,
            )
        )

    def drain(self) -> list[MatchRecord]:
        """Hand over (and forget) the buffered records."""
        records, self._buffer = self._buffer, []
        return records
