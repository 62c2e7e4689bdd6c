"""The SimCLR view pipeline, in-graph, from Keras layers."""

import keras

from keras_sincere.augment._image_sequential import ImageSequential
from keras_sincere.augment._recipe_arguments import check_recipe_arguments
from keras_sincere.augment.color_jitter import ColorJitter
from keras_sincere.augment.random_apply import RandomApply
from keras_sincere.augment.random_resized_crop import RandomResizedCrop


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
    (
        (height, width),
        (brightness, contrast, saturation, hue),
        jitter_p,
        grayscale_p,
        value_range,
    ) = check_recipe_arguments(image_size, jitter, jitter_p, grayscale_p, value_range)

    def layer_seed(index):
        return None if seed is None else seed + index

    layers = [
        # Any image size in: the first call must not fix the input shape.
        keras.Input(shape=(None, None, 3)),
        RandomResizedCrop(height, width, scale=scale, seed=layer_seed(0)),
        keras.layers.RandomFlip("horizontal", seed=layer_seed(1)),
    ]
    color_jitter = ColorJitter(
        brightness,
        contrast,
        saturation,
        hue,
        value_range=value_range,
        seed=layer_seed(2),
    )
    if jitter_p > 0 and any(strength > 0 for strength in jitter):
        layers.append(RandomApply(color_jitter, rate=jitter_p, seed=layer_seed(3)))
    if grayscale_p > 0:
        layers.append(keras.layers.RandomGrayscale(grayscale_p, seed=layer_seed(4)))
    return ImageSequential(layers, value_range=value_range, name=name)
