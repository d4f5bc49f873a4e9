"""Keeping RLlib's msgpack-numpy patch from leaking into Ray's serialisation.

RLlib reads and writes its msgpack checkpoints (``Policy.export_checkpoint(...,
checkpoint_format="msgpack")``, ``Policy.from_checkpoint``) through
``ray.rllib.utils.checkpoints.try_import_msgpack``, which calls
``msgpack_numpy.patch()``: that replaces ``msgpack.packb``, ``msgpack.Packer`` and the
rest for the whole process, and nothing undoes it. Ray serialises task and actor
arguments through the same ``msgpack`` module, so after one export every numpy array
the process sends to a Ray worker arrives as msgpack-numpy's ``{b"nd": True, ...}``
dict: a remote env runner's ``set_weights`` then fails, and RLlib restarts the runner
after ``delay_between_env_runner_restarts_s`` (60 s).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

#: The ``msgpack`` attributes ``msgpack_numpy.patch()`` replaces.
PATCHED_NAMES = ("Packer", "Unpacker", "load", "loads", "dump", "dumps", "pack", "packb", "unpack", "unpackb")


@contextlib.contextmanager
def msgpack_left_unpatched() -> Iterator[None]:
    """Run the block, then put back every ``msgpack`` attribute it replaced (msgpack-numpy's patch).

    Inside the block the patch works as RLlib expects; after it, ``msgpack`` is the module Ray's
    serialiser was written against again.

    Example:
        >>> import msgpack, msgpack_numpy
        >>> packb = msgpack.packb
        >>> with msgpack_left_unpatched():
        ...     msgpack_numpy.patch()
        ...     msgpack.packb is packb
        False
        >>> msgpack.packb is packb
        True
    """
    import msgpack

    saved = {name: getattr(msgpack, name) for name in PATCHED_NAMES}
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(msgpack, name, value)
