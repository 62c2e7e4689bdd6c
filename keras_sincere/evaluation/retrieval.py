"""Metric-learning retrieval metrics: P@1, R-precision, MAP@R, Recall@k, NMI, AMI."""

from collections.abc import Iterable

import numpy as np

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_same_label_kind
from keras_sincere._validation import is_integer
from keras_sincere.evaluation._inputs import embeddings_array
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._inputs import same_labels
from keras_sincere.evaluation._inputs import unit_rows
from keras_sincere.evaluation.nearest_neighbors import DEFAULT_BLOCK_SIZE
from keras_sincere.evaluation.nearest_neighbors import nearest_neighbors


def retrieval_metrics(
    query_embeddings,
    query_labels,
    reference_embeddings=None,
    reference_labels=None,
    k: int | None = None,
    recall_ks: Iterable[int] = (1, 2, 4, 8),
    avg_of_avgs: bool = False,
    block_size: int = DEFAULT_BLOCK_SIZE,
    seed: int = 0,
    clustering: bool = True,
) -> dict:
    """Retrieval metrics of embeddings, as metric-learning papers report them.

    Each query retrieves the reference embeddings by decreasing cosine
    similarity (`nearest_neighbors`: exact, blockwise, ties ranked by
    increasing reference index). Without a reference set the queries are
    their own reference and each query's own entry is left out. A
    reference item is relevant to query `q` when it has `q`'s label;
    `R_q` is the number of them (`q` itself not counted), and `rel_q(i)` is
    1 when the `i`-th retrieved item is relevant. Over the queries with
    `R_q >= 1`:

    ```
    precision_at_1       = mean_q rel_q(1)
    r_precision          = mean_q (1 / R_q) sum_{i <= R_q} rel_q(i)
    mean_average_precision_at_r
                         = mean_q (1 / R_q) sum_{i <= R_q} rel_q(i) P_q(i),
                           P_q(i) = (1 / i) sum_{j <= i} rel_q(j)
    recall_at_k[k]       = mean_q [ max_{i <= k} rel_q(i) ]
    ```

    MAP@R is that of Musgrave et al. (2020, "A Metric Learning Reality
    Check", section 3.2); Recall@k is the metric-learning one (1 if any of
    the top `k` is relevant), not the information-retrieval recall. Queries
    whose label no reference item has (`R_q = 0`) are left out of these
    means and counted in `queries_without_relevant`.

    `nmi` and `ami` cluster the L2-normalised query embeddings with k-means
    (scikit-learn, as many clusters as query classes, `seed`, 10 starts)
    and compare the clusters with the labels (scikit-learn's
    `normalized_mutual_info_score` and `adjusted_mutual_info_score`).

    `avg_of_avgs=True` averages each retrieval metric over the queries of
    each class first, then over the classes (every class weighs the same).

    Multi-hot label sets `(N, C)` are accepted for both sets: a reference
    item is relevant to `q` when its set shares a label with `q`'s (the
    losses' positives), so `R_q` counts those items, and a query with an
    empty set has none. With sets, `avg_of_avgs` averages over the queries
    holding each class (a query counts once in each of its classes), and
    `nmi` / `ami` take each distinct label set as one class.

    Args:
        query_embeddings: `(N_q, D)` numpy array or backend tensor.
        query_labels: integer labels `(N_q,)`, or multi-hot `(N_q, C)`.
        reference_embeddings: `(N_r, D)`, or `None` to search the queries.
        reference_labels: `(N_r,)` (or `(N_r, C)` with multi-hot queries),
            with `reference_embeddings`.
        k: neighbours retrieved per query; `None` (default) retrieves the
            largest `R_q` and at least `max(recall_ks)`. A smaller `k` than
            that is an error (R-precision and MAP@R would be wrong).
        recall_ks: the `k` of Recall@k.
        avg_of_avgs: average per class first.
        block_size: queries per similarity block of the search.
        seed: seed of the k-means.
        clustering: compute `nmi` and `ami` (a k-means of the queries);
            `False` leaves them out.

    Returns:
        A dict: `"precision_at_1"`, `"r_precision"`,
        `"mean_average_precision_at_r"` (floats, NaN when no query has a
        relevant item), `"recall_at_k"` (`{k: float}`), `"nmi"`, `"ami"`
        (with `clustering`), `"queries_without_relevant"` (int).

    Example:

    >>> embeddings = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    >>> metrics = retrieval_metrics(embeddings, [0, 0, 1, 1], recall_ks=(1,))
    >>> metrics["precision_at_1"], metrics["mean_average_precision_at_r"]
    (1.0, 1.0)
    """
    query = embeddings_array(query_embeddings, "query_embeddings")
    query_labels = labels_array(
        query_labels, "query_labels", query.shape[0], multi_hot=True
    )
    self_search = reference_embeddings is None
    if self_search:
        if reference_labels is not None:
            raise ValueError(
                "`reference_labels` needs `reference_embeddings`. Received: "
                "reference_embeddings=None"
            )
        reference, reference_labels = query, query_labels
    else:
        reference = embeddings_array(reference_embeddings, "reference_embeddings")
        if reference_labels is None:
            raise ValueError(
                "`reference_embeddings` needs `reference_labels`. Received: "
                "reference_labels=None"
            )
        reference_labels = labels_array(
            reference_labels, "reference_labels", reference.shape[0], multi_hot=True
        )
        check_same_label_kind(
            query_labels.shape,
            reference_labels.shape,
            ("query_labels", "reference_labels"),
        )
    if query.shape[0] == 0:
        raise ValueError("`query_embeddings` must hold at least one embedding.")
    avg_of_avgs = check_bool(avg_of_avgs, "avg_of_avgs")
    clustering = check_bool(clustering, "clustering")
    available = reference.shape[0] - int(self_search)
    recall_ks = _checked_ks(recall_ks, "recall_ks", available)
    relevant = _relevant_counts(query_labels, reference_labels, self_search, block_size)
    needed = max(int(relevant.max()), max(recall_ks))
    if k is None:
        k = needed
    elif not (is_integer(k) and needed <= k <= available):
        raise ValueError(
            f"`k` must be an integer between {needed} (the largest number of "
            f"relevant items of a query, or of `recall_ks`) and {available}. "
            f"Received: k={k!r}"
        )
    indices, _ = nearest_neighbors(
        query, None if self_search else reference, int(k), block_size=block_size
    )
    hits = _hits(query_labels, reference_labels, indices)
    kept = relevant > 0
    per_query = _per_query_metrics(hits[kept], relevant[kept], recall_ks)
    labels = query_labels[kept]
    metrics = {
        name: _average(values, labels, avg_of_avgs)
        for name, values in per_query.items()
        if name != "recall_at_k"
    }
    metrics["recall_at_k"] = {
        k: _average(values, labels, avg_of_avgs)
        for k, values in per_query["recall_at_k"].items()
    }
    if clustering:
        metrics.update(_clustering_scores(query, query_labels, seed))
    metrics["queries_without_relevant"] = int(np.sum(~kept))
    return metrics


