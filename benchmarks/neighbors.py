"""Exact neighbour search at scale: ours against scikit-learn and PML, in one run.

    python benchmarks/neighbors.py                        # 10k, 100k, 300k points
    python benchmarks/neighbors.py --sizes 10000 --memory-limit-gib 8
    python benchmarks/neighbors.py --memory-limit-gib 0   # on a GPU machine

For each size `N`: `N` random embeddings of dimension 128 in 100 classes (a
class centre plus noise), searched against themselves for the `k` nearest
cosine neighbours of every point (itself left out), by

- `ours`: `keras_sincere.evaluation.nearest_neighbors(x, k=k)` (blocks of 1024
  queries, `keras.ops` on the `KERAS_BACKEND` of this process, default torch);
- `sklearn`: `NearestNeighbors(n_neighbors=k + 1, algorithm="brute",
  metric="cosine").kneighbors(x)`, scikit-learn's chunked brute force;
- `pml`: pytorch-metric-learning's `AccuracyCalculator(k=k,
  include=("precision_at_1",), knn_func=CustomKNN(CosineSimilarity()))`, its
  documented search without Faiss.

Each (method, size) runs in a fresh process under an address-space limit
(`--memory-limit-gib`, default 16 of the machine's 24 GiB): the figures are the
wall time of the search and the process's peak resident memory (`ru_maxrss`),
the import and the data excluded from the time but not from the memory (the
data alone is `N * 128 * 4` bytes). A process that exceeds the limit is
reported as out of memory. The dense `N x N` float32 matrix, for reference,
is `4 N^2` bytes. The output is a markdown table.

Where torch sees a GPU, ours (on the torch backend) and PML run on it and the
table adds the peak of torch's GPU allocator (`max_memory_allocated`);
scikit-learn stays on the CPU cores. On the GPU each timed search follows an
untimed one on the first 2,000 points, so that CUDA's start-up (context,
cuBLAS handles, kernel loading) is not counted. CUDA reserves far more
address space than it uses, so on such a machine pass `--memory-limit-gib 0`
(no limit).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

DIM = 128
CLASSES = 100


def data(size, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size)
    centres = rng.normal(size=(CLASSES, DIM)).astype("float32")
    points = centres[labels] + rng.normal(size=(size, DIM)).astype("float32")
    return points, labels


def _cuda():
    """Whether this process's torch (if installed) sees a GPU."""
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _gpu_name():
    """The GPU torch sees, or None (the parent stays free of CUDA state)."""
    probe = "import torch; print(torch.cuda.get_device_name(0))"
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    return done.stdout.strip() or None


def search(method, size, k):
    """Runs in the child: the seconds of one search, and a checksum."""
    points, labels = data(size)
    cuda = method != "sklearn" and _cuda()
    if method == "ours":
        from keras_sincere.evaluation import nearest_neighbors

        if cuda:
            nearest_neighbors(points[:2000], k=k)
        start = time.perf_counter()
        indices, _ = nearest_neighbors(points, k=k)
        seconds = time.perf_counter() - start
    elif method == "sklearn":
        from sklearn.neighbors import NearestNeighbors

        start = time.perf_counter()
        finder = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="cosine")
        _, indices = finder.fit(points).kneighbors(points)
        seconds = time.perf_counter() - start
        indices = indices[:, 1:]  # itself first (distance 0)
    elif method == "pml":
        import torch
        from pytorch_metric_learning.distances import CosineSimilarity
        from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
        from pytorch_metric_learning.utils.inference import CustomKNN

        calculator = AccuracyCalculator(
            include=("precision_at_1",),
            k=k,
            knn_func=CustomKNN(CosineSimilarity()),
            device=torch.device("cuda" if cuda else "cpu"),
        )
        if cuda:
            calculator.get_accuracy(
                torch.from_numpy(points[:2000]), torch.from_numpy(labels[:2000])
            )
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        calculator.get_accuracy(torch.from_numpy(points), torch.from_numpy(labels))
        seconds = time.perf_counter() - start
        indices = None
    else:
        raise ValueError(method)
    # The share of neighbours of the same class, comparable across methods.
    same = (
        None if indices is None else float((labels[indices] == labels[:, None]).mean())
    )
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    gpu_peak_gib = None
    if cuda:
        import torch

        gpu_peak_gib = torch.cuda.max_memory_allocated() / 2**30
    return {
        "seconds": seconds,
        "same_class": same,
        "peak_gib": peak_gib,
        "gpu_peak_gib": gpu_peak_gib,
    }


def run_child(method, size, k, limit_gib):
    command = [sys.executable, __file__, "--child", method, str(size), str(k)]

    def limit():
        limit_bytes = int(limit_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        preexec_fn=limit if limit_gib > 0 else None,
        check=False,
    )
    result = {"method": method, "size": size, "error": None}
    if done.returncode == 0:
        result.update(json.loads(done.stdout.strip().splitlines()[-1]))
    else:
        tail = (done.stderr or "").strip().splitlines()[-3:]
        memory = any(
            "memoryerror" in line.lower() or "alloc" in line.lower() for line in tail
        )
        bound = f"> {limit_gib:g} GiB" if limit_gib > 0 else "of the device"
        result["error"] = (
            f"out of memory ({bound})" if memory else " / ".join(tail)[-200:]
        )
    return result


def _seconds(seconds):
    return f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 100000, 300000])
    parser.add_argument("--methods", nargs="+", default=["ours", "sklearn", "pml"])
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--memory-limit-gib", type=float, default=16.0, help="0: no limit"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        method, size, k = args.child
        print(json.dumps(search(method, int(size), int(k))))
        return
    os.environ.setdefault("KERAS_BACKEND", "torch")
    gpu = _gpu_name()
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
        + (f", {gpu}" if gpu else "")
        + f"; KERAS_BACKEND={os.environ['KERAS_BACKEND']}; k={args.k}, D={DIM}; "
        f"limit {args.memory_limit_gib:g} GiB"
    )
    print()
    print(
        "| N | method | seconds | peak memory (GiB) | "
        + ("GPU peak (GiB) | " if gpu else "")
        + "dense N x N (GiB) | same-class neighbours |"
    )
    print("|---|---|---|---|---|---|" + ("---|" if gpu else ""))
    for size in sorted(args.sizes):
        dense = 4 * size * size / 2**30
        for method in args.methods:
            result = run_child(method, size, args.k, args.memory_limit_gib)
            empty = "| " if gpu else ""
            if result["error"]:
                print(
                    f"| {size:,} | {method} | {result['error']} | | {empty}"
                    f"{dense:.1f} | |",
                    flush=True,
                )
                continue
            same = (
                "n/a" if result["same_class"] is None else f"{result['same_class']:.4f}"
            )
            device_peak = result["gpu_peak_gib"]
            device_cell = (
                ("cpu | " if device_peak is None else f"{device_peak:.2f} | ")
                if gpu
                else ""
            )
            print(
                f"| {size:,} | {method} | {_seconds(result['seconds'])} | "
                f"{result['peak_gib']:.2f} | {device_cell}{dense:.1f} | {same} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
