"""The one place where the contrastive-loss math lives.

Every loss in this package is computed the same way:

1. flatten embeddings `(B, V, D)` to `N = B * V` anchors (sample-major:
   anchor `b * V + v` is view `v` of sample `b`), cast to float32 and
   optionally L2-normalise them;
2. build the logits `s_ij = z_i . z_j / T` with one matmul, and the masks
   `positive` (same label, not itself) and `negative` (other label);
3. let the loss turn `(logits, positive, negative)` into one value per
   anchor (each loss only chooses its denominator);
4. average each sample's views, leaving out anchors that have no positive.

Steps 2 and 3 are one function, `block_losses`, of a block of anchor rows
against all `N` columns: each anchor's loss needs only its own row of
logits. The dense path calls it once on all rows (`O(N^2)` memory); with
`chunk_size` the rows are streamed in blocks (`_chunked.py`), recomputed in
the backward pass, in `O(N * D + N * chunk_size)` memory. In a data-parallel
step with `gather_distributed=True`, the anchors are this device's and the
columns are gathered from every device (`_distributed.py`).

Masked reductions replace masked entries with `MASKED_LOGIT` before
`logsumexp`, so nothing overflows and no `-inf` (whose gradient is NaN on
some backends) is ever formed.
"""

import functools
import math
import numbers
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from keras_sincere.losses import _chunked
from keras_sincere.losses import _distributed

# Far below any logit that float32 embeddings can produce (|s| <= |z|^2 / T),
# and far from overflowing float32 when differences of it are taken.
MASKED_LOGIT = -1e30

AnchorLossFn = Callable[..., "keras.KerasTensor"]


def _is_number(value) -> bool:
    # Strings and booleans convert with float() but are not numbers we accept.
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_temperature(temperature: float, name: str = "temperature") -> float:
    """Returns `temperature` as a float, or raises if it is not a number > 0."""
    if not _is_number(temperature):
        raise ValueError(
            f"`{name}` must be a positive number. Received: {name}={temperature!r} "
            f"of type {type(temperature).__name__}"
        )
    value = float(temperature)
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(
            f"`{name}` must be a finite number > 0. Received: {name}={temperature!r}"
        )
    return value


def check_non_negative(value: float, name: str) -> float:
    """Returns `value` as a float, or raises if it is negative or not finite."""
    if not _is_number(value):
        raise ValueError(
            f"`{name}` must be a number >= 0. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    number = float(value)
    if not (number >= 0.0 and math.isfinite(number)):
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
        )
    return number


