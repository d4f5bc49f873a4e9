"""RLlib callbacks that turn finished episodes into match records.

Each env runner makes one :class:`~league.types.MatchRecord` per finished
episode and writes them to the ledger itself, one pipeline at the end of each
sample call, so the driver is not a bottleneck as runners are added. It also
counts the agent steps it sampled per policy (what each policy's train batch
holds), each learner's points, and sub-environment restarts. The driver drains
every runner after an iteration's sampling (see
:func:`~league.rllib.algorithm.drain_runners`): the counts, plus any records a
runner could not write (not connected yet, or Redis away past its retry
timeout), which the driver then writes.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ray.rllib.callbacks.callbacks import RLlibCallback

from league.faults import kill_point
from league.payoff import learner_tallies
from league.rllib.mapping import is_mirror, player_of
from league.trainer import LedgerSpec, RunnerOutput  # also re-exported
from league.types import MatchId, MatchRecord, PlayerId

_START_KEY = "league_start_time"
#: Seconds an env runner waits before trying an unreachable ledger again.
_RECONNECT_S = 300.0
_log = logging.getLogger(__name__)


def _iteration(worker: Any) -> int:
    """The league iteration the runner's match mapping serves (0 before one is installed)."""
    return int(getattr(getattr(worker, "policy_mapping_fn", None), "iteration", 0))


