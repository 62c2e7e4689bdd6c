"""Apply a layer to each image of a batch with some probability."""

import keras
from keras import ops

from keras_sincere._validation import check_probability


@keras.saving.register_keras_serializable(package="keras_sincere")
class RandomApply(keras.layers.Layer):
    """Applies `layer` to each sample of a batch with probability `rate`.

    The counterpart of torchvision's `RandomApply`, vectorised: `layer` runs
    on the whole batch, then every sample independently keeps the result
    with probability `rate` or its input otherwise (`keras.ops.where` over
    the batch). The wrapped layer therefore costs the same whatever `rate`
    is, and must return the shape and dtype it receives (colour jitter,
    blur, solarisation...). At inference (`training=False`) the inputs pass
    through unchanged.

    Written with `keras.ops` and `keras.random` only: it runs inside a jitted
    `fit` on TensorFlow, JAX and PyTorch when `layer` does.

    Args:
        layer: the `keras.layers.Layer` to apply, called with
            `training=True`; or its config from `keras.layers.serialize`.
        rate: probability in `[0, 1]` that a sample is transformed.
            Defaults to 0.5.
        seed: integer seed of the per-sample choices, or `None`. The wrapped
            layer draws its own random numbers from its own seed.
        **kwargs: base layer arguments (`name`, `dtype`).

    Inputs: a batch `(B, ...)` or, for image layers, one image `(H, W, C)`.
    Outputs: the same shape.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from keras_sincere.augment import RandomApply
    >>> jitter = keras.layers.RandomContrast(0.4, value_range=(0, 1), seed=1)
    >>> apply = RandomApply(jitter, rate=0.8, seed=2)
    >>> images = np.random.default_rng(0).uniform(size=(4, 8, 8, 3))
    >>> tuple(apply(images, training=True).shape)
    (4, 8, 8, 3)
    """

    def __init__(
        self,
        layer: keras.layers.Layer | dict,
        rate: float = 0.5,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(layer, dict):
            layer = keras.layers.deserialize(layer)
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "`layer` must be a `keras.layers.Layer`. "
                f"Received: layer={layer!r} of type {type(layer)}"
            )
        self.layer = layer
        self.rate = check_probability(rate, "rate")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        if not self.layer.built:
            self.layer.build(input_shape)
        self.built = True

    def call(self, inputs, training=True):
        inputs = ops.convert_to_tensor(inputs)
        if not training or self.rate == 0.0:
            return inputs
        outputs = self.layer(inputs, training=True)
        inputs = ops.cast(inputs, outputs.dtype)
        if self.rate == 1.0:
            return outputs
        # One draw per sample; an unbatched image (H, W, C) is one sample.
        rank = len(inputs.shape)
        if rank == 3:
            draw_shape = (1, 1, 1)
        else:
            draw_shape = (ops.shape(inputs)[0],) + (1,) * (rank - 1)
        apply = keras.random.uniform(draw_shape, seed=self.seed_generator) < self.rate
        return ops.where(apply, outputs, inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "layer": keras.layers.serialize(self.layer),
                "rate": self.rate,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = keras.layers.deserialize(config["layer"])
        return cls(**config)
