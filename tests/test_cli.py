import pytest

from simreal.cli import build_parser, main


def test_demo_prints_a_summary_table(capsys):
    assert main(["demo", "--episodes", "2", "--budget", "200"]) == 0
    out = capsys.readouterr().out
    for text in ("sim, nominal", "randomized", "target: laggy", "target: weak_motors", "source policy", "expert",
                 "adapt the control head", "zero-shot", "adapted head", "bridge", "server in another"):
        assert text in out


def test_bench_env_prints_rates_and_ratios(capsys):
    assert main(["bench", "env", "--steps", "100"]) == 0
    out = capsys.readouterr().out
    assert "stepSimulation only, same trajectories" in out
    assert "env / loop" in out


def test_list_shows_shipped_files(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "panda" in out and "weak_motors" in out and "tabletop" in out


def test_unknown_option_is_an_error(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--episdes", "3"])
    assert "--episdes" in capsys.readouterr().err
