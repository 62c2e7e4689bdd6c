"""The two kernel choices of `keras_sincere.ops`, timed against the alternative.

Each backend runs in its own process (the backend is fixed per process); one
table compares them side by side:

    python benchmarks/kernels.py                     # N = 512, 2048
    python benchmarks/kernels.py --backends jax --sizes 1024 --repeats 50

For an `N x N` float32 matrix of logits, forward and backward (the sum of the
result and its gradient with respect to the logits), compiled as the losses
run (`jax.jit`; `tf.function(jit_compile=True)`; eager torch, as `fit` runs
without `jit_compile`):

- softplus: the composition `ops.softplus` of `keras_sincere.ops` uses on
  XLA backends, `(x + |x|) / 2 + log1p(exp(-|x|))`, against the backend's
  own `keras.ops.softplus`;
- masking: `masked_logsumexp`'s masking by an addition,
  `logsumexp(s + (m - 1) * 1e9)`, against a select,
  `logsumexp(where(m > 0, s, -1e9))`, with a 0/1 mask of density 1/2.

Times are medians of `--repeats` runs after a compiling and a warm-up run;
the two variants take turns run by run. The ratio is the alternative's time
over the chosen one's: above 1, the library's choice is the faster.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")
ROOT = pathlib.Path(__file__).resolve().parents[1]
MASKED_LOGIT = -1e9


def _variants():
    """`{kernel: (chosen, alternative)}`, each `(logits, mask) -> scalar`."""
    from keras import ops

    def composed_softplus(logits, mask):
        magnitude = ops.abs(logits)
        return ops.sum((logits + magnitude) / 2 + ops.log1p(ops.exp(-magnitude)))

    def backend_softplus(logits, mask):
        return ops.sum(ops.softplus(logits))

    def added_mask(logits, mask):
        return ops.sum(ops.logsumexp(logits + (mask - 1.0) * -MASKED_LOGIT, axis=1))

    def selected_mask(logits, mask):
        masked = ops.where(mask > 0, logits, MASKED_LOGIT)
        return ops.sum(ops.logsumexp(masked, axis=1))

    return {
        "softplus": (composed_softplus, backend_softplus),
        "masking": (added_mask, selected_mask),
    }


def _timed(step, logits):
    """Seconds of one call of `step`, waiting for its results."""
    import keras

    started = time.perf_counter()
    value, gradient = step(logits)
    keras.ops.convert_to_numpy(value)
    keras.ops.convert_to_numpy(gradient[:1, :1])
    return time.perf_counter() - started


def measure(args):
    """In the child process: `[{kernel, n, chosen_s, alternative_s}]`."""
    import keras
    import numpy as np

    from tests.backend_utils import compiled_value_and_gradient

    rows = []
    rng = np.random.default_rng(0)
    for n in args.sizes:
        logits = keras.ops.convert_to_tensor(rng.normal(size=(n, n)), "float32")
        mask = keras.ops.convert_to_tensor(rng.random((n, n)) < 0.5, "float32")
        for kernel, pair in _variants().items():
            steps = [
                compiled_value_and_gradient(
                    lambda x, fn=fn, mask=mask: fn(x, mask), compile_torch=False
                )
                for fn in pair
            ]
            for step in steps:  # compile, then warm up
                _timed(step, logits)
                _timed(step, logits)
            times = [[], []]
            for _ in range(args.repeats):  # take turns: a load change hits both
                for step, samples in zip(steps, times, strict=True):
                    samples.append(_timed(step, logits))
            chosen, alternative = (statistics.median(t) for t in times)
            rows.append(
                {
                    "kernel": kernel,
                    "n": n,
                    "chosen_s": chosen,
                    "alternative_s": alternative,
                }
            )
    backend = keras.backend.backend()
    return {"backend": backend, "keras": keras.__version__, "rows": rows}


def _run_backend(args, backend):
    command = [
        sys.executable,
        __file__,
        "--child",
        "--sizes",
        ",".join(map(str, args.sizes)),
        "--repeats",
        str(args.repeats),
    ]
    environment = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "CUDA_VISIBLE_DEVICES": "",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        command, env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"{backend}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_table(results):
    names = {
        "softplus": ("composed", "ops.softplus"),
        "masking": ("add", "where"),
    }
    print(
        "\n| kernel | backend | N | chosen | ms | alternative | ms "
        "| alternative / chosen |"
    )
    print("|---|---|---:|---|---:|---|---:|---:|")
    for result in results:
        for row in result["rows"]:
            chosen, alternative = names[row["kernel"]]
            if result["backend"] == "torch" and row["kernel"] == "softplus":
                chosen, alternative = alternative, chosen  # torch keeps its own
                row = {
                    **row,
                    "chosen_s": row["alternative_s"],
                    "alternative_s": row["chosen_s"],
                }
            print(
                f"| {row['kernel']} | {result['backend']} | {row['n']} | {chosen} "
                f"| {row['chosen_s'] * 1e3:.2f} | {alternative} "
                f"| {row['alternative_s'] * 1e3:.2f} "
                f"| {row['alternative_s'] / row['chosen_s']:.2f} |"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--sizes", default="512,2048")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.sizes = [int(n) for n in args.sizes.split(",")]
    if args.child:
        print(json.dumps(measure(args)))
        return
    print(f"$ python benchmarks/kernels.py {' '.join(sys.argv[1:])}")
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} "
        f"CPUs; load average before: {os.getloadavg()[0]:.2f}"
    )
    results = []
    for backend in args.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped", file=sys.stderr)
            continue
        result = _run_backend(args, backend)
        if result is not None:
            results.append(result)
            print(f"{backend}: keras {result['keras']}", file=sys.stderr)
    _print_table(results)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
