"""Argument checks shared by the whole package: one rule per kind of argument.

Every check returns the value in its canonical type or raises a
`ValueError` worded the same way everywhere:
"`name` must be <rule>. Received: name=<value>".

The rules:

- integers are `int` or numpy integers, never `bool` and never floats,
  even whole ones (`2.0`): a float count usually means a computation went
  wrong upstream;
- numbers are finite reals (ints, floats, numpy scalars), never `bool`;
- flags are `bool` or `numpy.bool_` only (not `0`/`1`);
- class labels (concrete arrays) are integers or booleans; float arrays are
  accepted when every value is a whole number (labels read from CSV or
  `.npz` files often come as floats) and converted to int64; other floats,
  strings and objects are refused (strings only where a function maps them
  to `0..C-1` itself, with `allow_strings=True`).
"""

import math
import numbers
from collections.abc import Iterable

import keras
import numpy as np


def _received(name: str, value) -> str:
    return f"Received: {name}={value!r}"


def _typed(name: str, value) -> str:
    return f"Received: {name}={value!r} of type {type(value).__name__}"


def _rule(kind: str, minimum, maximum, exclusive_minimum: bool = False) -> str:
    """`kind` with its bounds, e.g. "an integer >= 0 and <= 3"."""
    bounds = []
    if minimum is not None:
        bounds.append(f"{'>' if exclusive_minimum else '>='} {minimum}")
    if maximum is not None:
        bounds.append(f"<= {maximum}")
    return " ".join([kind, " and ".join(bounds)]) if bounds else kind


def is_integer(value) -> bool:
    """True for `int` and numpy integers; `False` for bools and floats."""
    return isinstance(value, numbers.Integral) and not isinstance(
        value, (bool, np.bool_)
    )


def is_number(value) -> bool:
    """True for real numbers (ints, floats, numpy scalars); `False` for bools."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_integer(
    value,
    name: str,
    minimum: int | None = 1,
    maximum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Returns `value` as an `int` within `[minimum, maximum]`, or raises."""
    if value is None and allow_none:
        return None
    within = is_integer(value) and (
        (minimum is None or value >= minimum) and (maximum is None or value <= maximum)
    )
    if not within:
        rule = _rule("an integer", minimum, maximum) + (
            " or None" if allow_none else ""
        )
        raise ValueError(f"`{name}` must be {rule}. {_typed(name, value)}")
    return int(value)


def check_number(
    value,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """Returns `value` as a finite `float` within the bounds, or raises.

    `minimum` is inclusive unless `exclusive_minimum=True`; `maximum` is
    inclusive.
    """
    number = float(value) if is_number(value) else math.nan
    above = minimum is None or (
        number > minimum if exclusive_minimum else number >= minimum
    )
    below = maximum is None or number <= maximum
    if not (math.isfinite(number) and above and below):
        rule = _rule("a finite number", minimum, maximum, exclusive_minimum)
        raise ValueError(f"`{name}` must be {rule}. {_typed(name, value)}")
    return number


def check_positive(value, name: str) -> float:
    """Returns `value` as a finite float `> 0`, or raises."""
    return check_number(value, name, minimum=0.0, exclusive_minimum=True)


def check_non_negative(value, name: str) -> float:
    """Returns `value` as a finite float `>= 0`, or raises."""
    return check_number(value, name, minimum=0.0)


def check_probability(value, name: str) -> float:
    """Returns `value` as a float in `[0, 1]`, or raises."""
    return check_number(value, name, minimum=0.0, maximum=1.0)


def check_bool(value, name: str) -> bool:
    """Returns `value` as a `bool`, or raises if it is not one."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False. {_typed(name, value)}")
    return bool(value)


def check_choice(value, name: str, choices: Iterable):
    """Returns `value` if it is one of `choices`, or raises naming them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {', '.join(map(repr, choices))}. "
            f"{_received(name, value)}"
        )
    return value


def check_interval(
    value, name: str, low: float, high: float | None = None
) -> tuple[float, float]:
    """Returns a pair `(lower, upper)` with `low < lower <= upper <= high`."""
    try:
        lower, upper = (float(bound) for bound in value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a pair of numbers (lower, upper). "
            f"{_received(name, value)}"
        ) from None
    within = (
        low < lower <= upper
        and math.isfinite(upper)
        and (high is None or upper <= high)
    )
    if not within:
        bounds = f"({low}, {high}]" if high is not None else f"> {low}"
        raise ValueError(
            f"`{name}` must satisfy lower <= upper, both in {bounds}. "
            f"{_received(name, value)}"
        )
    return lower, upper


def check_value_range(value_range) -> tuple[float, float]:
    """Returns `value_range` as floats `(low, high)` with `low < high`."""
    try:
        low, high = (float(bound) for bound in value_range)
    except (TypeError, ValueError):
        raise ValueError(
            "`value_range` must be a pair of numbers (low, high). "
            f"{_received('value_range', value_range)}"
        ) from None
    if not (low < high and math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            "`value_range` must satisfy low < high. "
            f"{_received('value_range', value_range)}"
        )
    return low, high


