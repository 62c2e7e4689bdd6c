"""The `keras-sincere` commands as functions: each fills a run folder.

`train_to_folder`, `evaluate_saved_model` and `compare_to_folder` do what
`keras-sincere train`, `evaluate` and `compare` do, and return what they
measured with the paths of the files they wrote. Progress lines go to `log`
(`print` by default; `None` for silence). Every file is written atomically
(`run_files`), and `resume=True` continues an interrupted run after its
last finished epoch, provided the settings (plan, data, backend) are those
it started with.
"""

import dataclasses
import pathlib
import time

import numpy as np

from keras_sincere import run_files
from keras_sincere.experiments.comparison import Comparison
from keras_sincere.experiments.comparison import compare
from keras_sincere.experiments.comparison import log_resumption
from keras_sincere.experiments.comparison import print_nothing
from keras_sincere.experiments.inputs import fingerprint
from keras_sincere.experiments.inputs import load_data
from keras_sincere.experiments.inputs import prepare_labels
from keras_sincere.experiments.inputs import resize_data
from keras_sincere.experiments.measures import Evaluation
from keras_sincere.experiments.measures import evaluate
from keras_sincere.experiments.plans import PAPER_DATASETS
from keras_sincere.experiments.plans import PLAN_OVERRIDES
from keras_sincere.experiments.plans import plan_training
from keras_sincere.experiments.tables import format_comparison
from keras_sincere.experiments.training import RunResult
from keras_sincere.experiments.training import train_and_evaluate

HISTOGRAMS = "similarity_histograms.png"
EMBEDDING_MAPS = "embedding_maps.png"
_NO_FIGURE = "no figure (every run of the first seed diverged)"


@dataclasses.dataclass
class SavedRun:
    """A trained run and its folder (`train_to_folder`).

    Attributes:
        run: the `RunResult` (with the trained model).
        record: what `train.json` holds.
        model_path: the saved `model.keras`.
        record_path: the `train.json`.
    """

    run: RunResult
    record: dict
    model_path: pathlib.Path
    record_path: pathlib.Path


@dataclasses.dataclass
class SavedEvaluation:
    """A saved model's figures and where they were written.

    Attributes:
        evaluation: the `Evaluation`.
        record_path: `evaluation.json` (`evaluation.metrics`).
        figure_path: the nearest target / noise histograms.
    """

    evaluation: Evaluation
    record_path: pathlib.Path
    figure_path: pathlib.Path


@dataclasses.dataclass
class SavedComparison:
    """A comparison, its record and tables, and where they were written.

    Attributes:
        comparison: the `Comparison` (the last seed's models included).
        record: what `results.json` holds.
        table: the markdown tables (`format_comparison(record)`).
        results_path, table_path: `results.json` and `table.md`.
        figure_path: the first seed's histograms, or `None` when every run
            of that seed diverged.
        maps_path: the first seed's embedding maps (PCA of the test
            embeddings, one panel per loss, beside the histograms), or
            `None` likewise.
    """

    comparison: Comparison
    record: dict
    table: str
    results_path: pathlib.Path
    table_path: pathlib.Path
    figure_path: pathlib.Path | None
    maps_path: pathlib.Path | None = None

    def written(self) -> str:
        """The files written, as one line."""
        figures = [str(path) for path in (self.figure_path, self.maps_path) if path]
        return f"{self.results_path}, {self.table_path}, " + (
            ", ".join(figures) or _NO_FIGURE
        )


def default_seeds(dataset: str) -> list:
    """`[0]` for the paper's (large) datasets, `[0, 1, 2]` for any other."""
    return [0] if str(dataset).lower() in PAPER_DATASETS else [0, 1, 2]


def load_prepared(dataset: str, log=print):
    """`(splits, classes)` at the native size, labels mapped (`prepare_labels`)."""
    (log or print_nothing)(f"loading {dataset} ...", flush=True)
    return prepare_labels(load_data(dataset))


def _backend() -> str:
    import keras

    return keras.backend.backend()


