"""Label encoding to 0..C-1 and the checks before contrastive training."""

import numpy as np
import pytest

from keras_sincere import data


def test_encoding_is_shared_across_splits_and_invertible():
    train = np.array([2**40, 7, 7, -3, 2**40])
    test = np.array([[7], [-3], [99]])
    encoded_train, encoded_test, classes = data.encode_labels(train, test)
    assert encoded_train.dtype == np.int64 and encoded_train.shape == (5,)
    assert classes.tolist() == [-3, 7, 99, 2**40]
    np.testing.assert_array_equal(classes[encoded_train], train)
    np.testing.assert_array_equal(classes[encoded_test], test[:, 0])


def test_string_labels_are_encoded():
    train, classes = data.encode_labels(np.array(["dog", "cat", "dog"]))
    assert train.tolist() == [1, 0, 1] and classes.tolist() == ["cat", "dog"]


@pytest.mark.parametrize(
    "labels, message",
    [
        ([4, 4, 4, 4], "at least 2 classes.*Received 1 class"),
        ([0, 0, 1, 2, 2, 3], "2 class\\(es\\) with a single sample \\(1, 3\\)"),
        (np.zeros((4, 3, 1)), "shape \\(N,\\) or \\(N, 1\\)"),
        # Label sets: none shared (no positives), all sharing one (no
        # negatives), a class of one sample.
        (np.zeros((4, 2)), "two samples that share a label"),
        ([[1, 1], [1, 0], [1, 1], [1, 0]], "two samples whose label sets share no"),
        (
            [[1, 0, 0], [0, 1, 0], [1, 0, 1], [0, 1, 0]],
            "1 class\\(es\\) held by a single",
        ),
        ([[2, 0], [0, 1], [1, 0], [0, 1]], "only 0 and 1"),
        ([0.5, 1.0, 0.5, 1.0], "integers or strings"),
    ],
)
def test_data_that_cannot_train_contrastively_is_rejected(labels, message):
    with pytest.raises(ValueError, match=message):
        data.check_contrastive_labels(labels)


def test_two_samples_of_each_of_two_classes_pass():
    data.check_contrastive_labels(np.array([[1], [0], [1], [0]]))


def test_label_sets_are_kept_and_their_classes_numbered():
    train = np.array([[1, 0, 1], [0, 1, 1], [0, 0, 0], [1, 1, 0]], dtype=bool)
    test = np.array([[0.0, 1.0, 1.0]])
    data.check_contrastive_labels(train)
    encoded_train, encoded_test, classes = data.encode_labels(train, test)
    assert encoded_train.dtype == np.int64
    np.testing.assert_array_equal(encoded_train, train)
    np.testing.assert_array_equal(encoded_test, test)
    assert classes.tolist() == [0, 1, 2]
    with pytest.raises(ValueError, match=r"same classes.*\(1, 2\)"):
        data.encode_labels(train, np.ones((1, 2)))
