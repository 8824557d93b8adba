"""``AdaptConfig``: the options of one adaptation run (and of ``simreal adapt``)."""

from __future__ import annotations

from dataclasses import dataclass

from ...options import option
from ...robot_reference import RobotAccessOptions
from ..episode_workers import check_n_envs

RECOVERY = 0.9  # a target is recovered when a head reaches this fraction of the in-sim success

# Supervised fit of a plain control head (relabel's defaults; also every head from scratch).
HEAD_EPOCHS = 40
HEAD_LEARNING_RATE = 3e-4


@dataclass
class AdaptConfig(RobotAccessOptions):
    """Adapt a policy's control head to a target robot (high level frozen)."""

    policy: str = option("panda_grasp", "shipped policy name or checkpoint folder")
    target: str = option("weak_motors", "the robot: a target profile name, a profile YAML, or a bridge endpoint "
                                        "(tcp://host:port) where a robot is served")
    budget: int = option(5000, "target control steps the adaptation may spend in total: collection and "
                               "validation; it stops early once a head passes the validation")
    method: str = option("relabel", "relabel (fine-tune the whole head), residual (a zero-initialised residual MLP "
                                    "over the frozen source head) or progressive (a new column with lateral links "
                                    "from the frozen source column) learn from relabeled target data; finetune-rl "
                                    "runs PPO on the head (the baseline); online runs the policy's RMA-style "
                                    "adaptation module in the control loop (no gradient steps; one warm-up "
                                    "episode, counted in the budget; needs a policy trained with it)")
    round_steps: int = option(500, "target control steps collected per round (exploring with the best head so far)")
    seed: int = option(0, "seed of every random choice")
    validation: str = option("sequential", "how heads are validated on the target: sequential (a sequential test "
                                           "that stops as soon as the answer is clear) or fixed (validation-episodes "
                                           "each)")
    validation_episodes: int = option(30, "episodes per head and round: exactly (fixed) or at most (sequential)")
    validation_error: float = option(0.05, "sequential test: the chance of passing a head whose success is at the "
                                           "threshold (lower: surer, but more episodes per pass)")
    scratch_candidate: bool = option(True, "also fit a randomly initialised head on the same target data; it "
                                           "competes with the adapted head (no extra collection)")
    eval_episodes: int = option(100, "seeded episodes per report measurement (in sim, zero-shot, final head, "
                                     "baseline): a measurement for the report, not part of adapting")
    eval_seed: int = option(3_000_000, "first seed of the report's measurement episodes")
    epochs: int = option(0, "supervised epochs per fit; 0 = the method's default (relabel 40, residual 15)")
    learning_rate: float = option(0.0, "learning rate of the last trainable layer; 0 = the method's default "
                                       "(relabel 3e-4, residual 1e-3)")
    freeze_layers: int = option(0, "keep the first k head layers fixed")
    layer_lr_decay: float = option(1.0, "each earlier layer trains at this factor of the next one's rate")
    early_stopping: bool = option(True, "keep each fit's epoch with the lowest held-out loss")
    refit_from_start: bool = option(False, "fit every round from the starting head on all data so far, "
                                           "instead of continuing from the previous round's head")
    joint_noise: float = option(0.03, "max std (rad) of exploration noise on joint targets")
    relabel_horizon: int = option(1, "credit targets with the TCP motion over this many steps; latency + 1 on "
                                     "a robot whose commands arrive late (see `simreal calibrate`)")
    gain_max: float = option(2.0, "max exploration gain on joint-target offsets")
    from_scratch: bool = option(True, "also run the from-scratch baseline: a random head adapted alone with the "
                                      "same budget on its own data (its target steps are reported apart)")
    out_dir: str = option("runs/adapt", "run folder: every target episode as it completes, report.json, the PNG "
                                        "and the adapted checkpoint")
    resume: bool = option(False, "continue the interrupted run in --out-dir: its episodes and finished "
                                 "measurements are read back, not run again (same options required)")
    n_envs: int = option(1, "collect on this many copies of a simulated target in worker processes (the same "
                            "episodes and numbers as with 1); a robot behind the bridge is one robot: 1 only")

    def __post_init__(self) -> None:
        check_n_envs(self.n_envs, "adapt options", self.target)
