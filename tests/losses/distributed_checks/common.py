"""Shared by the distributed checks: data, losses and the comparison."""

import numpy as np

GLOBAL_BATCH = 8
FEATURES = 6
EMBEDDING_DIM = 5


def batch(views, seed=0):
    """A global batch whose positives are mostly on the other replicas.

    With the batch split in halves, each half holds classes 0-3 once (and
    class 0 again in the last sample): with one view, nearly every positive
    of an anchor is on the other replica.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(GLOBAL_BATCH, views, FEATURES)).astype("float32")
    if views == 1:
        x = x[:, 0]
    y = np.array([0, 1, 2, 3, 0, 1, 2, 0], dtype="int64")
    return x, y


def kernel(seed=1):
    return (
        np.random.default_rng(seed)
        .normal(size=(FEATURES, EMBEDDING_DIM))
        .astype("float32")
    )


def losses(gather):
    from keras_sincere import losses

    return {
        "sincere": losses.SincereLoss(0.5, gather_distributed=gather),
        "supcon": losses.SupConLoss(0.5, gather_distributed=gather),
        "epsilon_supinfonce": losses.EpsilonSupInfoNCELoss(
            0.5, epsilon=0.25, gather_distributed=gather
        ),
        "infonce": losses.InfoNCELoss(0.5, gather_distributed=gather),
        "sincere_chunked": losses.SincereLoss(
            0.5, chunk_size=3, gather_distributed=gather
        ),
        "supcon_sum": losses.SupConLoss(
            0.5, reduction="sum", gather_distributed=gather
        ),
    }


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, "float64"), np.asarray(expected, "float64")
    scale = max(float(np.max(np.abs(expected))), 1e-12)
    return float(np.max(np.abs(actual - expected))) / scale


MEMORY_SIZE = 6


def memory(seed=2):
    """A fixed memory of `MEMORY_SIZE` embeddings: classes 0, 1 and 5."""
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(MEMORY_SIZE, EMBEDDING_DIM)).astype("float32")
    return embeddings, np.array([0, 5, 1, 0, 5, 1], dtype="int64")


class WithMemory:
    """A loss called with `memory()` as its cross-batch memory."""

    def __init__(self, loss):
        self.loss = loss

    def __call__(self, y_true, y_pred):
        embeddings, labels = memory()
        return self.loss(
            y_true, y_pred, memory_embeddings=embeddings, memory_labels=labels
        )


class WithLabelSets:
    """A loss given multi-hot label sets: each class `c` becomes `{c, c + 1}`.

    Overlapping sets of 5 classes, built in the step from the integer labels
    (so a replica's shard of them), with Jaccard-weighted positives.
    """

    def __init__(self, name, gather=True):
        from keras_sincere import losses as library

        loss_class = {"sincere": library.SincereLoss, "supcon": library.SupConLoss}
        self.loss = loss_class[name](
            0.5, gather_distributed=gather, positive_weighting="jaccard"
        )

    def __call__(self, y_true, y_pred):
        from keras import ops

        classes = ops.cast(y_true, "int32")
        sets = ops.one_hot(classes, 5) + ops.one_hot(classes + 1, 5)
        return self.loss(sets, y_pred)


# The cases with a memory or label sets that the torch check adds to
# `losses(True)`.
MEMORY_CASES = ("sincere_memory", "supcon_memory")
LABEL_SET_CASES = ("sincere_sets", "supcon_sets")


def loss_case(name):
    """`losses(True)[name]`; `NAME_memory` with `memory()`, `NAME_sets` with sets."""
    if name.endswith("_memory"):
        return WithMemory(losses(True)[name.removesuffix("_memory")])
    if name.endswith("_sets"):
        return WithLabelSets(name.removesuffix("_sets"))
    return losses(True)[name]
