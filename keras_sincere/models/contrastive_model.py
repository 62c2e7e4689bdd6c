"""The model that turns images into several embedded views for a contrastive loss."""

import numbers

import keras
from keras import ops

from keras_sincere.losses._kernel import l2_normalize


@keras.saving.register_keras_serializable(package="keras_sincere")
class ContrastiveModel(keras.Model):
    """Encoder + projection head, producing `(B, V, D)` embeddings for the loss.

    `call` accepts either
    - images `(B, H, W, C)`: in training, `augmenter` draws `views`
      independent augmentations of each image inside the model (in-graph, so
      it runs under `fit`'s jit on every backend) and the output is
      `(B, views, D)`; outside training (or without an augmenter) the
      images are embedded as they are and the output is `(B, 1, D)`;
    - ready views `(B, V, H, W, C)` (e.g. from a `tf.data` pipeline with a
      keras-cv augmenter), embedded as they are, giving `(B, V, D)`.

    Images are floats in [0, 1]; integer images (uint8 0-255) are scaled to
    [0, 1] first, in training and at inference alike.

    The loss goes through the ordinary `compile(loss=...)` / `fit`: the
    output shape is what every `keras_sincere.losses` loss expects, with
    integer class labels as `y`.

    Args:
        encoder: a model from images `(B, H, W, C)` to features `(B, F)`,
            e.g. `keras_sincere.models.resnet50()`.
        head: a layer from features to embeddings, e.g. `ProjectionHead()`.
            Its output is L2-normalised by this model.
        augmenter: optional layer applied to images in training, e.g.
            `keras_sincere.augment.simclr_augmenter(32)`.
        views: number of augmented views per image when `augmenter` is used.
        **kwargs: `keras.Model` arguments (`name`, ...).

    Example:

    ```python
    model = ContrastiveModel(
        encoder=keras_sincere.models.resnet50((32, 32, 3), stem="cifar"),
        head=keras_sincere.models.ProjectionHead(2048, 128),
        augmenter=keras_sincere.augment.simclr_augmenter(32),
    )
    model.compile(optimizer="sgd", loss=keras_sincere.losses.SincereLoss(0.1))
    model.fit(x_train, y_train, batch_size=512, epochs=10)
    features = model.encode(x_test)       # (N, 2048) for kNN / linear probes
    ```
    """

    def __init__(self, encoder, head, augmenter=None, views: int = 2, **kwargs):
        super().__init__(**kwargs)
        if (
            isinstance(views, bool)
            or not isinstance(views, numbers.Integral)
            or views < 1
        ):
            raise ValueError(
                f"`views` must be an integer >= 1. Received: views={views!r} "
                f"of type {type(views).__name__}"
            )
        self.encoder = encoder
        self.head = head
        self.augmenter = augmenter
        self.views = int(views)
        # Built at once when the encoder knows its input shape, so weights can
        # be restored before the first batch (BackupAndRestore, load_weights).
        image_shape = _known_image_shape(encoder)
        if image_shape is not None:
            self.build((None,) + image_shape)

    def build(self, input_shape):
        _check_input_rank(input_shape)
        image_shape = tuple(input_shape[-3:])
        if not self.encoder.built:
            self.encoder.build((None,) + image_shape)
        feature_shape = self.encoder.compute_output_shape((None,) + image_shape)
        if not self.head.built:
            self.head.build(feature_shape)
        if self.augmenter is not None and not self.augmenter.built:
            self.augmenter.build((None,) + image_shape)
        self.built = True

    def call(self, inputs, training=False):
        _check_input_rank(inputs.shape)
        inputs = _images_in_unit_range(inputs)
        if len(inputs.shape) == 5:
            views = inputs
        elif training and self.augmenter is not None:
            views = ops.stack(
                [self.augmenter(inputs, training=True) for _ in range(self.views)],
                axis=1,
            )
        else:
            views = ops.expand_dims(inputs, 1)
        num_views = views.shape[1]
        flat = ops.reshape(views, (-1,) + tuple(views.shape[2:]))
        embeddings = self._project(self.encoder(flat, training=training), training)
        return ops.reshape(embeddings, (-1, num_views, embeddings.shape[-1]))

    def _project(self, features, training=False):
        return l2_normalize(self.head(features, training=training))

    def encode(self, images, batch_size: int | None = None):
        """Encoder features `(N, F)` of un-augmented images, as numpy.

        The representation used for kNN and linear probes (paper section 4).

        Args:
            images: `(N, H, W, C)` images.
            batch_size: images per forward pass. `None` picks
                `inference_batch_size(images)`: 1024 up to 32x32 images, fewer
                for larger ones (Keras's default of 32 is several times
                slower on torch).
        """
        batch_size = batch_size or inference_batch_size(images)
        dtype = getattr(images, "dtype", None)
        if dtype is not None and "int" in keras.backend.standardize_dtype(dtype):
            images = ops.convert_to_numpy(images).astype("float32") / 255.0
        return self.encoder.predict(images, batch_size=batch_size, verbose=0)

    def embed(self, images, batch_size: int | None = None):
        """L2-normalised projections `(N, D)` of un-augmented images, as numpy.

        `batch_size` as in `encode`.
        """
        batch_size = batch_size or inference_batch_size(images)
        return self.predict(images, batch_size=batch_size, verbose=0)[:, 0, :]

    def _augmenter_seed_states(self):
        """The random-number states of the augmenter's layers.

        Keras leaves them out of `weights` and of saved files; this model
        saves and restores them so that training resumed from a checkpoint
        (`BackupAndRestore`) draws the same augmentations as an
        uninterrupted run.
        """
        if self.augmenter is None:
            return []
        weights = {id(weight) for weight in self.augmenter.weights}
        return [v for v in self.augmenter.variables if id(v) not in weights]

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for index, state in enumerate(self._augmenter_seed_states()):
            store[f"augmenter_seed_state_{index}"] = keras.ops.convert_to_numpy(
                state.value
            )

    def load_own_variables(self, store):
        seed_keys = {key for key in store.keys() if key.startswith("augmenter_seed")}
        for index, state in enumerate(self._augmenter_seed_states()):
            key = f"augmenter_seed_state_{index}"
            if key in seed_keys:
                state.assign(store[key])
        own = {key: store[key] for key in store.keys() if key not in seed_keys}
        super().load_own_variables(own)

    def compute_output_shape(self, input_shape):
        feature_shape = self.encoder.compute_output_shape(
            (None,) + tuple(input_shape[-3:])
        )
        dim = self.head.compute_output_shape(feature_shape)[-1]
        views = input_shape[1] if len(input_shape) == 5 else 1
        return (input_shape[0], views, dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "head": keras.saving.serialize_keras_object(self.head),
                "augmenter": keras.saving.serialize_keras_object(self.augmenter),
                "views": self.views,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("encoder", "head", "augmenter"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)


def _images_in_unit_range(images):
    """Integer images (uint8 0-255, as loaded from files) scaled to [0, 1].

    The augmenters and encoders expect floats in [0, 1]; fed 0-255, the
    colour jitter clips most views to blank.
    """
    if "int" in keras.backend.standardize_dtype(images.dtype):
        return ops.cast(images, "float32") / 255.0
    return images


def inference_batch_size(images) -> int:
    """A forward-pass batch for inference: 1024 images of 32x32, the same pixels
    per batch for larger images (at least 32 images)."""
    shape = getattr(images, "shape", None)
    if shape is None or len(shape) < 4 or not shape[1] or not shape[2]:
        return 1024
    return int(max(32, min(1024, 1024 * 32 * 32 // (int(shape[1]) * int(shape[2])))))


def _check_input_rank(shape):
    if len(shape) not in (4, 5):
        raise ValueError(
            "ContrastiveModel expects images (B, H, W, C) or views "
            f"(B, V, H, W, C). Received input of shape {tuple(shape)}"
        )


def _known_image_shape(encoder):
    try:
        shape = tuple(encoder.input_shape)
    except (AttributeError, ValueError):
        return None
    return shape[1:] if len(shape) == 4 else None
