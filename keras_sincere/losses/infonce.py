"""InfoNCE / NT-Xent: self-supervised instance discrimination."""

import keras

from keras_sincere.losses._anchor_losses import sincere_anchor_losses
from keras_sincere.losses.softmax_contrastive_loss import SoftmaxContrastiveLoss


@keras.saving.register_keras_serializable(package="keras_sincere")
class InfoNCELoss(SoftmaxContrastiveLoss):
    """InfoNCE / NT-Xent loss (Chen et al., 2020): SINCERE with unique labels.

    ```
    loss_i = mean_{p in P_i} [ -s_ip + log( exp(s_ip) + sum_{n in N_i} exp(s_in) ) ]
    ```

    where `P_i` are the other views of the sample of `i` and `N_i` all views
    of the other samples. `y_true` is ignored.

    Args:
        temperature: `T > 0`. Defaults to 0.5 (SimCLR).
        name: name of the loss. Defaults to `"infonce_loss"`.
        **kwargs: `normalize`, `reduction`, `dtype`, `chunk_size`,
            `gather_distributed`, as in `SoftmaxContrastiveLoss`.

    Example:

    ```python
    model.compile(optimizer="sgd", loss=keras_sincere.losses.InfoNCELoss(0.5))
    ```
    """

    uses_labels = False

    def __init__(self, temperature: float = 0.5, name="infonce_loss", **kwargs):
        super().__init__(sincere_anchor_losses, temperature, name=name, **kwargs)


@keras.saving.register_keras_serializable(package="keras_sincere")
def infonce(y_true, y_pred, temperature: float = 0.5, **kwargs):
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
        **kwargs: `normalize=True`, `chunk_size=None`,
            `gather_distributed=False`, as in `SoftmaxContrastiveLoss`;
            `memory_embeddings`, `memory_mask` (a cross-batch memory, every
            entry a negative; `memory_labels` is ignored), as in
            `SoftmaxContrastiveLoss.call`.

    Returns:
        Float32 tensor of shape `(B,)`, one loss per sample.

    Example:

    >>> import numpy as np
    >>> views = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> tuple(keras_sincere.losses.infonce(None, views).shape)
    (4,)
    """
    return InfoNCELoss.per_sample_losses(None, y_pred, temperature, **kwargs)
