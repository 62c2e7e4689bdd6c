"""The `keras-sincere` command: train, evaluate and compare contrastive losses.

    keras-sincere compare --dataset digits --losses sincere,supcon --output runs/
    keras-sincere train --dataset cifar10 --loss sincere --output runs/sincere
    keras-sincere evaluate --model runs/sincere/model.keras --dataset cifar10

The backend is chosen with `KERAS_BACKEND`, as for any Keras program. Defaults
follow the paper's recipe (appendix J) for the CIFAR datasets; the embedded
`digits` data gets a small budget that runs in minutes on a laptop CPU.
"""

import argparse
import dataclasses
import json
import math
import os
import pathlib
import sys
import time

LOSS_NAMES = ("sincere", "supcon", "eps", "infonce")
# Command-line names -> keras_sincere.recipes loss names.
_RECIPE_LOSS = {
    "sincere": "sincere",
    "supcon": "supcon",
    "eps": "epsilon_supinfonce",
    "infonce": "infonce",
}
# The small default budget of the embedded digits (the paper has none).
_DIGITS_BUDGET = {"epochs": 15, "width": 16, "backbone": "resnet18", "min_crop": 0.5}
_PAPER_BUDGET = {"width": 64, "backbone": "resnet50", "min_crop": 0.2}


