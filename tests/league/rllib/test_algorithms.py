"""``training.algorithm``: PPO, APPO and IMPALA leagues, ``[training.rllib]`` checks, learner statistics."""

from __future__ import annotations

import signal
from collections import Counter

import numpy as np
import pytest
from typer.testing import CliRunner

from league.checkpoint import latest_checkpoint
from league.cli import app
from league.config import load_config
from league.errors import ConfigError
from league.manager import MAIN, LeagueManager
from league.rllib.algorithm import checkpoint_state, current_weights, rllib_training_options, weights_everywhere
from league.rllib.mapping import mirror_id
from tests.test_crash_resume import _league  # a real `league run` process, with a kill point armed

TOML = """
game = "tictactoe"
iterations = 2
seed = 1
checkpoint_every = 1

[training]
algorithm = "{algorithm}"
train_batch_size = 400
hiddens = [32]
{extra}

[resources]
num_envs_per_env_runner = 4

[snapshots]
max_iterations_per_snapshot = 1

[ratings]
anchor_games = 4

[evaluation]
games = 10
every = 1
"""


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return np.array_equal(np.asarray(a), np.asarray(b))


# -- configuration (no Ray) ---------------------------------------------------------


def test_ppo_settings_are_refused_for_algorithms_without_them_and_default_to_rllibs():
    with pytest.raises(ConfigError, match=r"training: minibatch_size=64 is not a setting of IMPALA \(RLlib's "
                                          r"old-stack IMPALA learner updates on whole train batches\): remove it"):
        load_config(None, {"training": {"algorithm": "IMPALA", "minibatch_size": 64}})
    with pytest.raises(ConfigError, match=r"kl_coeff=0.5 is not a setting of IMPALA"):
        load_config(None, {"training": {"algorithm": "IMPALA", "kl_coeff": 0.5}})
    with pytest.raises(ConfigError, match=r"lambda_=0.9 is not a setting of APPO \(APPO estimates returns with "
                                          r"V-trace"):
        load_config(None, {"training": {"algorithm": "APPO", "lambda_": 0.9}})
    with pytest.raises(ConfigError, match=r"training.algorithm: Input should be 'PPO', 'APPO' or 'IMPALA'"):
        load_config(None, {"training": {"algorithm": "DQN"}})
    with pytest.raises(ConfigError, match=r"rllib.lr: League sets it from training.lr; set that instead"):
        load_config(None, {"training": {"rllib": {"lr": 0.1}}})

    ppo = load_config(None, {"training": {"rllib": {"grad_clip": 5.0}}}).training.algorithm_training_kwargs()
    assert (ppo["minibatch_size"], ppo["num_epochs"], ppo["lambda_"], ppo["kl_coeff"], ppo["grad_clip"]) == (
        256, 8, 0.95, 0.2, 5.0)
    appo = load_config(None, {"training": {"algorithm": "APPO", "kl_coeff": 0.3}}).training
    kwargs = appo.algorithm_training_kwargs()
    assert kwargs["kl_coeff"] == 0.3 and not {"num_epochs", "minibatch_size", "lambda_", "clip_param"} & set(kwargs)


def test_rllib_options_follow_each_algorithm_config():
    ppo, appo, impala = (set(rllib_training_options(a)) for a in ("PPO", "APPO", "IMPALA"))
    assert {"grad_clip", "lr_schedule", "vf_clip_param", "use_kl_loss"} <= ppo
    assert {"grad_clip", "lr_schedule", "use_kl_loss", "tau", "vtrace_clip_rho_threshold"} <= appo
    assert {"grad_clip", "lr_schedule", "vtrace_clip_rho_threshold", "opt_type"} <= impala
    assert "use_kl_loss" not in impala and "vf_clip_param" not in appo
    # League's own fields are set through [training], never twice.
    assert not {"lr", "train_batch_size", "model", "num_epochs", "learner_class"} & (ppo | appo | impala)


def test_an_unknown_training_rllib_key_exits_2_naming_it_before_any_file_is_written(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(TOML.format(algorithm="IMPALA", extra="[training.rllib]\ngrad_clip = 10.0\nvf_clip_param = 5.0"))
    run_dir = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(config), "--run-dir", str(run_dir), "--quiet"],
                                env={"COLUMNS": "2000"})
    assert result.exit_code == 2, result.output
    line = next(line for line in result.output.splitlines() if "training.rllib" in line)
    assert "training.rllib: 'vf_clip_param' is not a setting of IMPALA; valid keys: " in line
    assert "grad_clip" in line and "vtrace_clip_rho_threshold" in line
    assert "Traceback" not in result.output
    assert not run_dir.exists()


# -- leagues --------------------------------------------------------------------------


