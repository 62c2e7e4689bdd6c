"""The projection head that maps encoder features to contrastive embeddings."""

import keras

from keras_sincere.losses._kernel import l2_normalize


@keras.saving.register_keras_serializable(package="keras_sincere")
class ProjectionHead(keras.layers.Layer):
    """`Dense(hidden_dim) -> ReLU -> Dense(output_dim) -> L2 normalisation`.

    The SupCon / SINCERE head (paper appendix J): 2048 -> 2048 -> 128. The
    output lies on the unit sphere, so dot products are cosine similarities.
    Works on any leading shape, e.g. `(B, F)` or `(B, V, F)`.

    Args:
        hidden_dim: width of the hidden layer. Defaults to 2048.
        output_dim: embedding size. Defaults to 128.
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> head = keras_sincere.models.ProjectionHead(hidden_dim=16, output_dim=4)
    >>> head(np.ones((2, 8), "float32")).shape
    (2, 4)
    """

    def __init__(self, hidden_dim: int = 2048, output_dim: int = 128, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.output_dim = int(output_dim)
        self.hidden = keras.layers.Dense(
            self.hidden_dim, activation="relu", dtype=self.dtype_policy, name="hidden"
        )
        self.projection = keras.layers.Dense(
            self.output_dim, dtype=self.dtype_policy, name="projection"
        )

    def build(self, input_shape):
        self.hidden.build(input_shape)
        self.projection.build(tuple(input_shape[:-1]) + (self.hidden_dim,))

    def call(self, features):
        return l2_normalize(self.projection(self.hidden(features)))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update({"hidden_dim": self.hidden_dim, "output_dim": self.output_dim})
        return config
