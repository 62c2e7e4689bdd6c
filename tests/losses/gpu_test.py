"""Accelerator checks, run only by the *-gpu tox envs (`pytest -m gpu`)."""

import keras
import numpy as np
import pytest

from keras_sincere import losses

pytestmark = pytest.mark.gpu


def accelerator_count():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return len(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return len([d for d in jax.devices() if d.platform != "cpu"])
    import torch

    return torch.cuda.device_count()


def dense_float64_sincere(labels, embeddings, temperature):
    """The SINCERE mean written with numpy in float64 (vectorised oracle)."""
    z = embeddings.reshape(-1, embeddings.shape[-1]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    anchor_labels = np.repeat(labels, embeddings.shape[1])
    logits = z @ z.T / temperature
    same = anchor_labels[:, None] == anchor_labels[None, :]
    positive = same & ~np.eye(len(z), dtype=bool)
    negatives = np.where(same, -np.inf, logits)
    top = negatives.max(axis=1, keepdims=True)
    noise = top[:, 0] + np.log(np.exp(negatives - top).sum(axis=1))
    pair = np.logaddexp(0.0, noise[:, None] - logits)
    per_anchor = (pair * positive).sum(axis=1) / positive.sum(axis=1)
    return per_anchor.mean()


def test_an_accelerator_is_visible():
    assert accelerator_count() > 0, f"no GPU visible to {keras.backend.backend()}"


@pytest.mark.parametrize("temperature", [0.05, 0.1])
def test_large_batch_on_the_accelerator_matches_float64(temperature):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 100, size=2048)
    embeddings = rng.normal(size=(2048, 2, 128)).astype("float32")
    got = float(losses.SincereLoss(temperature)(labels, embeddings))
    expected = dense_float64_sincere(labels, embeddings, temperature)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
