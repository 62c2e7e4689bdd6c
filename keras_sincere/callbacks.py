"""Training callbacks: kNN accuracy and target-noise margin during `fit`."""

from collections.abc import Iterable

import keras
import numpy as np

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_integer
from keras_sincere._validation import class_labels
from keras_sincere.evaluation import knn_accuracy
from keras_sincere.evaluation import nearest_target_noise
from keras_sincere.evaluation import retrieval_metrics
from keras_sincere.evaluation import separation_margin


class KNNMonitor(keras.callbacks.Callback):
    """Adds weighted-kNN accuracy and the separation margin to the epoch logs.

    Every `every` epochs, embeds the un-augmented training and validation
    images with the model being trained and writes into the epoch's `logs`

    - `val_knn1`, `val_knn5` (one `val_knn{k}` per `k`): accuracy of
      `keras_sincere.evaluation.knn_classify` on the validation images,
      with the training images as neighbours;
    - `val_margin`: `separation_margin` of `nearest_target_noise`, i.e.
      median nearest-target minus median nearest-noise cosine similarity
      (the paper's Table 1);
    - with `retrieval=True`, `val_precision_at_1` and `val_map_at_r`:
      `keras_sincere.evaluation.retrieval_metrics` of the validation images
      retrieving the training images (P@1 and MAP@R).

    The values show in the progress bar and in the `History` returned by
    `fit` (only for the epochs where they were computed), and other
    callbacks listed after this one (`EarlyStopping`, `ModelCheckpoint`,
    `CSVLogger`) can monitor them. Images are embedded with
    `model.embed(images, batch_size)` when the model has one
    (`ContrastiveModel`: L2-normalised projections), else with
    `model.predict`, whose output is flattened to `(N, -1)`.

    Each evaluation costs one inference pass over both image sets and one
    similarity search; keep `train_images` to a subset for large datasets.

    Args:
        train_images: un-augmented images `(N_train, H, W, C)` (the kNN
            reference set).
        train_labels: integer labels `(N_train,)`.
        val_images: un-augmented images `(N_val, H, W, C)`.
        val_labels: integer labels `(N_val,)`.
        every: evaluate after epochs `every, 2 * every, ...` (1-based).
        batch_size: inference batch size, and queries per similarity block.
        k: neighbour counts to report. Defaults to `(1, 5)`.
        retrieval: also log P@1 and MAP@R. Defaults to `False` (MAP@R
            retrieves as many neighbours as the largest training class).

    Example:

    ```python
    monitor = keras_sincere.callbacks.KNNMonitor(
        x_train[:5000], y_train[:5000], x_test, y_test, every=10
    )
    history = model.fit(dataset, epochs=100, callbacks=[monitor])
    history.history["val_knn1"]  # one value per 10 epochs
    ```
    """

    def __init__(
        self,
        train_images,
        train_labels,
        val_images,
        val_labels,
        every: int = 1,
        batch_size: int = 256,
        k: int | Iterable[int] = (1, 5),
        retrieval: bool = False,
    ):
        super().__init__()
        self.every = check_integer(every, "every")
        self.retrieval = check_bool(retrieval, "retrieval")
        self.batch_size = check_integer(batch_size, "batch_size")
        ks = (k,) if np.ndim(k) == 0 else tuple(k)
        self.k = tuple(check_integer(value, "k") for value in ks)
        self.train_images = train_images
        self.val_images = val_images
        self.train_labels = class_labels(
            keras.ops.convert_to_numpy(train_labels), "train_labels", len(train_images)
        )
        self.val_labels = class_labels(
            keras.ops.convert_to_numpy(val_labels), "val_labels", len(val_images)
        )

    def _embed(self, images) -> np.ndarray:
        embed = getattr(self.model, "embed", None)
        if callable(embed):
            embeddings = embed(images, batch_size=self.batch_size)
        else:
            embeddings = self.model.predict(
                images, batch_size=self.batch_size, verbose=0
            )
        embeddings = keras.ops.convert_to_numpy(embeddings)
        return embeddings.reshape(embeddings.shape[0], -1)

    def evaluate(self) -> dict[str, float]:
        """The metrics of the current model, `{"val_knn1": ..., "val_margin": ...}`."""
        train = self._embed(self.train_images)
        val = self._embed(self.val_images)
        metrics = {
            f"val_{name}": value
            for name, value in knn_accuracy(
                train,
                self.train_labels,
                val,
                self.val_labels,
                k=self.k,
                batch_size=self.batch_size,
            ).items()
        }
        target, noise = nearest_target_noise(
            train, self.train_labels, val, self.val_labels, self.batch_size
        )
        metrics["val_margin"] = separation_margin(target, noise)
        if self.retrieval:
            retrieved = retrieval_metrics(
                val,
                self.val_labels,
                train,
                self.train_labels,
                recall_ks=(1,),
                block_size=self.batch_size,
                clustering=False,
            )
            metrics["val_precision_at_1"] = retrieved["precision_at_1"]
            metrics["val_map_at_r"] = retrieved["mean_average_precision_at_r"]
        return metrics

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every != 0 or logs is None:
            return
        logs.update(self.evaluate())
