"""The `keras-sincere` command: train, evaluate and compare contrastive losses.

    keras-sincere compare --dataset digits --losses sincere,supcon --output runs/
    keras-sincere compare --dataset digits --batch-size 32 --memory-size 2048
    keras-sincere train --dataset cifar10 --loss sincere --output runs/sincere
    keras-sincere evaluate --model runs/sincere/model.keras --dataset cifar10

The backend is chosen with `KERAS_BACKEND`, as for any Keras program. The
work is done by `keras_sincere.experiments`; this module parses arguments
(before Keras is imported, so `--help` is instant), calls it and prints.
"""

import argparse
import math
import os
import sys

from keras_sincere import experiments

# The names `keras_sincere.losses.get` accepts, for the help text only: the
# registry imports Keras, which `--help` must not (a test ties the two).
LOSS_HELP = "sincere, supcon, epsilon_supinfonce (or eps), infonce"
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


def _loss_name(text: str) -> str:
    """An argparse type: the canonical name of a loss (`losses.get`'s names).

    The registry is imported here, once a loss is named: `--help` stays
    without Keras.
    """
    from keras_sincere.losses import canonical_name

    try:
        return canonical_name(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"unknown loss {text.strip()!r}; choose from {LOSS_HELP}"
        ) from None


def _loss_list(text: str) -> list:
    names = [_loss_name(name) for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"no loss in {text!r}; choose from {LOSS_HELP}"
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


def _plan_flags() -> tuple:
    """`(plan override, flag, type or choices, help)` of the training-plan flags.

    Unset, each comes from the data (`experiments.plan_training`).
    """
    small = "digits and small data"
    return (
        ("epochs", "--epochs", _positive_int, "digits: 18 (414 steps); small "
         f"data: enough for {experiments.MIN_STEPS} steps; paper: 800"),
        ("batch_size", "--batch-size", _positive_int, "digits: 64; small data: a "
         f"power of two with >= {experiments.MIN_STEPS_PER_EPOCH} steps/epoch "
         "(16-128); paper: 512"),
        ("temperature", "--temperature", _positive_float, f"{small}: 0.1 for "
         "every loss; paper: 0.1 / 0.05 (CIFAR-10 SINCERE / SupCon), 0.05 / 0.1 "
         "(CIFAR-100)"),
        ("learning_rate", "--lr", _positive_float, "peak learning rate; default "
         "0.5 * batch / 512 (digits: 0.0625)"),
        ("backbone", "--backbone", ("resnet18", "resnet34", "resnet50"),
         f"{small}: resnet18; paper: resnet50"),
        ("width", "--width", _positive_int, f"ResNet base width; {small}: 8; "
         "paper: 64"),
        ("min_crop", "--min-crop", _crop_fraction, "smallest random-crop area; "
         f"{small}: 0.5; paper: 0.2"),
        ("image_size", "--image-size", _positive_int, "side of the images the "
         "model sees; default: their own size, at most "
         f"{experiments.MAX_SMALL_DATA_IMAGE_SIDE} (digits: 8); paper: 32"),
        ("memory_size", "--memory-size", _non_negative_int, "cross-batch "
         "memory: the last N training embeddings as extra keys of the loss "
         "(default 0: none; see docs/memory.md)"),
        ("memory_warmup_steps", "--memory-warmup", _non_negative_int, "train "
         "steps before the loss uses the memory (default: the learning-rate "
         "warm-up's steps)"),
    )  # fmt: skip


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
    for dest, flag, kind, text in _plan_flags():
        choices = kind if isinstance(kind, tuple) else None
        type_ = None if choices else kind
        plan.add_argument(flag, dest=dest, type=type_, choices=choices, help=text)
    plan.add_argument(
        "--head-batch-norm",
        action="store_true",
        default=None,  # unset: the plan's choice
        help="batch-normalise the projection head's hidden layer (SimCLR v2 "
        "head; default: the paper's plain head)",
    )
    parser.add_argument(
        "--knn-every",
        type=_non_negative_int,
        default=0,
        help="log validation 1NN/5NN/margin every N epochs (default 0: never)",
    )
    _add_probe_epochs(
        parser, "epochs of the linear probe on frozen features (default 50)"
    )
    parser.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=0,
        help="Keras fit verbosity (default 0: one line per run)",
    )


