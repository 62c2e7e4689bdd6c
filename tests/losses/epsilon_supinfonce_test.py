"""epsilon-SupInfoNCE: the margin, and its limits."""

import numpy as np
import pytest

from keras_sincere import losses
from tests.backend_utils import value_and_gradient
from tests.losses import naive


@pytest.mark.parametrize("epsilon", [-0.1, float("nan"), "wide"])
def test_rejects_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match="epsilon"):
        losses.EpsilonSupInfoNCELoss(epsilon=epsilon)
    with pytest.raises(ValueError, match="epsilon"):
        losses.epsilon_supinfonce(np.array([0, 0]), np.ones((2, 3)), epsilon=epsilon)


def test_value_falls_as_the_margin_grows(rng):
    # log(exp(-eps) + exp(LSE_n - s_ip)) decreases in eps and stays above -eps.
    labels = rng.integers(0, 3, size=6)
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    values = [
        float(losses.EpsilonSupInfoNCELoss(epsilon=epsilon)(labels, embeddings))
        for epsilon in (0.0, 0.1, 0.25, 0.5)
    ]
    assert values == sorted(values, reverse=True) and values[0] > values[-1]
    assert values[-1] > -0.5


def test_no_negatives_gives_minus_epsilon_with_zero_gradient(rng):
    # -s + log(exp(s - eps)) = -eps: a constant, as the formula says.
    embeddings = rng.normal(size=(6, 2, 4)).astype("float32")
    labels = np.zeros(6, int)
    value, gradient = value_and_gradient(
        lambda z: losses.EpsilonSupInfoNCELoss(epsilon=0.25)(labels, z), embeddings
    )
    np.testing.assert_allclose(float(value), -0.25, rtol=1e-6)
    np.testing.assert_allclose(
        float(value), naive.epsilon_supinfonce(labels, embeddings).mean(), rtol=1e-6
    )
    assert not np.any(gradient)


def test_epsilon_in_config():
    loss = losses.EpsilonSupInfoNCELoss(epsilon=0.5)
    assert loss.get_config()["epsilon"] == 0.5
    assert losses.EpsilonSupInfoNCELoss.from_config(loss.get_config()).epsilon == 0.5
