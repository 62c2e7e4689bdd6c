"""Training plans: the paper's recipe for its datasets, the small-data plan else.

Keras (and the modules that import it) are imported by the functions that
need them, so that the command line parses its arguments without it.
"""

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keras_sincere.recipes import Recipe

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

# What a plan's caller may set, in the order the command line records them.
PLAN_OVERRIDES = (
    "epochs",
    "batch_size",
    "temperature",
    "learning_rate",
    "backbone",
    "width",
    "min_crop",
    "image_size",
    "head_batch_norm",
    "memory_size",
    "memory_warmup_steps",
)


@dataclasses.dataclass(frozen=True)
class TrainingPlan:
    """Every setting of one training run, after defaults are resolved.

    The hyperparameters of the optimisation (loss, temperature, learning
    rate, schedule, epochs, batch) are the `recipe`'s, which also builds the
    optimizer and the loss; the plan adds the model, the images and the seed.

    Attributes:
        recipe: optimiser, schedule, loss, temperature and budget (`Recipe`).
        backbone: `"resnet18"`, `"resnet34"` or `"resnet50"`.
        width: base width of the ResNet.
        min_crop: smallest random-crop area, as a fraction of the image.
        image_size: side of the square images the model sees.
        seed: seed of weights, augmentation and data order.
        train_size: number of training images.
        rule: `"paper"` (appendix J) or `"small-data"`.
        head_batch_norm: batch-normalise the projection head's hidden layer.
        memory_size: slots of the model's cross-batch memory (0: none).
        memory_warmup_steps: train steps before the loss uses the memory.
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
    memory_size: int = 0
    memory_warmup_steps: int = 0

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

    @property
    def memory_epoch(self) -> int:
        """The first epoch (from 0) whose every step uses the memory.

        The loss changes there: each softmax gains the memory's noise. 0
        without a memory.
        """
        if not self.memory_size:
            return 0
        first = math.ceil(self.memory_warmup_steps / self.steps_per_epoch)
        return min(self.recipe.epochs - 1, first)

    def optimizer(self):
        """The recipe's optimizer for this plan's steps per epoch."""
        return self.recipe.optimizer(self.steps_per_epoch)

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
            f"seed {self.seed}{self._describe_memory()}"
        )

    def _describe_memory(self) -> str:
        if not self.memory_size:
            return ""
        return (
            f", memory {self.memory_size} embeddings (used from step "
            f"{self.memory_warmup_steps + 1})"
        )

    def to_json(self) -> dict:
        record = dataclasses.asdict(self)
        record.update(
            batch_size=self.batch_size,
            steps_per_epoch=self.steps_per_epoch,
            total_steps=self.total_steps,
        )
        return record


def small_data_batch_size(train_size: int) -> int:
    """The small-data plan's batch: a power of two with several steps an epoch.

    The largest power of two that leaves at least `MIN_STEPS_PER_EPOCH`
    steps per epoch, between `SMALL_DATA_MIN_BATCH` and
    `SMALL_DATA_MAX_BATCH` (never more than the data): 16 for 150 images,
    64 for the 1,438 digits.

    Example:

    >>> small_data_batch_size(150), small_data_batch_size(1438)
    (16, 64)
    """
    target = max(1, train_size // MIN_STEPS_PER_EPOCH)
    batch = 2 ** int(math.floor(math.log2(target)))
    batch = max(SMALL_DATA_MIN_BATCH, min(SMALL_DATA_MAX_BATCH, batch))
    return min(batch, train_size)


def _checked_overrides(overrides: dict) -> dict:
    """Every name of `PLAN_OVERRIDES`, `None` where not given, checked."""
    # Imported here: `_validation` imports Keras, which `--help` must not.
    from keras_sincere._validation import check_bool
    from keras_sincere._validation import check_integer
    from keras_sincere._validation import check_number
    from keras_sincere._validation import check_positive

    unknown = sorted(set(overrides) - set(PLAN_OVERRIDES))
    if unknown:
        raise TypeError(
            f"Unknown plan override(s) {unknown}; expected {list(PLAN_OVERRIDES)}."
        )
    checked = dict.fromkeys(PLAN_OVERRIDES)
    checked.update(overrides)
    for name in ("epochs", "batch_size", "width", "image_size"):
        checked[name] = check_integer(checked[name], name, allow_none=True)
    for name in ("memory_size", "memory_warmup_steps"):
        checked[name] = check_integer(checked[name], name, minimum=0, allow_none=True)
    for name in ("temperature", "learning_rate"):
        if checked[name] is not None:
            checked[name] = check_positive(checked[name], name)
    if checked["min_crop"] is not None:
        checked["min_crop"] = check_number(
            checked["min_crop"], "min_crop", 0.0, 1.0, exclusive_minimum=True
        )
    if checked["head_batch_norm"] is not None:
        checked["head_batch_norm"] = check_bool(
            checked["head_batch_norm"], "head_batch_norm"
        )
    return checked


def _paper_plan(dataset: str, loss: str, overrides: dict):
    """Appendix J's recipe, its model and image size; a given batch rescales
    the learning rate (unless that is given too)."""
    from keras_sincere.recipes import paper_recipe

    recipe = paper_recipe(dataset, loss)
    batch_size = overrides["batch_size"]
    if batch_size:
        recipe = dataclasses.replace(
            recipe,
            batch_size=batch_size,
            learning_rate=_PAPER_LEARNING_RATE * batch_size / _PAPER_BATCH,
        )
    return recipe, _PAPER_MODEL, "paper", 32


def _small_data_plan(
    dataset: str, loss: str, train_size: int, native_size: int, overrides: dict
):
    """The small-data recipe, its model and image size (see `plan_training`)."""
    from keras_sincere.recipes import Recipe

    batch = overrides["batch_size"] or small_data_batch_size(train_size)
    steps = math.ceil(train_size / min(batch, train_size))
    recipe = Recipe(
        dataset=dataset,
        loss=loss,
        temperature=SMALL_DATA_TEMPERATURE,
        learning_rate=_PAPER_LEARNING_RATE * batch / _PAPER_BATCH,
        epochs=math.ceil(MIN_STEPS / steps),
        batch_size=batch,
        # Set from the epochs by `plan_training`; the Recipe default (10 of
        # the paper's 800) is more than a short small-data run has.
        warmup_epochs=0,
    )
    image_size = min(native_size, MAX_SMALL_DATA_IMAGE_SIDE)
    return recipe, _SMALL_DATA_MODEL, "small-data", image_size


def plan_training(
    dataset: str,
    loss: str,
    train_size: int,
    native_image_size: int,
    seed: int = 0,
    **overrides,
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

    **A cross-batch memory** (`memory_size`, no memory by default) is used
    from the end of the learning-rate warm-up on unless
    `memory_warmup_steps` says otherwise: the embeddings change fastest in
    the first steps, when a memory's keys are the most out of date.

    Args:
        dataset: dataset name or `.npz` path (only the paper's names matter).
        loss: any name `keras_sincere.losses.get` accepts (`"sincere"`,
            `"supcon"`, `"epsilon_supinfonce"` or `"eps"`, `"infonce"`); the
            plan keeps the canonical one.
        train_size: number of training images.
        native_image_size: side of the images as loaded.
        seed: seed of the run.
        **overrides: any of `PLAN_OVERRIDES` (`epochs`, `batch_size`,
            `temperature`, `learning_rate`, `backbone`, `width`, `min_crop`,
            `image_size`, `head_batch_norm`, `memory_size`,
            `memory_warmup_steps`); `None` keeps the plan's value. Counts are
            integers >= 1 (the memory's >= 0), `temperature` and
            `learning_rate` numbers > 0, `min_crop` in (0, 1].

    Returns:
        A frozen `TrainingPlan`.

    Example:

    >>> plan = plan_training("digits", "eps", train_size=1438, native_image_size=8)
    >>> plan.recipe.loss, plan.batch_size, plan.image_size, plan.total_steps
    ('epsilon_supinfonce', 64, 8, 414)
    """
    from keras_sincere._validation import check_integer

    overrides = _checked_overrides(overrides)
    name = str(dataset).lower()
    if name in PAPER_DATASETS:
        recipe, model, rule, image_size = _paper_plan(name, loss, overrides)
    else:
        recipe, model, rule, image_size = _small_data_plan(
            name, loss, train_size, native_image_size, overrides
        )
    epochs = overrides["epochs"] or recipe.epochs
    # The warm-up keeps the paper's share of the run (10 of 800 epochs).
    warmup = min(epochs - 1, max(1, round(10 * epochs / 800)))
    recipe = dataclasses.replace(
        recipe,
        epochs=epochs,
        warmup_epochs=max(0, warmup),
        temperature=overrides["temperature"] or recipe.temperature,
        learning_rate=overrides["learning_rate"] or recipe.learning_rate,
    )
    train_size = check_integer(train_size, "train_size")
    memory_warmup = overrides["memory_warmup_steps"]
    if memory_warmup is None:
        batch = min(recipe.batch_size, train_size)
        memory_warmup = recipe.warmup_epochs * math.ceil(train_size / batch)
    return TrainingPlan(
        recipe=recipe,
        backbone=overrides["backbone"] or model["backbone"],
        width=overrides["width"] or model["width"],
        min_crop=overrides["min_crop"] or model["min_crop"],
        image_size=overrides["image_size"] or image_size,
        seed=check_integer(seed, "seed", minimum=0),
        train_size=train_size,
        rule=rule,
        head_batch_norm=bool(overrides["head_batch_norm"]),
        memory_size=overrides["memory_size"] or 0,
        memory_warmup_steps=memory_warmup if overrides["memory_size"] else 0,
    )
