"""The four losses written directly from their formulas, with Python loops.

Float64, one anchor and one pair at a time: the oracle the fast kernel is
compared against. Inputs are numpy arrays: labels `(B,)`, embeddings
`(B, V, D)`. Each returns per-sample losses `(B,)` (mean over the sample's
views that have a positive; 0 if none has one).
"""

import math

import numpy as np


def _anchors(labels, embeddings, temperature, normalize):
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim == 2:
        embeddings = embeddings[:, None, :]
    batch, views, _ = embeddings.shape
    vectors, anchor_labels = [], []
    for b in range(batch):
        for v in range(views):
            z = embeddings[b, v]
            if normalize:
                norm = math.sqrt(sum(c * c for c in z))
                z = z / norm if norm > 0 else z
            vectors.append(z)
            anchor_labels.append(labels[b])
    n = len(vectors)
    s = [
        [float(np.dot(vectors[i], vectors[j])) / temperature for j in range(n)]
        for i in range(n)
    ]
    return s, anchor_labels, batch, views


def _per_sample(anchor_losses, batch, views):
    out = []
    for b in range(batch):
        values = [anchor_losses[b * views + v] for v in range(views)]
        values = [x for x in values if x is not None]
        out.append(sum(values) / len(values) if values else 0.0)
    return np.array(out)


def _generic(labels, embeddings, temperature, normalize, pair_loss):
    s, lab, batch, views = _anchors(labels, embeddings, temperature, normalize)
    n = len(lab)
    losses = []
    for i in range(n):
        positives = [p for p in range(n) if p != i and lab[p] == lab[i]]
        negatives = [k for k in range(n) if lab[k] != lab[i]]
        others = [j for j in range(n) if j != i]
        if not positives:
            losses.append(None)
            continue
        pairs = [
            pair_loss(s, i, p, negatives, others, len(positives)) for p in positives
        ]
        losses.append(sum(pairs) / len(pairs))
    return _per_sample(losses, batch, views)


def sincere(labels, embeddings, temperature=0.1, normalize=True):
    def pair(s, i, p, negatives, others, num_positives):
        denominator = math.exp(s[i][p]) + sum(math.exp(s[i][k]) for k in negatives)
        return -s[i][p] + math.log(denominator)

    return _generic(labels, embeddings, temperature, normalize, pair)


def epsilon_supinfonce(
    labels, embeddings, temperature=0.1, epsilon=0.25, normalize=True
):
    def pair(s, i, p, negatives, others, num_positives):
        denominator = math.exp(s[i][p] - epsilon) + sum(
            math.exp(s[i][k]) for k in negatives
        )
        return -s[i][p] + math.log(denominator)

    return _generic(labels, embeddings, temperature, normalize, pair)


def supcon(labels, embeddings, temperature=0.1, base_temperature=None, normalize=True):
    scale = 1.0 if base_temperature is None else temperature / base_temperature

    def pair(s, i, p, negatives, others, num_positives):
        denominator = sum(math.exp(s[i][j]) for j in others)
        return scale * (-s[i][p] + math.log(denominator))

    return _generic(labels, embeddings, temperature, normalize, pair)


def infonce(labels, embeddings, temperature=0.5, normalize=True):
    unique = np.arange(np.asarray(embeddings).shape[0])
    return sincere(unique, embeddings, temperature, normalize)
