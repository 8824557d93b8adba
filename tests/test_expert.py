"""The scripted expert proves the grasp task is solvable: the same bars on 50 seeded episodes
per case in the fast tier and on 200 in the slow one."""

import gymnasium as gym
import pytest

from simreal.evaluation import evaluate
from simreal.policy import ScriptedGraspExpert

CASES = [
    ("simreal/PandaGrasp-v0", None, 0.95),
    ("simreal/PandaGrasp-v0", "default", 0.85),
    ("simreal/XArm6Grasp-v0", None, 0.95),
    ("simreal/XArm6Grasp-v0", "default", 0.85),
]


@pytest.mark.parametrize("episodes", [50, pytest.param(200, marks=pytest.mark.slow)])
@pytest.mark.parametrize(("env_id", "randomization", "bar"), CASES)
def test_expert_success_rate(env_id, randomization, bar, episodes):
    env = gym.make(env_id, randomization=randomization)
    result = evaluate(env, ScriptedGraspExpert(), episodes=episodes, seed=1000)
    env.close()
    assert result.success_rate >= bar, result.describe()


def test_expert_fails_without_closing_the_gripper():
    """Guard against a success signal that does not need a grasp."""
    expert = ScriptedGraspExpert()

    def never_close(obs):
        action = expert(obs)
        action[3] = -1.0
        return action

    env = gym.make("simreal/PandaGrasp-v0", randomization=None)
    result = evaluate(env, never_close, episodes=20, seed=0)
    env.close()
    assert result.successes == 0
