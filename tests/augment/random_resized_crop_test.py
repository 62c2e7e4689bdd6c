"""RandomResizedCrop: torchvision's box distribution, resizing, the Keras contract."""

import math

import keras
import numpy as np
import pytest

from keras_sincere.augment import RandomResizedCrop
from tests.augment import call


def coordinate_images(batch_size, height, width):
    """Images whose channels hold each pixel's row and column index."""
    rows, columns = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    image = np.stack([rows, columns], axis=-1).astype("float32")
    return np.repeat(image[None], batch_size, axis=0)


def crop_boxes(layer, images, training=True):
    """`(top, left, height, width)` of each crop, read from the output pixels.

    With an output as large as the input, bilinear sampling clamps the first
    and last sample of each axis to the box edges, so the row/column values
    seen span the box exactly.
    """
    outputs = call(layer, images, training)
    rows, columns = outputs[..., 0], outputs[..., 1]
    top, bottom = rows.min(axis=(1, 2)), rows.max(axis=(1, 2))
    left, right = columns.min(axis=(1, 2)), columns.max(axis=(1, 2))
    boxes = np.stack([top, left, bottom - top + 1, right - left + 1], axis=1)
    return np.round(boxes).astype(int)


def torchvision_areas(rng, count, height, width, scale, ratio, attempts=10):
    """Area fractions of boxes drawn by torchvision's `get_params` loop."""
    areas = []
    for _ in range(count):
        for _ in range(attempts):
            target = height * width * rng.uniform(*scale)
            aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                areas.append(h * w / (height * width))
                break
        else:
            areas.append(1.0)  # a square image falls back to itself
    return np.array(areas)


@pytest.mark.parametrize("training", [True, False])
def test_shapes_dtype_and_range(rng, training):
    layer = RandomResizedCrop(12, 10, seed=0)
    images = rng.uniform(size=(3, 20, 16, 3)).astype("float32")
    outputs = call(layer, images, training)
    assert outputs.shape == (3, 12, 10, 3)
    assert outputs.dtype == np.float32
    assert outputs.min() >= 0.0 and outputs.max() <= 1.0
    assert call(layer, images[0], training).shape == (12, 10, 3)
    assert layer.compute_output_shape((None, 20, 16, 3)) == (None, 12, 10, 3)
    assert layer.compute_output_shape((20, 16, 3)) == (12, 10, 3)


def test_whole_image_box_is_the_identity(rng):
    images = rng.uniform(size=(2, 8, 12, 3)).astype("float32")
    layer = RandomResizedCrop(8, 12, scale=(1.0, 1.0), ratio=(1.5, 1.5), seed=0)
    np.testing.assert_allclose(call(layer, images), images, atol=1e-6)


def test_inference_resizes_the_centre_crop(rng):
    images = rng.uniform(size=(2, 16, 24, 3)).astype("float32")
    layer = RandomResizedCrop(8, 8, interpolation="bilinear")
    # The largest centred square of a 16 x 24 image is columns 4..19.
    expected = keras.ops.image.resize(images[:, :, 4:20], (8, 8), antialias=False)
    np.testing.assert_allclose(
        call(layer, images, training=False),
        keras.ops.convert_to_numpy(expected),
        atol=1e-5,
    )


def test_nearest_keeps_input_values(rng):
    images = rng.uniform(size=(4, 10, 10, 1)).astype("float32")
    layer = RandomResizedCrop(7, 7, interpolation="nearest", seed=3)
    outputs = call(layer, images)
    for output, image in zip(outputs, images, strict=True):
        assert np.isin(output, image).all()


