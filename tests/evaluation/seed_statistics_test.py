"""Across-seed intervals and paired differences: formulas, edges, validation."""

import math

import numpy as np
import pytest

from keras_sincere import evaluation


def test_interval_is_the_student_t_interval(rng):
    values = rng.normal(0.3, 0.05, size=5)
    result = evaluation.seed_interval(values)
    mean, std = values.mean(), values.std(ddof=1)
    half = 2.776 * std / math.sqrt(5)  # t_{0.975}(4)
    assert result["mean"] == pytest.approx(mean)
    assert result["std"] == pytest.approx(std)
    assert result["half_width"] == pytest.approx(half)
    assert (result["low"], result["high"]) == pytest.approx((mean - half, mean + half))
    assert result["n"] == 5


def test_t_quantile_beyond_the_table_approaches_the_normal_one(rng):
    values = rng.normal(size=200)
    result = evaluation.seed_interval(values)
    factor = result["half_width"] / (values.std(ddof=1) / math.sqrt(200))
    assert 1.9719 - 1e-3 < factor < 1.9719 + 1e-3  # t_{0.975}(199) = 1.97196


def test_intervals_cover_the_mean_about_95_percent_of_the_time(rng):
    covered = 0
    for _ in range(2000):
        result = evaluation.seed_interval(rng.normal(1.0, 2.0, size=3))
        covered += result["low"] <= 1.0 <= result["high"]
    assert 0.93 < covered / 2000 < 0.97


def test_one_seed_has_no_interval():
    result = evaluation.seed_interval([0.25])
    assert result["mean"] == result["low"] == result["high"] == 0.25
    assert math.isnan(result["half_width"]) and result["n"] == 1


def test_paired_difference_uses_the_per_seed_differences():
    a = np.array([0.30, 0.34, 0.32])
    b = np.array([0.15, 0.20, 0.16])
    result = evaluation.paired_seed_difference(a, b)
    expected = evaluation.seed_interval(a - b)
    for key in ("mean", "low", "high", "half_width"):
        assert result[key] == pytest.approx(expected[key])
    assert result["wins"] == 3 and result["significant"]
    reverse = evaluation.paired_seed_difference(b, a)
    assert reverse["wins"] == 0 and reverse["significant"] and reverse["mean"] < 0


def test_pairing_sees_a_difference_that_the_spread_between_seeds_hides():
    seed_effect = np.array([0.0, 0.3, -0.3, 0.15])
    a, b = 0.5 + seed_effect + 0.01, 0.5 + seed_effect
    separate = evaluation.seed_interval(a)
    assert separate["low"] < evaluation.seed_interval(b)["mean"]
    paired = evaluation.paired_seed_difference(a, b)
    assert paired["significant"] and paired["wins"] == 4


def test_equal_runs_are_not_significant():
    result = evaluation.paired_seed_difference([0.2, 0.3], [0.2, 0.3])
    assert result["mean"] == 0 and not result["significant"] and result["wins"] == 0
    one = evaluation.paired_seed_difference([0.9], [0.1])
    assert not one["significant"] and one["wins"] == 1


@pytest.mark.parametrize(
    "values, message",
    [([], "one value per seed"), ([[1.0, 2.0]], "one value per seed"),
     ([1.0, float("nan")], "finite")],
)  # fmt: skip
def test_bad_values_are_rejected(values, message):
    with pytest.raises(ValueError, match=message):
        evaluation.seed_interval(values)


def test_paired_values_must_match():
    with pytest.raises(ValueError, match="values_a.shape=\\(2,\\), values_b"):
        evaluation.paired_seed_difference([1.0, 2.0], [1.0, 2.0, 3.0])
