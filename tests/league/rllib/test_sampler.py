"""League's batched sampler (``resources.sampler = "league"``) against RLlib's own old-stack sampler.

The equivalence test builds the same PPO twice, one with RLlib's ``RolloutWorker``
and one with :class:`~league.rllib.sampler.LeagueEnvRunner`, gives both the same
weights, and plays deterministic policies (``explore=False``) on deterministic
tic-tac-toe: every episode with the same seating is then the same game, so the
two samplers must hand PPO the same trajectories, with the same advantages and
value targets, and the same columns, dtypes and shapes.
"""

from __future__ import annotations

import numpy as np
import pytest
from ray.rllib.models.preprocessors import get_preprocessor
from ray.rllib.policy.policy import PolicySpec
from ray.rllib.policy.sample_batch import SampleBatch

import envs
from agents.models import ACTION_MASK_MODEL, register_models
from league.config import TrainingConfig, load_config
from league.errors import ConfigError
from league.manager import LeagueManager
from league.rllib.algorithm import algorithm_config
from league.rllib.callbacks import MatchRecorder
from league.rllib.sampler import LeagueEnvRunner, observation_flattener
from tests.conftest import tiny_config

GAME = "tictactoe"


def _seat_by_episode(agent_id, episode, worker=None, **kwargs):
    """main plays the first seat in even episodes, the second in odd ones; 'other' the rest."""
    first = episode.episode_id % 2 == 0
    return "main" if (agent_id == "player_1") ^ first else "other"


def _ppo(runner_cls, *, explore: bool = False):
    register_models()
    training = TrainingConfig(train_batch_size=256, minibatch_size=64, num_epochs=1)
    return (
        algorithm_config(training)
        .environment(env=envs.register_with_ray(GAME), disable_env_checking=True)
        .framework("torch")
        .env_runners(num_env_runners=0, num_envs_per_env_runner=4, rollout_fragment_length=64,
                     batch_mode="complete_episodes", explore=explore, env_runner_cls=runner_cls)
        .training(model={"custom_model": ACTION_MASK_MODEL, "custom_model_config": training.custom_model_config()})
        .multi_agent(policies={"main": PolicySpec(), "other": PolicySpec()}, policy_mapping_fn=_seat_by_episode,
                     policies_to_train=["main"])
        .callbacks(MatchRecorder)
        .debugging(seed=0, log_level="ERROR")
        .build_algo()
    )


def _trajectories(batch: SampleBatch) -> dict[tuple, dict[str, np.ndarray]]:
    """Each (agent_index, moves) trajectory of a policy batch, keyed by its moves (identical games coincide)."""
    out = {}
    for eps_id in np.unique(batch[SampleBatch.EPS_ID]):
        rows = np.flatnonzero(batch[SampleBatch.EPS_ID] == eps_id)
        key = (int(batch[SampleBatch.T][rows][0]), tuple(batch[SampleBatch.ACTIONS][rows].tolist()))
        out[key] = {k: batch[k][rows] for k in batch}
    return out


def test_leagues_sampler_hands_ppo_the_same_trajectories_columns_and_advantages_as_rllibs(ray_session):
    rllib_algo, league_algo = _ppo(None), _ppo(LeagueEnvRunner)
    try:
        league_algo.set_weights(rllib_algo.get_weights(["main", "other"]))
        rllib_batch = rllib_algo.env_runner.sample().policy_batches["main"]
        league_sample = league_algo.env_runner.sample()
    finally:
        rllib_algo.stop()
    try:
        assert set(league_sample.policy_batches) == {"main"}  # 'other' is not trained: inference only
        league_batch = league_sample.policy_batches["main"]
        assert league_sample.env_steps() >= 4 * 64
        # Same columns, dtypes and per-row shapes as RLlib's batch.
        assert set(league_batch.keys()) == set(rllib_batch.keys())
        for key in rllib_batch:
            assert league_batch[key].dtype == rllib_batch[key].dtype, key
            assert league_batch[key].shape[1:] == rllib_batch[key].shape[1:], key
        # The same games, in both seats, with the same values, advantages and targets.
        ours, theirs = _trajectories(league_batch), _trajectories(rllib_batch)
        assert {t for t, _ in ours} == {t for t, _ in theirs} == {1, 2}  # main moved first and second (RLlib's t)
        assert set(ours) == set(theirs)
        for key, rllib_rows in theirs.items():
            league_rows = ours[key]
            for column in ("obs", "new_obs", "actions", "rewards", "terminateds", "truncateds", "t",
                           "vf_preds", "action_logp", "action_dist_inputs", "advantages", "value_targets",
                           "values_bootstrapped"):
                np.testing.assert_allclose(league_rows[column], rllib_rows[column], rtol=1e-5, atol=1e-6,
                                           err_msg=f"{column} of trajectory {key}")
            assert league_rows["terminateds"][-1] and not league_rows["terminateds"][:-1].any()
    finally:
        league_algo.stop()


