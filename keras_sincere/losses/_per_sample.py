"""Per-sample losses: the one computation every loss of this package shares.

Every loss is computed the same way:

1. flatten embeddings `(B, V, D)` to `N = B * V` anchors (sample-major:
   anchor `b * V + v` is view `v` of sample `b`), cast to float32 and
   optionally L2-normalise them;
2. build the logits `s_ij = z_i . z_j / T` with one matmul, and the masks
   `positive` (same label, not itself) and `negative` (other label); the
   keys `z_j` are the anchors, followed by a cross-batch memory's entries
   when there is one (never anchors, without gradient). With multi-hot
   labels `(B, C)`, "same label" means label sets that intersect and
   "other label" sets that are disjoint, and the positive mask may carry
   weights (the Jaccard index of the two sets);
3. let the loss turn `(logits, positive, negative)` into one value per
   anchor (each loss only chooses its denominator);
4. average each sample's views, leaving out anchors that have no positive.

Steps 2 and 3 are one function, `block_losses`, of a block of anchor rows
against all `N` columns: each anchor's loss needs only its own row of
logits. The dense path calls it once on all rows (`O(N^2)` memory); with
`chunk_size` the rows are streamed in blocks (`_chunked.py`), recomputed in
the backward pass, in `O(N * D + N * chunk_size)` memory. In a data-parallel
step with `gather_distributed=True`, the anchors are this device's and the
columns are gathered from every device (`keras_sincere.distributed`).
"""

import functools
import numbers
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_choice
from keras_sincere._validation import check_integer
from keras_sincere._validation import check_label_dtype
from keras_sincere._validation import check_positive
from keras_sincere._validation import check_same_label_kind
from keras_sincere._validation import label_sets
from keras_sincere.distributed import replicas_to_gather
from keras_sincere.losses._chunked import map_blocks
from keras_sincere.ops import l2_normalize
from keras_sincere.ops import masked_mean

# `anchor_losses(logits, positive, negative) -> (rows,)`: the loss of each
# anchor row from its float32 row of logits, the float32 weights of its
# positive pairs (> 0 exactly at the positives; 1 unless the positives are
# weighted) and its float32 0/1 mask of negatives.
AnchorLossFn = Callable[..., "keras.KerasTensor"]

# `positive_weighting` values: `None` (every positive counts 1) or
# `"jaccard"` (with multi-hot labels, `|Y_i & Y_p| / |Y_i | Y_p|`).
POSITIVE_WEIGHTINGS = (None, "jaccard")


def check_positive_weighting(positive_weighting):
    """Returns `positive_weighting` if it is one of `POSITIVE_WEIGHTINGS`."""
    return check_choice(positive_weighting, "positive_weighting", POSITIVE_WEIGHTINGS)


def check_chunk_size(chunk_size: int | None) -> int | None:
    """Returns `chunk_size` as an int (or None), or raises if it is not >= 1."""
    return check_integer(chunk_size, "chunk_size", minimum=1, allow_none=True)


def labels_by_sample(y_true, batch_size, name="y_true", described_by="y_pred"):
    """Checks labels and returns them as `(B,)` integers or `(B, C)` multi-hot.

    Integer labels, `(B,)` or `(B, 1)`, keep their own dtype and are
    compared exactly. Concrete labels (numpy arrays, lists) that the
    backend's tensor type cannot hold exactly (int64 ids >= 2**31 under
    JAX's default 32-bit mode, which would wrap and merge classes) are
    rejected. A matrix `(B, C)` with `C > 1` is a multi-hot label set per
    sample (bool, integer or float 0/1), returned as float32 0/1; concrete
    values other than 0 and 1 are rejected, and in a traced function every
    non-zero value counts as 1. `name` is the argument in messages,
    `described_by` the one whose samples they label.
    """
    if y_true is None:
        raise ValueError(
            f"`{name}` must hold one integer label per sample, shape (B,) or "
            f"(B, 1), or a multi-hot matrix (B, C). Received: {name}=None"
        )
    concrete = None
    if isinstance(y_true, (list, tuple, np.ndarray, numbers.Number)):
        concrete = np.asarray(y_true)
        check_label_dtype(concrete.dtype, concrete.shape, name)
    labels = ops.convert_to_tensor(y_true)
    check_label_dtype(labels.dtype, tuple(labels.shape), name)
    shape = tuple(labels.shape)
    if len(shape) == 2 and shape[1] != 1:
        labels = _multi_hot(labels, concrete, name)
    elif len(shape) == 2:
        labels = ops.reshape(labels, (-1,))
    elif len(shape) != 1:
        raise ValueError(
            f"`{name}` must have shape (B,), (B, 1) or (B, C) (multi-hot). "
            f"Received: {name}.shape={shape}"
        )
    if concrete is not None and len(labels.shape) == 1:
        _check_labels_fit(concrete, labels.dtype, name)
    count = labels.shape[0]
    if count is not None and batch_size is not None and count != batch_size:
        raise ValueError(
            f"`{name}` and `{described_by}` must describe the same samples: "
            f"{name}.shape={shape} has {count} labels but {described_by} has "
            f"{batch_size} samples."
        )
    return labels


