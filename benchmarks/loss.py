"""Forward + backward time and peak memory of the losses against their peers.

Each backend runs in its own processes (the backend is fixed per process) and
one table compares them side by side:

    python benchmarks/loss.py                        # CPU: N = 512, 2048, 8192
    python benchmarks/loss.py --backends jax,torch --sizes 512,2048
    python benchmarks/loss.py --budget-gib 1         # a shorter memory search
    python benchmarks/loss.py --device gpu           # each backend's first GPU

Measured for SINCERE and SupCon at N = B * V embeddings (V = 2 views of B
samples, labels `sample % --classes`) of dimension D:

- time: one forward and backward pass (the mean loss and its gradient with
  respect to the embeddings), compiled where the backend compiles (jax.jit,
  `tf.function(jit_compile=True)`; torch runs eagerly, as its peers do): the
  median of `--repeats` runs after the compiling run and one warm-up run.
  The implementations take turns run by run, so that a change in the load of
  the machine falls on all of them alike.
- peak memory of that pass. CPU, JAX and torch: the rise of the process's
  resident set size above its size before the pass (the kernel's high-water
  mark, reset through /proc/self/clear_refs), in a separate process per
  backend where glibc returns every freed block of 1 MiB or more to the
  system (`MALLOC_MMAP_THRESHOLD_`), so that the resident size follows the
  live memory; inputs and compiled code are already resident. CPU,
  TensorFlow: its allocator's peak (`tf.config.experimental.get_memory_info`),
  as TensorFlow keeps freed memory for reuse. GPU: the peak of the allocator
  (torch, TensorFlow) or of XLA's buffer assignment (JAX).
- implementations: ours, dense (`chunk_size=None`) and chunked
  (`--chunk-size`, by default blocks of about 2**21 logits, the rule that
  docs/losses.md recommends on CPU); the baseline, a plain dense
  implementation written from the formula with `keras.ops` (so it runs on
  every backend); on torch,
  pytorch-metric-learning's `SupConLoss` and, for SINCERE, `NTXentLoss` with
  a per-anchor reducer (its positive-pairs x negative-pairs matrix is
  estimated first and the run skipped when it would not fit in the budget).
- the arithmetic floor: `2 N^2 D` FLOPs (one N x D by D x N product) over
  the fastest rate measured for that product on this machine.
- the largest N whose SINCERE forward + backward fits in `--budget-gib`, per
  mode, starting at the largest of `--sizes` and doubling (halving if it does
  not fit) up to `--max-n`, each N in a fresh process that is killed as soon
  as its resident memory grows by more than the budget (on GPU: whose
  allocator is capped at the budget). The memory counted is the rise of the
  resident size, with glibc returning freed blocks as above, over the
  process with its inputs made and, on JAX, its step compiled; on
  TensorFlow it includes compiling the step, which happens on the first
  pass. The time shown is that of a second pass. With every block of 1 MiB
  or more mapped afresh, it is slower than with glibc's usual caching,
  mostly on torch, whose temporaries are separate allocations.
"""

import argparse
import importlib.util
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import loss_measure
import loss_tables
from loss_measure import BACKENDS
from loss_measure import GIB
from loss_measure import IMPLEMENTATIONS
from loss_measure import LOSSES
from loss_measure import MIB
from loss_measure import VIEWS

# The children import tests/backend_utils.py from the repository root: put it
# after the installed packages, so that an installed keras_sincere comes first.
sys.path.append(str(pathlib.Path(__file__).resolve().parents[1]))

CHILDREN = {
    "timing": loss_measure.run_timing,
    "memory": loss_measure.run_memory,
    "fit": loss_measure.run_fit,
}


# Runs the children: one process per backend and mode.


def _child_env(backend, device, low_mmap_threshold=False, budget_bytes=None):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if device == "cpu":
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    else:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        if budget_bytes is not None:
            env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = str(
                round(budget_bytes / _gpu_total_bytes(), 4)
            )
    if low_mmap_threshold:
        # Freed blocks of 1 MiB or more go back to the system at once.
        env["MALLOC_MMAP_THRESHOLD_"] = str(MIB)
    return env


