"""Player ids have one owner: what League allocates and what an outside player may take (issue 20, hole 3)."""

from __future__ import annotations

import re

import pytest

from agents.heuristics import CHOOSERS
from league.errors import UsageError
from league.player_ids import (
    OUTSIDE_ID_RULE,
    TRAINABLE_PREFIXES,
    allocate_snapshot_id,
    check_outside_id,
    mirror_id,
    snapshot_id,
)
from league.roles import ROLE_PREFIX
from league.types import PlayerId

TRAINABLE = ["main", "main_exploiter", "league_exploiter"]
TAKEN = {"main", "main_exploiter", "league_exploiter", "random", "main_v1", "main_v2", "ext_main"}


def _check(candidate: str) -> PlayerId:
    return check_outside_id(candidate, trainable=TRAINABLE, scripted=CHOOSERS, taken=TAKEN)


@pytest.mark.parametrize("candidate, why", [
    ("main", "is a trainable player's id"),
    ("main_v3", "is main's snapshot id"),            # not taken yet: main's next snapshot would overwrite it
    ("main_exploiter_v12", "is main_exploiter's snapshot id"),
    ("main_2", "id of League's trainable roles"),   # a role id League would give a second main
    ("main-mirror", "is a mirror id"),
    ("someone-mirror", "is a mirror id"),
    ("random", "is a scripted player's id"),
    ("heuristic", "is a scripted player's id"),     # scripted even where this run does not use it
    ("ext_main", "is already in the league"),
])
def test_ids_league_allocates_or_holds_are_refused_naming_the_rule(candidate, why):
    with pytest.raises(UsageError) as caught:
        _check(candidate)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"player id {candidate!r} ") and why in message
    assert OUTSIDE_ID_RULE in message and "<trainable>_v<K>" in message and "-mirror" in message


@pytest.mark.parametrize("candidate", ["", " ", "  main", "a b", "../x", "ext/main", "-x", "x" * 129])
def test_empty_blank_and_unsafe_ids_are_refused_not_replaced_by_a_default(candidate):
    with pytest.raises(UsageError, match=re.escape(f"invalid player id {candidate!r}: expected 1-128")):
        _check(candidate)


@pytest.mark.parametrize("candidate", ["ext_main_v1", "alice", "main_v1x", "mainline", "bot-3"])
def test_other_ids_are_accepted(candidate):
    assert _check(candidate) == candidate


def test_snapshot_allocation_skips_ids_in_use_and_never_goes_back():
    taken = {"main_v3", "main_v4"}
    assert allocate_snapshot_id(PlayerId("main"), 2, taken.__contains__) == ("main_v5", 5)
    assert allocate_snapshot_id(PlayerId("main"), 0, taken.__contains__) == ("main_v1", 1)
    assert snapshot_id(PlayerId("main_2"), 7) == "main_2_v7" and mirror_id(PlayerId("main")) == "main-mirror"


def test_the_reserved_role_prefixes_are_the_roles_own():
    assert set(TRAINABLE_PREFIXES) == set(ROLE_PREFIX.values())
