"""Negatives from the whole global batch under each backend's data parallelism.

Each check runs in its own process (simulated devices must be configured
before the backend starts; DDP needs processes of its own) and prints JSON
relative errors against the single-device loss of the same global batch.
The check of the backend under test runs; the others run in their own envs.
"""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np

from keras_sincere import losses
from keras_sincere.distributed import active_replicas
from keras_sincere.distributed import loss_scale

CHECKS = pathlib.Path(__file__).parent / "distributed_checks"
BACKEND = keras.backend.backend()


def run_check(script, **environment):
    done = subprocess.run(
        [sys.executable, str(CHECKS / script)],
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_outside_a_distributed_step_nothing_is_gathered():
    assert active_replicas() is None
    assert loss_scale() == 1.0
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2])
    gathered = losses.SincereLoss(gather_distributed=True)(labels, embeddings)
    local = losses.SincereLoss()(labels, embeddings)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(gathered), keras.ops.convert_to_numpy(local)
    )


def test_gather_distributed_is_in_the_config():
    loss = losses.SupConLoss(gather_distributed=True)
    assert loss.get_config()["gather_distributed"] is True
    assert losses.SupConLoss.from_config(loss.get_config()).gather_distributed


def test_data_parallel_step_equals_the_single_device_global_step():
    """The check of this env's backend (each env runs its own)."""
    {
        "tensorflow": check_mirrored_strategy,
        "jax": check_data_parallel_mesh,
        "torch": check_ddp,
    }[BACKEND]()


def check_mirrored_strategy():
    """Summed replica gradients == the gradient of the global-batch loss."""
    results = run_check("tensorflow_check.py")
    for key, errors in results.items():
        if key.endswith("/gather"):
            assert errors["value"] < 1e-5, (key, errors)
            assert errors["gradient"] < 1e-5, (key, errors)
    # Without the gather each replica sees half the negatives and, with one
    # view, almost none of its positives: the loss is a different one.
    assert results["sincere/views=1/local"]["gradient"] > 0.1, results
    assert results["sincere_memory/views=1/gather"]["value"] < 1e-5, results
    assert results["supcon_sets/views=1/gather"]["gradient"] < 1e-5, results
    # The queue holds the global batch, in replica order, on every replica.
    queue = results["queue"]
    assert queue["embeddings"] < 1e-5 and queue["replicas"] < 1e-5, queue
    assert queue["labels_equal"] and queue["filled"] == 12, queue
    assert results["fit"]["moved"] > 1e-3, results["fit"]
    assert results["fit"]["weights"] < 1e-5, results["fit"]
    assert results["fit"]["loss"] < 1e-5, results["fit"]


def check_data_parallel_mesh():
    """Loss and one fit step on a 4-device mesh == on one device."""
    # Added to the env's flags (tox.ini sets the CPU compiler's level).
    flags = [
        os.environ.get("XLA_FLAGS", ""),
        "--xla_force_host_platform_device_count=4",
    ]
    results = run_check("jax_check.py", XLA_FLAGS=" ".join(flags).strip())
    assert results["devices"] == 4
    assert results["batch_axis"][0] == "batch", results["batch_axis"]
    for key, errors in results.items():
        if "/views=" in key:
            # InfoNCE with one view has no positive: nothing to learn.
            assert errors["moved"] > 1e-3 or key == "infonce/views=1", (key, errors)
            assert errors["value"] < 1e-5, (key, errors)
            assert errors["weights"] < 1e-5, (key, errors)
    assert np.all(np.isfinite(results["contrastive_model_losses"]))
    # 4 steps of 16 embeddings filled the memory of 24 with unit vectors.
    assert results["memory_in_use"] == 24, results
    assert results["memory_norm_error"] < 1e-5, results


def check_ddp():
    """Parameters after a 2-process DDP step == a 1-process global step."""
    results = run_check("torch_check.py")
    # The queue each process filled with its half holds the global batch.
    queue = results.pop("queue")
    assert queue["embeddings"] < 1e-5, queue
    assert queue["labels_equal"] and queue["filled"] == [12, 12], queue
    # Six losses (two of them again with a memory and with label sets), with
    # one and two views.
    assert len(results) == 20, results
    assert "sincere_memory/views=1" in results, results
    assert "supcon_sets/views=1" in results, results
    for key, errors in results.items():
        assert errors["moved"] > 1e-3 or key == "infonce/views=1", (key, errors)
        assert errors["weights"] < 1e-5, (key, errors)
        assert errors["ranks_agree"] < 1e-5, (key, errors)
        assert errors["value"] < 1e-5, (key, errors)
