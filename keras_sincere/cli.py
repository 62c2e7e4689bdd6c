"""The `keras-sincere` command: train, evaluate and compare contrastive losses.

    keras-sincere compare --dataset digits --losses sincere,supcon --output runs/
    keras-sincere train --dataset cifar10 --loss sincere --output runs/sincere
    keras-sincere evaluate --model runs/sincere/model.keras --dataset cifar10

The backend is chosen with `KERAS_BACKEND`, as for any Keras program. The
work is done by `keras_sincere.experiments`; this module parses arguments
(before Keras is imported, so `--help` is instant), calls it and prints.
"""

import argparse
import json
import math
import os
import pathlib
import sys
import time

from keras_sincere import experiments
from keras_sincere import run_files

LOSS_NAMES = experiments.LOSS_NAMES
_PLAN_DEFAULTS = (
    "digits and .npz data: the small-data plan; cifar10/cifar100/cifar2: "
    "the paper's recipe"
)


def _number(kind, minimum, strict, upper=None):
    """An argparse type: `kind(text)`, above `minimum` (or equal unless `strict`)."""
    bound = f"> {minimum}" if strict else f">= {minimum}"
    if upper is not None:
        bound = f"in ({minimum}, {upper}]"
    expected = f"{'an integer' if kind is int else 'a number'} {bound}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {expected}, got {text!r}"
            ) from None
        too_small = value <= minimum if strict else value < minimum
        too_large = upper is not None and value > upper
        if too_small or too_large or not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, 0, strict=True)
_non_negative_int = _number(int, 0, strict=False)
_positive_float = _number(float, 0, strict=True)
_crop_fraction = _number(float, 0, strict=True, upper=1)


def _loss_list(text: str) -> list:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in LOSS_NAMES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown loss {', '.join(unknown) or repr(text)}; choose from "
            f"{','.join(LOSS_NAMES)}"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a loss is listed twice in {text!r}")
    return names


def _seed_list(text: str) -> list:
    try:
        seeds = [int(seed) for seed in text.split(",") if seed.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f"expected distinct integers >= 0, got {text!r}"
        )
    return seeds


def _add_training_arguments(parser):
    parser.add_argument(
        "--dataset",
        default="digits",
        help="digits (embedded, no download; the default), cifar10, cifar100, "
        "cifar2, or a PATH.npz holding x_train, y_train, x_test, y_test",
    )
    plan = parser.add_argument_group(
        "training plan", f"Unset flags come from the data ({_PLAN_DEFAULTS})."
    )
    plan.add_argument(
        "--epochs",
        type=_positive_int,
        help="digits: 18 (414 steps); small data: enough for "
        f"{experiments.MIN_STEPS} steps; paper: 800",
    )
    plan.add_argument(
        "--batch-size",
        type=_positive_int,
        help="digits: 64; small data: a power of two with >= "
        f"{experiments.MIN_STEPS_PER_EPOCH} steps/epoch (16-128); paper: 512",
    )
    plan.add_argument(
        "--temperature",
        type=_positive_float,
        help="digits and small data: 0.1 for every loss; paper: 0.1 / 0.05 "
        "(CIFAR-10 SINCERE / SupCon), 0.05 / 0.1 (CIFAR-100)",
    )
    plan.add_argument(
        "--lr",
        type=_positive_float,
        help="peak learning rate; default 0.5 * batch / 512 (digits: 0.0625)",
    )
    plan.add_argument(
        "--backbone",
        choices=("resnet18", "resnet34", "resnet50"),
        help="digits and small data: resnet18; paper: resnet50",
    )
    plan.add_argument(
        "--width",
        type=_positive_int,
        help="ResNet base width; digits and small data: 8; paper: 64",
    )
    plan.add_argument(
        "--min-crop",
        type=_crop_fraction,
        help="smallest random-crop area; digits and small data: 0.5; paper: 0.2",
    )
    plan.add_argument(
        "--image-size",
        type=_positive_int,
        help="side of the images the model sees; default: their own size, at "
        f"most {experiments.MAX_SMALL_DATA_IMAGE_SIDE} (digits: 8); paper: 32",
    )
    plan.add_argument(
        "--head-batch-norm",
        action="store_true",
        help="batch-normalise the projection head's hidden layer (SimCLR v2 "
        "head; default: the paper's plain head)",
    )
    parser.add_argument(
        "--knn-every",
        type=_non_negative_int,
        default=0,
        help="log validation 1NN/5NN/margin every N epochs (default 0: never)",
    )
    parser.add_argument(
        "--probe-epochs",
        type=_positive_int,
        default=50,
        help="epochs of the linear probe on frozen features (default 50)",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="Keras fit verbosity (default 0: one line per run)",
    )


