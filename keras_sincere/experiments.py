"""Train, evaluate and compare contrastive losses: what `keras-sincere` runs.

A notebook can call the same steps as the command line:

```python
from keras_sincere import experiments

result = experiments.compare("digits", losses=("sincere", "supcon"), seeds=(0, 1, 2))
print(experiments.format_comparison(result))
```

The training plan comes from the data. The paper's CIFAR datasets keep the
recipe of appendix J. Any other data set (the embedded digits, a user's
`.npz`) gets the *small-data plan*, whose rules are in `plan_training`:
a batch that gives at least `MIN_STEPS_PER_EPOCH` steps per epoch,
the learning rate scaled linearly from the paper's 0.5 at batch 512, at
least `MIN_STEPS` optimizer steps in all, temperature 0.1 for every loss,
and the images at their own size (at most 32 pixels a side).
"""

import dataclasses
import json
import math
import pathlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from keras_sincere.recipes import Recipe

# Keras and its backend are imported by the functions that need them, so
# that the command line parses its arguments without them.

LOSS_NAMES = ("sincere", "supcon", "eps", "infonce")
# Command-line names -> keras_sincere.recipes loss names.
RECIPE_LOSS_NAMES = {
    "sincere": "sincere",
    "supcon": "supcon",
    "eps": "epsilon_supinfonce",
    "infonce": "infonce",
}
PAPER_DATASETS = ("cifar10", "cifar100", "cifar2")

# The small-data plan (see `plan_training` for why each value).
MIN_STEPS = 400
MIN_STEPS_PER_EPOCH = 16
SMALL_DATA_MAX_BATCH = 128
SMALL_DATA_MIN_BATCH = 16
SMALL_DATA_TEMPERATURE = 0.1
MAX_SMALL_DATA_IMAGE_SIDE = 32
_SMALL_DATA_MODEL = {"backbone": "resnet18", "width": 8, "min_crop": 0.5}
_PAPER_MODEL = {"backbone": "resnet50", "width": 64, "min_crop": 0.2}
_PAPER_BATCH = 512
_PAPER_LEARNING_RATE = 0.5

