"""Theorem 11 on Gaussian classes, where the symmetrised KL is known.

Target `p+ = N(mu+, S)` and noise `p- = N(mu-, S)` share a covariance, so

    KL(p+ || p-) = KL(p- || p+) = (mu+ - mu-)^T S^-1 (mu+ - mu-) / 2,

and the symmetrised KL is `(mu+ - mu-)^T S^-1 (mu+ - mu-)`.

Theorem 11 bounds the *ideal* SINCERE loss `L`, an expectation over
selection problems (one target `S`, `T - 1` other targets `P`, `|N|`
noise samples): for every critic `theta`,
`L(theta) >= L(theta*) >= log|N| - (KL(p- || p+) + KL(p+ || p-))`, so
`kl_lower_bound(L, |N|) = log|N| - L <= KL(p- || p+) + KL(p+ || p-)`.
The loss is minimised by the optimal critic `f*(x) = log p+(x) / p-(x)`
(Theorem 10), which is linear here: `f*(x) = w . x + b` with
`w = S^-1 (mu+ - mu-)`, `b = -(mu+^T S^-1 mu+ - mu-^T S^-1 mu-) / 2`.

The library loss computes it exactly: with `normalize=False`,
`temperature=1`, data embedded as `(x, 1, 0)` and an extra anchor
embedding `(w, b, 1)` labelled with the target class, the anchor's logits
are `f*(x_j)`; its positives are the targets and its negatives the noise,
so its loss is the mean over targets `S` of `-log p_theta*(S | X, P)`. One
call is one draw of `X`; the mean over independent draws estimates
`L(theta*)` with a standard error that the checks allow for. Every call is
padded to a fixed number of rows with embeddings `(0, 0, -1e4)` of a third
label, whose logit `-1e4` drops out of the anchor's softmax exactly, so the
loss is traced for only two shapes (JAX compiles once per shape).

What the proof of appendix C implies, and what is checked:
- the bound holds (up to the sampling error) for the optimal critic, and
  for worse critics, which have a larger loss and so a smaller bound;
- it is not tight: the Jensen step gives away up to `KL(p- || p+)`, and
  with many noise samples the optimal critic's bound approaches
  `KL(p+ || p-)`, half the symmetrised KL for these Gaussians;
- the loss is >= 0, so the bound never exceeds `log|N|`: for far-apart
  classes it stays near `log|N|`, far below the divergence;
- identical classes: every logit is 0 and the loss is exactly
  `log(|N| + 1)`, so the bound is `log(|N| / (|N| + 1)) < 0`.
"""

import math

import keras
import numpy as np
import pytest

from keras_sincere import evaluation
from keras_sincere import losses


def gaussian_classes(rng, symmetrised_kl, dim=3):
    """Two Gaussians with a shared random covariance and a chosen divergence."""
    mixing = 0.5 * rng.normal(size=(dim, dim))
    covariance = mixing @ mixing.T + 0.5 * np.eye(dim)
    precision = np.linalg.inv(covariance)
    direction = rng.normal(size=dim)
    shift = direction * math.sqrt(symmetrised_kl / (direction @ precision @ direction))
    centre = rng.normal(size=dim)
    mean_target, mean_noise = centre + shift / 2, centre - shift / 2
    weight = precision @ (mean_target - mean_noise)
    bias = -0.5 * (
        mean_target @ precision @ mean_target - mean_noise @ precision @ mean_noise
    )
    return {
        "mean_target": mean_target,
        "mean_noise": mean_noise,
        "cholesky": np.linalg.cholesky(covariance),
        "critic": np.append(weight, bias),
    }


def sample(rng, classes, mean, count):
    noise = rng.normal(size=(count, len(mean)))
    return mean + noise @ classes["cholesky"].T


SMALL, LARGE = 512, 1600  # rows per loss call
PADDING_LOGIT = -1e4


def anchor_loss(critic, targets, noise, rows=SMALL):
    """SINCERE loss of an anchor whose logits are `critic . (x, 1)`."""
    count = 1 + len(targets) + len(noise)
    data = np.concatenate([targets, noise])
    embeddings = np.zeros((rows, data.shape[1] + 2))
    embeddings[0, :-1] = critic
    embeddings[0, -1] = 1.0
    embeddings[1:count, :-2] = data
    embeddings[1:count, -2] = 1.0
    embeddings[count:, -1] = PADDING_LOGIT
    labels = np.array([0] * (1 + len(targets)) + [1] * len(noise))
    labels = np.concatenate([labels, np.full(rows - count, 2)])
    per_sample = losses.sincere(
        labels, embeddings.astype("float32"), temperature=1.0, normalize=False
    )
    return float(keras.ops.convert_to_numpy(per_sample)[0])


