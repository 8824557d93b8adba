"""Closing the loop: a head adapted against the *calibrated* simulator, with no target
transitions beyond the calibration recording, beats the source head on the real target."""

from pathlib import Path

import pytest

from simreal.calibration import record, run_calibration
from simreal.envs import time_limited_grasp_env
from simreal.evaluation import evaluate
from simreal.learn.adapt import AdaptConfig, adapt, load_policy
from simreal.learn.transfer import better_with_confidence
from simreal.policy.head import head_controller


def _success_on(policy, target, episodes: int = 40):
    """Success on a target profile (by name) or on a given Robot."""
    where = {"target": target} if isinstance(target, str) else {"robot": target}
    env = time_limited_grasp_env(**{"robot": policy.spec.name, **where}, controller=head_controller(policy.head),
                                 randomization=None)
    try:
        return evaluate(env, policy.act, episodes, 3_000_000)
    finally:
        env.close()


@pytest.mark.slow
def test_head_adapted_in_the_calibrated_sim_beats_the_source_head_on_the_target(tmp_path):
    record("weak_motors", tmp_path / "weak.npz", trajectories=4, seconds=6.0, seed=0)
    calibration = run_calibration("panda", [tmp_path / "weak.npz"], ["actuator_gain", "force_limit"], "weak_fit",
                                  tmp_path / "fitted", seed=0)
    fitted = calibration.paths["profile"]
    config = AdaptConfig(target=str(fitted), eval_episodes=20, from_scratch=False)
    adapted = adapt(config)
    assert adapted.accepted  # in the calibrated simulator
    source = load_policy("panda_grasp")
    before = _success_on(source, "weak_motors")
    after = _success_on(adapted.policy, "weak_motors")  # the real target was never used for training
    assert better_with_confidence(after, before)[0], (before.describe(), after.describe())
    assert after.success_rate >= 0.9


@pytest.mark.slow
def test_fitted_encoder_offsets_corrected_in_the_driver_fix_the_miscalibrated_target(tmp_path):
    """No head can undo an encoder bias (the high level steers by the biased joints); the
    offsets calibration fits, taken out in the driver, do."""
    from simreal.calibration.correction import EncoderCorrection, encoder_offsets_from
    from simreal.targets import PerturbedTarget

    record("miscalibrated", tmp_path / "mis.npz", trajectories=4, seconds=6.0, seed=0)  # still postures, a push
    calibration = run_calibration("panda", [tmp_path / "mis.npz"], ["joint_offset"], "mis_fit", tmp_path / "fitted",
                                  seed=0)
    source = load_policy("panda_grasp")
    offsets = encoder_offsets_from(calibration.paths["profile"], "panda", source.spec.dof)
    before = _success_on(source, "miscalibrated")
    after = _success_on(source, EncoderCorrection(PerturbedTarget("miscalibrated"), offsets))
    assert better_with_confidence(after, before)[0], (before.describe(), after.describe())
    assert after.success_rate >= 0.9


def test_bench_closing_loop_adapts_against_each_fitted_profile_and_reports_the_median_gain(monkeypatch, capsys):
    """The wiring of ``simreal bench calibrate --closing-loop``: each calibrated profile's fit is
    what the head adapts against, and the table's median is over the profiles' gains."""
    import simreal.calibration.bench as blind
    import simreal.calibration.closing_loop as closing
    from simreal.cli import main
    from simreal.evaluation import EvaluationResult

    fitted = []

    def bench(path, seed, workers, trajectories, seconds, out_dir):
        assert out_dir  # the fits are kept for the loop
        return blind.Score(path.stem, fitted=Path(out_dir) / f"{path.stem}_fit.yaml", path=path)

    def loop(target, fit, episodes):
        fitted.append((Path(target).stem, Path(fit).name, episodes))
        after = {"weak_motors": 9, "laggy": 4, "heavy_payload": 6}[Path(target).stem]
        before = EvaluationResult(10, 2, 50.0, 0.0)
        return closing.ClosedLoop(str(target), before, EvaluationResult(10, after, 50.0, 0.0))

    monkeypatch.setattr(blind, "bench_profile", bench)
    monkeypatch.setattr(closing, "close_the_loop", loop)
    assert main(["bench", "calibrate", "--targets", "weak_motors,laggy,heavy_payload", "--closing-loop",
                 "--episodes", "10"]) == 0
    assert fitted == [("weak_motors", "weak_motors_fit.yaml", 10), ("laggy", "laggy_fit.yaml", 10),
                      ("heavy_payload", "heavy_payload_fit.yaml", 10)]
    out = capsys.readouterr().out
    assert "+70%" in out and "+20%" in out and "median" in out and "+40%" in out
