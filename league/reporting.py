"""What the steps of one iteration produced, and the :class:`~league.iteration.IterationReport` made of it.

The league loop fills an :class:`IterationParts` step by step and turns it into
the report with :func:`build_report`; the report record itself lives in
:mod:`league.iteration`, which the display, TensorBoard and the CLI import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from league.iteration import IterationReport
from league.payoff import learner_scores
from league.ratings import Rating
from league.residents import Prepared
from league.standing import Standing
from league.trainer import RunnerOutput, TrainOutcome
from league.types import PairCounts, PlayerId


@dataclass(frozen=True)
class Trained:
    """The train step's outcome with its timings.

    Attributes:
        outcome: What the trainer reported.
        seconds: Wall seconds of the train call.
        sample_s: Of those, seconds sampling.
        learn_s: Seconds learning.
    """

    outcome: TrainOutcome
    seconds: float
    sample_s: float
    learn_s: float


@dataclass
class IterationParts:
    """One iteration's step results, filled in as the steps run.

    ``before`` holds the run's counters as the iteration began (the report gives the
    iteration's own share of each).
    """

    iteration: int
    start: float
    before: dict[str, int]
    prepared: Prepared | None = None
    restore_s: float = 0.0
    trained: Trained | None = None
    output: RunnerOutput = field(default_factory=RunnerOutput)
    episodes: int = 0
    ratings: dict[PlayerId, Rating] = field(default_factory=dict)
    frozen: list[PlayerId] = field(default_factory=list)
    resets: list[PlayerId] = field(default_factory=list)
    pruned: list[PlayerId] = field(default_factory=list)
    evaluation: PairCounts | None = None
    references: dict[str, PairCounts] = field(default_factory=dict)
    exploitability: dict[str, float] = field(default_factory=dict)
    evaluation_s: float = 0.0
    checkpointed: bool = False


def build_report(parts: IterationParts, standing: Standing, *, matches_recorded: int, resident: list[PlayerId],
                 now: dict[str, int]) -> IterationReport:
    """The report of a finished iteration; ``now`` holds the counters ``parts.before`` holds, as they are now."""
    assert parts.trained is not None and parts.prepared is not None, "the iteration did not train"
    trained, before = parts.trained, parts.before
    elapsed = time.perf_counter() - parts.start
    return IterationReport(
        iteration=parts.iteration, env_steps=standing.env_steps,
        env_steps_per_s=trained.outcome.env_steps / max(trained.seconds, 1e-9),
        episodes=parts.episodes, total_episodes=standing.total_episodes, matches_recorded=matches_recorded,
        league_size=len(standing.roster), snapshots=len(standing.snapshots), evaluation=parts.evaluation,
        reference_evaluations=parts.references, train_time_s=trained.seconds,
        league_time_s=elapsed - trained.seconds - parts.evaluation_s, evaluation_time_s=parts.evaluation_s,
        ratings=parts.ratings, agent_steps=dict(parts.output.agent_steps), new_snapshots=tuple(parts.frozen),
        resets=tuple(parts.resets), resident=tuple(resident), restored=parts.prepared.restored,
        restore_time_s=parts.restore_s, pruned=tuple(parts.pruned), unusable=parts.prepared.unusable,
        abandoned=standing.abandoned_episodes - before["abandoned"],
        anchor_matches=standing.anchor_matches - before["anchor_matches"],
        env_runner_restarts=now["runner_restarts"] - before["runner_restarts"],
        env_restarts=standing.counters.env_restarts - before["env_restarts"],
        ledger_retries=now["ledger_retries"] - before["ledger_retries"], checkpointed=parts.checkpointed,
        sample_time_s=trained.sample_s, learn_time_s=trained.learn_s, players=tuple(standing.roster),
        learner_scores=learner_scores(parts.output.tallies), written_by_runners=parts.output.written,
        exploitability=parts.exploitability,
        learner_stats={PlayerId(p): stats for p, stats in trained.outcome.learner_stats.items()},
    )
