"""The base of the four losses: a per-anchor loss function and a thin class.

As Keras core wraps a loss function in a class (`LossFunctionWrapper`),
each loss here is one function, the loss of each anchor row, wrapped by
`SoftmaxContrastiveLoss`, which does everything else.
"""

import functools
import inspect
import numbers
from collections.abc import Callable

import keras
import numpy as np
from keras import ops

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_positive
from keras_sincere.distributed import loss_scale
from keras_sincere.distributed import replicas_to_gather
from keras_sincere.losses._per_sample import check_chunk_size
from keras_sincere.losses._per_sample import check_positive_weighting
from keras_sincere.losses._per_sample import per_sample_losses


class SoftmaxContrastiveLoss(keras.losses.Loss):
    """Base class of the softmax (InfoNCE-style) supervised contrastive losses.

    A loss is a function `anchor_losses(logits, positive, negative,
    **options)`: the loss of each anchor row from its row of logits
    `s_ij = z_i . z_j / T` over the `N = B * V` embeddings, the float32
    weights of its positives (same label, not itself; 1 each, or the
    Jaccard weight with `positive_weighting="jaccard"`; 0 elsewhere, so a
    mean over positives is `keras_sincere.ops.masked_mean(x, positive)`) and
    the float32 0/1 mask of its negatives (other label). Everything else
    (checks, normalisation, masks, chunking, gathering across devices,
    averaging, reduction) is shared. The rows are
    all `N` anchors on the dense path and `chunk_size` of them at a time on
    the chunked one, so `anchor_losses` must treat rows independently.
    Subclasses pass their function and options, and set `uses_labels =
    False` if every sample is its own class; `per_sample_losses` is their
    functional form:

    ```python
    def hard_anchor_losses(logits, positive, negative, margin):
        ...  # one float32 value per row


    @keras.saving.register_keras_serializable(package="my_package")
    class HardLoss(SoftmaxContrastiveLoss):
        def __init__(self, temperature=0.1, margin=0.5, name="hard_loss", **kwargs):
            super().__init__(
                hard_anchor_losses, temperature, name=name, margin=margin, **kwargs
            )


    def hard(y_true, y_pred, temperature=0.1, margin=0.5, **kwargs):
        return HardLoss.per_sample_losses(y_true, y_pred, temperature, margin, **kwargs)
    ```

    `call(y_true, y_pred)` returns per-sample losses `(B,)`: the mean over
    the sample's views. Calling the loss reduces them with Keras's
    `reduction`, leaving out samples without any positive (a single view
    whose label no other sample has): with the default
    `"sum_over_batch_size"` the result is the mean over anchors that have a
    positive, and 0 with a zero gradient when no anchor has one.

    Labels are one integer per sample, `(B,)` or `(B, 1)`, or multi-hot
    label sets `(B, C)` with `C > 1` (bool, integer or float 0/1). With
    label sets, the positives of anchor `i` are the other embeddings whose
    set intersects `Y_i`, its negatives those whose set is disjoint from
    `Y_i`; a sample with an empty set is a negative of every anchor and has
    no positive itself. One-hot rows give exactly the integer-label loss.

    Labels are compared in their own dtype. Keras's own `Loss.__call__`
    would cast them to the loss dtype first, which merges integer labels
    above 2**24 in float32 (above 2048 in float16), so this class reduces
    per-sample losses itself, with the same rules as Keras.

    Args:
        anchor_losses: `fn(logits, positive, negative, **options) -> (rows,)`.
        temperature: `T > 0`, dividing the cosine similarities.
        normalize: L2-normalise embeddings before the dot products.
        reduction: a Keras reduction: `"sum_over_batch_size"` (default),
            `"sum"`, `"mean"`, `"mean_with_sample_weight"`, `"none"` or `None`.
        name: name of the loss.
        dtype: dtype of the returned loss. The math is float32 whatever
            this is, and whatever the mixed-precision policy is.
        chunk_size: `None` (default) computes all `N x N` logits at once:
            `O(N^2)` memory. An integer streams blocks of `chunk_size`
            anchors against all `N` embeddings with an exact per-row loss and
            recomputes each block in the backward pass: the same value and
            gradient in `O(N * D + N * chunk_size)` memory, for batches whose
            `N x N` logits do not fit.
        gather_distributed: in a data-parallel step on several devices
            (a `tf.distribute` strategy's replicas, or `torch.distributed`
            processes under DDP), compare each device's anchors with the
            embeddings of the whole global batch, gathered from every
            device, so that the step equals the single-device step on the
            global batch (values and gradients; see `docs/distributed.md`).
            Every device must hold the same number of samples. No effect on
            one device, and none on JAX, where `keras.distribution` already
            computes the loss on the global batch. Defaults to `False`.
        positive_weighting: `None` (default): every positive of an anchor
            counts the same. `"jaccard"`: with multi-hot labels, the mean
            over the positives `p` of anchor `i` is weighted by the Jaccard
            index `|Y_i & Y_p| / |Y_i | Y_p|` of their label sets: the
            label-overlap weighting of multi-label SupCon variants (Huang
            et al. 2024, arXiv:2410.13439, review them), here a weight of
            each positive's term and never of the denominator's noise. No
            effect on integer labels.
        **options: the loss's own arguments (such as `epsilon`), already
            checked: passed to `anchor_losses` as keywords, and kept as
            attributes and in the config.
    """

    uses_labels = True

    def __init__(
        self,
        anchor_losses: Callable,
        temperature: float = 0.1,
        normalize: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype=None,
        chunk_size: int | None = None,
        gather_distributed: bool = False,
        positive_weighting: str | None = None,
        **options,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        # An unknown option (a misspelt argument) fails here, not at the
        # first call.
        inspect.signature(anchor_losses).bind(None, None, None, **options)
        self.temperature = check_positive(temperature, "temperature")
        self.normalize = check_bool(normalize, "normalize")
        self.chunk_size = check_chunk_size(chunk_size)
        self.gather_distributed = check_bool(gather_distributed, "gather_distributed")
        self.positive_weighting = check_positive_weighting(positive_weighting)
        self._options = options
        for option, value in options.items():
            setattr(self, option, value)
        self.anchor_losses = functools.partial(anchor_losses, **options)

    @classmethod
    def per_sample_losses(
        cls,
        y_true,
        y_pred,
        *args,
        normalize: bool = True,
        chunk_size: int | None = None,
        gather_distributed: bool = False,
        positive_weighting: str | None = None,
        memory_embeddings=None,
        memory_labels=None,
        memory_mask=None,
    ):
        """Per-sample losses `(B,)` of this loss: its functional form.

        `args` are the loss's own leading arguments (`temperature`, and for
        example `epsilon`); the other arguments are those of the class and
        of `call`.
        """
        loss = cls(
            *args,
            normalize=normalize,
            chunk_size=chunk_size,
            gather_distributed=gather_distributed,
            positive_weighting=positive_weighting,
        )
        return loss.call(
            y_true,
            y_pred,
            memory_embeddings=memory_embeddings,
            memory_labels=memory_labels,
            memory_mask=memory_mask,
        )

    def _losses_and_has_positive(self, y_true, y_pred, **memory):
        """`(losses, has_positive)`: float32 `(B,)` and bool `(B,)`."""
        return per_sample_losses(
            y_true,
            y_pred,
            self.anchor_losses,
            temperature=self.temperature,
            normalize=self.normalize,
            use_labels=self.uses_labels,
            chunk_size=self.chunk_size,
            gather_distributed=self.gather_distributed,
            positive_weighting=self.positive_weighting,
            **memory,
        )

    def call(
        self,
        y_true,
        y_pred,
        memory_embeddings=None,
        memory_labels=None,
        memory_mask=None,
    ):
        """Per-sample losses `(B,)`: the mean over each sample's views.

        Args:
            y_true: integer labels `(B,)` or `(B, 1)`, or multi-hot label
                sets `(B, C)`.
            y_pred: embeddings `(B, D)` or `(B, V, D)`.
            memory_embeddings: optional `(M, D)` embeddings of earlier
                batches (a cross-batch memory), added to the keys without
                gradient. They are never anchors: for each batch anchor, an
                entry of its label is one more positive, an entry of
                another label one more negative (with unique labels, as in
                InfoNCE, every entry is a negative). Costs `O(N (N + M) D)`
                time and `O(N (N + M))` memory, `O((N + M) chunk_size)`
                with `chunk_size`.
            memory_labels: `(M,)` or `(M, 1)` integer labels of the memory,
                or `(M, C)` multi-hot sets with multi-hot `y_true`.
            memory_mask: optional `(M,)` bool, the entries in use (for
                example a queue's filled slots); the others take no part.
        """
        return self._losses_and_has_positive(
            y_true,
            y_pred,
            memory_embeddings=memory_embeddings,
            memory_labels=memory_labels,
            memory_mask=memory_mask,
        )[0]

    def __call__(
        self,
        y_true,
        y_pred,
        sample_weight=None,
        memory_embeddings=None,
        memory_labels=None,
        memory_mask=None,
    ):
        """The reduced loss; the memory arguments as in `call`."""
        with keras.name_scope(self.name):
            losses, has_positive = self._losses_and_has_positive(
                y_true,
                y_pred,
                memory_embeddings=memory_embeddings,
                memory_labels=memory_labels,
                memory_mask=memory_mask,
            )
            weights = ops.cast(has_positive, "float32")
            if sample_weight is not None:
                weights = weights * _per_sample_weights(sample_weight, losses)
            replicas = replicas_to_gather(self.gather_distributed)
            loss = _reduce(losses, weights, has_positive, self.reduction, replicas)
            if self.reduction not in (None, "none"):
                # Keras's scaling of a reduced loss under tf.distribute.
                loss = loss * loss_scale()
            return ops.cast(loss, self.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "temperature": self.temperature,
                "normalize": self.normalize,
                "dtype": self.dtype,
                "chunk_size": self.chunk_size,
                "gather_distributed": self.gather_distributed,
                "positive_weighting": self.positive_weighting,
                **self._options,
            }
        )
        return config