def check_label_dtype(dtype, shape, name: str = "y_true") -> None:
    """Raises unless `dtype` can hold class labels (integer, bool or float).

    For tensors, whose values may not be readable (traced functions); the
    values of concrete arrays are checked by `class_labels`.
    """
    try:
        kind = keras.backend.standardize_dtype(dtype)
    except ValueError:  # strings, objects: no Keras dtype
        kind = str(dtype)
    if not (kind.startswith(("int", "uint", "float", "bfloat")) or kind == "bool"):
        raise ValueError(
            f"`{name}` must hold numeric (integer) class labels. Received: "
            f"{name} of dtype {kind} with shape {tuple(shape)}; map the "
            "labels to 0..C-1 first."
        )


def class_labels(
    labels, name: str, count: int | None = None, allow_strings: bool = False
) -> np.ndarray:
    """Checks concrete class labels `(N,)` or `(N, 1)` and returns them as `(N,)`.

    Integer and bool labels are returned as they are; float labels holding
    whole numbers become int64; strings are kept only with
    `allow_strings=True`.

    Args:
        labels: an array-like of labels.
        name: the argument's name in messages.
        count: the number of labels expected, or `None`.
        allow_strings: accept string labels (for functions that encode them).
    """
    array = np.asarray(labels)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must hold one integer label per sample, with shape (N,) "
            f"or (N, 1). Received: {name}.shape={array.shape}"
        )
    kind = array.dtype.kind
    accepted = "integers or strings" if allow_strings else "integers"
    if kind == "f":
        if array.size and not np.all(np.mod(array, 1) == 0):
            raise ValueError(
                f"`{name}` must hold class labels as {accepted}; float labels "
                f"must be whole numbers. Received: {name} of dtype {array.dtype} "
                f"with values such as {array[np.mod(array, 1) != 0][:3].tolist()}"
            )
        array = array.astype(np.int64)
    elif kind not in "iub" and not (allow_strings and kind in "US"):
        raise ValueError(
            f"`{name}` must hold class labels as {accepted}. "
            f"Received: {name} of dtype {array.dtype}"
        )
    if count is not None and array.shape[0] != count:
        raise ValueError(
            f"`{name}` must have one label per embedding: {array.shape[0]} "
            f"labels for {count} embeddings."
        )
    return array


def is_label_set_array(labels) -> bool:
    """Whether concrete labels are a matrix `(N, C)`, `C > 1`: multi-hot sets."""
    array = np.asarray(labels)
    return array.ndim == 2 and array.shape[1] > 1


def label_set_classes(shape) -> int | None:
    """The `C` of labels of shape `(N, C)`, or `None` for `(N,)` and `(N, 1)`.

    `None` means one integer label per sample; a number, multi-hot sets.
    """
    shape = tuple(shape)
    return shape[1] if len(shape) == 2 and shape[1] != 1 else None


def check_same_label_kind(shape_a, shape_b, names) -> None:
    """Raises unless labels of two shapes are of one kind.

    Both one integer label per sample, or both multi-hot label sets of the
    same number of classes `C`.

    Args:
        shape_a: the shape of the first labels.
        shape_b: the shape of the second.
        names: the two arguments' names, for the message.
    """
    classes = (label_set_classes(shape_a), label_set_classes(shape_b))
    if classes[0] != classes[1]:
        kinds = [
            "integer labels" if c is None else f"multi-hot with {c} classes"
            for c in classes
        ]
        raise ValueError(
            f"`{names[0]}` and `{names[1]}` must both be integer labels or both "
            f"multi-hot label sets of the same classes. Received: "
            f"{names[0]}.shape={tuple(shape_a)} ({kinds[0]}), "
            f"{names[1]}.shape={tuple(shape_b)} ({kinds[1]})"
        )


def label_sets(labels, name: str, count: int | None = None) -> np.ndarray:
    """Checks concrete multi-hot label sets `(N, C)` and returns them as int64 0/1.

    Each row is the set of classes of one sample (bool, integer or float 0/1
    values); a row of zeros is a sample with no label.

    Args:
        labels: an array-like `(N, C)`, `C > 1`.
        name: the argument's name in messages.
        count: the number of rows expected, or `None`.
    """
    array = np.asarray(labels)
    if not is_label_set_array(array):
        raise ValueError(
            f"`{name}` must be multi-hot label sets of shape (N, C) with C > 1. "
            f"Received: {name}.shape={array.shape}"
        )
    if array.dtype.kind not in "biuf" or not np.all(np.isin(array, (0, 1))):
        values = np.unique(array)
        odd = values[~np.isin(values, (0, 1))][:3].tolist()
        raise ValueError(
            f"`{name}` of shape (N, C) = {array.shape} is read as multi-hot label "
            f"sets and must hold only 0 and 1. Received: dtype {array.dtype}, "
            f"values such as {odd}. For one integer label per sample pass shape "
            "(N,)."
        )
    if count is not None and array.shape[0] != count:
        raise ValueError(
            f"`{name}` must have one label set per embedding: {array.shape[0]} "
            f"rows for {count} embeddings."
        )
    return array.astype(np.int64)
