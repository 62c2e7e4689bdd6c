"""The data of an experiment: loaded, labels checked and mapped, resized."""

import hashlib

import numpy as np


def load_data(dataset: str, image_size: int | None = None):
    """The dataset at its own size (`image_size=None`) or resized.

    Args:
        dataset: a name `keras_sincere.data.load_dataset` knows (`"digits"`,
            `"cifar10"`, ...) or the path of an `.npz` file.
        image_size: side of the returned images, or `None`.

    Returns:
        `((x_train, y_train), (x_test, y_test))`.
    """
    from keras_sincere import data

    return data.load_dataset(dataset, image_size=image_size)


def prepare_labels(splits):
    """`(splits, classes)`: labels mapped to `0..C-1`, training labels checked.

    Raises a `ValueError` before any training when the training set has
    fewer than 2 classes or a class with a single sample
    (`data.check_contrastive_labels`); `classes[code]` is the original label.
    """
    from keras_sincere import data

    (x_train, y_train), (x_test, y_test) = splits
    data.check_contrastive_labels(y_train, "y_train")
    y_train, y_test, classes = data.encode_labels(y_train, y_test)
    return ((x_train, y_train), (x_test, y_test)), classes


def resize_data(splits, image_size: int):
    """`((x_train, y_train), (x_test, y_test))` with images resized."""
    from keras_sincere import data

    return tuple((data.resize_images(x, image_size), y) for x, y in splits)


def fingerprint(splits) -> dict:
    """Enough of the data to tell a resumed run it was given other data.

    The shapes of both splits and a hash of the training labels and of 64
    training images spread over the set.

    Example:

    >>> images = np.zeros((10, 4, 4, 3), "uint8")
    >>> fingerprint(((images, np.arange(10)), (images[:2], np.arange(2))))["train"]
    [10, 4, 4, 3]
    """
    (x_train, y_train), (x_test, _) = splits
    digest = hashlib.sha256(np.ascontiguousarray(y_train).tobytes())
    digest.update(np.ascontiguousarray(x_train[:: max(1, len(x_train) // 64)]))
    return {
        "train": list(x_train.shape),
        "test": list(x_test.shape),
        "sha256": digest.hexdigest()[:16],
    }