def _per_sample_weights(sample_weight, losses):
    """`sample_weight` as float32 `(B,)`: a scalar, `(B,)` or `(B, 1)`."""
    if isinstance(sample_weight, (list, tuple, np.ndarray, numbers.Number)):
        concrete = np.asarray(sample_weight, dtype="float64")
        valid = np.all(np.isfinite(concrete)) and np.all(concrete >= 0)
        if not valid:
            raise ValueError(
                "`sample_weight` must be finite and >= 0. Received: values in "
                f"[{np.nanmin(concrete)}, {np.nanmax(concrete)}] with shape "
                f"{concrete.shape}"
            )
    weights = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
    shape = tuple(weights.shape)
    if len(shape) == 0:
        return weights
    if len(shape) == 2 and shape[1] == 1:
        weights = ops.reshape(weights, (-1,))
    elif len(shape) != 1:
        raise ValueError(
            "`sample_weight` must have shape (B,) or (B, 1), one weight per "
            f"sample. Received: sample_weight.shape={shape}"
        )
    if weights.shape[0] is not None and losses.shape[0] is not None:
        if weights.shape[0] != losses.shape[0]:
            raise ValueError(
                f"`sample_weight` has shape {shape} but the batch has "
                f"{losses.shape[0]} samples."
            )
    return weights


def _reduce(losses, weights, has_positive, reduction, replicas=None):
    """Keras's reductions, with samples without a positive masked out.

    As Keras does for masked losses, the averaging reductions divide by the
    number of samples that count (here: that have a positive).

    With `replicas` (R of them), the denominators are those of the global
    batch and the value is `R` times this replica's share of the global
    loss: the mean over replicas is the global loss, and so is the sum of the
    replicas' values once Keras's `1 / R` for `tf.distribute` is applied.
    """
    weighted = losses * weights
    if reduction is None or reduction == "none":
        return weighted
    total = ops.sum(weighted)
    if replicas is None:
        count, global_sum = 1.0, ops.sum
    else:
        count = float(replicas.count)

        def global_sum(x):
            return replicas.all_reduce_sum(ops.sum(x))

    if reduction == "sum":
        return total * count
    if reduction == "mean_with_sample_weight":
        return ops.divide_no_nan(total * count, global_sum(weights))
    counted = global_sum(ops.cast(has_positive, "float32"))
    return ops.divide_no_nan(total * count, counted)
