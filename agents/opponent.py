"""Exported opponents: load a folder written by ``league export`` and play it anywhere.

Never imports Ray. The folder's ``opponent.json`` lists the sha256 of every
file; all of them are verified before anything is loaded, and a mismatch names
the file. The model runs on one of three backends (``backend="auto"`` takes the
first the export has, this Python can import and that loads, in this order):

* ``torchscript``: ``torchscript/model.pt`` (torch players), with torch;
* ``onnx``: ``onnx/model.onnx`` (torch players; tf2 players if tf2onnx was
  installed at export), with onnxruntime;
* ``savedmodel``: ``savedmodel/`` (tf2 players), a TensorFlow SavedModel run
  with ``tf.saved_model.load``: a graph of TensorFlow ops, no pickled code, no
  Keras or RLlib needed.

Every model file takes one input, ``obs``: the observation encoded as in
training (float32; one-hot for a ``Discrete`` observation) and the action mask,
flattened and concatenated in the order ``opponent.json`` gives under
``model_input.layout`` (RLlib's Dict flattening). They return masked logits:
illegal actions get probability 0.

Example:
    >>> from pettingzoo.classic import connect_four_v3  # doctest: +SKIP
    >>> bot = load_opponent("exports/main")              # doctest: +SKIP
    >>> env = connect_four_v3.env(); env.reset(seed=0)   # doctest: +SKIP
    >>> obs, *_ = env.last()                             # doctest: +SKIP
    >>> env.step(bot.act(obs["observation"], obs["action_mask"]))  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from league.errors import ExportCorrupt, UsageError

#: The manifest of an exported opponent.
OPPONENT_FILE = "opponent.json"
#: Model files inside an export folder, by backend (a SavedModel is a folder: its graph file marks it).
MODEL_FILES = {"torchscript": "torchscript/model.pt", "onnx": "onnx/model.onnx",
               "savedmodel": "savedmodel/saved_model.pb"}
#: The module each backend imports.
BACKEND_MODULES = {"torchscript": "torch", "onnx": "onnxruntime", "savedmodel": "tensorflow"}
#: Format version of ``opponent.json``.
OPPONENT_FORMAT = 1

_log = logging.getLogger(__name__)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_export(folder: Path) -> dict[str, Any]:
    """Read ``opponent.json`` and check every file it lists against its sha256.

    Raises:
        ExportCorrupt: naming the file that is missing, unlisted-but-required, or altered.
    """
    folder = Path(folder)
    manifest_path = folder / OPPONENT_FILE
    try:
        info = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{str(folder)!r} is not an exported opponent: {OPPONENT_FILE} not found "
                         "(make one with `league export`)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ExportCorrupt(f"{manifest_path}: not valid JSON ({e})") from e
    if not isinstance(info, dict) or info.get("format") != OPPONENT_FORMAT or not isinstance(info.get("files"), dict):
        raise ExportCorrupt(f"{manifest_path}: expected an opponent manifest with format {OPPONENT_FORMAT} "
                            "and a 'files' table")
    for name, expected in sorted(info["files"].items()):
        path = (folder / name).resolve()
        if folder.resolve() not in path.parents:
            raise ExportCorrupt(f"{manifest_path}: file entry {name!r} points outside the export folder")
        if not path.is_file():
            raise ExportCorrupt(f"{folder / name}: listed in {OPPONENT_FILE} but missing")
        actual = sha256_file(path)
        if actual != expected:
            raise ExportCorrupt(f"{folder / name}: sha256 {actual} does not match {expected} in "
                                f"{OPPONENT_FILE}; the file was altered")
    return info


def flatten_input(observations: np.ndarray, action_masks: np.ndarray, layout: Sequence[Sequence[Any]],
                  one_hot: int = 0) -> np.ndarray:
    """The model input for a batch: encoded observations and masks, flattened in ``layout`` order."""
    batch = len(observations)
    if one_hot:
        encoded = np.zeros((batch, one_hot), dtype=np.float32)
        encoded[np.arange(batch), np.asarray(observations, dtype=np.int64).reshape(batch)] = 1.0
    else:
        encoded = np.asarray(observations, dtype=np.float32).reshape(batch, -1)
    parts = {"observation": encoded, "action_mask": np.asarray(action_masks, dtype=np.float32).reshape(batch, -1)}
    return np.concatenate([parts[key] for key, _ in layout], axis=1).astype(np.float32)


def _softmax_masked(logits: np.ndarray, masks: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True)) * (np.asarray(masks) > 0)
    return shifted / shifted.sum(axis=1, keepdims=True)


class Opponent:
    """An exported League player that picks moves from PettingZoo observations.

    Attributes:
        info: The verified ``opponent.json``.
        backend: ``torchscript``, ``onnx`` or ``savedmodel``.
        num_actions: Size of the action space.
    """

    def __init__(self, info: dict[str, Any], run: Any, backend: str) -> None:
        self.info = info
        self.backend = backend
        self._run = run
        model_input = info["model_input"]
        self._layout = model_input["layout"]
        self._one_hot = int(model_input.get("one_hot", 0))
        self.num_actions = int(info["action_space"]["n"])

    @property
    def player_id(self) -> str:
        """The exported player's id in its league."""
        return str(self.info["player_id"])

    @property
    def game(self) -> str:
        """The registered game the opponent plays."""
        return str(self.info["game"])

    def action_probs_batch(self, observations: np.ndarray, action_masks: np.ndarray, *,
                           encoded: bool = False) -> np.ndarray:
        """Probabilities over all actions for a batch (rows sum to 1, zero on illegal actions).

        Args:
            observations: The game's own PettingZoo observations, or with ``encoded`` League's
                encoding of them (:class:`envs.encoding.ObservationEncoder`: a ``Discrete``
                observation already one-hot), as :mod:`league.arena` hands them to its actors.
            action_masks: The legal-action masks.
            encoded: Whether ``observations`` are already encoded.
        """
        observations = np.asarray(observations)
        masks = np.asarray(action_masks, dtype=np.float32).reshape(len(observations), self.num_actions)
        if not (masks > 0).any(axis=1).all():
            raise ValueError("no legal action: an action mask is all zeros")
        logits = self._run(flatten_input(observations, masks, self._layout, 0 if encoded else self._one_hot))
        return _softmax_masked(logits, masks)

    def action_probs(self, observation: Any, action_mask: Any = None) -> np.ndarray:
        """Probability of every action (zero on illegal ones) for one observation.

        Args:
            observation: The game's own PettingZoo observation for this agent
                (Connect Four: the ``(6, 7, 2)`` array; rock-paper-scissors: the integer).
            action_mask: The legal-action mask (None: every action is legal).
        """
        mask = np.ones(self.num_actions, dtype=np.float32) if action_mask is None else action_mask
        return self.action_probs_batch(np.asarray(observation)[None], np.asarray(mask)[None])[0]

    def act(self, observation: Any, action_mask: Any = None, *, explore: bool = False,
            rng: np.random.Generator | None = None) -> int:
        """A move: the most probable legal action, or a sample when ``explore`` (with ``rng``)."""
        probs = self.action_probs(observation, action_mask)
        if not explore:
            return int(probs.argmax())
        return int((rng or np.random.default_rng()).choice(len(probs), p=probs))

    def act_batch(self, observations: np.ndarray, action_masks: np.ndarray) -> np.ndarray:
        """Greedy moves for a batch (the evaluation loops' actor interface)."""
        return self.action_probs_batch(observations, action_masks).argmax(axis=1)


