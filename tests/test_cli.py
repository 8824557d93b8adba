import pytest

from simreal.cli import build_parser, main


def test_demo_prints_a_summary_table_and_writes_its_clip(capsys, tmp_path):
    assert main(["demo", "--episodes", "2", "--budget", "200", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for text in ("sim, nominal", "randomized", "target: laggy", "target: weak_motors", "source policy", "expert",
                 "adapt the control head", "zero-shot", "adapted head", "bridge", "server in another", "clip:"):
        assert text in out
    import imageio.v3 as iio

    from simreal.video import VIDEO_SIZE

    frames = iio.imread(tmp_path / "side_by_side.gif")
    assert frames.shape[0] > 1 and frames.shape[1:] == (VIDEO_SIZE[1], 2 * VIDEO_SIZE[0], 3)  # two, side by side


def test_bench_env_prints_rates_and_ratios(capsys):
    assert main(["bench", "env", "--steps", "100"]) == 0
    out = capsys.readouterr().out
    assert "stepSimulation only, same trajectories" in out
    assert "env / loop" in out


def test_list_shows_shipped_files(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "panda" in out and "weak_motors" in out and "tabletop" in out
    assert "policies: panda_grasp, panda_grasp_latency, xarm6_grasp" in out


def test_unknown_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--episdes", "3"])
    assert "--episdes" in capsys.readouterr().err


def test_evaluate_reports_success_on_a_target_and_in_sim(capsys):
    assert main(["evaluate", "--target", "soft_shoulder", "--episodes", "5"]) == 0
    assert "target soft_shoulder: success 0.0%" in capsys.readouterr().out  # the profile hurts zero-shot
    assert main(["evaluate", "--episodes", "5", "--randomization", "none"]) == 0
    assert "simulation (none): success 100.0%" in capsys.readouterr().out


def test_bad_input_is_a_message_and_exit_code_2(tmp_path, capsys):
    assert main(["evaluate", "--target", "no_such_profile"]) == 2
    assert "no target named 'no_such_profile'" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nrobot: panda\ndescription: y\ndynamics: {actuator_gain: -1}\n")
    assert main(["evaluate", "--target", str(broken)]) == 2
    out = capsys.readouterr().out
    assert "broken.yaml" in out and "dynamics.actuator_gain" in out


def test_error_messages_are_printed_verbatim_not_as_markup(tmp_path, capsys):
    broken = tmp_path / "ranges.yaml"  # the expectation text holds "[low, high]"
    broken.write_text("name: r\nranges:\n  actuator_gain: [1.2, 0.8]\n")
    assert main(["train", "--randomization", str(broken), "--run-dir", str(tmp_path / "run")]) == 2
    assert "[low, high] with low <= high" in capsys.readouterr().out


def test_help_and_list_start_without_torch_and_read_as_user_text():
    """`simreal --help` and `simreal list` import neither torch nor SB3 (they start in well under
    a second); a verb's help prints percentages as written."""
    import subprocess
    import sys

    probe = ("import sys, contextlib, io\n"
             "from simreal.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    main(['list'])\n"
             "    try:\n"
             "        main(['--help'])\n"
             "    except SystemExit:\n"
             "        pass\n"
             "print(sorted(m for m in ('torch', 'stable_baselines3', 'scipy.stats') if m in sys.modules))\n")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"
    text = subprocess.run([sys.executable, "-m", "simreal.cli", "expert", "--help"], capture_output=True,
                          text=True).stdout
    assert "95 %" in text and "%%" not in text and "``" not in text


def test_lazy_verbs_summaries_are_their_options_first_docstring_line():
    from simreal.cli import VERBS

    for name, verb in VERBS.items():
        if verb.summary:
            assert verb.summary == (verb.options().__doc__ or "").strip().splitlines()[0], name


def test_expert_predictive_grasps_the_xarm6_through_the_reference_controller(capsys):
    """The pair simreal train imitates grasps the add-your-robot example on seeded episodes."""
    assert main(["expert", "--env", "simreal/XArm6Grasp-v0", "--predictive", "--randomization", "latency",
                 "--episodes", "10"]) == 0
    out = capsys.readouterr().out
    assert "predictive expert, reference controller" in out and "success 100.0%" in out
