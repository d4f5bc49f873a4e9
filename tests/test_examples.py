"""The worked example under examples/: a custom matchmaker selected from TOML changes who plays whom."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from league.cli import app
from league.ledger.embedded import EmbeddedRedis
from league.ledger.redis_ledger import RedisLedger
from league.run_dir import read_run_info

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "newest_snapshot.toml"

pytestmark = pytest.mark.usefixtures("ray_session")


def _run(config: Path, run_dir: Path) -> list:
    result = CliRunner().invoke(app, ["run", str(config), "--iterations", "3", "--run-dir", str(run_dir),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    info = read_run_info(run_dir)
    server = EmbeddedRedis(run_dir)
    ledger = RedisLedger(server.url, info.run_id)
    try:
        return list(ledger.iter_matches())
    finally:
        ledger.close()
        server.stop()


def test_example_matchmaker_from_toml_changes_who_plays_whom(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the import path in the TOML is relative to the repository root
    custom = _run(EXAMPLE, tmp_path / "custom")
    default_toml = tmp_path / "default.toml"
    default_toml.write_text("\n".join(line for line in EXAMPLE.read_text().splitlines()
                                      if not line.startswith("matchmaker")))
    default = _run(default_toml, tmp_path / "default")

    # Only the matchmaker's matches (anchor games of new snapshots vs scripted players have no learner).
    custom = [m for m in custom if m.learner is not None]
    default = [m for m in default if m.learner is not None]

    def pairs(matches, iteration):
        return Counter(frozenset(m.seats) for m in matches if m.iteration == iteration)

    # The example: self-play until main's first snapshot (after iteration 2), then only main_v1
    # (a few self-play episodes begun in iteration 2 finish early in iteration 3).
    assert set(pairs(custom, 1)) == set(pairs(custom, 2)) == {frozenset({"main"})}
    third = pairs(custom, 3)
    assert set(third) <= {frozenset({"main", "main_v1"}), frozenset({"main"})}
    assert third[frozenset({"main", "main_v1"})] >= 0.9 * sum(third.values())
    assert not any("random" in m.seats for m in custom)
    # AlphaStar's rules on the same league: PFSP puts the scripted random player in main's matches.
    random_games = sum("random" in m.seats for m in default)
    assert random_games > 0.2 * len(default)
    assert pairs(default, 1)[frozenset({"main"})] < 0.6 * sum(pairs(default, 1).values())
