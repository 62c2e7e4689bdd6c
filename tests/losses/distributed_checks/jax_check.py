"""keras.distribution.DataParallel on 4 simulated CPU devices.

Run with `XLA_FLAGS=--xla_force_host_platform_device_count=4`. Prints one JSON
object: the loss and the weights after one `fit` step under the mesh against
the same on one device, and the loss and cross-batch memory of a
`ContrastiveModel` fitted on the mesh.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "jax"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_sincere as ks  # noqa: E402

DEVICES = 4
assert len(jax.devices()) == DEVICES, jax.devices()


def fit_one_step(name, views):
    model = keras.Sequential(
        [
            keras.Input((views, common.FEATURES) if views > 1 else (common.FEATURES,)),
            keras.layers.Dense(common.EMBEDDING_DIM, use_bias=False),
        ]
    )
    model.layers[0].kernel.assign(common.kernel())
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=common.losses(True)[name])
    x, y = common.batch(views)
    # One step on one batch: its loss is that of the weights before the step
    # (no separate `evaluate`, which would compile a second program).
    history = model.fit(
        x, y, batch_size=common.GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0
    )
    before = history.history["loss"][0]
    return before, keras.ops.convert_to_numpy(model.layers[0].kernel)


cases = [(name, views) for name in common.losses(True) for views in (1, 2)]
single = {case: fit_one_step(*case) for case in cases}

mesh = keras.distribution.DataParallel(devices=jax.devices())
keras.distribution.set_distribution(mesh)
results = {}
for case in cases:
    loss, kernel = fit_one_step(*case)
    results[f"{case[0]}/views={case[1]}"] = {
        "value": common.relative_error(loss, single[case][0]),
        "weights": common.relative_error(kernel, single[case][1]),
        "moved": common.relative_error(single[case][1], common.kernel()),
    }

# The input really is split across the devices by the distribution.
layout = mesh.get_data_layout((common.GLOBAL_BATCH, common.FEATURES))
results["batch_axis"] = list(layout.axes)
results["devices"] = int(np.prod(mesh.device_mesh.shape))

keras.utils.set_random_seed(0)
encoder = keras.Sequential(
    [
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
    ]
)
model = ks.models.ContrastiveModel(
    encoder,
    ks.models.ProjectionHead(8, 8),
    augmenter=ks.augment.simclr_augmenter(16, seed=0),
    memory_size=24,
)
model.compile(optimizer="sgd", loss=ks.losses.SincereLoss(gather_distributed=True))
images = np.random.default_rng(0).random((16, 16, 16, 3)).astype("float32")
labels = np.arange(16) % 4
history = model.fit(images, labels, batch_size=8, epochs=2, verbose=0)
results["contrastive_model_losses"] = history.history["loss"]
memory = {k: keras.ops.convert_to_numpy(v) for k, v in model.memory.memory().items()}
results["memory_in_use"] = int(memory["memory_mask"].sum())
norms = np.linalg.norm(memory["memory_embeddings"], axis=1)
results["memory_norm_error"] = float(np.max(np.abs(norms - 1.0)))
print(json.dumps(results))
