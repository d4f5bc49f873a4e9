"""Games named by import path (``package.module:factory``): resolving, checking, pickling across processes."""

from __future__ import annotations

import pickle
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import gymnasium as gym
import pytest

import envs
from envs.imported import _space_problem, is_import_path
from envs.wrappers import SimultaneousEnv, TurnBasedEnv
from league.errors import UnknownGameError

ROOT = Path(__file__).resolve().parents[2]


def _module(folder: Path, name: str, source: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(source))


def test_import_path_names():
    assert is_import_path("mygame:make_env") and is_import_path("pkg.games.nim:Nim.make")
    assert not any(is_import_path(n) for n in ("tictactoe", "mygame", "mygame:", ":make_env", "a b:c",
                                               "openspiel:leduc_poker(suit_isomorphism=True)"))


def test_the_example_game_from_the_current_folder_is_a_turn_based_league_game(tmp_path, monkeypatch):
    shutil.copy(ROOT / "examples" / "mygame.py", tmp_path / "nim_current_folder.py")
    monkeypatch.chdir(tmp_path)
    spec = envs.get_spec("nim_current_folder:make_env")
    assert spec.turn_based and spec.pettingzoo_id == "nim_v0"
    env = envs.make("nim_current_folder:make_env", stones=5)  # env_config reaches the factory
    assert isinstance(env, TurnBasedEnv)
    obs, _ = env.reset(seed=0)
    assert obs["player_0"]["observation"].tolist() == [0, 0, 0, 0, 0, 1]
    obs, rewards, terminateds, _, _ = env.step({"player_0": 2})  # take 3, 2 left
    obs, rewards, terminateds, _, _ = env.step({"player_1": 1})  # take 2: the last stones
    assert terminateds["__all__"] and rewards == {"player_1": 1.0, "player_0": -1.0}
    # Appended to sys.path, never first: a file there cannot shadow an installed module.
    assert sys.path.index(str(tmp_path)) > sys.path.index(str(Path(gym.__file__).parents[1]))


def test_a_parallel_env_by_import_path_is_a_simultaneous_game():
    spec = envs.get_spec("pettingzoo.classic.rps_v2:parallel_env")
    assert not spec.turn_based and spec.pettingzoo_id == "rps_v2"
    env = envs.make("pettingzoo.classic.rps_v2:parallel_env", max_cycles=3)
    assert isinstance(env, SimultaneousEnv)
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"player_0", "player_1"}


def test_the_spec_pickles_as_its_import_path_and_builds_in_a_process_without_it(tmp_path, monkeypatch):
    # Ray env runners unpickle the env creator in other processes, whose sys.path lacks the folder.
    shutil.copy(ROOT / "examples" / "mygame.py", tmp_path / "nim_pickled.py")
    monkeypatch.chdir(tmp_path)
    spec = envs.get_spec("nim_pickled:make_env")
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    code = textwrap.dedent(f"""
        import pickle, sys
        import envs
        assert {str(tmp_path)!r} not in sys.path
        spec = pickle.loads(open({str(tmp_path / "spec.pkl")!r}, "rb").read())
        obs, _ = envs.registry.make_from_spec(spec).reset(seed=0)
        print(sorted(obs["player_0"]))
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "['action_mask', 'observation']"


def test_a_game_failing_pettingzoo_api_test_is_refused_with_its_message(tmp_path, monkeypatch):
    _module(tmp_path, "copied_spaces_game", """
        import copy
        from pettingzoo.classic.tictactoe.tictactoe import raw_env

        class CopiedSpaces(raw_env):
            def observation_space(self, agent):
                return copy.deepcopy(super().observation_space(agent))

        def make_env():
            return CopiedSpaces()
    """)
    monkeypatch.chdir(tmp_path)
    expected = ("game 'copied_spaces_game:make_env' fails PettingZoo's api_test: observation_space should "
                "return the exact same space object (not a copy) for an agent")
    with pytest.raises(UnknownGameError, match=re.escape(expected)) as error:
        envs.get_spec("copied_spaces_game:make_env")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(("name", "source", "expected"), [
    ("no_such_game_module:make_env", None,
     "game 'no_such_game_module:make_env': cannot import module 'no_such_game_module'"),
    ("raising_game:make_env", "raise RuntimeError('no board today')",
     "game 'raising_game:make_env': importing 'raising_game' raised RuntimeError: no board today"),
    ("attributeless_game:make_env", "x = 1",
     "game 'attributeless_game:make_env': module 'attributeless_game' has no attribute 'make_env'"),
    ("builtins:dict", None,
     "game 'builtins:dict' returned a dict, expected a PettingZoo AECEnv (turn-based) or ParallelEnv"),
])
def test_import_errors_name_the_game_and_the_problem(tmp_path, monkeypatch, name, source, expected):
    if source is not None:
        _module(tmp_path, name.partition(":")[0], source)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnknownGameError, match=re.escape(expected)):
        envs.get_spec(name)


def _fake_env(observation: gym.Space, action: gym.Space, agents: int = 2, **per_agent: gym.Space):
    names = [f"player_{i}" for i in range(agents)]
    return SimpleNamespace(possible_agents=names,
                           observation_space=lambda a: per_agent.get(f"obs_{a}", observation),
                           action_space=lambda a: per_agent.get(f"act_{a}", action))


BOX = gym.spaces.Box(0, 1, shape=(4,))


@pytest.mark.parametrize(("env", "expected"), [
    (_fake_env(BOX, gym.spaces.Discrete(3), agents=1), "League needs at least two agents"),
    (_fake_env(BOX, gym.spaces.Discrete(3), act_player_1=gym.spaces.Discrete(4)),
     "its agents have different action spaces"),
    (_fake_env(BOX, gym.spaces.Box(0, 1, shape=(2,))), "League needs Discrete"),
    (_fake_env(gym.spaces.Dict({"observation": BOX}), gym.spaces.Discrete(3)),
     "the observation is a Dict with keys ['observation']; League needs 'observation' and 'action_mask'"),
    (_fake_env(gym.spaces.Dict({"observation": BOX, "action_mask": gym.spaces.Box(0, 1, shape=(2,))}),
               gym.spaces.Discrete(3)), "League needs a Box of shape (3,)"),
    (_fake_env(gym.spaces.MultiBinary(3), gym.spaces.Discrete(3)), "League needs a Box or a Discrete"),
])
def test_spaces_league_cannot_wrap_are_named(env, expected):
    assert expected in _space_problem(env)


@pytest.mark.parametrize("observation", [BOX, gym.spaces.Discrete(5), gym.spaces.Dict(
    {"observation": BOX, "action_mask": gym.spaces.Box(0, 1, shape=(3,))})])
def test_spaces_league_wraps_pass(observation):
    assert _space_problem(_fake_env(observation, gym.spaces.Discrete(3))) is None


def test_a_stored_runs_import_path_game_is_not_imported_to_read_its_config(tmp_path, monkeypatch):
    # `league status`, `report` and `prune` read run.json's config; they do not need the game's module.
    from league.config import load_config
    from league.errors import ConfigError
    from league.offline import run_config
    from league.run_dir import RunInfo

    monkeypatch.chdir(tmp_path)
    data = {"game": "game_module_gone:make_env", "run_dir": str(tmp_path / "run")}
    assert run_config(RunInfo("run-1", data["game"], None, 0.0, data)).game == "game_module_gone:make_env"
    with pytest.raises(ConfigError, match=re.escape("cannot import module 'game_module_gone'")):
        load_config(None, data)  # a new run (and a resume) imports and checks it
