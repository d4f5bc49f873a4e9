"""RLlib callbacks that turn finished episodes into match records.

Each env runner buffers one :class:`~league.types.MatchRecord` per finished
episode and counts the agent steps it sampled per policy (what each policy's
train batch holds); the driver drains every runner after an iteration's
sampling and writes the records to the ledger in one pipeline (see
:func:`~league.rllib.algorithm.drain_runners`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

from league.faults import kill_point
from league.rllib.mapping import is_mirror, player_of
from league.types import MatchId, MatchRecord, PlayerId

_START_KEY = "league_start_time"


@dataclass
class RunnerOutput:
    """What one env runner hands over after sampling.

    Attributes:
        matches: Records of the episodes that finished.
        agent_steps: Agent steps sampled per policy id (mirrors under their own id).
        env_restarts: Sub-environments that raised and were restarted (their episodes dropped).
    """

    matches: list[MatchRecord] = field(default_factory=list)
    agent_steps: dict[str, int] = field(default_factory=dict)
    env_restarts: int = 0


class MatchRecorder(RLlibCallback):
    """Buffers a match record for every episode that ends on this env runner."""

    def __init__(self) -> None:
        super().__init__()
        # A fresh nonce per runner process keeps match ids unique even when a
        # seeded run draws the same episode ids again (for example after a resume).
        self._nonce = os.urandom(4).hex()
        self._output = RunnerOutput()

    def on_episode_start(self, *, episode: Any, **kwargs: Any) -> None:
        """Note the wall time the match started."""
        episode.user_data[_START_KEY] = time.time()

    def on_episode_end(self, *, episode: Any, base_env: Any = None, env_index: int | None = None,
                       worker: Any = None, **kwargs: Any) -> None:
        """Turn the finished episode into a match record (an env that raised ends it with its exception)."""
        mapping = getattr(worker, "policy_mapping_fn", None)
        iteration = int(getattr(mapping, "iteration", 0))
        kill_point("sampling", iteration)
        if isinstance(episode, Exception):
            # restart_failed_sub_environments: RLlib rebuilt the sub-env; the match never finished.
            self._output.env_restarts += 1
            return
        env = base_env.get_sub_environments()[env_index or 0]
        returns: dict[str, float] = {}
        seats: dict[str, str] = {}
        for (agent, policy_id), total in episode.agent_rewards.items():
            returns[agent] = returns.get(agent, 0.0) + float(total)
            seats[agent] = policy_id
        agents = [a for a in env.possible_agents if a in seats]
        # The learner is the seat that played under its own trainable policy id;
        # frozen players are never in policies_to_train, mirrors never learn.
        learners = [seats[a] for a in agents
                    if not is_mirror(seats[a]) and self._is_trainable(worker, seats[a])]
        now = time.time()
        worker_index = getattr(worker, "worker_index", 0)
        self._output.matches.append(
            MatchRecord(
                match_id=MatchId(f"{worker_index}-{self._nonce}-{episode.episode_id}"),
                seats=tuple(player_of(seats[a]) for a in agents),
                returns=tuple(returns[a] for a in agents),
                length=int(episode.length),
                wall_time=now,
                duration_s=now - episode.user_data.get(_START_KEY, now),
                iteration=iteration,
                learner=PlayerId(learners[0]) if learners else None,
            )
        )

    @staticmethod
    def _is_trainable(worker: Any, policy_id: str) -> bool:
        check = getattr(worker, "is_policy_to_train", None)
        return bool(check(policy_id)) if callable(check) else False

    def on_learn_on_batch(self, *, policy: Any, train_batch: Any, result: dict, **kwargs: Any) -> None:
        """Nothing to record while learning; the ``training`` kill point sits here."""
        kill_point("training")

    def on_sample_end(self, *, samples: Any, **kwargs: Any) -> None:
        """Count the agent steps each policy sampled (its share of the train batch)."""
        batches = getattr(samples, "policy_batches", None)
        if batches is None:
            return
        steps = self._output.agent_steps
        for policy_id, batch in batches.items():
            steps[policy_id] = steps.get(policy_id, 0) + int(batch.count)

    def drain(self) -> RunnerOutput:
        """Hand over (and forget) the buffered records and step counts."""
        output, self._output = self._output, RunnerOutput()
        return output
