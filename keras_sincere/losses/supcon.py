"""SupCon: the supervised contrastive loss of Khosla et al. (2020)."""

import functools

import keras

from keras_sincere.losses import _kernel
from keras_sincere.losses.contrastive_loss import ContrastiveLoss


def supcon_anchor_losses(logits, positive, negative, scale=1.0):
    """Per anchor, `scale * (LSE_{j != i} s_ij - mean_{p in P_i} s_ip)`.

    SupCon's denominator holds every other embedding, positives included:
    `positive + negative` (disjoint 0/1 masks) is exactly "not the anchor
    itself".
    """
    denominator = _kernel.masked_logsumexp(logits, positive + negative)
    return scale * (denominator - _kernel.masked_mean(logits, positive))


def _temperature_scale(temperature, base_temperature):
    """`T / base_temperature`, or 1 when `base_temperature` is None."""
    if base_temperature is None:
        return 1.0
    base = _kernel.check_temperature(base_temperature, "base_temperature")
    return _kernel.check_temperature(temperature) / base


@keras.saving.register_keras_serializable(package="keras_sincere")
def supcon(
    y_true,
    y_pred,
    temperature: float = 0.1,
    base_temperature: float | None = None,
    normalize: bool = True,
    chunk_size: int | None = None,
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
        y_true: integer labels, shape `(B,)` or `(B, 1)`.
        y_pred: embeddings, shape `(B, V, D)` or `(B, D)`.
        temperature: `T > 0`.
        base_temperature: optional `> 0` rescaling as in the reference code.
        normalize: L2-normalise `y_pred` first.
        chunk_size: `None` for the dense path, or anchors per block of the
            chunked `O(N * chunk_size)`-memory path.

    Returns:
        Float32 tensor of shape `(B,)`.

    Example:

    >>> import numpy as np
    >>> embeddings = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> keras_sincere.losses.supcon(np.array([0, 0, 1, 1]), embeddings).shape
    (4,)
    """
    scale = _temperature_scale(temperature, base_temperature)
    losses, _ = _kernel.contrastive_loss(
        y_true,
        y_pred,
        functools.partial(supcon_anchor_losses, scale=scale),
        temperature,
        normalize,
        chunk_size=chunk_size,
    )
    return losses


@keras.saving.register_keras_serializable(package="keras_sincere")
class SupConLoss(ContrastiveLoss):
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
        normalize: L2-normalise the embeddings first. Defaults to `True`.
        reduction: a Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: name of the loss. Defaults to `"supcon_loss"`.
        dtype: dtype of the returned value; the math is always float32.
        chunk_size: `None` (default) for the dense `O(N^2)`-memory path, or
            the number of anchors per block of the chunked path (same value
            and gradient in `O(N * chunk_size)` memory; see `ContrastiveLoss`).
        gather_distributed: compare each device's anchors with the whole
            global batch in multi-device training (see `ContrastiveLoss`).

    Example:

    ```python
    model.compile(optimizer="sgd", loss=keras_sincere.losses.SupConLoss(0.05))
    ```
    """

    def __init__(
        self,
        temperature: float = 0.1,
        base_temperature: float | None = None,
        normalize: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "supcon_loss",
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
        self._scale = _temperature_scale(self.temperature, base_temperature)
        self.base_temperature = (
            None if base_temperature is None else float(base_temperature)
        )

    def anchor_losses(self, logits, positive, negative):
        return supcon_anchor_losses(logits, positive, negative, self._scale)

    def get_config(self):
        config = super().get_config()
        config["base_temperature"] = self.base_temperature
        return config
