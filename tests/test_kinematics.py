"""Kinematics of one robot share a loaded model; their answers do not depend on each other."""

import threading

import numpy as np
import pytest

from simreal import assets
from simreal.kinematics import Kinematics


@pytest.mark.parametrize("robot", ["panda", "xarm6"])
def test_interleaved_sharers_answer_as_one_alone(robot):
    """Poses and Jacobians from two Kinematics queried in turn (one re-asking its last posture
    after the other moved the shared model) equal those of a lone one, in this thread and in
    another."""
    spec = assets.robot_spec(robot)
    postures = np.random.default_rng(0).uniform(spec.lower, spec.upper, (6, spec.dof))
    alone = Kinematics(spec)
    expected = [(*alone.tcp_pose(q), alone.jacobian(q)) for q in postures]
    alone.close()

    def answers(first: Kinematics, second: Kinematics) -> list[tuple]:
        out = []
        for i, q in enumerate(postures):
            other = postures[(i + 3) % len(postures)]
            first.tcp_pose(q)
            second.tcp_pose(other), second.jacobian(other)  # moves the shared model elsewhere
            out.append((*first.tcp_pose(q), first.jacobian(q)))
        return out

    here = answers(Kinematics(spec), Kinematics(spec))
    there: list = []
    worker = threading.Thread(target=lambda: there.extend(answers(Kinematics(spec), Kinematics(spec))))
    worker.start()
    worker.join()
    for got in (here, there):
        assert len(got) == len(expected)
        for (position, orientation, jacobian), (p, o, j) in zip(got, expected, strict=True):
            assert np.array_equal(position, p) and np.array_equal(orientation, o) and np.array_equal(jacobian, j)
