"""InfoNCE / NT-Xent: self-supervised instance discrimination."""

import keras

from keras_sincere.losses import _kernel
from keras_sincere.losses.contrastive_loss import ContrastiveLoss
from keras_sincere.losses.sincere import sincere_anchor_losses


@keras.saving.register_keras_serializable(package="keras_sincere")
def infonce(
    y_true,
    y_pred,
    temperature: float = 0.5,
    normalize: bool = True,
    chunk_size: int | None = None,
):
    """InfoNCE (NT-Xent, SimCLR) loss of each sample.

    Every sample is its own class: the positives of a view are the other
    views of the same sample, the negatives are all views of other samples.
    With `s_ij = z_i . z_j / T`:

    ```
    loss_i = mean_{p in P_i} [ -s_ip + log( exp(s_ip) + sum_{n in N_i} exp(s_in) ) ]
    ```

    This is SINCERE with unique labels; `y_true` is ignored and may be `None`.
    With one view there are no positives and every loss is 0.

    Args:
        y_true: ignored.
        y_pred: embeddings `(B, V, D)`, V >= 2 views of each sample.
        temperature: `T > 0`. SimCLR used 0.5.
        normalize: L2-normalise `y_pred` first.
        chunk_size: `None` for the dense path, or anchors per block of the
            chunked `O(N * chunk_size)`-memory path.

    Returns:
        Float32 tensor of shape `(B,)`.

    Example:

    >>> import numpy as np
    >>> views = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> keras_sincere.losses.infonce(None, views).shape
    (4,)
    """
    del y_true
    losses, _ = _kernel.contrastive_loss(
        None,
        y_pred,
        sincere_anchor_losses,
        temperature,
        normalize,
        use_labels=False,
        chunk_size=chunk_size,
    )
    return losses


@keras.saving.register_keras_serializable(package="keras_sincere")
class InfoNCELoss(ContrastiveLoss):
    """InfoNCE / NT-Xent loss (Chen et al., 2020): SINCERE with unique labels.

    ```
    loss_i = mean_{p in P_i} [ -s_ip + log( exp(s_ip) + sum_{n in N_i} exp(s_in) ) ]
    ```

    where `P_i` are the other views of the sample of `i` and `N_i` all views
    of the other samples. `y_true` is ignored.

    Args:
        temperature: `T > 0`. Defaults to 0.5 (SimCLR).
        normalize: L2-normalise the embeddings first. Defaults to `True`.
        reduction: a Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: name of the loss. Defaults to `"infonce_loss"`.
        dtype: dtype of the returned value; the math is always float32.
        chunk_size: `None` (default) for the dense `O(N^2)`-memory path, or
            the number of anchors per block of the chunked path (same value
            and gradient in `O(N * chunk_size)` memory; see `ContrastiveLoss`).
        gather_distributed: compare each device's anchors with the whole
            global batch in multi-device training (see `ContrastiveLoss`).

    Example:

    ```python
    model.compile(optimizer="sgd", loss=keras_sincere.losses.InfoNCELoss(0.5))
    ```
    """

    uses_labels = False

    def __init__(
        self,
        temperature: float = 0.5,
        normalize: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "infonce_loss",
        dtype=None,
        chunk_size: int | None = None,
        gather_distributed: bool = False,
    ):
        super().__init__(
            temperature=temperature,
            normalize=normalize,
            reduction=reduction,
            name=name,
            dtype=dtype,
            chunk_size=chunk_size,
            gather_distributed=gather_distributed,
        )

    def anchor_losses(self, logits, positive, negative):
        return sincere_anchor_losses(logits, positive, negative)
