"""The SimCLR view pipeline, in-graph, from Keras layers."""

from typing import NamedTuple

import keras

from keras_sincere._validation import check_integer
from keras_sincere._validation import check_interval
from keras_sincere._validation import check_probability
from keras_sincere._validation import check_value_range
from keras_sincere._validation import is_integer
from keras_sincere.augment._image_sequential import ImageSequential
from keras_sincere.augment.color_jitter import ColorJitter
from keras_sincere.augment.color_jitter import check_strengths
from keras_sincere.augment.random_apply import RandomApply
from keras_sincere.augment.random_resized_crop import RandomResizedCrop


class SimCLRRecipe(NamedTuple):
    """The checked arguments of `simclr_augmenter` and `keras_cv_augmenter`."""

    height: int
    width: int
    scale: tuple[float, float]
    jitter: tuple[float, float, float, float]
    jitter_p: float
    grayscale_p: float
    value_range: tuple[float, float]
    seed: int | None

    def layer_seed(self, index: int) -> int | None:
        """The seed of the pipeline's `index`-th layer: `seed + index`."""
        return None if self.seed is None else self.seed + index


def check_recipe(
    image_size, scale, jitter, jitter_p, grayscale_p, value_range, seed
) -> SimCLRRecipe:
    """The SimCLR recipe's arguments, checked, or a `ValueError` naming one."""
    sides = (image_size, image_size) if is_integer(image_size) else image_size
    try:
        height, width = sides
    except (TypeError, ValueError):
        height = width = None
    if not all(is_integer(side) and side >= 1 for side in (height, width)):
        raise ValueError(
            "`image_size` must be an integer >= 1 or a pair of them (height, "
            f"width). Received: image_size={image_size!r}"
        )
    try:
        brightness, contrast, saturation, hue = jitter
    except (TypeError, ValueError):
        raise ValueError(
            "`jitter` must be four strengths (brightness, contrast, saturation, "
            f"hue). Received: jitter={jitter!r}"
        ) from None
    return SimCLRRecipe(
        height=int(height),
        width=int(width),
        scale=check_interval(scale, "scale", 0.0, 1.0),
        jitter=check_strengths(brightness, contrast, saturation, hue),
        jitter_p=check_probability(jitter_p, "jitter_p"),
        grayscale_p=check_probability(grayscale_p, "grayscale_p"),
        value_range=check_value_range(value_range),
        seed=check_integer(seed, "seed", minimum=None, allow_none=True),
    )


def simclr_augmenter(
    image_size: int | tuple[int, int],
    scale: tuple[float, float] = (0.2, 1.0),
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
    jitter_p: float = 0.8,
    grayscale_p: float = 0.2,
    value_range: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
    name: str = "simclr_augmenter",
) -> keras.Sequential:
    """The SimCLR augmentation recipe as a Keras model that runs in-graph.

    The torchvision pipeline of SimCLR / SupCon / SINCERE:

    ```
    RandomResizedCrop(image_size, scale=scale)
    RandomHorizontalFlip()
    RandomApply([ColorJitter(*jitter)], p=jitter_p)
    RandomGrayscale(p=grayscale_p)
    ```

    built from `RandomResizedCrop`, `keras.layers.RandomFlip("horizontal")`,
    `RandomApply(ColorJitter(...))` and `keras.layers.RandomGrayscale`
    (which converts each image independently with probability `factor`,
    keeping 3 channels, as torchvision's). The colour jitter is this
    package's `ColorJitter`, which follows torchvision's semantics
    (multiplicative brightness, blends towards luma for contrast and
    saturation, a random order per image); Keras's own colour layers differ,
    see `ColorJitter`. The crop follows torchvision's box distribution
    without its anti-aliasing when shrinking.

    Every layer draws per image, so two calls on the same batch give two
    independent views. Use it as the `augmenter` of a contrastive model, or
    call it with `training=True`; at inference (`training=False`) it only
    resizes (centre crop with the output's aspect ratio). It runs inside a
    jitted `fit` on TensorFlow, JAX and PyTorch; it is not a `tf.data` stage
    on JAX or PyTorch (use `keras_cv_augmenter` there).

    Args:
        image_size: output size, `int` or `(height, width)`.
        scale: bounds of the crop area as a fraction of the image area.
            Defaults to `(0.2, 1.0)`.
        jitter: `(brightness, contrast, saturation, hue)` strengths, with
            torchvision's meaning. Defaults to `(0.4, 0.4, 0.4, 0.1)`.
        jitter_p: probability that an image is colour-jittered. Defaults to
            0.8.
        grayscale_p: probability that an image is turned gray. Defaults to
            0.2.
        value_range: `(low, high)` pixel range of float images. Defaults to
            `(0, 1)`. Integer images (uint8 0-255) are mapped to it first.
        seed: integer seed, or `None`. Each layer is seeded with `seed + i`.
        name: name of the returned model.

    Returns:
        A `keras.Sequential` mapping RGB images `(B, H, W, 3)` of any size to
        views `(B, height, width, 3)`, float32, within `value_range` (an
        `ImageSequential`, which also takes uint8 images).

    Example:

    >>> import numpy as np
    >>> from keras_sincere.augment import simclr_augmenter
    >>> augment = simclr_augmenter(24, seed=0)
    >>> images = np.random.default_rng(0).uniform(size=(4, 32, 32, 3))
    >>> tuple(augment(images, training=True).shape)
    (4, 24, 24, 3)
    """
    recipe = check_recipe(
        image_size, scale, jitter, jitter_p, grayscale_p, value_range, seed
    )
    layers = [
        # Any image size in: the first call must not fix the input shape.
        keras.Input(shape=(None, None, 3)),
        RandomResizedCrop(
            recipe.height, recipe.width, scale=recipe.scale, seed=recipe.layer_seed(0)
        ),
        keras.layers.RandomFlip("horizontal", seed=recipe.layer_seed(1)),
    ]
    if recipe.jitter_p > 0 and any(strength > 0 for strength in recipe.jitter):
        color_jitter = ColorJitter(
            *recipe.jitter, value_range=recipe.value_range, seed=recipe.layer_seed(2)
        )
        layers.append(
            RandomApply(color_jitter, rate=recipe.jitter_p, seed=recipe.layer_seed(3))
        )
    if recipe.grayscale_p > 0:
        layers.append(
            keras.layers.RandomGrayscale(recipe.grayscale_p, seed=recipe.layer_seed(4))
        )
    return ImageSequential(layers, value_range=recipe.value_range, name=name)
