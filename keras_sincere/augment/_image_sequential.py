"""A `keras.Sequential` of image layers that takes integer images too."""

import keras

from keras_sincere._validation import check_value_range
from keras_sincere.ops import integers_to_value_range


@keras.saving.register_keras_serializable(package="keras_sincere")
class ImageSequential(keras.Sequential):
    """`keras.Sequential` that maps integer images (0-255) to `value_range`.

    A plain `Sequential` casts uint8 images to float32 0-255, and layers that
    clip to the value range (colour jitter) then turn most views blank.
    Here integer images become `low + x / 255 * (high - low)` first: uint8
    images work as they are loaded, in every augmenter of this package, the
    same way `ContrastiveModel` scales them. Float images are taken as
    already within `value_range`.

    Args:
        layers: the layers, as for `keras.Sequential`.
        value_range: `(low, high)` of the float images the layers expect.
        name: model name.

    Example:

    >>> import numpy as np
    >>> model = ImageSequential([keras.Input((None, None, 3)), keras.layers.Identity()])
    >>> float(keras.ops.max(model(np.full((1, 2, 2, 3), 255, "uint8"))))
    1.0
    """

    def __init__(self, layers=None, value_range=(0.0, 1.0), trainable=True, name=None):
        super().__init__(layers=layers, trainable=trainable, name=name)
        self.value_range = check_value_range(value_range)

    def call(self, inputs, training=None, mask=None, **kwargs):
        inputs = integers_to_value_range(inputs, self.value_range)
        return super().call(inputs, training=training, mask=mask, **kwargs)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        value_range = config.pop("value_range", (0.0, 1.0))
        model = super().from_config(config, custom_objects=custom_objects)
        model.value_range = check_value_range(value_range)
        return model
