"""Colour jitter with torchvision's semantics, written with keras.ops."""

import keras
from keras import ops

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_non_negative
from keras_sincere._validation import check_number
from keras_sincere._validation import check_value_range


def check_strengths(brightness, contrast, saturation, hue) -> tuple:
    """The four strengths as floats: `>= 0`, and the hue at most 0.5 turn."""
    return (
        check_non_negative(brightness, "brightness"),
        check_non_negative(contrast, "contrast"),
        check_non_negative(saturation, "saturation"),
        check_number(hue, "hue", minimum=0.0, maximum=0.5),
    )


@keras.saving.register_keras_serializable(package="keras_sincere")
class ColorJitter(keras.layers.Layer):
    """Random brightness, contrast, saturation and hue, as torchvision does.

    Each image of the batch draws its own factors and, with
    `random_order=True`, its own order of the four adjustments (torchvision
    draws a new permutation on every call, i.e. for every image). On images
    scaled to `[0, 1]`, with `f` drawn uniformly:

    - brightness `b`: `x * f`, `f` in `[max(0, 1 - b), 1 + b]`;
    - contrast `c`: `f * x + (1 - f) * mean(gray(x))`, `f` in
      `[max(0, 1 - c), 1 + c]`, the mean over the whole image;
    - saturation `s`: `f * x + (1 - f) * gray(x)`, `f` in
      `[max(0, 1 - s), 1 + s]`, per pixel;
    - hue `h`: the HSV hue shifted by `f` turns, `f` in `[-h, h]`;

    each result clipped to `[0, 1]`, `gray` the ITU-R 601 luma. A strength
    of 0 leaves that adjustment out.

    Keras's `keras.layers.RandomColorJitter` (and its four colour layers)
    does not follow these semantics, which is why this layer exists: its
    brightness is additive (`x + delta * range`), its contrast keeps the mean
    of each channel rather than pulling towards the mean luma, its
    saturation scales the HSV saturation by `f / (1 - f)` with `f` uniform
    (so no uniform multiplier), and its order is fixed. Its hue factor, with
    `(0, 2 * h)`, does match torchvision's `h`.

    Written with `keras.ops` and `keras.random` only: it runs inside a jitted
    `fit` on TensorFlow, JAX and PyTorch. With `random_order=True` each of
    the four steps computes one blend (with per-image factors) and one hue
    shift and selects per image, so it costs about four times a fixed order.

    Args:
        brightness: strength `b >= 0` (torchvision's `brightness`). Defaults
            to 0.4.
        contrast: strength `c >= 0`. Defaults to 0.4.
        saturation: strength `s >= 0`. Defaults to 0.4.
        hue: strength `h` in `[0, 0.5]`, in turns of the colour wheel.
            Defaults to 0.1.
        random_order: a random order of the adjustments per image, as
            torchvision; `False` applies brightness, contrast, saturation,
            hue in that order. Defaults to `True`.
        value_range: `(low, high)` pixel range of the inputs and outputs.
            Defaults to `(0, 1)`.
        seed: integer seed, or `None`.
        **kwargs: base layer arguments (`name`, `dtype`).

    Inputs: RGB images `(B, H, W, 3)` or `(H, W, 3)`.
    Outputs: the same shape, in the layer's compute dtype, within
    `value_range`. At inference (`training=False`) the inputs, unchanged.

    Example:

    >>> import numpy as np
    >>> from keras_sincere.augment import ColorJitter
    >>> jitter = ColorJitter(0.4, 0.4, 0.4, 0.1, seed=0)
    >>> images = np.random.default_rng(0).uniform(size=(2, 8, 8, 3))
    >>> tuple(jitter(images, training=True).shape)
    (2, 8, 8, 3)
    """

    def __init__(
        self,
        brightness: float = 0.4,
        contrast: float = 0.4,
        saturation: float = 0.4,
        hue: float = 0.1,
        random_order: bool = True,
        value_range: tuple[float, float] = (0.0, 1.0),
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.brightness, self.contrast, self.saturation, self.hue = check_strengths(
            brightness, contrast, saturation, hue
        )
        self.random_order = check_bool(random_order, "random_order")
        self.value_range = check_value_range(value_range)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=True):
        images = ops.cast(inputs, self.compute_dtype)
        if not training:
            return images
        unbatched = len(images.shape) == 3
        if unbatched:
            images = ops.expand_dims(images, 0)
        if len(images.shape) != 4 or images.shape[-1] not in (3, None):
            raise ValueError(
                "`ColorJitter` expects RGB images (B, H, W, 3) or (H, W, 3). "
                f"Received: inputs.shape={tuple(inputs.shape)}"
            )
        low, high = self.value_range
        images = (images - low) / (high - low)
        adjustments = self.sample_adjustments(ops.shape(images)[0])
        if self.random_order and len(adjustments) > 1:
            images = self.apply_in_random_order(images, adjustments)
        else:
            for kind, factors in adjustments:
                images = self.adjust(images, kind, factors)
        images = images * (high - low) + low
        if unbatched:
            images = ops.squeeze(images, 0)
        return images

    def sample_adjustments(self, batch_size):
        """`[(kind, factors)]` for the enabled adjustments, `factors` `(B, 1, 1, 1)`.

        Brightness, contrast and saturation are blends `f * x + (1 - f) * t`
        towards black, the mean luma and the luma; hue is a shift.
        """
        adjustments = []
        for kind, strength in (
            ("brightness", self.brightness),
            ("contrast", self.contrast),
            ("saturation", self.saturation),
            ("hue", self.hue),
        ):
            if strength == 0:
                continue
            # torchvision: [max(0, 1 - s), 1 + s] for blends, [-h, h] for hue.
            centre = 0.0 if kind == "hue" else 1.0
            lower = centre - strength if kind == "hue" else max(0.0, 1.0 - strength)
            factors = keras.random.uniform(
                (batch_size, 1, 1, 1),
                lower,
                centre + strength,
                seed=self.seed_generator,
            )
            adjustments.append((kind, ops.cast(factors, self.compute_dtype)))
        return adjustments

    @staticmethod
    def adjust(images, kind, factors):
        """One adjustment of `images` in `[0, 1]`."""
        if kind == "hue":
            return shift_hue(images, factors)
        return blend(images, blend_targets(images)[kind], factors)

    def apply_in_random_order(self, images, adjustments):
        """Step k applies, to each image, the k-th adjustment of its permutation.

        The three blends differ only in their factor and target, so each step
        computes one blend with per-image factors and targets, and the hue
        shift if enabled, then picks per image.
        """
        count = len(adjustments)
        batch_size = ops.shape(images)[0]
        keys = keras.random.uniform((batch_size, count), seed=self.seed_generator)
        order = ops.argsort(keys, axis=1)
        # Hue, when enabled, comes last, so with two or more adjustments the
        # first one is a blend.
        has_hue = adjustments[-1][0] == "hue"
        blends = adjustments[:-1] if has_hue else adjustments
        for step in range(count):
            choice = ops.reshape(order[:, step], (-1, 1, 1, 1))
            targets = blend_targets(images)
            kind, factors = blends[0]
            target = targets[kind]
            for index, (kind, kind_factors) in enumerate(blends[1:], start=1):
                chosen = choice == index
                factors = ops.where(chosen, kind_factors, factors)
                target = ops.where(chosen, targets[kind], target)
            outputs = blend(images, target, factors)
            if has_hue:
                shifted = shift_hue(images, adjustments[-1][1])
                outputs = ops.where(choice == count - 1, shifted, outputs)
            images = outputs
        return images

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "brightness": self.brightness,
                "contrast": self.contrast,
                "saturation": self.saturation,
                "hue": self.hue,
                "random_order": self.random_order,
                "value_range": list(self.value_range),
                "seed": self.seed,
            }
        )
        return config


