"""SupCon: the supervised contrastive loss of Khosla et al. (2020)."""

import functools

import keras

from keras_sincere._validation import check_positive
from keras_sincere.losses._anchor_losses import supcon_anchor_losses
from keras_sincere.losses.softmax_contrastive_loss import SoftmaxContrastiveLoss


def _checked_base_temperature(base_temperature: float | None) -> float | None:
    if base_temperature is None:
        return None
    return check_positive(base_temperature, "base_temperature")


@keras.saving.register_keras_serializable(package="keras_sincere")
class SupConLoss(SoftmaxContrastiveLoss):
    """Supervised contrastive loss of Khosla et al. (2020), "SupCon out".

    ```
    loss_i = (T / base_temperature)
             * mean_{p in P_i} [ -s_ip + log( sum_{j != i} exp(s_ij) ) ]
    ```

    with `s_ij = z_i . z_j / T` and `P_i` the other embeddings of `i`'s class.
    SupCon >= SINCERE on every batch, with equality when each anchor has a
    single positive.

    Args:
        temperature: `T > 0`. Defaults to 0.1.
        base_temperature: if given, multiplies the loss by
            `T / base_temperature` (0.07 in the reference code). Defaults to
            `None`: no rescaling.
        name: name of the loss. Defaults to `"supcon_loss"`.
        **kwargs: `normalize`, `reduction`, `dtype`, `chunk_size`,
            `gather_distributed`, `positive_weighting` (multi-hot labels),
            as in `SoftmaxContrastiveLoss`.

    Example:

    ```python
    # As in the reference code of Khosla et al.
    loss = keras_sincere.losses.SupConLoss(temperature=0.1, base_temperature=0.07)
    model.compile(optimizer="sgd", loss=loss)
    ```
    """

    def __init__(
        self,
        temperature: float = 0.1,
        base_temperature: float | None = None,
        name="supcon_loss",
        **kwargs,
    ):
        super().__init__(
            # The scale T / base_temperature needs the temperature.
            functools.partial(
                supcon_anchor_losses,
                temperature=check_positive(temperature, "temperature"),
            ),
            temperature,
            name=name,
            base_temperature=_checked_base_temperature(base_temperature),
            **kwargs,
        )


@keras.saving.register_keras_serializable(package="keras_sincere")
def supcon(
    y_true,
    y_pred,
    temperature: float = 0.1,
    base_temperature: float | None = None,
    **kwargs,
):
    """SupCon loss of each sample (Khosla et al., 2020; paper eq. 45).

    With `s_ij = z_i . z_j / T` and `P_i` the other embeddings of `i`'s class:

    ```
    loss_i = (T / base_temperature)
             * mean_{p in P_i} [ -s_ip + log( sum_{j != i} exp(s_ij) ) ]
    ```

    The factor is 1 when `base_temperature` is None (the SINCERE paper's
    comparison setting); the reference code of Khosla et al. uses
    `base_temperature=0.07`. The denominator contains the other positives,
    which is what causes intra-class repulsion (paper section 3.4).

    Args:
        y_true: integer labels, shape `(B,)` or `(B, 1)`; or multi-hot
            label sets `(B, C)`: then `P_i` holds the other embeddings whose
            set shares a label with `i`'s and `N_i` those sharing none, and
            `positive_weighting="jaccard"` weights each `p` in the mean by
            `|Y_i & Y_p| / |Y_i | Y_p|` (docs/losses.md).
        y_pred: embeddings, shape `(B, V, D)` or `(B, D)`.
        temperature: `T > 0`.
        base_temperature: optional `> 0` rescaling as in the reference code.
        **kwargs: `normalize=True`, `chunk_size=None`,
            `gather_distributed=False`, `positive_weighting=None`, as in
            `SoftmaxContrastiveLoss`;
            `memory_embeddings`, `memory_labels`, `memory_mask` (a
            cross-batch memory), as in `SoftmaxContrastiveLoss.call`.

    Returns:
        Float32 tensor of shape `(B,)`: the SupCon loss of each sample.

    Example:

    >>> import numpy as np
    >>> embeddings = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> tuple(keras_sincere.losses.supcon(np.array([0, 0, 1, 1]), embeddings).shape)
    (4,)
    """
    return SupConLoss.per_sample_losses(
        y_true, y_pred, temperature, base_temperature, **kwargs
    )
