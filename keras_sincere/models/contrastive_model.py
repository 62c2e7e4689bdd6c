"""The model that turns images into several embedded views for a contrastive loss."""

import keras
from keras import ops

from keras_sincere._validation import check_integer
from keras_sincere._validation import label_set_classes
from keras_sincere.losses import SoftmaxContrastiveLoss
from keras_sincere.models.embedding_queue import EmbeddingQueue
from keras_sincere.ops import integers_to_value_range


@keras.saving.register_keras_serializable(package="keras_sincere")
class ContrastiveModel(keras.Model):
    """Encoder + projection head, producing `(B, V, D)` embeddings for the loss.

    `call` accepts either
    - images `(B, H, W, C)`: in training, `augmenter` draws `views`
      independent augmentations of each image inside the model (in-graph, so
      it runs under `fit`'s jit on every backend) and the output is
      `(B, views, D)`; outside training (or without an augmenter) the
      images are embedded as they are and the output is `(B, 1, D)`;
      except that images whose size differs from the augmenter's output
      size go through the augmenter in inference mode (the largest centre
      crop, resized), so a model trained with `simclr_augmenter(16)` on
      32x32 images embeds 32x32 images as it trained;
    - ready views `(B, V, H, W, C)` (e.g. from a `tf.data` pipeline with a
      keras-cv augmenter), embedded as they are, giving `(B, V, D)`.

    Images are floats in [0, 1] (or in the augmenter's `value_range`);
    integer images (uint8 0-255) are mapped to that range first, in training
    and at inference alike. `fit`, `encode` and `embed` refuse float arrays
    outside the augmenter's `value_range` (0-255 floats would be clipped to
    blank views).

    The loss goes through the ordinary `compile(loss=...)` / `fit`: the
    output shape is what every `keras_sincere.losses` loss expects, with
    integer class labels `(B,)` as `y`, or multi-hot label sets `(B, C)`
    (the losses' multi-label positives and negatives).

    Args:
        encoder: a model from images `(B, H, W, C)` to features `(B, F)`,
            e.g. `keras_sincere.models.resnet50()`.
        head: a layer from features to embeddings, e.g. `ProjectionHead()`,
            which L2-normalises them. Its output is this model's output, as
            it is: the model does not normalise again (the losses do, for
            any head; `embed` gives unit vectors when the head does).
        augmenter: optional layer applied to images in training, e.g.
            `keras_sincere.augment.simclr_augmenter(32)`.
        views: number of augmented views per image when `augmenter` is used.
        memory_size: `M >= 0` slots of a cross-batch memory (XBM): the
            last `M` L2-normalised embeddings of training and their labels,
            an `EmbeddingQueue` updated in each train step (after the loss,
            so a batch is never its own memory) and passed to the loss as
            `memory_embeddings`, `memory_labels`, `memory_mask`: every
            anchor then meets `N + M` keys instead of `N` (`N = B * V`).
            The loss must be a `keras_sincere.losses` loss. Evaluation
            (`evaluate`, validation data) uses no memory. Under a
            data-parallel strategy the global batch is enqueued. 0 (the
            default): no memory.
        memory_warmup_steps: train steps before the loss uses the memory
            (it is filled from the first step). Defaults to 0.
        memory_label_classes: with a memory and multi-hot `y` `(B, C)`,
            the number of classes `C`: the memory then holds label sets.
            `None` (default): integer labels.
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

    def __init__(
        self,
        encoder,
        head,
        augmenter=None,
        views: int = 2,
        memory_size: int = 0,
        memory_warmup_steps: int = 0,
        memory_label_classes: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.views = check_integer(views, "views")
        self.memory_size = check_integer(memory_size, "memory_size", minimum=0)
        self.memory_warmup_steps = check_integer(
            memory_warmup_steps, "memory_warmup_steps", minimum=0
        )
        self.encoder = encoder
        self.head = head
        self.augmenter = augmenter
        self.memory_label_classes = check_integer(
            memory_label_classes, "memory_label_classes", minimum=2, allow_none=True
        )
        self.memory = None
        if self.memory_size:
            self.memory = EmbeddingQueue(
                self.memory_size,
                self.memory_warmup_steps,
                label_classes=self.memory_label_classes,
                name="memory",
            )
        # Built at once when the encoder knows its input shape, so weights can
        # be restored before the first batch (BackupAndRestore, load_weights).
        image_shape = _known_image_shape(encoder)
        if image_shape is not None:
            self.build((None,) + image_shape)

    def build(self, input_shape):
        _check_input_rank(input_shape)
        image_shape = tuple(input_shape[-3:])
        if self.augmenter is not None and not self.augmenter.built:
            self.augmenter.build((None,) + image_shape)
        encoder_shape = self._encoder_image_shape(image_shape)
        if not self.encoder.built:
            self.encoder.build((None,) + encoder_shape)
        feature_shape = self.encoder.compute_output_shape((None,) + encoder_shape)
        if not self.head.built:
            self.head.build(feature_shape)
        if self.memory is not None and not self.memory.built:
            self.memory.build(self.head.compute_output_shape(feature_shape))
        self.built = True

    def _encoder_image_shape(self, image_shape):
        """The image shape the encoder sees for inputs of `image_shape`."""
        if self.augmenter is None:
            return tuple(image_shape)
        return tuple(
            self.augmenter.compute_output_shape((None,) + tuple(image_shape))[1:]
        )

    def _resizes_at_inference(self, image_shape) -> bool:
        """Whether images of `image_shape` go through the augmenter at inference.

        They do when the augmenter changes their size, so the encoder sees at
        inference the size it was trained on.
        """
        return self._encoder_image_shape(image_shape)[:2] != tuple(image_shape)[:2]

    def call(self, inputs, training=False):
        _check_input_rank(inputs.shape)
        inputs = self._in_value_range(inputs)
        if len(inputs.shape) == 5:
            views = inputs
        elif training and self.augmenter is not None:
            views = ops.stack(
                [self.augmenter(inputs, training=True) for _ in range(self.views)],
                axis=1,
            )
        elif self._resizes_at_inference(inputs.shape[1:]):
            views = ops.expand_dims(self.augmenter(inputs, training=False), 1)
        else:
            views = ops.expand_dims(inputs, 1)
        self._check_encoder_input(views.shape[2:])
        # Dynamic sizes: TensorFlow retraces `predict` for a second image size
        # with unknown height and width.
        shape = ops.shape(views)
        flat = ops.reshape(views, (-1,) + tuple(shape[2:]))
        features = self.encoder(flat, training=training)
        embeddings = self.head(features, training=training)
        return ops.reshape(embeddings, (-1, shape[1], embeddings.shape[-1]))

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        """Keras's loss; in training with a memory, the loss sees the memory.

        The memory holds the embeddings of earlier steps; this step's are
        enqueued after its loss.
        """
        if self.memory is None or not training:
            return super().compute_loss(x, y, y_pred, sample_weight, training)
        loss = self._memory_loss()
        total = loss(y, y_pred, sample_weight, **self.memory.memory())
        for extra in self.losses:  # regularisers, as Keras adds them
            total = total + ops.sum(ops.cast(extra, total.dtype))
        self._enqueue(y_pred, y)
        return total

    def _memory_loss(self):
        """The compiled loss, which must take the memory arguments."""
        loss = self.loss
        if not isinstance(loss, SoftmaxContrastiveLoss):
            raise ValueError(
                "`memory_size` needs a keras_sincere loss (SincereLoss, "
                "SupConLoss, EpsilonSupInfoNCELoss, InfoNCELoss) as the only "
                f"loss of `compile`. Received: loss={loss!r}"
            )
        return loss

    def _enqueue(self, embeddings, labels):
        """This step's embeddings `(B, V, D)`, sample-major, and their labels."""
        flat = ops.reshape(embeddings, (-1, embeddings.shape[-1]))
        if labels is not None:
            if self.memory_label_classes is None:
                labels = ops.reshape(labels, (-1,))
            labels = ops.repeat(labels, embeddings.shape[1], axis=0)
        self.memory.enqueue(flat, labels)

    def reset_memory(self) -> None:
        """Empties the cross-batch memory and restarts its warm-up."""
        if self.memory is None:
            raise ValueError("This model has no memory. Received: memory_size=0")
        self.memory.reset()

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`, after checking array inputs.

        Array images must lie in the augmenter's value range, and array
        labels must be of the memory's kind (integers or label sets).
        """
        self._check_value_range(x, "x")
        self._check_memory_labels(y)
        return super().fit(x, y, *args, **kwargs)

    def _check_memory_labels(self, y):
        """Raises if array labels do not fit the memory's kind of labels."""
        if self.memory is None or not hasattr(y, "shape"):
            return
        shape = tuple(y.shape)
        classes = label_set_classes(shape)
        if classes != self.memory_label_classes:
            raise ValueError(
                "The memory holds "
                + (
                    "integer labels"
                    if self.memory_label_classes is None
                    else f"multi-hot labels of {self.memory_label_classes} classes"
                )
                + f" but `y` has shape {shape}: pass memory_label_classes="
                f"{classes} to ContrastiveModel for these labels. Received: "
                f"memory_label_classes={self.memory_label_classes}"
            )

    def _value_range(self):
        """The augmenter's `value_range` as a tuple, or `None` if it has none."""
        value_range = getattr(self.augmenter, "value_range", None)
        return None if value_range is None else tuple(value_range)

    def _in_value_range(self, images):
        """Integer images (uint8 0-255) mapped to floats in the value range
        (the augmenter's, else [0, 1]); float images as they are."""
        return integers_to_value_range(images, self._value_range() or (0.0, 1.0))

    def _check_value_range(self, images, argument):
        """Float arrays outside the augmenter's `value_range` (0-255 floats,
        most often) would be clipped to blank views: refuse them."""
        value_range = self._value_range()
        dtype = getattr(images, "dtype", None)
        if (
            value_range is None
            or dtype is None
            or len(getattr(images, "shape", ())) < 4
        ):
            return
        if "float" not in keras.backend.standardize_dtype(dtype):
            return
        sample = ops.convert_to_numpy(images[:1024])
        low, high = value_range
        slack = 1e-3 * (high - low)
        if sample.size and (sample.min() < low - slack or sample.max() > high + slack):
            raise ValueError(
                f"`{argument}` holds float images from {sample.min():.4g} to "
                f"{sample.max():.4g}, outside the augmenter's value_range "
                f"{value_range}. Pass uint8 images (scaled by the model) "
                "or floats within the range (e.g. divide 0-255 floats by 255)."
            )

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
        self._check_value_range(images, "images")
        scaled = self._in_value_range(images)
        if scaled is not images:  # integer images, now a float tensor
            # Predicted from numpy, so that the device holds one batch at a time.
            images = ops.convert_to_numpy(scaled)
        _check_input_rank((None,) + tuple(images.shape[1:]))
        if len(images.shape) == 4 and self._resizes_at_inference(images.shape[1:]):
            images = self.augmenter.predict(images, batch_size=batch_size, verbose=0)
        self._check_encoder_input(images.shape[1:])
        return self.encoder.predict(images, batch_size=batch_size, verbose=0)

    def _check_image_shape(self, images):
        """Refuses arrays of images the encoder cannot take, before `predict`.

        `call` checks too, but a traced function that TensorFlow reuses for
        a second image size no longer knows the size.
        """
        shape = getattr(images, "shape", None)
        if shape is None or len(shape) not in (4, 5):
            return
        image_shape = tuple(shape[-3:])
        if len(shape) == 4:
            image_shape = self._encoder_image_shape(image_shape)
        self._check_encoder_input(image_shape)

    def _check_encoder_input(self, image_shape):
        expected = _known_image_shape(self.encoder)
        if expected is None:
            return
        pairs = zip(expected, tuple(image_shape)[-3:], strict=True)
        if any(None not in pair and pair[0] != pair[1] for pair in pairs):
            raise ValueError(
                f"The encoder takes images of shape {tuple(expected)}; received "
                f"images of shape {tuple(image_shape)[-3:]}, and no augmenter "
                "resizes them to it. Resize the images (e.g. "
                "`keras_sincere.data.resize_images`), or pass the size the model "
                "was trained at (keras-sincere evaluate --image-size)."
            )

    def embed(self, images, batch_size: int | None = None):
        """Projections `(N, D)` of un-augmented images, as numpy.

        The head's outputs: unit vectors with `ProjectionHead`.

        `batch_size` as in `encode`.
        """
        self._check_value_range(images, "images")
        self._check_image_shape(images)
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
        image_shape = tuple(input_shape[-3:])
        if len(input_shape) == 4:
            image_shape = self._encoder_image_shape(image_shape)
        feature_shape = self.encoder.compute_output_shape((None,) + image_shape)
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
                "memory_size": self.memory_size,
                "memory_warmup_steps": self.memory_warmup_steps,
                "memory_label_classes": self.memory_label_classes,
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