def _add_probe_epochs(parser, text: str):
    parser.add_argument("--probe-epochs", type=_positive_int, default=50, help=text)


def _add_output_arguments(parser, default: str):
    parser.add_argument(
        "--output", default=default, help=f"output folder (default {default})"
    )
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


def _add_train_command(commands):
    train = commands.add_parser(
        "train",
        help="train one loss and save DIR/model.keras",
        description="Train one loss with one seed and save DIR/model.keras and "
        "DIR/train.json.",
    )
    _add_training_arguments(train)
    train.add_argument(
        "--loss",
        type=_loss_name,
        default="sincere",
        help=f"{LOSS_HELP} (default: sincere)",
    )
    train.add_argument("--seed", type=_non_negative_int, default=0, help="default: 0")
    _add_output_arguments(train, "runs/train")


def _add_evaluate_command(commands):
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
    _add_probe_epochs(evaluate, "default 50")


def _add_compare_command(commands):
    compare = commands.add_parser(
        "compare",
        help="train several losses over several seeds, print the paper's "
        "tables (1, 4, 6) and retrieval metrics with intervals, write "
        "results.json, table.md, Fig. 2 and embedding maps",
        description="Train every loss once per seed with the same plan, then "
        "print the paper's Tables 1, 4 and 6 as means with 95% intervals "
        "across seeds, and paired comparisons.",
    )
    _add_training_arguments(compare)
    compare.add_argument(
        "--losses",
        type=_loss_list,
        default=["sincere", "supcon"],
        help=f"comma-separated, from {LOSS_HELP} (default sincere,supcon; the "
        "first is the reference of the paired tests)",
    )
    compare.add_argument(
        "--seeds",
        type=_seed_list,
        help="comma-separated seeds (default: 0,1,2 for digits and .npz data, 0 "
        "for the paper's datasets)",
    )
    _add_output_arguments(compare, "runs/compare")
    compare.add_argument(
        "--bootstrap",
        type=_positive_int,
        default=1000,
        help="resamples of the per-seed paired bootstrap (default 1000)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `keras-sincere` and its subcommands."""
    parser = argparse.ArgumentParser(
        prog="keras-sincere",
        description="Train and evaluate SINCERE / SupCon embeddings on any Keras "
        "backend (set KERAS_BACKEND).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train_command(commands)
    _add_evaluate_command(commands)
    _add_compare_command(commands)
    return parser


# The flags `train` and `compare` pass on as keyword arguments, besides the
# plan's (`experiments.PLAN_OVERRIDES`; unset ones are `None`).
_RUN_FLAGS = ("overwrite", "resume", "verbose", "knn_every", "probe_epochs")


def _run_options(args) -> dict:
    names = (*experiments.PLAN_OVERRIDES, *_RUN_FLAGS)
    return {name: getattr(args, name) for name in names}


def run_train(args) -> int:
    saved = experiments.train_to_folder(
        args.dataset, args.loss, args.output, args.seed, **_run_options(args)
    )
    print(f"saved {saved.model_path}")
    return 0


def run_evaluate(args) -> int:
    saved = experiments.evaluate_saved_model(
        args.model, args.dataset, args.image_size, args.output, args.probe_epochs
    )
    metrics = saved.evaluation.metrics
    for key in ("knn1", "knn5", "margin", "probe_accuracy", "mean_pairwise_cosine"):
        print(f"{key}: {metrics[key]:.4f}")
    print("retrieval (test images query the training images):")
    for key in experiments.RETRIEVAL_FIGURES:
        print(f"  {key}: {metrics[key]:.4f}")
    print(f"wrote {saved.record_path} and {saved.figure_path}")
    return 0


def run_compare(args) -> int:
    saved = experiments.compare_to_folder(
        args.dataset,
        args.losses,
        args.output,
        args.seeds,
        bootstrap_resamples=args.bootstrap,
        **_run_options(args),
    )
    print("\n" + saved.table)
    print(f"wrote {saved.written()}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `keras-sincere` console script."""
    # Before parsing: naming a loss imports Keras (and TensorFlow's logging).
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser().parse_args(argv)
    from keras_sincere.data import DatasetDownloadError

    commands = {"train": run_train, "evaluate": run_evaluate, "compare": run_compare}
    try:
        return commands[args.command](args)
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
