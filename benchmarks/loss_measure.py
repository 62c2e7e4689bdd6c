"""What one child process of benchmarks/loss.py measures (not a command).

The backend is fixed per process, so `benchmarks/loss.py` starts one child
per backend and mode (`--child timing|memory|fit`) and each child calls one
of `run_timing`, `run_memory` or `run_fit` here, which return plain dicts
that the parent prints as tables (benchmarks/loss_tables.py). The module
docstring of benchmarks/loss.py says what is measured and how.
"""

import gc
import os
import platform
import statistics
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


def _backend_setup(device):
    """Imports the backend; returns (keras, backend name, device name)."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch

        if device == "gpu" and not torch.cuda.is_available():
            raise RuntimeError("torch sees no GPU")
        name = torch.cuda.get_device_name(0) if device == "gpu" else cpu_name()
    elif backend == "jax":
        import jax

        platform_ = jax.devices()[0].platform
        if device == "gpu" and platform_ == "cpu":
            raise RuntimeError("JAX sees no GPU")
        name = jax.devices()[0].device_kind if device == "gpu" else cpu_name()
    else:
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if device == "gpu" and not gpus:
            raise RuntimeError("TensorFlow sees no GPU")
        name = cpu_name()
        if device == "gpu":
            details = tf.config.experimental.get_device_details(gpus[0])
            name = details.get("device_name", gpus[0].name)
    return keras, backend, name


def cpu_name():
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
    """A callable running forward + backward and waiting for the results.

    The compiled value and gradient are the tests' own (tests/backend_utils);
    torch runs eagerly, as its peers do.
    """
    from tests.backend_utils import compiled_value_and_gradient

    step = compiled_value_and_gradient(fn, compile_torch=False)
    if backend == "jax":
        import jax

        # Compiled ahead of time, so that the memory of compiling it never
        # counts as the memory of running it.
        compiled = step.lower(embeddings).compile()
        return lambda: jax.block_until_ready(compiled(embeddings))
    if backend == "tensorflow":

        def run():
            value, gradient = step(embeddings)
            return value.numpy(), gradient.numpy()

        return run
    import torch

    def run():
        value, gradient = step(embeddings)
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
    from tests.backend_utils import compiled_value_and_gradient

    compiled = compiled_value_and_gradient(fn).lower(embeddings).compile()
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
    rows, matmul = [], []
    for n in args.sizes:
        embeddings, labels = _inputs(backend, n, args.dim, args.classes, args.device)
        matmul.append({"n": n, "seconds": _matmul_seconds(backend, n, args)})
        steps = _compiled_steps(backend, n, embeddings, labels, args, rows)
        _take_turns(steps, args)
        for row, _ in steps:
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


def _matmul_seconds(backend, n, args):
    """Median time of the N x D by D x N product, after one compiling run."""
    product = _matmul_step(backend, n, args.dim, args.device)
    product()
    times = [_timed(product) for _ in range(max(args.repeats, 5))]
    return statistics.median(times)


def _compiled_steps(backend, n, embeddings, labels, args, rows):
    """`[(row, step)]` for every configuration at N, each run twice already.

    A configuration that is skipped or fails goes to `rows` with its status.
    """
    budget = args.budget_gib * GIB
    steps = []
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
            steps.append((row, step))
    return steps


def _take_turns(steps, args):
    """Times the steps in turn, so that a change in the load hits all alike."""
    for _ in range(args.repeats):
        for row, step in steps:
            if sum(row["times"]) < args.max_seconds or len(row["times"]) < 3:
                row["times"].append(_timed(step))


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
