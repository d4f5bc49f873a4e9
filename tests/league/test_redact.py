"""Redis passwords are never written or printed, and come back from the flag or the environment (issue 20)."""

from __future__ import annotations

import json
import stat

import pytest
from typer.testing import CliRunner

from league.cli import app
from league.errors import LedgerAuthError, UsageError
from league.ledger.redis_ledger import connect
from league.redact import redact_url, resolve_redis_url
from league.run_dir import RUN_FILE, RunInfo, read_run_info
from tests.conftest import RedisProcess

runner = CliRunner()
#: A loopback port nothing listens on.
UNREACHABLE = "redis://:s3cr3t-pw@127.0.0.1:1/0"


@pytest.mark.parametrize(("url", "redacted"), [
    ("redis://:s3cr3t-pw@host/0", "redis://:***@host/0"),
    ("redis://user:s3cr3t-pw@host", "redis://user:***@host"),
    ("rediss://user:s3cr3t-pw@host:6380/1?ssl_cert_reqs=none", "rediss://user:***@host:6380/1?ssl_cert_reqs=none"),
    ("unix:///tmp/r.sock?password=s3cr3t-pw&db=2", "unix:///tmp/r.sock?password=***&db=2"),
    ("redis://host:6379/0", "redis://host:6379/0"),
])
def test_redact_url_hides_the_password_in_every_form(url, redacted):
    assert redact_url(url) == redacted
    assert "s3cr3t-pw" not in redact_url(url)


def test_resolve_takes_the_password_from_the_flag_then_league_redis_url_then_redis_password():
    stored = "redis://:***@host:6379/0"
    assert resolve_redis_url(stored, "redis://:flag@host:6379/0", {"REDIS_PASSWORD": "env"}) == \
        "redis://:flag@host:6379/0"
    assert resolve_redis_url(stored, None, {"LEAGUE_REDIS_URL": "redis://:url@host:6379/0",
                                            "REDIS_PASSWORD": "env"}) == "redis://:url@host:6379/0"
    # LEAGUE_REDIS_URL of another server is not this run's: REDIS_PASSWORD is used.
    assert resolve_redis_url(stored, None, {"LEAGUE_REDIS_URL": "redis://:url@other:6379/0",
                                            "REDIS_PASSWORD": "env"}) == "redis://:env@host:6379/0"
    assert resolve_redis_url(stored, None, {}) == "redis://host:6379/0"  # the server then says it needs one
    assert resolve_redis_url(None, None, {"REDIS_PASSWORD": "env"}) is None  # embedded Redis
    with pytest.raises(UsageError, match=r"--redis-url 'redis://:\*\*\*@other:6379/0' is not this run's Redis "
                                         r"'redis://:\*\*\*@host:6379/0'"):
        resolve_redis_url(stored, "redis://:flag@other:6379/0", {})


def test_run_json_is_written_0600_with_the_password_redacted_in_every_field(tmp_path):
    RunInfo("run-x", "tictactoe", UNREACHABLE, 1.0, {"redis_url": UNREACHABLE, "game": "tictactoe"}).write(tmp_path)
    path = tmp_path / RUN_FILE
    text = path.read_text()
    assert "s3cr3t-pw" not in text
    data = json.loads(text)
    assert data["redis_url"] == data["config"]["redis_url"] == "redis://:***@127.0.0.1:1/0"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [RUN_FILE]  # no temp file left


def test_an_unreachable_redis_error_never_prints_the_password(tmp_path):
    result = runner.invoke(app, ["run", "--game", "tictactoe", "--redis-url", UNREACHABLE,
                                 "--run-dir", str(tmp_path / "run")], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert "error: Redis ledger at 'redis://:***@127.0.0.1:1/0' is unreachable" in result.output
    assert "s3cr3t-pw" not in result.output and "Traceback" not in result.output


def test_resume_takes_the_password_from_redis_url_and_never_prints_or_writes_it(tmp_path):
    RunInfo("run-x", "tictactoe", UNREACHABLE, 1.0, {"game": "tictactoe", "redis_url": UNREACHABLE}).write(tmp_path)
    assert read_run_info(tmp_path).redis_url == "redis://:***@127.0.0.1:1/0"
    # The same flag gives the password back; the run's server is unreachable, which the error says without it.
    resumed = runner.invoke(app, ["run", "--resume", "--run-dir", str(tmp_path), "--redis-url", UNREACHABLE],
                            env={"COLUMNS": "300"})
    assert resumed.exit_code == 1, resumed.output
    assert "Redis ledger at 'redis://:***@127.0.0.1:1/0' is unreachable" in resumed.output
    other = runner.invoke(app, ["run", "--resume", "--run-dir", str(tmp_path),
                                "--redis-url", "redis://:s3cr3t-pw@127.0.0.1:2/0"], env={"COLUMNS": "300"})
    assert other.exit_code == 2
    assert "is not this run's Redis 'redis://:***@127.0.0.1:1/0'" in other.output
    for output in (resumed.output, other.output, (tmp_path / RUN_FILE).read_text()):
        assert "s3cr3t-pw" not in output and "Traceback" not in output


def test_status_on_a_redacted_url_takes_the_password_from_the_flag_or_the_environment(tmp_path):
    server = RedisProcess(tmp_path / "redis", password="s3cr3t-pw")
    server.start()
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        RunInfo("run-x", "tictactoe", server.url, 1.0, {"game": "tictactoe", "redis_url": server.url}).write(run_dir)
        assert "s3cr3t-pw" not in (run_dir / RUN_FILE).read_text()
        redacted = f"redis://:***@127.0.0.1:{server.port}/0"

        refused = runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"], env={
            "COLUMNS": "300", "LEAGUE_REDIS_URL": "", "REDIS_PASSWORD": ""})
        assert refused.exit_code == 2, refused.output
        lines = refused.output.strip().splitlines()
        assert len(lines) == 1
        assert f"Redis ledger at 'redis://127.0.0.1:{server.port}/0' needs a password: pass --redis-url with the " \
               "password or set LEAGUE_REDIS_URL (the full URL) or REDIS_PASSWORD" in lines[0]

        wrong = runner.invoke(app, ["status", "--run-dir", str(run_dir), "--redis-url",
                                    f"redis://:wrong-pw@127.0.0.1:{server.port}/0"], env={"COLUMNS": "300"})
        assert wrong.exit_code == 2 and f"'{redacted}' refused the password" in wrong.output
        assert "wrong-pw" not in wrong.output

        by_flag = runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json", "--redis-url", server.url])
        by_url_env = runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"],
                                   env={"LEAGUE_REDIS_URL": server.url})
        by_password_env = runner.invoke(app, ["status", "--run-dir", str(run_dir), "--json"],
                                        env={"REDIS_PASSWORD": "s3cr3t-pw"})
        for result in (by_flag, by_url_env, by_password_env):
            assert result.exit_code == 0, result.output
            assert json.loads(result.output)["run_id"] == "run-x"
            assert "s3cr3t-pw" not in result.output
        with pytest.raises(LedgerAuthError):
            connect(f"redis://127.0.0.1:{server.port}/0")
    finally:
        server.kill()
