"""``league export``: write a player of a run as files that load and play outside the league."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from league.cli.errors import reports_errors


class ExportFormat(str, enum.Enum):
    """What ``league export`` writes."""

    ALL = "all"
    RLLIB = "rllib"
    TORCHSCRIPT = "torchscript"
    SAVEDMODEL = "savedmodel"
    ONNX = "onnx"


@reports_errors
def export(
    player_id: Annotated[str, typer.Argument(help="A trainable player or snapshot of the run.")],
    run_dir: Annotated[Path, typer.Option(envvar="LEAGUE_RUN_DIR", help="The run's folder.")],
    out: Annotated[Path, typer.Option(help="Folder to write the export to.")],
    format: Annotated[ExportFormat, typer.Option(
        "--format", help="Which format to write; all: every format of the player's framework (torch: rllib, "
        "torchscript, onnx; tf2: rllib, savedmodel, and onnx if tf2onnx is installed).")] = ExportFormat.ALL,
    opset: Annotated[int, typer.Option(min=7, help="ONNX opset version.")] = 17,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a League export at --out (never other files or the run folder).")] = False,
) -> None:
    """Export a player: RLlib checkpoint, TorchScript or SavedModel and ONNX models, weights and opponent.json."""
    from league.export import export_player

    formats = None if format is ExportFormat.ALL else (format.value,)
    info = export_player(run_dir, player_id, out, formats=formats, opset=opset, overwrite=overwrite)
    Console().print(f"exported {info['player_id']!r} ({info['role']}, iteration {info['iteration']}, "
                    f"{info['game']}) to {out}: {', '.join(sorted(info['files']))}")
