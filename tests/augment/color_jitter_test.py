"""ColorJitter: each adjustment against its formula (torchvision semantics)."""

import colorsys

import numpy as np
import pytest

from keras_sincere.augment import ColorJitter
from tests.augment import call

LUMA = np.array([0.2989, 0.587, 0.114], dtype="float32")


def luma(images):
    return images @ LUMA


def per_image_factor(changed, original):
    """The `f` with `changed = f * original` for each image, checking it fits."""
    changed = changed.reshape(len(changed), -1)
    original = original.reshape(len(original), -1)
    factors = (changed * original).sum(axis=1) / (original**2).sum(axis=1)
    np.testing.assert_allclose(changed, factors[:, None] * original, atol=2e-5)
    return factors


def only(**strengths):
    """A ColorJitter with the given strengths and the others at 0."""
    values = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0}
    return ColorJitter(**{**values, **strengths}, seed=0)


@pytest.fixture
def images(rng):
    # Mid-range colours, so that no adjustment of strength 0.4 clips.
    return rng.uniform(0.3, 0.7, size=(64, 6, 6, 3)).astype("float32")


def test_brightness_multiplies(images):
    outputs = call(only(brightness=0.4), images)
    factors = per_image_factor(outputs, images)
    assert factors.min() >= 0.6 - 1e-6 and factors.max() <= 1.4 + 1e-6
    assert factors.min() < 0.7 and factors.max() > 1.3


def test_contrast_blends_with_the_mean_luma(images):
    outputs = call(only(contrast=0.4), images)
    means = luma(images).mean(axis=(1, 2))[:, None, None, None]
    # Up to the luma weights summing to 0.9999, as in torchvision.
    np.testing.assert_allclose(
        luma(outputs).mean(axis=(1, 2)), means[:, 0, 0, 0], atol=1e-4
    )
    factors = per_image_factor(outputs - means, images - means)
    assert factors.min() >= 0.6 - 1e-3 and factors.max() <= 1.4 + 1e-3
    assert factors.min() < 0.7 and factors.max() > 1.3


def test_saturation_blends_with_the_luma(images):
    outputs = call(only(saturation=0.4), images)
    gray = luma(images)[..., None]
    np.testing.assert_allclose(luma(outputs)[..., None], gray, atol=1e-4)
    factors = per_image_factor(outputs - gray, images - gray)
    assert factors.min() >= 0.6 - 1e-3 and factors.max() <= 1.4 + 1e-3


def test_hue_rotates_the_colour_wheel(images):
    outputs = call(only(hue=0.1), images)

    def hsv(batch):
        flat = [colorsys.rgb_to_hsv(*pixel) for pixel in batch.reshape(-1, 3)]
        return np.array(flat).reshape(batch.shape)

    before, after = hsv(images), hsv(outputs)
    np.testing.assert_allclose(after[..., 1:], before[..., 1:], atol=1e-4)
    # The shift, wrapped to [-0.5, 0.5), is one number per image in [-h, h].
    shift = (after[..., 0] - before[..., 0] + 0.5) % 1.0 - 0.5
    shifts = shift.reshape(len(shift), -1)
    np.testing.assert_allclose(
        shifts, np.broadcast_to(shifts[:, :1], shifts.shape), atol=1e-3
    )
    assert np.abs(shifts).max() <= 0.1 + 1e-3
    assert shifts.min() < -0.05 and shifts.max() > 0.05


def test_each_image_draws_its_own_order(rng):
    # Brightness and saturation strong enough to clip do not commute. The
    # factors are drawn before the order, so with the same seed the fixed
    # order shows which images kept it: about half with two adjustments.
    images = rng.uniform(size=(64, 4, 4, 3)).astype("float32")
    strengths = {"brightness": 0.9, "saturation": 0.9, "contrast": 0, "hue": 0}
    fixed = call(ColorJitter(**strengths, random_order=False, seed=9), images)
    shuffled = call(ColorJitter(**strengths, random_order=True, seed=9), images)
    same = np.isclose(fixed, shuffled, atol=1e-6).all(axis=(1, 2, 3))
    assert 0.25 < same.mean() < 0.75


def test_jitter_keeps_range_and_skips_inference(rng):
    images = rng.uniform(size=(16, 5, 5, 3)).astype("float32")
    jitter = ColorJitter(0.8, 0.8, 0.8, 0.5, seed=1)
    outputs = call(jitter, images)
    assert outputs.min() >= 0.0 and outputs.max() <= 1.0
    assert not np.allclose(outputs, images)
    np.testing.assert_array_equal(call(jitter, images, training=False), images)
