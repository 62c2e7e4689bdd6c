"""Embedding spread: the collapse signs against direct computations."""

import numpy as np
import pytest

from keras_sincere import evaluation


def test_orthogonal_embeddings_are_spread_evenly():
    spread = evaluation.embedding_spread(3.0 * np.eye(6))
    assert spread["mean_pairwise_cosine"] == pytest.approx(0.0, abs=1e-12)
    assert spread["effective_rank"] == pytest.approx(6.0)


def test_parallel_embeddings_are_collapsed(rng):
    direction = rng.normal(size=16)
    embeddings = np.outer(rng.uniform(0.5, 2.0, 50), direction)
    spread = evaluation.embedding_spread(embeddings)
    assert spread["mean_pairwise_cosine"] == pytest.approx(1.0)
    # float32 rounding leaves singular values of ~1e-7 beside the one.
    assert spread["effective_rank"] == pytest.approx(1.0, abs=1e-4)


def test_mean_cosine_equals_the_pairwise_loop(rng):
    embeddings = rng.normal(size=(30, 8)) + 0.5
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    pairs = [unit[i] @ unit[j] for i in range(30) for j in range(30) if i != j]
    spread = evaluation.embedding_spread(embeddings)
    assert spread["mean_pairwise_cosine"] == pytest.approx(np.mean(pairs))


def test_effective_rank_from_singular_values(rng):
    embeddings = rng.normal(size=(40, 5))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    sigma = np.linalg.svd(unit, compute_uv=False)
    p = sigma / sigma.sum()
    expected = np.exp(-np.sum(p * np.log(p)))
    assert evaluation.embedding_spread(embeddings)["effective_rank"] == pytest.approx(
        expected
    )


def test_zero_rows_are_left_out():
    embeddings = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0]])
    spread = evaluation.embedding_spread(embeddings)
    assert spread["mean_pairwise_cosine"] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "embeddings, message",
    [(np.ones(4), "shape \\(N, D\\)"),
     (np.array([[np.nan, 1.0], [1.0, 0.0]]), "finite"),
     (np.array([[1.0, 0.0], [0.0, 0.0]]), "at least 2 non-zero")],
)  # fmt: skip
def test_bad_embeddings_are_rejected(embeddings, message):
    with pytest.raises(ValueError, match=message):
        evaluation.embedding_spread(embeddings)
