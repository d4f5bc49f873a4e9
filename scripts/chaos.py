"""Chaos benchmark: one league run with every fault League claims to survive, injected at seeded moments.

The run is a real ``league run`` (tic-tac-toe, one remote env runner, snapshots
in S3 on a moto server on 127.0.0.1, the ledger in the embedded Redis or a
loopback ``redis-server``), driven as a user would: started, resumed after
every death. While it runs, this script injects ``--faults`` faults, drawn with
``--seed`` from these kinds (each kind at least once when ``--faults`` allows):

* ``runner_kill``: SIGKILL the remote env runner (RLlib restarts it);
* ``env_raise``: the next env step anywhere raises (the sub-env is rebuilt, its episode dropped);
* ``env_hang``: the next env step stalls for ``HANG_S`` seconds (waited out);
* ``driver_kill:<point>``: the driver SIGKILLs itself at a named kill point
  (:mod:`league.faults`) of the next iteration, then ``--resume``;
* ``redis_restart``: SIGKILL the ledger's ``redis-server`` and start it again on
  the same files (the ledger's retries wait it out);
* ``s3_down``: the S3 endpoint is down for ``S3_DOWN_S`` seconds (a run that
  stops on it is resumed);
* ``snapshot_corrupt`` / ``snapshot_delete``: damage or delete a stored snapshot
  (marked unusable, left out of matchmaking);
* ``second_driver``: a second ``league run --resume`` on the same folder (refused).

A Ctrl-C (SIGINT) ends each segment that a driver kill replaces, so clean stops
are exercised as well. After the last fault the run is resumed to a clean end,
then checked: every committed iteration's matches in the ledger exactly once
(0 lost, 0 double counted), stored ratings equal to a refit of the ledger, and
no process of the run left behind. Prints a table and one JSON line.

Examples:

    python scripts/chaos.py --faults 30 --seed 0
    python scripts/chaos.py --faults 13 --seed 1 --ledger external
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

GAME = "chaos_tictactoe"
HANG_S = 8.0
S3_DOWN_S = 6.0
BUCKET = "chaos"
DRIVER_POINTS = ("sampling", "training", "ledger_write", "snapshot_upload", "checkpoint_write")
KINDS = ("runner_kill", "env_raise", "env_hang", *(f"driver_kill:{p}" for p in DRIVER_POINTS), "redis_restart",
         "s3_down", "snapshot_corrupt", "snapshot_delete", "second_driver")
TAG = "LEAGUE_CHAOS_TAG"
CONTROL_ENV = "LEAGUE_CHAOS_CONTROL"

CONFIG = """
game = "{game}"
iterations = 100000
seed = {seed}
checkpoint_every = 1
tensorboard = false
{redis}

[training]
train_batch_size = 300
minibatch_size = 100
num_epochs = 1
hiddens = [32]

[resources]
num_env_runners = 1
num_envs_per_env_runner = 4

[roster]
scripted = ["random"]

[snapshots]
uri = "s3://{bucket}/run"
endpoint_url = "{endpoint}"
max_iterations_per_snapshot = 1
min_games = 1000000000

[ratings]
anchor_games = 2

[evaluation]
games = 4
every = 5

[ledger]
retry_timeout_s = 120.0
write_batch = 8
"""


# -- the game the run plays: tic-tac-toe that raises or stalls when told to ------------------------


def chaos_tictactoe(**config):
    """Tic-tac-toe whose ``step`` raises once when ``<control>/raise`` exists, stalls once for ``<control>/hang``.

    Whichever process steps first claims the order by renaming the file (atomic), so each order
    fires exactly once. Without ``LEAGUE_CHAOS_CONTROL`` it is plain tic-tac-toe.
    """
    from pettingzoo.classic import tictactoe_v3

    env = tictactoe_v3.env(**config)
    control = os.environ.get(CONTROL_ENV)
    if not control:
        return env
    step = env.step

    def claim(name: str) -> bool:
        try:
            os.rename(os.path.join(control, name), os.path.join(control, f"{name}.{os.getpid()}.fired"))
            return True
        except OSError:
            return False

    def chaos_step(action):
        if action is not None:
            if claim("raise"):
                raise RuntimeError("chaos: injected env failure")
            if claim("hang"):
                time.sleep(HANG_S)
        return step(action)

    env.step = chaos_step
    return env


def _register_game() -> None:
    import envs
    from envs.registry import GameSpec

    envs.register(GameSpec(GAME, "tictactoe_v3", chaos_tictactoe, True, "tic-tac-toe with injected faults"),
                  overwrite=True)


def _drive(args: list[str]) -> int:
    """The driver process: register the chaos game, then run League's CLI with ``args``."""
    _register_game()
    from league.cli import main

    sys.argv = ["league", *args]
    try:
        main()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


