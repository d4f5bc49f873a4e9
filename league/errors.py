"""The exception hierarchy of League.

Every error a user can trigger is a :class:`LeagueError`. Messages say what was
wrong, the actual value, and the valid options or the next step. The CLI catches
:class:`LeagueError` once: usage errors (:class:`UsageError` and its subclasses)
exit with code 2, runtime failures with code 1, always with a one-line message
instead of a traceback.
"""

from __future__ import annotations


class LeagueError(Exception):
    """Base class of every error League raises on purpose."""

    #: Process exit code the CLI uses for this error.
    exit_code: int = 1


class UsageError(LeagueError):
    """The user asked for something invalid (bad flag, config value, name)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration value is invalid; the message names the field."""


class UnknownGameError(UsageError):
    """A game name is not in the env registry; the message lists the valid ones."""


class InvalidIdError(UsageError):
    """An id (player, snapshot, run) is not allowed, e.g. it would escape a folder."""


class RunDirError(UsageError):
    """The run folder is missing, holds another run, or is not a League run."""


class RegistryError(LeagueError):
    """A registry refused an operation (for example a silent overwrite)."""


class LedgerUnavailable(LeagueError):
    """The Redis match ledger cannot be reached; the message names the URL."""


class LedgerAuthError(LedgerUnavailable, UsageError):
    """The Redis ledger needs a password that was not given, or refused the one given (a usage error)."""

    exit_code = 2


class SnapshotError(LeagueError):
    """A snapshot cannot be stored or loaded; the message names the snapshot."""


class SnapshotNotFound(SnapshotError):
    """No snapshot with that id is in the store."""


class SnapshotCorrupt(SnapshotError):
    """A stored snapshot failed verification (checksum, manifest or format); it is marked unusable."""


class SnapshotStoreUnavailable(SnapshotError):
    """The snapshot store (local folder or S3) cannot be reached or written; the message names the URI."""


class SnapshotExists(SnapshotError):
    """A snapshot id is already in the store, and a store never overwrites a snapshot unasked."""


class ExportCorrupt(LeagueError):
    """An exported opponent's file does not match its checksum in ``opponent.json``; the message names the file."""


class CheckpointCorrupt(LeagueError):
    """A league checkpoint is missing a file, fails its checksum or does not parse."""
