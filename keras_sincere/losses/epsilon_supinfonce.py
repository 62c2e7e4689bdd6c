"""epsilon-SupInfoNCE (Barbano et al., 2023): SINCERE with a margin."""

import functools

import keras

from keras_sincere.losses import _kernel
from keras_sincere.losses.contrastive_loss import ContrastiveLoss


def epsilon_supinfonce_anchor_losses(logits, positive, negative, epsilon):
    """Per anchor, mean over positives of `logaddexp(-eps, LSE_n s_in - s_ip)`.

    `-s_ip + log(exp(s_ip - eps) + sum_n exp(s_in))
    = log(exp(-eps) + exp(LSE_n - s_ip)) = softplus(LSE_n - s_ip + eps) - eps`.
    """
    noise = _kernel.masked_logsumexp(logits, negative)
    pair_losses = _kernel.softplus(noise[:, None] - logits + epsilon) - epsilon
    return _kernel.masked_mean(pair_losses, positive)


@keras.saving.register_keras_serializable(package="keras_sincere")
def epsilon_supinfonce(
    y_true,
    y_pred,
    temperature: float = 0.1,
    epsilon: float = 0.25,
    normalize: bool = True,
    chunk_size: int | None = None,
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
        y_true: integer labels, shape `(B,)` or `(B, 1)`.
        y_pred: embeddings, shape `(B, V, D)` or `(B, D)`.
        temperature: `T > 0`.
        epsilon: margin `>= 0`. The paper's comparison used 0.25.
        normalize: L2-normalise `y_pred` first.
        chunk_size: `None` for the dense path, or anchors per block of the
            chunked `O(N * chunk_size)`-memory path.

    Returns:
        Float32 tensor of shape `(B,)`.

    Example:

    >>> import numpy as np
    >>> embeddings = np.random.default_rng(0).normal(size=(4, 2, 8))
    >>> keras_sincere.losses.epsilon_supinfonce(
    ...     np.array([0, 0, 1, 1]), embeddings, epsilon=0.1).shape
    (4,)
    """
    epsilon = _kernel.check_non_negative(epsilon, "epsilon")
    losses, _ = _kernel.contrastive_loss(
        y_true,
        y_pred,
        functools.partial(epsilon_supinfonce_anchor_losses, epsilon=epsilon),
        temperature,
        normalize,
        chunk_size=chunk_size,
    )
    return losses


@keras.saving.register_keras_serializable(package="keras_sincere")
class EpsilonSupInfoNCELoss(ContrastiveLoss):
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
        normalize: L2-normalise the embeddings first. Defaults to `True`.
        reduction: a Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: name of the loss. Defaults to `"epsilon_supinfonce_loss"`.
        dtype: dtype of the returned value; the math is always float32.
        chunk_size: `None` (default) for the dense `O(N^2)`-memory path, or
            the number of anchors per block of the chunked path (same value
            and gradient in `O(N * chunk_size)` memory; see `ContrastiveLoss`).
        gather_distributed: compare each device's anchors with the whole
            global batch in multi-device training (see `ContrastiveLoss`).

    Example:

    ```python
    model.compile(optimizer="sgd", loss=EpsilonSupInfoNCELoss(epsilon=0.25))
    ```
    """

    def __init__(
        self,
        temperature: float = 0.1,
        epsilon: float = 0.25,
        normalize: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str | None = "epsilon_supinfonce_loss",
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
        self.epsilon = _kernel.check_non_negative(epsilon, "epsilon")

    def anchor_losses(self, logits, positive, negative):
        return epsilon_supinfonce_anchor_losses(
            logits, positive, negative, self.epsilon
        )

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config
