"""Reading a run's state back from its folder and its Redis ledger."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from league.offline import open_ledger, run_config, snapshot_uri
from league.types import PairCounts, PlayerId, Role


def latest_evaluation(evaluations: Sequence[tuple[int, str, PairCounts]],
                      order: Sequence[str] = ()) -> dict[str, Any] | None:
    """Main's results at the latest evaluated iteration: ``iteration`` and ``opponents``.

    ``opponents`` maps each scripted player evaluated at that iteration to its
    ``wins``, ``draws``, ``losses`` and ``score``, those in ``order`` first (the run's
    ``evaluation.opponent`` and references), then the rest by name; None when no
    evaluation is stored.
    """
    if not evaluations:
        return None
    last = max(iteration for iteration, _, _ in evaluations)
    latest = {opponent: c for iteration, opponent, c in evaluations if iteration == last}
    rank = {name: k for k, name in enumerate(order)}
    return {"iteration": last, "opponents": {
        opponent: {"wins": c.wins, "draws": c.draws, "losses": c.losses, "score": c.score}
        for opponent, c in sorted(latest.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0]))}}


def vs_scripted(payoff: Mapping[tuple[PlayerId, PlayerId], PairCounts], player: PlayerId,
                scripted: Sequence[PlayerId]) -> dict[str, float | None]:
    """``player``'s score against each of the ``scripted`` players but itself (None: they never met)."""
    return {opponent: payoff[(player, opponent)].score if (player, opponent) in payoff else None
            for opponent in scripted if opponent != player}


def read_status(run_dir: Path, *, redis_url: str | None = None) -> dict[str, Any]:
    """The run's roster and counts, as JSON-ready data.

    ``redis_url``: the run's Redis URL with its password, when ``run.json``
    keeps it redacted (see :func:`league.offline.open_ledger`).

    Keys: ``run_id``, ``game``, ``iteration``, ``env_steps``, ``episodes``,
    ``matches``, ``snapshots``, ``snapshot_uri``, ``ledger_server`` (``embedded`` or ``external``
    and the server's name, version and executable), ``max_resident_opponents``,
    ``resident_policies`` (how many players were RLlib policies at the last
    iteration: trainable players plus resident frozen ones), ``resident`` (their
    ids), ``trainable_players``, ``unusable`` (snapshot id -> why it failed
    verification), ``players`` (each ``id``, ``role``,
    ``trainable``, ``games``, ``parent``, ``created_iteration``, ``elo``, ``mu``,
    ``sigma``; ordered by Elo, best first), ``matches_rated``, ``payoff`` (one
    entry per ordered pair that met: ``player``, ``opponent``, ``wins``,
    ``draws``, ``losses``, ``score``), ``evaluations``, ``win_rate_vs_random``
    (the latest evaluation's score against ``random``), ``latest_evaluation`` (the
    latest evaluated iteration: ``iteration`` and ``opponents``, each opponent
    evaluated then -> ``wins``, ``draws``, ``losses``, ``score``; None before the first)
    and ``exploitability`` (each measure: ``iteration`` and the value per trainable
    player and ``mixture``; OpenSpiel runs with ``evaluation.exploitability_every``).
    Each player also has ``vs_scripted``: its score against each scripted player on
    the roster, from the payoff (None where the pair never met).
    """
    with open_ledger(run_dir, redis_url=redis_url) as (info, ledger):
        games = ledger.games_played()
        players = ledger.players()
        progress = ledger.progress()
        evaluations = ledger.evaluations()
        exploitability = ledger.exploitability()
        matches = ledger.match_count()
        ratings, rated = ledger.ratings()
        payoff = ledger.payoff_counts()
        resident = ledger.resident()
        unusable = ledger.unusable()
        server = ledger.server()
    config = run_config(info)
    vs_random = [c for _, opponent, c in evaluations if opponent == "random"]
    scripted = [p.player_id for p in players if p.role is Role.SCRIPTED]
    unrated = float("-inf")
    ordered = sorted(players, key=lambda p: -(ratings[p.player_id].elo if p.player_id in ratings else unrated))
    return {
        "run_id": info.run_id,
        "game": info.game,
        **progress,
        "matches": matches,
        "snapshots": sum(1 for p in players if p.role is Role.SNAPSHOT),
        "snapshot_uri": snapshot_uri(info, run_dir),
        "ledger_server": ("embedded " if info.redis_url is None else "external ") + server,
        "max_resident_opponents": config.snapshots.max_resident_opponents,
        "resident_policies": len(resident),
        "resident": resident,
        "trainable_players": sum(1 for p in players if p.trainable),
        "unusable": unusable,
        "players": [
            {"id": p.player_id, "role": p.role.value, "trainable": p.trainable,
             "games": games.get(p.player_id, 0), "parent": p.parent,
             "created_iteration": p.created_iteration,
             **({"elo": ratings[p.player_id].elo, "mu": ratings[p.player_id].mu,
                 "sigma": ratings[p.player_id].sigma} if p.player_id in ratings
                else {"elo": None, "mu": None, "sigma": None}),
             "vs_scripted": vs_scripted(payoff, p.player_id, scripted)}
            for p in ordered
        ],
        "matches_rated": rated,
        "payoff": [
            {"player": a, "opponent": b, "wins": c.wins, "draws": c.draws, "losses": c.losses,
             "score": c.score}
            for (a, b), c in sorted(payoff.items())
        ],
        "evaluations": [
            {"iteration": it, "opponent": opponent, "wins": c.wins, "draws": c.draws,
             "losses": c.losses, "score": c.score}
            for it, opponent, c in evaluations
        ],
        "win_rate_vs_random": vs_random[-1].score if vs_random else None,
        "latest_evaluation": latest_evaluation(evaluations, config.evaluation.opponents),
        "exploitability": [{"iteration": it, **values} for it, values in exploitability],
    }
