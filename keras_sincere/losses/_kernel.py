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

Masked reductions replace masked entries with `MASKED_LOGIT` before
`logsumexp`, so nothing overflows and no `-inf` (whose gradient is NaN on
some backends) is ever formed.
"""

import math
from collections.abc import Callable

import keras
from keras import ops

# Far below any logit that float32 embeddings can produce (|s| <= |z|^2 / T),
# and far from overflowing float32 when differences of it are taken.
MASKED_LOGIT = -1e30

AnchorLossFn = Callable[..., "keras.KerasTensor"]


def check_temperature(temperature: float, name: str = "temperature") -> float:
    """Returns `temperature` as a float, or raises if it is not > 0."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a positive number. Received: {name}={temperature!r}"
        ) from None
    if not (value > 0.0 and math.isfinite(value)):
        raise ValueError(
            f"`{name}` must be a finite number > 0. Received: {name}={temperature!r}"
        )
    return value


def check_non_negative(value: float, name: str) -> float:
    """Returns `value` as a float, or raises if it is negative or not finite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"`{name}` must be a number >= 0. Received: {name}={value!r}"
        ) from None
    if not (number >= 0.0 and math.isfinite(number)):
        raise ValueError(
            f"`{name}` must be a finite number >= 0. Received: {name}={value!r}"
        )
    return number


def flatten_labels(y_true, batch_size):
    """Checks labels of shape `(B,)` or `(B, 1)` and returns them as `(B,)`.

    Labels keep their own dtype: integer labels are compared exactly.
    """
    labels = ops.convert_to_tensor(y_true)
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


def masked_logsumexp(logits, mask):
    """`log(sum_j exp(logits_ij))` over the `j` where `mask_ij`, per row.

    A row with no selected entry gives about `MASKED_LOGIT` (standing for
    `-inf`) with a zero gradient.
    """
    return ops.logsumexp(ops.where(mask, logits, MASKED_LOGIT), axis=1)


def masked_mean(values, mask):
    """Mean of `values_ij` over the `j` where `mask_ij`, per row; 0 if none."""
    total = ops.sum(ops.where(mask, values, 0.0), axis=1)
    count = ops.sum(ops.cast(mask, "float32"), axis=1)
    return total / ops.maximum(count, 1.0)


def contrastive_loss(
    y_true,
    y_pred,
    anchor_losses: AnchorLossFn,
    temperature: float,
    normalize: bool = True,
    use_labels: bool = True,
):
    """Per-sample losses and which samples had a positive.

    Args:
        y_true: integer labels `(B,)` or `(B, 1)`. Ignored (may be `None`)
            when `use_labels=False`, where every sample is its own class.
        y_pred: embeddings `(B, D)` or `(B, V, D)`.
        anchor_losses: `fn(logits, positive, negative) -> (N,)`, the loss of
            each anchor; `logits` is float32 `(N, N)`, the masks bool `(N, N)`.
        temperature: `T > 0`.
        normalize: L2-normalise embeddings first.
        use_labels: compare `y_true`; `False` makes each sample its own class.

    Returns:
        `(losses, has_positive)`: float32 `(B,)` mean over each sample's views
        of its anchors' losses (anchors with no positive left out, 0 if it has
        none), and bool `(B,)` telling which samples had any positive.
    """
    temperature = check_temperature(temperature)
    embeddings = embeddings_by_view(y_pred)
    batch_size, num_views = embeddings.shape[0], embeddings.shape[1]
    if use_labels:
        labels = flatten_labels(y_true, batch_size)
    else:
        labels = ops.arange(ops.shape(embeddings)[0])

    anchors = ops.reshape(embeddings, (-1, embeddings.shape[2]))
    if normalize:
        anchors = l2_normalize(anchors)
    logits = ops.matmul(anchors, ops.transpose(anchors)) * (1.0 / temperature)

    anchor_labels = ops.repeat(labels, num_views, axis=0)
    same_label = ops.equal(anchor_labels[:, None], anchor_labels[None, :])
    index = ops.arange(ops.shape(anchors)[0])
    is_self = ops.equal(index[:, None], index[None, :])
    positive = ops.logical_and(same_label, ops.logical_not(is_self))
    negative = ops.logical_not(same_label)

    losses = anchor_losses(logits, positive, negative)
    anchor_has_positive = ops.reshape(ops.any(positive, axis=1), (-1, num_views))
    losses = ops.reshape(losses, (-1, num_views))
    sample_losses = masked_mean(losses, anchor_has_positive)
    return sample_losses, ops.any(anchor_has_positive, axis=1)
