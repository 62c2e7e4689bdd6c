"""SINCERE: Supervised Information Noise-Contrastive Estimation REvisited."""

import keras

from keras_sincere.losses._anchor_losses import sincere_anchor_losses
from keras_sincere.losses.softmax_contrastive_loss import SoftmaxContrastiveLoss


@keras.saving.register_keras_serializable(package="keras_sincere")
class SincereLoss(SoftmaxContrastiveLoss):
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
        name: name of the loss. Defaults to `"sincere_loss"`.
        **kwargs: `normalize`, `reduction`, `dtype`, `chunk_size`,
            `gather_distributed`, `positive_weighting` (multi-hot labels),
            as in `SoftmaxContrastiveLoss`.

    Inputs: `y_true` integer labels `(B,)` or `(B, 1)`, or multi-hot label
    sets `(B, C)` (positives share a label with the anchor, negatives share
    none); `y_pred` embeddings
    `(B, V, D)` or `(B, D)`.

    Example:

    ```python
    model.compile(optimizer="sgd", loss=keras_sincere.losses.SincereLoss(0.1))
    ```
    """

    def __init__(self, temperature: float = 0.1, name="sincere_loss", **kwargs):
        super().__init__(sincere_anchor_losses, temperature, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="keras_sincere")
def sincere(y_true, y_pred, temperature: float = 0.1, **kwargs):
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

    With a cross-batch memory `(m_k, c_k)`, `k = 1..M`, the anchors stay
    the batch's, and `P_i` and `N_i` also hold the memory entries of `i`'s
    label and of the other labels: `s_ik = z_i . m_k / T`, with no gradient
    into `m_k`.

    Args:
        y_true: integer labels, shape `(B,)` or `(B, 1)`; or multi-hot
            label sets `(B, C)`: then `P_i` holds the other embeddings whose
            set shares a label with `i`'s and `N_i` those sharing none, and
            `positive_weighting="jaccard"` weights each `p` in the mean by
            `|Y_i & Y_p| / |Y_i | Y_p|` (docs/losses.md).
        y_pred: embeddings, shape `(B, V, D)` (V views of each sample) or
            `(B, D)`.
        temperature: `T > 0`. The paper used 0.1 on CIFAR-10, 0.05 on
            CIFAR-100.
        **kwargs: `normalize=True`, `chunk_size=None`,
            `gather_distributed=False`, `positive_weighting=None`, as in
            `SoftmaxContrastiveLoss`;
            `memory_embeddings`, `memory_labels`, `memory_mask` (a
            cross-batch memory), as in `SoftmaxContrastiveLoss.call`.

    Returns:
        Float32 tensor of shape `(B,)`.

    Example:

    >>> import numpy as np
    >>> embeddings = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> tuple(keras_sincere.losses.sincere(np.array([0, 0, 1, 1]), embeddings).shape)
    (4,)
    """
    return SincereLoss.per_sample_losses(y_true, y_pred, temperature, **kwargs)
