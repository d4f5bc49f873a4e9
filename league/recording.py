"""The drain-and-record and rate steps: match results into the ledger, ratings out of it.

After sampling, every runner's buffered output is drained; runners wrote
their own match records, and the driver writes what they could not
(:func:`drain_and_record`). The ratings then fold in the ledger's matches they
have not seen, in recording order, and are stored back with the cursor
(:class:`Rater`). Counts always come from the ledger itself: a write whose
reply was lost and retried returns 0 new, and a match is never counted twice.
"""

from __future__ import annotations

from league.errors import LedgerUnavailable
from league.ledger.base import Ledger
from league.ratings import Rating, RatingBook
from league.standing import Standing
from league.trainer import RunnerOutput, Trainer
from league.types import PlayerId


def checked_position(ledger: Ledger, standing: Standing, run_id: str) -> int:
    """The ledger's match count, refusing a ledger that lost matches this run already consumed.

    Raises:
        LedgerUnavailable: if the ledger holds fewer matches than were already rated (a Redis
            restarted without its data: enable AOF persistence).
    """
    count = ledger.match_count()
    if count < standing.rated:
        raise LedgerUnavailable(
            f"the Redis ledger holds {count} matches of run {run_id!r} but this run already consumed "
            f"{standing.rated}: the server lost data (restarted without persistence?). Run Redis with "
            "appendonly yes, then `league run --resume` from a checkpoint that matches its data")
    return count


def drain_and_record(trainer: Trainer, ledger: Ledger, standing: Standing, run_id: str) -> tuple[RunnerOutput, int]:
    """Drain the samplers, write the records they could not, and count the iteration's matches.

    Returns the drained output and the matches the ledger gained since the ratings' cursor.
    """
    output = trainer.drain()
    standing.counters.env_restarts += output.env_restarts
    standing.counters.runner_ledger_retries += output.ledger_retries
    ledger.record(output.matches)
    episodes = checked_position(ledger, standing, run_id) - standing.rated
    standing.total_episodes += episodes
    return output, episodes


class Rater:
    """Keeps the run's ratings up to date with its ledger.

    Args:
        book: The rating book, already holding every match before ``standing.rated``.
        ledger: The run's ledger.
        run_id: The run's id, for messages.
    """

    def __init__(self, book: RatingBook, ledger: Ledger, run_id: str) -> None:
        self.book = book
        self._ledger = ledger
        self._run_id = run_id

    def ratings(self) -> dict[PlayerId, Rating]:
        """The ratings as of the last :meth:`update`."""
        return self.book.ratings()

    def update(self, standing: Standing) -> dict[PlayerId, Rating]:
        """Fold the ledger's unrated matches into the ratings and store them back, with the cursor."""
        checked_position(self._ledger, standing, self._run_id)
        new = 0
        for match in self._ledger.iter_matches(start=standing.rated):
            self.book.update(match)
            new += 1
        standing.rated += new
        ratings = self.book.ratings()
        self._ledger.save_ratings(ratings, standing.rated)
        return ratings
