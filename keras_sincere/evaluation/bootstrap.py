"""Paired bootstrap of the accuracy difference of two classifiers (appendix M)."""

import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere._validation import is_number
from keras_sincere.evaluation._inputs import array_of_rank
from keras_sincere.evaluation._inputs import paired_arrays

# Resamples drawn at once: bounds memory at this many index rows.
_CHUNK = 64


def _correct_array(values, name: str) -> np.ndarray:
    array = array_of_rank(
        values, name, 1, "one correctness value per test sample, shape (N,)"
    )
    if array.dtype != bool and not np.all((array == 0) | (array == 1)):
        raise ValueError(f"`{name}` must hold booleans or 0/1 values.")
    return array.astype(np.float64)


def paired_bootstrap(
    correct_a,
    correct_b,
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Bootstrap confidence interval of `accuracy(a) - accuracy(b)` on one test set.

    The test of the paper's Tables 2, 5 and 6 (Foody, 2009): both models
    are scored on the same `N` test samples, so the samples are resampled
    in pairs. With `d_i = correct_a[i] - correct_b[i]`, each of the `n`
    resamples draws `N` indices `i_1 .. i_N` uniformly with replacement and
    records `mean_t d_{i_t}`; the interval is the `(1 - confidence) / 2`
    and `(1 + confidence) / 2` quantiles of those `n` values (the
    percentile bootstrap). The difference is significant when the interval
    excludes 0.

    Args:
        correct_a: booleans (or 0/1) `(N,)`: which test samples model `a`
            got right, e.g. from `knn_correct` or `linear_probe`.
        correct_b: the same for model `b`, on the same samples in the same
            order.
        n: number of bootstrap resamples (the paper used 1000).
        seed: seed of the resampling (numpy `default_rng`).
        confidence: interval coverage in `(0, 1)`.

    Returns:
        A dict with `difference` (accuracy of `a` minus that of `b` on the
        full test set), `low` and `high` (the interval), `significant`
        (`low > 0` or `high < 0`), `accuracy_a`, `accuracy_b`, `n` and
        `confidence`. Values are Python floats / bools.

    Example:

    >>> a = np.array([True] * 90 + [False] * 10)
    >>> b = np.array([True] * 60 + [False] * 40)
    >>> result = paired_bootstrap(a, b)
    >>> round(result["difference"], 2), result["significant"]
    (0.3, True)
    """
    a, b = paired_arrays(
        _correct_array,
        correct_a,
        correct_b,
        ("correct_a", "correct_b"),
        "score the same test samples",
    )
    if a.size == 0:
        raise ValueError("`correct_a` and `correct_b` must not be empty.")
    n = check_integer(n, "n")
    if not (is_number(confidence) and 0.0 < confidence < 1.0):
        raise ValueError(
            f"`confidence` must be in (0, 1). Received: confidence={confidence!r}"
        )
    differences = a - b
    count = differences.size
    rng = np.random.default_rng(seed)
    resampled = np.empty(n)
    for start in range(0, n, _CHUNK):
        stop = min(start + _CHUNK, n)
        indices = rng.integers(0, count, size=(stop - start, count))
        resampled[start:stop] = differences[indices].mean(axis=1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return {
        "difference": float(differences.mean()),
        "low": float(low),
        "high": float(high),
        "significant": bool(low > 0.0 or high < 0.0),
        "accuracy_a": float(a.mean()),
        "accuracy_b": float(b.mean()),
        "n": n,
        "confidence": float(confidence),
    }
