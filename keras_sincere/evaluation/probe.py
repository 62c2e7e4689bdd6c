"""Linear probe on frozen features (paper section 4.2 and appendix L)."""

import math

import keras
import numpy as np

from keras_sincere._validation import check_choice
from keras_sincere._validation import check_integer
from keras_sincere._validation import is_number
from keras_sincere.evaluation._inputs import embeddings_array
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._inputs import unit_rows

NORMALIZATIONS = ("standardize", "l2", None)


class _ShuffledBatches(keras.utils.PyDataset):
    """Mini-batches in a new order every epoch, drawn from a private generator.

    Keeps `fit`'s shuffling off the global random state, so the probe is
    reproducible from its own seed on every backend.
    """

    def __init__(self, features, labels, batch_size, seed):
        super().__init__()
        self.features = features
        self.labels = labels
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(labels))

    def __len__(self):
        return math.ceil(len(self.labels) / self.batch_size)

    def __getitem__(self, index):
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.features[rows], self.labels[rows]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.labels))


def _normalizer(train: np.ndarray, normalization):
    """The function `norm` of `linear_probe`, fitted on the training features."""
    if normalization == "standardize":
        mean = train.mean(axis=0, dtype=np.float64)
        std = train.std(axis=0, dtype=np.float64)
        std = np.where(std > 1e-12, std, 1.0)
        return lambda x: ((x - mean) / std).astype(np.float32)
    if normalization == "l2":
        return unit_rows
    return lambda x: x.astype(np.float32, copy=False)


def _check_probe_inputs(train_features, train_labels, test_features, test_labels):
    """The features as float32 and the labels as `(N,)` numpy arrays, checked."""
    train = embeddings_array(train_features, "train_features")
    test = embeddings_array(test_features, "test_features")
    if train.shape[1] != test.shape[1] or train.shape[0] == 0 or test.shape[0] == 0:
        raise ValueError(
            "`train_features` and `test_features` must be non-empty and have "
            f"the same feature size. Received: train_features.shape={train.shape}, "
            f"test_features.shape={test.shape}"
        )
    train_labels = labels_array(train_labels, "train_labels", train.shape[0])
    test_labels = labels_array(test_labels, "test_labels", test.shape[0])
    return train, train_labels, test, test_labels


def _softmax_classifier(features: int, classes: int, learning_rate: float):
    """`softmax(W x + b)` with `W = 0`, `b = 0`, compiled for sparse labels."""
    model = keras.Sequential(
        [
            keras.Input((features,)),
            keras.layers.Dense(
                classes,
                activation="softmax",
                kernel_initializer="zeros",
                bias_initializer="zeros",
                name="linear",
            ),
        ],
        name="linear_probe",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
    )
    return model


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    epochs: int = 100,
    batch_size: int = 256,
    learning_rate: float = 1e-2,
    seed: int = 0,
    normalization: str | None = "standardize",
    verbose: int = 0,
) -> dict:
    """Trains a softmax classifier on frozen features and scores the test set.

    The linear evaluation of SupCon (Khosla et al., 2020) used in the
    paper's section 4.2 and appendix L: the encoder is frozen, and only

    ```
    p(c | x) = softmax(W norm(x) + b)_c
    ```

    is fitted with Keras `fit` (Adam, sparse categorical cross-entropy) on
    the training features. `norm` is chosen by `normalization`:
    `"standardize"` (default) subtracts the training mean and divides by
    the training standard deviation per feature (both computed on
    `train_features` only, and applied unchanged to `test_features`),
    `"l2"` scales each feature vector to unit length, `None` leaves the
    features as they are.

    Deterministic under `seed`: `W` and `b` start at zero (the problem is
    convex, so no random initialisation is needed) and mini-batches are
    shuffled by a generator seeded with `seed`; the global random state is
    neither used nor changed. Results can still differ in the last digits
    between backends.

    Labels can be any integers: they are mapped to `0 .. C-1` through the
    sorted training labels. A test label absent from training counts as an
    error.

    Args:
        train_features: `(N_train, F)` numpy array or backend tensor, e.g.
            `ContrastiveModel.encode(x_train)`.
        train_labels: integer labels `(N_train,)`.
        test_features: `(N_test, F)`.
        test_labels: integer labels `(N_test,)`.
        epochs: passes over the training features.
        batch_size: mini-batch size.
        learning_rate: Adam learning rate.
        seed: seed of the mini-batch order.
        normalization: `"standardize"`, `"l2"` or `None`.
        verbose: passed to `fit`.

    Returns:
        A dict with `accuracy` (Python float), `correct` (booleans
        `(N_test,)`, the input of `paired_bootstrap`), `predictions`
        (labels `(N_test,)`) and `model` (the trained `keras.Model`, which
        takes normalised features).

    Example:

    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(200, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int64")
    >>> result = linear_probe(
    ...     x[:150], y[:150], x[150:], y[150:], epochs=50, learning_rate=0.05
    ... )
    >>> result["accuracy"] > 0.9
    True
    """
    train, train_labels, test, test_labels = _check_probe_inputs(
        train_features, train_labels, test_features, test_labels
    )
    epochs = check_integer(epochs, "epochs")
    batch_size = check_integer(batch_size, "batch_size")
    if not (is_number(learning_rate) and 0 < learning_rate < math.inf):
        raise ValueError(
            "`learning_rate` must be > 0 and finite. "
            f"Received: learning_rate={learning_rate!r}"
        )
    check_choice(normalization, "normalization", NORMALIZATIONS)

    normalize = _normalizer(train, normalization)
    classes, train_codes = np.unique(train_labels, return_inverse=True)
    model = _softmax_classifier(train.shape[1], len(classes), learning_rate)
    batches = _ShuffledBatches(
        normalize(train), train_codes.astype(np.int32), batch_size, seed
    )
    # Batch order comes from `batches` alone: `shuffle=True` would reorder
    # them with the global random state.
    model.fit(batches, epochs=epochs, shuffle=False, verbose=verbose)
    probabilities = model.predict(normalize(test), batch_size=1024, verbose=0)
    predictions = classes[np.argmax(probabilities, axis=1)]
    correct = predictions == test_labels
    return {
        "accuracy": float(np.mean(correct)),
        "correct": correct,
        "predictions": predictions,
        "model": model,
    }
