"""tf.distribute.MirroredStrategy on 2 logical CPUs: gathered loss == global loss.

Prints one JSON object: for each loss and number of views, the relative error
of the replicas' summed loss and gradient against the single-device loss of
the global batch (also with a cross-batch memory); the same without gathering
for SINCERE with one view (the case the test asserts differs); the weights
after a `fit` step under the strategy against a single-device `fit` step; and
an `EmbeddingQueue` filled under the strategy against the global batch.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tensorflow as tf  # noqa: E402

REPLICAS = 2
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * REPLICAS
)

import common  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(REPLICAS)])
assert strategy.num_replicas_in_sync == REPLICAS
local = common.GLOBAL_BATCH // REPLICAS
results = {}

with strategy.scope():
    dense = keras.layers.Dense(common.EMBEDDING_DIM, use_bias=False)
    dense.build((None, common.FEATURES))
    dense.kernel.assign(common.kernel())

for views in (1, 2):
    x, y = common.batch(views)

    def shard_of(context, x=x, y=y):
        start = context.replica_id_in_sync_group * local
        return x[start : start + local], y[start : start + local]

    shards = strategy.experimental_distribute_values_from_function(shard_of)
    cases = {
        f"{name}/views={views}/gather": loss
        for name, loss in common.losses(True).items()
    }
    if views == 1:
        cases["sincere/views=1/local"] = common.losses(False)["sincere"]
    for name in ("sincere", "sincere_chunked", "supcon", "infonce"):
        with_memory = common.WithMemory(common.losses(True)[name])
        cases[f"{name}_memory/views={views}/gather"] = with_memory
    for name in common.LABEL_SET_CASES:
        cases[f"{name}/views={views}/gather"] = common.loss_case(name)

    # Every case in one function: one trace on the replicas, not one per case.
    @tf.function
    def replica_step(shard, cases=cases):
        steps = {}
        for key, loss in cases.items():
            with tf.GradientTape() as tape:
                value = loss(shard[1], dense(shard[0]))
            steps[key] = (value, tape.gradient(value, dense.kernel))
        return steps

    steps = strategy.run(replica_step, args=(shards,))
    for key, loss in cases.items():
        # Keras's fit sums the replicas' gradients (and their scaled losses).
        value, gradient = (strategy.reduce("SUM", t, axis=None) for t in steps[key])
        with tf.GradientTape() as tape:
            expected = loss(y, dense(x))
        expected_gradient = tape.gradient(expected, dense.kernel)
        results[key] = {
            "value": common.relative_error(value, expected),
            "gradient": common.relative_error(gradient, expected_gradient),
        }


def fit_one_step(scope):
    with scope:
        model = keras.Sequential(
            [
                keras.Input((2, common.FEATURES)),
                keras.layers.Dense(common.EMBEDDING_DIM, use_bias=False),
            ]
        )
        model.layers[0].kernel.assign(common.kernel())
        model.compile(
            optimizer=keras.optimizers.SGD(0.5),
            loss=common.losses(True)["sincere"],
        )
    x, y = common.batch(views=2)
    history = model.fit(
        x, y, batch_size=common.GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0
    )
    return model.layers[0].kernel.numpy(), history.history["loss"][0]


def fill_queue():
    """Two steps of 8 embeddings into a queue of 12 under the strategy."""
    from keras_sincere.models import EmbeddingQueue

    with strategy.scope():
        queue = EmbeddingQueue(12)
        queue.build((None, common.EMBEDDING_DIM))
    x, y = common.batch(views=1)
    shards = strategy.experimental_distribute_values_from_function(
        lambda context: (
            x[context.replica_id_in_sync_group * local :][:local],
            y[context.replica_id_in_sync_group * local :][:local],
        )
    )

    @tf.function
    def enqueue(shard):
        queue.enqueue(dense(shard[0]), shard[1])

    for _ in range(2):
        strategy.run(enqueue, args=(shards,))
    global_batch = dense(x).numpy()
    global_batch /= np.linalg.norm(global_batch, axis=1, keepdims=True)
    expected = np.concatenate([global_batch, global_batch])[-12:]
    expected_labels = np.concatenate([y, y])[-12:]
    replicas_agree = max(
        common.relative_error(v.numpy(), expected)
        for v in queue.embeddings.value.values
    )
    return {
        "embeddings": common.relative_error(queue.embeddings.numpy(), expected),
        "replicas": replicas_agree,
        "labels_equal": bool(np.array_equal(queue.labels.numpy(), expected_labels)),
        "filled": int(queue.filled.numpy()),
    }


results["queue"] = fill_queue()
distributed_kernel, distributed_loss = fit_one_step(strategy.scope())
single_kernel, single_loss = fit_one_step(tf.distribute.get_strategy().scope())
results["fit"] = {
    "weights": common.relative_error(distributed_kernel, single_kernel),
    "moved": common.relative_error(single_kernel, common.kernel()),
    "loss": common.relative_error(distributed_loss, single_loss),
}
print(json.dumps(results))
