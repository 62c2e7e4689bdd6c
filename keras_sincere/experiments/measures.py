"""The figures of one trained model, and whether its training was healthy.

kNN accuracy, the target/noise margin and the spread of the test embeddings
in the space the loss was applied to; the linear probe on the frozen
encoder features; the warnings of a run that trained too little, did not
learn, collapsed or diverged.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

# The retrieval figures of `evaluate` (test queries, training set as reference).
RETRIEVAL_FIGURES = (
    "precision_at_1",
    "r_precision",
    "map_at_r",
    "recall_at_1",
    "recall_at_2",
    "recall_at_4",
    "recall_at_8",
    "nmi",
    "ami",
)

# Training health (see `training_health`).
MIN_HEALTHY_STEPS = 100
MIN_LOSS_DROP = 0.1
MAX_MEAN_COSINE = 0.95


@dataclasses.dataclass
class Evaluation:
    """The paper's measurements of one model on the test set.

    Attributes:
        metrics: JSON-ready figures (`knn1`, `knn5`, `margin`,
            `per_class_margin`, `probe_accuracy`, `mean_pairwise_cosine`,
            `effective_rank`, and the `RETRIEVAL_FIGURES`).
        target, noise: nearest target / noise similarity of each test image.
        knn_correct: `{1: (N,) bool, 5: (N,) bool}` per-image kNN outcomes.
        test_embeddings: the test images' embeddings `(N, D)` (for maps),
            or `None`.
        test_labels: their labels `(N,)`, or `None`.
    """

    metrics: dict
    target: np.ndarray
    noise: np.ndarray
    knn_correct: dict | None
    test_embeddings: np.ndarray | None = None
    test_labels: np.ndarray | None = None

    @classmethod
    def of_diverged_model(cls, test_labels) -> "Evaluation":
        """NaN figures for a model whose weights are not finite.

        Its embeddings carry no information, and the evaluation functions
        reject them; the run is kept in a comparison, marked by a warning.
        """
        test_labels = np.asarray(test_labels)
        classes = np.array([]) if test_labels.ndim == 2 else np.unique(test_labels)
        nan = float("nan")
        metrics = dict.fromkeys(
            ("knn1", "knn5", "margin", "probe_accuracy", "mean_pairwise_cosine")
            + RETRIEVAL_FIGURES,
            nan,
        )
        metrics["effective_rank"] = nan
        metrics["per_class_margin"] = {str(c): nan for c in classes.tolist()}
        empty = np.full(len(test_labels), np.nan)
        return cls(metrics, empty, empty.copy(), None)

    @property
    def diverged(self) -> bool:
        return self.knn_correct is None


def evaluate(model, data, probe_epochs: int = 50, seed: int = 0) -> Evaluation:
    """kNN, margin, retrieval, linear probe and spread of one trained model.

    kNN, the target/noise similarities and the retrieval metrics use the
    learned embedding space (the L2-normalised projections the loss was
    applied to, as the paper's Fig. 2 and Tables 1 and 6), with the test
    images as queries and the training images as the reference set; the
    linear probe uses the frozen encoder features (appendix L).

    With multi-hot label sets `(N, C)`, kNN, the margin and the retrieval
    metrics use their multi-label definitions (a neighbour is a target, or
    relevant, when it shares a label); the softmax probe and the per-class
    margins have none, and are NaN and empty.
    """
    from keras_sincere import evaluation

    (x_train, y_train), (x_test, y_test) = data
    sets = np.ndim(y_train) == 2
    train_embeddings, test_embeddings = _in_full_batches(model.embed, x_train, x_test)
    target, noise = evaluation.nearest_target_noise(
        train_embeddings, y_train, test_embeddings, y_test
    )
    probe = {"accuracy": float("nan")}
    if not sets:
        train_features, test_features = _in_full_batches(model.encode, x_train, x_test)
        probe = evaluation.linear_probe(
            train_features,
            y_train,
            test_features,
            y_test,
            epochs=probe_epochs,
            seed=seed,
        )
    # One search per k gives both the accuracy and the bootstrap's input.
    correct = {
        k: evaluation.knn_correct(
            train_embeddings, y_train, test_embeddings, y_test, k=k
        )
        for k in (1, 5)
    }
    retrieved = evaluation.retrieval_metrics(
        test_embeddings, y_test, train_embeddings, y_train, seed=seed
    )
    per_class = {} if sets else evaluation.per_class_margins(target, noise, y_test)
    metrics = {
        "knn1": float(correct[1].mean()),
        "knn5": float(correct[5].mean()),
        "margin": evaluation.separation_margin(target, noise),
        "per_class_margin": {str(k): v for k, v in per_class.items()},
        "probe_accuracy": float(probe["accuracy"]),
        **evaluation.embedding_spread(test_embeddings),
        **_retrieval_figures(retrieved),
    }
    return Evaluation(
        metrics, target, noise, correct, np.asarray(test_embeddings), np.asarray(y_test)
    )


def _retrieval_figures(retrieved: dict) -> dict:
    """`retrieval_metrics`'s result as the flat `RETRIEVAL_FIGURES`."""
    figures = {
        "precision_at_1": retrieved["precision_at_1"],
        "r_precision": retrieved["r_precision"],
        "map_at_r": retrieved["mean_average_precision_at_r"],
        "nmi": retrieved["nmi"],
        "ami": retrieved["ami"],
    }
    for k, value in retrieved["recall_at_k"].items():
        figures[f"recall_at_{k}"] = value
    return figures


def _in_full_batches(predict, train_images, test_images, batch_size=256):
    """`predict` of both image sets in one call, padded to whole batches.

    One input shape for the whole evaluation: the compiled inference
    function is traced once (no retracing for a last, partial batch).
    """
    images = np.concatenate([train_images, test_images])
    padding = -len(images) % batch_size
    if padding:
        images = np.concatenate(
            [images, np.zeros((padding,) + images.shape[1:], images.dtype)]
        )
    outputs = predict(images, batch_size=batch_size)
    return outputs[: len(train_images)], outputs[len(train_images) : -padding or None]


def training_health(losses: Sequence[float], steps: int, metrics: dict) -> list:
    """The warnings of one run: too few steps, a loss that did not fall, collapse.

    - fewer than `MIN_HEALTHY_STEPS` optimizer steps;
    - the training loss fell by less than `MIN_LOSS_DROP` (10%) of its
      first epoch's value;
    - the test embeddings collapsed: their mean pairwise cosine similarity
      is above `MAX_MEAN_COSINE` (0.95; a trained model's is near 0).

    Args:
        losses: training loss of each epoch.
        steps: optimizer steps taken.
        metrics: `Evaluation.metrics` of the run.

    Returns:
        A list of one-line warnings, each naming its fix; empty if healthy.
    """
    warnings = []
    if steps < MIN_HEALTHY_STEPS:
        warnings.append(
            f"only {steps} optimizer steps (< {MIN_HEALTHY_STEPS}): raise "
            "--epochs or lower --batch-size"
        )
    first, last = float(losses[0]), float(losses[-1])
    if not first - last >= MIN_LOSS_DROP * abs(first):
        warnings.append(
            f"training loss fell by less than {MIN_LOSS_DROP:.0%} ({first:.3f} -> "
            f"{last:.3f}): raise --epochs, or lower --batch-size for more steps"
        )
    cosine = metrics["mean_pairwise_cosine"]
    if not cosine <= MAX_MEAN_COSINE:
        warnings.append(
            f"embeddings collapsed (mean pairwise cosine {cosine:.3f} > "
            f"{MAX_MEAN_COSINE}): raise --epochs, or lower --batch-size for "
            "more steps"
        )
    return warnings


def is_finite(values) -> bool:
    """Whether every value is a finite number (NaN and infinities are not)."""
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


def divergence_warning(losses: Sequence[float]) -> str:
    """The warning of a run whose loss or weights became NaN or infinite."""
    bad = [epoch for epoch, value in enumerate(losses, 1) if not math.isfinite(value)]
    where = f"from epoch {bad[0]}" if bad else "in its weights"
    return (
        f"training diverged (NaN or infinite values {where}); its figures are NaN: "
        "lower --lr, or raise --temperature"
    )


def noise_count(batch_size: int, labels, memory_size: int = 0) -> float:
    """Expected number of noise embeddings per anchor in a batch of 2 views.

    With a cross-batch memory of `memory_size` entries (full, as it is
    after its first steps), each anchor also meets the memory's entries of
    other classes: `(2 * batch_size + memory_size) * (1 - sum_c share_c^2)`.
    With multi-hot label sets `(N, C)`, the share of noise is that of two
    random samples whose sets share no label, `sum_{u, v} p_u p_v
    [u & v = {}]` over the distinct sets `u`, `v` and their shares `p`.

    Example:

    >>> noise_count(64, np.arange(100) % 2), noise_count(64, np.arange(100) % 2, 256)
    (64.0, 192.0)
    """
    labels = np.asarray(labels)
    if labels.ndim == 2:
        distinct, counts = np.unique(labels, axis=0, return_counts=True)
        share = counts / len(labels)
        disjoint = (distinct @ distinct.T) == 0
        noise = float(share @ disjoint @ share)
        return max(1.0, (2 * batch_size + memory_size) * noise)
    share = np.bincount(labels - labels.min()) / len(labels)
    same = float(np.sum(share**2))
    return max(1.0, (2 * batch_size + memory_size) * (1.0 - same))
