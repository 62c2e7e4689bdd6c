"""Weighted k-nearest-neighbour classification on cosine similarity (appendix M)."""

from collections.abc import Iterable

import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere._validation import check_same_label_kind
from keras_sincere._validation import is_integer
from keras_sincere.evaluation._inputs import embeddings_array
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._search import DEFAULT_BATCH_SIZE
from keras_sincere.evaluation._search import check_search_inputs
from keras_sincere.evaluation.nearest_neighbors import nearest_neighbors


def _check_ks(k, train_size: int) -> tuple[int, ...]:
    ks = (k,) if np.ndim(k) == 0 else tuple(k)
    if not ks:
        raise ValueError("`k` must name at least one neighbour count.")
    for value in ks:
        if not (is_integer(value) and 1 <= value <= train_size):
            raise ValueError(
                "`k` must be an integer between 1 and the number of training "
                f"embeddings ({train_size}). Received: k={k}"
            )
    return tuple(int(value) for value in ks)


def _vote(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The winning label code per row from ranked neighbours.

    `score[r, j]` is the total weight of the label of neighbour `j` among
    the row's neighbours; the first (nearest-ranked) neighbour whose label
    has the highest score gives the prediction.
    """
    same = codes[:, :, None] == codes[:, None, :]
    scores = np.sum(np.where(same, weights[:, None, :], 0.0), axis=2)
    first_best = np.argmax(scores == scores.max(axis=1, keepdims=True), axis=1)
    return np.take_along_axis(codes, first_best[:, None], axis=1)[:, 0]


def _knn_predictions(
    train_embeddings, train_labels, query_embeddings, ks, batch_size
) -> tuple[dict[int, np.ndarray], np.ndarray]:
    """Predictions for several `k` from one search; returns them and the labels."""
    train, train_labels, query, _ = check_search_inputs(
        train_embeddings, train_labels, query_embeddings
    )
    ks = _check_ks(ks, train.shape[0])
    batch_size = check_integer(batch_size, "batch_size")
    indices, values = nearest_neighbors(query, train, max(ks), block_size=batch_size)
    if train_labels.ndim == 2:
        return _label_set_votes(train_labels, indices, values, ks), train_labels
    classes, train_codes = np.unique(train_labels, return_inverse=True)
    predictions = {k: np.empty(query.shape[0], np.int64) for k in ks}
    # The vote holds (rows, k, k) booleans: a few thousand queries at a time.
    for start in range(0, query.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        codes = train_codes[indices[rows]]
        weights = values[rows].astype(np.float64)
        for k in ks:
            predictions[k][rows] = _vote(codes[:, :k], weights[:, :k])
    return {k: classes[codes] for k, codes in predictions.items()}, train_labels


def _label_set_votes(train_sets, indices, values, ks) -> dict[int, np.ndarray]:
    """Per `k`, the class of highest total weight among neighbours holding it.

    `score_q(c) = sum_{j in K_q, c in Y_j} s_qj`; the lowest class index
    wins a tie.
    """
    predictions = {}
    for k in ks:
        scores = np.einsum(
            "qk,qkc->qc",
            values[:, :k].astype(np.float64),
            train_sets[indices[:, :k]].astype(np.float64),
        )
        predictions[k] = np.argmax(scores, axis=1)
    return predictions


def _correct(predicted, query_labels) -> np.ndarray:
    """Whether each prediction is the query's label (or one of its set)."""
    if query_labels.ndim == 2:
        return query_labels[np.arange(predicted.shape[0]), predicted]
    return predicted == query_labels


def knn_classify(
    train_embeddings,
    train_labels,
    query_embeddings,
    k: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Labels of queries by a similarity-weighted vote of their k nearest neighbours.

    The classifier of the paper's appendix M (after Wu et al., 2018).
    Embeddings are L2-normalised, so `s_qj = z_q . z_j / (|z_q| |z_j|)` is
    the cosine similarity of query `q` and training embedding `j`. With
    `K_q` the `k` training embeddings of highest `s_qj`:

    ```
    score_q(c) = sum_{j in K_q, y_j = c} s_qj
    prediction_q = argmax_c score_q(c)
    ```

    The weights are the cosine similarities themselves (no temperature,
    no clipping); with `k=1` the prediction is the label of the nearest
    neighbour.

    With multi-hot label sets `(N_train, C)`, a neighbour votes for every
    class of its set, `score_q(c) = sum_{j in K_q, c in Y_j} s_qj`, and the
    prediction is the class index `argmax_c score_q(c)` (the lowest index
    wins a tie); `knn_correct` counts it correct when it is in the query's
    set, so a prediction "shares a label" with the query.

    Ties are broken deterministically, independently of `batch_size`:
    neighbours of equal similarity are ranked by their index in
    `train_embeddings` (the lower index is nearer, and enters `K_q` first
    when the `k`-th place is tied); labels with exactly equal scores are
    decided in favour of the label of the nearest-ranked neighbour.

    The search is `nearest_neighbors`, over blocks of `batch_size` queries:
    one `(batch_size, N_train)` float32 similarity block (plus its top-k) at
    a time, about `4 * batch_size * N_train` bytes, 0.2 GB for 1024 queries
    against 50,000 training embeddings.

    Args:
        train_embeddings: `(N_train, D)` numpy array or backend tensor.
        train_labels: integer labels `(N_train,)`, or multi-hot label sets
            `(N_train, C)`.
        query_embeddings: `(N_query, D)`.
        k: number of neighbours, `1 <= k <= N_train`.
        batch_size: queries per similarity block.

    Returns:
        Predicted labels `(N_query,)`, numpy, values from `train_labels`
        (class indices `0..C-1` for label sets).

    Example:

    >>> train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> knn_classify(train, np.array([0, 0, 1]), np.array([[0.2, 1.0]]), k=1)
    array([1])
    """
    predictions, train_labels = _knn_predictions(
        train_embeddings, train_labels, query_embeddings, k, batch_size
    )
    if train_labels.ndim == 2:
        return predictions[int(k)]
    return predictions[int(k)].astype(train_labels.dtype, copy=False)


def knn_correct(
    train_embeddings,
    train_labels,
    query_embeddings,
    query_labels,
    k: int = 1,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> np.ndarray:
    """Per-query correctness of `knn_classify`, as booleans `(N_query,)`.

    The input of `paired_bootstrap` when comparing two embedding models on
    the same queries. Arguments as in `knn_classify`, plus `query_labels`
    `(N_query,)` (or `(N_query, C)` label sets, of the same `C` as
    `train_labels`: correct when the prediction is in the query's set).

    Example:

    >>> train = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> knn_correct(train, [0, 1], np.array([[1.0, 0.1], [1.0, 0.2]]), [0, 1])
    array([ True, False])
    """
    query_labels = labels_array(query_labels, "query_labels", multi_hot=True)
    predictions, train_labels = _knn_predictions(
        train_embeddings, train_labels, query_embeddings, k, batch_size
    )
    predicted = predictions[int(k)]
    if predicted.shape[0] != query_labels.shape[0]:
        raise ValueError(
            "`query_labels` must have one label per query embedding: "
            f"{query_labels.shape[0]} labels for {predicted.shape[0]} queries."
        )
    check_same_label_kind(
        train_labels.shape, query_labels.shape, ("train_labels", "query_labels")
    )
    return _correct(predicted, query_labels)


def knn_accuracy(
    train_embeddings,
    train_labels,
    query_embeddings,
    query_labels,
    k: int | Iterable[int] = (1, 5),
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, float]:
    """Accuracy of `knn_classify` for one or several `k`, from a single search.

    Table 6 of the paper reports `k = 1` and `k = 5`. All `k` share one
    neighbour search (the top `max(k)` neighbours, whose first `k` are the
    `k` nearest under the same tie rule).

    Args:
        train_embeddings: `(N_train, D)`.
        train_labels: integer labels `(N_train,)`, or multi-hot
            `(N_train, C)` (see `knn_classify`).
        query_embeddings: `(N_query, D)`, `N_query >= 1`.
        query_labels: integer labels `(N_query,)`, or multi-hot
            `(N_query, C)`: a prediction in the query's set is correct.
        k: an integer or a sequence of integers.
        batch_size: queries per similarity block.

    Returns:
        `{"knn1": accuracy, "knn5": accuracy}` (one `"knn{k}"` entry per `k`),
        Python floats in `[0, 1]`.

    Example:

    >>> train = np.array([[1.0, 0.0], [0.9, 0.2], [0.0, 1.0]])
    >>> knn_accuracy(train, [0, 0, 1], np.array([[1.0, 0.1]]), [0], k=(1, 3))
    {'knn1': 1.0, 'knn3': 1.0}
    """
    query = embeddings_array(query_embeddings, "query_embeddings")
    query_labels = labels_array(
        query_labels, "query_labels", query.shape[0], multi_hot=True
    )
    if query.shape[0] == 0:
        raise ValueError("`query_embeddings` must hold at least one embedding.")
    predictions, train_labels = _knn_predictions(
        train_embeddings, train_labels, query, k, batch_size
    )
    check_same_label_kind(
        train_labels.shape, query_labels.shape, ("train_labels", "query_labels")
    )
    return {
        f"knn{k}": float(np.mean(_correct(predicted, query_labels)))
        for k, predicted in predictions.items()
    }