def train_to_folder(
    dataset: str,
    loss: str = "sincere",
    output="runs/train",
    seed: int = 0,
    *,
    overwrite: bool = False,
    resume: bool = False,
    verbose=0,
    knn_every: int = 0,
    probe_epochs: int = 50,
    log=print,
    **overrides,
) -> SavedRun:
    """Trains one loss with one seed; saves `model.keras` and `train.json`.

    Args:
        dataset: `"digits"`, a paper dataset or an `.npz` path.
        loss: any name `keras_sincere.losses.get` accepts.
        output: the run folder (created; see `run_files.prepare_output_folder`).
        seed: seed of weights, augmentation and data order.
        overwrite: replace a run already in `output`.
        resume: continue the interrupted run in `output`.
        verbose: Keras `fit` verbosity.
        knn_every: log validation kNN every this many epochs (0: never).
        probe_epochs: epochs of the linear probe.
        log: where progress lines go.
        **overrides: `plan_training` overrides (`epochs`, `batch_size`, ...).

    Returns:
        A `SavedRun`.
    """
    log = log or print_nothing
    native, classes = load_prepared(dataset, log)
    (x_train, _), _ = native
    plan = plan_training(
        dataset, loss, len(x_train), x_train.shape[1], seed, **overrides
    )
    data = resize_data(native, plan.image_size)
    folder = run_files.prepare_output_folder(output, overwrite, resume)
    settings = {
        "command": "train",
        "loss": plan.recipe.loss,
        "plan": plan.to_json(),
        "data": fingerprint(native),
        "backend": _backend(),
    }
    checkpoint = run_files.EpochCheckpoint(
        run_files.start_or_resume(folder, settings) / f"{plan.recipe.loss}-seed{seed}"
    )
    log(f"backend {_backend()}; {plan.describe()}", flush=True)
    log_resumption(checkpoint, plan, log)
    run = train_and_evaluate(
        plan, data, verbose, knn_every, probe_epochs, checkpoint=checkpoint
    )
    for warning in run.warnings:
        log(f"warning: {warning}")
    model_path = run_files.save_model_or_keep_it(run.model, folder / "model.keras")
    record = {**run.to_json(data[0][1]), "history": run.history, "classes": classes}
    record_path = run_files.write_json_atomically(folder / "train.json", record)
    run_files.finish(folder)
    return SavedRun(run, record, model_path, record_path)


def evaluation_image_size(model, model_path, image_size: int | None = None) -> int:
    """The side to evaluate a saved model at.

    `image_size` when given; else the size it was trained at (`train.json`
    beside the model); else its encoder's input side; else 32.
    """
    if image_size:
        return image_size
    record = pathlib.Path(model_path).parent / "train.json"
    if record.is_file():
        trained = run_files.read_json(record).get("plan", {}).get("image_size")
        if trained:
            return trained
    shape = getattr(getattr(model, "encoder", None), "input_shape", None)
    return shape[1] if shape is not None and len(shape) == 4 else 32


def evaluate_saved_model(
    model_path,
    dataset: str = "digits",
    image_size: int | None = None,
    output=None,
    probe_epochs: int = 50,
) -> SavedEvaluation:
    """kNN, margin, linear probe and histograms of a saved model.

    Args:
        model_path: a `model.keras` saved by `train_to_folder` (or any
            `ContrastiveModel`).
        dataset: the data whose test split is measured.
        image_size: see `evaluation_image_size`.
        output: folder of `evaluation.json` and the histograms (default:
            the model's folder).
        probe_epochs: epochs of the linear probe.

    Returns:
        A `SavedEvaluation`.
    """
    import keras

    # The classes a saved model names are registered when their modules are
    # imported (the command imports the package lazily).
    from keras_sincere import augment  # noqa: F401
    from keras_sincere import evaluation
    from keras_sincere import losses  # noqa: F401
    from keras_sincere import models  # noqa: F401
    from keras_sincere import schedules  # noqa: F401

    model = keras.models.load_model(model_path)
    data = load_data(dataset, evaluation_image_size(model, model_path, image_size))
    folder = pathlib.Path(output or pathlib.Path(model_path).parent)
    if output:
        folder = run_files.prepare_output_folder(folder, overwrite=True)
    result = evaluate(model, data, probe_epochs)
    name = pathlib.Path(model_path).parent.name or "model"
    figure = run_files.write_atomically(
        folder / HISTOGRAMS,
        lambda path: evaluation.plot_similarity_histograms(
            {name: (result.target, result.noise)}, path
        ),
    )
    record = run_files.write_json_atomically(folder / "evaluation.json", result.metrics)
    return SavedEvaluation(result, record, figure)