def _torchscript_runner(path: Path) -> Any:
    import torch

    module = torch.jit.load(str(path), map_location="cpu")
    module.eval()

    def run(flat: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return module(torch.from_numpy(flat)).numpy()
    return run


def _onnx_runner(path: Path) -> Any:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]

    def run(flat: np.ndarray) -> np.ndarray:
        feeds = {"obs": flat}
        if "state_ins" in names:  # RLlib's export adds a dummy recurrent-state input
            feeds["state_ins"] = np.zeros(len(flat), dtype=np.float32)
        return session.run(["output"], feeds)[0]
    return run


def _savedmodel_runner(path: Path) -> Any:
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def run(flat: np.ndarray) -> np.ndarray:
        return serve(obs=tf.constant(flat))["output"].numpy()
    return run


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # a module set to None in sys.modules (how tests hide one) has no spec
        return False


def load_opponent(path: str | Path, *, backend: str = "auto") -> Opponent:
    """Load an exported opponent after verifying every file's checksum.

    Args:
        path: A folder written by ``league export``.
        backend: ``auto`` (the first of TorchScript, ONNX, SavedModel that the
            export has and whose runtime is importable; one that does not load
            is skipped, with a warning, for the next), ``torchscript``, ``onnx``
            or ``savedmodel``.

    Raises:
        UsageError: if ``path`` is not an export, lacks the requested model, or no model of it loads.
        ExportCorrupt: naming the file whose checksum does not match.
    """
    folder = Path(path)
    info = verify_export(folder)
    available = [b for b, name in MODEL_FILES.items() if name in info["files"]]
    if backend == "auto":
        if not available:
            raise UsageError(f"{str(folder)!r} holds no model to run (exported formats: {info.get('formats')}); "
                             "export one with `league export --format all`")
        choices = [b for b in available if _importable(BACKEND_MODULES[b])]
        if not choices:
            needs = " or ".join(f"{BACKEND_MODULES[b]} (for its {b} model)" for b in available)
            raise UsageError(f"{str(folder)!r} has no model this Python can run: install {needs}")
        failures: list[str] = []
        for choice in choices:  # a model that does not load falls back to the next format the export has
            try:
                run = _runner(folder, choice)
            except UsageError as e:
                failures.append(str(e))
                continue
            if failures:
                _log.warning("%s; using its %s model instead", "; ".join(failures), choice)
            return Opponent(info, run, choice)
        raise UsageError("; ".join(failures))
    if backend not in MODEL_FILES:
        raise UsageError(f"unknown backend {backend!r}: expected auto, {', '.join(MODEL_FILES)}")
    if backend not in available:
        raise UsageError(f"{str(folder)!r} has no {backend} model (exported formats: {available})")
    return Opponent(info, _runner(folder, backend), backend)


def _runner(folder: Path, backend: str) -> Any:
    """The model function of ``backend``'s model in ``folder``.

    Raises:
        UsageError: if the model file does not load (its checksum matched, so it was exported broken
            or replaced together with ``opponent.json``).
    """
    model_path = folder / MODEL_FILES[backend]
    try:
        if backend == "savedmodel":
            return _savedmodel_runner(model_path.parent)  # the SavedModel is the folder
        if backend == "onnx":
            return _onnx_runner(model_path)
        return _torchscript_runner(model_path)
    except Exception as e:  # noqa: BLE001 - each runtime raises its own error types for a file it cannot read
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(f"the {backend} model {str(model_path)!r} does not load ({detail}); "
                         "export the agent again with `league export`") from None
