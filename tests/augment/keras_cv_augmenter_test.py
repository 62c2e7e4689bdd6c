"""keras_cv_augmenter: a tf.data pipeline on every backend."""

import colorsys
import inspect
import sys

import numpy as np
import pytest

from keras_sincere.augment import keras_cv_augmenter
from keras_sincere.augment import simclr_augmenter


def views(augment, images):
    """`augment` run where it is meant to run: in a `tf.data` map."""
    pytest.importorskip("keras_cv")
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(len(images))
    return next(iter(dataset.map(augment))).numpy()


def solid(colours, size=6):
    """Images of one colour each `(N, size, size, 3)`: crops and flips keep them."""
    colours = np.asarray(colours, "float32").reshape(-1, 1, 1, 3)
    return np.repeat(np.repeat(colours, size, axis=1), size, axis=2)


def hsv(images):
    """HSV of the top-left pixel of each image, `(N, 3)`."""
    return np.array([colorsys.rgb_to_hsv(*image[0, 0]) for image in images])


def test_takes_the_recipe_arguments_of_simclr_augmenter():
    """The two builders of one recipe: the same arguments, the same defaults."""
    in_graph = inspect.signature(simclr_augmenter).parameters
    keras_cv = inspect.signature(keras_cv_augmenter).parameters
    assert list(keras_cv.values()) == [
        parameter for name, parameter in in_graph.items() if name != "name"
    ]


def test_missing_keras_cv_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_cv", None)
    with pytest.raises(ImportError, match=r"keras-sincere\[cv\]"):
        keras_cv_augmenter(16)


def test_batches_from_a_tf_data_pipeline(rng):
    pytest.importorskip("keras_cv")
    tf = pytest.importorskip("tensorflow")
    augment = keras_cv_augmenter((16, 12), seed=0)
    # The same 4 images twice: two batches, two independent views of each.
    images = np.tile(rng.uniform(size=(4, 20, 24, 3)).astype("float32"), (2, 1, 1, 1))
    labels = np.arange(8) % 4
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)
    batches = list(dataset.map(lambda batch, y: (augment(batch), y)))
    assert len(batches) == 2
    for views, view_labels in batches:
        assert isinstance(views, tf.Tensor)
        views = views.numpy()
        assert views.shape == (4, 16, 12, 3) and views.dtype == np.float32
        assert views.min() >= 0.0 and views.max() <= 1.0
        np.testing.assert_array_equal(view_labels.numpy(), np.arange(4))
    assert not np.allclose(batches[0][0].numpy(), batches[1][0].numpy())


def test_jitter_p_and_grayscale_p_are_per_image_rates(rng):
    # One colour per image, so that only the colour steps change a view.
    images = solid(rng.uniform(0.3, 0.7, size=(100, 3)))
    outputs = views(keras_cv_augmenter(4, jitter_p=0.7, seed=0), images)
    assert outputs.shape == (100, 4, 4, 3)
    gray = np.ptp(outputs, axis=-1).max(axis=(1, 2)) < 1e-6
    difference = np.abs(outputs - images[:, :4, :4]).max(axis=(1, 2, 3))
    assert abs(gray.mean() - 0.2) < 0.1  # grayscale_p's default
    assert abs(np.mean(difference[~gray] > 1e-4) - 0.7) < 0.12
    # The images left out pass unchanged.
    assert np.all((difference[~gray] < 1e-6) | (difference[~gray] > 1e-4))


def test_jitter_strengths_map_onto_torchvision_ranges():
    # keras-cv adjusts brightness, contrast, saturation and hue in that order.
    # Flat gray images show the brightness `x + delta` alone, two-tone gray
    # images the contrast (their spread times a factor), and colour images
    # the saturation multiplier and the hue shift (a brightness delta keeps
    # the hue, and is read back from the value to undo its saturation change).
    flat = np.full((64, 6, 6, 3), 0.5, "float32")
    two_tone = flat.copy()
    two_tone[:, :, :3], two_tone[:, :, 3:] = 0.45, 0.55
    colour = solid(np.full((64, 3), [0.6, 0.5, 0.45]))
    augment = keras_cv_augmenter(
        6,
        scale=(1.0, 1.0),
        jitter=(0.3, 0.4, 0.4, 0.1),
        jitter_p=1,
        grayscale_p=0,
        seed=1,
    )
    outputs = views(augment, np.concatenate([flat, two_tone, colour]))
    assert outputs.shape == (192, 6, 6, 3)

    def within(values, low, high, reach):
        """In `[low, high]`, coming within `reach` of both ends."""
        assert values.min() >= low - 1e-3 and values.max() <= high + 1e-3
        assert values.min() < low + reach and values.max() > high - reach

    delta = outputs[:64, 0, 0, 0] - 0.5
    np.testing.assert_allclose(
        outputs[:64], flat[:1] + delta[:, None, None, None], atol=1e-5
    )
    within(delta, -0.3, 0.3, reach=0.1)  # brightness 0.3: delta in [-b, b]
    within(np.ptp(outputs[64:128], axis=(1, 2, 3)) / 0.1, 0.6, 1.4, reach=0.1)
    before, after = hsv(colour), hsv(outputs[128:])
    spread = 0.6 - 0.45  # max - min of the colour, which a brightness keeps
    within(after[:, 1] * after[:, 2] / spread, 0.6, 1.4, reach=0.1)
    within((after[:, 0] - before[:, 0] + 0.5) % 1.0 - 0.5, -0.1, 0.1, reach=0.03)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": (16,)}, "image_size"),
        ({"jitter": (0.4, 0.4, 0.4)}, "jitter"),
        ({"jitter_p": 1.5}, "jitter_p"),
        ({"grayscale_p": -0.5}, "grayscale_p"),
        ({"value_range": (1, 0)}, "value_range"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    pytest.importorskip("keras_cv")
    with pytest.raises(ValueError, match=match):
        keras_cv_augmenter(**{"image_size": 16, **kwargs})
