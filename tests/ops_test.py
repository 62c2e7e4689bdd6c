"""keras_sincere.ops: the shared numerics, on the active backend."""

import keras
import numpy as np
import pytest

from keras_sincere import ops


def numpy(x):
    return keras.ops.convert_to_numpy(x).astype("float64")


def test_l2_normalize_unit_rows_and_zero_rows():
    x = np.array(
        [[3.0, 4.0], [0.0, 0.0], [1e-30, 0.0], [3e38, 3e38], [1e-45, 1e-45]],
        "float32",
    )
    unit = numpy(ops.l2_normalize(x))
    np.testing.assert_allclose(unit[0], [0.6, 0.8], rtol=1e-6)
    assert unit[1].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(unit[2], [1.0, 0.0], rtol=1e-6)
    np.testing.assert_allclose(unit[3], [2**-0.5, 2**-0.5], rtol=1e-6)
    # Subnormal input: a unit vector, or zero where the CPU flushes
    # subnormals to zero (XLA does); never NaN or infinity.
    norm = np.linalg.norm(unit[4])
    assert norm == pytest.approx(1.0, rel=1e-6) or norm == 0.0


def test_softplus_is_exact_and_masked_reductions_skip_masked_entries():
    x = np.array([-100.0, -1.0, 0.0, 1.0, 100.0], "float32")
    expected = np.logaddexp(0.0, x.astype("float64"))
    # atol: exp(-100) is a float32 subnormal, which some CPUs flush to 0.
    np.testing.assert_allclose(numpy(ops.softplus(x)), expected, rtol=1e-6, atol=1e-37)
    logits = np.array([[1.0, 2.0, 50.0], [0.0, 0.0, 0.0]], "float32")
    mask = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]], "float32")
    lse = numpy(ops.masked_logsumexp(logits, mask))
    assert lse[0] == pytest.approx(np.logaddexp(1.0, 2.0), rel=1e-6)
    assert lse[1] <= ops.MASKED_LOGIT / 2
    np.testing.assert_allclose(numpy(ops.masked_mean(logits, mask)), [1.5, 0.0])


def test_integers_to_value_range():
    pixels = np.array([0, 255], "uint8")
    np.testing.assert_allclose(numpy(ops.integers_to_value_range(pixels)), [0, 1])
    scaled = ops.integers_to_value_range(pixels, (-1.0, 1.0))
    np.testing.assert_allclose(numpy(scaled), [-1, 1])
    floats = np.array([0.5], "float32")
    assert ops.integers_to_value_range(floats) is floats
