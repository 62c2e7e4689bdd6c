"""The information bound of Theorem 11: SINCERE loss and symmetrised KL."""

import numpy as np

from keras_sincere.evaluation._inputs import to_numpy


def kl_lower_bound(loss_value, num_noise):
    """Lower bound on the symmetrised KL divergence of target and noise.

    Theorem 11 of the paper: for any critic `theta`, the ideal SINCERE
    loss (the expected negative log-likelihood of picking the target among
    one target and `|N|` noise samples, eq. 10) satisfies

    ```
    L(theta) >= L(theta*) >= log|N| - ( KL(p- || p+) + KL(p+ || p-) )
    ```

    so, read the other way round,

    ```
    KL(p- || p+) + KL(p+ || p-) >= log|N| - L(theta)
    ```

    which this function returns (natural logarithm, in nats). It holds for
    the *expected* loss; a loss averaged over finitely many batches is an
    estimate of it, so the bound inherits its sampling error. Negative
    values are valid but vacuous (the divergence is >= 0).

    With the practical loss (eq. 12) `|N|` is the number of noise
    embeddings in each softmax: `V * (B - B_c)` for a batch of `B` samples,
    `V` views and `B_c` samples of the anchor's class, e.g.
    `2 * 512 * (K - 1) / K` for class-balanced batches of 512 images over
    `K` classes.

    The bound is loose even for the optimal critic `theta*` (scores equal
    to `log p+(x) / p-(x)`): its value `log|N| - L(theta*)` approaches
    `KL(p+ || p-)` as `|N|` grows, not the symmetrised KL (the Jensen
    step of appendix C gives away up to `KL(p- || p+)`), and since the loss
    is >= 0 it can never exceed `log|N|`.

    Args:
        loss_value: a SINCERE loss value (float, numpy array or backend
            tensor), in nats.
        num_noise: `|N| >= 1`, number of noise samples per softmax (scalar
            or array broadcastable against `loss_value`).

    Returns:
        `log(num_noise) - loss_value`: a Python float for scalar inputs,
        otherwise a float64 numpy array.

    Example:

    >>> round(kl_lower_bound(5.0, num_noise=1020), 4)
    1.9276
    """
    loss = to_numpy(loss_value).astype(np.float64)
    noise = to_numpy(num_noise).astype(np.float64)
    if not np.all(np.isfinite(noise)) or np.any(noise < 1):
        raise ValueError(
            f"`num_noise` must be >= 1 (noise samples per softmax). "
            f"Received: num_noise={num_noise}"
        )
    bound = np.log(noise) - loss
    return float(bound) if bound.ndim == 0 else bound
