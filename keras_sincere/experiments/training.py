"""One training run of a plan: the model, the epochs, the checkpoints, the figures."""

import dataclasses
import json
import pathlib
import time

import numpy as np

from keras_sincere.experiments.measures import Evaluation
from keras_sincere.experiments.measures import divergence_warning
from keras_sincere.experiments.measures import evaluate
from keras_sincere.experiments.measures import is_finite
from keras_sincere.experiments.measures import noise_count
from keras_sincere.experiments.measures import training_health
from keras_sincere.experiments.plans import TrainingPlan


def build_model(plan: TrainingPlan, image_shape: tuple, label_classes=None):
    """The `ContrastiveModel` of a plan: ResNet, projection head, SimCLR views.

    `label_classes`: the `C` of multi-hot training labels `(N, C)` (the
    memory then holds label sets), or `None` for integer labels.
    """
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
        memory_size=plan.memory_size,
        memory_warmup_steps=plan.memory_warmup_steps,
        memory_label_classes=label_classes if plan.memory_size else None,
    )


def epoch_order(size: int, seed: int, epoch: int) -> np.ndarray:
    """The order training examples are seen in one epoch of one seed.

    A function of `(seed, epoch)` alone, so that training resumed at any
    epoch sees the batches an uninterrupted run sees.

    Example:

    >>> sorted(epoch_order(5, seed=0, epoch=3).tolist())
    [0, 1, 2, 3, 4]
    """
    return np.random.default_rng([seed, epoch]).permutation(size)


def train(
    plan: TrainingPlan,
    data,
    verbose=2,
    callbacks=(),
    reuse=None,
    checkpoint=None,
    loss=None,
):
    """Builds and trains the model of `plan`; returns it and its loss history.

    The optimizer and the loss are the plan's recipe's
    (`plan.optimizer()`, `plan.recipe.build_loss()`). Each epoch shuffles
    the training set with `epoch_order(n, seed, epoch)` and fits one epoch;
    with a `checkpoint`, the state after each epoch is saved, and training
    starts after the last saved epoch. A resumed run ends with the weights
    of an uninterrupted one (tested through the CLI).

    Args:
        plan: a `TrainingPlan`.
        data: `((x_train, y_train), (x_test, y_test))` at `plan.image_size`.
        verbose: Keras `fit` verbosity.
        callbacks: extra Keras callbacks.
        reuse: optional model returned by an earlier `train` of the same plan
            with another seed. It is reset to exactly the state a new model
            of `plan.seed` starts from (weights, augmentation random state,
            optimizer) and trained again, which keeps its compiled train
            step, and on TensorFlow the result equals that of a new model
            (tested). On JAX and PyTorch it does not: the random draws of a
            reused model differ from a new one's, so `compare` uses it on
            TensorFlow only.
        checkpoint: optional `run_files.EpochCheckpoint` to resume from and
            save to.
        loss: optional loss object to train with instead of the recipe's
            (for example the recipe's loss with a `chunk_size`).

    Returns:
        `(model, history)`: the trained `ContrastiveModel` and the `fit`
        history (`{"loss": [...], ...}`) of every epoch, resumed ones too.
    """
    import keras

    # Imported here: `_validation` imports Keras, which `--help` must not.
    from keras_sincere._validation import label_set_classes

    (x_train, y_train), _ = data
    keras.utils.set_random_seed(plan.seed)
    label_classes = label_set_classes(np.shape(y_train))
    model = build_model(plan, x_train.shape[1:], label_classes)
    if reuse is None:
        model.compile(
            optimizer=plan.optimizer(),
            loss=plan.recipe.build_loss() if loss is None else loss,
        )
    else:
        _copy_state(model, reuse)
        model = reuse
    done, history = 0, {}
    if checkpoint is not None:
        state = checkpoint.restore(model)
        done, history = state["epochs"], state["history"]
    _fit_epochs(model, plan, data, done, history, verbose, callbacks, checkpoint)
    return model, history


def _fit_epochs(model, plan, data, done, history, verbose, callbacks, checkpoint):
    """Fits the epochs after `done`, one at a time, in `epoch_order`."""
    (x_train, y_train), _ = data
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


def _json_number(value):
    """numpy scalars and arrays for `json.dumps` (NaN figures stay NaN)."""
    return value.tolist() if isinstance(value, np.ndarray) else value.item()


