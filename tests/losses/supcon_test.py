"""SupCon: the published table, base_temperature, and the torch peer."""

import keras
import numpy as np
import pytest

from keras_sincere import losses
from tests.losses import naive
from tests.losses.sincere_test import TABLE_FEATURES
from tests.losses.sincere_test import TABLE_LABELS
from tests.losses.sincere_test import TABLE_SUPCON


def test_published_table():
    got = losses.supcon(TABLE_LABELS, TABLE_FEATURES, temperature=1.0, normalize=False)
    np.testing.assert_allclose(np.asarray(got), TABLE_SUPCON, atol=1e-6)
    np.testing.assert_allclose(
        naive.supcon(TABLE_LABELS, TABLE_FEATURES, 1.0, normalize=False),
        TABLE_SUPCON,
        atol=1e-6,
    )


def test_base_temperature_scales_by_temperature_ratio(rng):
    labels = rng.integers(0, 3, size=8)
    embeddings = rng.normal(size=(8, 2, 5)).astype("float32")
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
    embeddings = rng.normal(size=(4, 2, 3)).astype("float32")
    labels = np.zeros(4, int)
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