@pytest.mark.timeout(900)
@pytest.mark.parametrize("algorithm", ["APPO", "IMPALA"])
def test_a_league_trains_with_the_algorithm_and_resumes_after_sigkill(algorithm, tmp_path, ray_session):
    config = tmp_path / "c.toml"
    config.write_text(TOML.format(algorithm=algorithm, extra="[training.rllib]\ngrad_clip = 20.0"))
    run_dir = tmp_path / "run"
    killed = _league(run_dir, str(config), kill_at="training@2")  # inside iteration 2's first update
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-4000:]
    assert "iteration=1 " in killed.stdout
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint.state.iteration == 1

    with LeagueManager.resume(run_dir) as resumed:
        algo = resumed.algorithm
        assert type(algo).__name__ == algorithm and algo.config.grad_clip == 20.0
        assert resumed.iteration == 1 and resumed.resumes == 1
        for pid in resumed.trainable:
            # Weights, optimizer state, timestep of the checkpoint on the learner; weights on every runner.
            assert _equal(checkpoint_state(algo, pid), checkpoint.players[pid])
            assert all(_equal(w, checkpoint.players[pid]["weights"]) for w in weights_everywhere(algo, pid))
        main = algo.get_policy(MAIN)
        assert main.num_grad_updates >= 1  # iteration 1 learned ...
        assert not _equal(checkpoint.players[MAIN]["weights"], checkpoint.initial[MAIN]["weights"])
        if algorithm == "APPO":  # ... and the target network starts from the restored weights
            assert _equal(main.target_model.state_dict(), main.model.state_dict())

        reports = resumed.run()
        assert [r.iteration for r in reports] == [2]
        report = reports[0]
        assert not _equal(current_weights(algo, MAIN), checkpoint.players[MAIN]["weights"])  # iteration 2 learned
        assert set(report.learner_stats) == set(resumed.trainable)
        for stats in report.learner_stats.values():
            assert {"policy_loss", "vf_loss", "entropy", "lr", "total_loss"} <= set(stats)
            assert all(np.isfinite(v) for v in stats.values())
        for pid in resumed.trainable:
            # Each mirror sampled iteration 2 with its player's weights after iteration 1 (the checkpoint's).
            assert all(_equal(w, checkpoint.players[pid]["weights"]) for w in weights_everywhere(algo, mirror_id(pid)))
        # A snapshot holds its player's weights at freezing; resident snapshots hold the stored weights.
        assert _equal(resumed.store.load("main_v2").weights, current_weights(algo, MAIN))
        for player in resumed.resident:
            if player in resumed.snapshots:
                assert all(_equal(w, resumed.store.load(player).weights) for w in weights_everywhere(algo, player))

        # Every committed iteration's matches in the ledger exactly once.
        history = resumed.history
        matches = list(resumed.ledger.iter_matches())
        _stored, rated = resumed.ledger.ratings()
        assert [h.iteration for h in history] == [1, 2]
        assert len(matches) == len({m.match_id for m in matches}) == rated
        assert len(matches) == sum(h.matches + h.anchor_matches for h in history)
        assert dict(sorted(Counter(m.iteration for m in matches).items())) == {
            h.iteration: h.matches + h.anchor_matches for h in history}
        assert resumed.ledger.progress()["episodes"] == sum(h.matches for h in history) == resumed.total_episodes


def test_tensorboard_holds_learner_series_of_every_trainable_player(tmp_path, ray_session):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from league.display import report_line

    config = load_config(None, {
        "game": "tictactoe", "iterations": 2, "run_dir": tmp_path / "run",
        "training": {"train_batch_size": 400, "minibatch_size": 64, "num_epochs": 2, "hiddens": [32]},
        "resources": {"num_envs_per_env_runner": 4}, "evaluation": {"games": 0},
        "ratings": {"anchor_games": 0}})
    seen = []
    with LeagueManager(config) as league:
        reports = league.run(on_iteration=seen.append)
        trainable = league.trainable
    assert seen == reports and all(set(r.learner_stats) == set(trainable) for r in reports)
    events = EventAccumulator(str(config.run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    for player in trainable:
        for stat in ("policy_loss", "vf_loss", "entropy", "kl", "lr"):
            written = events.Scalars(f"learner/{player}/{stat}")
            assert [e.step for e in written] == [1, 2]
            assert [e.value for e in written] == pytest.approx([r.learner_stats[player][stat] for r in reports])
    assert f"learner/{mirror_id(MAIN)}/policy_loss" not in tags  # mirrors never learn
    assert reports[-1].learner_stats[MAIN]["lr"] == pytest.approx(5e-4)
    line = report_line(reports[-1])
    stats = reports[-1].learner_stats[MAIN]
    assert f"main_policy_loss={stats['policy_loss']:.4g} main_entropy={stats['entropy']:.4g} " \
           f"main_kl={stats['kl']:.4g}" in line
