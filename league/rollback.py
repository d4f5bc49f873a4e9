"""What a resume undoes: a pure function from a checkpoint and what the ledger and store hold now.

A resumed run goes back to its last checkpoint. :func:`plan_rollback` works
out, without touching anything, what that takes (:class:`Rollback`); the
league loop applies it (:func:`apply_rollback`):

* matches recorded after the checkpoint's ledger position are taken back
  (their iterations are played again and count once);
* snapshots this run froze after the checkpoint leave the ledger's roster and
  the store (they are frozen again when their iterations are replayed);
* a snapshot on the checkpoint's roster that the store lacks either left it
  through ``league prune`` (it is off the ledger's roster too: it leaves the
  roster) or was deleted behind League's back (still on the ledger's roster:
  it stays, marked unusable with a warning);
* outside players (``league add-opponent``) stay; anything the store holds
  that no roster lists is an orphan of a crash and is deleted.

Example:
    >>> from league.types import PlayerRecord, Role
    >>> main = PlayerRecord(PlayerId("main"), Role.MAIN)
    >>> v1 = PlayerRecord(PlayerId("main_v1"), Role.SNAPSHOT, PlayerId("main"), 2)
    >>> v2 = PlayerRecord(PlayerId("main_v2"), Role.SNAPSHOT, PlayerId("main"), 4)  # frozen after the checkpoint
    >>> plan = plan_rollback([main, v1], ledger_position=10, in_store={"main_v1", "main_v2"},
    ...                      on_ledger=[main, v1, v2])
    >>> plan.remove_from_ledger, plan.orphans, plan.truncate_to
    (('main_v2',), ('main_v2',), 10)
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from league.errors import RunDirError
from league.ledger.base import Ledger
from league.snapshots.base import SnapshotStore
from league.types import PlayerId, PlayerRecord, Role

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rollback:
    """What a resume changes to go back to a checkpoint.

    Attributes:
        truncate_to: The ledger keeps this many matches (the checkpoint's position).
        roster: The roster the resumed run continues with.
        deleted: Snapshots kept on the roster though the store lacks them, each with
            the reason to mark it unusable.
        remove_from_ledger: Players to take off the ledger's roster.
        orphans: Store entries no roster lists, to delete.
    """

    truncate_to: int
    roster: tuple[PlayerRecord, ...]
    deleted: tuple[tuple[PlayerId, str], ...]
    remove_from_ledger: tuple[PlayerId, ...]
    orphans: tuple[PlayerId, ...]


def plan_rollback(roster: Sequence[PlayerRecord], *, ledger_position: int, in_store: Collection[str],
                  on_ledger: Sequence[PlayerRecord], snapshot_uri: str = "the snapshot store",
                  iteration: int = 0) -> Rollback:
    """What resuming from a checkpoint with ``roster`` at ``ledger_position`` undoes.

    Args:
        roster: The checkpoint's roster.
        ledger_position: The matches the checkpoint consumed.
        in_store: The snapshot ids the store holds now.
        on_ledger: The ledger's roster now.
        snapshot_uri: The store's URI, for the messages.
        iteration: The checkpoint's iteration, for the messages.

    Raises:
        RunDirError: if the checkpoint lists snapshots and the store holds none of them (the wrong
            store: endpoint, prefix or folder); nothing should change then.
    """
    stored = set(in_store)
    listed = [p.player_id for p in roster if p.role is Role.SNAPSHOT]
    if listed and not stored & set(listed):
        raise RunDirError(
            f"none of the {len(listed)} snapshots of checkpoint iteration {iteration} is in the "
            f"snapshot store {snapshot_uri!r}: is that the run's store (endpoint, prefix, folder)? "
            "Nothing was changed")
    ledger_ids = {p.player_id for p in on_ledger}
    deleted = sorted(p.player_id for p in roster
                     if p.role is Role.SNAPSHOT and p.player_id not in stored and p.player_id in ledger_ids)
    reasons = tuple((player, f"snapshot {player!r} is missing from the snapshot store {snapshot_uri!r} "
                             "(deleted outside League); it stays on the roster but is never played")
                    for player in deleted)
    kept_roster = tuple(p for p in roster
                        if p.role is not Role.SNAPSHOT or p.player_id in stored or p.player_id in deleted)
    kept = {p.player_id for p in kept_roster}
    trainable = {p.player_id for p in kept_roster if p.trainable}
    remove = tuple(entry.player_id for entry in on_ledger
                   if entry.player_id not in kept and (entry.parent in trainable or entry.player_id not in stored))
    listed_after = (ledger_ids - set(remove)) | kept
    orphans = tuple(sorted(PlayerId(p) for p in stored - listed_after))
    return Rollback(truncate_to=ledger_position, roster=kept_roster, deleted=reasons,
                    remove_from_ledger=remove, orphans=orphans)


def apply_rollback(rollback: Rollback, *, ledger: Ledger, store: SnapshotStore) -> None:
    """Make the ledger's roster and the store match a :func:`plan_rollback` (the matches are truncated first).

    The roster's players are saved to the ledger between the removals and the
    orphans' deletion, so a crash part-way leaves nothing the next resume
    cannot redo.
    """
    for player, reason in rollback.deleted:
        _log.warning("%s", reason)
        ledger.mark_unusable(player, reason)
    for player in rollback.remove_from_ledger:
        ledger.remove_player(player)
    for record in rollback.roster:
        ledger.save_player(record)
    for orphan in rollback.orphans:
        store.delete(orphan)
