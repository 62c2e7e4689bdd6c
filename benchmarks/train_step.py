"""Images per second of one ResNet-50 SINCERE training step, per backend.

Each backend runs in its own process (the backend is fixed per process) on
the same synthetic batch; the table compares them side by side:

    python benchmarks/train_step.py                      # all installed backends
    python benchmarks/train_step.py --backends jax --batch-size 128 --steps 10

The step is `ContrastiveModel.train_on_batch`: in-graph SimCLR augmentation of
2 views, ResNet-50 (CIFAR stem, 32x32), projection head, SINCERE loss,
backward pass and SGD update, compiled as `fit` compiles it (XLA on
TensorFlow and JAX, eager on torch unless `--jit`).
"""

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def measure(args):
    """Runs in the child process: returns the median step time in seconds."""
    import keras
    import numpy as np

    import keras_sincere as ks

    keras.utils.set_random_seed(0)
    if args.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    model = ks.models.ContrastiveModel(
        ks.models.resnet50((32, 32, 3), stem="cifar"),
        ks.models.ProjectionHead(),
        augmenter=ks.augment.simclr_augmenter(32, seed=0),
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=ks.losses.SincereLoss(0.1),
        jit_compile=True if args.jit else "auto",
    )
    rng = np.random.default_rng(0)
    images = rng.random((args.batch_size, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, size=args.batch_size)
    start = time.perf_counter()
    model.train_on_batch(images, labels)
    first = time.perf_counter() - start
    for _ in range(args.warmup - 1):
        model.train_on_batch(images, labels)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = model.train_on_batch(images, labels)
        float(np.asarray(loss))  # wait for asynchronous backends
        times.append(time.perf_counter() - start)
    return {
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "backend_version": _backend_version(keras.backend.backend()),
        "device": _device(keras.backend.backend()),
        "first_step_s": first,
        "median_step_s": statistics.median(times),
        "images_per_s": args.batch_size / statistics.median(times),
    }


def _backend_version(backend):
    module = __import__(backend)
    return module.__version__


def _device(backend):
    if backend == "jax":
        import jax

        return str(jax.devices()[0].device_kind)
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return gpus[0].name if gpus else "cpu"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--jit", action="store_true", help="jit_compile=True")
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args)))
        return

    rows = []
    for backend in args.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped", file=sys.stderr)
            continue
        result = subprocess.run(
            _child_command(),
            env={**os.environ, "KERAS_BACKEND": backend},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(f"{backend} failed:\n{result.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    _print_table(args, rows)


def _child_command():
    """This command with `--child` and without `--backends`."""
    command = [sys.executable, __file__, "--child"] + [
        a for a in sys.argv[1:] if not a.startswith("--backends")
    ]
    if "--backends" in sys.argv:
        index = sys.argv.index("--backends")
        command = [sys.executable, __file__, "--child"] + (
            sys.argv[1:index] + sys.argv[index + 2 :]
        )
    return command


def _print_table(args, rows):
    print(
        f"machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores; batch {args.batch_size}, 32x32, 2 views"
    )
    best = max(row["images_per_s"] for row in rows) if rows else 1.0
    print(
        "| backend | version | device | first step (s) | median step (s) "
        "| images/s | vs fastest |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['backend_version']} | {row['device']} "
            f"| {row['first_step_s']:.1f} | {row['median_step_s']:.3f} "
            f"| {row['images_per_s']:.1f} | {row['images_per_s'] / best:.2f}x |"
        )


if __name__ == "__main__":
    main()
