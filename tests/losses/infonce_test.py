"""InfoNCE / NT-Xent: instance discrimination, and the torch peer."""

import keras
import numpy as np
import pytest

from keras_sincere import losses
from tests.losses import naive


def test_ignores_labels(rng):
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    expected = naive.infonce(None, embeddings)
    for labels in (None, np.zeros(6), np.array([0, 0, 1, 1, 2, 2])):
        np.testing.assert_allclose(
            np.asarray(losses.infonce(labels, embeddings)), expected, rtol=1e-5
        )
    np.testing.assert_allclose(
        float(losses.InfoNCELoss()(np.zeros(6), embeddings)),
        expected.mean(),
        rtol=1e-5,
    )


def test_one_view_has_no_positive(rng):
    embeddings = rng.normal(size=(12, 4)).astype("float32")
    assert not np.any(np.asarray(losses.infonce(None, embeddings)))
    assert float(losses.InfoNCELoss()(np.arange(12), embeddings)) == 0.0


def test_default_temperature_is_simclr():
    assert losses.InfoNCELoss().temperature == 0.5


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch peer")
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_sincere_equals_pytorch_metric_learning_ntxent_per_anchor(temperature):
    # DESIGN.md: NTXentLoss with a per-anchor average of its pair losses is
    # SINCERE on (B * V, D) inputs.
    import torch
    from pytorch_metric_learning import losses as peer
    from pytorch_metric_learning import reducers

    rng = np.random.default_rng(9)
    labels = rng.integers(0, 5, size=32)
    embeddings = rng.normal(size=(32, 16)).astype("float32")
    ntxent = peer.NTXentLoss(
        temperature=temperature,
        reducer=reducers.PerAnchorReducer(reducers.AvgNonZeroReducer()),
    )
    expected = ntxent(torch.tensor(embeddings), torch.tensor(labels))
    got = losses.SincereLoss(temperature=temperature)(labels, embeddings)
    np.testing.assert_allclose(float(got), float(expected), rtol=1e-5)
