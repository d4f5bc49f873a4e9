"""Snapshot retention: which frozen snapshots a run keeps (pure, no I/O).

Only snapshots are ever pruned: trainable players and scripted players stay.
A snapshot is kept if it is among the ``keep_last`` newest or the ``keep_top``
best by Elo; every other snapshot is pruned. Unrated snapshots rank below
every rated one. Pruning removes a snapshot from the store and from the
ledger's roster; its past matches stay in the ledger, so payoff and ratings
history are unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from league.ratings import Rating
from league.types import PlayerId, PlayerRecord, Role


def prunable(players: Sequence[PlayerRecord], ratings: Mapping[PlayerId, Rating], *,
             keep_last: int | None, keep_top: int | None) -> list[PlayerId]:
    """Snapshots that ``keep_last`` / ``keep_top`` do not keep, oldest first.

    Args:
        players: The roster in join order (oldest first).
        ratings: Current ratings (for ``keep_top``).
        keep_last: Keep the newest N snapshots (None: 0 when ``keep_top`` is set).
        keep_top: Keep the K best snapshots by Elo (None: 0 when ``keep_last`` is set).

    Returns:
        Ids to prune; empty if neither rule is set.

    Example:
        >>> roster = [PlayerRecord(PlayerId(f"main_v{i}"), Role.SNAPSHOT, PlayerId("main"), i) for i in (1, 2, 3)]
        >>> prunable(roster, {PlayerId("main_v1"): Rating(1400, 25, 8, 10)}, keep_last=1, keep_top=1)
        ['main_v2']
    """
    if keep_last is None and keep_top is None:
        return []
    snapshots = [p.player_id for p in players if p.role is Role.SNAPSHOT]
    keep = set(snapshots[len(snapshots) - (keep_last or 0):]) if keep_last else set()
    if keep_top:
        by_elo = sorted(snapshots, key=lambda pid: (pid not in ratings, -(ratings[pid].elo if pid in ratings else 0)))
        keep.update(by_elo[:keep_top])
    return [pid for pid in snapshots if pid not in keep]
