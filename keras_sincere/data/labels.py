"""Class labels made ready for contrastive training."""

import numpy as np

from keras_sincere._validation import check_same_label_kind
from keras_sincere._validation import class_labels
from keras_sincere._validation import is_label_set_array
from keras_sincere._validation import label_sets


def encode_labels(*label_arrays) -> tuple:
    """Maps the labels of several splits to `0..C-1` with one shared code.

    Contrastive losses compare labels for equality only, but other code
    (class counts, kNN votes, the linear probe, JAX's 32-bit integers)
    needs small non-negative integers. The code is the rank of each label
    among the sorted distinct labels of all splits.

    Multi-hot label sets `(N, C)` (every split of the same `C`) are kept as
    they are, as int64 0/1, with `classes = arange(C)`.

    Args:
        *label_arrays: label arrays `(N,)` or `(N, 1)` of integers or strings,
            or multi-hot `(N, C)`.

    Returns:
        `(*encoded, classes)`: each split's labels as int64 `(N,)`, then the
        sorted distinct original labels, so that `classes[code]` is the
        original label.

    Example:

    >>> train, test, classes = encode_labels([10, 30, 10], [30, 20])
    >>> train.tolist(), test.tolist(), classes.tolist()
    ([0, 2, 0], [2, 1], [10, 20, 30])
    """
    if label_arrays and any(is_label_set_array(y) for y in label_arrays):
        return _encode_label_sets(label_arrays)
    arrays = [
        class_labels(labels, f"label_arrays[{index}]", allow_strings=True)
        for index, labels in enumerate(label_arrays)
    ]
    classes = np.unique(np.concatenate(arrays)) if arrays else np.array([])
    encoded = [np.searchsorted(classes, labels).astype("int64") for labels in arrays]
    return (*encoded, classes)


def _encode_label_sets(label_arrays) -> tuple:
    arrays = []
    for index, labels in enumerate(label_arrays):
        name = f"label_arrays[{index}]"
        arrays.append(label_sets(labels, name))
        check_same_label_kind(
            arrays[0].shape, arrays[-1].shape, ("label_arrays[0]", name)
        )
    return (*arrays, np.arange(arrays[0].shape[1]))


def check_contrastive_labels(labels, name: str = "y_train") -> None:
    """Raises a `ValueError` when `labels` cannot train a supervised contrastive loss.

    It needs at least two classes (with one, every other sample is a positive
    and there are no negatives: SINCERE's loss is 0 and nothing is learnt),
    and at least two samples of every class (a lone sample never meets a
    positive from another image).

    With multi-hot label sets `(N, C)` the needs read: some pair of samples
    shares a label (positives exist), some pair shares none (negatives
    exist), and every class that occurs occurs in at least two samples.

    Args:
        labels: training labels `(N,)` or `(N, 1)`, or multi-hot `(N, C)`.
        name: the argument's name in the message.
    """
    if is_label_set_array(labels):
        _check_contrastive_label_sets(label_sets(labels, name), name)
        return
    values, counts = np.unique(
        class_labels(labels, name, allow_strings=True), return_counts=True
    )
    if len(values) < 2:
        raise ValueError(
            f"`{name}` must hold at least 2 classes for supervised contrastive "
            f"training. Received {len(values)} class(es) in {int(counts.sum())} "
            "samples."
        )
    lone = values[counts < 2]
    if len(lone):
        shown = ", ".join(map(str, lone[:10])) + (" ..." if len(lone) > 10 else "")
        raise ValueError(
            f"`{name}` has {len(lone)} class(es) with a single sample ({shown}); "
            "every class needs at least 2 training samples. Drop or merge them."
        )


def _check_contrastive_label_sets(sets: np.ndarray, name: str) -> None:
    """`check_contrastive_labels` for multi-hot label sets (int 0/1 `(N, C)`)."""
    distinct = np.unique(sets, axis=0)
    # Two samples (of these distinct sets) that share no label: negatives.
    disjoint = (distinct @ distinct.T) == 0
    if not disjoint.any():
        raise ValueError(
            f"`{name}` must hold two samples whose label sets share no label, "
            "or there are no negatives to contrast with. Received "
            f"{len(distinct)} distinct label set(s) in {len(sets)} samples, every "
            "two of which share a label."
        )
    counts = sets.sum(axis=0)
    if not np.any(counts >= 2):
        raise ValueError(
            f"`{name}` must hold two samples that share a label, or no anchor "
            f"has a positive. Received label sets with per-class counts "
            f"{counts.tolist()}."
        )
    lone = np.flatnonzero(counts == 1)
    if len(lone):
        raise ValueError(
            f"`{name}` has {len(lone)} class(es) held by a single sample "
            f"({', '.join(map(str, lone[:10]))}); every class needs at least 2 "
            "training samples. Drop or merge them."
        )
