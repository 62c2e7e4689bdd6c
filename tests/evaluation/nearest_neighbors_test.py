"""nearest_neighbors: exact, blockwise, deterministic ties, self left out."""

import numpy as np
import pytest

from keras_sincere import evaluation


def dense_neighbours(query, reference, k, exclude_self=False):
    """The oracle: every similarity at once, a stable sort (ties: lower index)."""
    query = query / np.linalg.norm(query, axis=1, keepdims=True)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    similarities = query.astype(np.float64) @ reference.T.astype(np.float64)
    if exclude_self:
        np.fill_diagonal(similarities, -np.inf)
    order = np.argsort(-similarities, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(similarities, order, axis=1)


@pytest.mark.parametrize("block_size", [1, 7, 16, 1000])
@pytest.mark.parametrize("k", [1, 5, 23])
def test_equals_a_dense_sort_for_any_block_size(block_size, k):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(30, 6)).astype("float32")
    reference = rng.normal(size=(41, 6)).astype("float32")
    indices, similarities = evaluation.nearest_neighbors(
        query, reference, k, block_size=block_size
    )
    expected, expected_similarities = dense_neighbours(query, reference, k)
    assert indices.shape == similarities.shape == (30, k)
    np.testing.assert_array_equal(indices, expected)
    np.testing.assert_allclose(similarities, expected_similarities, atol=1e-6)


@pytest.mark.parametrize("block_size", [4, 64])
def test_without_a_reference_each_query_leaves_itself_out(block_size):
    rng = np.random.default_rng(1)
    points = rng.normal(size=(20, 3)).astype("float32")
    indices, _ = evaluation.nearest_neighbors(points, k=19, block_size=block_size)
    expected, _ = dense_neighbours(points, points, 19, exclude_self=True)
    np.testing.assert_array_equal(indices, expected)
    assert not np.any(indices == np.arange(20)[:, None])


@pytest.mark.parametrize("block_size", [1, 3, 8])
def test_ties_rank_by_reference_index_whatever_the_blocks(block_size):
    # Reference rows 1, 2, 4 and 6 are one direction: equally similar to
    # every query, across the k-th place for k = 2 and 3.
    reference = np.array(
        [[0, 1], [1, 0], [2, 0], [-1, 0], [3, 0], [0, -1], [1, 0]], "float32"
    )
    query = np.array([[1, 0], [5, 0], [1, 0.0]] * 3, "float32")
    for k in (1, 2, 3, 5):
        indices, similarities = evaluation.nearest_neighbors(
            query, reference, k, block_size=block_size
        )
        np.testing.assert_array_equal(indices, np.tile([1, 2, 4, 6, 0][:k], (9, 1)))
        np.testing.assert_allclose(similarities[:, : min(k, 4)], 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("k", "match"),
    [(0, "k=0"), (42, "k=42"), (2.5, "k=2.5"), (True, "k=True")],
)
def test_rejects_a_k_outside_the_reference_set(k, match):
    with pytest.raises(
        ValueError, match=rf"`k` must be an integer between 1 and 41.*{match}"
    ):
        evaluation.nearest_neighbors(np.ones((3, 2)), np.ones((41, 2)), k)


def test_rejects_k_equal_to_the_set_when_each_query_leaves_itself_out():
    with pytest.raises(ValueError, match="between 1 and 4.*itself left out"):
        evaluation.nearest_neighbors(np.eye(5), k=5)


def test_rejects_nan_embeddings_and_other_dimensions():
    query = np.array([[1.0, np.nan]])
    with pytest.raises(ValueError, match="`query_embeddings` holds NaN"):
        evaluation.nearest_neighbors(query, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"reference_embeddings.shape=\(3, 4\)"):
        evaluation.nearest_neighbors(np.ones((2, 2)), np.ones((3, 4)))
    with pytest.raises(ValueError, match="`block_size` must be"):
        evaluation.nearest_neighbors(np.ones((2, 2)), np.ones((3, 2)), block_size=0)
