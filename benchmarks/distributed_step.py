"""Training-step time against the number of devices, with the gathered loss.

One process per (backend, device count), since devices are fixed when a
backend starts:

    python benchmarks/distributed_step.py                  # jax and tensorflow, 1 2 4
    python benchmarks/distributed_step.py --backends jax --devices 1 2 4 8 --simulate

The step is `ContrastiveModel.train_on_batch` on ready views `(B, 2, 32, 32, 3)`
of a ResNet-18 (CIFAR stem), SINCERE with `gather_distributed=True`, for a fixed
global batch split over the devices: JAX under `keras.distribution.DataParallel`,
TensorFlow under `tf.distribute.MirroredStrategy`. With `--simulate` the devices
are CPU devices made up for the purpose (JAX's
`--xla_force_host_platform_device_count`, TensorFlow logical CPUs): they share the
machine's cores, so the figures show the overhead of splitting and gathering, not a
speed-up. Without it the backend's accelerators are used (GPUs). PyTorch's DDP needs
one process per device (`torchrun`) and is not measured here.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time


def measure(args):
    """Runs in the child process: the median step time in seconds."""
    backend = os.environ["KERAS_BACKEND"]
    # TensorFlow's devices are set before anything else starts TensorFlow.
    strategy = _tensorflow_strategy(args) if backend == "tensorflow" else None
    import numpy as np

    device_name = _distribute(args, backend)
    if strategy is not None:
        with strategy.scope():
            model = _build(args)
    else:
        model = _build(args)
    rng = np.random.default_rng(0)
    views = rng.random((args.batch_size, 2, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, size=args.batch_size)
    for _ in range(args.warmup):
        model.train_on_batch(views, labels)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = model.train_on_batch(views, labels)
        times.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(times),
        "loss": float(np.asarray(loss).reshape(-1)[0]),
        "device": device_name,
    }


def _tensorflow_strategy(args):
    import tensorflow as tf

    if args.simulate:
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.child_devices
        )
        names = [f"/cpu:{i}" for i in range(args.child_devices)]
    else:
        names = [f"/gpu:{i}" for i in range(args.child_devices)]
    return tf.distribute.MirroredStrategy(names)


def _distribute(args, backend):
    """Sets JAX's data-parallel distribution; returns the device's name."""
    if backend != "jax":
        return "cpu" if args.simulate else "gpu"
    import jax
    import keras

    devices = jax.devices()[: args.child_devices]
    assert len(devices) == args.child_devices, jax.devices()
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices)
    )
    return devices[0].device_kind


def _build(args):
    import keras

    import keras_sincere as ks

    keras.utils.set_random_seed(0)
    encoder = ks.models.resnet18((32, 32, 3), stem="cifar", width=args.width)
    model = ks.models.ContrastiveModel(
        encoder, ks.models.ProjectionHead(encoder.output_shape[-1], 128)
    )
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=ks.losses.SincereLoss(0.1, gather_distributed=True),
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", default=["jax", "tensorflow"])
    parser.add_argument("--devices", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--simulate", action="store_true", help="made-up CPU devices")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--child-devices", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child_devices:
        print(json.dumps(measure(args)))
        return
    rows = []
    for backend in args.backends:
        for count in args.devices:
            env = {**os.environ, "KERAS_BACKEND": backend}
            if backend == "jax" and args.simulate:
                env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={count}"
            command = [sys.executable, __file__, "--child-devices", str(count)]
            command += ["--batch-size", str(args.batch_size)]
            command += ["--width", str(args.width), "--steps", str(args.steps)]
            command += ["--warmup", str(args.warmup)]
            command += ["--simulate"] if args.simulate else []
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append((backend, count, result))
    print(
        f"python {platform.python_version()}, global batch {args.batch_size} x 2 views"
    )
    print("| backend | devices | device | median step (s) | vs 1 device |")
    print("|---|---|---|---|---|")
    for backend, count, result in rows:
        single = next(
            (r["median_s"] for b, c, r in rows if b == backend and c == 1), None
        )
        ratio = f"{single / result['median_s']:.2f}x" if single else "-"
        print(
            f"| {backend} | {count} | {result['device']} | "
            f"{result['median_s']:.3f} | {ratio} |"
        )


if __name__ == "__main__":
    main()