# -- services on loopback ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3:
    """moto's S3 server on 127.0.0.1, which can go down and come back on the same port with its data."""

    def __init__(self) -> None:
        import logging

        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)

        os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                           "AWS_DEFAULT_REGION": "us-east-1"})
        self._cls = ThreadedMotoServer
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = None
        self.up()
        self.client().create_bucket(Bucket=BUCKET)

    def up(self) -> None:
        self._server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def down(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)


class ExternalRedis:
    """A loopback ``redis-server`` with an fsynced append-only log (as League asks of an external Redis)."""

    def __init__(self, data_dir: Path) -> None:
        from league.ledger.embedded import find_server_binary

        self.binary = find_server_binary().path
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        import redis

        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
             "--appendonly", "yes", "--appendfsync", "always", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def restart(self) -> None:
        self.stop(kill=True)
        self.start()

    def stop(self, kill: bool = False) -> None:
        if self.process is not None:
            (self.process.kill if kill else self.process.terminate)()
            self.process.wait()
            self.process = None


def restart_embedded(run_dir: Path) -> None:
    """SIGKILL the run's embedded ``redis-server`` and start it again on the same config, socket and files.

    The replacement is started as League would (its config file is the original's), but by this
    script, which stops it when the driver that used it is gone (:func:`stop_orphan_embedded`).
    """
    entry = json.loads((run_dir / "ledger" / "server.json").read_text())
    pid = int(entry["pid"])
    os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).wait(timeout=10)
    conf = Path(entry["socket"]).parent / "redis.conf"
    replacement = subprocess.Popen([entry["binary"], str(conf)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, start_new_session=True)
    _REPLACEMENTS.append(replacement)


_REPLACEMENTS: list[subprocess.Popen] = []


def stop_orphan_embedded() -> None:
    """Stop the embedded servers this script started again once their driver has ended."""
    for process in _REPLACEMENTS:
        if process.poll() is None:
            process.kill()
            process.wait()
    _REPLACEMENTS.clear()


# -- the run, segment by segment ----------------------------------------------------------------------


@dataclass
class Driver:
    """One ``league run`` process and the lines it printed."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def alive(self) -> bool:
        return self.process.poll() is None


class Run:
    """The chaos run: its folder, services, the current driver and what happened."""

    def __init__(self, work: Path, seed: int, ledger: str) -> None:
        self.work = work
        self.run_dir = work / "run"
        self.control = work / "control"
        self.control.mkdir(parents=True)
        self.tag = uuid.uuid4().hex
        self.s3 = S3()
        self.external = ExternalRedis(work / "redis") if ledger == "external" else None
        redis_line = f'redis_url = "{self.external.url}"' if self.external else ""
        self.config = work / "chaos.toml"
        self.config.write_text(CONFIG.format(game=GAME, seed=seed, redis=redis_line, bucket=BUCKET,
                                             endpoint=self.s3.endpoint))
        self.driver: Driver | None = None
        self.started = False
        self.segments = 0

    def env(self, kill_at: str | None = None) -> dict[str, str]:
        # RLLIB_TEST_NO_TF_IMPORT: RLlib's own switch to skip importing TensorFlow, which a torch league
        # never uses; it saves about 25 s of each of the run's many driver starts.
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200", TAG: self.tag,
               CONTROL_ENV: str(self.control), "RLLIB_TEST_NO_TF_IMPORT": "1"}
        env.pop("LEAGUE_KILL_AT", None)
        if kill_at:
            env["LEAGUE_KILL_AT"] = kill_at
        return env

    def start(self, *, kill_at: str | None = None, iterations: int | None = None) -> Driver:
        args = ["run", "--run-dir", str(self.run_dir), "--quiet"]
        args += ["--resume"] if self.started else [str(self.config)]
        # A kill point fires in the process that reaches it: with a remote env runner, "sampling" and
        # runner-side "ledger_write" would kill the runner, not the driver. A driver-kill segment
        # therefore samples in the driver (--num-env-runners may change on resume); the others use one
        # remote runner, which runner_kill needs.
        if self.started:
            args += ["--num-env-runners", "0" if kill_at else "1"]
        if iterations is not None:
            args += ["--iterations", str(iterations)]
        process = subprocess.Popen([sys.executable, __file__, "_drive", *args], env=self.env(kill_at),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.started = True
        self.segments += 1
        self.driver = Driver(process)
        return self.driver

    def committed(self) -> int:
        """The newest checkpoint's iteration (read from the folder names; no Redis needed)."""
        folders = sorted((self.run_dir / "checkpoints").glob("iter-*")) if self.run_dir.exists() else []
        return int(folders[-1].name.split("-")[1]) if folders else 0

    def wait_progress(self, beyond: int, timeout: float = 300.0) -> bool:
        """Wait until a checkpoint past ``beyond`` exists; False if the driver died or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.committed() > beyond:
                return True
            if self.driver is None or not self.driver.alive():
                return False
            time.sleep(0.2)
        return False

    def ensure_running(self) -> str:
        """Start (or resume) a driver if none runs; returns what was done."""
        if self.driver is not None and self.driver.alive():
            return ""
        code = None if self.driver is None else self.driver.process.returncode
        stop_orphan_embedded()
        self.start()
        return "" if code is None else f"driver exited {code}; resumed"

    def stop(self, sig: int = signal.SIGINT, timeout: float = 180.0) -> int | None:
        """Stop the current driver (Ctrl-C by default) and wait for it."""
        if self.driver is None:
            return None
        if self.driver.alive():
            self.driver.process.send_signal(sig)
            try:
                self.driver.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.driver.process.kill()
                self.driver.process.wait()
        stop_orphan_embedded()
        return self.driver.process.returncode

    def runner_pids(self) -> list[int]:
        """The live remote env runners of the current driver (not a previous segment's, on their way out)."""
        if self.driver is None or not self.driver.alive():
            return []
        found = []
        try:
            tree = psutil.Process(self.driver.process.pid).children(recursive=True)
        except psutil.Error:
            return []
        for process in tree:
            try:
                text = " ".join(process.cmdline())
                if "ray::" in text and ("RolloutWorker" in text or "EnvRunner" in text) \
                        and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process.pid)
            except psutil.Error:
                continue
        return found

    def stored_snapshots(self) -> list[str]:
        client = self.s3.client()
        keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="run/")
                for o in page.get("Contents", [])]
        return sorted({k.split("/")[1] for k in keys if k.count("/") >= 2 and not k.split("/")[1].startswith(".")})

    def leftovers(self) -> list[str]:
        words = ("redis-server", "valkey-server", "raylet", "gcs_server", "ray::", "agent.py")
        found = []
        for process in psutil.process_iter(["pid", "cmdline"]):
            try:
                text = " ".join(process.info["cmdline"] or [])
                if any(w in text for w in words) and process.status() != psutil.STATUS_ZOMBIE \
                        and process.environ().get(TAG) == self.tag:
                    found.append(f"{process.info['pid']} {text[:80]}")
            except psutil.Error:
                continue
        return found

    def close(self) -> None:
        self.stop(signal.SIGKILL)
        stop_orphan_embedded()
        if self.external is not None:
            self.external.stop()
        self.s3.down()


