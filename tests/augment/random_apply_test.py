"""RandomApply: per-sample probability, seeding, serialisation."""

import keras
import numpy as np
import pytest

from keras_sincere.augment import RandomApply
from tests.augment import call


def inverter():
    """A deterministic layer that visibly changes every image: `1 - x`."""
    return keras.layers.Rescaling(scale=-1.0, offset=1.0)


def applied(images, outputs):
    """Which images were transformed, checking each is all or nothing."""
    inverted = np.isclose(outputs, 1.0 - images, atol=1e-6).all(axis=(1, 2, 3))
    kept = np.isclose(outputs, images, atol=1e-6).all(axis=(1, 2, 3))
    assert np.all(inverted ^ kept)
    return inverted


@pytest.fixture
def images(rng):
    return rng.uniform(0.1, 0.4, size=(400, 3, 3, 1)).astype("float32")


@pytest.mark.parametrize("rate, expected", [(0.0, 0.0), (1.0, 1.0)])
def test_rate_zero_is_identity_rate_one_always_applies(images, rate, expected):
    layer = RandomApply(inverter(), rate=rate, seed=0)
    assert applied(images, call(layer, images)).mean() == expected


def test_each_sample_draws_independently(images):
    layer = RandomApply(inverter(), rate=0.5, seed=1)
    first = applied(images, call(layer, images))
    second = applied(images, call(layer, images))
    assert abs(first.mean() - 0.5) < 0.1 and abs(second.mean() - 0.5) < 0.1
    assert (first != second).any()
    layer = RandomApply(inverter(), rate=0.2, seed=2)
    assert abs(applied(images, call(layer, images)).mean() - 0.2) < 0.08


def test_inference_passes_inputs_through(images):
    layer = RandomApply(inverter(), rate=1.0, seed=0)
    np.testing.assert_array_equal(call(layer, images, training=False), images)


def test_unbatched_image(images):
    layer = RandomApply(inverter(), rate=1.0, seed=0)
    np.testing.assert_allclose(call(layer, images[0]), 1.0 - images[0], atol=1e-6)


def test_same_seed_same_choices(images):
    def choices(seed):
        return applied(images, call(RandomApply(inverter(), 0.5, seed=seed), images))

    np.testing.assert_array_equal(choices(5), choices(5))
    assert (choices(5) != choices(6)).any()


def test_serialisation_round_trip(images):
    layer = RandomApply(inverter(), rate=1.0, seed=3, name="invert_all")
    config = layer.get_config()
    assert config["rate"] == 1.0 and config["seed"] == 3
    assert config["layer"]["class_name"] == "Rescaling"
    for restored in (
        RandomApply.from_config(config),
        keras.layers.deserialize(keras.layers.serialize(layer)),
    ):
        assert isinstance(restored, RandomApply)
        assert isinstance(restored.layer, keras.layers.Rescaling)
        assert restored.layer.get_config() == layer.layer.get_config()
        assert restored.get_config() == config
    np.testing.assert_allclose(call(restored, images[:4]), 1.0 - images[:4], atol=1e-6)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan"), "often"])
def test_rejects_bad_rate(rate):
    with pytest.raises(ValueError, match="rate"):
        RandomApply(inverter(), rate=rate)


def test_rejects_what_is_not_a_layer():
    with pytest.raises(ValueError, match="layer"):
        RandomApply(lambda x: x)
