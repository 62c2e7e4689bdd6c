"""Tests of keras_sincere.evaluation; helpers shared by its brute-force oracles."""

import numpy as np


def cosine_matrix(queries, train):
    """Float64 cosine similarities of every query to every training row."""
    queries = np.asarray(queries, dtype=np.float64)
    train = np.asarray(train, dtype=np.float64)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    return queries @ train.T


def clustered_embeddings(rng, sizes, classes, dim, spread=0.8):
    """Embeddings around one random centre per class, for each set size.

    Returns `[(embeddings, labels), ...]`, one float32 `(size, dim)` set per
    entry of `sizes`, all drawn around the same centres.
    """
    centres = rng.normal(size=(classes, dim))
    sets = []
    for size in sizes:
        labels = rng.integers(0, classes, size=size)
        embeddings = centres[labels] + spread * rng.normal(size=(size, dim))
        sets.append((embeddings.astype("float32"), labels))
    return sets
