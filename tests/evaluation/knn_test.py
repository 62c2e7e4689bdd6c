"""Weighted kNN against a brute-force loop, ties, batching and validation."""

import keras
import numpy as np
import pytest

from keras_sincere import evaluation
from tests.evaluation import clustered_embeddings
from tests.evaluation import cosine_matrix


def brute_force_knn(train, train_labels, queries, k):
    """Full similarity matrix, then one query at a time with plain Python.

    Neighbours ranked by (-similarity, index); each votes its similarity for
    its label; among labels with the top score, the one whose first
    neighbour ranks highest wins.
    """
    similarities = cosine_matrix(queries, train)
    predictions = []
    for row in similarities:
        ranked = sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]
        scores = {}
        for j in ranked:
            scores[train_labels[j]] = scores.get(train_labels[j], 0.0) + row[j]
        best = max(scores.values())
        predictions.append(
            next(train_labels[j] for j in ranked if scores[train_labels[j]] == best)
        )
    return np.array(predictions)


@pytest.fixture
def data(rng):
    (train, train_labels), (queries, query_labels) = clustered_embeddings(
        rng, (40, 30), classes=4, dim=6, spread=1.0
    )
    return train, train_labels, queries, query_labels


@pytest.mark.parametrize("k", [1, 3, 5, 40])
@pytest.mark.parametrize("batch_size", [7, 30, 1024])
def test_matches_brute_force(data, k, batch_size):
    train, train_labels, queries, _ = data
    got = evaluation.knn_classify(train, train_labels, queries, k, batch_size)
    np.testing.assert_array_equal(got, brute_force_knn(train, train_labels, queries, k))
    assert got.dtype == train_labels.dtype


def test_similarity_weights_overrule_the_majority():
    angles = np.radians([0.0, 80.0, -80.0, 30.0, -30.0])
    train = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    query = np.array([[1.0, 0.0]])
    # One neighbour at similarity 1 against two at cos(80) = 0.17 each.
    far = evaluation.knn_classify(train[:3], [0, 1, 1], query, k=3)
    # Against two at cos(30) = 0.87 each, the pair wins.
    near = evaluation.knn_classify(train[[0, 3, 4]], [0, 1, 1], query, k=3)
    assert far.tolist() == [0] and near.tolist() == [1]


def test_equal_similarities_rank_by_training_index():
    # Rows 1 and 2 are the same point with different labels.
    train = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    query = np.array([[1.0, 0.0]])
    assert evaluation.knn_classify(train, [5, 7, 3], query, k=1).tolist() == [7]
    assert evaluation.knn_classify(train, [5, 3, 7], query, k=1).tolist() == [3]
    # k=2: a vote tie (1.0 each) goes to the label of the nearest-ranked one.
    assert evaluation.knn_classify(train, [5, 7, 3], query, k=2).tolist() == [7]
    assert evaluation.knn_classify(train, [5, 3, 7], query, k=2).tolist() == [3]


def test_tie_at_the_kth_place_takes_the_lower_index():
    # Three neighbours at the same similarity 0.6; k=2 takes rows 0 and 1.
    train = np.array([[0.6, 0.8], [0.6, -0.8], [0.6, 0.8]])
    query = np.array([[1.0, 0.0]])
    labels = [1, 2, 2]
    assert evaluation.knn_classify(train, labels, query, k=1).tolist() == [1]
    # Rows 0 and 1: a 0.6 / 0.6 tie, won by row 0. Had row 2 been taken
    # instead of row 1, label 2 would not be in the race.
    assert evaluation.knn_classify(train, labels, query, k=2).tolist() == [1]
    assert evaluation.knn_classify(train, labels, query, k=3).tolist() == [2]


def test_ties_do_not_depend_on_batching(rng):
    # Duplicated training points and queries on a coarse grid: many exact ties.
    train = rng.integers(-2, 3, size=(60, 3)).astype("float32")
    train[np.all(train == 0, axis=1)] = 1.0
    train_labels = rng.integers(0, 5, size=60)
    queries = train[rng.integers(0, 60, size=50)]
    for k in (1, 4):
        expected = brute_force_knn(train, train_labels, queries, k)
        for batch_size in (1, 3, 16, 64):
            np.testing.assert_array_equal(
                evaluation.knn_classify(train, train_labels, queries, k, batch_size),
                expected,
            )


