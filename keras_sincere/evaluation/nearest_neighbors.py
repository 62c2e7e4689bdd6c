"""Exact cosine nearest neighbours, one block of queries at a time."""

import numpy as np
from keras import ops

from keras_sincere._validation import check_integer
from keras_sincere._validation import is_integer
from keras_sincere.evaluation._inputs import embedding_pair
from keras_sincere.evaluation._inputs import embeddings_array
from keras_sincere.evaluation._inputs import unit_rows

DEFAULT_BLOCK_SIZE = 1024


def nearest_neighbors(
    query_embeddings,
    reference_embeddings=None,
    k: int = 1,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` most cosine-similar reference embeddings of each query, exactly.

    With both sets L2-normalised, `s_qj = z_q . r_j` is the cosine
    similarity of query `q` and reference `j`. The search runs over blocks
    of `block_size` queries: one `(block_size, N_ref)` block of similarities
    is computed with `keras.ops` (on the backend's device, GPU included) and
    reduced to its top `k` (`keras.ops.top_k`) before the next, so memory is
    `O(block_size * N_ref)` rather than the `O(N_query * N_ref)` of a dense
    search. `k` may be as large as the reference set (MAP@R needs the
    largest class).

    Ties are broken deterministically, whatever the backend and the block
    size: equal similarities rank by increasing reference index (the lower
    index is nearer, and enters the top `k` first when the `k`-th place is
    tied).

    Without `reference_embeddings`, the queries are their own reference
    and each query's own entry is left out of its neighbours (its other
    duplicates are not).

    Args:
        query_embeddings: `(N_query, D)` numpy array or backend tensor.
        reference_embeddings: `(N_ref, D)`, or `None` for the queries.
        k: neighbours per query, `1 <= k <= N_ref` (`N_ref - 1` without a
            reference set).
        block_size: queries per block, `>= 1`.

    Returns:
        `(indices, similarities)`: int64 and float32 numpy arrays of shape
        `(N_query, k)`, ranked from the nearest.

    Example:

    >>> reference = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> query = np.array([[1.0, 0.2]])
    >>> indices, similarities = nearest_neighbors(query, reference, k=2)
    >>> indices.tolist(), np.round(similarities.astype(float), 3).tolist()
    ([[0, 2]], [[0.981, 0.832]])
    """
    exclude_self = reference_embeddings is None
    if exclude_self:
        query = reference = embeddings_array(query_embeddings, "query_embeddings")
    else:
        query, reference = embedding_pair(
            query_embeddings,
            reference_embeddings,
            ("query_embeddings", "reference_embeddings"),
        )
    available = reference.shape[0] - int(exclude_self)
    if not (is_integer(k) and 1 <= k <= available):
        raise ValueError(
            f"`k` must be an integer between 1 and {available}, the reference "
            "embeddings each query can have as neighbours"
            + (" (itself left out)" if exclude_self else "")
            + f". Received: k={k!r}"
        )
    k = int(k)
    block_size = check_integer(block_size, "block_size")
    query, reference = unit_rows(query), unit_rows(reference)
    reference_t = ops.convert_to_tensor(np.ascontiguousarray(reference.T))
    indices = np.empty((query.shape[0], k), np.int64)
    similarities = np.empty((query.shape[0], k), np.float32)
    for start in range(0, query.shape[0], block_size):
        stop = min(start + block_size, query.shape[0])
        block = ops.matmul(ops.convert_to_tensor(query[start:stop]), reference_t)
        if exclude_self:
            block = _without_self(block, start)
        rows = _ranked_top_k(block, k)
        indices[start:stop], similarities[start:stop] = rows
    return indices, similarities


def _without_self(block, start: int):
    """`block` with each query's own column (`start + row`) at -inf."""
    rows = ops.arange(ops.shape(block)[0]) + start
    columns = ops.arange(ops.shape(block)[1])
    own = ops.equal(rows[:, None], columns[None, :])
    return ops.where(own, float("-inf"), block)


def _ranked_top_k(block, k: int):
    """The top `k` of each row of a backend block, under the tie rule.

    `ops.top_k` picks the `k` largest; backends differ in which of several
    equal values they pick at the `k`-th place, so rows with a tie across
    that place are redone in numpy, and every row is then ordered by
    decreasing similarity and increasing index.
    """
    values, indices = ops.top_k(block, k, sorted=True)
    values = ops.convert_to_numpy(values)
    indices = ops.convert_to_numpy(indices).astype(np.int64)
    kth = ops.convert_to_tensor(values[:, -1:])
    at_least_kth = ops.convert_to_numpy(ops.sum(ops.cast(block >= kth, "int32"), 1))
    tied = np.flatnonzero(at_least_kth > k)
    if tied.size:
        rows = ops.convert_to_numpy(ops.take(block, tied, axis=0))
        indices[tied], values[tied] = _exact_top_k(rows, k)
    order = np.lexsort((indices, -values), axis=1)
    return np.take_along_axis(indices, order, axis=1), np.take_along_axis(
        values, order, axis=1
    )


def _exact_top_k(rows: np.ndarray, k: int):
    """Numpy top `k` of each row, the lowest indices first among equal values."""
    # A stable sort of -value keeps equal values in index order.
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    return order.astype(np.int64), np.take_along_axis(rows, order, axis=1)
