"""The projection head that maps encoder features to contrastive embeddings."""

import keras

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_integer
from keras_sincere.ops import l2_normalize


@keras.saving.register_keras_serializable(package="keras_sincere")
class ProjectionHead(keras.layers.Layer):
    """`Dense(hidden_dim) -> ReLU -> Dense(output_dim) -> L2 normalisation`.

    The SupCon / SINCERE head (paper appendix J): 2048 -> 2048 -> 128. The
    output `z / ||z||` lies on the unit sphere, so dot products are cosine
    similarities. This is the one place where the model side normalises
    embeddings: `ContrastiveModel` passes the head's output on as it is (the
    losses normalise their inputs again, so any head can be trained).
    Works on any leading shape, e.g. `(B, F)` or `(B, V, F)`.

    With `batch_norm=True` the hidden layer is `Dense -> BatchNorm -> ReLU`
    (the SimCLR v2 head). Encoder features are non-negative (ReLU, then
    average pooling), so a freshly initialised plain head maps every image
    to nearly the same direction (mean pairwise cosine 0.9 to 0.99 measured
    on small images); centring the hidden layer spreads the embeddings from
    the first step. `docs/reproducing.md` shows what it changes.

    Args:
        hidden_dim: width of the hidden layer. Defaults to 2048.
        output_dim: embedding size. Defaults to 128.
        batch_norm: batch-normalise the hidden layer. Defaults to `False`
            (the paper's head).
        **kwargs: `keras.layers.Layer` arguments (`name`, `dtype`, ...).

    Example:

    >>> head = keras_sincere.models.ProjectionHead(hidden_dim=16, output_dim=4)
    >>> tuple(head(np.ones((2, 8), "float32")).shape)
    (2, 4)
    """

    def __init__(
        self,
        hidden_dim: int = 2048,
        output_dim: int = 128,
        batch_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hidden_dim = check_integer(hidden_dim, "hidden_dim")
        self.output_dim = check_integer(output_dim, "output_dim")
        self.batch_norm = check_bool(batch_norm, "batch_norm")
        self.hidden = keras.layers.Dense(
            self.hidden_dim,
            activation=None if self.batch_norm else "relu",
            use_bias=not self.batch_norm,
            dtype=self.dtype_policy,
            name="hidden",
        )
        self.hidden_norm = (
            keras.layers.BatchNormalization(
                momentum=0.9, epsilon=1e-5, dtype=self.dtype_policy, name="hidden_bn"
            )
            if self.batch_norm
            else None
        )
        self.projection = keras.layers.Dense(
            self.output_dim, dtype=self.dtype_policy, name="projection"
        )

    def build(self, input_shape):
        self.hidden.build(input_shape)
        hidden_shape = tuple(input_shape[:-1]) + (self.hidden_dim,)
        if self.hidden_norm is not None:
            self.hidden_norm.build(hidden_shape)
        self.projection.build(hidden_shape)

    def call(self, features, training=None):
        hidden = self.hidden(features)
        if self.hidden_norm is not None:
            hidden = keras.ops.relu(self.hidden_norm(hidden, training=training))
        return l2_normalize(self.projection(hidden))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "output_dim": self.output_dim,
                "batch_norm": self.batch_norm,
            }
        )
        return config