def _add_training_arguments(parser):
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits (embedded, default), cifar10, cifar100, cifar2, or a "
        "PATH.npz with x_train, y_train, x_test, y_test",
    )
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--batch-size", type=int, help="default: the recipe's")
    parser.add_argument("--temperature", type=float, help="default: the recipe's")
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument(
        "--backbone",
        choices=("resnet18", "resnet34", "resnet50"),
        help="default: resnet50 (paper), resnet18 for digits",
    )
    parser.add_argument(
        "--width", type=int, help="ResNet base width: 64 (paper), 16 for digits"
    )
    parser.add_argument(
        "--min-crop",
        type=float,
        help="smallest random-crop area: 0.2 (paper), 0.5 for 8x8 digits",
    )
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--knn-every",
        type=int,
        default=0,
        help="log validation 1NN/5NN/margin every N epochs (0: never)",
    )
    parser.add_argument("--verbose", type=int, default=2, help="Keras fit verbosity")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-sincere` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="keras-sincere",
        description="Train and evaluate SINCERE / SupCon embeddings on any Keras "
        "backend (set KERAS_BACKEND).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train one loss and save DIR/model.keras")
    _add_training_arguments(train)
    train.add_argument("--loss", choices=LOSS_NAMES, default="sincere")
    train.add_argument("--output", default="runs/train", help="output folder")

    evaluate = commands.add_parser(
        "evaluate", help="kNN, margin, linear probe, histograms of a saved model"
    )
    evaluate.add_argument("--model", required=True, help="a saved model.keras")
    evaluate.add_argument("--dataset", default="digits")
    evaluate.add_argument("--image-size", type=int, default=32)
    evaluate.add_argument("--output", help="default: the model's folder")
    evaluate.add_argument("--probe-epochs", type=int, default=50)

    compare = commands.add_parser(
        "compare",
        help="train several losses with one seed and budget, print the paper's "
        "tables (1, 4, 6) and write results.json, table.md and Fig. 2",
    )
    _add_training_arguments(compare)
    compare.add_argument(
        "--losses",
        default="sincere,supcon",
        help="comma-separated: " + ",".join(LOSS_NAMES),
    )
    compare.add_argument("--output", default="runs/compare", help="output folder")
    compare.add_argument("--bootstrap", type=int, default=1000, help="resamples")
    return parser


@dataclasses.dataclass
class TrainingPlan:
    """Every setting of one training run, after defaults are resolved."""

    dataset: str
    loss: str
    epochs: int
    batch_size: int
    temperature: float
    learning_rate: float
    warmup_epochs: int
    momentum: float
    weight_decay: float
    backbone: str
    width: int
    min_crop: float
    image_size: int
    seed: int


def resolve_plan(args, loss: str) -> TrainingPlan:
    """Fills unset arguments from the paper's recipe (or the digits budget)."""
    from keras_sincere import recipes

    name = str(args.dataset)
    known = name in ("digits", "cifar10", "cifar100", "cifar2")
    recipe = recipes.paper_recipe(name if known else "cifar10", _RECIPE_LOSS[loss])
    budget = _DIGITS_BUDGET if name == "digits" or not known else _PAPER_BUDGET
    epochs = args.epochs or budget.get("epochs", recipe.epochs)
    # The warm-up keeps its share of the run when the budget is shortened.
    warmup = min(
        epochs - 1, max(1, round(recipe.warmup_epochs * epochs / recipe.epochs))
    )
    return TrainingPlan(
        dataset=name,
        loss=loss,
        epochs=epochs,
        batch_size=args.batch_size or recipe.batch_size,
        temperature=args.temperature or recipe.temperature,
        learning_rate=args.lr or recipe.learning_rate,
        warmup_epochs=max(0, warmup),
        momentum=recipe.momentum,
        weight_decay=recipe.weight_decay,
        backbone=args.backbone or budget["backbone"],
        width=args.width or budget["width"],
        min_crop=args.min_crop or budget["min_crop"],
        image_size=args.image_size,
        seed=args.seed,
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


def train_model(plan: TrainingPlan, data, verbose=2, knn_every=0):
    """Builds and trains a ContrastiveModel; returns it and the loss history."""
    import keras

    from keras_sincere import augment
    from keras_sincere import callbacks
    from keras_sincere import models
    from keras_sincere import schedules

    (x_train, y_train), (x_test, y_test) = data
    keras.utils.set_random_seed(plan.seed)
    encoder = getattr(models, plan.backbone)(
        x_train.shape[1:], stem="cifar", width=plan.width
    )
    model = models.ContrastiveModel(
        encoder,
        models.ProjectionHead(encoder.output_shape[-1], 128),
        augmenter=augment.simclr_augmenter(
            plan.image_size, scale=(plan.min_crop, 1.0), seed=plan.seed
        ),
    )
    batch_size = min(plan.batch_size, len(x_train))
    # fit() runs the last, partial batch too: the schedule must count it.
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    schedule = schedules.WarmupCosineDecay.from_epochs(
        plan.learning_rate,
        epochs=plan.epochs,
        steps_per_epoch=steps_per_epoch,
        warmup_epochs=plan.warmup_epochs,
    )
    optimizer = keras.optimizers.SGD(
        schedule, momentum=plan.momentum, weight_decay=plan.weight_decay
    )
    model.compile(optimizer=optimizer, loss=make_loss(plan.loss, plan.temperature))
    extra = []
    if knn_every:
        extra.append(
            callbacks.KNNMonitor(x_train, y_train, x_test, y_test, every=knn_every)
        )
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=plan.epochs,
        callbacks=extra,
        verbose=verbose,
    )
    return model, history.history


def evaluate_model(model, data, probe_epochs=50, seed=0):
    """The paper's measurements of one trained model on the test set.

    kNN and the target/noise similarities use the learned embedding space
    (the L2-normalised projections the loss was applied to, as the paper's
    Fig. 2 and Tables 1 and 6); the linear probe uses the frozen encoder
    features (appendix L).
    """
    from keras_sincere import evaluation

    (x_train, y_train), (x_test, y_test) = data
    train_embeddings = model.embed(x_train, batch_size=256)
    test_embeddings = model.embed(x_test, batch_size=256)
    target, noise = evaluation.nearest_target_noise(
        train_embeddings, y_train, test_embeddings, y_test
    )
    probe = evaluation.linear_probe(
        model.encode(x_train, batch_size=256),
        y_train,
        model.encode(x_test, batch_size=256),
        y_test,
        epochs=probe_epochs,
        seed=seed,
    )
    # One search per k gives both the accuracy and the bootstrap's input.
    correct = {
        f"_knn{k}_correct": evaluation.knn_correct(
            train_embeddings, y_train, test_embeddings, y_test, k=k
        )
        for k in (1, 5)
    }
    return {
        "knn1": float(correct["_knn1_correct"].mean()),
        "knn5": float(correct["_knn5_correct"].mean()),
        "margin": evaluation.separation_margin(target, noise),
        "per_class_margin": {
            str(k): v
            for k, v in evaluation.per_class_margins(target, noise, y_test).items()
        },
        "probe_accuracy": float(probe["accuracy"]),
        "_target": target,
        "_noise": noise,
        **correct,
    }


def _public(metrics):
    return {k: v for k, v in metrics.items() if not k.startswith("_")}


def _load(dataset, image_size):
    from keras_sincere import data

    print(f"loading {dataset} ...", flush=True)
    return data.load_dataset(dataset, image_size=image_size)


def run_train(args) -> int:
    import keras

    plan = resolve_plan(args, args.loss)
    data = _load(args.dataset, args.image_size)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    print(f"backend {keras.backend.backend()}; plan: {dataclasses.asdict(plan)}")
    model, history = train_model(plan, data, args.verbose, args.knn_every)
    model.save(output / "model.keras")
    record = {"plan": dataclasses.asdict(plan), "history": _floats(history)}
    (output / "train.json").write_text(json.dumps(record, indent=2))
    print(f"saved {output / 'model.keras'}")
    return 0


def run_evaluate(args) -> int:
    import keras

    import keras_sincere  # noqa: F401  (registers the saved classes)
    from keras_sincere import evaluation

    model = keras.models.load_model(args.model)
    data = _load(args.dataset, args.image_size)
    output = pathlib.Path(args.output or pathlib.Path(args.model).parent)
    output.mkdir(parents=True, exist_ok=True)
    metrics = evaluate_model(model, data, args.probe_epochs)
    picture = evaluation.plot_similarity_histograms(
        {
            pathlib.Path(args.model).parent.name or "model": (
                metrics["_target"],
                metrics["_noise"],
            )
        },
        output / "similarity_histograms.png",
    )
    (output / "evaluation.json").write_text(json.dumps(_public(metrics), indent=2))
    for key in ("knn1", "knn5", "margin", "probe_accuracy"):
        print(f"{key}: {metrics[key]:.4f}")
    print(f"wrote {output / 'evaluation.json'} and {picture}")
    return 0


def run_compare(args) -> int:
    import keras

    from keras_sincere import evaluation

    names = [name.strip() for name in args.losses.split(",") if name.strip()]
    unknown = sorted(set(names) - set(LOSS_NAMES))
    if unknown or not names:
        raise SystemExit(
            f"--losses: unknown {unknown or names}; choose from {list(LOSS_NAMES)}"
        )
    data = _load(args.dataset, args.image_size)
    output = pathlib.Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    results, similarities, correct = {}, {}, {}
    for name in names:
        plan = resolve_plan(args, name)
        print(
            f"\n== {name} on {plan.dataset} ({keras.backend.backend()}): "
            f"{plan.backbone} width {plan.width}, {plan.epochs} epochs, "
            f"batch {plan.batch_size}, T={plan.temperature}, lr={plan.learning_rate}",
            flush=True,
        )
        start = time.time()
        model, history = train_model(plan, data, args.verbose, args.knn_every)
        metrics = evaluate_model(model, data, seed=args.seed)
        losses = history["loss"]
        results[name] = {
            **_public(metrics),
            "loss_initial": float(losses[0]),
            "loss_final": float(losses[-1]),
            "kl_lower_bound_final": float(
                evaluation.kl_lower_bound(losses[-1], _noise_count(plan, data))
            ),
            "seconds": round(time.time() - start, 1),
            "plan": dataclasses.asdict(plan),
        }
        similarities[name] = (metrics["_target"], metrics["_noise"])
        correct[name] = (metrics["_knn1_correct"], metrics["_knn5_correct"])
    reference = names[0]
    results["bootstrap"] = {
        f"{reference}-{other}": {
            f"knn{k}": _floats(
                evaluation.paired_bootstrap(
                    correct[reference][i],
                    correct[other][i],
                    n=args.bootstrap,
                    seed=args.seed,
                )
            )
            for i, k in enumerate((1, 5))
        }
        for other in names[1:]
    }
    results["backend"] = keras.backend.backend()
    picture = evaluation.plot_similarity_histograms(
        similarities,
        output / "similarity_histograms.png",
        title=f"{args.dataset}: nearest target / noise similarity (test set)",
    )
    table = format_tables(results, names)
    print("\n" + table)
    (output / "table.md").write_text(table)
    (output / "results.json").write_text(json.dumps(_floats(results), indent=2))
    print(f"wrote {output / 'results.json'}, {output / 'table.md'}, {picture}")
    return 0


def _noise_count(plan, data):
    """Expected number of noise embeddings per anchor in a batch (|N|)."""
    import numpy as np

    labels = data[0][1]
    batch = min(plan.batch_size, len(labels))
    share = np.bincount(labels) / len(labels)
    same = float(np.sum(share**2))
    return max(1.0, 2 * batch * (1.0 - same))


def format_tables(results: dict, names: list[str]) -> str:
    """The paper's Tables 1, 4 and 6 as markdown, one row per loss."""
    lines = [
        "Table 1: margin between median target and noise similarity (test set)",
        "",
        "| loss | margin |",
        "|---|---|",
    ]
    lines += [f"| {n} | {results[n]['margin']:.3f} |" for n in names]
    lines += [
        "",
        "Table 4: training loss, first and last epoch",
        "",
        "| loss | initial | final |",
        "|---|---|---|",
    ]
    lines += [
        f"| {n} | {results[n]['loss_initial']:.3f} | {results[n]['loss_final']:.3f} |"
        for n in names
    ]
    lines += [
        "",
        "Table 6: weighted kNN accuracy (%), test set; linear probe for reference",
        "",
        "| loss | 1NN | 5NN | linear probe |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {100 * results[n]['knn1']:.2f} | {100 * results[n]['knn5']:.2f} "
        f"| {100 * results[n]['probe_accuracy']:.2f} |"
        for n in names
    ]
    if len(names) > 1:
        lines += [
            "",
            f"Accuracy difference vs {names[0]} (paired bootstrap, 95% interval)",
            "",
            "| pair | 1NN difference | 5NN difference |",
            "|---|---|---|",
        ]
        for pair, stats in results["bootstrap"].items():
            cells = []
            for k in ("knn1", "knn5"):
                s = stats[k]
                mark = " (significant)" if s["significant"] else ""
                cells.append(
                    f"{100 * s['difference']:+.2f} [{100 * s['low']:+.2f}, "
                    f"{100 * s['high']:+.2f}]{mark}"
                )
            lines.append(f"| {pair} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def _floats(value):
    """JSON-ready copy: numpy scalars and arrays to Python numbers and lists."""
    import numpy as np

    if isinstance(value, dict):
        return {str(k): _floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_floats(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-sincere` console script."""
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_sincere.data import DatasetDownloadError

    try:
        return {"train": run_train, "evaluate": run_evaluate, "compare": run_compare}[
            args.command
        ](args)
    except (DatasetDownloadError, FileNotFoundError, ValueError) as error:
        print(f"keras-sincere {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