def blend(images, other, factor):
    """torchvision's `_blend`: `factor * images + (1 - factor) * other`, clipped."""
    return ops.clip(factor * images + (1.0 - factor) * other, 0.0, 1.0)


def blend_targets(images):
    """What each blend pulls `images` `(B, H, W, 3)` towards, by adjustment.

    Black for brightness, the mean luma of the image for contrast and the
    luma of each pixel for saturation, the luma being ITU-R 601's (Keras's
    `rgb_to_grayscale`, with torchvision's weights 0.2989, 0.587, 0.114).
    """
    luma = ops.image.rgb_to_grayscale(images, data_format="channels_last")
    return {
        "brightness": 0.0,
        "contrast": ops.mean(luma, axis=(1, 2, 3), keepdims=True),
        "saturation": luma,
    }


def shift_hue(images, shift):
    """Rotates the HSV hue of `images` by `shift` `(B, 1, 1, 1)` turns."""
    hsv = ops.image.rgb_to_hsv(images, data_format="channels_last")
    hue = hsv[..., 0] + shift[..., 0]
    hue = hue - ops.floor(hue)
    hsv = ops.stack([hue, hsv[..., 1], hsv[..., 2]], axis=-1)
    rgb = ops.image.hsv_to_rgb(hsv, data_format="channels_last")
    return ops.clip(rgb, 0.0, 1.0)
