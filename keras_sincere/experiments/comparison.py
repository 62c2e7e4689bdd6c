"""Every loss trained once per seed with one plan, and the statistics across seeds."""

import dataclasses
import pathlib
from collections.abc import Sequence

import numpy as np

from keras_sincere.experiments.inputs import load_data
from keras_sincere.experiments.inputs import prepare_labels
from keras_sincere.experiments.inputs import resize_data
from keras_sincere.experiments.measures import RETRIEVAL_FIGURES
from keras_sincere.experiments.measures import is_finite
from keras_sincere.experiments.plans import TrainingPlan
from keras_sincere.experiments.plans import plan_training
from keras_sincere.experiments.training import RunResult
from keras_sincere.experiments.training import train_and_evaluate

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
                for key in SEEDED_FIGURES + ("loss_initial",) + RETRIEVAL_FIGURES
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
                str(run.plan.seed): run.to_json(train_labels) for run in self.runs[loss]
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
    if all(map(is_finite, figures)):
        return statistic(*figures)
    nan = float("nan")
    return {
        **dict.fromkeys(("mean", "low", "high", "half_width", "std"), nan),
        "n": len(figures[0]),
        "wins": None,
        "significant": False,
        "diverged": True,
    }


def _figure(run: RunResult, key: str) -> float:
    if key in ("loss_final", "loss_initial"):
        losses = run.history["loss"]
        return float(losses[-1] if key == "loss_final" else losses[0])
    # Runs saved before a figure existed (resumed comparisons) lack it.
    return float(run.evaluation.metrics.get(key, float("nan")))


# `compare`'s keyword arguments that go to `train_and_evaluate`; the others
# are `plan_training` overrides.
RUN_OPTIONS = ("verbose", "knn_every", "probe_epochs")


def compare(
    dataset: str,
    losses: Sequence[str] = ("sincere", "supcon"),
    seeds: Sequence[int] = (0, 1, 2),
    data=None,
    *,
    bootstrap_resamples: int = 1000,
    log=print,
    checkpoints=None,
    **options,
) -> Comparison:
    """Trains every loss once per seed with the same plan; measures each run.

    Args:
        dataset: `"digits"`, a paper dataset or an `.npz` path.
        losses: loss names, any `keras_sincere.losses.get` accepts (`"eps"`
            too); the results use the canonical names. The first is the
            reference of the paired tests.
        seeds: one run of each loss per seed.
        data: already loaded `((x_train, y_train), (x_test, y_test))` at
            the native size, or `None` to load `dataset`.
        bootstrap_resamples: resamples of the per-seed paired bootstrap.
        log: where progress lines go (`print`; `None` for silence).
        checkpoints: optional folder. Each run keeps its epoch checkpoints
            and, once measured, its results in `LOSS-seedN/` there; calling
            `compare` again with the same folder and arguments loads the
            finished runs and resumes the interrupted one.
        **options: `train_and_evaluate`'s `verbose` (Keras `fit` verbosity,
            default 0), `knn_every` (log validation kNN every this many
            epochs; default 0, never) and `probe_epochs` (default 50); the
            other names are `plan_training` overrides (`epochs`,
            `batch_size`, ...).

    Returns:
        A `Comparison`.
    """
    import keras

    from keras_sincere._validation import check_integer

    log = log or print_nothing
    # Reusing a compiled model saves a compilation per seed, and on
    # TensorFlow it reproduces a new model exactly (tested). On JAX and
    # PyTorch a reused model does not see exactly the random draws of a new
    # one, so there each seed gets a new model.
    reuse_models = keras.backend.backend() == "tensorflow"
    native, _ = prepare_labels(data if data is not None else load_data(dataset))
    run_options = {"verbose": 0, "probe_epochs": 50}
    run_options.update({k: options.pop(k) for k in RUN_OPTIONS if k in options})
    plans = _plans(dataset, losses, native, options)
    at_size = _data_at_sizes(native)
    seeds = [check_integer(seed, "seed", minimum=0) for seed in seeds]
    runs = {loss: [] for loss in plans}
    for seed in seeds:
        for loss, plan in plans.items():
            plan = dataclasses.replace(plan, seed=seed)
            previous = runs[loss][-1] if runs[loss] and reuse_models else None
            sized = at_size(plan.image_size)
            run = _measured_run(plan, sized, previous, checkpoints, log, **run_options)
            _log_run(run, log)
            runs[loss].append(run)
    return Comparison(str(dataset), list(plans), seeds, runs, bootstrap_resamples)


def print_nothing(*args, **kwargs) -> None:
    """The `log` used for `log=None`: takes `print`'s arguments, prints nothing."""
    return None


def _plans(dataset, losses, native, overrides) -> dict:
    """`{canonical loss name: plan}`, in the order given; no loss twice."""
    (x_train, _), _ = native
    plans = [
        plan_training(dataset, loss, len(x_train), x_train.shape[1], **overrides)
        for loss in losses
    ]
    names = [plan.recipe.loss for plan in plans]
    if not names or len(set(names)) != len(names):
        raise ValueError(
            "`losses` must name one loss or more, each once. "
            f"Received: losses={list(losses)!r}"
        )
    return dict(zip(names, plans, strict=True))


def _data_at_sizes(native):
    """A function of an image side: the splits at that side, resized once."""
    resized = {native[0][0].shape[1]: native}

    def at_size(image_size):
        if image_size not in resized:
            resized[image_size] = resize_data(native, image_size)
        return resized[image_size]

    return at_size


def _measured_run(plan, data, previous, checkpoints, log, **options) -> RunResult:
    """The run of `plan`: loaded when it finished before, trained otherwise.

    Trains `previous.model` again when given (see `train`'s `reuse`); with
    `checkpoints`, resumes from and saves to its folder there.
    """
    from keras_sincere import run_files

    log(f"\n== {plan.describe()}", flush=True)
    folder = checkpoint = None
    if checkpoints is not None:
        folder = pathlib.Path(checkpoints) / f"{plan.recipe.loss}-seed{plan.seed}"
        run = RunResult.load(folder, plan)
        if run is not None:
            log(f"   {run.loss} seed {plan.seed}: finished before, loaded", flush=True)
            return run
        checkpoint = run_files.EpochCheckpoint(folder)
        log_resumption(checkpoint, plan, log, indent="   ")
    reuse = previous.model if previous and previous.model else None
    run = train_and_evaluate(plan, data, reuse=reuse, checkpoint=checkpoint, **options)
    if reuse is not None:
        previous.model = None  # it now holds this seed's weights
    if folder is not None:
        run.save(folder)
        for weights in folder.glob("epoch-*.weights.h5"):
            weights.unlink()  # the results are what resuming needs
    return run


def log_resumption(checkpoint, plan: TrainingPlan, log, indent: str = "") -> None:
    """Logs the epoch a run resumes after, if it resumes."""
    done = checkpoint.state()["epochs"]
    if done:
        log(f"{indent}resuming after epoch {done} of {plan.recipe.epochs}", flush=True)


def _log_run(run: RunResult, log) -> None:
    metrics, seed = run.evaluation.metrics, run.plan.seed
    history = run.history["loss"]
    log(
        f"   {run.loss} seed {seed}: margin {metrics['margin']:.3f}, loss "
        f"{history[0]:.3f} -> {history[-1]:.3f}, "
        f"1NN {100 * metrics['knn1']:.2f}%, {run.seconds:.0f} s",
        flush=True,
    )
    for warning in run.warnings:
        log(f"   warning: {run.loss} seed {seed}: {warning}", flush=True)