def test_crop_area_and_ratio_follow_the_requested_ranges():
    # Areas up to half the image always fit, so they are uniform in `scale`.
    layer = RandomResizedCrop(32, 32, scale=(0.2, 0.5), seed=1)
    boxes = crop_boxes(layer, coordinate_images(400, 32, 32))
    areas = boxes[:, 2] * boxes[:, 3] / 32**2
    ratios = boxes[:, 3] / boxes[:, 2]
    # Whole-pixel rounding moves an area by at most about 2.5% of a 32 x 32 image.
    assert 0.2 - 0.025 <= areas.min() < 0.22
    assert 0.48 < areas.max() <= 0.5 + 0.025
    assert abs(areas.mean() - 0.35) < 0.02
    assert ratios.min() >= 0.75 * 14 / 15 and ratios.max() <= 4 / 3 * 15 / 14
    assert ratios.min() < 0.85 and ratios.max() > 1.2
    assert (boxes[:, :2] >= 0).all()
    assert (boxes[:, 0] + boxes[:, 2] <= 32).all()
    assert (boxes[:, 1] + boxes[:, 3] <= 32).all()


def test_default_scale_matches_torchvision_sampling():
    # Large boxes that do not fit are redrawn, which lowers the mean area
    # below 0.6: compare with torchvision's loop, replayed in numpy.
    layer = RandomResizedCrop(32, 32, seed=2)
    boxes = crop_boxes(layer, coordinate_images(400, 32, 32))
    areas = boxes[:, 2] * boxes[:, 3] / 32**2
    reference = torchvision_areas(
        np.random.default_rng(0), 5000, 32, 32, (0.2, 1.0), (3 / 4, 4 / 3)
    )
    assert areas.min() >= 0.2 - 0.025 and areas.max() <= 1.0
    assert areas.max() > 0.9
    assert abs(areas.mean() - reference.mean()) < 0.04
    assert abs(np.median(areas) - np.median(reference)) < 0.06


def test_boxes_that_never_fit_fall_back_to_a_centre_crop():
    # On a 4 x 64 strip no box of 90% of the area fits: torchvision then
    # crops the centre with the widest allowed ratio, 4 x round(4 * 4/3).
    layer = RandomResizedCrop(4, 64, scale=(0.9, 1.0), seed=0)
    boxes = crop_boxes(layer, coordinate_images(3, 4, 64))
    np.testing.assert_array_equal(boxes, [[0, 29, 4, 5]] * 3)


def test_each_image_draws_its_own_box():
    # The same image 400 times (the shape of the test above: one compilation).
    boxes = crop_boxes(
        RandomResizedCrop(32, 32, seed=4), coordinate_images(400, 32, 32)
    )
    assert len({tuple(box) for box in boxes}) > 200


def test_same_seed_same_crops_other_seed_other_crops(rng):
    images = rng.uniform(size=(4, 16, 16, 3)).astype("float32")

    def crops(seed):
        return call(RandomResizedCrop(8, 8, seed=seed), images)

    np.testing.assert_array_equal(crops(7), crops(7))
    assert not np.allclose(crops(7), crops(8))
    layer = RandomResizedCrop(8, 8, seed=7)
    assert not np.allclose(call(layer, images), call(layer, images))


def test_config_round_trip():
    layer = RandomResizedCrop(
        24, 20, scale=(0.3, 0.9), ratio=(0.5, 2.0), interpolation="nearest", seed=3
    )
    config = layer.get_config()
    assert config["scale"] == [0.3, 0.9] and config["ratio"] == [0.5, 2.0]
    assert RandomResizedCrop.from_config(config).get_config() == config
    restored = keras.layers.deserialize(keras.layers.serialize(layer))
    assert isinstance(restored, RandomResizedCrop)
    assert restored.get_config() == config


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"height": 0}, "height"),
        ({"width": 2.5}, "width"),
        ({"scale": (0.0, 1.0)}, "scale"),
        ({"scale": (0.5, 0.2)}, "scale"),
        ({"scale": (0.2, 1.5)}, "scale"),
        ({"ratio": (0.0, 1.0)}, "ratio"),
        ({"ratio": 1.0}, "ratio"),
        ({"interpolation": "bicubic"}, "interpolation"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    arguments = {"height": 8, "width": 8, **kwargs}
    with pytest.raises(ValueError, match=match):
        RandomResizedCrop(**arguments)


def test_rejects_images_of_the_wrong_rank():
    with pytest.raises(ValueError, match="expects images"):
        RandomResizedCrop(4, 4)(np.zeros((2, 8, 8, 3, 1), "float32"))
