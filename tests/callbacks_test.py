"""KNNMonitor: metrics in the logs and History of a ContrastiveModel fit."""

import keras
import numpy as np
import pytest

from keras_sincere import callbacks
from keras_sincere import evaluation
from keras_sincere import losses
from keras_sincere import models

IMAGE = (16, 16, 3)
KEYS = {"val_knn1", "val_knn5", "val_margin"}


def class_coloured_images(samples, classes=4, seed=0):
    """Images whose mean colour depends on the class, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(samples) % classes
    colours = np.random.default_rng(99).random((classes, 1, 1, 3))
    images = 0.6 * colours[labels] + 0.4 * rng.random((samples,) + IMAGE)
    return images.astype("float32"), labels


@pytest.fixture(scope="module")
def images():
    return class_coloured_images(32, seed=0), class_coloured_images(16, seed=1)


def contrastive_model():
    """A ContrastiveModel with a one-convolution encoder.

    The callback only needs `embed`; a ResNet would spend most of this
    module's time compiling (seconds on JAX) without testing anything more.
    """
    keras.utils.set_random_seed(0)
    encoder = keras.Sequential(
        [
            keras.Input(IMAGE),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    model = models.ContrastiveModel(encoder, models.ProjectionHead(16, 8))
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=losses.SincereLoss(0.1))
    return model


class LogsRecorder(keras.callbacks.Callback):
    """Copies every epoch's logs, as the callbacks after the monitor see them."""

    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(dict(logs))


@pytest.fixture(scope="module")
def model():
    """One compiled model for the fits below, compiled once.

    Each test trains it further; what they check does not depend on where
    training starts.
    """
    return contrastive_model()


def fit_with_monitor(model, images, **monitor_options):
    """Two epochs of `fit` with a `KNNMonitor` and a `LogsRecorder` after it."""
    (x_train, y_train), (x_val, y_val) = images
    monitor = callbacks.KNNMonitor(x_train, y_train, x_val, y_val, **monitor_options)
    recorder = LogsRecorder()
    history = model.fit(
        x_train,
        y_train,
        batch_size=16,
        epochs=2,
        verbose=0,
        callbacks=[monitor, recorder],
    )
    return history, recorder


def test_metrics_reach_history_every_epoch(model, images):
    (x_train, y_train), (x_val, y_val) = images
    history, recorder = fit_with_monitor(model, images, every=1, batch_size=8)
    assert KEYS <= set(history.history)
    for key in KEYS:
        assert len(history.history[key]) == 2
        assert all(np.isfinite(history.history[key]))
    for key in ("val_knn1", "val_knn5"):
        assert all(0.0 <= value <= 1.0 for value in history.history[key])
    assert all(KEYS <= set(logs) for logs in recorder.epochs)
    # The last values are those of the trained model.
    train, val = model.embed(x_train), model.embed(x_val)
    accuracy = evaluation.knn_accuracy(train, y_train, val, y_val)
    assert history.history["val_knn1"][-1] == pytest.approx(accuracy["knn1"])
    assert history.history["val_knn5"][-1] == pytest.approx(accuracy["knn5"])
    margin = evaluation.separation_margin(
        *evaluation.nearest_target_noise(train, y_train, val, y_val)
    )
    assert history.history["val_margin"][-1] == pytest.approx(margin, abs=1e-5)


def test_every_second_epoch(model, images):
    history, recorder = fit_with_monitor(
        model, images, every=2, batch_size=16, k=(1, 3)
    )
    assert len(history.history["loss"]) == 2
    assert len(history.history["val_knn1"]) == 1
    assert len(history.history["val_knn3"]) == 1
    assert "val_knn5" not in history.history
    assert "val_margin" not in recorder.epochs[0]
    assert {"val_knn1", "val_knn3", "val_margin"} <= set(recorder.epochs[1])


def test_retrieval_metrics_reach_history(model, images):
    (x_train, y_train), (x_val, y_val) = images
    history, _ = fit_with_monitor(model, images, every=2, retrieval=True)
    assert len(history.history["val_precision_at_1"]) == 1
    retrieved = evaluation.retrieval_metrics(
        model.embed(x_val), y_val, model.embed(x_train), y_train, recall_ks=(1,)
    )
    assert history.history["val_precision_at_1"][0] == pytest.approx(
        retrieved["precision_at_1"]
    )
    assert history.history["val_map_at_r"][0] == pytest.approx(
        retrieved["mean_average_precision_at_r"]
    )


def test_model_without_embed_uses_predict():
    rng = np.random.default_rng(0)
    labels = np.arange(40) % 2
    features = (rng.normal(size=(40, 4)) + 3.0 * labels[:, None]).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    monitor = callbacks.KNNMonitor(
        features[:30], labels[:30], features[30:], labels[30:]
    )
    history = model.fit(features, labels, epochs=1, verbose=0, callbacks=[monitor])
    assert KEYS <= set(history.history)
    expected = monitor.evaluate()
    assert history.history["val_knn1"] == [expected["val_knn1"]]


def test_invalid_arguments(images):
    (x_train, y_train), (x_val, y_val) = images
    with pytest.raises(ValueError, match="`every` must be an integer >= 1"):
        callbacks.KNNMonitor(x_train, y_train, x_val, y_val, every=0)
    with pytest.raises(ValueError, match="one label per embedding"):
        callbacks.KNNMonitor(x_train, y_train[:3], x_val, y_val)
    with pytest.raises(ValueError, match="`k` must be an integer >= 1"):
        callbacks.KNNMonitor(x_train, y_train, x_val, y_val, k=(1, 2.5))
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        callbacks.KNNMonitor(x_train, y_train, x_val, y_val, batch_size=0)
