"""The SimCLR view pipeline from keras-cv layers, for `tf.data`."""

from collections.abc import Callable

from keras_sincere.augment.simclr_augmenter import SimCLRRecipe
from keras_sincere.augment.simclr_augmenter import check_recipe

CV_EXTRA_HINT = (
    "`keras_cv_augmenter` needs keras-cv and TensorFlow, which keras-sincere "
    'does not install by default: `pip install "keras-sincere[cv]"`.'
)


def keras_cv_augmenter(
    image_size: int | tuple[int, int],
    scale: tuple[float, float] = (0.2, 1.0),
    jitter: tuple[float, float, float, float] = (0.4, 0.4, 0.4, 0.1),
    jitter_p: float = 0.8,
    grayscale_p: float = 0.2,
    value_range: tuple[float, float] = (0.0, 1.0),
    seed: int | None = None,
) -> Callable:
    """The SimCLR augmentation recipe from keras-cv layers, for `tf.data`.

    Chains `keras_cv.layers.RandomCropAndResize`, `RandomFlip("horizontal")`,
    `RandomApply(RandomColorJitter(...), rate=jitter_p)` and
    `RandomApply(Grayscale(output_channels=3), rate=grayscale_p)`, each
    drawing per image. Meant for `dataset.map(...)`: the layers are
    TensorFlow code, so the pipeline works whatever `KERAS_BACKEND` is
    (TensorFlow must be installed), but not inside a model: under a JAX
    jitted `fit` keras-cv layers fail (TracerArrayConversionError), and
    `RandomCropAndResize` has no XLA kernel. For an in-graph pipeline use
    `simclr_augmenter`.

    keras-cv's semantics differ from torchvision's; the strengths are mapped
    as follows:

    - crop: area fraction uniform in `scale` as torchvision, but the aspect
      ratio is uniform (not log-uniform) in `(3/4, 4/3)` and sides that do
      not fit are clipped to the image instead of redrawn;
    - brightness `b`: additive, `x + delta` with `delta` uniform in
      `[-b, b]` times the value range (SimCLR v1's TensorFlow recipe, not
      torchvision's multiplicative `[1 - b, 1 + b]`); needs `b <= 1`;
    - contrast `c`: factor uniform in `[max(0, 1 - c), 1 + c]` as
      torchvision, but around each channel's mean rather than the mean
      luma; needs `c <= 1`;
    - saturation `s`: the HSV saturation multiplied by `m` in
      `[max(0, 1 - s), 1 + s]` (torchvision's range; keras-cv draws
      `m / (1 + m)` uniformly, so `m` itself is not uniform), where
      torchvision blends with the gray image;
    - hue `h`: shift uniform in `[-h, h]` turns, as torchvision;
    - the four colour adjustments always run in that order (torchvision
      draws a random order).

    Args:
        image_size: output size, `int` or `(height, width)`.
        scale: bounds of the crop area as a fraction of the image area.
            Defaults to `(0.2, 1.0)`.
        jitter: `(brightness, contrast, saturation, hue)` strengths.
            Defaults to `(0.4, 0.4, 0.4, 0.1)`.
        jitter_p: probability that an image is colour-jittered. Defaults to
            0.8.
        grayscale_p: probability that an image is turned gray. Defaults to
            0.2.
        value_range: `(low, high)` pixel range of the images. Defaults to
            `(0, 1)`.
        seed: integer seed, or `None`. Each layer is seeded with `seed + i`.

    Returns:
        A function mapping TensorFlow images `(B, H, W, C)` (or one image
        `(H, W, C)`) to float32 views `(B, height, width, C)`; its `layers`
        attribute lists the keras-cv layers.

    Raises:
        ImportError: keras-cv or TensorFlow is not installed.

    Example:

    ```python
    import tensorflow as tf
    from keras_sincere.augment import keras_cv_augmenter

    augment = keras_cv_augmenter(32, seed=0)
    def two_views(images, labels):
        return tf.stack([augment(images), augment(images)], axis=1), labels

    dataset = dataset.batch(256).map(two_views, num_parallel_calls=tf.data.AUTOTUNE)
    ```
    """
    try:
        import keras_cv
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(CV_EXTRA_HINT) from error

    recipe = check_recipe(
        image_size, scale, jitter, jitter_p, grayscale_p, value_range, seed
    )
    layers = [
        keras_cv.layers.RandomCropAndResize(
            target_size=(recipe.height, recipe.width),
            crop_area_factor=recipe.scale,
            aspect_ratio_factor=(3.0 / 4.0, 4.0 / 3.0),
            seed=recipe.layer_seed(0),
        ),
        keras_cv.layers.RandomFlip("horizontal", seed=recipe.layer_seed(1)),
        keras_cv.layers.RandomApply(
            _keras_cv_color_jitter(keras_cv, recipe),
            rate=recipe.jitter_p,
            seed=recipe.layer_seed(3),
        ),
        keras_cv.layers.RandomApply(
            keras_cv.layers.Grayscale(output_channels=3),
            rate=recipe.grayscale_p,
            seed=recipe.layer_seed(4),
        ),
    ]

    def augment(images):
        images = tf.cast(images, "float32")
        for layer in layers:
            images = layer(images, training=True)
        return images

    augment.layers = layers
    return augment


def _keras_cv_color_jitter(keras_cv, recipe: SimCLRRecipe):
    """keras-cv's `RandomColorJitter` with the recipe's strengths mapped onto it."""
    brightness, contrast, saturation, hue = recipe.jitter
    # keras-cv scales the HSV saturation by f / (1 - f): draw f = m / (1 + m)
    # so that the multiplier m spans torchvision's range.
    low_multiplier = max(0.0, 1.0 - saturation)
    high_multiplier = 1.0 + saturation
    return keras_cv.layers.RandomColorJitter(
        value_range=recipe.value_range,
        brightness_factor=(-brightness, brightness),
        contrast_factor=(min(contrast, 1.0), contrast),
        saturation_factor=(
            low_multiplier / (1.0 + low_multiplier),
            high_multiplier / (1.0 + high_multiplier),
        ),
        # keras-cv shifts the hue by +-factor / 2 turns.
        hue_factor=(0.0, 2.0 * hue),
        seed=recipe.layer_seed(2),
    )