def test_accuracy_and_correct(data):
    train, train_labels, queries, query_labels = data
    accuracy = evaluation.knn_accuracy(
        train, train_labels, queries, query_labels, k=(1, 5), batch_size=8
    )
    assert set(accuracy) == {"knn1", "knn5"}
    for k in (1, 5):
        expected = brute_force_knn(train, train_labels, queries, k) == query_labels
        correct = evaluation.knn_correct(
            train, train_labels, queries, query_labels, k=k, batch_size=8
        )
        assert correct.dtype == bool
        np.testing.assert_array_equal(correct, expected)
        assert accuracy[f"knn{k}"] == pytest.approx(expected.mean())
    assert 0.5 < accuracy["knn1"] <= 1.0
    single = evaluation.knn_accuracy(train, train_labels, queries, query_labels, k=3)
    assert list(single) == ["knn3"]


def test_backend_tensors_and_column_labels(data):
    train, train_labels, queries, query_labels = data
    expected = evaluation.knn_classify(train, train_labels, queries, k=3)
    got = evaluation.knn_classify(
        keras.ops.convert_to_tensor(train),
        keras.ops.convert_to_tensor(train_labels[:, None]),
        keras.ops.convert_to_tensor(queries),
        k=3,
    )
    np.testing.assert_array_equal(got, expected)


def test_scale_invariance(data):
    train, train_labels, queries, _ = data
    np.testing.assert_array_equal(
        evaluation.knn_classify(train * 3.0, train_labels, queries * 0.01, k=5),
        evaluation.knn_classify(train, train_labels, queries, k=5),
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"k": 0}, "`k` must be an integer between 1"),
        ({"k": 41}, "`k` must be an integer between 1"),
        ({"k": 1.5}, "`k` must be an integer between 1"),
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"query_embeddings": np.ones((3, 5))}, "the same dimension"),
        ({"query_embeddings": np.ones(6)}, r"shape \(N, D\)"),
        ({"train_labels": np.zeros(39, int)}, "one label per embedding"),
    ],
)
def test_invalid_arguments(data, kwargs, message):
    train, train_labels, queries, _ = data
    arguments = {
        "train_embeddings": train,
        "train_labels": train_labels,
        "query_embeddings": queries,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        evaluation.knn_classify(**arguments)


def test_accuracy_rejects_mismatched_query_labels(data):
    train, train_labels, queries, _ = data
    with pytest.raises(ValueError, match="one label per embedding"):
        evaluation.knn_accuracy(train, train_labels, queries, np.zeros(29, int))


@pytest.mark.parametrize("argument", ["train_embeddings", "query_embeddings"])
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_embeddings_are_rejected_by_name(data, argument, value):
    train, train_labels, queries, query_labels = data
    arguments = {
        "train_embeddings": train.copy(),
        "train_labels": train_labels,
        "query_embeddings": queries.copy(),
        "query_labels": query_labels,
    }
    arguments[argument][2, 1] = value
    with pytest.raises(ValueError, match=f"`{argument}` holds NaN or infinite"):
        evaluation.knn_accuracy(**arguments)


def brute_force_label_set_knn(train, train_sets, queries, k):
    """Each neighbour votes its similarity for every class of its set."""
    similarities = cosine_matrix(queries, train)
    predictions = []
    for row in similarities:
        ranked = sorted(range(len(row)), key=lambda j: (-row[j], j))[:k]
        scores = [0.0] * train_sets.shape[1]
        for j in ranked:
            for c in np.flatnonzero(train_sets[j]):
                scores[c] += row[j]
        predictions.append(scores.index(max(scores)))  # lowest class on a tie
    return np.array(predictions)


@pytest.mark.parametrize("k", [1, 5])
def test_label_sets_match_brute_force(data, rng, k):
    train, _, queries, _ = data
    train_sets = rng.random((len(train), 4)) < 0.4
    query_sets = rng.random((len(queries), 4)) < 0.4
    predicted = evaluation.knn_classify(train, train_sets, queries, k=k)
    expected = brute_force_label_set_knn(train, train_sets, queries, k)
    np.testing.assert_array_equal(predicted, expected)
    correct = evaluation.knn_correct(train, train_sets, queries, query_sets, k=k)
    np.testing.assert_array_equal(
        correct, query_sets[np.arange(len(queries)), expected]
    )
    accuracy = evaluation.knn_accuracy(train, train_sets, queries, query_sets, k=k)
    assert accuracy[f"knn{k}"] == pytest.approx(correct.mean())


def test_one_hot_label_sets_score_as_integer_labels(data):
    train, train_labels, queries, query_labels = data
    one_hot = np.eye(4, dtype=bool)
    assert evaluation.knn_accuracy(
        train, one_hot[train_labels], queries, one_hot[query_labels]
    ) == evaluation.knn_accuracy(train, train_labels, queries, query_labels)


def test_rejects_label_sets_against_integer_labels(data):
    train, train_labels, queries, query_labels = data
    with pytest.raises(ValueError, match=r"train_labels.*query_labels"):
        evaluation.knn_accuracy(train, train_labels, queries, np.eye(4)[query_labels])
