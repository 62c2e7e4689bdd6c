"""SINCERE: the identities, and no intra-class repulsion.

The published table is checked for every loss in
`softmax_contrastive_loss_test.py`. Batches hold `N = 12` embeddings of
dimension 4 where the shape does not matter (JAX compiles per shape).
"""

import numpy as np
import pytest

from keras_sincere import losses
from tests.backend_utils import value_and_gradient
from tests.losses import naive


def test_epsilon_zero_is_sincere(rng):
    labels = rng.integers(0, 3, size=6)
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(losses.epsilon_supinfonce(labels, embeddings, epsilon=0.0)),
        np.asarray(losses.sincere(labels, embeddings)),
        rtol=1e-6,
        atol=1e-7,
    )


def test_unique_labels_is_infonce(rng):
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(losses.sincere(np.arange(6) * 7, embeddings, temperature=0.5)),
        np.asarray(losses.infonce(None, embeddings, temperature=0.5)),
        rtol=1e-6,
    )


def test_one_positive_per_anchor_supcon_equals_sincere(rng):
    # Two views of unique labels, or pairs of one-view samples: |P_i| = 1.
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(losses.sincere(np.arange(6), embeddings)),
        np.asarray(losses.supcon(np.arange(6), embeddings)),
        rtol=1e-5,
    )
    pairs = rng.normal(size=(12, 4)).astype("float32")
    labels = np.arange(12) // 2
    np.testing.assert_allclose(
        np.asarray(losses.sincere(labels, pairs)),
        np.asarray(losses.supcon(labels, pairs)),
        rtol=1e-5,
    )


@pytest.mark.parametrize("seed", range(5))
def test_supcon_is_at_least_sincere(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, size=6)
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    supcon = np.asarray(losses.supcon(labels, embeddings))
    sincere = np.asarray(losses.sincere(labels, embeddings))
    assert np.all(supcon >= sincere - 1e-6)
    # Strictly larger wherever an anchor has more than one positive.
    assert np.all(
        supcon[np.bincount(labels)[labels] > 1]
        > sincere[np.bincount(labels)[labels] > 1]
    )


def test_no_negatives_gives_zero_with_zero_gradient(rng):
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    labels = np.zeros(6, int)
    value, gradient = value_and_gradient(
        lambda z: losses.SincereLoss()(labels, z), embeddings
    )
    assert float(value) == 0.0
    assert not np.any(gradient)


def test_labels_above_float32_precision_stay_distinct(rng):
    # 2**24 and 2**24 + 1 are the same float32: compared as floats they would
    # merge two classes and change the loss.
    labels = np.array([2**24] * 3 + [2**24 + 1] * 3, dtype="int64")
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    expected = naive.sincere(np.array([0, 0, 0, 1, 1, 1]), embeddings)
    np.testing.assert_allclose(
        np.asarray(losses.sincere(labels, embeddings)), expected, rtol=1e-5
    )
    np.testing.assert_allclose(
        float(losses.SincereLoss()(labels, embeddings)), expected.mean(), rtol=1e-5
    )
    for dtype in ("float16", "bfloat16"):
        np.testing.assert_allclose(
            float(losses.SincereLoss(dtype=dtype)(labels, embeddings)),
            expected.mean(),
            rtol=1e-2,
        )


def pull_coefficients(loss, labels, embeddings):
    """Coefficients c_pj with dL/dz_p = sum_j c_pj z_j, for un-normalised z.

    The logits are bilinear in the embeddings, so each gradient is a linear
    combination of the embeddings; with linearly independent embeddings
    (N = D, invertible) the coefficients are `G Z^-1`. Gradient descent moves
    z_p by `-lr * c_pj * z_j`: a positive c_pS pushes z_p away from z_S.
    """
    _, gradient = value_and_gradient(lambda z: loss(labels, z), embeddings)
    return gradient.astype(np.float64) @ np.linalg.inv(embeddings.astype(np.float64))


def repulsion_batch():
    """Class 0 has z0 and z1 almost aligned and z2, z3 apart; class 1 is z4."""
    embeddings = np.eye(5, dtype="float32")
    embeddings[1] = [0.95, 0.3, 0.0, 0.0, 0.0]
    return np.array([0, 0, 0, 0, 1]), embeddings


def test_sincere_never_pushes_positives_apart():
    labels, embeddings = repulsion_batch()
    loss = losses.SincereLoss(temperature=0.1, normalize=False, reduction="sum")
    coefficients = pull_coefficients(loss, labels, embeddings)
    same = (labels[:, None] == labels[None, :]) & ~np.eye(len(labels), dtype=bool)
    assert np.all(coefficients[same] <= 1e-6), coefficients[same]


@pytest.mark.parametrize("seed", range(4))
def test_sincere_never_pushes_positives_apart_random(seed):
    rng = np.random.default_rng(seed)
    embeddings = (np.eye(6) + 0.4 * rng.normal(size=(6, 6))).astype("float32")
    labels = rng.integers(0, 2, size=6)
    for loss in (
        losses.SincereLoss(temperature=0.2, normalize=False, reduction="sum"),
        losses.EpsilonSupInfoNCELoss(temperature=0.2, normalize=False, reduction="sum"),
    ):
        coefficients = pull_coefficients(loss, labels, embeddings)
        same = (labels[:, None] == labels[None, :]) & ~np.eye(6, dtype=bool)
        assert np.all(coefficients[same] <= 1e-5), coefficients[same]


def test_supcon_does_push_positives_apart():
    labels, embeddings = repulsion_batch()
    loss = losses.SupConLoss(temperature=0.1, normalize=False, reduction="sum")
    coefficients = pull_coefficients(loss, labels, embeddings)
    # z0 and z1 are so close that SupCon's softmax over z0's positives puts
    # more than 1/|P| on z1: the z1 coefficient turns positive (repulsion).
    assert coefficients[0, 1] > 0.5, coefficients
    assert coefficients[1, 0] > 0.5, coefficients
