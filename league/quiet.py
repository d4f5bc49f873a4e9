"""Third-party start-up noise: keeping TensorFlow's, absl's and Ray's notices off League's terminal.

RLlib imports TensorFlow whenever it is installed, in a torch league too, and
TensorFlow's native libraries then write to file descriptor 2 before anything
Python can configure: ``WARNING: All log messages before absl::InitializeLog()
is called are written to STDERR``, ``cudart_stub.cc ... Could not find cuda
drivers on your machine``, ``oneDNN custom operations are on`` (issue 22).
``TF_CPP_MIN_LOG_LEVEL`` silences only some of them (the absl-based stub
ignores it), so besides the usual log levels, :func:`filtered_stderr` holds
back what the native code writes while ``tensorflow`` is imported and writes
back every line that is not a known notice: real errors still show. Every
``league`` command does this (:func:`quiet_third_party`, an import hook, so a
command that never loads TensorFlow pays nothing), and so does every Ray
worker of ``league run`` (:func:`worker_setup`, a Ray ``worker_process_setup_hook``,
see :func:`league.rllib.runtime.ensure_ray`), whose output Ray forwards to the
driver's terminal. ``league run --verbose`` turns it all off (:func:`loud_third_party`).

Numerics are untouched: ``TF_ENABLE_ONEDNN_OPTS`` is left as it is (setting it
to 0 would change TensorFlow's results, not only its logs).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

#: Log levels set (unless the user set them) before TensorFlow or gRPC load: errors only.
LOG_LEVEL_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
#: Set in the environment by :func:`quiet_third_party`; Ray workers of this process then filter too.
QUIET_ENV = "LEAGUE_QUIET_THIRD_PARTY"
#: The Ray worker setup hook that filters a worker's start-up notices.
WORKER_SETUP_HOOK = "league.quiet.worker_setup"

_NOTICES = re.compile("|".join([
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR",
    # absl/glog INFO and WARNING lines of native code (I0000 00:00:1796.. 123 cudart_stub.cc:31] ...).
    r"(^|\s)[IW]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./-]+:\d+\] ",
    r"Could not find cuda drivers on your machine",
    r"oneDNN custom operations are on",
    r"This TensorFlow binary is optimized to use available CPU instructions",
    r"To enable the following instructions: .* rebuild TensorFlow",
    r"Unable to register cu(DNN|FFT|BLAS) factory",
    r"TF-TRT Warning: Could not find TensorRT",
    # Ray core, when RLlib creates env runner actors with max_restarts > 0 (League restarts them itself).
    r"has constructor arguments in the object store and max_restarts > 0",
]))


def is_notice(line: str) -> bool:
    """Whether ``line`` is a known third-party start-up notice (dropped unless ``--verbose``).

    Example:
        >>> is_notice("I0000 00:00:1796160250.957048   20188 cudart_stub.cc:31] Could not find cuda drivers")
        True
        >>> is_notice("ValueError: bad config")
        False
    """
    return _NOTICES.search(line) is not None


#: The environment variables :func:`quiet_third_party` set (and :func:`loud_third_party` takes back).
_SET: list[str] = []


def quiet_third_party() -> None:
    """Keep third-party start-up notices out of this process's stderr and that of the Ray workers it starts.

    Lowers the log levels (a level the user set in the environment is kept; local
    Ray workers inherit them) and filters the notices TensorFlow writes while it is
    imported (an import hook: nothing happens unless something imports it). Must run
    before TensorFlow is imported.
    """
    for name, value in {**LOG_LEVEL_ENV, QUIET_ENV: "1"}.items():
        if name not in os.environ:
            os.environ[name] = value
            _SET.append(name)
    if not any(isinstance(finder, _QuietImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())


def loud_third_party() -> None:
    """Undo :func:`quiet_third_party` (``--verbose``), before anything imported TensorFlow."""
    while _SET:
        os.environ.pop(_SET.pop(), None)
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, _QuietImport)]


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` as the usual finders do, and runs its import under :func:`filtered_stderr`."""

    def find_spec(self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None) -> Any:
        if fullname != "tensorflow":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _FilteredLoader(spec.loader)
        return spec


class _FilteredLoader(importlib.abc.Loader):
    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: Any) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        with filtered_stderr():
            self._loader.exec_module(module)
        absl_logging = sys.modules.get("absl.logging")
        if absl_logging is not None:  # absl's Python logger, which TensorFlow warns through: errors only
            absl_logging.set_verbosity(absl_logging.ERROR)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ... of the real loader
        return getattr(self._loader, name)


@contextlib.contextmanager
def filtered_stderr() -> Iterator[None]:
    """Hold back what is written to file descriptor 2 during the block; then write back all but notices.

    Native libraries write to the descriptor, not to ``sys.stderr``, so only a
    redirection of the descriptor catches them. The text goes to a temporary
    file (a pipe could fill and block the writer) and is written back, without
    the lines :func:`is_notice` recognises, when the block ends.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            text = held.read().decode(errors="replace")
            kept = [line for line in text.splitlines(keepends=True) if not is_notice(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


def worker_setup() -> None:
    """Ray ``worker_process_setup_hook``: the worker's import of TensorFlow (with RLlib) is filtered too,
    and so are RLlib's notices that it skipped that import in a torch league (:mod:`league.torch_only`)."""
    from league.torch_only import NO_TF_ENV, quiet_skipped_import

    quiet_third_party()
    if NO_TF_ENV in os.environ:
        quiet_skipped_import()
