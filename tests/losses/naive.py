"""The four losses written directly from their formulas, with Python loops.

Float64, one anchor and one pair at a time: the oracle the fast kernel is
compared against. Inputs are numpy arrays: labels `(B,)`, embeddings
`(B, V, D)`, and optionally a memory `(M, D)` with labels `(M,)`. Each
returns per-sample losses `(B,)` (mean over the sample's views that have a
positive; 0 if none has one).

A memory's entries are keys and never anchors: for anchor `i`, an entry of
its label is a positive, one of another label a negative.

Multi-hot labels `(B, C)` (and `(M, C)` for a memory) are label sets: a
key is a positive of anchor `i` when its set shares a label with `i`'s,
a negative when it shares none. With `positive_weighting="jaccard"`, each
positive's term in the anchor's mean is weighted by `|A & B| / |A | B|`.
"""

import math

import numpy as np


def _unit(z, normalize):
    if not normalize:
        return z
    norm = math.sqrt(sum(c * c for c in z))
    return z / norm if norm > 0 else z


def _anchors(labels, embeddings, temperature, normalize, memory=None):
    """Similarities of the `n` anchors (rows) with every key (columns).

    The keys are the anchors, then the memory entries.
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim == 2:
        embeddings = embeddings[:, None, :]
    batch, views, _ = embeddings.shape
    vectors, key_labels = [], []
    for b in range(batch):
        for v in range(views):
            vectors.append(_unit(embeddings[b, v], normalize))
            key_labels.append(labels[b])
    n = len(vectors)
    if memory is not None:
        memory_embeddings, memory_labels = memory
        for z, label in zip(memory_embeddings, memory_labels, strict=True):
            vectors.append(_unit(np.asarray(z, dtype=np.float64), normalize))
            key_labels.append(label)
    s = [
        [
            float(np.dot(vectors[i], vectors[j])) / temperature
            for j in range(len(vectors))
        ]
        for i in range(n)
    ]
    return s, key_labels, n, batch, views


def _label_sets(labels):
    """Multi-hot rows `(N, C)` as Python sets of class indices; others as-is."""
    labels = np.asarray(labels)
    if labels.ndim == 2 and labels.shape[1] > 1:
        return [frozenset(np.flatnonzero(row).tolist()) for row in labels]
    return list(labels.reshape(-1))


def _related(a, b):
    """Same label (integers) or intersecting label sets."""
    return bool(a & b) if isinstance(a, frozenset) else a == b


def _weight(a, b, weighting):
    if weighting == "jaccard" and isinstance(a, frozenset):
        return len(a & b) / len(a | b)
    return 1.0


def _per_sample(anchor_losses, batch, views):
    out = []
    for b in range(batch):
        values = [anchor_losses[b * views + v] for v in range(views)]
        values = [x for x in values if x is not None]
        out.append(sum(values) / len(values) if values else 0.0)
    return np.array(out)


def _generic(
    labels,
    embeddings,
    temperature,
    normalize,
    pair_loss,
    memory=None,
    positive_weighting=None,
):
    labels = _label_sets(labels)
    if memory is not None:
        memory = (memory[0], _label_sets(memory[1]))
    s, lab, n, batch, views = _anchors(
        labels, embeddings, temperature, normalize, memory
    )
    keys = range(len(lab))
    losses = []
    for i in range(n):
        positives = [p for p in keys if p != i and _related(lab[p], lab[i])]
        negatives = [k for k in keys if not _related(lab[k], lab[i])]
        others = [j for j in keys if j != i]
        if not positives:
            losses.append(None)
            continue
        weights = [_weight(lab[i], lab[p], positive_weighting) for p in positives]
        pairs = [
            pair_loss(s, i, p, negatives, others, len(positives)) for p in positives
        ]
        losses.append(
            sum(w * x for w, x in zip(weights, pairs, strict=True)) / sum(weights)
        )
    return _per_sample(losses, batch, views)


def _options(memory_embeddings=None, memory_labels=None, positive_weighting=None):
    """`_generic`'s `memory` (`(embeddings, labels)` or None) and weighting."""
    memory = None if memory_embeddings is None else (memory_embeddings, memory_labels)
    return {"memory": memory, "positive_weighting": positive_weighting}


# `**options`: `memory_embeddings` `(M, D)` and `memory_labels` `(M,)`, or
# none; and `positive_weighting` (None or "jaccard").


def sincere(labels, embeddings, temperature=0.1, normalize=True, **options):
    def pair(s, i, p, negatives, others, num_positives):
        denominator = math.exp(s[i][p]) + sum(math.exp(s[i][k]) for k in negatives)
        return -s[i][p] + math.log(denominator)

    return _generic(
        labels, embeddings, temperature, normalize, pair, **_options(**options)
    )


def epsilon_supinfonce(
    labels, embeddings, temperature=0.1, epsilon=0.25, normalize=True, **options
):
    def pair(s, i, p, negatives, others, num_positives):
        denominator = math.exp(s[i][p] - epsilon) + sum(
            math.exp(s[i][k]) for k in negatives
        )
        return -s[i][p] + math.log(denominator)

    return _generic(
        labels, embeddings, temperature, normalize, pair, **_options(**options)
    )


def supcon(
    labels,
    embeddings,
    temperature=0.1,
    base_temperature=None,
    normalize=True,
    **options,
):
    scale = 1.0 if base_temperature is None else temperature / base_temperature

    def pair(s, i, p, negatives, others, num_positives):
        denominator = sum(math.exp(s[i][j]) for j in others)
        return scale * (-s[i][p] + math.log(denominator))

    return _generic(
        labels, embeddings, temperature, normalize, pair, **_options(**options)
    )


def infonce(labels, embeddings, temperature=0.5, normalize=True, **options):
    """SINCERE with unique labels; memory entries get labels no sample has."""
    unique = np.arange(np.asarray(embeddings).shape[0])
    if options.get("memory_embeddings") is not None:
        entries = len(options["memory_embeddings"])
        options = {**options, "memory_labels": -1 - np.arange(entries)}
    return sincere(unique, embeddings, temperature, normalize, **options)
