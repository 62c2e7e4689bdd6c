"""Nearest target / noise similarities and margins against loops."""

import keras
import numpy as np
import pytest

from keras_sincere import evaluation
from tests.evaluation import clustered_embeddings
from tests.evaluation import cosine_matrix


def brute_force_target_noise(train, train_labels, queries, query_labels):
    similarities = cosine_matrix(queries, train)
    target, noise = [], []
    for q, row in enumerate(similarities):
        target.append(
            max(
                s
                for s, y in zip(row, train_labels, strict=True)
                if y == query_labels[q]
            )
        )
        noise.append(
            max(
                s
                for s, y in zip(row, train_labels, strict=True)
                if y != query_labels[q]
            )
        )
    return np.array(target), np.array(noise)


@pytest.fixture
def data(rng):
    (train, train_labels), (queries, query_labels) = clustered_embeddings(
        rng, (50, 23), classes=3, dim=5
    )
    return train, train_labels, queries, query_labels


@pytest.mark.parametrize("batch_size", [1, 7, 23, 1024])
def test_matches_brute_force(data, batch_size):
    target, noise = evaluation.nearest_target_noise(*data, batch_size=batch_size)
    expected_target, expected_noise = brute_force_target_noise(*data)
    assert target.shape == noise.shape == (23,)
    np.testing.assert_allclose(target, expected_target, atol=1e-6)
    np.testing.assert_allclose(noise, expected_noise, atol=1e-6)


def test_known_geometry():
    train = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    queries = np.array([[2.0, 0.0], [1.0, 1.0]])
    target, noise = evaluation.nearest_target_noise(train, [0, 1, 1], queries, [0, 1])
    np.testing.assert_allclose(target, [1.0, np.sqrt(0.5)], atol=1e-6)
    np.testing.assert_allclose(noise, [0.0, np.sqrt(0.5)], atol=1e-6)


def test_margins_against_loops(data, rng):
    target, noise = evaluation.nearest_target_noise(*data)
    query_labels = data[3]
    assert evaluation.separation_margin(target, noise) == pytest.approx(
        np.median(target) - np.median(noise)
    )
    margins = evaluation.per_class_margins(target, noise, query_labels)
    assert list(margins) == sorted(set(query_labels.tolist()))
    for label, margin in margins.items():
        in_class = [i for i, y in enumerate(query_labels) if y == label]
        assert margin == pytest.approx(
            np.median(target[in_class]) - np.median(noise[in_class])
        )
    # Clusters: the nearest target is nearer than the nearest noise.
    assert evaluation.separation_margin(target, noise) > 0


def test_even_counts_use_the_middle_mean():
    assert evaluation.separation_margin([0.0, 1.0], [0.5, 0.25]) == 0.125
    assert evaluation.per_class_margins([1.0, 0.5], [0.0, 0.25], [3, 3]) == {3: 0.625}


def test_backend_tensors(data):
    expected = evaluation.nearest_target_noise(*data)
    got = evaluation.nearest_target_noise(
        *(keras.ops.convert_to_tensor(array) for array in data)
    )
    np.testing.assert_allclose(got[0], expected[0], atol=1e-6)
    margin = evaluation.separation_margin(
        keras.ops.convert_to_tensor(expected[0]),
        keras.ops.convert_to_tensor(expected[1]),
    )
    assert margin == pytest.approx(evaluation.separation_margin(*expected))


def test_invalid_arguments(data):
    train, train_labels, queries, query_labels = data
    with pytest.raises(ValueError, match=r"missing from `train_labels`: \[7\]"):
        evaluation.nearest_target_noise(train, train_labels, queries[:1], [7])
    with pytest.raises(ValueError, match="at least two classes"):
        evaluation.nearest_target_noise(
            train, np.zeros(50, int), queries, query_labels * 0
        )
    with pytest.raises(ValueError, match="one label per embedding"):
        evaluation.nearest_target_noise(train, train_labels, queries, query_labels[:5])
    with pytest.raises(ValueError, match="same length"):
        evaluation.separation_margin([0.5, 0.5], [0.1])
    with pytest.raises(ValueError, match="one label per embedding"):
        evaluation.per_class_margins([0.5, 0.5], [0.1, 0.2], [0])


def test_label_sets_match_brute_force(data, rng):
    train, _, queries, _ = data
    train_sets = rng.random((len(train), 3)) < 0.4
    query_sets = np.eye(3, dtype=bool)[rng.integers(0, 3, len(queries))]
    query_sets[0] = [True, True, False]
    target, noise = evaluation.nearest_target_noise(
        train, train_sets, queries, query_sets, batch_size=7
    )
    similarities = cosine_matrix(queries, train)
    shares = (query_sets.astype(int) @ train_sets.T.astype(int)) > 0
    for q, row in enumerate(similarities):
        assert target[q] == pytest.approx(row[shares[q]].max(), abs=1e-6)
        assert noise[q] == pytest.approx(row[~shares[q]].max(), abs=1e-6)


def test_label_sets_without_target_or_noise_are_left_out(data):
    train, _, queries, _ = data
    train_sets = np.zeros((len(train), 3), bool)
    train_sets[: len(train) // 2, 0] = True
    train_sets[len(train) // 2 :, 1] = True
    query_sets = np.zeros((len(queries), 3), bool)
    query_sets[:, 0] = True
    query_sets[0] = [False, False, False]  # no label: no target
    query_sets[1] = [True, True, False]  # meets every set: no noise
    target, noise = evaluation.nearest_target_noise(
        train, train_sets, queries, query_sets
    )
    assert np.isnan(target[0]) and np.isfinite(noise[0])
    assert np.isnan(noise[1]) and np.isfinite(target[1])
    assert np.all(np.isfinite(target[2:])) and np.all(np.isfinite(noise[2:]))
    margin = evaluation.separation_margin(target, noise)
    assert margin == pytest.approx(np.median(target[2:]) - np.median(noise[2:]))
    query_sets[:] = [True, True, False]  # no query has noise
    with pytest.raises(ValueError, match="No query has both"):
        evaluation.nearest_target_noise(train, train_sets, queries, query_sets)
