"""Array checks and the batched cosine-similarity search shared by the metrics."""

import keras
import numpy as np

DEFAULT_BATCH_SIZE = 1024


def to_numpy(x) -> np.ndarray:
    """A numpy view of a numpy array, list or tensor of the active backend."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple, int, float, bool, np.generic)):
        return np.asarray(x)
    return np.asarray(keras.ops.convert_to_numpy(x))


def embeddings_array(x, name: str) -> np.ndarray:
    """Checks `(N, D)` embeddings and returns them as float32 numpy."""
    array = to_numpy(x)
    if array.ndim != 2:
        raise ValueError(
            f"`{name}` must be embeddings of shape (N, D). "
            f"Received: {name}.shape={array.shape}"
        )
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


def labels_array(x, name: str, count: int | None = None) -> np.ndarray:
    """Checks integer labels `(N,)` or `(N, 1)` and returns them as `(N,)`."""
    array = to_numpy(x)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(
            f"`{name}` must hold one integer label per sample, with shape (N,) "
            f"or (N, 1). Received: {name}.shape={array.shape}"
        )
    if not (np.issubdtype(array.dtype, np.integer) or array.dtype == bool):
        if array.size and not np.all(np.equal(np.mod(array, 1), 0)):
            raise ValueError(
                f"`{name}` must hold integer class labels. "
                f"Received values of dtype {array.dtype}."
            )
        array = array.astype(np.int64)
    if count is not None and array.shape[0] != count:
        raise ValueError(
            f"`{name}` must have one label per embedding: {array.shape[0]} "
            f"labels for {count} embeddings."
        )
    return array


def check_batch_size(batch_size) -> int:
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(
            f"`batch_size` must be an integer >= 1. Received: batch_size={batch_size}"
        )
    return int(batch_size)


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


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Unit rows in float32; zero rows stay zero (similarity 0 to everything)."""
    x = x.astype(np.float32, copy=False)
    norms = np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    return (x / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def similarity_batches(train: np.ndarray, query: np.ndarray, batch_size: int):
    """Yields `(start, stop, similarities)` over consecutive query batches.

    `similarities[i, j]` is the cosine similarity of query `start + i` and
    training embedding `j`, float32 `(stop - start, N_train)`: only one
    batch of the query-by-train matrix exists at a time.
    """
    train = l2_normalize(train)
    train_t = np.ascontiguousarray(train.T)
    for start in range(0, query.shape[0], batch_size):
        stop = min(start + batch_size, query.shape[0])
        yield start, stop, l2_normalize(query[start:stop]) @ train_t
