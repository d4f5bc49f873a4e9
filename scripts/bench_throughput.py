"""Throughput of League against plain RLlib, and against the raw game (the sampling ceiling).

Modes (each prints a table and one JSON line):

* ``ab``: League (main and its snapshots; ledger, mapping, callbacks, checkpoints,
  TensorBoard all on) against plain RLlib self-play, same game, algorithm, settings,
  model and env runners, both on RLlib's sampler, in one process, iterations alternating A/B; reports env
  steps/s of each over whole iterations (League: ``LeagueManager.step``; RLlib:
  ``Algorithm.train``) and their ratio.
* ``defaults``: League's default configuration against RLlib's single-env default
  (``num_envs_per_env_runner = 1``, sampling in the driver), same algorithm settings,
  alternating A/B; reports the ratio of env steps/s over ``Algorithm.train``.
* ``ceiling``: env steps/s of the raw PettingZoo game with random legal moves in
  one process, beside League's sampling throughput (env steps / sampling seconds)
  with its default configuration, and a cProfile breakdown of where sampling time goes.

``--algorithm`` (repeatable: ``--algorithm PPO --algorithm APPO``) picks ``training.algorithm``
(PPO, APPO, IMPALA; default PPO); each algorithm is measured in turn and reported on its own
lines. APPO and IMPALA learn in RLlib's learner thread; both sides wait for it at the end of
each iteration (``league.rllib.algorithm.train``), so their figures count the same work.

Examples:

    python scripts/bench_throughput.py ab --rounds 10
    python scripts/bench_throughput.py defaults --rounds 6
    python scripts/bench_throughput.py ceiling --steps 100000
    python scripts/bench_throughput.py ab --rounds 6 --algorithm PPO --algorithm APPO --algorithm IMPALA
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def _ray() -> None:
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")


def _plain_rllib(config: Any, *, num_env_runners: int, num_envs: int) -> Any:
    """RLlib self-play (one policy in every seat) with League's model, algorithm and its settings."""
    from ray.rllib.policy.policy import PolicySpec

    import envs
    from agents.models import register_models
    from league.rllib.algorithm import algorithm_config, auto_fragment_length

    register_models()
    training = config.training
    fragment = "auto" if training.algorithm == "PPO" else auto_fragment_length(
        training.train_batch_size, num_env_runners, num_envs)
    return (
        algorithm_config(training)
        .environment(env=envs.register_with_ray(config.game), disable_env_checking=True)
        .framework("torch")
        .env_runners(num_env_runners=num_env_runners, num_envs_per_env_runner=num_envs,
                     rollout_fragment_length=fragment, batch_mode="truncate_episodes")
        .training(model=training.model_spec())
        .multi_agent(policies={"main": PolicySpec()}, policy_mapping_fn=lambda agent_id, *a, **k: "main",
                     policies_to_train=["main"])
        .resources(num_gpus=config.resources.num_gpus)
        .debugging(seed=config.seed, log_level="ERROR")
        .build_algo()
    )


def _alternate(league_step: Any, plain_train: Any, rounds: int, warmup: int) -> dict[str, float]:
    """Alternate one League iteration and one plain iteration; env steps/s of each after ``warmup`` rounds."""
    totals = {"league_steps": 0, "league_s": 0.0, "plain_steps": 0, "plain_s": 0.0}
    for round_ in range(warmup + rounds):
        start = time.perf_counter()
        league_steps = league_step()
        league_s = time.perf_counter() - start
        start = time.perf_counter()
        plain_steps = plain_train()
        plain_s = time.perf_counter() - start
        if round_ >= warmup:
            totals["league_steps"] += league_steps
            totals["league_s"] += league_s
            totals["plain_steps"] += plain_steps
            totals["plain_s"] += plain_s
        print(f"round {round_ + 1}: league {league_steps / league_s:,.0f} steps/s, "
              f"plain {plain_steps / plain_s:,.0f} steps/s{' (warm-up)' if round_ < warmup else ''}", flush=True)
    league = totals["league_steps"] / totals["league_s"]
    plain = totals["plain_steps"] / totals["plain_s"]
    return {"league_steps_per_s": league, "plain_steps_per_s": plain, "ratio": league / plain, **totals}


