"""The batched cosine-similarity blocks shared by the neighbour metrics.

`nearest_neighbors` reduces each block to its top k; the margin
(`nearest_target_noise`) to the largest similarity of each query's class and
of the others, which a top k of any fixed size would not always hold.
"""

import numpy as np
from keras import ops

from keras_sincere._validation import check_same_label_kind
from keras_sincere.evaluation._inputs import embedding_pair
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._inputs import unit_rows

DEFAULT_BATCH_SIZE = 1024


def check_search_inputs(
    train_embeddings, train_labels, query_embeddings, query_labels=None
):
    """Checks a train/query pair and returns numpy arrays of consistent shapes.

    Labels are integers `(N,)` or multi-hot label sets `(N, C)` (bool).

    Returns:
        `(train, train_labels, query, query_labels)`; `query_labels` is
        `None` when it was not given.
    """
    train, query = embedding_pair(
        train_embeddings, query_embeddings, ("train_embeddings", "query_embeddings")
    )
    if train.shape[0] == 0:
        raise ValueError("`train_embeddings` must hold at least one embedding.")
    train_labels = labels_array(
        train_labels, "train_labels", train.shape[0], multi_hot=True
    )
    if query_labels is not None:
        query_labels = labels_array(
            query_labels, "query_labels", query.shape[0], multi_hot=True
        )
        check_same_label_kind(
            train_labels.shape, query_labels.shape, ("train_labels", "query_labels")
        )
    return train, train_labels, query, query_labels


def similarity_batches(train: np.ndarray, query: np.ndarray, batch_size: int):
    """Yields `(start, stop, similarities)` over consecutive query batches.

    `similarities[i, j]` is the cosine similarity of query `start + i` and
    training embedding `j`, float32 numpy `(stop - start, N_train)`,
    computed by the backend (`keras.ops.matmul`): only one batch of the
    query-by-train matrix exists at a time. Both sets are L2-normalised by
    `keras_sincere.ops.l2_normalize`.
    """
    train_t = ops.convert_to_tensor(np.ascontiguousarray(unit_rows(train).T))
    # All queries at once: one backend call (JAX compiles per shape), and
    # the same unit rows whatever the batching.
    query = unit_rows(query)
    for start in range(0, query.shape[0], batch_size):
        stop = min(start + batch_size, query.shape[0])
        block = ops.matmul(ops.convert_to_tensor(query[start:stop]), train_t)
        yield start, stop, ops.convert_to_numpy(block)
