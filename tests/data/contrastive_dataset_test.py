"""contrastive_dataset: shapes, views, labels, balanced batches, and fit."""

import sys

import keras
import numpy as np
import pytest

from keras_sincere.data import ClassBalancedSampler
from keras_sincere.data import contrastive_dataset
from keras_sincere.losses import SincereLoss

tf = pytest.importorskip("tensorflow")

N, SIZE, CLASSES = 60, 6, 5


@pytest.fixture
def data():
    """Constant images whose value encodes their index: flip-invariant."""
    values = (np.arange(N, dtype="float32") + 1) / (N + 1)
    images = np.broadcast_to(values[:, None, None, None], (N, SIZE, SIZE, 3)).copy()
    labels = np.arange(N) % CLASSES
    return images, labels


def index_of(views):
    """The sample index each view was made from (constant images only)."""
    return np.rint(views.mean(axis=(-3, -2, -1)) * (N + 1) - 1).astype(int)


def noise(batch):
    return batch + tf.random.uniform(tf.shape(batch), 0.0, 0.01)


def batches(dataset):
    return [(np.asarray(v), np.asarray(y)) for v, y in dataset]


def test_element_spec(data):
    dataset = contrastive_dataset(*data, batch_size=8, views=3, augmenter=noise)
    views_spec, labels_spec = dataset.element_spec
    assert views_spec.dtype == tf.float32 and labels_spec.dtype == tf.int64
    assert tuple(views_spec.shape)[0] == 8 and tuple(labels_spec.shape) == (8,)
    views, labels = next(iter(dataset))
    assert tuple(views.shape) == (8, 3, SIZE, SIZE, 3)
    assert dataset.cardinality().numpy() == N // 8


