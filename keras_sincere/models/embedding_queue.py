"""A first-in first-out memory of past embeddings and their labels."""

import keras
from keras import ops

from keras_sincere._validation import check_integer
from keras_sincere.distributed import active_replicas
from keras_sincere.ops import l2_normalize


@keras.saving.register_keras_serializable(package="keras_sincere")
class EmbeddingQueue(keras.layers.Layer):
    """The last `size` L2-normalised embeddings seen, with their labels.

    A cross-batch memory (XBM, Wang et al. 2020) for the contrastive
    losses, held in non-trainable Keras variables so that it is updated
    inside a compiled train step on every backend, saved with the model and
    restored by `BackupAndRestore`. `ContrastiveModel(memory_size=...)`
    owns one; it can also be used in a custom train step.

    The slots hold the embeddings in order, oldest first: after `k`
    enqueues of `n` embeddings each, the last `min(k * n, size)` slots
    hold the last `min(k * n, size)` embeddings. `memory()` returns the
    arguments the losses take (`memory_embeddings`, `memory_labels`,
    `memory_mask`): the mask holds the filled slots, and none before
    `warmup_steps` enqueues (the embeddings of the first steps drift too
    fast to be useful keys; they are still enqueued, so the memory is full
    when the warm-up ends).

    In a data-parallel step (a `tf.distribute` strategy's replicas, or
    `torch.distributed` processes), `enqueue` gathers the embeddings of
    every replica, in replica order, so that every replica holds the same
    memory of the global batches; under JAX's `keras.distribution` the step
    already sees the global batch.

    Labels are stored as int32 (JAX's default integer): class ids must be
    below 2**31. With `label_classes=C` the queue holds multi-hot label
    sets `(M, C)` instead (for losses given multi-hot `y_true`).

    Args:
        size: number of slots `M >= 1`.
        warmup_steps: enqueues before the memory is used, `>= 0`.
        label_classes: `None` (default) for one integer label per
            embedding, or the number of classes `C >= 2` of multi-hot label
            sets.
        **kwargs: `keras.layers.Layer` arguments (`name`, ...).

    Example:

    >>> import numpy as np
    >>> queue = keras_sincere.models.EmbeddingQueue(4)
    >>> queue.build((None, 2))
    >>> queue.enqueue(np.array([[3.0, 4.0], [0.0, 2.0]]), np.array([7, 8]))
    >>> keras.ops.convert_to_numpy(queue.memory()["memory_mask"]).tolist()
    [False, False, True, True]
    >>> memory = keras.ops.convert_to_numpy(queue.memory()["memory_embeddings"])
    >>> np.round(memory.astype(float), 2).tolist()  # oldest first, unit vectors
    [[0.0, 0.0], [0.0, 0.0], [0.6, 0.8], [0.0, 1.0]]
    """

    def __init__(
        self,
        size: int,
        warmup_steps: int = 0,
        label_classes: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.size = check_integer(size, "size", minimum=1)
        self.warmup_steps = check_integer(warmup_steps, "warmup_steps", minimum=0)
        self.label_classes = check_integer(
            label_classes, "label_classes", minimum=2, allow_none=True
        )
        # One integer per slot, or a multi-hot row of `label_classes`.
        self._label_shape = () if self.label_classes is None else (self.label_classes,)

    def build(self, input_shape):
        depth = input_shape[-1]
        if depth is None:
            raise ValueError(
                "`EmbeddingQueue` needs the embedding dimension. Received: "
                f"input_shape={tuple(input_shape)}"
            )
        # `only_first_replica`: under a tf.distribute strategy every replica
        # computes the same new queue (the global batch), and one is kept.
        state = {"trainable": False, "aggregation": "only_first_replica"}
        self.embeddings = self.add_weight(
            shape=(self.size, depth), initializer="zeros", name="embeddings", **state
        )
        self.labels = self.add_weight(
            shape=(self.size,) + self._label_shape,
            initializer="zeros",
            dtype="int32",
            name="labels",
            **state,
        )
        self.filled = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", name="filled", **state
        )
        self.steps = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", name="steps", **state
        )
        self.built = True

    def enqueue(self, embeddings, labels=None) -> None:
        """Appends `embeddings` `(n, D)` and `labels` `(n,)`, dropping the oldest.

        The embeddings are L2-normalised and held without gradient. Without
        labels (self-supervised training) the slots get label 0 (an empty
        label set with `label_classes`); InfoNCE ignores memory labels. With
        `label_classes=C`, `labels` are multi-hot `(n, C)`. In a
        data-parallel step, the `n` embeddings of every replica are
        appended.
        """
        embeddings = ops.convert_to_tensor(embeddings)
        shape = tuple(embeddings.shape)
        if not self.built:
            self.build(shape)
        depth = self.embeddings.shape[-1]
        if len(shape) != 2 or shape[-1] not in (None, depth):
            raise ValueError(
                f"`embeddings` must have shape (n, {depth}) for this queue. "
                f"Received: embeddings.shape={shape}"
            )
        embeddings = l2_normalize(ops.stop_gradient(ops.cast(embeddings, "float32")))
        count = ops.shape(embeddings)[0]
        if labels is None:
            labels = ops.zeros((count,) + self._label_shape, dtype="int32")
        labels = self._labels(ops.convert_to_tensor(labels))
        if labels.shape[0] is not None and shape[0] is not None:
            if labels.shape[0] != shape[0]:
                raise ValueError(
                    "`labels` must hold one label per embedding. Received: "
                    f"labels.shape={tuple(labels.shape)}, embeddings.shape={shape}"
                )
        replicas = active_replicas()
        if replicas is not None:
            embeddings = replicas.gather_without_gradient(embeddings)
            labels = replicas.gather_without_gradient(labels)
            count = ops.shape(embeddings)[0]
        queue = ops.concatenate([self.embeddings.value, embeddings], axis=0)
        queue_labels = ops.concatenate([self.labels.value, labels], axis=0)
        self.embeddings.assign(queue[-self.size :])
        self.labels.assign(queue_labels[-self.size :])
        filled = self.filled.value + ops.cast(count, "int32")
        self.filled.assign(ops.minimum(filled, self.size))
        self.steps.assign(self.steps.value + 1)

    def _labels(self, labels):
        """`labels` as int32 `(n,)`, or `(n, C)` 0/1 with `label_classes`."""
        labels = ops.stop_gradient(labels)
        shape = tuple(labels.shape)
        if self.label_classes is None:
            if len(shape) == 2 and shape[1] not in (None, 1):
                raise ValueError(
                    "This queue holds one integer label per embedding; for "
                    "multi-hot labels create it with `label_classes=C` "
                    f"(`memory_label_classes` of ContrastiveModel). Received: "
                    f"labels.shape={shape}"
                )
            return ops.reshape(ops.cast(labels, "int32"), (-1,))
        if len(shape) != 2 or shape[1] not in (None, self.label_classes):
            raise ValueError(
                f"`labels` must be multi-hot (n, {self.label_classes}) for this "
                f"queue (label_classes={self.label_classes}). Received: "
                f"labels.shape={shape}"
            )
        return ops.cast(ops.not_equal(ops.cast(labels, "float32"), 0.0), "int32")

    def memory(self) -> dict:
        """The memory as keyword arguments of the losses.

        Returns:
            `{"memory_embeddings": (M, D), "memory_labels": (M,) int32 (or
            `(M, C)` 0/1 int32 with `label_classes`), "memory_mask": (M,)
            bool}`; the mask holds the filled slots once
            `warmup_steps` enqueues are done, and no slot before.
        """
        slot = ops.arange(self.size, dtype="int32")
        filled = slot >= self.size - self.filled.value
        warm = self.steps.value >= self.warmup_steps
        return {
            # Copies: a train step enqueues (assigns in place, on torch) after
            # the loss, whose backward pass may still need these values.
            "memory_embeddings": ops.copy(self.embeddings.value),
            "memory_labels": ops.copy(self.labels.value),
            "memory_mask": ops.logical_and(filled, warm),
        }

    def reset(self) -> None:
        """Empties the queue and restarts its warm-up."""
        for variable in (self.embeddings, self.labels, self.filled, self.steps):
            variable.assign(ops.zeros(variable.shape, variable.dtype))

    def call(self, inputs):
        """Identity: the queue changes only through `enqueue`."""
        return inputs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "size": self.size,
                "warmup_steps": self.warmup_steps,
                "label_classes": self.label_classes,
            }
        )
        return config
