"""Across-seed summaries: a mean with its t interval, and paired differences."""

import math

import numpy as np

from keras_sincere.evaluation._inputs import paired_arrays
from keras_sincere.evaluation._inputs import to_numpy

# Two-sided 95% quantiles of Student's t, t_{0.975}(df), for df = 1..30.
_T_975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip
_Z_975 = 1.959964


def _t_quantile(df: int) -> float:
    """`t_{0.975}(df)`: the table up to 30, then the Cornish-Fisher term."""
    if df <= len(_T_975):
        return _T_975[df - 1]
    return _Z_975 + (_Z_975**3 + _Z_975) / (4 * df)


def _seed_values(values, name: str) -> np.ndarray:
    array = to_numpy(values).astype(np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"`{name}` must be one value per seed, shape (S,) with S >= 1. "
            f"Received: {name}.shape={array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"`{name}` must be finite. Received: {name}={array}")
    return array


def seed_interval(values) -> dict:
    """Mean of one figure over seeds, with its 95% t interval.

    With `S` values `x_s` (one per seed), mean `m` and sample standard
    deviation `s` (`ddof=1`), the interval is
    `m -/+ t_{0.975}(S - 1) * s / sqrt(S)`: the usual interval for the mean
    of a normal population, the honest choice with 3 to 10 seeds (a
    bootstrap over so few values is too narrow). One seed gives no interval
    (`low = high = m`, `half_width = nan`).

    Args:
        values: one value per seed, `(S,)`.

    Returns:
        A dict with `mean`, `low`, `high`, `half_width`, `std` and `n`.

    Example:

    >>> interval = seed_interval([0.30, 0.34, 0.32])
    >>> round(interval["mean"], 3), round(interval["half_width"], 3)
    (0.32, 0.05)
    """
    array = _seed_values(values, "values")
    mean = float(array.mean())
    count = int(array.size)
    if count == 1:
        return {
            "mean": mean,
            "low": mean,
            "high": mean,
            "half_width": math.nan,
            "std": math.nan,
            "n": 1,
        }
    std = float(array.std(ddof=1))
    half = _t_quantile(count - 1) * std / math.sqrt(count)
    return {
        "mean": mean,
        "low": mean - half,
        "high": mean + half,
        "half_width": half,
        "std": std,
        "n": count,
    }


def paired_seed_difference(values_a, values_b) -> dict:
    """How `a` differs from `b` across seeds, each seed a pair.

    Both runs of a seed share its initialisation and data order, so the
    per-seed differences `d_s = a_s - b_s` are summarised (`seed_interval`
    of `d`) rather than the two means separately. `wins` counts the seeds
    with `a_s > b_s`. The difference is called significant when the
    interval excludes 0 (needs at least 2 seeds).

    Args:
        values_a: one value per seed, `(S,)`.
        values_b: the same figure of the other run, same seeds and order.

    Returns:
        `seed_interval(d)` plus `wins` and `significant`.

    Example:

    >>> result = paired_seed_difference([0.30, 0.34, 0.32], [0.15, 0.20, 0.16])
    >>> result["wins"], result["significant"]
    (3, True)
    """
    a, b = paired_arrays(
        _seed_values,
        values_a,
        values_b,
        ("values_a", "values_b"),
        "hold one value per seed for the same seeds",
    )
    summary = seed_interval(a - b)
    summary["wins"] = int(np.sum(a > b))
    summary["significant"] = bool(
        summary["n"] > 1 and (summary["low"] > 0 or summary["high"] < 0)
    )
    return summary
