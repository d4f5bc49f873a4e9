"""Keeping TensorFlow out of the processes of a torch league.

RLlib imports TensorFlow with ``ray.rllib`` whenever it is installed, in a torch
league too (``ray.rllib.utils.framework.try_import_tf``): on this 2-core machine
``import ray.rllib`` takes 7.5 s with TensorFlow installed and 3.3 s without it,
paid by the driver of every ``league run`` and by every Ray worker it starts.
RLlib has its own switch for this, the environment variable ``RLLIB_TEST_NO_TF_IMPORT``:
with it set, ``try_import_tf`` returns RLlib's stubs instead of importing TensorFlow.

:func:`skip_tensorflow` sets it for a process that is about to run torch players
and has not imported RLlib yet (local Ray workers inherit it;
:func:`league.rllib.runtime.ensure_ray` passes it to a joined cluster's), and drops
the notice RLlib logs each time it skips the import. A process that has imported
RLlib already (a test session, a notebook that ran a tf2 league) is left as it is,
so a tf2 player in the same process keeps working.
"""

from __future__ import annotations

import logging
import os
import sys

#: RLlib's switch: with it set, ``ray.rllib.utils.framework.try_import_tf`` does not import TensorFlow.
NO_TF_ENV = "RLLIB_TEST_NO_TF_IMPORT"

#: The logger of ``try_import_tf``, which warns "Not importing TensorFlow for test purposes" at each call.
_FRAMEWORK_LOGGER = "ray.rllib.utils.framework"


class _SkippedImportNotice(logging.Filter):
    """Drops RLlib's notices that it skipped importing TensorFlow (and TensorFlow Probability)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Not importing TensorFlow")


def skip_tensorflow(framework: str) -> bool:
    """Keep RLlib from importing TensorFlow in this process and its local Ray workers, for a torch league.

    Only takes effect where it is safe and useful: ``framework`` is ``"torch"``, neither RLlib
    nor TensorFlow is imported yet, and the switch is not already set.

    Returns:
        True if this call set the switch.

    Example:
        >>> skip_tensorflow("tf2")
        False
    """
    if framework != "torch" or NO_TF_ENV in os.environ or "ray.rllib" in sys.modules or "tensorflow" in sys.modules:
        return False
    os.environ[NO_TF_ENV] = "1"
    quiet_skipped_import()
    return True


def quiet_skipped_import() -> None:
    """Drop RLlib's "Not importing TensorFlow for test purposes" notices in this process (idempotent)."""
    logger = logging.getLogger(_FRAMEWORK_LOGGER)
    if not any(isinstance(f, _SkippedImportNotice) for f in logger.filters):
        logger.addFilter(_SkippedImportNotice())