def _add_overwrite_argument(parser):
    existing = parser.add_mutually_exclusive_group()
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run, finished or interrupted, already in --output "
        "(default: refuse)",
    )
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted run in --output after its last finished "
        "epoch (pass the flags it was started with); ends with the weights "
        "of an uninterrupted run",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-sincere` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="keras-sincere",
        description="Train and evaluate SINCERE / SupCon embeddings on any Keras "
        "backend (set KERAS_BACKEND).",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser(
        "train",
        help="train one loss and save DIR/model.keras",
        description="Train one loss with one seed and save DIR/model.keras and "
        "DIR/train.json.",
    )
    _add_training_arguments(train)
    train.add_argument(
        "--loss", choices=LOSS_NAMES, default="sincere", help="default: sincere"
    )
    train.add_argument("--seed", type=_non_negative_int, default=0, help="default: 0")
    train.add_argument(
        "--output", default="runs/train", help="output folder (default runs/train)"
    )
    _add_overwrite_argument(train)

    evaluate = commands.add_parser(
        "evaluate",
        help="kNN, margin, linear probe, histograms of a saved model",
        description="Measure a saved model on a dataset's test split.",
    )
    evaluate.add_argument("--model", required=True, help="a saved model.keras")
    evaluate.add_argument(
        "--dataset", default="digits", help="as for train (default digits)"
    )
    evaluate.add_argument(
        "--image-size",
        type=_positive_int,
        help="side the model was trained at (default: from train.json beside "
        "the model, else the encoder's input side, else 32)",
    )
    evaluate.add_argument("--output", help="default: the model's folder")
    evaluate.add_argument(
        "--probe-epochs", type=_positive_int, default=50, help="default 50"
    )

    compare = commands.add_parser(
        "compare",
        help="train several losses over several seeds, print the paper's "
        "tables (1, 4, 6) with intervals, write results.json, table.md, Fig. 2",
        description="Train every loss once per seed with the same plan, then "
        "print the paper's Tables 1, 4 and 6 as means with 95% intervals "
        "across seeds, and paired comparisons.",
    )
    _add_training_arguments(compare)
    compare.add_argument(
        "--losses",
        type=_loss_list,
        default=["sincere", "supcon"],
        help=f"comma-separated, from {','.join(LOSS_NAMES)} (default "
        "sincere,supcon; the first is the reference of the paired tests)",
    )
    compare.add_argument(
        "--seeds",
        type=_seed_list,
        help="comma-separated seeds (default: 0,1,2 for digits and .npz data, 0 "
        "for the paper's datasets)",
    )
    compare.add_argument(
        "--output", default="runs/compare", help="output folder (default runs/compare)"
    )
    _add_overwrite_argument(compare)
    compare.add_argument(
        "--bootstrap",
        type=_positive_int,
        default=1000,
        help="resamples of the per-seed paired bootstrap (default 1000)",
    )
    return parser


def _overrides(args) -> dict:
    return {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "temperature": args.temperature,
        "learning_rate": args.lr,
        "backbone": args.backbone,
        "width": args.width,
        "min_crop": args.min_crop,
        "image_size": args.image_size,
        "head_batch_norm": args.head_batch_norm or None,
    }


def _load(dataset, image_size=None):
    """The splits with labels mapped to 0..C-1 and checked, and the classes."""
    print(f"loading {dataset} ...", flush=True)
    return experiments.prepare_labels(experiments.load_data(dataset, image_size))


def run_train(args) -> int:
    import keras

    native, classes = _load(args.dataset)
    (x_train, _), _ = native
    plan = experiments.plan_training(
        args.dataset,
        args.loss,
        len(x_train),
        x_train.shape[1],
        args.seed,
        **_overrides(args),
    )
    data = experiments.resize_data(native, plan.image_size)
    output = run_files.prepare_output_folder(args.output, args.overwrite, args.resume)
    settings = {
        "command": "train",
        "loss": args.loss,
        "plan": plan.to_json(),
        "data": _fingerprint(native),
        "backend": keras.backend.backend(),
    }
    checkpoint = run_files.EpochCheckpoint(
        run_files.start_or_resume(output, settings) / f"{args.loss}-seed{args.seed}"
    )
    print(f"backend {keras.backend.backend()}; {plan.describe()}", flush=True)
    done = checkpoint.state()["epochs"]
    if done:
        print(f"resuming after epoch {done} of {plan.recipe.epochs}", flush=True)
    run = experiments.train_and_evaluate(
        plan,
        data,
        args.loss,
        verbose=args.verbose,
        knn_every=args.knn_every,
        probe_epochs=args.probe_epochs,
        checkpoint=checkpoint,
    )
    for warning in run.warnings:
        print(f"warning: {warning}")
    model_path = run_files.save_model_or_keep_it(run.model, output / "model.keras")
    record = run.to_json(experiments.noise_count(plan.batch_size, data[0][1]))
    record["history"] = run.history
    record["classes"] = classes
    run_files.write_text_atomically(
        output / "train.json", json.dumps(_floats(record), indent=2)
    )
    run_files.finish(output)
    print(f"saved {model_path}")
    return 0


def run_evaluate(args) -> int:
    import keras

    import keras_sincere  # noqa: F401  (registers the saved classes)
    from keras_sincere import evaluation

    model = keras.models.load_model(args.model)
    image_size = (
        args.image_size
        or _trained_image_size(args.model)
        or _encoder_image_size(model)
        or 32
    )
    data = experiments.load_data(args.dataset, image_size)
    output = pathlib.Path(args.output or pathlib.Path(args.model).parent)
    if args.output:
        output = run_files.prepare_output_folder(output, overwrite=True)
    result = experiments.evaluate(model, data, args.probe_epochs)
    name = pathlib.Path(args.model).parent.name or "model"
    picture = run_files.write_atomically(
        output / "similarity_histograms.png",
        lambda path: evaluation.plot_similarity_histograms(
            {name: (result.target, result.noise)}, path
        ),
    )
    run_files.write_text_atomically(
        output / "evaluation.json", json.dumps(_floats(result.metrics), indent=2)
    )
    for key in ("knn1", "knn5", "margin", "probe_accuracy", "mean_pairwise_cosine"):
        print(f"{key}: {result.metrics[key]:.4f}")
    print(f"wrote {output / 'evaluation.json'} and {picture}")
    return 0


def _encoder_image_size(model):
    """The side of the images a saved model's encoder takes, if it says."""
    shape = getattr(getattr(model, "encoder", None), "input_shape", None)
    return shape[1] if shape is not None and len(shape) == 4 else None


def _trained_image_size(model_path):
    record = pathlib.Path(model_path).parent / "train.json"
    if not record.is_file():
        return None
    return json.loads(record.read_text()).get("plan", {}).get("image_size")


def run_compare(args) -> int:
    import keras

    from keras_sincere import evaluation

    start = time.time()
    native, classes = _load(args.dataset)
    seeds = args.seeds
    if seeds is None:
        paper = str(args.dataset).lower() in experiments.PAPER_DATASETS
        seeds = [0] if paper else [0, 1, 2]
    output = run_files.prepare_output_folder(args.output, args.overwrite, args.resume)
    settings = {
        "command": "compare",
        "dataset": str(args.dataset),
        "losses": args.losses,
        "seeds": seeds,
        "plan": _overrides(args),
        "data": _fingerprint(native),
        "backend": keras.backend.backend(),
    }
    checkpoints = run_files.start_or_resume(output, settings)
    print(
        f"backend {keras.backend.backend()}; losses {','.join(args.losses)}; "
        f"seeds {','.join(map(str, seeds))}",
        flush=True,
    )
    result = experiments.compare(
        args.dataset,
        losses=args.losses,
        seeds=seeds,
        data=native,
        verbose=args.verbose,
        probe_epochs=args.probe_epochs,
        bootstrap_resamples=args.bootstrap,
        knn_every=args.knn_every,
        checkpoints=checkpoints,
        **_overrides(args),
    )
    record = result.to_json(native[0][1])
    record["backend"] = keras.backend.backend()
    record["classes"] = classes
    record["wall_seconds"] = round(time.time() - start, 1)
    first_seed = seeds[0]
    panels = {
        loss: (runs[0].evaluation.target, runs[0].evaluation.noise)
        for loss, runs in result.runs.items()
        if not runs[0].evaluation.diverged
    }
    picture = "no figure (every run of the first seed diverged)"
    if panels:
        picture = run_files.write_atomically(
            output / "similarity_histograms.png",
            lambda path: evaluation.plot_similarity_histograms(
                panels,
                path,
                title=f"{args.dataset}: nearest target / noise similarity (test "
                f"set), seed {first_seed} ({record['backend']})",
            ),
        )
    table = experiments.format_comparison(record)
    print("\n" + table)
    run_files.write_text_atomically(output / "table.md", table)
    run_files.write_text_atomically(
        output / "results.json", json.dumps(_floats(record), indent=2)
    )
    run_files.finish(output)
    print(f"wrote {output / 'results.json'}, {output / 'table.md'}, {picture}")
    return 0


def _fingerprint(splits) -> dict:
    """Enough of the data to tell a resumed run it was given other data."""
    import hashlib

    import numpy as np

    (x_train, y_train), (x_test, _) = splits
    digest = hashlib.sha256(np.ascontiguousarray(y_train).tobytes())
    digest.update(np.ascontiguousarray(x_train[:: max(1, len(x_train) // 64)]))
    return {
        "train": list(x_train.shape),
        "test": list(x_test.shape),
        "sha256": digest.hexdigest()[:16],
    }


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
        return _floats(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-sincere` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_sincere.data import DatasetDownloadError

    try:
        return {"train": run_train, "evaluate": run_evaluate, "compare": run_compare}[
            args.command
        ](args)
    except DatasetDownloadError as error:
        message = (
            f"{error} From the command line, pass the arrays as "
            "--dataset PATH.npz (x_train, y_train, x_test, y_test)."
        )
        print(f"keras-sincere {args.command}: error: {message}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as error:  # file system, bad data or flags
        print(f"keras-sincere {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
