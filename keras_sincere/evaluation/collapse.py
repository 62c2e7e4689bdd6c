"""How spread out a set of embeddings is: the signs of a collapsed model."""

import numpy as np

from keras_sincere.evaluation._inputs import embeddings_array


def embedding_spread(embeddings) -> dict:
    """Mean pairwise cosine similarity and effective rank of embeddings.

    A contrastive model that has not left its starting point maps every
    image to nearly the same direction: the mean cosine similarity of
    distinct pairs is close to 1 and one direction carries nearly all the
    energy. With the rows `z_i` L2-normalised (`n` of them):

    ```
    mean_pairwise_cosine = (|sum_i z_i|^2 - n) / (n (n - 1))
    effective_rank       = exp(-sum_k p_k log p_k),  p_k = sigma_k / sum_j sigma_j
    ```

    where `sigma_k` are the singular values of the `(n, D)` matrix of unit
    rows (Roy & Vetterli, 2007). The effective rank is 1 when all rows are
    parallel and `min(n, D)` when the energy is spread evenly. Zero rows
    are left out.

    Args:
        embeddings: `(N, D)` embeddings, N >= 2.

    Returns:
        A dict with `mean_pairwise_cosine` and `effective_rank` (floats).

    Example:

    >>> spread = embedding_spread(np.eye(4))
    >>> round(spread["mean_pairwise_cosine"], 3), round(spread["effective_rank"], 3)
    (0.0, 4.0)
    """
    array = embeddings_array(embeddings, "embeddings").astype(np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError("`embeddings` must be finite (it holds NaN or inf values).")
    norms = np.linalg.norm(array, axis=1)
    unit = array[norms > 0] / norms[norms > 0, None]
    count = unit.shape[0]
    if count < 2:
        raise ValueError(
            "`embeddings` must hold at least 2 non-zero rows. "
            f"Received: embeddings.shape={array.shape} with {count} non-zero."
        )
    total = unit.sum(axis=0)
    mean_cosine = (float(total @ total) - count) / (count * (count - 1))
    singular = np.linalg.svd(unit, compute_uv=False)
    share = singular / singular.sum()
    share = share[share > 0]
    return {
        "mean_pairwise_cosine": mean_cosine,
        "effective_rank": float(np.exp(-np.sum(share * np.log(share)))),
    }
