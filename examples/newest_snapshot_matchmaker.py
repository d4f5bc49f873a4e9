"""A worked example of a custom League matchmaker: everyone trains against main's newest snapshot.

AlphaStar's rules spread matches over the whole league. This matchmaker does
the opposite, the classic "play your latest self" schedule: every learner
plays main's most recent snapshot, and plays itself until main has one.
Scripted players stay in the league and keep their ratings, but nobody is
scheduled against them.

Use it from TOML (run from the folder that holds ``examples/``)::

    [matchmaking]
    matchmaker = "examples.newest_snapshot_matchmaker:NewestSnapshotMatchmaker"

or see ``examples/newest_snapshot.toml``::

    league run examples/newest_snapshot.toml
"""

from __future__ import annotations

from league import Matchmaker
from league.matchmaking import LeagueView, OpponentWeights, PlayerView
from league.types import Role


class NewestSnapshotMatchmaker(Matchmaker):
    """Every learner plays main's newest snapshot (self-play until one exists)."""

    def opponents(self, learner: PlayerView, league: LeagueView) -> OpponentWeights:
        """All weight on the newest snapshot of a main agent."""
        mains = set(league.with_role(Role.MAIN))
        snapshots = [p.player_id for p in league.players if p.role is Role.SNAPSHOT and p.parent in mains]
        return {snapshots[-1] if snapshots else learner.player_id: 1.0}