def test_the_flattened_observation_is_rllibs_preprocessor_output():
    env = envs.make("connect_four")
    space = env.observation_space
    preprocessor = get_preprocessor(space)(space)
    obs, _ = env.reset(seed=3)
    for _ in range(5):
        agent = next(iter(obs))
        row = np.zeros(preprocessor.shape, np.float32)
        observation_flattener(space)(obs[agent], row)
        np.testing.assert_array_equal(row, preprocessor.transform(obs[agent]))
        legal = np.flatnonzero(obs[agent]["action_mask"])
        obs, *_ = env.step({agent: int(legal[0])})


def test_a_league_on_leagues_sampler_trains_learners_only_and_keeps_frozen_players_fixed(tmp_path, ray_session):
    config = tiny_config(tmp_path, game=GAME, iterations=2, evaluation={"games": 0}, ratings={"anchor_games": 0},
                         resources={"sampler": "league", "num_envs_per_env_runner": 8})
    with LeagueManager(config) as league:
        runner = league.algorithm.env_runner
        assert isinstance(runner, LeagueEnvRunner)
        first = league.step()
        frozen = sorted(p for p in runner.policy_map if p not in league.trainable and "mirror" not in p)
        assert frozen, "a snapshot or scripted player is resident after iteration 1"
        before = {p: runner.policy_map[p].get_weights() for p in frozen}
        seen: list[set[str]] = []
        sample = runner.sample

        def sample_and_look(**kwargs):
            batch = sample(**kwargs)
            seen.append(set(batch.policy_batches))
            return batch

        runner.sample = sample_and_look
        second = league.step()
        # Learners only: no mirror's and no frozen player's samples reach the learner.
        assert seen and all(ids and ids <= set(league.trainable) for ids in seen)
        for player in frozen:
            after = runner.policy_map[player].get_weights()
            assert set(after) == set(before[player])
            for name in after:
                np.testing.assert_array_equal(after[name], before[player][name])
        assert first.episodes > 0 and second.episodes > 0
        # Every finished match is recorded once.
        assert league.ledger.match_count() == sum(r.episodes + r.anchor_matches for r in (first, second))


def test_sampler_choice_is_validated_and_sets_the_default_width(tmp_path):
    default = load_config(None, {"game": GAME})
    assert (default.resources.sampler, default.resources.num_envs_per_env_runner) == ("league", 256)
    rllib = load_config(None, {"game": GAME, "resources": {"sampler": "rllib"}})
    assert rllib.resources.num_envs_per_env_runner == 32
    chosen = load_config(None, {"game": GAME, "resources": {"sampler": "rllib", "num_envs_per_env_runner": 7}})
    assert chosen.resources.num_envs_per_env_runner == 7
    assert tiny_config(tmp_path, resources={"sampler": "rllib"}).resources.sampler == "rllib"
    with pytest.raises(ConfigError, match=r"resources\.sampler"):
        tiny_config(tmp_path, resources={"sampler": "fast"})


def test_the_torch_fast_path_acts_exactly_as_compute_actions(ray_session):
    from league.rllib.inference import TorchActor, fast_path_applies

    algo = _ppo(None)
    try:
        policy = algo.get_policy("main")
        assert fast_path_applies(policy)
        env = envs.make(GAME)
        space = env.observation_space
        preprocessor = get_preprocessor(space)(space)
        rows, obs = [], env.reset(seed=0)[0]
        while obs and len(rows) < 9:
            agent = next(iter(obs))
            rows.append(preprocessor.transform(obs[agent]))
            legal = np.flatnonzero(obs[agent]["action_mask"])
            obs, _, term, _, _ = env.step({agent: int(legal[-1])})
            if term.get("__all__"):
                break
        batch = np.stack(rows)
        actor = TorchActor(policy)
        before = policy.global_timestep
        expected_actions, _, expected = policy.compute_actions(batch, explore=False)
        actions, extras = actor(batch)  # explore=False: deterministic, so output for output
        assert policy.global_timestep == before + 2 * len(batch)
        assert actions.dtype == expected_actions.dtype
        np.testing.assert_array_equal(actions, expected_actions)
        assert set(extras) == set(expected)
        for key in expected:
            assert extras[key].dtype == expected[key].dtype and extras[key].shape == expected[key].shape, key
            np.testing.assert_allclose(extras[key], expected[key], rtol=1e-6, atol=1e-7, err_msg=key)
        # With exploration, sampled actions are legal and their log-likelihoods are the distribution's.
        policy.config["explore"] = True
        actions, extras = actor(np.repeat(batch, 50, axis=0))
        masks = np.repeat(batch, 50, axis=0)[:, :env.action_space.n]
        assert masks[np.arange(len(actions)), actions].all()
        _, _, reference = policy.compute_actions(np.repeat(batch, 50, axis=0), explore=False)
        logits = reference["action_dist_inputs"]
        logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
        np.testing.assert_allclose(extras["action_logp"], logp[np.arange(len(actions)), actions], rtol=1e-5,
                                   atol=1e-5)
    finally:
        algo.stop()

