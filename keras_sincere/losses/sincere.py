"""SINCERE: Supervised Information Noise-Contrastive Estimation REvisited."""

import keras

from keras_sincere.losses import _kernel
from keras_sincere.losses.contrastive_loss import ContrastiveLoss


def sincere_anchor_losses(logits, positive, negative):
    """Per anchor, mean over positives of `softplus(LSE_n s_in - s_ip)`.

    `-s_ip + log(exp(s_ip) + sum_n exp(s_in)) = log(1 + exp(LSE_n - s_ip))`:
    one log-sum-exp over the negatives per anchor serves all its positives.
    """
    noise = _kernel.masked_logsumexp(logits, negative)
    return _kernel.masked_mean(_kernel.softplus(noise[:, None] - logits), positive)


@keras.saving.register_keras_serializable(package="keras_sincere")
def sincere(
    y_true,
    y_pred,
    temperature: float = 0.1,
    normalize: bool = True,
    chunk_size: int | None = None,
):
    """SINCERE loss of each sample (Feeney & Hughes, eq. 12).

    Each of the `N = B * V` embeddings is an anchor `i`. With
    `s_ij = z_i . z_j / T` (cosine similarity over temperature when
    `normalize=True`), `P_i` the other embeddings with the label of `i` and
    `N_i` those with another label:

    ```
    loss_i = mean_{p in P_i} [ -s_ip + log( exp(s_ip) + sum_{n in N_i} exp(s_in) ) ]
    ```

    Unlike SupCon, the other positives never enter the denominator, so
    members of a class are never pushed apart. The loss of a sample is the
    mean over its views; anchors without a positive are left out (a sample
    with none gets 0), and an anchor without negatives has loss 0.

    Args:
        y_true: integer labels, shape `(B,)` or `(B, 1)`.
        y_pred: embeddings, shape `(B, V, D)` (V views of each sample) or
            `(B, D)`.
        temperature: `T > 0`. The paper used 0.1 on CIFAR-10, 0.05 on
            CIFAR-100.
        normalize: L2-normalise `y_pred` first.
        chunk_size: `None` for the dense path, or anchors per block of the
            chunked `O(N * chunk_size)`-memory path.

    Returns:
        Float32 tensor of shape `(B,)`.

    Example:

    >>> import numpy as np
    >>> embeddings = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> keras_sincere.losses.sincere(np.array([0, 0, 1, 1]), embeddings).shape
    (4,)
    """
    losses, _ = _kernel.contrastive_loss(
        y_true,
        y_pred,
        sincere_anchor_losses,
        temperature,
        normalize,
        chunk_size=chunk_size,
    )
    return losses


@keras.saving.register_keras_serializable(package="keras_sincere")
class SincereLoss(ContrastiveLoss):
    """SINCERE supervised contrastive loss (Feeney & Hughes, eq. 12).

    For each anchor embedding `z_i` (every view of every sample), with
    `s_ij = z_i . z_j / T`, positives `P_i` (same label, not `i`) and
    negatives `N_i` (other labels):

    ```
    loss_i = mean_{p in P_i} [ -s_ip + log( exp(s_ip) + sum_{n in N_i} exp(s_in) ) ]
    ```

    Each softmax holds one target (`p`) against the noise only, so no
    positive is ever in a denominator without being in its numerator: no
    intra-class repulsion (section 3.4 of the paper). The default reduction
    gives the mean over all anchors that have a positive.

    Args:
        temperature: `T > 0`. Defaults to 0.1.
        normalize: L2-normalise the embeddings first. Defaults to `True`.
        reduction: a Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: name of the loss. Defaults to `"sincere_loss"`.
        dtype: dtype of the returned value; the math is always float32.
        chunk_size: `None` (default) for the dense `O(N^2)`-memory path, or
            the number of anchors per block of the chunked path (same value
            and gradient in `O(N * chunk_size)` memory; see `ContrastiveLoss`).
        gather_distributed: compare each device's anchors with the whole
            global batch in multi-device training (see `ContrastiveLoss`).

    Inputs: `y_true` integer labels `(B,)` or `(B, 1)`; `y_pred` embeddings
    `(B, V, D)` or `(B, D)`.

    Example:

    ```python
    model.compile(optimizer="sgd", loss=keras_sincere.losses.SincereLoss(0.1))
    ```
    """

    def __init__(
        self,
        temperature: float = 0.1,
        normalize: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "sincere_loss",
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