# -- faults -------------------------------------------------------------------------------------------


def schedule(faults: int, rng: np.random.Generator) -> list[str]:
    """``faults`` kinds: every kind once (shuffled) while ``faults`` allows, then drawn at random."""
    first = [KINDS[i] for i in rng.permutation(len(KINDS))][:faults]
    rest = [KINDS[i] for i in rng.integers(0, len(KINDS), size=max(0, faults - len(KINDS)))]
    return first + rest


def inject(run: Run, kind: str, rng: np.random.Generator) -> tuple[bool, str]:
    """Inject one fault into the running league; returns (survived, what happened)."""
    before = run.committed()
    if kind.startswith("driver_kill:"):
        point = kind.split(":", 1)[1]
        stopped = run.stop(signal.SIGINT)
        at = run.committed() + 1
        driver = run.start(kill_at=f"{point}@{at}")
        driver.process.wait(timeout=600)
        code = driver.process.returncode
        stop_orphan_embedded()
        committed = run.committed()
        # 130: League's exit code for a Ctrl-C (128 + SIGINT), after its clean stop.
        ok = code == -signal.SIGKILL and committed == at - 1 and stopped in (0, 130, None)
        return ok, f"Ctrl-C exit {stopped}; SIGKILL at {point}@{at}: exit {code}, committed {committed}"
    time.sleep(float(rng.uniform(0.0, 2.0)))  # a seeded moment inside the iteration under way
    if kind == "runner_kill":
        pids = run.runner_pids()
        if not pids:
            return False, "no env runner process found"
        os.kill(pids[0], signal.SIGKILL)
        detail = f"SIGKILL env runner {pids[0]}"
    elif kind in ("env_raise", "env_hang"):
        (run.control / kind.split("_")[1]).write_text("")
        detail = "order placed"
    elif kind == "redis_restart":
        if run.external is not None:
            run.external.restart()
            detail = "external redis-server SIGKILLed and started again"
        else:
            restart_embedded(run.run_dir)
            detail = "embedded redis-server SIGKILLed and started again"
    elif kind == "s3_down":
        run.s3.down()
        time.sleep(S3_DOWN_S)
        run.s3.up()
        detail = f"S3 down {S3_DOWN_S:.0f} s"
    elif kind in ("snapshot_corrupt", "snapshot_delete"):
        stored = run.stored_snapshots()
        if not stored:
            return False, "no snapshot stored yet"
        victim = stored[int(rng.integers(0, len(stored)))]
        client = run.s3.client()
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=f"run/{victim}/").get("Contents", [])]
        if kind == "snapshot_delete":
            for key in keys:
                client.delete_object(Bucket=BUCKET, Key=key)
            detail = f"deleted {victim}"
        else:
            weights = [k for k in keys if k.endswith(".safetensors")] or keys
            body = bytearray(client.get_object(Bucket=BUCKET, Key=weights[0])["Body"].read())
            body[len(body) // 2] ^= 0xFF
            client.put_object(Bucket=BUCKET, Key=weights[0], Body=bytes(body))
            detail = f"flipped a byte of {weights[0]}"
    elif kind == "second_driver":
        second = subprocess.run([sys.executable, __file__, "_drive", "run", "--resume", "--run-dir",
                                 str(run.run_dir), "--quiet"], env=run.env(), capture_output=True, text=True,
                                timeout=300)
        refused = second.returncode == 2 and "in use" in (second.stdout + second.stderr)
        if not refused:
            return False, f"second driver exit {second.returncode}: {(second.stdout + second.stderr)[-300:]}"
        detail = "second driver refused (exit 2, in use)"
    else:
        raise ValueError(kind)
    # RLlib restarts a dead runner at the start of the next training step: give it two iterations.
    progressed = run.wait_progress(before + (1 if kind == "runner_kill" else 0))
    if not progressed:
        how = run.ensure_running()
        progressed = run.wait_progress(before)
        detail += f"; {how}" if how else ""
    return progressed, detail + ("" if progressed else f"; no progress past iteration {before}")


# -- the check ----------------------------------------------------------------------------------------


def check(run: Run) -> dict:
    """Ledger against the checkpoint: matches lost, double counted, ratings = a refit of the ledger."""
    from league.checkpoint import latest_checkpoint
    from league.offline import open_ledger, run_config
    from league.ratings import compute_ratings
    from league.run_dir import read_run_info

    _register_game()  # the run's stored config names it
    state = latest_checkpoint(run.run_dir).state
    with open_ledger(run.run_dir) as (_info, ledger):
        progress = ledger.progress()
        matches = list(ledger.iter_matches())
        stored, rated = ledger.ratings()
        unusable = ledger.unusable()
    expected = {h.iteration: h.matches + h.anchor_matches for h in state.history}
    per_iteration = Counter(m.iteration for m in matches)
    lost = sum(max(0, n - per_iteration.get(i, 0)) for i, n in expected.items())
    double = (len(matches) - len({m.match_id for m in matches})) + sum(
        max(0, n - expected.get(i, 0)) for i, n in per_iteration.items())
    config = run_config(read_run_info(run.run_dir))
    refit = compute_ratings(matches, **config.ratings.book_kwargs())
    ratings_equal = stored.keys() == refit.keys() and all(
        abs(stored[p].elo - r.elo) < 1e-6 and abs(stored[p].mu - r.mu) < 1e-6 and stored[p].games == r.games
        for p, r in refit.items())
    return {"iteration": state.iteration, "matches": len(matches), "rated": rated, "lost": lost,
            "double_counted": double, "ratings_equal_refit": ratings_equal,
            "episodes_match": progress["episodes"] == sum(h.matches for h in state.history),
            "env_runner_restarts": progress["env_runner_restarts"], "env_restarts": progress["env_restarts"],
            "ledger_retries": progress["ledger_retries"], "resumes": progress["resumes"],
            "unusable": sorted(unusable)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_drive":
        sys.exit(_drive(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", type=int, default=30, help="faults to inject (default 30)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the schedule, the moments and the run")
    parser.add_argument("--ledger", choices=("embedded", "external"), default="embedded",
                        help="the run's ledger: the embedded Redis or a loopback redis-server (default embedded)")
    parser.add_argument("--minutes", type=float, default=40.0, help="stop injecting after this long (default 40)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temp folder, removed)")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    rng = np.random.default_rng(args.seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="league-chaos-"))
    run = Run(work, args.seed, args.ledger)
    console = Console()
    rows: list[tuple[int, str, bool, str, float]] = []
    started = time.monotonic()
    try:
        run.start()
        if not run.wait_progress(0, timeout=600):
            raise SystemExit(f"the run did not reach iteration 1: {run.driver.lines[-20:] if run.driver else ''}")
        for number, kind in enumerate(schedule(args.faults, rng), start=1):
            if time.monotonic() - started > args.minutes * 60:
                break
            how = run.ensure_running()
            if how:
                run.wait_progress(run.committed())
            t0 = time.monotonic()
            survived, detail = inject(run, kind, rng)
            rows.append((number, kind, survived, detail, time.monotonic() - t0))
            print(f"fault {number:2d} {kind:28s} {'survived' if survived else 'FAILED':8s} {detail}", flush=True)
        # A clean end: resume to two iterations past the last commit.
        run.stop(signal.SIGINT)
        final = run.start(iterations=run.committed() + 2)
        final.process.wait(timeout=900)
        stop_orphan_embedded()
        clean_exit = final.process.returncode
        time.sleep(2)
        leftovers = run.leftovers()
        result = check(run)
    finally:
        run.close()
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)

    table = Table(title=f"chaos: {len(rows)} faults, seed {args.seed}, ledger {args.ledger}")
    for column in ("#", "fault", "survived", "what happened", "s"):
        table.add_column(column)
    for number, kind, survived, detail, seconds in rows:
        table.add_row(str(number), kind, "yes" if survived else "NO", detail, f"{seconds:.0f}")
    console.print(table)
    summary = {
        "benchmark": "chaos", "seed": args.seed, "ledger": args.ledger, "faults": len(rows),
        "survived": sum(r[2] for r in rows), "kinds": dict(Counter(r[1] for r in rows)),
        "failed": [f"{r[0]}:{r[1]}: {r[3]}" for r in rows if not r[2]], "segments": run.segments,
        "final_exit": clean_exit, "leftover_processes": leftovers,
        "minutes": round((time.monotonic() - started) / 60, 1),
        **result,
    }
    ok = (summary["survived"] == summary["faults"] and clean_exit == 0 and result["lost"] == 0
          and result["double_counted"] == 0 and result["ratings_equal_refit"] and not leftovers)
    summary["ok"] = ok
    print(json.dumps(summary))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