def _multi_hot(labels, concrete, name):
    """A `(B, C)` label matrix as float32 0/1, its values checked where known."""
    shape = tuple(labels.shape)
    if shape[1] is None:
        raise ValueError(
            f"The number of classes (axis 1 of a multi-hot `{name}`) must be "
            f"known when the loss is traced. Received: {name}.shape={shape}"
        )
    if concrete is not None:
        label_sets(concrete, name)  # raises on values other than 0 and 1
    return ops.cast(ops.not_equal(ops.cast(labels, "float32"), 0.0), "float32")


def _check_labels_fit(concrete, tensor_dtype, name="y_true"):
    """Raises if the backend's tensor of `concrete` labels merges classes."""
    if not concrete.size:
        return
    # What the tensor holds, computed in numpy: inside a traced function
    # (tf.function) the tensor itself cannot be read back.
    kind = keras.backend.standardize_dtype(tensor_dtype)
    if not np.array_equal(concrete.astype(kind).astype(concrete.dtype), concrete):
        raise ValueError(
            f"`{name}` holds labels that the backend's {kind} tensors cannot "
            f"represent exactly (range {concrete.min()}..{concrete.max()}, "
            f"dtype {concrete.dtype}): they would merge classes. Map the "
            "labels to 0..C-1 first (or enable 64-bit integers on JAX)."
        )


def embeddings_by_view(y_pred):
    """Checks `y_pred` and returns it as float32 `(B, V, D)`."""
    embeddings = ops.convert_to_tensor(y_pred)
    shape = tuple(embeddings.shape)
    if len(shape) == 2:
        embeddings = ops.expand_dims(embeddings, 1)
    elif len(shape) != 3:
        raise ValueError(
            "`y_pred` must be embeddings of shape (B, D) or (B, V, D) "
            f"(V views of each sample). Received: y_pred.shape={shape}"
        )
    if embeddings.shape[1] is None:
        raise ValueError(
            "The number of views (axis 1 of `y_pred`) must be known when the "
            f"loss is traced. Received: y_pred.shape={shape}"
        )
    if 0 in tuple(embeddings.shape):
        raise ValueError(
            "`y_pred` must hold at least one sample, one view and one "
            f"embedding dimension. Received: y_pred.shape={shape}"
        )
    return ops.cast(embeddings, "float32")


