"""The per-iteration report record: what one league iteration did.

The league loop builds an :class:`IterationReport` after each iteration; the live
view and the ``--quiet`` lines (:mod:`league.display`), TensorBoard
(:mod:`league.tensorboard`) and the CLI read it. It lives apart from the loop so
that reading it imports neither Ray nor torch (issue 21).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from league.ratings import Rating
from league.types import PairCounts, PlayerId, PlayerRecord

#: Policy id of the (first) main player.
MAIN = PlayerId("main")


@dataclass(frozen=True)
class IterationReport:
    """What happened in one league iteration.

    Attributes:
        iteration: 1-based iteration number.
        env_steps: Env steps sampled since the run started.
        env_steps_per_s: Sampled env steps per second of this iteration's wall time.
        episodes: Matches (RLlib episodes) that finished this iteration, each recorded in the ledger.
        total_episodes: Matches that finished in committed iterations since the run started.
        matches_recorded: Matches in the ledger.
        league_size: Players on the roster.
        snapshots: Frozen snapshots on the roster.
        evaluation: Main's results against the evaluation opponent, if evaluated.
        reference_evaluations: Main's results against each of ``evaluation.references`` (by name, in
            that order), when evaluated; empty otherwise.
        train_time_s: Seconds in ``Algorithm.train`` (sampling and learning).
        league_time_s: Seconds of League's own bookkeeping (ledger, ratings, snapshots, mapping).
        evaluation_time_s: Seconds of evaluation games.
        ratings: Every rated player's ratings after this iteration.
        agent_steps: Agent steps each policy sampled this iteration (mirrors under their own id).
        new_snapshots: Snapshots taken after this iteration.
        resets: Players reset to their initial weights after this iteration.
        resident: Frozen players that were RLlib policies during this iteration.
        restored: Frozen players restored (from the store or a scripted class) before sampling.
        restore_time_s: Seconds spent before sampling on the plan and the resident pool (restores, drops).
        pruned: Snapshots removed by the run's retention policy after this iteration.
        unusable: Snapshots that failed verification before this iteration and were skipped.
        abandoned: In-flight episodes abandoned because a player in them was dropped from the pool.
        anchor_matches: Rated games new snapshots played against scripted players after this iteration.
        env_runner_restarts: Remote env runners restarted since the run started (after they died).
        env_restarts: Sub-environments restarted since the run started (after they raised).
        ledger_retries: Ledger calls retried while Redis was unreachable, since the run started.
        checkpointed: Whether a league checkpoint committed this iteration.
        sample_time_s: Seconds RLlib spent sampling (part of ``train_time_s``).
        learn_time_s: Seconds RLlib spent in updates (part of ``train_time_s``; APPO and IMPALA update in
            RLlib's learner thread, alongside sampling).
        players: The roster after this iteration.
        learner_scores: Each learner's score in the matches chosen for it this iteration.
        written_by_runners: Match records the env runners wrote to the ledger themselves this iteration.
        exploitability: Exact exploitability of each trainable player and of the snapshots' Nash
            mixture (key ``mixture``), when measured this iteration (``evaluation.exploitability_every``).
        learner_stats: Each trainable player's learner statistics after its last update this iteration
            (``policy_loss``, ``vf_loss``, ``total_loss``, ``entropy``, ``lr``, ``kl`` where the
            algorithm reports it, ...; :func:`league.rllib.algorithm.learner_stats`).
    """

    iteration: int
    env_steps: int
    env_steps_per_s: float
    episodes: int
    total_episodes: int
    matches_recorded: int
    league_size: int
    snapshots: int
    evaluation: PairCounts | None
    train_time_s: float
    league_time_s: float
    evaluation_time_s: float
    ratings: dict[PlayerId, Rating] = field(default_factory=dict)
    agent_steps: dict[str, int] = field(default_factory=dict)
    new_snapshots: tuple[PlayerId, ...] = ()
    resets: tuple[PlayerId, ...] = ()
    resident: tuple[PlayerId, ...] = ()
    restored: tuple[PlayerId, ...] = ()
    restore_time_s: float = 0.0
    pruned: tuple[PlayerId, ...] = ()
    unusable: tuple[PlayerId, ...] = ()
    abandoned: int = 0
    anchor_matches: int = 0
    env_runner_restarts: int = 0
    env_restarts: int = 0
    ledger_retries: int = 0
    checkpointed: bool = False
    sample_time_s: float = 0.0
    learn_time_s: float = 0.0
    players: tuple[PlayerRecord, ...] = ()
    learner_scores: dict[PlayerId, float] = field(default_factory=dict)
    written_by_runners: int = 0
    exploitability: dict[str, float] = field(default_factory=dict)
    learner_stats: dict[PlayerId, dict[str, float]] = field(default_factory=dict)
    reference_evaluations: dict[str, PairCounts] = field(default_factory=dict)

    @property
    def reference_scores(self) -> dict[str, float]:
        """Main's score against each reference evaluated this iteration (those with games)."""
        return {name: counts.score for name, counts in self.reference_evaluations.items()
                if counts.score is not None}
