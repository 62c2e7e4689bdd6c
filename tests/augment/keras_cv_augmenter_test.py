"""keras_cv_augmenter: a tf.data pipeline on every backend."""

import sys

import numpy as np
import pytest

from keras_sincere.augment import keras_cv_augmenter


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


def test_jitter_strengths_map_onto_keras_cv_factors():
    pytest.importorskip("keras_cv")
    augment = keras_cv_augmenter(16, jitter=(0.4, 0.3, 0.4, 0.1), jitter_p=0.7)
    crop, _, jitter, grayscale = augment.layers
    color = jitter._layer
    assert jitter._rate == 0.7 and grayscale._rate == 0.2
    assert color.brightness_factor == (-0.4, 0.4)
    assert color.contrast_factor == (0.3, 0.3)  # keras-cv: [1 - 0.3, 1 + 0.3]
    low, high = color.saturation_factor
    # keras-cv multiplies the saturation by f / (1 - f).
    np.testing.assert_allclose([low / (1 - low), high / (1 - high)], [0.6, 1.4])
    assert color.hue_factor == (0.0, 0.2)  # keras-cv shifts by +-factor / 2
    assert crop.target_size == (16, 16)


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
