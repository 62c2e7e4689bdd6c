"""Numerics shared by the losses, the models and the evaluation.

Every function takes and returns tensors of the active Keras backend
(numpy arrays are accepted as inputs) and is built from `keras.ops` only,
so it runs unchanged on TensorFlow, JAX and PyTorch, inside `jit` too.

Example:

>>> import numpy as np
>>> unit = keras_sincere.ops.l2_normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
>>> keras.ops.convert_to_numpy(unit).astype("float64").round(2).tolist()
[[0.6, 0.8], [0.0, 0.0]]
"""

import keras
from keras import ops

# Far below any logit that float32 embeddings can produce (|s| <= |z|^2 / T),
# and far from overflowing float32 when differences of it are taken.
MASKED_LOGIT = -1e30


def l2_normalize(x):
    """L2-normalises the last axis: `x / ||x||`, exact for any finite float32 `x`.

    Dividing by the largest magnitude `m = max_k |x_k|` first keeps the sum
    of squares from overflowing (norms up to float32's maximum) or
    underflowing. The result does not depend on `m`, so it is held constant
    in the backward pass, where its own gradient would overflow for tiny
    vectors. After the division every non-zero vector has a squared norm
    `>= 1`, so flooring it at 1 only affects zero vectors: they stay zero
    (similarity 0 to everything) with an identity gradient. Where the CPU
    flushes subnormal numbers to zero (XLA does), a vector of subnormals is
    a zero vector.

    Args:
        x: float tensor `(..., D)`.

    Returns:
        A tensor of the shape and dtype of `x` whose last-axis vectors have
        norm 1 (or 0 for zero vectors).
    """
    x = ops.convert_to_tensor(x)
    largest = ops.stop_gradient(ops.amax(ops.abs(x), axis=-1, keepdims=True))
    # XLA may divide by multiplying with `1 / largest`, which is subnormal
    # (flushed to 0) near float32's maximum and infinite for subnormal
    # `largest`. Scaling such rows by a power of two first is exact and keeps
    # that reciprocal normal; other rows are multiplied by exactly 1.
    # Half-precision ranges hold neither the thresholds nor the factors.
    if keras.backend.standardize_dtype(x.dtype) in ("float32", "float64"):
        scale = ops.where(
            largest > 2.0**100,
            2.0**-64,
            ops.where(largest < 2.0**-100, 2.0**64, 1.0),
        )
        scale = ops.cast(scale, x.dtype)
        x, largest = x * scale, largest * scale
    x = x / ops.where(largest > 0, largest, 1.0)
    squared_norm = ops.sum(ops.square(x), axis=-1, keepdims=True)
    return x * ops.rsqrt(ops.maximum(squared_norm, 1.0))


def softplus(x):
    """`log(1 + exp(x))`, exact for every float32 `x`, with gradient `sigmoid(x)`.

    Written as `(x + |x|) / 2 + log1p(exp(-|x|))` on JAX and TensorFlow and
    as the backend's own `softplus` on PyTorch; BENCHMARKS.md ("Kernel
    choices") times both forms on each backend. `(x + |x|) / 2` rather than
    `max(x, 0)` keeps the gradient at exactly 0 equal to 1/2 on every
    backend.
    """
    if keras.backend.backend() == "torch":
        return ops.softplus(x)
    magnitude = ops.abs(x)
    return 0.5 * (x + magnitude) + ops.log1p(ops.exp(-magnitude))


def masked_logsumexp(logits, mask):
    """`log(sum_j exp(logits_ij))` over the `j` where `mask_ij = 1`, per row.

    `mask` is float 0/1. Masked entries are moved to `logits + MASKED_LOGIT`
    (exactly `MASKED_LOGIT` in float32) by an addition, whose gradient is the
    identity, rather than by a select (BENCHMARKS.md, "Kernel choices",
    compares the two). Their softmax weight, hence their gradient, is
    exactly 0. A row with no selected entry gives about `MASKED_LOGIT`
    (standing for `-inf`); no `-inf`, whose gradient is NaN on some
    backends, is ever formed.
    """
    return ops.logsumexp(logits + (mask - 1.0) * -MASKED_LOGIT, axis=1)


def masked_mean(values, mask):
    """Mean of `values_ij` over the `j` where `mask_ij = 1`, per row; 0 if none.

    `mask` is float 0/1, or float weights `>= 0` (then the weighted mean
    `sum_j w_ij v_ij / sum_j w_ij`), and `values` must be finite: masked
    entries are multiplied by 0 (a product, not a select, for the same
    reason as in `masked_logsumexp`).
    """
    total = ops.sum(values * mask, axis=1)
    weight = ops.sum(mask, axis=1)
    return total / ops.where(weight > 0.0, weight, 1.0)


def integers_to_value_range(images, value_range=(0.0, 1.0)):
    """Integer images (uint8 0-255, as loaded from files) mapped into `value_range`.

    `low + x * (high - low) / 255` as float32 for integer dtypes; float
    images are returned as they are (they are taken to be in `value_range`
    already). Augmentation layers expect floats in their `value_range`: fed
    0-255, the colour jitter would clip most views to blank.

    Args:
        images: image tensor or array of any shape.
        value_range: `(low, high)` of the float images wanted.

    Example:

    >>> import numpy as np
    >>> pixels = np.array([0, 51, 255], dtype="uint8")
    >>> images = keras_sincere.ops.integers_to_value_range(pixels)
    >>> keras.ops.convert_to_numpy(images).astype("float64").round(3).tolist()
    [0.0, 0.2, 1.0]
    """
    dtype = keras.backend.standardize_dtype(getattr(images, "dtype", "float32"))
    if not dtype.startswith(("int", "uint")):
        return images
    low, high = value_range
    return low + ops.cast(images, "float32") * ((high - low) / 255.0)
