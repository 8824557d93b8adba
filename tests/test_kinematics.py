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


@pytest.mark.parametrize("robot", ["panda", "xarm6"])
def test_remembered_poses_equal_fresh_ones_and_stay_unchanged(robot):
    """Re-asking postures (some still remembered, some long evicted) gives a lone model's
    answers; the shared arrays are read-only and the copies handed out are the caller's."""
    spec = assets.robot_spec(robot)
    postures = np.random.default_rng(1).uniform(spec.lower, spec.upper, (8, spec.dof))
    fresh = Kinematics(spec)
    expected = []
    for q in postures:
        fresh._poses.clear()  # no memory: every answer computed
        expected.append(fresh.tcp_pose(q))
    kin = Kinematics(spec)
    order = [0, 1, 0, 2, 3, 4, 5, 1, 6, 7, 0, 7, 7, 3]
    for i in order:
        position, orientation = kin.tcp_pose(postures[i])
        assert np.array_equal(position, expected[i][0]) and np.array_equal(orientation, expected[i][1])
        position[:] = 0.0  # the caller's copy: later answers must not change
        shared_position, shared_orientation = kin.tcp_pose_view(postures[i])
        assert not shared_position.flags.writeable and not shared_orientation.flags.writeable
        assert np.array_equal(shared_position, expected[i][0])


def test_jacobian_is_column_major():
    """The controller's products run different BLAS kernels (other last bits) on a row-major
    Jacobian; the layout is part of what keeps seeded runs reproducible across versions."""
    spec = assets.robot_spec("panda")
    jacobian = Kinematics(spec).jacobian(np.asarray(spec.home, dtype=float))
    assert jacobian.shape == (6, spec.dof) and jacobian.flags.f_contiguous
