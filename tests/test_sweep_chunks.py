"""Evaluate and bench calibrate on a pool or Ray: the seeds of an evaluation split into chunks
and merged, one calibration trial per profile; the same numbers as serial, failures kept."""

import importlib.util
import shutil

import pytest

from simreal.bench.calibrate_profiles import ProfileTrial, measure_profiles
from simreal.cli import main
from simreal.evaluation import evaluate
from simreal.learn.adapt import load_policy
from simreal.policy_evaluation import evaluation_env
from simreal.sweep.chunks import chunk_seeds, evaluate_in_chunks

ON_TARGET = {"policy": "panda_grasp", "target": "weak_motors"}
SEED = 3_000_000
NO_RAY = importlib.util.find_spec("ray") is None


def _in_one_piece(episodes: int):
    policy = load_policy("panda_grasp")
    env = evaluation_env(policy, "weak_motors")
    try:
        return evaluate(env, policy.act, episodes, SEED)
    finally:
        env.close()


def test_chunks_cover_the_seeds_in_order_nearly_equal():
    assert chunk_seeds(10, 7, 3) == [(10, 2), (12, 2), (14, 3)]
    assert chunk_seeds(0, 2, 5) == [(0, 1), (1, 1)]
    with pytest.raises(ValueError, match="at least 1"):
        chunk_seeds(0, 0, 2)


def test_chunks_merged_give_the_one_piece_numbers_exactly():
    run = evaluate_in_chunks(ON_TARGET, 3, SEED, "serial", workers=2)
    assert len(run.chunks) == 2 and not run.failures
    assert run.result == _in_one_piece(3)  # count, Wilson interval, mean length and return, bit for bit


def test_failing_chunks_are_reported_with_their_error():
    run = evaluate_in_chunks({**ON_TARGET, "encoder_offsets": "no_such_fit"}, 2, SEED, "serial", workers=2)
    assert run.result is None and len(run.failures) == 2 and "no_such_fit" in run.failures[0].error


def test_evaluate_refuses_a_bridge_robot_or_a_video_on_a_pool(capsys):
    assert main(["evaluate", "--backend", "pool", "--target", "tcp://127.0.0.1:5555"]) == 2
    assert "behind the bridge" in capsys.readouterr().out
    assert main(["evaluate", "--backend", "pool", "--video", "clip.gif"]) == 2
    assert "--backend serial" in capsys.readouterr().out


@pytest.mark.slow
def test_evaluate_on_a_pool_prints_the_serial_result(capsys):
    args = ["evaluate", "--target", "weak_motors", "--episodes", "4"]
    assert main(args) == 0
    serial = capsys.readouterr().out
    assert main([*args, "--backend", "pool", "--workers", "2"]) == 0
    assert capsys.readouterr().out == serial


def _family(tmp_path):
    from simreal import assets

    shutil.copy(assets.find("target", "weak_motors"), tmp_path / "a_weak_motors.yaml")
    shutil.copy(assets.find("target", "mujoco_panda"), tmp_path / "b_mujoco_panda.yaml")
    (tmp_path / "c_broken.yaml").write_text("name: broken\nrobot: panda\ndynamics:\n  colour: red\n")
    return sorted(tmp_path.glob("*.yaml"))


def _numbers(results):
    """What the bench reports, without the timings (those differ from run to run)."""
    scores = [(s.profile, s.differs, s.found, s.nominal, s.nominal_fine, s.identifiable, s.covered, s.misses)
              for s in results.scores]
    fits = [(u.profile, u.replays, u.rms_nominal, u.rms_fitted, u.explains_data, u.estimates)
            for u in results.unmodeled]
    return scores, fits, [name for name, _ in results.failed]


TINY = ProfileTrial(trajectories=2, seconds=1.0, fields="joint_gain_scale")


@pytest.mark.slow
def test_bench_calibrate_on_a_pool_gives_the_serial_numbers_and_keeps_a_failure(tmp_path):
    paths = _family(tmp_path)
    pooled = measure_profiles(paths, TINY, "pool", workers=2)
    assert _numbers(pooled) == _numbers(measure_profiles(paths, TINY, "serial"))
    assert len(pooled.scores) == 1 and len(pooled.unmodeled) == 1
    assert pooled.failed[0][0] == "c_broken" and "colour" in pooled.failed[0][1]


@pytest.mark.slow
@pytest.mark.skipif(NO_RAY, reason="Ray is not installed (pip install simreal[ray])")
def test_a_local_ray_with_two_cpus_evaluates_and_calibrates_as_serial(tmp_path):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        run = evaluate_in_chunks(ON_TARGET, 3, SEED, "ray", workers=2)
        paths = _family(tmp_path)
        on_ray = measure_profiles(paths, TINY, "ray", workers=2)
    finally:
        ray.shutdown()
    assert len(run.chunks) == 2 and run.result == _in_one_piece(3)
    assert _numbers(on_ray) == _numbers(measure_profiles(paths, TINY, "serial"))
    assert [name for name, _ in on_ray.failed] == ["c_broken"]
