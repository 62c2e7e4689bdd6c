"""SupCon: base_temperature, one class, and the torch peer.

The published table is checked for every loss in
`softmax_contrastive_loss_test.py`.
"""

import keras
import numpy as np
import pytest

from keras_sincere import losses
from tests.losses import naive


def test_base_temperature_scales_by_temperature_ratio(rng):
    labels = rng.integers(0, 3, size=6)
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    plain = np.asarray(losses.supcon(labels, embeddings, temperature=0.1))
    scaled = np.asarray(
        losses.supcon(labels, embeddings, temperature=0.1, base_temperature=0.07)
    )
    np.testing.assert_allclose(scaled, plain * 0.1 / 0.07, rtol=1e-6)


@pytest.mark.parametrize("base_temperature", [0.0, -1.0])
def test_rejects_bad_base_temperature(base_temperature):
    with pytest.raises(ValueError, match="base_temperature"):
        losses.SupConLoss(base_temperature=base_temperature)


def test_one_class_keeps_the_formula_value(rng):
    # With no negatives SupCon still has a value and a gradient (its
    # positives repel each other through the denominator); it is not 0.
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    labels = np.zeros(6, int)
    got = np.asarray(losses.supcon(labels, embeddings))
    np.testing.assert_allclose(got, naive.supcon(labels, embeddings), rtol=1e-5)
    assert np.all(got > 0)


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch peer")
@pytest.mark.parametrize("temperature", [0.07, 0.1, 0.5])
def test_equals_pytorch_metric_learning_supcon(temperature):
    import torch
    from pytorch_metric_learning import losses as peer

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 4, size=24)
    embeddings = rng.normal(size=(24, 16)).astype("float32")
    expected = peer.SupConLoss(temperature=temperature)(
        torch.tensor(embeddings), torch.tensor(labels)
    )
    got = losses.SupConLoss(temperature=temperature)(labels, embeddings)
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-5)