def pair_masks(
    anchor_labels, anchor_index, key_labels, key_valid=None, positive_weighting=None
):
    """The float32 masks `(positive, negative)` of anchors against keys.

    `positive`: same label, not the anchor itself (key `anchor_index[i]`);
    `negative`: another label. With multi-hot labels `(n, C)` and `(M, C)`,
    "same label" is label sets that intersect, and "another label" sets
    that are disjoint (a sample with no label is a negative of every
    anchor, and has no positive). A key whose float32 0/1 `key_valid` is 0
    (an empty slot of a memory) is neither. Float 0/1 rather than bool: the
    losses mask with products and sums (`ops.masked_logsumexp`). With
    `positive_weighting="jaccard"` and multi-hot labels, each positive
    carries the weight `|Y_i & Y_p| / |Y_i | Y_p|` in (0, 1] instead of 1.
    """
    multi_hot = len(anchor_labels.shape) == 2
    if multi_hot:
        # Shared labels per pair, exact: sums of 0/1 products below 2**24.
        shared = ops.matmul(anchor_labels, ops.transpose(key_labels))
        same_label = ops.greater(shared, 0.0)
    else:
        same_label = ops.equal(anchor_labels[:, None], key_labels[None, :])
    key_index = ops.arange(ops.shape(key_labels)[0], dtype=anchor_index.dtype)
    not_self = ops.not_equal(anchor_index[:, None], key_index[None, :])
    positive = ops.cast(ops.logical_and(same_label, not_self), "float32")
    negative = ops.cast(ops.logical_not(same_label), "float32")
    if multi_hot and positive_weighting == "jaccard":
        anchor_sizes = ops.sum(anchor_labels, axis=1)
        key_sizes = ops.sum(key_labels, axis=1)
        union = anchor_sizes[:, None] + key_sizes[None, :] - shared
        positive = positive * shared / ops.maximum(union, 1.0)
    if key_valid is not None:
        positive = positive * key_valid[None, :]
        negative = negative * key_valid[None, :]
    return positive, negative


def block_losses(
    anchors,
    anchor_labels,
    anchor_index,
    keys,
    key_labels,
    anchor_losses: AnchorLossFn,
    key_valid=None,
    positive_weighting=None,
):
    """Losses of a block of anchors against every column (key).

    With the anchors already divided by `T`, the logits of the block are
    `s_ij = a_i . k_j` for its `c` anchor rows and all `M` key columns.
    Anchor `i` is key `anchor_index[i]` (an index no key has, such as -1,
    for anchors that are not keys): that one pair is neither positive nor
    negative. The same function serves the dense path (all anchors, keys =
    anchors) and each block of the chunked path.

    Args:
        anchors: float32 `(c, D)`, divided by `T`.
        anchor_labels: `(c,)` integers or float32 multi-hot `(c, C)`.
        anchor_index: int `(c,)`, the column of each anchor itself.
        keys: float32 `(M, D)`.
        key_labels: `(M,)`, or `(M, C)` with multi-hot anchor labels.
        anchor_losses: `fn(logits, positive, negative) -> (c,)`.
        key_valid: optional float32 0/1 `(M,)`: keys with 0 take no part.
        positive_weighting: `None` or `"jaccard"` (see `pair_masks`).

    Returns:
        `(losses, positive_weights)`: float32 `(c,)` each, the second the
        sum of each anchor's positive weights (> 0 iff it has a positive).
    """
    # The temperature is folded into the O(N * D) anchors. Keys stay a
    # different tensor even on the dense path: XLA would otherwise merge the
    # two backward matmuls into one of `G + G^T`, whose transpose costs more
    # on CPU than the matmul it saves.
    logits = ops.matmul(anchors, ops.transpose(keys))
    positive, negative = pair_masks(
        anchor_labels, anchor_index, key_labels, key_valid, positive_weighting
    )
    return anchor_losses(logits, positive, negative), ops.sum(positive, axis=1)


