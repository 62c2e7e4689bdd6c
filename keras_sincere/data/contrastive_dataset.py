"""A tf.data pipeline of multi-view batches for contrastive training."""

import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere._validation import class_labels
from keras_sincere.data.class_balanced_sampler import ClassBalancedSampler


def _import_tensorflow():
    try:
        import tensorflow as tf
    except ImportError as error:
        raise ImportError(
            "contrastive_dataset builds a tf.data pipeline and needs TensorFlow "
            "installed (with any KERAS_BACKEND): pip install tensorflow-cpu"
        ) from error
    return tf


def contrastive_dataset(
    images,
    labels,
    batch_size: int,
    views: int = 2,
    augmenter=None,
    samples_per_class: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    drop_remainder: bool = True,
    repeat: bool = False,
):
    """A `tf.data.Dataset` of `(views, labels)` batches for `model.fit`.

    Each element is `views` float32 `(B, V, H, W, C)` and `labels` int64
    `(B,)`, where `views[b, v] = augmenter(images)[b]` for an independent
    call of `augmenter` per view `v` (so the V views of an image are V
    random augmentations of it), or the image itself V times when
    `augmenter` is None. A contrastive loss such as
    `keras_sincere.losses.SincereLoss` then sees `B * V` embeddings, the
    views of a sample being positives of each other.

    Batches come from a shuffle of the whole set (`shuffle=True`), or, with
    `samples_per_class=m`, from a `ClassBalancedSampler`: `batch_size // m`
    classes with `m` samples each, so every anchor has positives of its
    class besides its own views. The pipeline prefetches, and `model.fit`
    takes it on every Keras backend (tf.data is only the input pipeline).

    Args:
        images: float32 NHWC images `(N, H, W, C)` in `[0, 1]`.
        labels: integer labels `(N,)` or `(N, 1)` (floats holding whole
            numbers are accepted).
        batch_size: samples per batch (each with its V views).
        views: number of views `V >= 1` of each image. Defaults to 2.
        augmenter: a callable on a batch of images `(B, H, W, C)` inside
            tf.data (a Keras preprocessing layer or pipeline, or the keras-cv
            augmenter of `keras_sincere.augment`), returning a batch of the
            same shape. `None` repeats the image.
        samples_per_class: `m` for class-balanced batches, or `None` to
            shuffle. `batch_size` must be a multiple of `m`; batches are
            always full and `shuffle`/`drop_remainder` do not apply.
        shuffle: shuffle the samples, reshuffled every epoch.
        seed: seed of the shuffle or sampler (the augmenter has its own).
        drop_remainder: drop the last, smaller batch of an epoch (keeps the
            batch size, hence the number of negatives, fixed).
        repeat: repeat forever (then pass `steps_per_epoch` to `fit`).

    Returns:
        A `tf.data.Dataset`.

    Example:

    >>> (x, y), _ = keras_sincere.data.load_dataset("digits", image_size=8)
    >>> flip = keras.layers.RandomFlip("horizontal")
    >>> dataset = contrastive_dataset(x, y, batch_size=64, augmenter=flip)
    >>> views, labels = next(iter(dataset))
    >>> tuple(views.shape), tuple(labels.shape)
    ((64, 2, 8, 8, 3), (64,))
    """
    tf = _import_tensorflow()
    images, labels = _check_arrays(images, labels)
    batch_size = check_integer(batch_size, "batch_size")
    views = check_integer(views, "views")
    if augmenter is not None and not callable(augmenter):
        raise ValueError(
            f"`augmenter` must be callable or None. Received: augmenter={augmenter!r}"
        )
    if samples_per_class is not None:
        dataset = _balanced_batches(
            tf, images, labels, batch_size, samples_per_class, seed
        )
    else:
        dataset = tf.data.Dataset.from_tensor_slices((images, labels))
        if shuffle:
            dataset = dataset.shuffle(
                len(images), seed=seed, reshuffle_each_iteration=True
            )
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.map(
        _view_maker(tf, augmenter, views),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def _view_maker(tf, augmenter, views):
    """The map from a batch `(B, H, W, C)` to its views `(B, V, H, W, C)`."""

    def make_views(batch, batch_labels):
        if augmenter is None:
            stacked = tf.repeat(batch[:, None], views, axis=1)
        else:
            stacked = tf.stack(
                [tf.cast(augmenter(batch), tf.float32) for _ in range(views)],
                axis=1,
            )
        return stacked, batch_labels

    return make_views


def _check_arrays(images, labels):
    """Images as float32 `(N, H, W, C)` and their labels as int64 `(N,)`."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(
            "`images` must have shape (N, H, W, C) (NHWC). Received: "
            f"images.shape={images.shape}"
        )
    labels = class_labels(labels, "labels")
    if len(labels) != len(images):
        raise ValueError(
            "`labels` must have shape (N,) with N = len(images). Received: "
            f"labels.shape={labels.shape}, images.shape={images.shape}"
        )
    return images.astype("float32", copy=False), labels.astype("int64", copy=False)


def _balanced_batches(tf, images, labels, batch_size, samples_per_class, seed):
    """A dataset of the batches of a `ClassBalancedSampler`, with its length."""
    sampler = ClassBalancedSampler(labels, batch_size, samples_per_class, seed=seed)

    def batches():
        for indices in sampler:
            yield images[indices], labels[indices]

    dataset = tf.data.Dataset.from_generator(
        batches,
        output_signature=(
            tf.TensorSpec((batch_size,) + images.shape[1:], tf.float32),
            tf.TensorSpec((batch_size,), tf.int64),
        ),
    )
    # A generator's length is unknown to tf.data; `fit` needs it for its
    # progress bar and to end the epoch without a warning.
    return dataset.apply(tf.data.experimental.assert_cardinality(len(sampler)))
