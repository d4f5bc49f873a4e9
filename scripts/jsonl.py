"""Shared by the scripts: print a result as one JSON line and optionally append it to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def emit(result: dict[str, Any], json_out: Path | None = None) -> None:
    """Print ``result`` as one JSON line; also append it to ``json_out`` when given."""
    line = json.dumps(result)
    print(line, flush=True)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        with open(json_out, "a") as handle:
            handle.write(line + "\n")
