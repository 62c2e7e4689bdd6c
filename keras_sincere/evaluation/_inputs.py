"""Conversion and checks of the arrays the evaluation functions take."""

import keras
import numpy as np

from keras_sincere._validation import class_labels
from keras_sincere._validation import is_label_set_array
from keras_sincere._validation import label_sets
from keras_sincere.ops import l2_normalize


def to_numpy(x) -> np.ndarray:
    """A numpy view of a numpy array, Python value or backend tensor.

    Python values keep numpy's own dtypes (float64 for floats), which
    `keras.ops.convert_to_numpy` would turn into the backend's float32.
    """
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float, bool, np.generic)):
        return np.asarray(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def array_of_rank(x, name: str, ndim: int, expected: str) -> np.ndarray:
    """`x` as numpy if it has `ndim` axes; `expected` describes it in the error."""
    array = to_numpy(x)
    if array.ndim != ndim:
        raise ValueError(
            f"`{name}` must be {expected}. Received: {name}.shape={array.shape}"
        )
    return array


def embeddings_array(x, name: str) -> np.ndarray:
    """Checks finite `(N, D)` embeddings and returns them as float32 numpy."""
    array = array_of_rank(x, name, 2, "embeddings of shape (N, D)")
    array = array.astype(np.float32, copy=False)
    finite = np.isfinite(array)
    if not finite.all():
        rows = int((~finite).any(axis=1).sum())
        raise ValueError(
            f"`{name}` holds NaN or infinite values in {rows} of its "
            f"{array.shape[0]} rows (shape {array.shape}); a model that diverged "
            "in training gives these. Metrics on them would be meaningless."
        )
    return array


def embedding_pair(a, b, names) -> tuple[np.ndarray, np.ndarray]:
    """`embeddings_array` of both, which must have the same dimension `D`."""
    name_a, name_b = names
    a, b = embeddings_array(a, name_a), embeddings_array(b, name_b)
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must have the same dimension. Received: "
            f"{name_a}.shape={a.shape}, {name_b}.shape={b.shape}"
        )
    return a, b


def labels_array(
    x, name: str, count: int | None = None, multi_hot: bool = False
) -> np.ndarray:
    """Class labels `(N,)` or `(N, 1)` (array or tensor) as numpy `(N,)`.

    `count`, when given, is the number of embeddings they label. With
    `multi_hot=True`, a matrix `(N, C)`, `C > 1`, of 0/1 values (bool,
    integer or float) is also accepted: label sets, returned as bool.
    """
    array = to_numpy(x)
    if multi_hot and is_label_set_array(array):
        return label_sets(array, name, count).astype(bool)
    return class_labels(array, name, count)


def same_labels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`(len(a), len(b))` bool: the same label, or label sets that intersect.

    `a` and `b` are both integer labels `(N,)` or both bool label sets
    `(N, C)` (from `labels_array`).
    """
    if a.ndim == 2:
        return (a.astype(np.float32) @ b.astype(np.float32).T) > 0
    return a[:, None] == b[None, :]


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Float32 numpy rows of norm 1; zero rows stay zero (similarity 0)."""
    return keras.ops.convert_to_numpy(l2_normalize(x))


def paired_arrays(check, values_a, values_b, names, agreement: str):
    """`check(values, name)` on both arrays, which must then have one shape.

    Args:
        check: a function `(values, name) -> numpy array` checking one side.
        values_a: the first array.
        values_b: the second array.
        names: the two argument names, for messages.
        agreement: what equal shapes mean, e.g. "score the same test
            samples", completing "`a` and `b` must ...".

    Returns:
        The two checked arrays.
    """
    name_a, name_b = names
    a, b = check(values_a, name_a), check(values_b, name_b)
    if a.shape != b.shape:
        raise ValueError(
            f"`{name_a}` and `{name_b}` must {agreement}: received {a.shape[0]} "
            f"and {b.shape[0]} values. Received: {name_a}.shape={a.shape}, "
            f"{name_b}.shape={b.shape}"
        )
    return a, b
