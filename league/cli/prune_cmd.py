"""``league prune``: remove old snapshots of a stopped run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from league.cli.errors import reports_errors
from league.errors import UsageError


@reports_errors
def prune(
    run_dir: Annotated[Path, typer.Option(envvar="LEAGUE_RUN_DIR", help="The run's folder.")],
    keep_last: Annotated[int | None, typer.Option(min=0, help="Keep the newest N snapshots.")] = None,
    keep_top: Annotated[int | None, typer.Option(min=0, help="Also keep the K best snapshots by Elo.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Only list what would be removed.")] = False,
) -> None:
    """Remove snapshots from the store and the ledger's roster (never trainable or scripted players).

    For a run that is still training, set `snapshots.keep_last` / `keep_top` in its
    config instead: the run then prunes itself after each snapshot.
    """
    if keep_last is None and keep_top is None:
        raise UsageError("give --keep-last N, --keep-top K or both (a snapshot is kept if either rule keeps it)")
    from league.offline import prune_run

    pruned = prune_run(run_dir, keep_last=keep_last, keep_top=keep_top, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    Console().print(f"{verb} {len(pruned)} snapshot(s)" + (f": {', '.join(pruned)}" if pruned else ""))