def memory_keys(
    memory_embeddings,
    memory_labels,
    memory_mask,
    depth,
    label_dtype,
    use_labels: bool,
    normalize: bool,
    label_shape=None,
):
    """Checks a memory of past embeddings and returns it as extra keys.

    Returns `(keys, labels, valid)`: float32 `(M, D)` without gradient
    (normalised when `normalize`), labels `(M,)` of `label_dtype` (or
    float32 multi-hot `(M, C)`), and the float32 0/1 `(M,)` of the entries
    in use. The memory's labels must be of the kind of `y_true`, whose
    shape is `label_shape`. Without labels (InfoNCE) each entry gets the
    label -1, which no anchor has: every entry is a negative.
    """
    embeddings = ops.convert_to_tensor(memory_embeddings)
    shape = tuple(embeddings.shape)
    if len(shape) != 2 or (depth is not None and shape[1] not in (None, depth)):
        raise ValueError(
            "`memory_embeddings` must have shape (M, D), with the D of the "
            f"batch's embeddings ({depth}). Received: "
            f"memory_embeddings.shape={shape}"
        )
    size = shape[0]
    embeddings = ops.stop_gradient(ops.cast(embeddings, "float32"))
    if normalize:
        embeddings = l2_normalize(embeddings)
    if use_labels:
        labels = labels_by_sample(
            memory_labels, size, "memory_labels", "memory_embeddings"
        )
        if label_shape is not None:
            check_same_label_kind(
                label_shape, _shape_of(memory_labels), ("y_true", "memory_labels")
            )
        labels = ops.cast(labels, label_dtype)
    else:
        labels = ops.full((ops.shape(embeddings)[0],), -1, dtype=label_dtype)
    if memory_mask is None:
        valid = ops.ones((ops.shape(embeddings)[0],), dtype="float32")
    else:
        valid = ops.convert_to_tensor(memory_mask)
        mask_shape = tuple(valid.shape)
        if (
            len(mask_shape) != 1
            or None not in (size, mask_shape[0])
            and (mask_shape[0] != size)
        ):
            raise ValueError(
                "`memory_mask` must have shape (M,), one flag per memory entry "
                f"(M = {size}). Received: memory_mask.shape={mask_shape}"
            )
        valid = ops.cast(ops.cast(valid, "bool"), "float32")
    return embeddings, ops.stop_gradient(labels), ops.stop_gradient(valid)


def _shape_of(labels) -> tuple:
    """The shape of labels as passed: a tensor, an array or a (nested) list."""
    if isinstance(labels, (list, tuple)):
        return np.shape(labels)
    return tuple(labels.shape)


def _anchor_rows(y_true, y_pred, normalize, use_labels, replicas):
    """Flattened anchors and labels, and the keys they are compared with.

    Returns `(anchors, anchor_labels, anchor_index, keys, key_labels,
    num_views)`, the anchors not yet divided by the temperature.
    """
    embeddings = embeddings_by_view(y_pred)
    batch_size, num_views = embeddings.shape[0], embeddings.shape[1]
    if use_labels:
        labels = labels_by_sample(y_true, batch_size)
    else:
        labels = ops.arange(ops.shape(embeddings)[0])
        if replicas is not None:  # every sample of every replica: its own class
            offset = replicas.offset(ops.shape(embeddings)[0])
            labels = labels + ops.cast(offset, labels.dtype)
    anchors = ops.reshape(embeddings, (-1, embeddings.shape[2]))
    if normalize:
        anchors = l2_normalize(anchors)
    anchor_labels = ops.repeat(labels, num_views, axis=0)
    anchor_index = ops.arange(ops.shape(anchors)[0], dtype="int32")
    if replicas is None:
        return anchors, anchor_labels, anchor_index, anchors, anchor_labels, num_views
    keys = replicas.gather(anchors)
    key_labels = replicas.gather_without_gradient(anchor_labels)
    offset = replicas.offset(ops.shape(anchors)[0])
    anchor_index = anchor_index + ops.cast(offset, "int32")
    return anchors, anchor_labels, anchor_index, keys, key_labels, num_views