def optimal_critic_losses(
    rng, classes, num_noise, targets, draws, scales=(1.0,), rows=SMALL
):
    """Per-draw loss of the critics `scale * f*`, as arrays `(draws,)`.

    All scales see the same draws (common random numbers), so their
    losses compare with little noise.
    """
    values = {scale: [] for scale in scales}
    for _ in range(draws):
        target_sample = sample(rng, classes, classes["mean_target"], targets)
        noise_sample = sample(rng, classes, classes["mean_noise"], num_noise)
        for scale in scales:
            values[scale].append(
                anchor_loss(
                    scale * classes["critic"], target_sample, noise_sample, rows
                )
            )
    return {scale: np.array(v) for scale, v in values.items()}


def bound_and_error(draw_losses, num_noise):
    bound = evaluation.kl_lower_bound(draw_losses.mean(), num_noise)
    return bound, draw_losses.std(ddof=1) / math.sqrt(len(draw_losses))


def test_formula_and_arrays():
    assert evaluation.kl_lower_bound(1.0, 10) == pytest.approx(math.log(10) - 1.0)
    assert isinstance(evaluation.kl_lower_bound(1.0, 10), float)
    got = evaluation.kl_lower_bound(np.array([0.5, 2.0]), np.array([1, 100]))
    np.testing.assert_allclose(got, [-0.5, math.log(100) - 2.0])
    tensor = keras.ops.convert_to_tensor(np.float32(2.0))
    assert evaluation.kl_lower_bound(tensor, 50) == pytest.approx(math.log(50) - 2.0)


@pytest.mark.parametrize("num_noise", [0, 0.5, -3, float("nan")])
def test_rejects_fewer_than_one_noise_sample(num_noise):
    with pytest.raises(ValueError, match="`num_noise` must be >= 1"):
        evaluation.kl_lower_bound(1.0, num_noise)


def test_anchor_loss_is_the_ideal_sincere_loss(rng):
    """The construction above: the library loss equals eq. 25 computed directly."""
    classes = gaussian_classes(rng, 2.0)
    targets = sample(rng, classes, classes["mean_target"], 5)
    noise = sample(rng, classes, classes["mean_noise"], 7)
    weight, bias = classes["critic"][:-1], classes["critic"][-1]
    ratio_targets, ratio_noise = targets @ weight + bias, noise @ weight + bias
    # -log p(S | X, P) = log(1 + sum_n r(x_n) / r(x_S)), averaged over S.
    expected = np.mean(
        [
            math.log(1 + sum(math.exp(rn - rs) for rn in ratio_noise))
            for rs in ratio_targets
        ]
    )
    got = anchor_loss(classes["critic"], targets, noise)
    assert got == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(
    "symmetrised_kl, num_noise", [(0.5, 16), (2.0, 256), (8.0, 64)]
)
def test_bound_holds_and_worse_critics_bound_less(rng, symmetrised_kl, num_noise):
    classes = gaussian_classes(rng, symmetrised_kl)
    draws = optimal_critic_losses(
        rng, classes, num_noise, targets=128, draws=8, scales=(1.0, 0.1, 3.0)
    )
    bound, error = bound_and_error(draws[1.0], num_noise)
    assert bound <= symmetrised_kl + 4 * error
    for scale in (0.1, 3.0):
        assert evaluation.kl_lower_bound(draws[scale].mean(), num_noise) < bound


def test_optimal_critic_approaches_the_forward_kl_with_many_noise_samples(rng):
    symmetrised_kl, num_noise = 0.5, 1024
    classes = gaussian_classes(rng, symmetrised_kl)
    draws = optimal_critic_losses(
        rng, classes, num_noise, targets=512, draws=8, rows=LARGE
    )
    bound, error = bound_and_error(draws[1.0], num_noise)
    # KL(p+ || p-) = symmetrised KL / 2: the slack is the other direction.
    assert bound == pytest.approx(symmetrised_kl / 2, abs=4 * error + 0.01)
    # Precise enough to tell the two apart: clearly short of the full KL.
    assert error < 0.03
    assert bound < symmetrised_kl - 4 * error


def test_far_apart_classes_are_capped_by_log_noise_count(rng):
    symmetrised_kl, num_noise = 36.0, 64
    classes = gaussian_classes(rng, symmetrised_kl)
    draws = optimal_critic_losses(rng, classes, num_noise, targets=128, draws=2)
    bound = evaluation.kl_lower_bound(draws[1.0].mean(), num_noise)
    assert math.log(num_noise) - 0.1 < bound < math.log(num_noise)
    assert bound < symmetrised_kl / 5


def test_identical_classes_give_a_negative_bound(rng):
    classes = gaussian_classes(rng, 1e-12)
    classes["mean_noise"] = classes["mean_target"]
    classes["critic"] = np.zeros_like(classes["critic"])
    num_noise = 100
    draws = optimal_critic_losses(rng, classes, num_noise, targets=4, draws=2)
    np.testing.assert_allclose(draws[1.0], math.log(num_noise + 1), rtol=1e-6)
    bound = evaluation.kl_lower_bound(draws[1.0].mean(), num_noise)
    assert bound == pytest.approx(math.log(num_noise / (num_noise + 1)), abs=1e-5)
    assert bound < 0.0