def _gpu_total_bytes():
    try:
        output = subprocess.run(
            ["nvidia-smi", "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(output.splitlines()[0]) * MIB
    except (OSError, subprocess.CalledProcessError, ValueError):
        return 80 * GIB


def _child_command(args, child, **extra):
    command = [sys.executable, os.path.abspath(__file__), "--child", child]
    for name in ("device", "dim", "classes", "chunk_size", "repeats", "budget_gib"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    command += ["--max-seconds", str(args.max_seconds)]
    command += ["--sizes", ",".join(map(str, args.sizes))]
    command += ["--losses", ",".join(args.losses)]
    command += ["--implementations", ",".join(args.implementations)]
    for name, value in extra.items():
        command += [f"--{name}", str(value)]
    return command


def _run_child(args, backend, mode):
    result = subprocess.run(
        _child_command(args, mode),
        env=_child_env(backend, args.device, low_mmap_threshold=mode == "memory"),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(f"{backend} {mode} failed:\n{result.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def _fits(args, backend, mode, n):
    """Runs one SINCERE pass at N in a fresh process, watching its memory."""
    budget = args.budget_gib * GIB
    command = _child_command(args, "fit", mode=mode, n=n)
    env = _child_env(backend, args.device, low_mmap_threshold=True, budget_bytes=budget)
    with tempfile.TemporaryFile("w+") as stderr:
        child = subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        line = child.stdout.readline()
        while line and not line.startswith("READY"):
            line = child.stdout.readline()
        if not line.startswith("READY"):
            child.wait()
            stderr.seek(0)
            print(
                f"{backend} fit N={n} failed:\n{stderr.read()[-3000:]}", file=sys.stderr
            )
            return {"n": n, "mode": mode, "fits": False, "status": "failed"}
        status = _watch(args, child, before=int(line.split()[1]))
        if status:
            return {"n": n, "mode": mode, "fits": False, "status": status}
        output = child.stdout.read().strip().splitlines()
    if child.returncode != 0 or not output:
        return {"n": n, "mode": mode, "fits": False, "status": "failed"}
    result = json.loads(output[-1])
    if result.get("fits") and result["peak_bytes"] > budget:
        result.update(fits=False, status="over budget")
    return result


def _watch(args, child, before):
    """Waits for the child; kills it (saying why) over budget or time."""
    budget = args.budget_gib * GIB
    status, peak, start = None, 0, time.perf_counter()
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as proc:
                for entry in proc:
                    if entry.startswith("VmRSS"):
                        peak = max(peak, int(entry.split()[1]) * 1024 - before)
        except OSError:
            break
        if args.device == "cpu" and peak > budget:
            status = f"over budget (> {peak / GIB:.1f} GiB, stopped)"
        elif time.perf_counter() - start > args.search_timeout:
            status = f"stopped after {args.search_timeout} s"
        if status:
            child.kill()
            child.wait()
            return status
        time.sleep(0.01)
    return None


def _search(args, backend, mode):
    """Largest N (doubling from the largest size) whose pass fits the budget."""
    n = max(args.sizes)
    tried = [_fits(args, backend, mode, n)]
    step = 2 if tried[-1]["fits"] else 0.5
    while True:
        n = int(n * step)
        if n > args.max_n or n < 2 * VIEWS:
            break
        tried.append(_fits(args, backend, mode, n))
        if tried[-1]["fits"] != tried[-2]["fits"]:
            break
    fitting = [t for t in tried if t["fits"]]
    best = max(fitting, key=lambda t: t["n"]) if fitting else None
    failing = [t for t in tried if not t["fits"] and (not best or t["n"] > best["n"])]
    return {
        "backend": backend,
        "mode": mode,
        "largest": best,
        "next": min(failing, key=lambda t: t["n"]) if failing else None,
        "tried": tried,
    }


def _measure(args, backend):
    """Times one backend, then (on CPU) adds its peak memory to the rows."""
    result = _run_child(args, backend, "timing")
    if result is None:
        return None
    if args.device == "cpu":
        memory = _run_child(args, backend, "memory")
        peaks = {
            (r["loss"], r["implementation"], r["n"]): r.get("peak_bytes")
            for r in (memory or {}).get("rows", [])
        }
        for row in result["rows"]:
            peak = peaks.get((row["loss"], row["implementation"], row["n"]))
            if peak is not None:
                row["peak_bytes"] = peak
    print(
        f"{backend} {result['backend_version']} (keras {result['keras']}) "
        f"on {result['device']}: measured",
        file=sys.stderr,
    )
    return result


# The command.


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--sizes", default="512,2048,8192", help="N = B * V")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--losses", default=",".join(LOSSES))
    parser.add_argument("--implementations", default=",".join(IMPLEMENTATIONS))
    parser.add_argument(
        "--chunk-size",
        default="auto",
        help="rows per block of the chunked mode, or auto: about 2**21 / N",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=30.0,
        help="stop repeating one configuration after this long (3 runs at least)",
    )
    parser.add_argument("--budget-gib", type=float, default=4.0)
    parser.add_argument("--max-n", type=int, default=65536)
    parser.add_argument("--search-timeout", type=float, default=900.0)
    parser.add_argument(
        "--no-search", action="store_true", help="skip the budget search"
    )
    parser.add_argument(
        "--no-timing", action="store_true", help="only the budget search"
    )
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    return parser


def _parse_args():
    parser = _parser()
    args = parser.parse_args()
    args.sizes = [int(n) for n in args.sizes.split(",")]
    args.losses = args.losses.split(",")
    args.implementations = args.implementations.split(",")
    if any(n % VIEWS for n in args.sizes):
        parser.error(f"--sizes must be multiples of {VIEWS} (the views)")
    return args


def _installed(backends):
    found = []
    for backend in backends:
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped", file=sys.stderr)
        else:
            found.append(backend)
    return found


def _load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    args = _parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)), flush=True)
        return
    backends = _installed(args.backends.split(","))
    started = time.perf_counter()
    print(f"$ python benchmarks/loss.py {' '.join(sys.argv[1:])}")
    print(
        f"machine: {loss_measure.cpu_name()}, {platform.system()} "
        f"{platform.machine()}; load average before: {_load_average()}"
    )
    results, searches = [], []
    for backend in backends if not args.no_timing else []:
        result = _measure(args, backend)
        if result is not None:
            results.append(result)
    if results:
        loss_tables.print_versions(args, results)
        loss_tables.print_tables(args, results)
        sys.stdout.flush()
        _save(args, results, searches)
    if not args.no_search:
        for backend in backends:
            for mode in ("dense", "chunked"):
                searches.append(_search(args, backend, mode))
                print(f"{backend} {mode}: searched", file=sys.stderr)
        loss_tables.print_search(args, searches)
        _save(args, results, searches)
    print(
        f"\nload average after: {_load_average()}; "
        f"total {time.perf_counter() - started:.0f} s"
    )


def _save(args, results, searches):
    if args.json:
        with open(args.json, "w") as output:
            json.dump({"results": results, "searches": searches}, output, indent=1)


if __name__ == "__main__":
    main()
