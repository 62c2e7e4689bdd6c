"""ContrastiveModel: views, training through fit, saving, resuming."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_sincere import augment
from keras_sincere import losses
from keras_sincere import models
from keras_sincere.models import contrastive_model

IMAGE = (16, 16, 3)


def tiny_encoder(features=32):
    """Convolution, batch norm, ReLU and pooling: the layer kinds of a ResNet.

    What these tests check does not depend on the backbone, and a ResNet
    takes most of their time to build and compile. The ResNets have their
    own tests (`resnet_test.py`) and are trained through this model in
    `tests/training_test.py`.
    """
    images = keras.Input(IMAGE)
    x = keras.layers.Conv2D(features, 3, strides=2, use_bias=False)(images)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    return keras.Model(images, keras.layers.GlobalAveragePooling2D()(x))


def small_model(augmenter="flip", views=2, seed=0):
    keras.utils.set_random_seed(seed)
    if augmenter == "flip":
        augmenter = keras.Sequential(
            [
                keras.layers.RandomFlip("horizontal", seed=seed),
                keras.layers.RandomTranslation(0.1, 0.1, seed=seed + 1),
            ]
        )
    return models.ContrastiveModel(
        tiny_encoder(),
        models.ProjectionHead(hidden_dim=16, output_dim=8),
        augmenter=augmenter,
        views=views,
    )


@pytest.fixture(scope="module")
def flip_model():
    """A built model that tests only embed with (in inference mode)."""
    return small_model()


@pytest.fixture(scope="module")
def plain_model():
    """A built model without augmenter, that tests only embed with."""
    return small_model(augmenter=None)


def toy_images(samples=32, classes=4, seed=0):
    """Images whose mean colour depends on the class, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(samples) % classes
    colours = rng.random((classes, 1, 1, 3))
    images = 0.6 * colours[labels] + 0.4 * rng.random((samples,) + IMAGE)
    return images.astype("float32"), labels


def test_training_call_draws_views(rng):
    model = small_model(views=3)
    images, _ = toy_images(4)
    embeddings = keras.ops.convert_to_numpy(model(images, training=True))
    assert embeddings.shape == (4, 3, 8)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=-1), 1.0, rtol=1e-5)
    assert not np.allclose(embeddings[:, 0], embeddings[:, 1])


def test_inference_call_embeds_images_as_they_are(flip_model):
    model = flip_model
    images, _ = toy_images(4)
    embeddings = keras.ops.convert_to_numpy(model(images, training=False))
    assert embeddings.shape == (4, 1, 8)
    np.testing.assert_allclose(model.embed(images), embeddings[:, 0], atol=1e-6)


def test_ready_views_are_embedded_per_view(plain_model):
    model = plain_model
    images, _ = toy_images(4)
    views = np.stack([images, images[:, :, ::-1]], axis=1)
    embeddings = keras.ops.convert_to_numpy(model(views, training=False))
    assert embeddings.shape == (4, 2, 8)
    np.testing.assert_allclose(embeddings[:, 0], model.embed(images), atol=1e-5)


def test_encode_gives_encoder_features(flip_model):
    model = flip_model
    images, _ = toy_images(4)
    features = model.encode(images)
    assert features.shape == (4, 32)
    np.testing.assert_allclose(
        features,
        keras.ops.convert_to_numpy(model.encoder(images, training=False)),
        atol=1e-6,
    )


def test_rejects_other_ranks(flip_model):
    model = flip_model
    with pytest.raises(ValueError, match=r"\(B, H, W, C\)"):
        model(np.zeros((2, 16, 16), "float32"))


@pytest.mark.parametrize("views", [0, -1, 2.7, "2", True, None])
def test_rejects_views_that_are_not_a_positive_integer(views):
    with pytest.raises(ValueError, match="`views` must be an integer >= 1"):
        small_model(views=views)


class FirstStep(keras.callbacks.Callback):
    """Records the loss and the weights after the first training step."""

    def on_train_batch_end(self, batch, logs=None):
        if not hasattr(self, "loss"):
            self.loss = float(logs["loss"])
            self.weights = self.model.get_weights()


