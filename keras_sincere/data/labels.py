"""Class labels made ready for contrastive training."""

import numpy as np

from keras_sincere._validation import class_labels


def encode_labels(*label_arrays) -> tuple:
    """Maps the labels of several splits to `0..C-1` with one shared code.

    Contrastive losses compare labels for equality only, but other code
    (class counts, kNN votes, the linear probe, JAX's 32-bit integers)
    needs small non-negative integers. The code is the rank of each label
    among the sorted distinct labels of all splits.

    Args:
        *label_arrays: label arrays `(N,)` or `(N, 1)` of integers or strings.

    Returns:
        `(*encoded, classes)`: each split's labels as int64 `(N,)`, then the
        sorted distinct original labels, so that `classes[code]` is the
        original label.

    Example:

    >>> train, test, classes = encode_labels([10, 30, 10], [30, 20])
    >>> train.tolist(), test.tolist(), classes.tolist()
    ([0, 2, 0], [2, 1], [10, 20, 30])
    """
    arrays = [
        class_labels(labels, f"label_arrays[{index}]", allow_strings=True)
        for index, labels in enumerate(label_arrays)
    ]
    classes = np.unique(np.concatenate(arrays)) if arrays else np.array([])
    encoded = [np.searchsorted(classes, labels).astype("int64") for labels in arrays]
    return (*encoded, classes)


def check_contrastive_labels(labels, name: str = "y_train") -> None:
    """Raises a `ValueError` when `labels` cannot train a supervised contrastive loss.

    It needs at least two classes (with one, every other sample is a positive
    and there are no negatives: SINCERE's loss is 0 and nothing is learnt),
    and at least two samples of every class (a lone sample never meets a
    positive from another image).

    Args:
        labels: training labels `(N,)` or `(N, 1)`.
        name: the argument's name in the message.
    """
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
