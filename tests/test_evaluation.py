import pytest

from simreal.evaluation import EvaluationResult, wilson_interval


def test_wilson_reference_value():
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-4)
    assert high == pytest.approx(0.9433, abs=1e-4)


def test_wilson_edges_and_width():
    assert wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(20, 20)[1] == 1.0
    narrow = wilson_interval(180, 200)
    wide = wilson_interval(18, 20)
    assert narrow[1] - narrow[0] < wide[1] - wide[0]
    assert narrow[0] < 0.9 < narrow[1]
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_result_describes_rate_and_interval():
    result = EvaluationResult(episodes=50, successes=45, mean_length=20.0, mean_return=1.0)
    assert result.success_rate == 0.9
    assert "90.0%" in result.describe() and "50 episodes" in result.describe()