def first_step(build, x, y, loss, optimizer, jit, epochs=1):
    """Fits `build()` with or without the backend's compiler, from the same start.

    `jit=True`: XLA on TensorFlow and JAX, `torch.compile` on torch;
    `jit=False`: the eager step. Batches of 16 in a fixed order.

    Returns:
        `(initial weights, FirstStep recorder, History)`.
    """
    model = build()
    initial = model.get_weights()
    compiler = {"jit_compile": True} if jit else {"jit_compile": False}
    model.compile(optimizer=optimizer(), loss=loss, run_eagerly=not jit, **compiler)
    # Keras falls back to eager for models that cannot be compiled.
    assert model.jit_compile is jit
    recorder = FirstStep()
    history = model.fit(
        x, y, batch_size=16, epochs=epochs, shuffle=False, verbose=0,
        callbacks=[recorder],
    )  # fmt: skip
    return initial, recorder, history


def assert_jit_matches_eager(build, x, y, loss, optimizer, epochs=1):
    """The first step's loss and updated weights agree with and without jit.

    Returns the compiled run's History, over all `epochs`.
    """
    initial, jit, history = first_step(build, x, y, loss, optimizer, True, epochs)
    start, eager, _ = first_step(build, x[:16], y[:16], loss, optimizer, False)
    for compiled, eager_weights in zip(initial, start, strict=True):
        np.testing.assert_array_equal(compiled, eager_weights)
    assert any(
        not np.array_equal(after, before)
        for after, before in zip(eager.weights, start, strict=True)
    )
    assert np.isfinite(jit.loss)
    assert jit.loss == pytest.approx(eager.loss, rel=1e-5)
    # The updates agree to 1e-3 of each tensor's largest update: TensorFlow's
    # XLA sums the gradients in another order than its eager kernels, which
    # moves updates by up to 2e-4 of their size (JAX and torch: 1e-5).
    for before, compiled, eager_weights in zip(
        start, jit.weights, eager.weights, strict=True
    ):
        update = eager_weights - before
        np.testing.assert_allclose(
            compiled - before, update, rtol=1e-5, atol=1e-3 * np.abs(update).max()
        )
    return history


def deterministic_model(augmenter=True):
    """A tiny model whose in-model augmenter draws no random numbers.

    TensorFlow's XLA kernels draw other random numbers than its eager ones
    from the same seed, so a random augmenter would give jit and eager runs
    different views.
    """
    keras.utils.set_random_seed(0)
    return models.ContrastiveModel(
        tiny_encoder(),
        models.ProjectionHead(hidden_dim=16, output_dim=8),
        augmenter=keras.layers.Rescaling(0.8, offset=0.1) if augmenter else None,
    )


@pytest.mark.parametrize(
    "loss",
    [
        losses.SincereLoss(0.1),
        losses.SupConLoss(0.1),
        losses.EpsilonSupInfoNCELoss(0.1),
        losses.InfoNCELoss(0.5),
    ],
    ids=lambda loss: loss.name,
)
def test_fit_with_each_loss(loss):
    images, labels = toy_images()
    history = assert_jit_matches_eager(
        deterministic_model,
        images,
        labels,
        loss,
        lambda: keras.optimizers.SGD(0.05, momentum=0.9),
        epochs=2,
    )
    assert np.all(np.isfinite(history.history["loss"]))