def _training(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[training]`` overrides of a measurement: the algorithm, and a train batch size if given."""
    training: dict[str, Any] = {"algorithm": args.algorithm}
    if args.train_batch_size is not None:
        training["train_batch_size"] = args.train_batch_size
        if args.algorithm == "PPO":
            training["minibatch_size"] = min(256, args.train_batch_size)
    return training


def _sampling(args: argparse.Namespace) -> dict[str, Any]:
    """The ``[resources]`` overrides of a ceiling measurement: the sampler and sub-envs, if given."""
    return {k: v for k, v in {"sampler": args.sampler, "num_envs_per_env_runner": args.league_envs}.items()
            if v is not None}


def _plain_train(plain: Any) -> Any:
    """One plain ``train()`` (waiting for APPO's and IMPALA's learner thread, as League does); env steps sampled."""
    from league.rllib.algorithm import train

    return lambda: train(plain).env_steps


def bench_ab(args: argparse.Namespace) -> dict[str, Any]:
    """League (main + snapshots) vs plain RLlib self-play, 1 remote env runner each."""
    from league.config import load_config
    from league.manager import LeagueManager

    _ray()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ab-"))
    config = load_config(None, {
        "game": args.game, "iterations": 10_000, "run_dir": scratch / "run", "seed": args.seed,
        "roster": {"main_exploiters": 0, "league_exploiters": 0, "scripted": []},
        # Both sides on RLlib's sampler: ab measures what League adds around RLlib, not League's sampler.
        "resources": {"num_env_runners": 1, "num_envs_per_env_runner": args.envs, "sampler": "rllib"},
        "evaluation": {"games": 0}, "training": _training(args),
    })
    plain = _plain_rllib(config, num_env_runners=1, num_envs=args.envs)
    with LeagueManager(config) as league:
        def league_step() -> int:
            before = league.env_steps
            league.step()
            return league.env_steps - before

        figures = _alternate(league_step, _plain_train(plain), args.rounds, args.warmup)
        figures["snapshots"] = len(league.snapshots)
    plain.stop()
    return {"benchmark": "league_vs_plain_rllib", "algorithm": args.algorithm, "game": args.game, "env_runners": 1,
            "envs_per_runner": args.envs, **figures}


def bench_defaults(args: argparse.Namespace) -> dict[str, Any]:
    """League's default configuration vs RLlib's single-env default, over Algorithm.train."""
    from league.config import load_config
    from league.manager import LeagueManager

    _ray()
    scratch = Path(tempfile.mkdtemp(prefix="bench-defaults-"))
    overrides: dict[str, Any] = {"game": args.game, "iterations": 10_000, "run_dir": scratch / "run",
                                 "seed": args.seed, "training": _training(args)}
    resources = {k: v for k, v in {"num_env_runners": args.league_env_runners,
                                   "num_envs_per_env_runner": args.league_envs,
                                   "sampler": args.sampler}.items() if v is not None}
    if resources:
        overrides["resources"] = resources
    config = load_config(None, overrides)
    plain = _plain_rllib(config, num_env_runners=0, num_envs=1)
    with LeagueManager(config) as league:
        train_seconds: list[float] = []

        def league_step() -> int:
            before = league.env_steps
            report = league.step()
            train_seconds.append(report.train_time_s)
            return league.env_steps - before

        # Compare Algorithm.train on both sides: time League's iterations by their train time.
        totals = {"league_steps": 0, "league_s": 0.0, "plain_steps": 0, "plain_s": 0.0}
        plain_train = _plain_train(plain)
        for round_ in range(args.warmup + args.rounds):
            steps = league_step()
            start = time.perf_counter()
            plain_steps = plain_train()
            plain_s = time.perf_counter() - start
            print(f"round {round_ + 1}: league default {steps / train_seconds[-1]:,.0f} steps/s, "
                  f"rllib single-env default {plain_steps / plain_s:,.0f} steps/s", flush=True)
            if round_ >= args.warmup:
                totals["league_steps"] += steps
                totals["league_s"] += train_seconds[-1]
                totals["plain_steps"] += plain_steps
                totals["plain_s"] += plain_s
    plain.stop()
    league_rate = totals["league_steps"] / totals["league_s"]
    plain_rate = totals["plain_steps"] / totals["plain_s"]
    return {"benchmark": "league_defaults_vs_rllib_single_env", "algorithm": args.algorithm, "game": args.game,
            "sampler": config.resources.sampler,
            "league_envs_per_runner": config.resources.num_envs_per_env_runner,
            "league_env_runners": config.resources.num_env_runners, "league_steps_per_s": league_rate,
            "rllib_single_env_steps_per_s": plain_rate, "ratio": league_rate / plain_rate, **totals}


def raw_env_steps_per_s(game: str, steps: int, seed: int) -> float:
    """Env steps/s of the raw PettingZoo game, random legal moves, one process."""
    import envs

    env = envs.get_spec(game).make_raw()
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    done = 0
    start = time.perf_counter()
    while done < steps:
        for _agent in env.agent_iter():
            observation, _, terminated, truncated, _ = env.last()
            if terminated or truncated:
                env.step(None)
                continue
            env.step(int(rng.choice(np.flatnonzero(observation["action_mask"]))))
            done += 1
        env.reset()
    return done / (time.perf_counter() - start)


#: Where sampling time goes: own time of functions grouped by the file they live in (first match wins).
_CATEGORIES = (
    ("League (mapping, callbacks)", ("/league/",)),
    ("game (PettingZoo + League's env wrapper)", ("pettingzoo", "/envs/")),
    ("torch (model inference and the PPO update)", ("torch", "/agents/")),
    ("RLlib sampler (EnvRunnerV2, collectors, connectors, batches)", ("ray/rllib/",)),
    ("dm-tree / numpy / builtins", ("tree/", "numpy", "~")),
)


def _categories(stats: pstats.Stats) -> dict[str, float]:
    totals = {name: 0.0 for name, _ in _CATEGORIES}
    totals["other"] = 0.0
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        name = next((n for n, needles in _CATEGORIES if any(x in filename for x in needles)), "other")
        totals[name] += tottime
    return totals


def bench_ceiling(args: argparse.Namespace) -> dict[str, Any]:
    """The raw game's env steps/s beside League's sampling throughput, with a profile of sampling."""
    from league.config import load_config
    from league.manager import LeagueManager

    raw = raw_env_steps_per_s(args.game, args.steps, args.seed)
    _ray()
    scratch = Path(tempfile.mkdtemp(prefix="bench-ceiling-"))
    config = load_config(None, {"game": args.game, "iterations": 10_000, "run_dir": scratch / "run",
                                "seed": args.seed, "evaluation": {"games": 0},
                                "training": _training(args), "resources": _sampling(args)})
    profile = cProfile.Profile()
    with LeagueManager(config) as league:
        for _ in range(args.warmup):
            league.step()
        steps = sample_s = 0.0
        for _ in range(args.rounds):  # measured without the profiler
            before = league.env_steps
            report = league.step()
            steps += league.env_steps - before
            sample_s += report.sample_time_s
        profile.enable()
        for _ in range(max(args.rounds // 2, 1)):  # profiled separately (cProfile slows Python down)
            league.step()
        profile.disable()
    league_sampling = steps / sample_s
    stats = pstats.Stats(profile)
    rows = []
    for (filename, _, function), (_, _, tottime, cumtime, _) in stats.stats.items():
        rows.append((tottime, cumtime, f"{Path(filename).parent.name}/{Path(filename).name}:{function}"))
    top = sorted(rows, reverse=True)[:args.top]
    categories = _categories(stats)
    profiled = sum(categories.values()) or 1.0
    print(f"raw {args.game}: {raw:,.0f} env steps/s (random legal moves, one process)")
    print(f"League sampling ({config.resources.sampler} sampler, {config.resources.num_envs_per_env_runner} envs, "
          f"driver's runner): {league_sampling:,.0f} env steps/s "
          f"= {league_sampling / raw:.1%} of the raw game")
    print("own time of profiled iterations by where it is spent:")
    for name, seconds in sorted(categories.items(), key=lambda item: -item[1]):
        print(f"  {seconds / profiled:6.1%}  {name}")
    print("top functions by own time:")
    for tottime, cumtime, name in top:
        print(f"  {tottime:7.2f} s own {cumtime:7.2f} s cum  {name}")
    return {"benchmark": "sampling_ceiling", "algorithm": args.algorithm, "game": args.game,
            "sampler": config.resources.sampler, "envs_per_runner": config.resources.num_envs_per_env_runner,
            "raw_env_steps_per_s": raw,
            "league_sampling_steps_per_s": league_sampling, "fraction": league_sampling / raw,
            "profile_share": {k: v / profiled for k, v in categories.items()},
            "profile_top": [{"own_s": t, "cum_s": c, "function": n} for t, c, n in top]}


def main() -> None:
    """Parse the mode, run it, print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("ab", "defaults", "ceiling"))
    parser.add_argument("--game", default="connect_four")
    parser.add_argument("--rounds", type=int, default=8, help="Measured iterations of each side.")
    parser.add_argument("--warmup", type=int, default=2, help="Iterations of each side before measuring.")
    parser.add_argument("--envs", type=int, default=32, help="ab: sub-envs per env runner on both sides.")
    parser.add_argument("--league-env-runners", type=int, default=None,
                        help="defaults: League's env runners instead of its default (to explore).")
    parser.add_argument("--league-envs", type=int, default=None,
                        help="defaults: League's sub-envs per runner instead of its default (to explore).")
    parser.add_argument("--steps", type=int, default=100_000, help="ceiling: raw env steps to time.")
    parser.add_argument("--top", type=int, default=25, help="ceiling: profile rows to print.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sampler", choices=("league", "rllib"), default=None,
                        help="defaults, ceiling: League's resources.sampler instead of its default "
                             "(ab always runs both sides on RLlib's sampler).")
    parser.add_argument("--train-batch-size", type=int, default=None,
                        help="training.train_batch_size on both sides instead of League's default (smoke runs).")
    parser.add_argument("--algorithm", action="append", choices=("PPO", "APPO", "IMPALA"), default=None,
                        help="training.algorithm to measure; repeat it to measure several in turn (default: PPO).")
    args = parser.parse_args()
    for algorithm in args.algorithm or ["PPO"]:
        run = argparse.Namespace(**{**vars(args), "algorithm": algorithm})
        figures = {"ab": bench_ab, "defaults": bench_defaults, "ceiling": bench_ceiling}[args.mode](run)
        figures["machine"] = f"{platform.machine()}, {platform.python_version()}"
        printable = {k: v for k, v in figures.items() if k not in ("profile_top", "profile_share")}
        print("  ".join(f"{k}={v:,.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in printable.items()))
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