def _checked_ks(ks, name: str, available: int) -> tuple[int, ...]:
    ks = tuple(ks) if isinstance(ks, Iterable) else (ks,)
    if not ks or not all(is_integer(k) and 1 <= k <= available for k in ks):
        raise ValueError(
            f"`{name}` must be integers between 1 and {available} (the "
            f"reference items a query can retrieve). Received: {name}={ks!r}"
        )
    return tuple(sorted({int(k) for k in ks}))


def _relevant_counts(
    query_labels, reference_labels, self_search, block_size
) -> np.ndarray:
    """`R_q`: reference items with each query's label (itself not counted)."""
    if query_labels.ndim == 2:
        counts = np.concatenate(
            [
                np.sum(
                    same_labels(
                        query_labels[start : start + block_size], reference_labels
                    ),
                    axis=1,
                )
                for start in range(0, query_labels.shape[0], block_size)
            ]
        )
        # A query shares a label with itself unless its set is empty.
        own = query_labels.any(axis=1) if self_search else False
        return counts - own
    classes, counts = np.unique(reference_labels, return_counts=True)
    position = np.searchsorted(classes, query_labels)
    position = np.minimum(position, len(classes) - 1)
    found = classes[position] == query_labels
    relevant = np.where(found, counts[position], 0)
    return relevant - int(self_search)


def _hits(query_labels, reference_labels, indices) -> np.ndarray:
    """`(N_q, k)` bool: whether each retrieved item is relevant to its query."""
    if query_labels.ndim == 2:
        return (
            np.einsum(
                "qc,qkc->qk",
                query_labels.astype(np.float32),
                reference_labels[indices].astype(np.float32),
            )
            > 0
        )
    return reference_labels[indices] == query_labels[:, None]


def _per_query_metrics(hits, relevant, recall_ks) -> dict:
    """Each metric of each query from its ranked `hits` `(n, k)` and `R_q`."""
    ranks = np.arange(1, hits.shape[1] + 1)
    within_r = ranks[None, :] <= relevant[:, None]
    precision = np.cumsum(hits, axis=1) / ranks
    denominator = np.maximum(relevant, 1)
    return {
        "precision_at_1": hits[:, 0].astype(np.float64),
        "r_precision": np.sum(hits & within_r, axis=1) / denominator,
        "mean_average_precision_at_r": np.sum(precision * (hits & within_r), axis=1)
        / denominator,
        "recall_at_k": {
            k: np.any(hits[:, :k], axis=1).astype(np.float64) for k in recall_ks
        },
    }


def _average(values, labels, avg_of_avgs: bool) -> float:
    if values.size == 0:
        return float("nan")
    if not avg_of_avgs:
        return float(np.mean(values))
    if labels.ndim == 2:  # each class's queries: those whose set holds it
        members = [labels[:, c] for c in range(labels.shape[1]) if labels[:, c].any()]
    else:
        members = [labels == c for c in np.unique(labels)]
    return float(np.mean([np.mean(values[member]) for member in members]))


def _clustering_scores(query, labels, seed: int) -> dict:
    """NMI and AMI of k-means clusters of the unit queries against the labels."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score
    from sklearn.metrics import normalized_mutual_info_score

    if labels.ndim == 2:  # each distinct label set is one class
        labels = np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)
    classes = np.unique(labels).size
    points = unit_rows(query).astype(np.float64)
    clusters = min(classes, np.unique(points, axis=0).shape[0])
    assignment = KMeans(clusters, n_init=10, random_state=seed).fit_predict(points)
    return {
        "nmi": float(normalized_mutual_info_score(labels, assignment)),
        "ami": float(adjusted_mutual_info_score(labels, assignment)),
    }
