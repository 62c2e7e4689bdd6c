"""The loss of each anchor row: what tells one softmax contrastive loss from another.

Each function takes `logits` `s_ij = z_i . z_j / T`, float32 `(rows, N)`,
the float32 weights `positive` of the positive pairs (same label, not
itself: 1, or the Jaccard weight of two label sets with
`positive_weighting="jaccard"`; 0 elsewhere) and the float32 0/1 mask
`negative` (other label) of the same shape, and returns float32 `(rows,)`.
"Mean over positives" is the mean weighted by `positive`.
Rows are independent: the chunked path calls the functions on blocks of
rows. Their own options (`epsilon`, ...) are keyword arguments.
"""

from keras import ops

from keras_sincere.ops import masked_logsumexp
from keras_sincere.ops import masked_mean
from keras_sincere.ops import softplus


def sincere_anchor_losses(logits, positive, negative):
    """Per anchor, mean over positives of `softplus(LSE_n s_in - s_ip)`.

    `-s_ip + log(exp(s_ip) + sum_n exp(s_in)) = log(1 + exp(LSE_n - s_ip))`:
    one log-sum-exp over the negatives per anchor serves all its positives.
    InfoNCE is this loss with every sample its own class.
    """
    noise = masked_logsumexp(logits, negative)
    return masked_mean(softplus(noise[:, None] - logits), positive)


def supcon_anchor_losses(
    logits, positive, negative, temperature: float, base_temperature=None
):
    """Per anchor, `scale * (LSE_{j != i} s_ij - mean_{p in P_i} s_ip)`.

    SupCon's denominator holds every other embedding, positives included:
    `sign(positive) + negative` (disjoint 0/1 masks) is exactly "not the
    anchor itself" (the positive weights, which may be below 1, weight the
    numerator's mean only). `scale` is `temperature / base_temperature`, or
    1 when `base_temperature` is None.
    """
    scale = 1.0 if base_temperature is None else temperature / base_temperature
    denominator = masked_logsumexp(logits, ops.sign(positive) + negative)
    return scale * (denominator - masked_mean(logits, positive))


def epsilon_supinfonce_anchor_losses(logits, positive, negative, epsilon: float):
    """Per anchor, mean over positives of `logaddexp(-eps, LSE_n s_in - s_ip)`.

    `-s_ip + log(exp(s_ip - eps) + sum_n exp(s_in))
    = log(exp(-eps) + exp(LSE_n - s_ip)) = softplus(LSE_n - s_ip + eps) - eps`.
    """
    noise = masked_logsumexp(logits, negative)
    pair_losses = softplus(noise[:, None] - logits + epsilon) - epsilon
    return masked_mean(pair_losses, positive)