def per_sample_losses(
    y_true,
    y_pred,
    anchor_losses: AnchorLossFn,
    temperature: float,
    normalize: bool = True,
    use_labels: bool = True,
    chunk_size: int | None = None,
    gather_distributed: bool = False,
    memory_embeddings=None,
    memory_labels=None,
    memory_mask=None,
    positive_weighting=None,
):
    """Per-sample losses and which samples had a positive.

    Args:
        y_true: integer labels `(B,)` or `(B, 1)`, or multi-hot label sets
            `(B, C)`, `C > 1`. Ignored (may be `None`) when
            `use_labels=False`, where every sample is its own class.
        y_pred: embeddings `(B, D)` or `(B, V, D)`.
        anchor_losses: `fn(logits, positive, negative) -> (n,)`, the loss of
            each of `n` anchor rows; `logits` is float32 `(n, K)` against the
            `K` keys, `positive` the float32 weights of the positive pairs
            (0 elsewhere; 1 unless `positive_weighting`), `negative` a
            float32 0/1 mask, all `(n, K)`. It must treat rows
            independently (`n = N` on the dense path, `n = chunk_size` on
            the chunked one).
        temperature: `T > 0`.
        normalize: L2-normalise embeddings (and the memory) first.
        use_labels: compare `y_true`; `False` makes each sample its own class.
        chunk_size: `None` for the dense path; otherwise the number of anchor
            rows per block of the chunked path (same values and gradients,
            `O(N * chunk_size)` memory instead of `O(N^2)`).
        gather_distributed: in a data-parallel step on several replicas,
            the anchors are this replica's and the keys (columns) are the
            embeddings of every replica, gathered with a gradient that
            reaches each replica's own embeddings. No effect outside one.
        memory_embeddings: optional `(M, D)` past embeddings, appended to the
            keys without gradient: never anchors, never "self"; positives of
            the anchors of their label, negatives of the others (of every
            anchor when `use_labels=False`).
        memory_labels: `(M,)` or `(M, 1)` labels of `memory_embeddings`,
            or `(M, C)` multi-hot with multi-hot `y_true` (required with
            them unless `use_labels=False`).
        memory_mask: optional `(M,)` bool: the entries in use (a queue's
            filled slots). Entries outside it take no part.
        positive_weighting: `None` (each positive counts 1) or `"jaccard"`:
            with multi-hot labels, each anchor's mean over its positives is
            weighted by `|Y_i & Y_p| / |Y_i | Y_p|`. No effect on integer
            labels, where every positive shares the whole label set.

    Returns:
        `(losses, has_positive)`: float32 `(B,)` mean over each sample's views
        of its anchors' losses (anchors with no positive left out, 0 if it has
        none), and bool `(B,)` telling which samples had any positive.
    """
    temperature = check_positive(temperature, "temperature")
    normalize = check_bool(normalize, "normalize")
    chunk_size = check_chunk_size(chunk_size)
    gather_distributed = check_bool(gather_distributed, "gather_distributed")
    positive_weighting = check_positive_weighting(positive_weighting)
    if memory_embeddings is None and (
        memory_labels is not None or memory_mask is not None
    ):
        raise ValueError(
            "`memory_labels` and `memory_mask` describe `memory_embeddings`, "
            "which is missing. Received: memory_embeddings=None"
        )
    replicas = replicas_to_gather(gather_distributed)
    anchors, anchor_labels, anchor_index, keys, key_labels, num_views = _anchor_rows(
        y_true, y_pred, normalize, use_labels, replicas
    )
    key_valid = None
    if memory_embeddings is not None:
        extra_keys, extra_labels, extra_valid = memory_keys(
            memory_embeddings,
            memory_labels,
            memory_mask,
            anchors.shape[1],
            key_labels.dtype,
            use_labels,
            normalize,
            _shape_of(y_true) if use_labels else None,
        )
        # Labels of two dtypes meet in the wider one, so no id is cut.
        label_dtype = keras.backend.result_type(key_labels.dtype, extra_labels.dtype)
        anchor_labels = ops.cast(anchor_labels, label_dtype)
        key_labels = ops.concatenate(
            [ops.cast(key_labels, label_dtype), ops.cast(extra_labels, label_dtype)]
        )
        batch_keys = ops.ones((ops.shape(keys)[0],), dtype="float32")
        key_valid = ops.concatenate([batch_keys, extra_valid])
        keys = ops.concatenate([keys, extra_keys], axis=0)
    rows = (anchors * (1.0 / temperature), anchor_labels, anchor_index)
    block = functools.partial(
        block_losses,
        anchor_losses=anchor_losses,
        key_valid=key_valid,
        positive_weighting=positive_weighting,
    )
    if chunk_size is None:
        losses, positive_counts = block(*rows, keys, key_labels)
    else:
        losses, positive_counts = map_blocks(
            block, *rows, keys, key_labels, chunk_size=chunk_size
        )
    anchor_has_positive = ops.reshape(positive_counts > 0, (-1, num_views))
    losses = ops.reshape(losses, (-1, num_views))
    sample_losses = masked_mean(losses, ops.cast(anchor_has_positive, "float32"))
    return sample_losses, ops.any(anchor_has_positive, axis=1)
