"""Player ids: the one owner of which ids League allocates and which an outside player may take.

League allocates these ids itself (issue 20, hole 3):

* trainable players: a role's prefix, the n-th one (n >= 2) with ``_n``
  (``main``, ``main_exploiter_2``; see :data:`league.roles.ROLE_PREFIX`);
* snapshots: ``<trainable>_v<K>`` (``main_v3``), a version never given twice
  and never over a store entry (:func:`allocate_snapshot_id`);
* mirrors: ``<trainable>-mirror``, the RLlib policy a trainable opponent plays
  through (:func:`mirror_id`);
* scripted players: their chooser's name (``random``, ``heuristic``).

An outside player (``league add-opponent --id``) may take none of them, nor
an id already on the roster or in the snapshot store
(:func:`check_outside_id`). Pure logic: no Ray, Redis or torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet

from league.errors import InvalidIdError, UsageError
from league.types import ID_RULE, PlayerId, validate_id

#: The suffix of a trainable player's mirror policy id.
MIRROR_SUFFIX = "-mirror"
#: Id prefixes of the trainable roles (the values of :data:`league.roles.ROLE_PREFIX`).
TRAINABLE_PREFIXES = ("main", "main_exploiter", "league_exploiter")
#: Ids of a trainable role, optionally numbered, optionally a snapshot of one.
_ROLE_ID = re.compile(rf"^(?:{'|'.join(TRAINABLE_PREFIXES)})(?:_\d+)?(?:_v\d+)?$")

#: The rule an outside player's id must follow, as the error states it.
OUTSIDE_ID_RULE = (
    f"{ID_RULE}, not on the roster or in the "
    "snapshot store, and none of the ids League allocates itself: trainable players "
    f"({', '.join(TRAINABLE_PREFIXES)}, optionally _<n>), snapshots (<trainable>_v<K>), mirrors "
    f"(<id>{MIRROR_SUFFIX}) or scripted players"
)


def snapshot_id(parent: PlayerId, version: int) -> PlayerId:
    """The id of ``parent``'s ``version``-th snapshot.

    Example:
        >>> snapshot_id(PlayerId("main"), 3)
        'main_v3'
    """
    return PlayerId(f"{parent}_v{version}")


def mirror_id(player: PlayerId) -> str:
    """The policy id under which a trainable ``player`` plays matches it does not learn from.

    Example:
        >>> mirror_id(PlayerId("main"))
        'main-mirror'
    """
    return f"{player}{MIRROR_SUFFIX}"


def allocate_snapshot_id(parent: PlayerId, last_version: int,
                         taken: Callable[[PlayerId], bool]) -> tuple[PlayerId, int]:
    """The id and version of ``parent``'s next snapshot: above ``last_version`` and not ``taken``.

    Versions only grow (a pruned snapshot's id is never given again), and an id
    already in use (on the roster, in the store) is skipped, never overwritten.

    Args:
        parent: The trainable player being frozen.
        last_version: The highest version already given to ``parent``'s snapshots.
        taken: Whether an id is in use.

    Example:
        >>> allocate_snapshot_id(PlayerId("main"), 2, lambda pid: pid == "main_v3")
        ('main_v4', 4)
    """
    version = last_version + 1
    while taken(snapshot_id(parent, version)):
        version += 1
    return snapshot_id(parent, version), version


def reserved_reason(candidate: str, *, trainable: Iterable[str], scripted: Iterable[str]) -> str | None:
    """Why League keeps ``candidate`` for itself (a phrase), or None if an outside player may have it.

    Example:
        >>> reserved_reason("main_v3", trainable=["main"], scripted=["random"])
        "is main's snapshot id (<trainable>_v<K>)"
        >>> reserved_reason("ext_main", trainable=["main"], scripted=["random"]) is None
        True
    """
    trainable = list(trainable)
    if candidate.endswith(MIRROR_SUFFIX):
        return f"is a mirror id (<id>{MIRROR_SUFFIX})"
    if candidate in set(scripted):
        return "is a scripted player's id"
    if candidate in trainable:
        return "is a trainable player's id"
    for parent in trainable:
        if re.fullmatch(rf"{re.escape(parent)}_v\d+", candidate):
            return f"is {parent}'s snapshot id (<trainable>_v<K>)"
    if _ROLE_ID.match(candidate):
        return "is an id of League's trainable roles or their snapshots"
    return None


def check_outside_id(candidate: str, *, trainable: Iterable[str], scripted: Iterable[str],
                     taken: AbstractSet[str]) -> PlayerId:
    """Return ``candidate`` if an outside player may join under it, else raise naming the rule.

    Args:
        candidate: The id asked for (``league add-opponent --id``, or its default).
        trainable: The league's trainable player ids.
        scripted: Every scripted player name League knows.
        taken: Ids already on the roster or in the snapshot store.

    Raises:
        UsageError: if the id is invalid, reserved or taken; one line stating :data:`OUTSIDE_ID_RULE`.
    """
    try:
        validate_id(candidate, kind="player id")
    except InvalidIdError:
        raise InvalidIdError(f"invalid player id {candidate!r}: expected {OUTSIDE_ID_RULE}") from None
    reason = reserved_reason(candidate, trainable=trainable, scripted=scripted)
    if reason is None and candidate in taken:
        reason = "is already in the league"
    if reason is not None:
        raise UsageError(f"player id {candidate!r} {reason}; pass --id with another name: an outside "
                         f"player's id must be {OUTSIDE_ID_RULE}")
    return PlayerId(candidate)
