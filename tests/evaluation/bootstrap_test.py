"""Paired bootstrap: known answers, the normal approximation, validation."""

import numpy as np
import pytest

from keras_sincere import evaluation


def test_identical_models_differ_by_nothing(rng):
    correct = rng.random(500) < 0.7
    result = evaluation.paired_bootstrap(correct, correct.copy())
    assert result["difference"] == 0.0
    assert result["low"] == result["high"] == 0.0
    assert not result["significant"]
    assert result["accuracy_a"] == result["accuracy_b"] == pytest.approx(correct.mean())


def test_always_right_against_always_wrong():
    result = evaluation.paired_bootstrap(np.ones(50, bool), np.zeros(50, bool), n=200)
    assert result["difference"] == result["low"] == result["high"] == 1.0
    assert result["significant"]
    reverse = evaluation.paired_bootstrap(np.zeros(50), np.ones(50), n=200)
    assert reverse["difference"] == -1.0 and reverse["significant"]


def test_interval_matches_the_normal_approximation(rng):
    """Resampled means of `d = a - b` are close to normal for large N.

    Paired models that agree on most samples: the interval is
    `mean(d) +- z * std(d) / sqrt(N)`, far narrower than for unpaired
    accuracies (sqrt(p(1-p)/N) each), which is what the pairing buys.
    """
    size = 4000
    a = rng.random(size) < 0.8
    b = a.copy()
    flip = rng.choice(size, 300, replace=False)
    b[flip] = ~b[flip]
    d = a.astype(float) - b.astype(float)
    result = evaluation.paired_bootstrap(a, b, n=2000, seed=3, confidence=0.95)
    standard_error = d.std() / np.sqrt(size)
    z = 1.959964
    assert result["difference"] == pytest.approx(d.mean())
    assert result["low"] == pytest.approx(
        d.mean() - z * standard_error, abs=0.3 * standard_error
    )
    assert result["high"] == pytest.approx(
        d.mean() + z * standard_error, abs=0.3 * standard_error
    )
    assert result["significant"] == (abs(d.mean()) > z * standard_error)
    # Unpaired accuracies would give an interval about twice as wide.
    unpaired = np.sqrt(a.var() / size + b.var() / size)
    assert unpaired > 1.8 * standard_error


def test_small_real_difference_is_not_significant(rng):
    a = rng.random(300) < 0.9
    b = a.copy()
    b[np.flatnonzero(a)[:2]] = False
    result = evaluation.paired_bootstrap(a, b)
    assert result["difference"] == pytest.approx(2 / 300)
    assert result["low"] <= 0.0 < result["high"]
    assert not result["significant"]


def test_seeded_and_wider_with_more_confidence(rng):
    a, b = rng.random(400) < 0.7, rng.random(400) < 0.6
    first = evaluation.paired_bootstrap(a, b, seed=5)
    assert first == evaluation.paired_bootstrap(a, b, seed=5)
    assert first != evaluation.paired_bootstrap(a, b, seed=6)
    wide = evaluation.paired_bootstrap(a, b, seed=5, confidence=0.99)
    assert wide["low"] < first["low"] and wide["high"] > first["high"]
    assert first["n"] == 1000 and first["confidence"] == 0.95


@pytest.mark.parametrize(
    "a, b, kwargs, message",
    [
        (np.ones(5), np.ones(4), {}, "same test samples: received 5 and 4"),
        (np.ones(0), np.ones(0), {}, "must not be empty"),
        (np.ones((5, 1)), np.ones((5, 1)), {}, r"shape \(N,\)"),
        (np.array([0, 2]), np.ones(2), {}, "booleans or 0/1"),
        (np.ones(5), np.ones(5), {"n": 0}, "`n` must be an integer >= 1"),
        (
            np.ones(5),
            np.ones(5),
            {"confidence": 1.0},
            r"`confidence` must be in \(0, 1\)",
        ),
    ],
)
def test_invalid_arguments(a, b, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluation.paired_bootstrap(a, b, **kwargs)
