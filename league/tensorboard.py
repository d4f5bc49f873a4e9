"""TensorBoard scalars of a league run, one step per iteration, in ``<run-dir>/tensorboard``.

Written with tensorboardX; view them with ``tensorboard --logdir <run-dir>/tensorboard``.

Tags:
    * ``elo/<player>``, ``skill_mu/<player>``, ``skill_sigma/<player>``: every rated player on the roster;
    * ``win_rate/<learner>``: each learner's score in the matches chosen for it this iteration;
    * ``learner/<player>/<stat>``: each trainable player's learner statistics after its last update
      (``policy_loss``, ``vf_loss``, ``total_loss``, ``entropy``, ``lr``, ``entropy_coeff``,
      ``vf_explained_var``; ``kl`` and ``kl_coeff`` where the algorithm has a KL term: PPO, APPO with
      ``use_kl_loss``);
    * ``evaluation/score_vs_<opponent>``: main's evaluation score, when evaluated, against
      ``evaluation.opponent`` and each of ``evaluation.references``;
    * ``exploitability/<player>`` and ``exploitability/mixture``: exact exploitability, when measured
      (OpenSpiel games);
    * ``league/size``, ``league/snapshots``, ``league/resident``, ``league/matches``;
    * ``throughput/env_steps_per_s``;
    * ``time/sample_s``, ``time/learn_s``, ``time/league_s``, ``time/evaluation_s``, ``time/restore_s``;
    * ``faults/env_runner_restarts``, ``faults/env_restarts``, ``faults/ledger_retries`` (this iteration's).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from league.iteration import IterationReport

TENSORBOARD_DIR = "tensorboard"


class TensorBoardLog:
    """Writes each :class:`~league.iteration.IterationReport` as TensorBoard scalars.

    Args:
        run_dir: The run folder; events go to ``<run_dir>/tensorboard``.
        evaluation_opponent: Name of the scripted evaluation opponent (for the tag).
        purge_step: On resume, the first iteration played again: TensorBoard
            drops earlier-written events from that step on, so the curves show
            only the committed timeline.
    """

    def __init__(self, run_dir: Path, evaluation_opponent: str, *, purge_step: int | None = None) -> None:
        from tensorboardX import SummaryWriter

        self.log_dir = Path(run_dir) / TENSORBOARD_DIR
        self._opponent = evaluation_opponent
        self._writer = SummaryWriter(str(self.log_dir), purge_step=purge_step)

    def write(self, report: IterationReport) -> None:
        """Add one iteration's scalars (step = iteration) and flush them to disk."""
        step = report.iteration
        add = self._writer.add_scalar
        on_roster = {p.player_id for p in report.players} or set(report.ratings)
        for player, rating in sorted(report.ratings.items()):
            if player not in on_roster:  # pruned snapshots: their curves stop
                continue
            add(f"elo/{player}", rating.elo, step)
            add(f"skill_mu/{player}", rating.mu, step)
            add(f"skill_sigma/{player}", rating.sigma, step)
        for learner, score in sorted(report.learner_scores.items()):
            add(f"win_rate/{learner}", score, step)
        for player, stats in sorted(report.learner_stats.items()):
            for name, value in stats.items():
                add(f"learner/{player}/{name}", value, step)
        if report.evaluation is not None and report.evaluation.score is not None:
            add(f"evaluation/score_vs_{self._opponent}", report.evaluation.score, step)
        for name, score in report.reference_scores.items():
            add(f"evaluation/score_vs_{name}", score, step)
        for key, value in report.exploitability.items():
            add(f"exploitability/{key}", value, step)
        add("league/size", report.league_size, step)
        add("league/snapshots", report.snapshots, step)
        add("league/resident", len(report.resident), step)
        add("league/matches", report.matches_recorded, step)
        add("throughput/env_steps_per_s", report.env_steps_per_s, step)
        add("time/sample_s", report.sample_time_s, step)
        add("time/learn_s", report.learn_time_s, step)
        add("time/league_s", report.league_time_s, step)
        add("time/evaluation_s", report.evaluation_time_s, step)
        add("time/restore_s", report.restore_time_s, step)
        add("faults/env_runner_restarts", report.env_runner_restarts, step)
        add("faults/env_restarts", report.env_restarts, step)
        add("faults/ledger_retries", report.ledger_retries, step)
        self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._writer.close()