def test_fit_from_ready_views():
    images, labels = toy_images()
    views = np.stack([images, images[:, ::-1]], axis=1)
    history = assert_jit_matches_eager(
        lambda: deterministic_model(augmenter=False),
        views,
        labels,
        losses.SincereLoss(),
        lambda: keras.optimizers.SGD(),
    )
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_training_is_finite(policy):
    keras.config.set_dtype_policy(policy)
    model = small_model()
    images, labels = toy_images()
    model.compile(optimizer="sgd", loss=losses.SincereLoss())
    history = model.fit(images, labels, batch_size=16, epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert model.encoder.layers[1].compute_dtype == policy.split("_")[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model after one epoch of `fit`, saved; the tests only load and read it."""
    model = small_model()
    images, labels = toy_images()
    model.compile(optimizer="sgd", loss=losses.SincereLoss(0.2))
    model.fit(images, labels, batch_size=16, epochs=1, verbose=0)
    path = tmp_path_factory.mktemp("trained") / "model.keras"
    model.save(path)
    return model, path, images


def test_save_and_load_give_identical_embeddings(trained):
    model, path, images = trained
    restored = keras.models.load_model(path)
    assert isinstance(restored, models.ContrastiveModel)
    assert restored.views == 2
    assert restored.loss.get_config() == model.loss.get_config()
    np.testing.assert_array_equal(restored.embed(images), model.embed(images))
    np.testing.assert_array_equal(restored.encode(images), model.encode(images))


def _other_backend():
    """A backend installed beside the current one, for the cross-load test."""
    import importlib.util

    current = keras.backend.backend()
    for backend, module in [("tensorflow", "tensorflow"), ("jax", "jax")]:
        if backend != current and importlib.util.find_spec(module):
            return backend
    pytest.fail(f"no second backend installed beside {current} (see tox.ini)")


LOAD_SCRIPT = """
import json, sys
import numpy as np
{imports}
model = keras.models.load_model(sys.argv[1])
images = np.load(sys.argv[2])
np.save(sys.argv[3], model.embed(images))
print(json.dumps({"backend": keras.backend.backend()}))
"""


@pytest.mark.parametrize(
    "imports",
    ["import keras\nimport keras_sincere", "import keras_sincere\nimport keras"],
    ids=["keras_first", "keras_sincere_first"],
)
def test_model_saved_on_one_backend_loads_on_another(trained, tmp_path, imports):
    model, path, images = trained
    np.save(tmp_path / "images.npy", images)
    other = _other_backend()
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            LOAD_SCRIPT.replace("{imports}", imports),
            str(path),
            str(tmp_path / "images.npy"),
            str(tmp_path / "embedded.npy"),
        ],
        env={**os.environ, "KERAS_BACKEND": other},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["backend"] == other
    np.testing.assert_allclose(
        np.load(tmp_path / "embedded.npy"), model.embed(images), atol=1e-5
    )


class InterruptAfter(keras.callbacks.Callback):
    """Simulates a crash at the end of an epoch (after the backup is written)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated interruption")


def _train(epochs, backup_dir=None, interrupt_after=None):
    model = small_model(seed=3)
    images, labels = toy_images()
    model.compile(
        optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=losses.SincereLoss()
    )
    callbacks = []
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(str(backup_dir)))
    if interrupt_after is not None:
        callbacks.append(InterruptAfter(interrupt_after))
    history = model.fit(
        images,
        labels,
        batch_size=16,
        epochs=epochs,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )
    return model, history


def test_backup_and_restore_resumes_interrupted_training(tmp_path):
    reference, _ = _train(epochs=3)
    with pytest.raises(KeyboardInterrupt):
        _train(epochs=3, backup_dir=tmp_path, interrupt_after=1)
    resumed, history = _train(epochs=3, backup_dir=tmp_path)
    # Only the last epoch ran after the restore.
    assert len(history.history["loss"]) == 1
    assert np.isfinite(history.history["loss"][0])
    assert (
        resumed.optimizer.iterations.numpy() == reference.optimizer.iterations.numpy()
    )
    for got, expected in zip(
        resumed.get_weights(), reference.get_weights(), strict=True
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "shape, expected",
    [
        ((5, 8, 8, 3), 1024),
        ((5, 32, 32, 3), 1024),
        ((5, 64, 64, 3), 256),
        ((5, 224, 224, 3), 32),
        ((5, 32, 32), 1024),
    ],
)
def test_inference_batch_size_keeps_pixels_per_batch(shape, expected):
    assert contrastive_model.inference_batch_size(np.zeros(shape)) == expected


def test_encode_and_embed_default_to_the_inference_batch(flip_model, monkeypatch, rng):
    model = flip_model
    images = rng.random((6, 16, 16, 3)).astype("float32")
    seen = []
    for target in (model, model.encoder):
        predict = target.predict

        def recording(x, batch_size=None, predict=predict, **kwargs):
            seen.append(batch_size)
            return predict(x, batch_size=batch_size, **kwargs)

        monkeypatch.setattr(target, "predict", recording)
    model.embed(images)
    model.encode(images)
    assert seen == [1024, 1024]


def test_auto_jit_compile_is_what_docs_backends_says():
    model = small_model(augmenter=None)  # RandomTranslation opts out of XLA
    model.compile(optimizer="sgd", loss=losses.SincereLoss())
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        devices = tf.config.list_physical_devices()
        assert model.jit_compile == any(d.device_type != "CPU" for d in devices)
    else:
        assert model.jit_compile == (backend == "jax")


def test_uint8_images_are_scaled_like_their_float_twins(plain_model, rng):
    model = plain_model
    images = rng.integers(0, 256, (4, 16, 16, 3)).astype("uint8")
    floats = images.astype("float32") / 255.0
    # x * (1 / 255) and x / 255 differ in the last bit.
    np.testing.assert_allclose(model.embed(images), model.embed(floats), atol=1e-5)
    np.testing.assert_allclose(model.encode(images), model.encode(floats), atol=1e-5)


def test_uint8_images_train_through_the_simclr_augmenter(rng):
    augmenter = augment.simclr_augmenter(16, seed=0)
    model = models.ContrastiveModel(
        tiny_encoder(), models.ProjectionHead(32, 8), augmenter=augmenter
    )
    images = rng.integers(0, 256, (8, 16, 16, 3)).astype("uint8")
    # Taken as 0-255 floats, the colour jitter clipped most views to blank.
    views = keras.ops.convert_to_numpy(augmenter(images, training=True))
    assert views.reshape(8, -1).std(axis=1).min() > 0.01
    model.compile(optimizer="sgd", loss=losses.SincereLoss())
    history = model.fit(images, np.arange(8) % 2, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_an_augmenter_that_resizes_is_applied_at_inference_too():
    """Trained through a 16x16 crop of 32x32 images, it embeds 32x32 images."""
    keras.utils.set_random_seed(0)
    model = models.ContrastiveModel(
        tiny_encoder(),
        models.ProjectionHead(hidden_dim=16, output_dim=8),
        augmenter=augment.simclr_augmenter(16, seed=0),
    )
    model.compile(optimizer="sgd", loss=losses.SincereLoss())
    rng = np.random.default_rng(0)
    images = rng.random((16, 32, 32, 3)).astype("float32")
    model.fit(images, np.arange(16) % 4, batch_size=8, epochs=1, verbose=0)
    embedded = model.embed(images)
    assert embedded.shape == (16, 8)
    # The inference transform is the augmenter's: the centre crop, resized.
    resized = keras.ops.convert_to_numpy(model.augmenter(images, training=False))
    assert resized.shape == (16, 16, 16, 3)
    np.testing.assert_allclose(embedded, model.embed(resized), atol=1e-5)
    np.testing.assert_allclose(model.encode(images), model.encode(resized), atol=1e-5)
    uint8 = (255 * images).astype("uint8")
    assert model.embed(uint8).shape == (16, 8)


def test_images_the_encoder_cannot_take_are_a_clear_error(plain_model):
    model = plain_model
    wrong = np.zeros((2, 24, 24, 3), "float32")
    with pytest.raises(ValueError, match=r"takes images of shape \(16, 16, 3\); "):
        model.embed(wrong)
    with pytest.raises(ValueError, match="--image-size"):
        model.encode(wrong)


def test_float_images_outside_the_value_range_are_refused(rng):
    model = small_model(augmenter=augment.simclr_augmenter(16, seed=0))
    model.compile(optimizer="sgd", loss=losses.SincereLoss())
    images = rng.integers(0, 256, (8, 16, 16, 3)).astype("float32")
    message = r"`x` holds float images from 0 to 255, outside .*value_range"
    with pytest.raises(ValueError, match=message):
        model.fit(images, np.arange(8) % 2, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="divide 0-255 floats by 255"):
        model.embed(images)
    assert model.embed(images / 255.0).shape == (8, 8)