def compare_to_folder(
    dataset: str,
    losses=("sincere", "supcon"),
    output="runs/compare",
    seeds=None,
    *,
    overwrite: bool = False,
    resume: bool = False,
    log=print,
    **options,
) -> SavedComparison:
    """`compare`, then `results.json`, `table.md` and the histograms.

    Args:
        dataset: `"digits"`, a paper dataset or an `.npz` path.
        losses: loss names (`losses.get`'s); the first is the reference.
        output: the run folder. Each run's checkpoints and results live in
            `output/checkpoints/` until every file is written.
        seeds: the seeds, or `None` for `default_seeds(dataset)`.
        overwrite: replace a run already in `output`.
        resume: continue the interrupted comparison in `output`.
        log: where progress lines go.
        **options: `compare`'s `verbose`, `knn_every`, `probe_epochs`,
            `bootstrap_resamples`, and the `plan_training` overrides.

    Returns:
        A `SavedComparison`.
    """
    from keras_sincere.losses import canonical_name

    start = time.time()
    log = log or print_nothing
    losses = [canonical_name(loss) for loss in losses]
    native, classes = load_prepared(dataset, log)
    seeds = list(default_seeds(dataset) if seeds is None else seeds)
    folder = run_files.prepare_output_folder(output, overwrite, resume)
    settings = {
        "command": "compare",
        "dataset": str(dataset),
        "losses": losses,
        "seeds": seeds,
        "plan": {key: options.get(key) for key in PLAN_OVERRIDES},
        "data": fingerprint(native),
        "backend": _backend(),
    }
    checkpoints = run_files.start_or_resume(folder, settings)
    log(
        f"backend {_backend()}; losses {','.join(losses)}; "
        f"seeds {','.join(map(str, seeds))}",
        flush=True,
    )
    result = compare(
        dataset, losses, seeds, native, log=log, checkpoints=checkpoints, **options
    )
    record = result.to_json(native[0][1])
    record.update(
        backend=_backend(), classes=classes, wall_seconds=round(time.time() - start, 1)
    )
    return _save_comparison(result, record, folder)


def _save_comparison(result: Comparison, record: dict, folder) -> SavedComparison:
    """Writes the histograms, `table.md` and `results.json`; ends the run."""
    from keras_sincere import evaluation

    first_runs = {loss: runs[0] for loss, runs in result.runs.items()}
    panels = {
        loss: (run.evaluation.target, run.evaluation.noise)
        for loss, run in first_runs.items()
        if not run.evaluation.diverged
    }
    figure = maps = None
    if panels:
        title = (
            f"{result.dataset}: nearest target / noise similarity (test set), "
            f"seed {result.seeds[0]} ({record['backend']})"
        )
        figure = run_files.write_atomically(
            folder / HISTOGRAMS,
            lambda path: evaluation.plot_similarity_histograms(
                panels, path, title=title
            ),
        )
        embeddings = {
            loss: first_runs[loss].evaluation.test_embeddings for loss in panels
        }
        if all(values is not None for values in embeddings.values()):
            labels = first_runs[next(iter(panels))].evaluation.test_labels
            if labels is not None and np.ndim(labels) == 2:
                # Label sets: one colour per distinct set.
                labels = np.unique(labels, axis=0, return_inverse=True)[1].reshape(-1)
            maps = run_files.write_atomically(
                folder / EMBEDDING_MAPS,
                lambda path: evaluation.plot_embedding_map(
                    embeddings,
                    labels,
                    path,
                    title=f"{result.dataset}: test embeddings, seed "
                    f"{result.seeds[0]} ({record['backend']})",
                ),
            )
    table = format_comparison(record)
    table_path = run_files.write_text_atomically(folder / "table.md", table)
    results_path = run_files.write_json_atomically(folder / "results.json", record)
    run_files.finish(folder)
    return SavedComparison(
        result, record, table, results_path, table_path, figure, maps
    )