def check_bool(value: bool, name: str) -> bool:
    """Returns `value` as a bool, or raises if it is not one."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(
            f"`{name}` must be True or False. Received: {name}={value!r} "
            f"of type {type(value).__name__}"
        )
    return bool(value)


def check_chunk_size(chunk_size: int | None) -> int | None:
    """Returns `chunk_size` as an int (or None), or raises if it is not > 0."""
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise ValueError(
            "`chunk_size` must be a positive integer or None. "
            f"Received: chunk_size={chunk_size!r}"
        )
    if chunk_size < 1:
        raise ValueError(
            "`chunk_size` must be a positive integer or None. "
            f"Received: chunk_size={chunk_size!r}"
        )
    return int(chunk_size)


def flatten_labels(y_true, batch_size):
    """Checks labels of shape `(B,)` or `(B, 1)` and returns them as `(B,)`.

    Labels keep their own dtype: integer labels are compared exactly.
    Concrete labels (numpy arrays, lists) that the backend's tensor type
    cannot hold exactly (int64 ids >= 2**31 under JAX's default 32-bit
    mode, which would wrap and merge classes) are rejected.
    """
    if y_true is None:
        raise ValueError(
            "`y_true` must hold one integer label per sample, shape (B,) or "
            "(B, 1). Received: y_true=None"
        )
    concrete = None
    if isinstance(y_true, (list, tuple, np.ndarray, numbers.Number)):
        concrete = np.asarray(y_true)
        _check_label_dtype(concrete.dtype, concrete.shape)
    labels = ops.convert_to_tensor(y_true)
    _check_label_dtype(labels.dtype, tuple(labels.shape))
    if concrete is not None and concrete.size:
        # What the tensor holds, computed in numpy: inside a traced function
        # (tf.function) the tensor itself cannot be read back.
        held = concrete.astype(keras.backend.standardize_dtype(labels.dtype))
        if not np.array_equal(held.astype(concrete.dtype), concrete):
            raise ValueError(
                "`y_true` holds labels that the backend's "
                f"{keras.backend.standardize_dtype(labels.dtype)} tensors cannot "
                f"represent exactly (range {concrete.min()}..{concrete.max()}, "
                f"dtype {concrete.dtype}): they would merge classes. Map the "
                "labels to 0..C-1 first (or enable 64-bit integers on JAX)."
            )
    shape = tuple(labels.shape)
    if len(shape) == 2:
        if shape[1] is not None and shape[1] != 1:
            raise ValueError(
                "`y_true` must hold one integer label per sample, with shape "
                f"(B,) or (B, 1). Received: y_true.shape={shape} (one-hot or "
                "multi-label targets are not supported; pass class indices)."
            )
        labels = ops.reshape(labels, (-1,))
    elif len(shape) != 1:
        raise ValueError(
            f"`y_true` must have shape (B,) or (B, 1). Received: y_true.shape={shape}"
        )
    count = labels.shape[0]
    if count is not None and batch_size is not None and count != batch_size:
        raise ValueError(
            "`y_true` and `y_pred` must describe the same samples: "
            f"y_true.shape={shape} has {count} labels but y_pred has "
            f"{batch_size} samples."
        )
    return labels


def _check_label_dtype(dtype, shape):
    try:
        kind = keras.backend.standardize_dtype(dtype)
    except ValueError:  # strings, objects: no Keras dtype
        kind = str(dtype)
    if not (kind.startswith(("int", "uint", "float", "bfloat")) or kind == "bool"):
        raise ValueError(
            "`y_true` must hold numeric (integer) class labels. Received: "
            f"y_true of dtype {kind} with shape {tuple(shape)}; map the "
            "labels to 0..C-1 first."
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


def l2_normalize(x):
    """L2-normalises the last axis, exact for any finite float32 input.

    Dividing by the largest magnitude first keeps the sum of squares from
    overflowing (norms up to float32's maximum) or underflowing. The result
    does not depend on that divisor, so it is held constant in the backward
    pass, where its own gradient would overflow for tiny vectors. After the
    division every non-zero vector has a squared norm >= 1, so flooring it at
    1 only affects zero vectors: they stay zero with an identity gradient.
    """
    largest = ops.stop_gradient(ops.max(ops.abs(x), axis=-1, keepdims=True))
    x = x / ops.where(largest > 0, largest, 1.0)
    squared_norm = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squared_norm, 1.0))


def softplus(x):
    """`log(1 + exp(x))`, exact for every float32 `x`, with gradient `sigmoid(x)`.

    Written as `(x + |x|) / 2 + log1p(exp(-|x|))`: one exponential and one
    `log1p`, which XLA (JAX, TensorFlow) fuses into a single vectorised loop,
    about twice as fast forward and backward as its softplus primitive on
    CPU. PyTorch's own fused kernel beats this composition in eager mode.
    `(x + |x|) / 2` rather than `max(x, 0)` keeps the gradient at exactly 0
    equal to 1/2 on every backend.
    """
    if keras.backend.backend() == "torch":
        return ops.softplus(x)
    magnitude = ops.abs(x)
    return 0.5 * (x + magnitude) + ops.log1p(ops.exp(-magnitude))


def masked_logsumexp(logits, mask):
    """`log(sum_j exp(logits_ij))` over the `j` where `mask_ij = 1`, per row.

    `mask` is float 0/1. Masked entries are moved to `logits + MASKED_LOGIT`
    (exactly `MASKED_LOGIT` in float32) by an addition, whose gradient is the
    identity: cheaper than a select in both passes on eager backends. Their
    softmax weight, hence their gradient, is exactly 0. A row with no
    selected entry gives about `MASKED_LOGIT` (standing for `-inf`).
    """
    return ops.logsumexp(logits + (mask - 1.0) * -MASKED_LOGIT, axis=1)


def masked_mean(values, mask):
    """Mean of `values_ij` over the `j` where `mask_ij = 1`, per row; 0 if none.

    `mask` is float 0/1 and `values` must be finite: masked entries are
    multiplied by 0 (a product, not a select, for the same reason as in
    `masked_logsumexp`).
    """
    total = ops.sum(values * mask, axis=1)
    count = ops.sum(mask, axis=1)
    return total / ops.maximum(count, 1.0)


def block_losses(
    anchors,
    anchor_labels,
    anchor_index,
    keys,
    key_labels,
    anchor_losses: AnchorLossFn,
):
    """Losses of a block of anchors against every column (key).

    With the anchors already divided by `T`, the logits of the block are
    `s_ij = a_i . k_j` for its `c` anchor rows and all `M` key columns.
    Anchor `i` is key `anchor_index[i]` (an index no key has, such as -1,
    for anchors that are not keys): that one pair is neither positive nor
    negative. The same function serves the dense path (all anchors, keys =
    anchors) and each block of the chunked path.

    The masks are built once, as float32 0/1 (`positive`: same label, not
    itself; `negative`: other label), so that the losses mask with products
    and sums rather than selects.

    Args:
        anchors: float32 `(c, D)`, divided by `T`.
        anchor_labels: `(c,)`.
        anchor_index: int `(c,)`, the column of each anchor itself.
        keys: float32 `(M, D)`.
        key_labels: `(M,)`.
        anchor_losses: `fn(logits, positive, negative) -> (c,)`.

    Returns:
        `(losses, positive_counts)`: float32 `(c,)` each.
    """
    # The temperature is folded into the O(N * D) anchors. Keys stay a
    # different tensor even on the dense path: XLA would otherwise merge the
    # two backward matmuls into one of `G + G^T`, whose transpose costs more
    # on CPU than the matmul it saves.
    logits = ops.matmul(anchors, ops.transpose(keys))
    same_label = ops.equal(anchor_labels[:, None], key_labels[None, :])
    key_index = ops.arange(ops.shape(keys)[0], dtype=anchor_index.dtype)
    not_self = ops.not_equal(anchor_index[:, None], key_index[None, :])
    positive = ops.cast(ops.logical_and(same_label, not_self), "float32")
    negative = ops.cast(ops.logical_not(same_label), "float32")
    losses = anchor_losses(logits, positive, negative)
    return losses, ops.sum(positive, axis=1)


def contrastive_loss(
    y_true,
    y_pred,
    anchor_losses: AnchorLossFn,
    temperature: float,
    normalize: bool = True,
    use_labels: bool = True,
    chunk_size: int | None = None,
    replicas: "_distributed.Replicas | None" = None,
):
    """Per-sample losses and which samples had a positive.

    Args:
        y_true: integer labels `(B,)` or `(B, 1)`. Ignored (may be `None`)
            when `use_labels=False`, where every sample is its own class.
        y_pred: embeddings `(B, D)` or `(B, V, D)`.
        anchor_losses: `fn(logits, positive, negative) -> (n,)`, the loss of
            each of `n` anchor rows; `logits` is float32 `(n, N)`, the masks
            float32 0/1 `(n, N)`. It must treat rows independently (`n = N` on the
            dense path, `n = chunk_size` on the chunked one).
        temperature: `T > 0`.
        normalize: L2-normalise embeddings first.
        use_labels: compare `y_true`; `False` makes each sample its own class.
        chunk_size: `None` for the dense path; otherwise the number of anchor
            rows per block of the chunked path (same values and gradients,
            `O(N * chunk_size)` memory instead of `O(N^2)`).
        replicas: the replicas of a data-parallel step
            (`_distributed.active_replicas()`), or `None`. With replicas, the
            anchors are this replica's and the keys (columns) are the
            embeddings of every replica, gathered with a gradient that
            reaches each replica's own embeddings.

    Returns:
        `(losses, has_positive)`: float32 `(B,)` mean over each sample's views
        of its anchors' losses (anchors with no positive left out, 0 if it has
        none), and bool `(B,)` telling which samples had any positive.
    """
    temperature = check_temperature(temperature)
    normalize = check_bool(normalize, "normalize")
    chunk_size = check_chunk_size(chunk_size)
    embeddings = embeddings_by_view(y_pred)
    batch_size, num_views = embeddings.shape[0], embeddings.shape[1]
    if use_labels:
        labels = flatten_labels(y_true, batch_size)
    else:
        labels = ops.arange(ops.shape(embeddings)[0])
        if replicas is not None:  # every sample of every replica: its own class
            offset = replicas.offset(ops.shape(embeddings)[0])
            labels = labels + ops.cast(offset, labels.dtype)

    anchors = ops.reshape(embeddings, (-1, embeddings.shape[2]))
    if normalize:
        anchors = l2_normalize(anchors)
    scaled = anchors * (1.0 / temperature)
    anchor_labels = ops.repeat(labels, num_views, axis=0)
    anchor_index = ops.arange(ops.shape(anchors)[0], dtype="int32")
    keys, key_labels = anchors, anchor_labels
    if replicas is not None:
        keys = replicas.gather(anchors)
        key_labels = replicas.gather_constant(anchor_labels)
        offset = replicas.offset(ops.shape(anchors)[0])
        anchor_index = anchor_index + ops.cast(offset, "int32")

    block = functools.partial(block_losses, anchor_losses=anchor_losses)
    if chunk_size is None:
        losses, positive_counts = block(
            scaled, anchor_labels, anchor_index, keys, key_labels
        )
    else:
        losses, positive_counts = _chunked.map_blocks(
            block,
            scaled,
            anchor_labels,
            anchor_index,
            keys,
            key_labels,
            chunk_size=chunk_size,
        )
    anchor_has_positive = ops.reshape(positive_counts > 0, (-1, num_views))
    losses = ops.reshape(losses, (-1, num_views))
    sample_losses = masked_mean(losses, ops.cast(anchor_has_positive, "float32"))
    return sample_losses, ops.any(anchor_has_positive, axis=1)
