"""simclr_augmenter and ColorJitter: torchvision's semantics, in-graph, in fit."""

import keras
import numpy as np
import pytest

from keras_sincere.augment import ColorJitter
from keras_sincere.augment import RandomApply
from keras_sincere.augment import RandomResizedCrop
from keras_sincere.augment import simclr_augmenter
from tests.augment import call


@pytest.fixture
def batch(rng):
    # One shape for the pipeline tests: on JAX they share one compilation.
    return rng.uniform(size=(8, 12, 12, 3)).astype("float32")


def test_pipeline_shapes_dtype_and_range(batch):
    augment = simclr_augmenter(8, seed=0)
    for training in (True, False):
        views = call(augment, batch, training)
        assert views.shape == (8, 8, 8, 3) and views.dtype == np.float32
        assert views.min() >= 0.0 and views.max() <= 1.0
    assert [type(layer) for layer in augment.layers] == [
        RandomResizedCrop,
        keras.layers.RandomFlip,
        RandomApply,
        keras.layers.RandomGrayscale,
    ]
    wide = simclr_augmenter((12, 10))
    assert wide.compute_output_shape((None, 20, 24, 3)) == (None, 12, 10, 3)


def test_views_differ_between_calls_and_images(batch):
    augment = simclr_augmenter(8, seed=1)
    images = np.repeat(batch[:1], 8, axis=0)
    first, second = call(augment, images), call(augment, images)
    assert not np.allclose(first, second)
    assert all(not np.allclose(first[0], view) for view in first[1:])


def test_same_seed_same_views_other_seed_other_views(batch):
    def views(seed):
        return call(simclr_augmenter(8, seed=seed), batch)

    np.testing.assert_array_equal(views(3), views(3))
    assert not np.allclose(views(3), views(4))


def test_value_range_0_255(rng):
    augment = simclr_augmenter(8, value_range=(0, 255))
    assert augment.layers[2].layer.value_range == (0.0, 255.0)
    # Jittering in [0, 255] is jittering in [0, 1], scaled.
    images = rng.uniform(size=(8, 5, 5, 3)).astype("float32")
    scaled = call(ColorJitter(value_range=(0, 255), seed=4), 255.0 * images)
    unit = call(ColorJitter(seed=4), images)
    np.testing.assert_allclose(scaled, 255.0 * unit, atol=1e-3)
    assert scaled.min() >= 0.0 and scaled.max() <= 255.0


def test_grayscale_always_and_no_jitter(batch):
    augment = simclr_augmenter(8, jitter_p=0.0, grayscale_p=1.0, seed=2)
    assert not any(isinstance(layer, RandomApply) for layer in augment.layers)
    views = call(augment, batch)
    np.testing.assert_allclose(views[..., 0], views[..., 1], atol=1e-6)
    np.testing.assert_allclose(views[..., 0], views[..., 2], atol=1e-6)


def test_serialisation_round_trip():
    augment = simclr_augmenter(8, scale=(0.3, 1.0), jitter_p=0.6, seed=5)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(augment)
    )
    assert [type(layer) for layer in restored.layers] == [
        type(layer) for layer in augment.layers
    ]
    for original, copy in zip(augment.layers, restored.layers, strict=True):
        assert copy.get_config() == original.get_config()
    jitter = restored.layers[2].layer
    assert isinstance(jitter, ColorJitter)
    assert jitter.get_config()["hue"] == 0.1 and jitter.seed == 7


def test_trains_inside_fit(rng):
    # jit_compile=True is XLA on TensorFlow and jax.jit on JAX; on torch it
    # would mean torch.compile, too slow for a unit test.
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            simclr_augmenter(8, seed=0),
            keras.layers.Conv2D(4, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile(
        optimizer="sgd",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=keras.backend.backend() != "torch",
    )
    images = rng.uniform(size=(8, 12, 12, 3)).astype("float32")
    history = model.fit(images, np.arange(8) % 2, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.predict(images, verbose=0).shape == (8, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": "big"}, "image_size"),
        ({"jitter": (0.4, 0.4, 0.4)}, "jitter"),
        ({"jitter": (0.4, 0.4, 0.4, 0.7)}, "hue"),
        ({"jitter": (-0.4, 0.4, 0.4, 0.1)}, "brightness"),
        ({"jitter_p": 1.5}, "jitter_p"),
        ({"grayscale_p": -0.5}, "grayscale_p"),
        ({"value_range": (1, 0)}, "value_range"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simclr_augmenter(**{"image_size": 8, **kwargs})


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (0.0, 255.0)])
def test_uint8_images_are_mapped_to_the_value_range(rng, value_range):
    images = rng.integers(0, 256, (6, 12, 12, 3)).astype("uint8")
    low, high = value_range
    floats = low + images.astype("float32") * (high - low) / 255.0
    views = [
        keras.ops.convert_to_numpy(
            simclr_augmenter(8, value_range=value_range, seed=3)(x, training=True)
        )
        for x in (images, floats)
    ]
    np.testing.assert_allclose(views[0], views[1], atol=1e-4 * high)
    assert views[0].reshape(6, -1).std(axis=1).min() > 0.01 * high


def test_the_augmenter_keeps_its_value_range_through_its_config():
    augment = simclr_augmenter(8, value_range=(0, 255), seed=1)
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(augment)
    )
    assert type(restored) is type(augment) and restored.value_range == (0.0, 255.0)
    image = np.full((1, 8, 8, 3), 255, "uint8")
    assert float(call(restored, image, training=False).max()) == 255.0
