"""Target-noise separation of nearest neighbours (section 4.1, Table 1, appendix N)."""

import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._inputs import paired_arrays
from keras_sincere.evaluation._inputs import same_labels
from keras_sincere.evaluation._inputs import to_numpy
from keras_sincere.evaluation._search import DEFAULT_BATCH_SIZE
from keras_sincere.evaluation._search import check_search_inputs
from keras_sincere.evaluation._search import similarity_batches


def nearest_target_noise(
    train_embeddings,
    train_labels,
    query_embeddings,
    query_labels,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """Cosine similarity of each query to its nearest target and noise neighbour.

    For query `q` with label `y_q` and cosine similarities `s_qj` to the
    training embeddings (both sides L2-normalised):

    ```
    target_q = max_{j : y_j == y_q} s_qj     (nearest training image of its class)
    noise_q  = max_{j : y_j != y_q} s_qj     (nearest training image of another class)
    ```

    These are the two histograms of the paper's Fig. 2. Train and query
    sets are assumed disjoint (no query is excluded from its own search).
    The search is batched over queries as in `knn_classify`.

    With multi-hot label sets `Y`, the targets of `q` are the training
    embeddings whose set shares a label with `Y_q` and its noise those whose
    set shares none (the losses' positives and negatives):
    `target_q = max_{j : Y_j & Y_q != {}} s_qj`,
    `noise_q = max_{j : Y_j & Y_q = {}} s_qj`. A query with no target (an
    empty set) or no noise (a set that meets every training set) gets NaN
    there, and `separation_margin` leaves it out.

    Args:
        train_embeddings: `(N_train, D)` numpy array or backend tensor.
        train_labels: integer labels `(N_train,)`, or multi-hot `(N_train, C)`.
        query_embeddings: `(N_query, D)`.
        query_labels: integer labels `(N_query,)`; each must occur in
            `train_labels`, and `train_labels` must hold another class too.
            Or multi-hot `(N_query, C)`: at least one query needs both a
            training embedding that shares a label with it and one that
            shares none.
        batch_size: queries per similarity block.

    Returns:
        `(target, noise)`, float32 numpy arrays `(N_query,)`.

    Example:

    >>> train = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> target, noise = nearest_target_noise(train, [0, 1], [[1.0, 1.0]], [0])
    >>> np.round(target, 3), np.round(noise, 3)
    (array([0.707], dtype=float32), array([0.707], dtype=float32))
    """
    train, train_labels, query, query_labels = check_search_inputs(
        train_embeddings, train_labels, query_embeddings, query_labels
    )
    batch_size = check_integer(batch_size, "batch_size")
    if train_labels.ndim == 2:
        return _nearest_target_noise_of_sets(
            train, train_labels, query, query_labels, batch_size
        )
    classes = np.unique(train_labels)
    missing = np.setdiff1d(np.unique(query_labels), classes)
    if missing.size:
        raise ValueError(
            "Every query label needs training embeddings of its class (the "
            f"target). Labels missing from `train_labels`: {missing.tolist()}"
        )
    if query.shape[0] and classes.size < 2:
        raise ValueError(
            "`train_labels` must hold at least two classes, so every query has "
            f"noise neighbours. Received one class: {classes.tolist()}"
        )
    target = np.empty(query.shape[0], np.float32)
    noise = np.empty(query.shape[0], np.float32)
    for start, stop, similarities in similarity_batches(train, query, batch_size):
        same = query_labels[start:stop, None] == train_labels[None, :]
        target[start:stop] = np.max(np.where(same, similarities, -np.inf), axis=1)
        noise[start:stop] = np.max(np.where(same, -np.inf, similarities), axis=1)
    return target, noise


def _nearest_target_noise_of_sets(train, train_labels, query, query_labels, size):
    """`nearest_target_noise` for multi-hot label sets (bool `(N, C)`).

    NaN where a query has no target or no noise.
    """
    target = np.empty(query.shape[0], np.float32)
    noise = np.empty(query.shape[0], np.float32)
    for start, stop, similarities in similarity_batches(train, query, size):
        same = same_labels(query_labels[start:stop], train_labels)
        for values, mask in ((target, same), (noise, ~same)):
            nearest = np.max(np.where(mask, similarities, -np.inf), axis=1)
            values[start:stop] = np.where(mask.any(axis=1), nearest, np.nan)
    if query.shape[0] and not np.any(np.isfinite(target) & np.isfinite(noise)):
        raise ValueError(
            "No query has both a training embedding that shares a label with it "
            "(a target) and one that shares none (noise): the label sets of "
            "`query_labels` and `train_labels` leave no margin to measure."
        )
    return target, noise


def _flat_values(values, name: str) -> np.ndarray:
    return to_numpy(values).astype(np.float64).reshape(-1)


def _check_pair(target, noise):
    target, noise = paired_arrays(
        _flat_values,
        target,
        noise,
        ("target", "noise"),
        "be of the same length (one value per query)",
    )
    if target.size == 0:
        raise ValueError(
            "`target` and `noise` must be non-empty (one value per query)."
        )
    return target, noise


def separation_margin(target, noise) -> float:
    """Median target similarity minus median noise similarity (Table 1).

    ```
    margin = median_q(target_q) - median_q(noise_q)
    ```

    The distance between the dotted lines of Fig. 2; larger is better.
    Queries whose target or noise is NaN (label sets without a target or
    without noise, see `nearest_target_noise`) are left out of both medians.

    Args:
        target: `(N_query,)` from `nearest_target_noise`.
        noise: `(N_query,)` from `nearest_target_noise`.

    Returns:
        The margin, a Python float.

    Example:

    >>> separation_margin(np.array([1.0, 0.5, 0.75]), np.array([0.25, 0.0, 0.5]))
    0.5
    """
    target, noise = finite_pairs(*_check_pair(target, noise))
    return float(np.median(target) - np.median(noise))


def finite_pairs(target, noise):
    """The queries whose target and noise are both numbers (not NaN)."""
    kept = np.isfinite(target) & np.isfinite(noise)
    if not kept.any():
        raise ValueError(
            "`target` and `noise` hold no query with both values (all NaN)."
        )
    return target[kept], noise[kept]


def per_class_margins(target, noise, query_labels) -> dict[int, float]:
    """`separation_margin` over the queries of each class (appendix N, Fig. 3).

    ```
    margin(c) = median_{q : y_q = c}(target_q) - median_{q : y_q = c}(noise_q)
    ```

    Args:
        target: `(N_query,)` from `nearest_target_noise`.
        noise: `(N_query,)` from `nearest_target_noise`.
        query_labels: integer labels `(N_query,)`.

    Returns:
        `{label: margin}` for each label in `query_labels`, in increasing
        label order (Python ints and floats).

    Example:

    >>> per_class_margins([1.0, 0.5, 0.75], [0.25, 0.25, 0.5], [0, 0, 1])
    {0: 0.5, 1: 0.25}
    """
    target, noise = _check_pair(target, noise)
    labels = labels_array(query_labels, "query_labels", target.size)
    return {
        label.item(): separation_margin(target[labels == label], noise[labels == label])
        for label in np.unique(labels)
    }