class MatchRecorder(RLlibCallback):
    """Buffers a match record for every episode that ends on this env runner."""

    def __init__(self) -> None:
        super().__init__()
        # A fresh nonce per runner process keeps match ids unique even when a
        # seeded run draws the same episode ids again (for example after a resume).
        self._nonce = os.urandom(4).hex()
        self._output = RunnerOutput()
        self._ledger: Any = None
        self._retries_reported = 0
        self._connect_failed_at = float("-inf")

    @property
    def connected(self) -> bool:
        """Whether this runner writes its records to the ledger itself."""
        return self._ledger is not None

    def connect(self, spec: LedgerSpec) -> None:
        """Write records to the ledger ``spec`` names from now on.

        If the ledger cannot be reached, records go to the driver instead and
        the runner tries again at most once every :data:`_RECONNECT_S` seconds.
        """
        from league.errors import LedgerUnavailable
        from league.ledger import open_ledger

        if time.monotonic() - self._connect_failed_at < _RECONNECT_S:
            return
        try:
            self._ledger = open_ledger(spec.url, spec.run_id, retry_timeout_s=spec.retry_timeout_s,
                                       write_batch=spec.write_batch)
        except LedgerUnavailable as e:
            self._ledger = None
            self._connect_failed_at = time.monotonic()
            _log.warning("env runner cannot reach the ledger (%s); the driver writes its match records", e)

    def on_episode_start(self, *, episode: Any, **kwargs: Any) -> None:
        """Note the wall time the match started."""
        episode.user_data[_START_KEY] = time.time()

    def on_episode_end(self, *, episode: Any, base_env: Any = None, env_index: int | None = None,
                       worker: Any = None, **kwargs: Any) -> None:
        """Turn the finished episode into a match record (an env that raised ends it with its exception)."""
        if isinstance(episode, Exception):
            # restart_failed_sub_environments: RLlib rebuilt the sub-env; the match never finished.
            self.env_failed(worker)
            return
        env = base_env.get_sub_environments()[env_index or 0]
        returns: dict[str, float] = {}
        seats: dict[str, str] = {}
        for (agent, policy_id), total in episode.agent_rewards.items():
            returns[agent] = returns.get(agent, 0.0) + float(total)
            seats[agent] = policy_id
        self.match_ended(worker, episode_id=episode.episode_id, agents=env.possible_agents, seats=seats,
                         returns=returns, length=int(episode.length),
                         started=episode.user_data.get(_START_KEY))

    def env_failed(self, worker: Any) -> None:
        """Count a sub-environment that raised (rebuilt by the sampler, its episode dropped)."""
        kill_point("sampling", _iteration(worker))
        self._output.env_restarts += 1

    def match_ended(self, worker: Any, *, episode_id: int, agents: Sequence[str], seats: Mapping[str, str],
                    returns: Mapping[str, float], length: int, started: float | None) -> None:
        """Record one finished match: every seated agent's policy id and return.

        Called by :meth:`on_episode_end` for RLlib's sampler and directly by
        League's batched sampler (:mod:`league.rllib.sampler`).

        Args:
            worker: The env runner the match ran on.
            episode_id: The episode's id (unique per runner process with this runner's nonce).
            agents: The env's agents in seat order (``possible_agents``).
            seats: Policy id each agent played under.
            returns: Each agent's total reward.
            length: Env steps of the episode.
            started: Wall time the episode started (None: unknown).
        """
        kill_point("sampling", _iteration(worker))
        seated = [a for a in agents if a in seats]
        # The learner is the seat that played under its own trainable policy id;
        # frozen players are never in policies_to_train, mirrors never learn.
        learners = [seats[a] for a in seated
                    if not is_mirror(seats[a]) and self._is_trainable(worker, seats[a])]
        now = time.time()
        worker_index = getattr(worker, "worker_index", 0)
        self._add(
            MatchRecord(
                match_id=MatchId(f"{worker_index}-{self._nonce}-{episode_id}"),
                seats=tuple(player_of(seats[a]) for a in seated),
                returns=tuple(float(returns.get(a, 0.0)) for a in seated),
                length=int(length),
                wall_time=now,
                duration_s=now - (now if started is None else started),
                iteration=_iteration(worker),
                learner=PlayerId(learners[0]) if learners else None,
            )
        )

    def _add(self, match: MatchRecord) -> None:
        self._output.matches.append(match)
        for player, (points, seats) in learner_tallies([match]).items():
            before = self._output.tallies.get(player, (0.0, 0))
            self._output.tallies[player] = (before[0] + points, before[1] + seats)

    def _flush(self) -> None:
        """Write the buffered records (one script call per ``write_batch``); on failure they wait for the driver."""
        import redis

        from league.errors import LedgerUnavailable

        if self._ledger is None or not self._output.matches:
            return
        try:
            self._output.written += self._ledger.record(self._output.matches)
        except (LedgerUnavailable, redis.RedisError) as e:  # a Redis error must not crash the runner
            _log.warning("env runner could not write %d match records (%s); the driver will",
                         len(self._output.matches), e)
            return
        self._output.matches = []

    @staticmethod
    def _is_trainable(worker: Any, policy_id: str) -> bool:
        check = getattr(worker, "is_policy_to_train", None)
        return bool(check(policy_id)) if callable(check) else False

    def on_learn_on_batch(self, *, policy: Any, train_batch: Any, result: dict, **kwargs: Any) -> None:
        """Nothing to record while learning; the ``training`` kill point sits here."""
        kill_point("training")

    def on_sample_end(self, *, samples: Any, worker: Any = None, **kwargs: Any) -> None:
        """Write the sample call's match records; count the agent steps each policy sampled.

        League's batched sampler counts agent steps itself (:meth:`add_agent_steps`):
        its batches hold only the learners' steps, not those of frozen players and mirrors.
        """
        self._flush()
        batches = getattr(samples, "policy_batches", None)
        if batches is None or getattr(worker, "counts_agent_steps", False):
            return
        self.add_agent_steps({pid: int(batch.count) for pid, batch in batches.items()})

    def add_agent_steps(self, counts: Mapping[str, int]) -> None:
        """Add agent steps sampled per policy id (mirrors under their own id)."""
        steps = self._output.agent_steps
        for policy_id, count in counts.items():
            steps[policy_id] = steps.get(policy_id, 0) + int(count)

    def drain(self) -> RunnerOutput:
        """Hand over (and forget) the counts and any records not written yet."""
        self._flush()
        if self._ledger is not None:
            self._output.ledger_retries = self._ledger.retries - self._retries_reported
            self._retries_reported = self._ledger.retries
        output, self._output = self._output, RunnerOutput()
        return output
