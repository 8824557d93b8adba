import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from simreal import assets
from simreal.maze.env import MazeEnv, observation_channels
from simreal.maze.registration import maze_env_ids
from simreal.specs import SpecError
from simreal.specs.maze import maze_from_mapping

MAZE_IDS = maze_env_ids()


def _spec(rows, **fields):
    return maze_from_mapping({"name": "t", "max_steps": 20, "map": rows, **fields}, "test.yaml")


def _rollout(env, seed, steps=40):
    obs, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace = [(obs, 0.0, False, False)]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        trace.append((obs, reward, terminated, truncated))
        if terminated or truncated:
            obs, _ = env.reset()
    return trace


def _same(a, b):
    assert len(a) == len(b)
    for (oa, *ra), (ob, *rb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(oa, ob)
        assert ra == rb


def test_every_shipped_layout_is_registered():
    assert len(MAZE_IDS) == len(assets.available("maze")) >= 2


@pytest.mark.parametrize("env_id", MAZE_IDS)
def test_check_env_and_passive_checker_without_warnings(env_id):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gym.make(env_id)  # PassiveEnvChecker
        check_env(env.unwrapped, skip_render_check=True)
        _rollout(env, seed=0, steps=80)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("env_id", MAZE_IDS)
def test_same_seed_same_rollout_and_pickle(env_id):
    a, b = gym.make(env_id), gym.make(env_id)
    _same(_rollout(a, 3), _rollout(b, 3))
    _same(_rollout(a, 4), _rollout(pickle.loads(pickle.dumps(a)), 4))
    starts = {a.unwrapped.reset(seed=s)[0].tobytes() for s in range(12)}
    assert len(starts) > 1  # the start (cell, heading) is drawn from the seed


def test_reaching_the_goal_succeeds_and_lava_ends_without_success():
    env = MazeEnv(_spec(["######", "#S.G.#", "######"], start_direction="right"))
    obs, _ = env.reset(seed=0)
    goal = observation_channels(env.layout).index("goal")
    assert obs[goal].sum() == 1 and obs[goal, -3, env.layout.view_size // 2] == 1  # two cells ahead
    forward = env.layout.actions.index("forward")
    env.step(forward)
    _, reward, terminated, _, info = env.step(forward)
    assert terminated and info["is_success"] and reward > 0
    env = MazeEnv(_spec(["######", "#S.L.#", "#...G#", "######"], start_direction="right"))
    env.reset(seed=0)
    env.step(forward)
    _, reward, terminated, _, info = env.step(forward)
    assert terminated and not info["is_success"] and reward == 0


def test_closed_door_blocks_until_toggled():
    env = MazeEnv(_spec(["#####", "#SDG#", "#####"], start_direction="right",
                        actions=["left", "right", "forward", "toggle"]))
    env.reset(seed=0)
    channels = observation_channels(env.layout)
    forward, toggle = env.layout.actions.index("forward"), env.layout.actions.index("toggle")
    obs, _, terminated, _, _ = env.step(forward)
    assert not terminated and obs[channels.index("door_closed")].sum() == 1
    obs, *_ = env.step(toggle)
    assert obs[channels.index("door_open")].sum() == 1 and obs[channels.index("door_closed")].sum() == 0
    env.step(forward)
    _, _, terminated, _, info = env.step(forward)
    assert terminated and info["is_success"]


def test_full_view_draws_the_agent_with_its_heading():
    env = MazeEnv(_spec(["#####", "#S.G#", "#####"], start_direction="down", view="full"))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (len(observation_channels(env.layout)), 3, 5)
    down = observation_channels(env.layout).index("agent_down")
    assert obs[down, 1, 1] == 1 and obs[down].sum() == 1


@pytest.mark.parametrize(("change", "field", "expected"), [
    ({"map": ["#####", "#S.G#", "####"]}, "map", "rows of equal length"),
    ({"map": ["#####", "#S.X#", "#####"]}, "map", "only the characters"),
    ({"map": ["#####", "#S.G.", "#####"]}, "map", "border cells are all walls"),
    ({"map": ["#####", "#SLG#", "#####"]}, "map", "reach a goal without lava"),
    ({"map": ["#####", "#S..#", "#####"]}, "map", "at least one start"),
    ({"map": ["#####", "#SDG#", "#####"]}, "actions", "'toggle' among the actions"),
    ({"view_size": 6}, "view_size", "an odd number"),
    ({"start_direction": "north"}, "start_direction", "one of"),
    ({"colour": "red"}, "colour", "no such field"),
])
def test_bad_layouts_name_the_field_and_what_was_expected(change, field, expected):
    data = {"name": "t", "max_steps": 20, "map": ["#####", "#S.G#", "#####"], **change}
    with pytest.raises(SpecError) as err:
        maze_from_mapping(data, "bad.yaml")
    assert err.value.field == field and expected in err.value.expected and "bad.yaml" in str(err.value)
