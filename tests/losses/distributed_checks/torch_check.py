"""torch.distributed (DDP, gloo) with 2 CPU processes: one step == global step.

Each process trains a DDP-wrapped Keras model on its half of the global batch
with `gather_distributed=True` and a torch SGD step; the parameters after the
step must equal those of one process stepping on the whole batch (also with a
cross-batch memory). Each process also fills an `EmbeddingQueue` with its
half: both must hold the global batch. Prints one JSON object of relative
errors.
"""

import json
import os
import sys
import tempfile

os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PROCESSES = 2


def build_model(views):
    import common
    import keras

    model = keras.Sequential(
        [
            keras.Input((views, common.FEATURES) if views > 1 else (common.FEATURES,)),
            keras.layers.Dense(common.EMBEDDING_DIM, use_bias=False),
        ]
    )
    model.layers[0].kernel.assign(common.kernel())
    return model


def one_step(model, loss, x, y):
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    optimizer.zero_grad()
    value = loss(torch.as_tensor(y), model(torch.as_tensor(x)))
    value.backward()
    optimizer.step()
    return float(value.detach())


def kernel_of(model):
    import keras

    return keras.ops.convert_to_numpy(model.layers[0].kernel)


def worker(rank, output):
    import common
    import numpy as np
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    # A file rendezvous, not MASTER_PORT: a port probed free here could be
    # taken by another test before the group binds it.
    dist.init_process_group(
        "gloo",
        init_method=f"file://{output}/rendezvous",
        rank=rank,
        world_size=PROCESSES,
    )
    local = common.GLOBAL_BATCH // PROCESSES
    results = {}
    for views in (1, 2):
        x, y = common.batch(views)
        shard = slice(rank * local, (rank + 1) * local)
        for name in (
            *common.losses(True),
            *common.MEMORY_CASES,
            *common.LABEL_SET_CASES,
        ):
            model = build_model(views)
            ddp = DistributedDataParallel(model)
            value = one_step(ddp, common.loss_case(name), x[shard], y[shard])
            values = [None] * PROCESSES
            dist.all_gather_object(values, value)
            results[f"{name}/views={views}"] = {
                "kernel": kernel_of(model).tolist(),
                "mean_value": float(np.mean(values)),
            }
    results["queue"] = fill_queue(shard)
    with open(os.path.join(output, f"rank{rank}.json"), "w") as file:
        json.dump(results, file)
    dist.barrier()
    dist.destroy_process_group()
    # Gloo's worker threads can still be joinable when the interpreter
    # finalises, which aborts the process ("terminate called without an
    # active exception") after the results are written; skip finalisation.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def fill_queue(shard):
    """Two steps of this process's embeddings into a queue of 12 slots."""
    import common
    import keras

    from keras_sincere.models import EmbeddingQueue

    queue = EmbeddingQueue(12)
    x, y = common.batch(views=1)
    model = build_model(1)
    for _ in range(2):
        queue.enqueue(model(x[shard]), y[shard])
    return {
        "embeddings": keras.ops.convert_to_numpy(queue.embeddings).tolist(),
        "labels": keras.ops.convert_to_numpy(queue.labels).tolist(),
        "filled": int(keras.ops.convert_to_numpy(queue.filled)),
    }


def queue_errors(ranks):
    """Each process's queue against the global batch enqueued twice."""
    import common
    import keras
    import numpy as np

    x, y = common.batch(views=1)
    global_batch = keras.ops.convert_to_numpy(build_model(1)(x))
    global_batch /= np.linalg.norm(global_batch, axis=1, keepdims=True)
    expected = np.concatenate([global_batch, global_batch])[-12:]
    expected_labels = np.concatenate([y, y])[-12:]
    return {
        "embeddings": max(
            common.relative_error(rank["queue"]["embeddings"], expected)
            for rank in ranks
        ),
        "labels_equal": all(
            rank["queue"]["labels"] == expected_labels.tolist() for rank in ranks
        ),
        "filled": [rank["queue"]["filled"] for rank in ranks],
    }


def main():
    import common
    import torch.multiprocessing

    with tempfile.TemporaryDirectory() as output:
        torch.multiprocessing.spawn(worker, args=(output,), nprocs=PROCESSES, join=True)
        ranks = []
        for rank in range(PROCESSES):
            with open(os.path.join(output, f"rank{rank}.json")) as file:
                ranks.append(json.load(file))
    results = {"queue": queue_errors(ranks)}
    for key, distributed in ranks[0].items():
        if key == "queue":
            continue
        name, views = key.split("/views=")
        x, y = common.batch(int(views))
        model = build_model(int(views))
        value = one_step(model, common.loss_case(name), x, y)
        kernel = kernel_of(model)
        results[key] = {
            "weights": common.relative_error(distributed["kernel"], kernel),
            "ranks_agree": common.relative_error(ranks[1][key]["kernel"], kernel),
            "value": common.relative_error(distributed["mean_value"], value),
            "moved": common.relative_error(kernel, common.kernel()),
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
