"""Argument checks shared by the two SimCLR augmenters."""

from keras_sincere.augment._arguments import check_probability
from keras_sincere.augment._arguments import check_value_range


def check_recipe_arguments(image_size, jitter, jitter_p, grayscale_p, value_range):
    """Validates the SimCLR recipe arguments of both augmenters.

    Returns:
        `((height, width), (brightness, contrast, saturation, hue), jitter_p,
        grayscale_p, value_range)`, or raises `ValueError` naming the argument.
    """
    if isinstance(image_size, int):
        size = (image_size, image_size)
    else:
        try:
            size = tuple(int(side) for side in image_size)
        except (TypeError, ValueError):
            size = ()
    if len(size) != 2:
        raise ValueError(
            "`image_size` must be an int or a pair (height, width). "
            f"Received: image_size={image_size!r}"
        )
    try:
        strengths = tuple(float(value) for value in jitter)
    except (TypeError, ValueError):
        strengths = ()
    if len(strengths) != 4:
        raise ValueError(
            "`jitter` must be four strengths (brightness, contrast, saturation, "
            f"hue). Received: jitter={jitter!r}"
        )
    return (
        size,
        strengths,
        check_probability(jitter_p, "jitter_p"),
        check_probability(grayscale_p, "grayscale_p"),
        check_value_range(value_range),
    )