# Training health (see `training_health`).
MIN_HEALTHY_STEPS = 100
MIN_LOSS_DROP = 0.1
MAX_MEAN_COSINE = 0.95


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """Every setting of one training run, after defaults are resolved.

    Attributes:
        recipe: optimiser, schedule, temperature and budget (`Recipe`).
        backbone: `"resnet18"`, `"resnet34"` or `"resnet50"`.
        width: base width of the ResNet.
        min_crop: smallest random-crop area, as a fraction of the image.
        image_size: side of the square images the model sees.
        seed: seed of weights, augmentation and data order.
        train_size: number of training images.
        rule: `"paper"` (appendix J) or `"small-data"`.
        head_batch_norm: batch-normalise the projection head's hidden layer.
    """

    recipe: "Recipe"
    backbone: str
    width: int
    min_crop: float
    image_size: int
    seed: int
    train_size: int
    rule: str
    head_batch_norm: bool = False

    @property
    def batch_size(self) -> int:
        """Samples per batch, at most the training set."""
        return min(self.recipe.batch_size, self.train_size)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer steps per epoch (`fit` runs the last, partial batch too)."""
        return math.ceil(self.train_size / self.batch_size)

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.recipe.epochs

    def describe(self) -> str:
        """The plan in one line, as printed before training."""
        recipe = self.recipe
        return (
            f"{self.rule} plan for {recipe.loss}: {self.backbone} width "
            f"{self.width}, {self.image_size}x{self.image_size} images, "
            f"batch {self.batch_size} ({self.steps_per_epoch} steps/epoch), "
            f"{recipe.epochs} epochs = {self.total_steps} steps, "
            f"lr {recipe.learning_rate:g} (warm-up {recipe.warmup_epochs} "
            f"epochs), T={recipe.temperature:g}, crop {self.min_crop:g}-1, "
            f"seed {self.seed}"
        )

    def to_json(self) -> dict:
        record = dataclasses.asdict(self)
        record.update(
            batch_size=self.batch_size,
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps,
        )
        return record


def _positive(value, name, kind=float):
    """`None`, or `value` checked to be a number > 0 (an int when `kind` is)."""
    if value is None:
        return None
    if kind is int and (isinstance(value, bool) or int(value) != value):
        raise ValueError(f"`{name}` must be an integer. Received: {name}={value!r}")
    if not value > 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")
    return kind(value)


def small_data_batch_size(train_size: int) -> int:
    """The small-data plan's batch: a power of two with several steps an epoch.

    The largest power of two that leaves at least `MIN_STEPS_PER_EPOCH`
    steps per epoch, between `SMALL_DATA_MIN_BATCH` and
    `SMALL_DATA_MAX_BATCH` (never more than the data): 16 for 150 images,
    128 for the 1,438 digits.
    """
    target = max(1, train_size // MIN_STEPS_PER_EPOCH)
    batch = 2 ** int(math.floor(math.log2(target)))
    batch = max(SMALL_DATA_MIN_BATCH, min(SMALL_DATA_MAX_BATCH, batch))
    return min(batch, train_size)


def plan_training(
    dataset: str,
    loss: str,
    train_size: int,
    native_image_size: int,
    seed: int = 0,
    *,
    epochs: int | None = None,
    batch_size: int | None = None,
    temperature: float | None = None,
    learning_rate: float | None = None,
    backbone: str | None = None,
    width: int | None = None,
    min_crop: float | None = None,
    image_size: int | None = None,
    head_batch_norm: bool | None = None,
) -> TrainingPlan:
    """Resolves a training plan from the data; given arguments override it.

    **The paper's datasets** (`cifar10`, `cifar100`, `cifar2`) keep appendix
    J: ResNet-50, batch 512, 800 epochs, peak learning rate 0.5, the
    authors' temperatures, 32x32 images, crops of 0.2-1.

    **Any other data** gets the small-data plan, built so that both losses
    leave the collapsed starting point (all embeddings nearly parallel,
    loss near `log(1 + |N|)`) on small sets:

    - batch: `small_data_batch_size(train_size)`, at least
      `MIN_STEPS_PER_EPOCH` steps per epoch (16 to 128 samples, so 32 to
      256 embeddings per softmax);
    - learning rate: the paper's 0.5 at batch 512 scaled linearly,
      `0.5 * batch / 512` (also when only the batch is given);
    - epochs: enough for `MIN_STEPS` optimizer steps (the losses of both
      methods have settled by then on every small set we measured);
    - temperature 0.1 for every loss (the paper's CIFAR-10 SINCERE value),
      so the losses differ only in their denominators;
    - images: their own size, at most `MAX_SMALL_DATA_IMAGE_SIDE` (32)
      pixels a side (8x8 digits stay 8x8: upscaled to 32x32 they cost 16
      times the compute for the same finding);
    - ResNet-18 at width 8, crops of 0.5-1 of the image;
    - the warm-up keeps the paper's share (10 of 800 epochs), at least 1.

    Args:
        dataset: dataset name or `.npz` path (only the paper's names matter).
        loss: `"sincere"`, `"supcon"`, `"eps"` or `"infonce"`.
        train_size: number of training images.
        native_image_size: side of the images as loaded.
        seed: seed of the run.
        epochs, batch_size, temperature, learning_rate, backbone, width,
            min_crop, image_size: overrides; each must be > 0 when given.

    Returns:
        A frozen `TrainingPlan`.
    """
    from keras_sincere.recipes import Recipe
    from keras_sincere.recipes import paper_recipe

    if loss not in RECIPE_LOSS_NAMES:
        raise ValueError(
            f"Unknown `loss`: {loss!r}. Expected one of {list(RECIPE_LOSS_NAMES)}."
        )
    epochs = _positive(epochs, "epochs", int)
    batch_size = _positive(batch_size, "batch_size", int)
    temperature = _positive(temperature, "temperature")
    learning_rate = _positive(learning_rate, "learning_rate")
    width = _positive(width, "width", int)
    image_size = _positive(image_size, "image_size", int)
    if min_crop is not None and not 0 < min_crop <= 1:
        raise ValueError(f"`min_crop` must be in (0, 1]. Received: min_crop={min_crop}")
    name = str(dataset).lower()
    recipe_loss = RECIPE_LOSS_NAMES[loss]
    if name in PAPER_DATASETS:
        recipe = paper_recipe(name, recipe_loss)
        model, rule = _PAPER_MODEL, "paper"
        default_size = 32
    else:
        batch = batch_size or small_data_batch_size(train_size)
        steps = math.ceil(train_size / min(batch, train_size))
        recipe = Recipe(
            dataset=name,
            loss=recipe_loss,
            temperature=SMALL_DATA_TEMPERATURE,
            learning_rate=_PAPER_LEARNING_RATE * batch / _PAPER_BATCH,
            epochs=math.ceil(MIN_STEPS / steps),
            batch_size=batch,
        )
        model, rule = _SMALL_DATA_MODEL, "small-data"
        default_size = min(native_image_size, MAX_SMALL_DATA_IMAGE_SIDE)
    if batch_size and rule == "paper":
        recipe = dataclasses.replace(recipe, batch_size=batch_size)
        if learning_rate is None:
            recipe = dataclasses.replace(
                recipe, learning_rate=_PAPER_LEARNING_RATE * batch_size / _PAPER_BATCH
            )
    epochs = epochs or recipe.epochs
    # The warm-up keeps the paper's share of the run (10 of 800 epochs).
    warmup = min(epochs - 1, max(1, round(10 * epochs / 800)))
    recipe = dataclasses.replace(
        recipe,
        epochs=epochs,
        warmup_epochs=max(0, warmup),
        temperature=temperature or recipe.temperature,
        learning_rate=learning_rate or recipe.learning_rate,
    )
    return TrainingPlan(
        recipe=recipe,
        backbone=backbone or model["backbone"],
        width=width or model["width"],
        min_crop=min_crop or model["min_crop"],
        image_size=image_size or default_size,
        seed=int(seed),
        train_size=int(train_size),
        rule=rule,
        head_batch_norm=(
            bool(head_batch_norm) if head_batch_norm is not None else False
        ),
    )


def make_loss(name: str, temperature: float):
    """The loss object of a command-line loss name."""
    from keras_sincere import losses

    return {
        "sincere": losses.SincereLoss,
        "supcon": losses.SupConLoss,
        "eps": losses.EpsilonSupInfoNCELoss,
        "infonce": losses.InfoNCELoss,
    }[name](temperature=temperature)


def build_model(plan: TrainingPlan, image_shape: tuple):
    """The `ContrastiveModel` of a plan: ResNet, projection head, SimCLR views."""
    from keras_sincere import augment
    from keras_sincere import models

    encoder = getattr(models, plan.backbone)(
        image_shape, stem="cifar", width=plan.width
    )
    return models.ContrastiveModel(
        encoder,
        models.ProjectionHead(
            encoder.output_shape[-1], 128, batch_norm=plan.head_batch_norm
        ),
        augmenter=augment.simclr_augmenter(
            plan.image_size, scale=(plan.min_crop, 1.0), seed=plan.seed
        ),
    )


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The order training examples are seen in one epoch of one seed.

    A function of `(seed, epoch)` alone, so that training resumed at any
    epoch sees the batches an uninterrupted run sees.
    """
    return np.random.default_rng([seed, epoch]).permutation(size)


def train(
    plan: TrainingPlan,
    data,
    loss: str,
    verbose=2,
    callbacks=(),
    reuse=None,
    checkpoint=None,
):
    """Builds and trains the model of `plan`; returns it and its loss history.

    Each epoch shuffles the training set with `epoch_order(n, seed, epoch)`
    and fits one epoch; with a `checkpoint`, the state after each epoch is
    saved, and training starts after the last saved epoch. A resumed run ends
    with the weights of an uninterrupted one (tested through the CLI).

    Args:
        plan: a `TrainingPlan`.
        data: `((x_train, y_train), (x_test, y_test))` at `plan.image_size`.
        loss: command-line loss name.
        verbose: Keras `fit` verbosity.
        callbacks: extra Keras callbacks.
        reuse: optional model returned by an earlier `train` of the same plan
            and loss with another seed. It is reset to exactly the state a new
            model of `plan.seed` starts from (weights, augmentation random
            state, optimizer) and trained again, which keeps its compiled
            train step, and on TensorFlow the result equals that of a new
            model (tested). On JAX and PyTorch it does not: the random draws
            of a reused model differ from a new one's, so `compare` uses it on
            TensorFlow only.
        checkpoint: optional `run_files.EpochCheckpoint` to resume from and
            save to.

    Returns:
        `(model, history)`: the trained `ContrastiveModel` and the `fit`
        history (`{"loss": [...], ...}`) of every epoch, resumed ones too.
    """
    import keras

    (x_train, y_train), _ = data
    keras.utils.set_random_seed(plan.seed)
    model = build_model(plan, x_train.shape[1:])
    if reuse is None:
        model.compile(
            optimizer=plan.recipe.optimizer(plan.steps_per_epoch),
            loss=make_loss(loss, plan.recipe.temperature),
        )
    else:
        _copy_state(model, reuse)
        model = reuse
    done, history = 0, {}
    if checkpoint is not None:
        state = checkpoint.restore(model)
        done, history = state["epochs"], state["history"]
    for epoch in range(done, plan.recipe.epochs):
        order = epoch_order(len(x_train), plan.seed, epoch)
        result = model.fit(
            x_train[order],
            y_train[order],
            batch_size=plan.batch_size,
            initial_epoch=epoch,
            epochs=epoch + 1,
            shuffle=False,
            callbacks=list(callbacks),
            verbose=verbose,
        )
        for key, values in result.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if checkpoint is not None:
            checkpoint.save(model, epoch + 1, history)
    return model, history


def _copy_state(fresh, trained):
    """Gives `trained` the starting state of `fresh`, a new model of one plan."""
    trained.set_weights(fresh.get_weights())
    pairs = zip(
        fresh._augmenter_seed_states(), trained._augmenter_seed_states(), strict=True
    )
    for source, target in pairs:
        target.assign(source.value)
    for variable in trained.optimizer.variables:
        variable.assign(np.zeros(variable.shape, variable.dtype))


@dataclasses.dataclass
class Evaluation:
    """The paper's measurements of one model on the test set.

    Attributes:
        metrics: JSON-ready figures (`knn1`, `knn5`, `margin`,
            `per_class_margin`, `probe_accuracy`, `mean_pairwise_cosine`,
            `effective_rank`).
        target, noise: nearest target / noise similarity of each test image.
        knn_correct: `{1: (N,) bool, 5: (N,) bool}` per-image kNN outcomes.
    """

    metrics: dict
    target: np.ndarray
    noise: np.ndarray
    knn_correct: dict | None

    @classmethod
    def of_diverged_model(cls, test_labels) -> "Evaluation":
        """NaN figures for a model whose weights are not finite.

        Its embeddings carry no information, and the evaluation functions
        reject them; the run is kept in a comparison, marked by a warning.
        """
        classes = np.unique(np.asarray(test_labels))
        nan = float("nan")
        metrics = dict.fromkeys(
            ("knn1", "knn5", "margin", "probe_accuracy", "mean_pairwise_cosine"),
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
    """kNN, margin, linear probe and spread of one trained model.

    kNN and the target/noise similarities use the learned embedding space
    (the L2-normalised projections the loss was applied to, as the paper's
    Fig. 2 and Tables 1 and 6); the linear probe uses the frozen encoder
    features (appendix L).
    """
    from keras_sincere import evaluation

    (x_train, y_train), (x_test, y_test) = data
    train_embeddings, test_embeddings = _in_full_batches(model.embed, x_train, x_test)
    target, noise = evaluation.nearest_target_noise(
        train_embeddings, y_train, test_embeddings, y_test
    )
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
    per_class = evaluation.per_class_margins(target, noise, y_test)
    metrics = {
        "knn1": float(correct[1].mean()),
        "knn5": float(correct[5].mean()),
        "margin": evaluation.separation_margin(target, noise),
        "per_class_margin": {str(k): v for k, v in per_class.items()},
        "probe_accuracy": float(probe["accuracy"]),
        **evaluation.embedding_spread(test_embeddings),
    }
    return Evaluation(metrics, target, noise, correct)


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


def _finite(values) -> bool:
    return bool(np.all(np.isfinite(np.asarray(values, dtype=np.float64))))


def divergence_warning(losses: Sequence[float]) -> str:
    """The warning of a run whose loss or weights became NaN or infinite."""
    bad = [epoch for epoch, value in enumerate(losses, 1) if not math.isfinite(value)]
    where = f"from epoch {bad[0]}" if bad else "in its weights"
    return (
        f"training diverged (NaN or infinite values {where}); its figures are NaN: "
        "lower --lr, or raise --temperature"
    )


@dataclasses.dataclass
class RunResult:
    """One loss trained with one seed: its plan, history, figures and health.

    `model` is the trained `ContrastiveModel`. In a `Comparison` on
    TensorFlow, one model serves every seed of a loss (it is compiled once),
    so only the last seed's run keeps it; the others hold `None`.
    """

    loss: str
    model: object
    plan: TrainingPlan
    history: dict
    evaluation: Evaluation
    warnings: list
    seconds: float

    def save(self, folder) -> None:
        """Writes what a `Comparison` needs of this run (not the model)."""
        from keras_sincere import run_files

        folder = pathlib.Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        correct = self.evaluation.knn_correct or {}
        arrays = {
            "target": self.evaluation.target,
            "noise": self.evaluation.noise,
            **{f"knn{k}": v for k, v in correct.items()},
        }
        run_files.write_atomically(
            folder / "evaluation.npz", lambda path: np.savez(path, **arrays)
        )
        record = {
            "metrics": self.evaluation.metrics,
            "history": self.history,
            "warnings": self.warnings,
            "seconds": self.seconds,
        }
        run_files.write_text_atomically(
            folder / "result.json", json.dumps(record, default=_json_number)
        )

    @classmethod
    def load(cls, folder, loss: str, plan: TrainingPlan):
        """The run `save` wrote to `folder`, or `None` if it did not finish."""
        folder = pathlib.Path(folder)
        if not (folder / "result.json").is_file():
            return None
        record = json.loads((folder / "result.json").read_text())
        with np.load(folder / "evaluation.npz") as arrays:
            evaluation = Evaluation(
                record["metrics"],
                arrays["target"],
                arrays["noise"],
                {k: arrays[f"knn{k}"] for k in (1, 5)} if "knn1" in arrays else None,
            )
        return cls(
            loss,
            None,
            plan,
            record["history"],
            evaluation,
            record["warnings"],
            record["seconds"],
        )

    def to_json(self, noise_count: float) -> dict:
        from keras_sincere import evaluation

        losses = self.history["loss"]
        return {
            **self.evaluation.metrics,
            "loss_initial": float(losses[0]),
            "loss_final": float(losses[-1]),
            "loss_history": [float(x) for x in losses],
            "noise_count": noise_count,
            "kl_lower_bound_final": float(
                evaluation.kl_lower_bound(losses[-1], noise_count)
            ),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 1),
            "plan": self.plan.to_json(),
        }


def train_and_evaluate(
    plan: TrainingPlan,
    data,
    loss: str,
    verbose=2,
    knn_every: int = 0,
    probe_epochs: int = 50,
    reuse=None,
    checkpoint=None,
) -> RunResult:
    """`train`, `evaluate` and `training_health` of one run.

    Args:
        plan: a `TrainingPlan`.
        data: `((x_train, y_train), (x_test, y_test))` at `plan.image_size`.
        loss: command-line loss name.
        verbose: Keras `fit` verbosity.
        knn_every: log validation kNN and margin every this many epochs
            (`KNNMonitor`); 0 for never.
        probe_epochs: epochs of the linear probe.
        reuse: a model to reset and train again (see `train`).
        checkpoint: a `run_files.EpochCheckpoint` to resume from and save to.
    """
    from keras_sincere import callbacks

    start = time.time()
    monitors = []
    if knn_every:
        (x_train, y_train), (x_test, y_test) = data
        monitors.append(
            callbacks.KNNMonitor(x_train, y_train, x_test, y_test, every=knn_every)
        )
    model, history = train(
        plan, data, loss, verbose, monitors, reuse=reuse, checkpoint=checkpoint
    )
    if _finite(history["loss"]) and all(map(_finite, model.get_weights())):
        result = evaluate(model, data, probe_epochs=probe_epochs, seed=plan.seed)
        warnings = training_health(history["loss"], plan.total_steps, result.metrics)
    else:
        result = Evaluation.of_diverged_model(data[1][1])
        warnings = [divergence_warning(history["loss"])]
    return RunResult(loss, model, plan, history, result, warnings, time.time() - start)


def noise_count(batch_size: int, labels) -> float:
    """Expected number of noise embeddings per anchor in a batch of 2 views."""
    labels = np.asarray(labels)
    share = np.bincount(labels - labels.min()) / len(labels)
    same = float(np.sum(share**2))
    return max(1.0, 2 * batch_size * (1.0 - same))


SEEDED_FIGURES = ("margin", "loss_final", "knn1", "knn5", "probe_accuracy")


@dataclasses.dataclass
class Comparison:
    """Every loss trained with every seed, and the summaries across seeds.

    Attributes:
        dataset: the dataset name or path.
        losses: loss names, the first is the reference of the paired tests.
        seeds: the seeds, in order.
        runs: `{loss: [RunResult per seed]}`.
        bootstrap_resamples: resamples of the per-seed paired bootstrap.
    """

    dataset: str
    losses: list
    seeds: list
    runs: dict
    bootstrap_resamples: int = 1000

    def unhealthy(self) -> list:
        """`(loss, seed, warning)` for every warning of every run."""
        return [
            (loss, run.plan.seed, warning)
            for loss in self.losses
            for run in self.runs[loss]
            for warning in run.warnings
        ]

    def figures(self, loss: str, key: str) -> np.ndarray:
        return np.array([_figure(run, key) for run in self.runs[loss]])

    def summary(self) -> dict:
        """Per loss and figure, the mean and 95% t interval across seeds."""
        from keras_sincere import evaluation

        return {
            loss: {
                key: _across_seeds(evaluation.seed_interval, self.figures(loss, key))
                for key in SEEDED_FIGURES + ("loss_initial",)
            }
            for loss in self.losses
        }

    def paired(self) -> dict:
        """The reference loss against each other, per figure, paired by seed."""
        from keras_sincere import evaluation

        reference = self.losses[0]
        return {
            f"{reference}-{other}": {
                key: _across_seeds(
                    evaluation.paired_seed_difference,
                    self.figures(reference, key),
                    self.figures(other, key),
                )
                for key in SEEDED_FIGURES
            }
            for other in self.losses[1:]
        }

    def bootstrap(self) -> dict:
        """Per seed, the paired bootstrap of kNN accuracy on the test images."""
        from keras_sincere import evaluation

        reference = self.losses[0]
        result = {}
        for other in self.losses[1:]:
            per_seed = {}
            for ours, theirs in zip(
                self.runs[reference], self.runs[other], strict=True
            ):
                if ours.evaluation.diverged or theirs.evaluation.diverged:
                    per_seed[str(ours.plan.seed)] = None
                    continue
                per_seed[str(ours.plan.seed)] = {
                    f"knn{k}": evaluation.paired_bootstrap(
                        ours.evaluation.knn_correct[k],
                        theirs.evaluation.knn_correct[k],
                        n=self.bootstrap_resamples,
                        seed=ours.plan.seed,
                    )
                    for k in (1, 5)
                }
            result[f"{reference}-{other}"] = per_seed
        return result

    def to_json(self, train_labels) -> dict:
        runs = {
            loss: {
                str(run.plan.seed): run.to_json(
                    noise_count(run.plan.batch_size, train_labels)
                )
                for run in self.runs[loss]
            }
            for loss in self.losses
        }
        return {
            "dataset": str(self.dataset),
            "losses": list(self.losses),
            "seeds": list(self.seeds),
            "runs": runs,
            "summary": self.summary(),
            "paired": self.paired(),
            "bootstrap": self.bootstrap(),
            "warnings": [
                {"loss": loss, "seed": seed, "warning": warning}
                for loss, seed, warning in self.unhealthy()
            ],
        }


def _across_seeds(statistic, *figures) -> dict:
    """`statistic(*figures)`, or NaN figures when a run diverged (NaN)."""
    if all(map(_finite, figures)):
        return statistic(*figures)
    nan = float("nan")
    return {
        **dict.fromkeys(("mean", "low", "high", "half_width", "std"), nan),
        "n": len(figures[0]),
        "wins": None,
        "significant": False,
        "diverged": True,
    }


def _json_number(value):
    """numpy scalars and arrays for `json.dumps`."""
    return value.tolist() if isinstance(value, np.ndarray) else value.item()


def _figure(run: RunResult, key: str) -> float:
    if key in ("loss_final", "loss_initial"):
        losses = run.history["loss"]
        return float(losses[-1] if key == "loss_final" else losses[0])
    return float(run.evaluation.metrics[key])


def load_data(dataset: str, image_size: int | None = None):
    """The dataset at its own size (`image_size=None`) or resized."""
    from keras_sincere import data

    return data.load_dataset(dataset, image_size=image_size)


def prepare_labels(splits):
    """`(splits, classes)`: labels mapped to `0..C-1`, training labels checked.

    Raises a `ValueError` before any training when the training set has
    fewer than 2 classes or a class with a single sample
    (`data.check_contrastive_labels`); `classes[code]` is the original label.
    """
    from keras_sincere import data

    (x_train, y_train), (x_test, y_test) = splits
    data.check_contrastive_labels(y_train, "y_train")
    y_train, y_test, classes = data.encode_labels(y_train, y_test)
    return ((x_train, y_train), (x_test, y_test)), classes


def resize_data(splits, image_size: int):
    """`((x_train, y_train), (x_test, y_test))` with images resized."""
    from keras_sincere import data

    return tuple((data.resize_images(x, image_size), y) for x, y in splits)


def compare(
    dataset: str,
    losses: Sequence[str] = ("sincere", "supcon"),
    seeds: Sequence[int] = (0, 1, 2),
    data=None,
    verbose=0,
    knn_every: int = 0,
    probe_epochs: int = 50,
    bootstrap_resamples: int = 1000,
    log=print,
    checkpoints=None,
    **overrides,
) -> Comparison:
    """Trains every loss once per seed with the same plan; measures each run.

    Args:
        dataset: `"digits"`, a paper dataset or an `.npz` path.
        losses: command-line loss names; the first is the reference.
        seeds: one run of each loss per seed.
        data: already loaded `((x_train, y_train), (x_test, y_test))` at
            the native size, or `None` to load `dataset`.
        verbose: Keras `fit` verbosity.
        probe_epochs: epochs of each linear probe.
        bootstrap_resamples: resamples of the per-seed paired bootstrap.
        knn_every: log validation kNN every this many epochs (0: never).
        log: where progress lines go (`print`; `None` for silence).
        checkpoints: optional folder. Each run keeps its epoch checkpoints
            and, once measured, its results in `LOSS-seedN/` there; calling
            `compare` again with the same folder and arguments loads the
            finished runs and resumes the interrupted one.
        **overrides: `plan_training` overrides (`epochs`, `batch_size`, ...).

    Returns:
        A `Comparison`.
    """
    import keras

    log = log or (lambda *args, **kwargs: None)
    # Reusing a compiled model saves a compilation per seed, and on
    # TensorFlow it reproduces a new model exactly (tested). On JAX and
    # PyTorch a reused model does not see exactly the random draws of a new
    # one, so there each seed gets a new model.
    reuse_models = keras.backend.backend() == "tensorflow"
    native, _ = prepare_labels(data if data is not None else load_data(dataset))
    (x_train, _), _ = native
    runs = {loss: [] for loss in losses}
    resized = {}
    for seed in seeds:
        for loss in losses:
            plan = plan_training(
                dataset, loss, len(x_train), x_train.shape[1], seed, **overrides
            )
            if plan.image_size not in resized:
                resized[plan.image_size] = (
                    native
                    if plan.image_size == x_train.shape[1]
                    else resize_data(native, plan.image_size)
                )
            log(f"\n== {plan.describe()}", flush=True)
            folder = None
            if checkpoints is not None:
                folder = pathlib.Path(checkpoints) / f"{loss}-seed{seed}"
            run = _resumed_run(folder, loss, plan, log)
            if run is None:
                previous = runs[loss][-1] if runs[loss] and reuse_models else None
                run = train_and_evaluate(
                    plan,
                    resized[plan.image_size],
                    loss,
                    verbose=verbose,
                    knn_every=knn_every,
                    probe_epochs=probe_epochs,
                    reuse=previous.model if previous and previous.model else None,
                    checkpoint=_epoch_checkpoint(folder),
                )
                if previous and previous.model is run.model:
                    previous.model = None  # it now holds this seed's weights
                if folder is not None:
                    run.save(folder)
                    for weights in folder.glob("epoch-*.weights.h5"):
                        weights.unlink()  # the results are what resuming needs
            metrics = run.evaluation.metrics
            log(
                f"   {loss} seed {seed}: margin {metrics['margin']:.3f}, loss "
                f"{run.history['loss'][0]:.3f} -> {run.history['loss'][-1]:.3f}, "
                f"1NN {100 * metrics['knn1']:.2f}%, {run.seconds:.0f} s",
                flush=True,
            )
            for warning in run.warnings:
                log(f"   warning: {loss} seed {seed}: {warning}", flush=True)
            runs[loss].append(run)
    return Comparison(
        str(dataset), list(losses), list(seeds), runs, bootstrap_resamples
    )


def _epoch_checkpoint(folder):
    from keras_sincere import run_files

    return None if folder is None else run_files.EpochCheckpoint(folder)


def _resumed_run(folder, loss: str, plan: TrainingPlan, log):
    """A finished run saved in `folder`, or `None` (logs what it resumes)."""
    if folder is None:
        return None
    run = RunResult.load(folder, loss, plan)
    if run is not None:
        log(f"   {loss} seed {plan.seed}: finished before, loaded", flush=True)
        return run
    done = _epoch_checkpoint(folder).state()["epochs"]
    if done:
        log(f"   resuming after epoch {done} of {plan.recipe.epochs}", flush=True)
    return None


def _interval(summary: dict, scale: float = 1.0, digits: int = 3, sign="") -> str:
    """`mean [low, high]` (`sign="+"` prints the signs of differences)."""
    form = f"{sign}.{digits}f"

    def scaled(key):  # NaN figures are None once read back from JSON
        value = summary[key]
        return float("nan") if value is None else scale * value

    mean = scaled("mean")
    if summary["n"] < 2 or summary.get("diverged"):
        return f"{mean:{form}}"
    low, high = scaled("low"), scaled("high")
    return f"{mean:{form}} [{low:{form}}, {high:{form}}]"


def _signed(summary: dict, scale: float = 1.0, digits: int = 3) -> str:
    return _interval(summary, scale, digits, sign="+")


def _health_lines(record: dict) -> list:
    warnings = record["warnings"]
    if not warnings:
        return [
            f"Health: every run took >= {MIN_HEALTHY_STEPS} steps, its loss fell "
            f"by >= {MIN_LOSS_DROP:.0%} and its embeddings did not collapse.",
            "",
        ]
    lines = [
        f"**Unhealthy runs: {len(warnings)} warning(s). The comparison below "
        "declares no winner until they are fixed.**",
        "",
    ]
    lines += [f"- {w['loss']} seed {w['seed']}: {w['warning']}" for w in warnings]
    return lines + [""]


def _paired_lines(record: dict, healthy: bool) -> list:
    losses, seeds = record["losses"], record["seeds"]
    reference = losses[0]
    rows = (
        ("margin", "margin", 1.0, 3),
        ("loss_final", "final loss", 1.0, 3),
        ("knn1", "1NN %", 100.0, 2),
        ("knn5", "5NN %", 100.0, 2),
        ("probe_accuracy", "probe %", 100.0, 2),
    )
    lines = []
    for other in losses[1:]:
        paired = record["paired"][f"{reference}-{other}"]
        lines += [
            f"Paired across seeds: {reference} minus {other} (mean [95% interval]; "
            f"seeds where {reference} is higher)",
            "",
            f"| figure | difference | {reference} higher | verdict |",
            "|---|---|---|---|",
        ]
        for key, label, scale, digits in rows:
            stats = paired[key]
            wins = "n/a" if stats["wins"] is None else f"{stats['wins']}/{len(seeds)}"
            if not healthy:
                verdict = "not judged (unhealthy runs)"
            elif stats["n"] < 2:
                verdict = "one seed: no interval"
            elif stats["significant"]:
                verdict = "higher" if stats["mean"] > 0 else "lower"
            else:
                verdict = "no significant difference"
            lines.append(
                f"| {label} | {_signed(stats, scale, digits)} | {wins} | {verdict} |"
            )
        lines.append("")
    return lines


def _bootstrap_lines(record: dict, healthy: bool) -> list:
    lines = [
        "Per seed, paired bootstrap over test images: accuracy difference "
        "(points, 95% interval)",
        "",
        "| pair | seed | 1NN difference | 5NN difference |",
        "|---|---|---|---|",
    ]
    for pair, per_seed in record["bootstrap"].items():
        for seed, stats in per_seed.items():
            if stats is None:
                lines.append(f"| {pair} | {seed} | diverged | diverged |")
                continue
            cells = []
            for k in ("knn1", "knn5"):
                s = stats[k]
                mark = " (significant)" if s["significant"] and healthy else ""
                cells.append(
                    f"{100 * s['difference']:+.2f} [{100 * s['low']:+.2f}, "
                    f"{100 * s['high']:+.2f}]{mark}"
                )
            lines.append(f"| {pair} | {seed} | {cells[0]} | {cells[1]} |")
    return lines + [""]


def format_comparison(record: dict) -> str:
    """The paper's Tables 1, 4 and 6 across seeds, as markdown.

    Args:
        record: `Comparison.to_json(...)` (what `results.json` holds).

    Returns:
        Markdown: the health of the runs first, then per loss the mean and
        95% interval across seeds of each figure, the paired differences
        across seeds and the per-seed paired bootstrap.
    """
    losses, seeds, summary = record["losses"], record["seeds"], record["summary"]
    healthy = not record["warnings"]
    first_plan = record["runs"][losses[0]][str(seeds[0])]["plan"]
    lines = [
        f"{record['dataset']}: {len(seeds)} seed(s) ({', '.join(map(str, seeds))}), "
        f"mean [95% interval] across seeds. Plan ({first_plan['rule']}): "
        f"{first_plan['backbone']} width {first_plan['width']}, "
        f"{first_plan['image_size']}px, batch {first_plan['batch_size']}, "
        f"{first_plan['recipe']['epochs']} epochs = "
        f"{first_plan['total_steps']} steps, lr "
        f"{first_plan['recipe']['learning_rate']:g}.",
        "",
        *_health_lines(record),
        "Table 1: margin between median target and noise similarity (test set)",
        "",
        "| loss | T | margin |",
        "|---|---|---|",
    ]
    for loss in losses:
        temperature = record["runs"][loss][str(seeds[0])]["plan"]["recipe"][
            "temperature"
        ]
        lines.append(
            f"| {loss} | {temperature:g} | {_interval(summary[loss]['margin'])} |"
        )
    lines += [
        "",
        "Table 4: training loss, first and last epoch",
        "",
        "| loss | initial | final |",
        "|---|---|---|",
    ]
    lines += [
        f"| {loss} | {_interval(summary[loss]['loss_initial'])} | "
        f"{_interval(summary[loss]['loss_final'])} |"
        for loss in losses
    ]
    lines += [
        "",
        "Table 6: weighted kNN accuracy (%), test set; linear probe for reference",
        "",
        "| loss | 1NN | 5NN | linear probe |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {loss} | {_interval(summary[loss]['knn1'], 100, 2)} | "
        f"{_interval(summary[loss]['knn5'], 100, 2)} | "
        f"{_interval(summary[loss]['probe_accuracy'], 100, 2)} |"
        for loss in losses
    ]
    lines.append("")
    if len(losses) > 1:
        lines += _paired_lines(record, healthy)
        lines += _bootstrap_lines(record, healthy)
    return "\n".join(lines)
