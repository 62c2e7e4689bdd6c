"""Random resized crop, the first step of the SimCLR augmentation recipe."""

import math

import keras
from keras import ops

from keras_sincere._validation import check_choice
from keras_sincere._validation import check_integer
from keras_sincere._validation import check_interval

INTERPOLATIONS = ("bilinear", "nearest")


@keras.saving.register_keras_serializable(package="keras_sincere")
class RandomResizedCrop(keras.layers.Layer):
    """Crops a random part of each image and resizes it to a fixed size.

    The crop box follows torchvision's `RandomResizedCrop`: its area is a
    fraction of the image area drawn uniformly from `scale`, its aspect
    ratio (width / height) is drawn log-uniformly from `ratio`, and the side
    lengths are rounded to whole pixels. torchvision retries up to 10 times
    until the box fits inside the image and then falls back to a centre crop;
    this layer draws the 10 tries of every image at once, keeps the first
    that fits and otherwise uses the same centre crop, so the boxes have
    exactly torchvision's distribution. The box is placed uniformly at a
    whole-pixel offset.

    Every image of a batch draws its own box. The box is resized to
    `(height, width)` by bilinear (or nearest-neighbour) sampling with
    half-pixel centres, as `keras.ops.image.resize` does, without
    anti-aliasing (like `tf.image.crop_and_resize`).

    At inference (`training=False`) the layer takes the largest centre crop
    with the output's aspect ratio (the whole image when both are square) and
    resizes it, so evaluation images keep their proportions.

    Written with `keras.ops` and `keras.random` only: it runs inside a jitted
    `fit` on TensorFlow, JAX and PyTorch. It is a model layer, not a
    `tf.data` layer: for `tf.data` pipelines use `keras_cv_augmenter`.

    Args:
        height: height of the output images.
        width: width of the output images.
        scale: `(lower, upper)` bounds of the crop area as a fraction of the
            image area, in `(0, 1]`. Defaults to `(0.2, 1.0)` (SimCLR on
            CIFAR; torchvision's default is `(0.08, 1.0)`).
        ratio: `(lower, upper)` bounds of the aspect ratio (width / height)
            of the crop, sampled log-uniformly. Defaults to `(3/4, 4/3)`.
        interpolation: `"bilinear"` (default) or `"nearest"`.
        seed: integer seed of the random boxes, or `None`.
        **kwargs: base layer arguments (`name`, `dtype`).

    Inputs: float images `(B, H, W, C)` or `(H, W, C)` (channels last).
    Outputs: images `(B, height, width, C)` or `(height, width, C)` in the
    layer's compute dtype; pixel values stay within the input's range.

    Example:

    >>> import numpy as np
    >>> from keras_sincere.augment import RandomResizedCrop
    >>> crop = RandomResizedCrop(24, 24, seed=0)
    >>> images = np.random.default_rng(0).uniform(size=(2, 32, 32, 3))
    >>> tuple(crop(images).shape)
    (2, 24, 24, 3)
    """

    # How many boxes torchvision draws before it falls back to a centre crop.
    ATTEMPTS = 10

    def __init__(
        self,
        height: int,
        width: int,
        scale: tuple[float, float] = (0.2, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: str = "bilinear",
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.height = check_integer(height, "height")
        self.width = check_integer(width, "width")
        self.scale = check_interval(scale, "scale", 0.0, 1.0)
        self.ratio = check_interval(ratio, "ratio", 0.0)
        self.interpolation = check_choice(
            interpolation, "interpolation", INTERPOLATIONS
        )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=True):
        images = ops.cast(inputs, self.compute_dtype)
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.expand_dims(images, 0)
        if len(images.shape) != 4:
            raise ValueError(
                "`RandomResizedCrop` expects images (B, H, W, C) or (H, W, C). "
                f"Received: inputs.shape={tuple(inputs.shape)}"
            )
        shape = ops.shape(images)
        batch_size = shape[0]
        image_height = ops.cast(shape[1], "float32")
        image_width = ops.cast(shape[2], "float32")
        if training:
            top, left, crop_height, crop_width = self.random_boxes(
                batch_size, image_height, image_width
            )
        else:
            top, left, crop_height, crop_width = self.centre_boxes(
                batch_size, image_height, image_width
            )
        outputs = self.crop_and_resize(images, top, left, crop_height, crop_width)
        if unbatched:
            outputs = ops.squeeze(outputs, 0)
        return outputs

    def random_boxes(self, batch_size, image_height, image_width):
        """Boxes `(top, left, height, width)`, float32 `(B,)` each, in pixels."""
        shape = (batch_size, self.ATTEMPTS)
        area_fraction = keras.random.uniform(
            shape, self.scale[0], self.scale[1], seed=self.seed_generator
        )
        log_ratio = keras.random.uniform(
            shape,
            math.log(self.ratio[0]),
            math.log(self.ratio[1]),
            seed=self.seed_generator,
        )
        area = area_fraction * image_height * image_width
        aspect_ratio = ops.exp(log_ratio)
        heights = ops.round(ops.sqrt(area / aspect_ratio))
        widths = ops.round(ops.sqrt(area * aspect_ratio))
        fits = (
            (heights > 0)
            & (heights <= image_height)
            & (widths > 0)
            & (widths <= image_width)
        )
        # The first try that fits, as torchvision's loop; argmax's choice
        # among ties is not specified on every backend, so take a minimum.
        tries = ops.arange(self.ATTEMPTS, dtype="int32")
        first = ops.min(ops.where(fits, tries, self.ATTEMPTS), axis=1, keepdims=True)
        chosen = ops.equal(tries, first)
        crop_height = ops.sum(ops.where(chosen, heights, 0.0), axis=1)
        crop_width = ops.sum(ops.where(chosen, widths, 0.0), axis=1)

        fallback = self.fallback_boxes(batch_size, image_height, image_width)
        found = ops.any(fits, axis=1)
        crop_height = ops.where(found, crop_height, fallback[2])
        crop_width = ops.where(found, crop_width, fallback[3])

        # A whole-pixel offset, uniform over the positions where the box fits.
        offsets = keras.random.uniform(
            (batch_size, 2), 0.0, 1.0, seed=self.seed_generator
        )
        free_height = image_height - crop_height
        free_width = image_width - crop_width
        top = ops.minimum(ops.floor(offsets[:, 0] * (free_height + 1)), free_height)
        left = ops.minimum(ops.floor(offsets[:, 1] * (free_width + 1)), free_width)
        top = ops.where(found, top, fallback[0])
        left = ops.where(found, left, fallback[1])
        return top, left, crop_height, crop_width

    def fallback_boxes(self, batch_size, image_height, image_width):
        """torchvision's centre crop after 10 failed tries: clamp the ratio."""
        image_ratio = image_width / image_height
        crop_height = ops.where(
            image_ratio < self.ratio[0],
            ops.round(image_width / self.ratio[0]),
            image_height,
        )
        crop_width = ops.where(
            image_ratio > self.ratio[1],
            ops.round(image_height * self.ratio[1]),
            image_width,
        )
        return self.centred(
            batch_size, image_height, image_width, crop_height, crop_width
        )

    def centre_boxes(self, batch_size, image_height, image_width):
        """Largest centre crop with the output's aspect ratio (inference)."""
        target_ratio = self.width / self.height
        wider = image_width / image_height > target_ratio
        crop_height = ops.where(
            wider, image_height, ops.round(image_width / target_ratio)
        )
        crop_width = ops.where(
            wider, ops.round(image_height * target_ratio), image_width
        )
        crop_height = ops.clip(crop_height, 1.0, image_height)
        crop_width = ops.clip(crop_width, 1.0, image_width)
        return self.centred(
            batch_size, image_height, image_width, crop_height, crop_width
        )

    @staticmethod
    def centred(batch_size, image_height, image_width, crop_height, crop_width):
        """One centred box per image, as `(top, left, height, width)` `(B,)`."""
        top = ops.floor((image_height - crop_height) / 2.0)
        left = ops.floor((image_width - crop_width) / 2.0)
        ones = ops.ones((batch_size,), "float32")
        return top * ones, left * ones, crop_height * ones, crop_width * ones

    def crop_and_resize(self, images, top, left, crop_height, crop_width):
        """Samples each box on a `(height, width)` grid, one axis at a time."""
        images = self.sample_axis(images, top, crop_height, self.height, axis=1)
        return self.sample_axis(images, left, crop_width, self.width, axis=2)

    def sample_axis(self, images, start, length, size, axis):
        """Resamples `[start, start + length)` of `axis` to `size` points.

        Bilinear interpolation is separable, so two 1-D passes (rows, then
        columns) with gathers cost O(size * W + height * width) per channel
        instead of a 2-D gather per output pixel.
        """
        # Half-pixel centres: output i looks at start + (i + 0.5) * step - 0.5.
        step = length / size
        grid = ops.arange(size, dtype="float32") + 0.5
        position = start[:, None] + grid[None, :] * step[:, None]
        last = (start + length - 1.0)[:, None]
        if self.interpolation == "nearest":
            index = ops.clip(ops.floor(position), start[:, None], last)
            return self.take(images, index, axis)
        position = ops.clip(position - 0.5, start[:, None], last)
        lower = ops.floor(position)
        upper = ops.minimum(lower + 1.0, last)
        weight = position - lower
        weight_shape = [-1, 1, 1, 1]
        weight_shape[axis] = size
        weight = ops.cast(ops.reshape(weight, weight_shape), images.dtype)
        below = self.take(images, lower, axis)
        above = self.take(images, upper, axis)
        return below + (above - below) * weight

    @staticmethod
    def take(images, index, axis):
        """`images` gathered along `axis` at float `index` `(B, size)`."""
        shape = ops.shape(images)
        size = index.shape[1]
        index_shape = [-1, 1, 1, 1]
        index_shape[axis] = size
        target_shape = list(shape)
        target_shape[axis] = size
        index = ops.reshape(ops.cast(index, "int32"), index_shape)
        index = ops.broadcast_to(index, target_shape)
        return ops.take_along_axis(images, index, axis=axis)

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return input_shape[:-3] + (self.height, self.width, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "height": self.height,
                "width": self.width,
                "scale": list(self.scale),
                "ratio": list(self.ratio),
                "interpolation": self.interpolation,
                "seed": self.seed,
            }
        )
        return config
