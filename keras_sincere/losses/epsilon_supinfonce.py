"""epsilon-SupInfoNCE (Barbano et al., 2023): SINCERE with a margin."""

import keras

from keras_sincere._validation import check_non_negative
from keras_sincere.losses._anchor_losses import epsilon_supinfonce_anchor_losses
from keras_sincere.losses.softmax_contrastive_loss import SoftmaxContrastiveLoss


@keras.saving.register_keras_serializable(package="keras_sincere")
class EpsilonSupInfoNCELoss(SoftmaxContrastiveLoss):
    """epsilon-SupInfoNCE loss (Barbano et al., 2023; paper eq. 15).

    ```
    loss_i = mean_{p in P_i} [ -s_ip
                               + log( exp(s_ip - eps) + sum_{n in N_i} exp(s_in) ) ]
    ```

    with `s_ij = z_i . z_j / T`, `P_i` the other embeddings of `i`'s class and
    `N_i` the embeddings of other classes. `epsilon=0` is `SincereLoss`.

    Args:
        temperature: `T > 0`. Defaults to 0.1.
        epsilon: margin in logit units, `>= 0`. Defaults to 0.25 (the value
            the SINCERE paper selected for its comparison).
        name: name of the loss. Defaults to `"epsilon_supinfonce_loss"`.
        **kwargs: `normalize`, `reduction`, `dtype`, `chunk_size`,
            `gather_distributed`, `positive_weighting` (multi-hot labels),
            as in `SoftmaxContrastiveLoss`.

    Example:

    ```python
    model.compile(optimizer="sgd", loss=EpsilonSupInfoNCELoss(epsilon=0.25))
    ```
    """

    def __init__(
        self,
        temperature: float = 0.1,
        epsilon: float = 0.25,
        name="epsilon_supinfonce_loss",
        **kwargs,
    ):
        super().__init__(
            epsilon_supinfonce_anchor_losses,
            temperature,
            name=name,
            epsilon=check_non_negative(epsilon, "epsilon"),
            **kwargs,
        )


@keras.saving.register_keras_serializable(package="keras_sincere")
def epsilon_supinfonce(
    y_true, y_pred, temperature: float = 0.1, epsilon: float = 0.25, **kwargs
):
    """epsilon-SupInfoNCE loss of each sample (paper eq. 15).

    With `s_ij = z_i . z_j / T`, positives `P_i` and negatives `N_i`:

    ```
    loss_i = mean_{p in P_i} [ -s_ip
                               + log( exp(s_ip - eps) + sum_{n in N_i} exp(s_in) ) ]
    ```

    `epsilon` is a margin in logit units: the loss asks `s_ip` to exceed every
    `s_in` by `eps`. `epsilon=0` is SINCERE exactly. An anchor without
    negatives has the constant loss `-eps` (zero gradient).

    Args:
        y_true: integer labels, shape `(B,)` or `(B, 1)`; or multi-hot
            label sets `(B, C)`: then `P_i` holds the other embeddings whose
            set shares a label with `i`'s and `N_i` those sharing none, and
            `positive_weighting="jaccard"` weights each `p` in the mean by
            `|Y_i & Y_p| / |Y_i | Y_p|` (docs/losses.md).
        y_pred: embeddings, shape `(B, V, D)` or `(B, D)`.
        temperature: `T > 0`.
        epsilon: margin `>= 0`. The paper's comparison used 0.25.
        **kwargs: `normalize=True`, `chunk_size=None`,
            `gather_distributed=False`, `positive_weighting=None`, as in
            `SoftmaxContrastiveLoss`;
            `memory_embeddings`, `memory_labels`, `memory_mask` (a
            cross-batch memory), as in `SoftmaxContrastiveLoss.call`.

    Returns:
        Float32 per-sample losses, shape `(B,)`.

    Example:

    >>> import numpy as np
    >>> embeddings = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> tuple(keras_sincere.losses.epsilon_supinfonce(
    ...     np.array([0, 0, 1, 1]), embeddings, epsilon=0.1).shape)
    (4,)
    """
    return EpsilonSupInfoNCELoss.per_sample_losses(
        y_true, y_pred, temperature, epsilon, **kwargs
    )