@dataclasses.dataclass
class RunResult:
    """One loss trained with one seed: its plan, history, figures and health.

    Attributes:
        model: the trained `ContrastiveModel`. In a `Comparison` on
            TensorFlow, one model serves every seed of a loss (it is compiled
            once), so only the last seed's run keeps it; the others hold
            `None`, as do runs loaded from a folder.
        plan: the `TrainingPlan`; its recipe names the loss.
        history: the `fit` history of every epoch (`{"loss": [...]}`).
        evaluation: the figures of the trained model (`Evaluation`).
        warnings: the health warnings (`training_health`).
        seconds: wall time of training and evaluation.
        train_seconds: wall time of training alone (compiling included).
    """

    model: object
    plan: TrainingPlan
    history: dict
    evaluation: Evaluation
    warnings: list
    seconds: float
    train_seconds: float | None = None

    @property
    def loss(self) -> str:
        """The canonical name of the loss (`plan.recipe.loss`)."""
        return self.plan.recipe.loss

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
        if self.evaluation.test_embeddings is not None:
            arrays["test_embeddings"] = self.evaluation.test_embeddings
            arrays["test_labels"] = self.evaluation.test_labels
        run_files.write_atomically(
            folder / "evaluation.npz", lambda path: np.savez(path, **arrays)
        )
        record = {
            "metrics": self.evaluation.metrics,
            "history": self.history,
            "warnings": self.warnings,
            "seconds": self.seconds,
            "train_seconds": self.train_seconds,
        }
        run_files.write_text_atomically(
            folder / "result.json", json.dumps(record, default=_json_number)
        )

    @classmethod
    def load(cls, folder, plan: TrainingPlan):
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
                arrays["test_embeddings"] if "test_embeddings" in arrays else None,
                arrays["test_labels"] if "test_labels" in arrays else None,
            )
        return cls(
            None,
            plan,
            record["history"],
            evaluation,
            record["warnings"],
            record["seconds"],
            record.get("train_seconds"),
        )

    def to_json(self, train_labels) -> dict:
        """The record of the run in `train.json` and `results.json`.

        Args:
            train_labels: the training labels, for the expected number of
                noise embeddings per anchor (`noise_count`) and the KL
                bound of the final loss.
        """
        from keras_sincere import evaluation

        losses = self.history["loss"]
        noise = noise_count(self.plan.batch_size, train_labels, self.plan.memory_size)
        return {
            **self.evaluation.metrics,
            "loss_initial": float(losses[0]),
            "loss_final": float(losses[-1]),
            "loss_history": [float(x) for x in losses],
            "noise_count": noise,
            "kl_lower_bound_final": float(evaluation.kl_lower_bound(losses[-1], noise)),
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 1),
            "seconds_per_step": (
                None
                if self.train_seconds is None
                else self.train_seconds / self.plan.total_steps
            ),
            "plan": self.plan.to_json(),
        }


def train_and_evaluate(
    plan: TrainingPlan,
    data,
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
        verbose: Keras `fit` verbosity.
        knn_every: log validation kNN and margin every this many epochs
            (`KNNMonitor`); 0 for never.
        probe_epochs: epochs of the linear probe.
        reuse: a model to reset and train again (see `train`).
        checkpoint: a `run_files.EpochCheckpoint` to resume from and save to.

    Returns:
        A `RunResult`; a run whose loss or weights are not finite is kept
        with NaN figures and a divergence warning.
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
        plan, data, verbose, monitors, reuse=reuse, checkpoint=checkpoint
    )
    train_seconds = time.time() - start
    if is_finite(history["loss"]) and all(map(is_finite, model.get_weights())):
        result = evaluate(model, data, probe_epochs=probe_epochs, seed=plan.seed)
        # With a memory, the loss gains the memory's noise from
        # `plan.memory_epoch` on: its fall is measured from there.
        losses = history["loss"][plan.memory_epoch :]
        warnings = training_health(losses, plan.total_steps, result.metrics)
    else:
        result = Evaluation.of_diverged_model(data[1][1])
        warnings = [divergence_warning(history["loss"])]
    return RunResult(
        model, plan, history, result, warnings, time.time() - start, train_seconds
    )