def test_no_augmenter_repeats_the_image(data):
    images, labels = data
    dataset = contrastive_dataset(images, labels, batch_size=16, views=2, seed=0)
    seen = []
    for views, batch_labels in batches(dataset):
        np.testing.assert_array_equal(views[:, 0], views[:, 1])
        index = index_of(views[:, 0])
        np.testing.assert_array_equal(views[:, 0], images[index])
        np.testing.assert_array_equal(batch_labels, labels[index])
        seen.extend(index)
    assert len(set(seen)) == len(seen) == (N // 16) * 16


def test_augmented_views_differ_and_keep_labels(data):
    images, labels = data
    dataset = contrastive_dataset(
        images, labels, batch_size=10, views=3, augmenter=noise
    )
    for views, batch_labels in batches(dataset):
        for a, b in [(0, 1), (0, 2), (1, 2)]:
            assert np.all(np.abs(views[:, a] - views[:, b]).max(axis=(1, 2, 3)) > 0)
        # Noise of mean 0.005: the index is still readable from every view.
        index = index_of(views[:, 0] - 0.005)
        for v in range(3):
            np.testing.assert_array_equal(index_of(views[:, v] - 0.005), index)
        np.testing.assert_array_equal(batch_labels, labels[index])


def test_keras_layer_augmenter_in_tf_data(rng):
    images = rng.uniform(size=(64, SIZE, SIZE, 3)).astype("float32")
    flip = keras.layers.RandomFlip("horizontal", seed=3)
    dataset = contrastive_dataset(
        images, np.zeros(64, "int64"), batch_size=64, augmenter=flip, shuffle=False
    )
    ((views, _),) = batches(dataset)
    mirrored = images[:, :, ::-1]
    for v in range(2):
        same = np.all(np.isclose(views[:, v], images), axis=(1, 2, 3))
        flipped = np.all(np.isclose(views[:, v], mirrored), axis=(1, 2, 3))
        assert np.all(same | flipped)
    assert np.any(np.abs(views[:, 0] - views[:, 1]).max(axis=(1, 2, 3)) > 0)


def test_class_balanced_batches(data):
    images, labels = data
    dataset = contrastive_dataset(
        images, labels, batch_size=12, samples_per_class=3, augmenter=noise, seed=0
    )
    expected_len = len(ClassBalancedSampler(labels, 12, 3))
    assert dataset.cardinality().numpy() == expected_len
    assert tuple(dataset.element_spec[0].shape)[:2] == (12, 2)
    got = batches(dataset)
    assert len(got) == expected_len
    for views, batch_labels in got:
        counts = np.unique(batch_labels, return_counts=True)[1]
        assert len(counts) == 4 and np.all(counts == 3)
        np.testing.assert_array_equal(
            batch_labels, labels[index_of(views[:, 0] - 0.005)]
        )


def test_class_balanced_is_seeded(data):
    def label_order(seed):
        dataset = contrastive_dataset(
            *data, batch_size=10, samples_per_class=2, seed=seed
        )
        return np.concatenate([y for _, y in batches(dataset)])

    np.testing.assert_array_equal(label_order(4), label_order(4))


def test_shuffle_seed_order_and_remainder(data):
    images, labels = data

    def order(**kwargs):
        dataset = contrastive_dataset(images, labels, batch_size=25, **kwargs)
        return [index_of(v[:, 0]) for v, _ in batches(dataset)]

    plain = order(shuffle=False, drop_remainder=False)
    assert [len(b) for b in plain] == [25, 25, 10]
    np.testing.assert_array_equal(np.concatenate(plain), np.arange(N))
    np.testing.assert_array_equal(
        np.concatenate(order(seed=1)), np.concatenate(order(seed=1))
    )
    assert not np.array_equal(np.concatenate(order(seed=1)), np.arange(50))


def test_repeat(data):
    dataset = contrastive_dataset(*data, batch_size=25, repeat=True)
    assert dataset.cardinality().numpy() == tf.data.INFINITE_CARDINALITY
    assert len(batches(dataset.take(5))) == 5
    balanced = contrastive_dataset(
        *data, batch_size=10, samples_per_class=2, repeat=True
    )
    assert len(batches(balanced.take(8))) == 8


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"images": np.zeros((N, SIZE, SIZE))}, "images"),
        ({"labels": np.zeros(N - 1, "int64")}, "labels"),
        ({"labels": np.full(N, 0.5)}, "integers"),
        ({"views": 0}, "views"),
        ({"batch_size": 0}, "batch_size"),
        ({"augmenter": "flip"}, "augmenter"),
        ({"samples_per_class": 7}, "samples_per_class"),
    ],
)
def test_invalid_arguments(data, kwargs, match):
    arguments = {"images": data[0], "labels": data[1], "batch_size": 10}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=match):
        contrastive_dataset(**arguments)


def test_without_tensorflow(monkeypatch, data):
    monkeypatch.setitem(sys.modules, "tensorflow", None)
    with pytest.raises(ImportError, match="needs TensorFlow"):
        contrastive_dataset(*data, batch_size=10)


@pytest.fixture(scope="module")
def model():
    """One compiled model for both pipelines: `fit` compiles its step once."""
    model = keras.Sequential(
        [
            keras.Input((2, SIZE, SIZE, 3)),
            keras.layers.Reshape((2, SIZE * SIZE * 3)),
            keras.layers.Dense(8),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=SincereLoss())
    return model


# Keras warns that fit's default shuffle=True does not apply to a tf.data.Dataset.
@pytest.mark.filterwarnings("ignore:`shuffle=True` was passed")
@pytest.mark.parametrize("samples_per_class", [None, 3])
def test_fit_with_sincere_loss(data, model, samples_per_class):
    """`fit` takes the tf.data pipeline on every Keras backend."""
    images, labels = data
    dataset = contrastive_dataset(
        images,
        labels,
        batch_size=12,
        augmenter=noise,
        samples_per_class=samples_per_class,
        seed=0,
    )
    history = model.fit(dataset, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.all(np.isfinite(history.history["loss"]))
