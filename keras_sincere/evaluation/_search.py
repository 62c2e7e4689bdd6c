"""The batched cosine-similarity search shared by the neighbour metrics."""

import numpy as np

from keras_sincere.evaluation._inputs import embeddings_array
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._inputs import unit_rows

DEFAULT_BATCH_SIZE = 1024


def check_search_inputs(
    train_embeddings, train_labels, query_embeddings, query_labels=None
):
    """Checks a train/query pair and returns numpy arrays of consistent shapes.

    Returns:
        `(train, train_labels, query, query_labels)`; `query_labels` is
        `None` when it was not given.
    """
    train = embeddings_array(train_embeddings, "train_embeddings")
    query = embeddings_array(query_embeddings, "query_embeddings")
    if train.shape[1] != query.shape[1]:
        raise ValueError(
            "`train_embeddings` and `query_embeddings` must have the same "
            f"dimension. Received: train_embeddings.shape={train.shape}, "
            f"query_embeddings.shape={query.shape}"
        )
    if train.shape[0] == 0:
        raise ValueError("`train_embeddings` must hold at least one embedding.")
    train_labels = labels_array(train_labels, "train_labels", train.shape[0])
    if query_labels is not None:
        query_labels = labels_array(query_labels, "query_labels", query.shape[0])
    return train, train_labels, query, query_labels


def similarity_batches(train: np.ndarray, query: np.ndarray, batch_size: int):
    """Yields `(start, stop, similarities)` over consecutive query batches.

    `similarities[i, j]` is the cosine similarity of query `start + i` and
    training embedding `j`, float32 `(stop - start, N_train)`: only one
    batch of the query-by-train matrix exists at a time. Both sets are
    L2-normalised by `keras_sincere.ops.l2_normalize`.
    """
    train_t = np.ascontiguousarray(unit_rows(train).T)
    # All queries at once: one backend call (JAX compiles per shape), and
    # the same unit rows whatever the batching.
    query = unit_rows(query)
    for start in range(0, query.shape[0], batch_size):
        stop = min(start + batch_size, query.shape[0])
        yield start, stop, query[start:stop] @ train_t
