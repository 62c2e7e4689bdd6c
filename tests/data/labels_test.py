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
        (np.zeros((4, 2)), "shape \\(N,\\) or \\(N, 1\\)"),
        ([0.5, 1.0, 0.5, 1.0], "integers or strings"),
    ],
)
def test_data_that_cannot_train_contrastively_is_rejected(labels, message):
    with pytest.raises(ValueError, match=message):
        data.check_contrastive_labels(labels)


def test_two_samples_of_each_of_two_classes_pass():
    data.check_contrastive_labels(np.array([[1], [0], [1], [0]]))
