"""Argument checks shared by the augmentation layers and pipelines."""

import math


def check_value_range(value_range) -> tuple[float, float]:
    """Returns `value_range` as floats `(low, high)` with `low < high`."""
    try:
        low, high = (float(bound) for bound in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            "`value_range` must be a pair of numbers (low, high). "
            f"Received: value_range={value_range!r}"
        ) from None
    if not (low < high and math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            "`value_range` must satisfy low < high. "
            f"Received: value_range={value_range!r}"
        )
    return low, high


def check_probability(value, name: str) -> float:
    """Returns `value` as a float in `[0, 1]`, or raises."""
    try:
        probability = float(value)
    except (TypeError, ValueError):
        probability = math.nan
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"`{name}` must be in [0, 1]. Received: {name}={value!r}")
    return probability
