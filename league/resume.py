"""What a resume may roll back: the check that keeps ``league run --resume`` from destroying a run.

A resume rolls the ledger and the snapshot store back to the newest checkpoint
that verifies. That is right only for work done *after* that checkpoint was
committed: the iterations since the last checkpoint (at most
``checkpoint_every`` of them, the one in flight included). If the newest
checkpoints are gone (deleted, or set aside as corrupt), the same rollback
would throw away committed iterations: their matches, their snapshots, the
trainable players' progress.

The ledger knows how far the run committed: ``progress["checkpoint"]``, the
iteration of the newest checkpoint written (recorded right after it is on
disk), and ``progress["iteration"]``, the last iteration committed (a run made
before ``checkpoint`` was recorded still has this one: iteration ``P`` could
only start once the checkpoint due at or before ``P - 1`` was written). A resume
whose checkpoint is older than that is refused, with nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class ResumeRefusal:
    """Why a resume would destroy committed work.

    Attributes:
        required: The oldest checkpoint iteration the ledger's record allows resuming from.
        available: The newest checkpoint that verifies (None: no checkpoint at all).
        committed_iteration: The last iteration the ledger says was committed.
        matches: Matches the ledger holds.
        snapshots: Snapshots the store holds.
    """

    required: int
    available: int | None
    committed_iteration: int
    matches: int
    snapshots: int

    def message(self, run_dir: str) -> str:
        """One line: what was found, that nothing changed, and the two ways on."""
        found = ("no checkpoint that verifies" if self.available is None
                 else f"the newest checkpoint that verifies is iteration {self.available}")
        return (f"refusing to resume {run_dir!r}: the ledger says the run committed iteration "
                f"{self.committed_iteration} with checkpoint iteration {self.required}, but {found} "
                f"(the ledger holds {self.matches} matches, the store {self.snapshots} snapshots); resuming would "
                "roll committed work back. Nothing was changed. Restore the missing checkpoint under "
                f"{run_dir}/checkpoints (damaged ones are kept as .corrupt-iter-*), or start the run over "
                f"with `league run --resume --from-scratch --run-dir {run_dir}`")


def required_checkpoint(progress: Mapping[str, int], checkpoint_every: int) -> int:
    """The oldest checkpoint iteration a resume may start from, by the ledger's progress record.

    >>> required_checkpoint({"iteration": 7, "checkpoint": 6}, checkpoint_every=3)
    6
    >>> required_checkpoint({"iteration": 7}, checkpoint_every=3)  # a run from before ``checkpoint``
    6
    >>> required_checkpoint({"iteration": 0}, checkpoint_every=1)
    0
    """
    iteration = int(progress.get("iteration", 0))
    due_before = ((iteration - 1) // checkpoint_every) * checkpoint_every if iteration >= 1 else 0
    return max(int(progress.get("checkpoint", 0)), due_before)


def refuse_resume(*, checkpoint_iteration: int | None, progress: Mapping[str, int], checkpoint_every: int,
                  matches: int, snapshots: int) -> ResumeRefusal | None:
    """A :class:`ResumeRefusal` if resuming from ``checkpoint_iteration`` would roll committed work back, else None.

    Args:
        checkpoint_iteration: The newest checkpoint that verifies (None: none at all).
        progress: The ledger's progress record.
        checkpoint_every: The run's ``checkpoint_every``.
        matches: Matches the ledger holds.
        snapshots: Snapshots the store holds.

    >>> refuse_resume(checkpoint_iteration=2, progress={"iteration": 3, "checkpoint": 2}, checkpoint_every=1,
    ...               matches=90, snapshots=3) is None
    True
    >>> refuse_resume(checkpoint_iteration=None, progress={"iteration": 2, "checkpoint": 2}, checkpoint_every=1,
    ...               matches=128, snapshots=4).required
    2
    """
    required = required_checkpoint(progress, checkpoint_every)
    committed = int(progress.get("iteration", 0))
    if checkpoint_iteration is None:
        # The first checkpoint (iteration 0) is written before any match: with none, any match or
        # snapshot of the run is work that no checkpoint explains.
        if matches or snapshots or committed:
            return ResumeRefusal(required, None, committed, matches, snapshots)
        return None
    if checkpoint_iteration < required:
        return ResumeRefusal(required, checkpoint_iteration, committed, matches, snapshots)
    return None
