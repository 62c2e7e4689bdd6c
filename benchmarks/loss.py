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
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

BACKENDS = ("tensorflow", "jax", "torch")
LOSSES = ("sincere", "supcon")
OURS = ("ours", "ours_chunked")
IMPLEMENTATIONS = ("ours", "ours_chunked", "baseline", "pml")
VIEWS = 2
TEMPERATURE = 0.1
# pytorch-metric-learning's NTXentLoss holds several float32 arrays of
# (positive pairs) x (negative pairs) entries: measured peak / entries / 4.
NTXENT_BYTES_PER_PAIR_PAIR = 4 * 4.5
GIB = 2**30
MIB = 2**20


# Child side: runs in a process whose backend is fixed.


def _backend_setup(device):
    """Imports the backend; returns (keras, backend name, device name)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if device == "gpu" and not torch.cuda.is_available():
            raise RuntimeError("torch sees no GPU")
        name = torch.cuda.get_device_name(0) if device == "gpu" else _cpu_name()
    elif backend == "jax":
        import jax

        platform_ = jax.devices()[0].platform
        if device == "gpu" and platform_ == "cpu":
            raise RuntimeError("JAX sees no GPU")
        name = jax.devices()[0].device_kind if device == "gpu" else _cpu_name()
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if device == "gpu" and not gpus:
            raise RuntimeError("TensorFlow sees no GPU")
        name = _cpu_name()
        if device == "gpu":
            details = tf.config.experimental.get_device_details(gpus[0])
            name = details.get("device_name", gpus[0].name)
    return keras, backend, name


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def _backend_version(backend):
    return __import__(backend).__version__


def _inputs(backend, n, dim, classes, device, seed=0):
    """Embeddings (B, V, D) and labels (B,) as backend tensors on the device."""
    import numpy as np

    rng = np.random.default_rng(seed)
    samples = n // VIEWS
    embeddings = rng.normal(size=(samples, VIEWS, dim)).astype("float32")
    labels = np.arange(samples) % classes
    if backend == "torch":
        import torch

        where = "cuda" if device == "gpu" else "cpu"
        return torch.tensor(embeddings, device=where), torch.tensor(
            labels, device=where
        )
    if backend == "jax":
        import jax.numpy as jnp

        return jnp.asarray(embeddings), jnp.asarray(labels)
    import tensorflow as tf

    with tf.device("GPU:0" if device == "gpu" else "CPU:0"):
        return tf.constant(embeddings), tf.constant(labels)


def baseline_loss(loss, labels, embeddings, temperature=TEMPERATURE):
    """The mean loss written from its formula with keras.ops, densely.

    `labels` (N,), `embeddings` (N, D). What a user would write: normalise,
    one matrix of similarities, masks, a max-shifted softmax.
    """
    from keras import ops

    z = embeddings / ops.norm(embeddings, axis=1, keepdims=True)
    logits = ops.matmul(z, ops.transpose(z)) / temperature
    same = ops.equal(labels[:, None], labels[None, :])
    eye = ops.eye(ops.shape(z)[0], dtype="bool")
    positive = ops.cast(ops.logical_and(same, ops.logical_not(eye)), "float32")
    logits = logits - ops.stop_gradient(ops.max(logits, axis=1, keepdims=True))
    exp = ops.exp(logits)
    if loss == "sincere":
        # -s_ip + log(exp(s_ip) + sum_n exp(s_in)) for every pair.
        noise = ops.sum(ops.where(same, 0.0, exp), axis=1, keepdims=True)
        log_prob = logits - ops.log(exp + noise)
    else:
        # -s_ip + log(sum_{j != i} exp(s_ij)).
        others = ops.sum(ops.where(eye, 0.0, exp), axis=1, keepdims=True)
        log_prob = logits - ops.log(others)
    count = ops.sum(positive, axis=1)
    per_anchor = -ops.sum(positive * log_prob, axis=1) / ops.maximum(count, 1.0)
    valid = ops.cast(count > 0, "float32")
    return ops.sum(per_anchor * valid) / ops.maximum(ops.sum(valid), 1.0)


def _chunk_size(args, n):
    """`--chunk-size`, or for `auto` the rule of docs/losses.md.

    Blocks of about 2**21 logits (c = 2**21 / N, a power of two for the
    sizes measured), at least 32 rows and at most N / 2, so that the chunked
    path always streams at least two blocks.
    """
    if args.chunk_size != "auto":
        return int(args.chunk_size)
    return max(32, min(n // 2, 2**21 // n))


def _ntxent_bytes(labels_flat):
    import numpy as np

    labels_flat = np.asarray(labels_flat)
    _, counts = np.unique(labels_flat, return_counts=True)
    n = labels_flat.size
    positives = int((counts * (counts - 1)).sum())
    negatives = n * n - int((counts * counts).sum())
    return positives * negatives * NTXENT_BYTES_PER_PAIR_PAIR


def _loss_fn(backend, loss, implementation, labels, args, budget_bytes):
    """`fn(embeddings (B, V, D)) -> scalar`, or a string saying why not."""
    import keras

    from keras_sincere import losses

    classes = {"sincere": losses.SincereLoss, "supcon": losses.SupConLoss}
    if implementation in OURS:
        chunk = None
        if implementation == "ours_chunked":
            chunk = _chunk_size(args, labels.shape[0] * VIEWS)
        instance = classes[loss](temperature=TEMPERATURE, chunk_size=chunk)
        return lambda z: instance(labels, z)
    flat_labels = keras.ops.repeat(labels, VIEWS, axis=0)

    def flat(z):
        return keras.ops.reshape(z, (-1, z.shape[-1]))

    if implementation == "baseline":
        return lambda z: baseline_loss(loss, flat_labels, flat(z))
    if backend != "torch":
        return "torch only"
    from pytorch_metric_learning import losses as peer
    from pytorch_metric_learning import reducers

    if loss == "supcon":
        instance = peer.SupConLoss(temperature=TEMPERATURE)
    else:
        needed = _ntxent_bytes(flat_labels.cpu().numpy())
        if needed > budget_bytes:
            return f"skipped: needs ~{needed / GIB:.0f} GiB"
        instance = peer.NTXentLoss(
            temperature=TEMPERATURE,
            reducer=reducers.PerAnchorReducer(reducers.AvgNonZeroReducer()),
        )
    return lambda z: instance(flat(z), flat_labels)


def _step(backend, fn, embeddings, device):
    """A callable running forward + backward and waiting for the results."""
    if backend == "jax":
        import jax

        # Compiled ahead of time, so that the memory of compiling it never
        # counts as the memory of running it.
        compiled = jax.jit(jax.value_and_grad(fn)).lower(embeddings).compile()
        return lambda: jax.block_until_ready(compiled(embeddings))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def compiled(z):
            with tf.GradientTape() as tape:
                tape.watch(z)
                value = fn(z)
            return value, tape.gradient(value, z)

        def run():
            value, gradient = compiled(embeddings)
            return value.numpy(), gradient.numpy()

        return run
    import torch

    def run():
        z = embeddings.detach().requires_grad_(True)
        value = fn(z)
        (gradient,) = torch.autograd.grad(value, z)
        if device == "gpu":
            torch.cuda.synchronize()
        return value, gradient

    return run


def _matmul_step(backend, n, dim, device):
    """One N x D by D x N product, compiled like the losses."""
    embeddings, _ = _inputs(backend, n, dim, 1, device, seed=1)
    if backend == "jax":
        import jax

        flat = embeddings.reshape(n, dim)
        product = jax.jit(lambda z: z @ z.T)
        return lambda: jax.block_until_ready(product(flat))
    if backend == "tensorflow":
        import tensorflow as tf

        flat = tf.reshape(embeddings, (n, dim))
        product = tf.function(
            lambda z: tf.matmul(z, z, transpose_b=True), jit_compile=True
        )
        return lambda: product(flat).numpy()
    import torch

    flat = embeddings.reshape(n, dim)

    def run():
        result = flat @ flat.T
        if device == "gpu":
            torch.cuda.synchronize()
        return result

    return run


def _timed(step):
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def _gpu_peak(backend, step, fn=None, embeddings=None):
    """Peak device memory of one run of `step` on a GPU, in bytes."""
    if backend == "torch":
        import torch

        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        step()
        return torch.cuda.max_memory_allocated() - before
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("GPU:0")
        before = tf.config.experimental.get_memory_info("GPU:0")["current"]
        step()
        return tf.config.experimental.get_memory_info("GPU:0")["peak"] - before
    import jax

    compiled = jax.jit(jax.value_and_grad(fn)).lower(embeddings).compile()
    analysis = compiled.memory_analysis()
    return analysis.temp_size_in_bytes + analysis.output_size_in_bytes


def _rss_bytes(field="VmRSS"):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _cpu_peak(backend, step):
    """Peak memory of one run of `step` on CPU, in bytes.

    TensorFlow keeps the memory it frees for reuse, so its resident size
    does not show a second run: its allocator's own peak is used instead.
    The other backends return freed blocks to the system (see the module
    docstring): the rise of the resident set size is used.
    """
    gc.collect()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("CPU:0")
        before = tf.config.experimental.get_memory_info("CPU:0")["current"]
        step()
        return tf.config.experimental.get_memory_info("CPU:0")["peak"] - before
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # Resets the high-water mark to the current size.
    before = _rss_bytes()
    step()
    return _rss_bytes("VmHWM") - before


def run_timing(args):
    """Child: times every configuration, interleaving the implementations."""
    keras, backend, device_name = _backend_setup(args.device)
    budget = args.budget_gib * GIB
    rows, matmul = [], []
    for n in args.sizes:
        embeddings, labels = _inputs(backend, n, args.dim, args.classes, args.device)
        product = _matmul_step(backend, n, args.dim, args.device)
        product()
        times = [_timed(product) for _ in range(max(args.repeats, 5))]
        matmul.append({"n": n, "seconds": statistics.median(times)})
        steps = {}
        for loss in args.losses:
            for implementation in args.implementations:
                row = {"loss": loss, "implementation": implementation, "n": n}
                if implementation == "ours_chunked":
                    row["chunk_size"] = _chunk_size(args, n)
                fn = _loss_fn(backend, loss, implementation, labels, args, budget)
                if isinstance(fn, str):
                    if fn != "torch only":
                        rows.append({**row, "status": fn})
                    continue
                try:
                    step = _step(backend, fn, embeddings, args.device)
                    row["first_s"] = _timed(step)  # Compiles where it compiles.
                    row["warm_s"] = _timed(step)
                    if args.device == "gpu":
                        row["peak_bytes"] = _gpu_peak(backend, step, fn, embeddings)
                except Exception as error:  # noqa: BLE001 (reported in the table)
                    rows.append({**row, "status": f"failed: {_short(error)}"})
                    continue
                row["times"] = []
                steps[(loss, implementation)] = (row, step)
        # Take turns, so that a change in the machine's load hits all alike.
        for _ in range(args.repeats):
            for row, step in steps.values():
                if sum(row["times"]) < args.max_seconds or len(row["times"]) < 3:
                    row["times"].append(_timed(step))
        for row, _ in steps.values():
            row["status"] = "ok"
            row["median_s"] = statistics.median(row["times"])
            rows.append(row)
        del steps, embeddings, labels
        gc.collect()
    return {
        "backend": backend,
        "backend_version": _backend_version(backend),
        "keras": keras.__version__,
        "device": device_name,
        "rows": rows,
        "matmul": matmul,
    }


def run_memory(args):
    """Child (CPU): peak memory of every configuration, one at a time."""
    _, backend, _ = _backend_setup(args.device)
    budget = args.budget_gib * GIB
    rows = []
    for n in args.sizes:
        embeddings, labels = _inputs(backend, n, args.dim, args.classes, args.device)
        for loss in args.losses:
            for implementation in args.implementations:
                fn = _loss_fn(backend, loss, implementation, labels, args, budget)
                if isinstance(fn, str):
                    continue
                row = {"loss": loss, "implementation": implementation, "n": n}
                try:
                    step = _step(backend, fn, embeddings, args.device)
                    step()  # Compiles outside the measured run.
                    row["peak_bytes"] = _cpu_peak(backend, step)
                except Exception as error:  # noqa: BLE001
                    row["status"] = f"failed: {_short(error)}"
                rows.append(row)
                del fn
                gc.collect()
    return {"backend": backend, "rows": rows}


def run_fit(args):
    """Child: SINCERE forward + backward at N = --n in the given mode.

    The first pass is watched for memory, the second one timed.
    """
    if args.device == "gpu":
        _limit_gpu_memory(args.budget_gib * GIB)
    _, backend, _ = _backend_setup(args.device)
    embeddings, labels = _inputs(backend, args.n, args.dim, args.classes, args.device)
    implementation = "ours_chunked" if args.mode == "chunked" else "ours"
    fn = _loss_fn(backend, "sincere", implementation, labels, args, 0)
    step = _step(backend, fn, embeddings, args.device)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    before = _rss_bytes()
    print(f"READY {before}", flush=True)  # The parent watches from here on.
    result = {"n": args.n, "mode": args.mode}
    if args.mode == "chunked":
        result["chunk_size"] = _chunk_size(args, args.n)
    try:
        step()  # Compiles on TensorFlow.
        result["fits"] = True
        if args.device == "gpu":
            result["peak_bytes"] = _gpu_peak(backend, step, fn, embeddings)
        else:
            result["peak_bytes"] = _rss_bytes("VmHWM") - before
        result["seconds"] = _timed(step)  # A second pass, compiled everywhere.
    except Exception as error:  # noqa: BLE001 (an out-of-memory error on GPU)
        result.update(fits=False, status=_short(error))
    return result


def _limit_gpu_memory(budget_bytes):
    """Caps each backend's GPU allocator at the budget, before it starts."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, budget_bytes / total))
    elif backend == "tensorflow":
        import tensorflow as tf

        gpu = tf.config.list_physical_devices("GPU")[0]
        tf.config.set_logical_device_configuration(
            gpu,
            [tf.config.LogicalDeviceConfiguration(memory_limit=budget_bytes // MIB)],
        )
    # JAX reads XLA_PYTHON_CLIENT_MEM_FRACTION, set by the parent.


def _short(error):
    text = f"{type(error).__name__}: {error}".splitlines()[0]
    return text[:120]


# Parent side: runs the children and prints the tables.


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
        before = int(line.split()[1])
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
                return {"n": n, "mode": mode, "fits": False, "status": status}
            time.sleep(0.01)
        output = child.stdout.read().strip().splitlines()
    if child.returncode != 0 or not output:
        return {"n": n, "mode": mode, "fits": False, "status": "failed"}
    result = json.loads(output[-1])
    if result.get("fits") and result["peak_bytes"] > budget:
        result.update(fits=False, status="over budget")
    return result


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


def _format_ms(seconds):
    return f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}"


def _print_tables(args, results):
    rows = []
    for result in results:
        for row in result["rows"]:
            rows.append({**row, "backend": result["backend"]})
    timed = [r for r in rows if r.get("status") == "ok"]

    def best_peer(loss, n, backend=None):
        peers = [
            r["median_s"]
            for r in timed
            if r["loss"] == loss
            and r["n"] == n
            and r["implementation"] not in OURS
            and (backend is None or r["backend"] == backend)
        ]
        return min(peers) if peers else None

    print("\n### Forward + backward time and peak memory\n")
    print(
        "| loss | N | backend | implementation | median (ms) | vs best peer, "
        "same backend | vs best peer, any backend | peak memory (MiB) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    order = {name: i for i, name in enumerate(IMPLEMENTATIONS)}
    backend_order = {name: i for i, name in enumerate(BACKENDS)}
    rows.sort(
        key=lambda r: (
            args.losses.index(r["loss"]),
            r["n"],
            backend_order[r["backend"]],
            order[r["implementation"]],
        )
    )
    names = {
        "ours": "ours, dense",
        "ours_chunked": "ours, chunk_size={chunk_size}",
        "baseline": "baseline (formula, keras.ops)",
        "pml": "pytorch-metric-learning",
    }
    for r in rows:
        name = names[r["implementation"]].format(chunk_size=r.get("chunk_size"))
        if r["implementation"] == "pml":
            name = "PML SupConLoss" if r["loss"] == "supcon" else "PML NTXentLoss"
        memory = f"{r['peak_bytes'] / MIB:.0f}" if "peak_bytes" in r else ""
        if r.get("status") != "ok":
            print(
                f"| {r['loss']} | {r['n']} | {r['backend']} | {name} | "
                f"{r.get('status', '')} | | | {memory} |"
            )
            continue
        ratios = []
        for peer in (
            best_peer(r["loss"], r["n"], r["backend"]),
            best_peer(r["loss"], r["n"]),
        ):
            ratios.append(f"{r['median_s'] / peer:.2f}x" if peer else "")
        print(
            f"| {r['loss']} | {r['n']} | {r['backend']} | {name} | "
            f"{_format_ms(r['median_s'])} | {ratios[0]} | {ratios[1]} | {memory} |"
        )

    print("\n### Arithmetic floor\n")
    print(
        "`2 N^2 D` FLOPs (one N x D by D x N product) at the fastest measured rate "
        "of that product; the loss itself needs three such products (logits and "
        "the two gradient products), four when chunked (the logits again).\n"
    )
    header = " | ".join(f"{r['backend']} GFLOP/s" for r in results)
    print(f"| N | GFLOP | {header} | floor (ms) | fastest ours (ms) | ours / floor |")
    print("|---|---|" + "---|" * len(results) + "---|---|---|")
    for n in args.sizes:
        flops = 2 * n * n * args.dim
        rates = []
        for result in results:
            seconds = [m["seconds"] for m in result["matmul"] if m["n"] == n]
            rates.append(flops / seconds[0] / 1e9 if seconds else float("nan"))
        floor = flops / max(rates) / 1e9
        ours = [
            r["median_s"] for r in timed if r["n"] == n and r["implementation"] in OURS
        ]
        fastest = min(ours) if ours else float("nan")
        rate_cells = " | ".join(f"{rate:.0f}" for rate in rates)
        print(
            f"| {n} | {flops / 1e9:.2f} | {rate_cells} | {_format_ms(floor)} | "
            f"{_format_ms(fastest)} | {fastest / floor:.1f}x |"
        )

    print("\n### Chunked against dense: time per pair\n")
    print(
        "| loss | N | backend | dense (ns/pair) | chunked (ns/pair) | chunked / dense |"
    )
    print("|---|---|---|---|---|---|")
    for loss in args.losses:
        for n in args.sizes:
            for result in results:
                pair = {
                    r["implementation"]: r["median_s"]
                    for r in timed
                    if r["backend"] == result["backend"]
                    and r["loss"] == loss
                    and r["n"] == n
                    and r["implementation"] in OURS
                }
                if len(pair) == 2:
                    dense, chunked = pair["ours"], pair["ours_chunked"]
                    print(
                        f"| {loss} | {n} | {result['backend']} | "
                        f"{dense / n / n * 1e9:.2f} | {chunked / n / n * 1e9:.2f} | "
                        f"{chunked / dense:.2f} |"
                    )


def _print_search(args, searches):
    if searches:
        print(
            f"\n### Largest N within {args.budget_gib:g} GiB "
            "(SINCERE, forward + backward)\n"
        )
        print(
            "| backend | mode | largest N that fits | its peak (MiB) | its pass (s) "
            "| ns/pair | next N | result |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for search in searches:
            best, after = search["largest"], search["next"]
            mode = "dense"
            if search["mode"] == "chunked":
                mode = f"chunked, {args.chunk_size}"
            if best:
                if "chunk_size" in best:
                    mode = f"chunk_size={best['chunk_size']}"
                cells = (
                    f"{best['n']} | {best['peak_bytes'] / MIB:.0f} | "
                    f"{best['seconds']:.1f} | "
                    f"{best['seconds'] / best['n'] ** 2 * 1e9:.2f}"
                )
            else:
                cells = "none fits | | | "
            if after:
                tail = f"{after['n']} | {after.get('status', 'does not fit')}"
            else:
                tail = f"> {args.max_n} not tried (--max-n) |"
            print(f"| {search['backend']} | {mode} | {cells} | {tail} |")


def main():
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
    args = parser.parse_args()
    args.sizes = [int(n) for n in args.sizes.split(",")]
    args.losses = args.losses.split(",")
    args.implementations = args.implementations.split(",")
    if any(n % VIEWS for n in args.sizes):
        parser.error(f"--sizes must be multiples of {VIEWS} (the views)")
    if args.child:
        runner = {"timing": run_timing, "memory": run_memory, "fit": run_fit}
        print(json.dumps(runner[args.child](args)), flush=True)
        return

    backends = []
    for backend in args.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped", file=sys.stderr)
        else:
            backends.append(backend)
    started = time.perf_counter()
    print(f"$ python benchmarks/loss.py {' '.join(sys.argv[1:])}")
    print(
        f"machine: {_cpu_name()}, {platform.system()} {platform.machine()}; "
        f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    results, searches = [], []
    for backend in backends if not args.no_timing else []:
        result = _run_child(args, backend, "timing")
        if result is None:
            continue
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
        results.append(result)
        print(
            f"{backend} {result['backend_version']} (keras {result['keras']}) "
            f"on {result['device']}: measured",
            file=sys.stderr,
        )
    if results:
        versions = ", ".join(
            f"{r['backend']} {r['backend_version']} on {r['device']}" for r in results
        )
        print(f"keras {results[0]['keras']}; {versions}")
        try:
            import pytorch_metric_learning

            print(f"pytorch-metric-learning {pytorch_metric_learning.__version__}")
        except ImportError:
            pass
        print(
            f"D = {args.dim}, {VIEWS} views, labels = sample % {args.classes}, "
            f"T = {TEMPERATURE}; median of {args.repeats} runs after a compiling "
            f"and a warm-up run"
        )
        _print_tables(args, results)
        sys.stdout.flush()
        _save(args, results, searches)
    if not args.no_search:
        for backend in backends:
            for mode in ("dense", "chunked"):
                searches.append(_search(args, backend, mode))
                print(f"{backend} {mode}: searched", file=sys.stderr)
        _print_search(args, searches)
        _save(args, results, searches)
    print(
        f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"total {time.perf_counter() - started:.0f} s"
    )


def _save(args, results, searches):
    if args.json:
        with open(args.json, "w") as output:
            json.dump({"results": results, "searches": searches}, output, indent=1)


if __name__ == "__main__":
    main()
