"""Linear probe: separable features, determinism, normalisations."""

import numpy as np
import pytest

from keras_sincere import evaluation
from tests.evaluation import clustered_embeddings


@pytest.fixture(scope="module")
def features():
    """Three linearly separable classes in 8-d, with arbitrary label values."""
    rng = np.random.default_rng(7)
    (train, train_labels), (test, test_labels) = clustered_embeddings(
        rng, (240, 90), classes=3, dim=8, spread=0.3
    )
    values = np.array([10, 20, 30])
    return (
        5.0 * train + 2.0,
        values[train_labels],
        5.0 * test + 2.0,
        values[test_labels],
    )


def test_separable_features_are_learned_and_reproducible(features):
    first = evaluation.linear_probe(*features, epochs=15, batch_size=32, seed=1)
    assert first["accuracy"] >= 0.95
    assert first["correct"].dtype == bool and first["correct"].shape == (90,)
    assert first["accuracy"] == pytest.approx(first["correct"].mean())
    assert set(np.unique(first["predictions"])) <= {10, 20, 30}
    np.testing.assert_array_equal(first["correct"], first["predictions"] == features[3])

    again = evaluation.linear_probe(*features, epochs=15, batch_size=32, seed=1)
    np.testing.assert_array_equal(again["predictions"], first["predictions"])
    for mine, theirs in zip(
        first["model"].get_weights(), again["model"].get_weights(), strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("normalization", ["l2", None])
def test_other_normalizations(features, normalization):
    result = evaluation.linear_probe(
        *features,
        epochs=15,
        batch_size=32,
        learning_rate=0.05,
        normalization=normalization,
    )
    assert result["accuracy"] >= 0.9


def test_unseen_test_label_counts_as_wrong(features):
    train, train_labels, test, test_labels = features
    test_labels = test_labels.copy()
    test_labels[:5] = 99
    result = evaluation.linear_probe(train, train_labels, test, test_labels, epochs=3)
    assert not result["correct"][:5].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"normalization": "pca"}, "`normalization` must be one of"),
        ({"epochs": 0}, "`epochs` must be an integer >= 1"),
        ({"batch_size": 2.5}, "`batch_size` must be an integer >= 1"),
        ({"learning_rate": 0.0}, "`learning_rate` must be > 0"),
        ({"test_features": np.ones((4, 3))}, "the same feature size"),
        ({"train_labels": np.zeros(3, int)}, "one label per embedding"),
    ],
)
def test_invalid_arguments(features, kwargs, message):
    train, train_labels, test, test_labels = features
    arguments = {
        "train_features": train,
        "train_labels": train_labels,
        "test_features": test,
        "test_labels": test_labels,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        evaluation.linear_probe(**arguments)


@pytest.mark.parametrize("argument", ["train_features", "test_features"])
def test_non_finite_features_are_rejected_by_name(features, argument):
    train, train_labels, test, test_labels = features
    arrays = {"train_features": train.copy(), "test_features": test.copy()}
    arrays[argument][0, 0] = np.nan
    with pytest.raises(ValueError, match=f"`{argument}` holds NaN or infinite"):
        evaluation.linear_probe(
            arrays["train_features"], train_labels, arrays["test_features"], test_labels
        )
