"""The checklist every loss passes on every backend.

The published table, values and gradients against the naive loops of
`naive.py`, edge cases, and the Keras contract (config, serialisation,
reductions, sample weights, dtype, `compile`/`fit`, jit, mixed precision,
saving).

Batches hold `N = 12` embeddings of dimension 4 wherever the shape is not
what a test is about: JAX compiles each operation of an eager call once per
shape, which costs far more than the arithmetic at these sizes.
"""

import functools
import math

import keras
import numpy as np
import pytest

from tests.backend_utils import value_and_gradient
from tests.losses.loss_specs import SPEC_IDS
from tests.losses.loss_specs import SPECS
from tests.losses.loss_specs import SPECS_BY_NAME
from tests.losses.loss_specs import TABLE_FEATURES
from tests.losses.loss_specs import TABLE_LABELS

BATCHES = {
    # name: (labels, views, dim); N = 12 in all of them.
    "balanced": ([0, 0, 1, 1, 2, 2], 2, 4),
    "imbalanced": ([3, 0, 0, 0, 2, 2], 2, 4),
    "one_view_with_singleton": ([0, 0, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5], 1, 4),
    "three_views": ([0, 1, 1, 2], 3, 4),
}

specs = pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
# InfoNCE ignores y_true, so label checks apply to the other losses.
labelled_specs = pytest.mark.parametrize(
    "spec",
    [spec for spec in SPECS if spec.loss_class.uses_labels],
    ids=[spec.name for spec in SPECS if spec.loss_class.uses_labels],
)


def make_batch(name, seed=0):
    labels, views, dim = BATCHES[name]
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(labels), views, dim)).astype("float32")
    return np.array(labels), embeddings


def oracle_mean(spec, labels, embeddings, **kwargs):
    """The default reduction from the naive loop: mean over anchors with a positive."""
    per_sample = spec.oracle(labels, embeddings, **spec.kwargs, **kwargs)
    valid = _samples_with_positive(labels, np.asarray(embeddings).shape, spec)
    return per_sample[valid].mean() if valid.any() else 0.0


def _samples_with_positive(labels, shape, spec):
    views = shape[1] if len(shape) == 3 else 1
    if views > 1:
        return np.ones(len(labels), bool)
    if spec.name == "infonce":
        return np.zeros(len(labels), bool)
    labels = np.asarray(labels)
    return np.array([(labels == label).sum() > 1 for label in labels])


def finite_difference(fn, x, step=1e-6):
    x = np.asarray(x, dtype=np.float64)
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (fn(plus) - fn(minus)) / (2 * step)
    return gradient


def loss_value_and_gradient(spec, labels, embeddings, **kwargs):
    loss = spec.loss_class(**spec.kwargs, **kwargs)
    return value_and_gradient(lambda z: loss(labels, z), embeddings)


def assert_finite(*arrays):
    for array in arrays:
        assert np.all(np.isfinite(np.asarray(array, dtype=np.float64))), array


# The published table, and values and gradients against the naive loops.

published_specs = [spec for spec in SPECS if spec.published_table is not None]


@pytest.mark.parametrize(
    "spec", published_specs, ids=[spec.name for spec in published_specs]
)
def test_published_table(spec):
    got = spec.function(
        TABLE_LABELS, TABLE_FEATURES, temperature=1.0, normalize=False, **spec.kwargs
    )
    np.testing.assert_allclose(np.asarray(got), spec.published_table, atol=1e-6)
    # The naive loop agrees with the same table, so the oracle is right too.
    np.testing.assert_allclose(
        spec.oracle(TABLE_LABELS, TABLE_FEATURES, 1.0, normalize=False, **spec.kwargs),
        spec.published_table,
        atol=1e-6,
    )


@specs
@pytest.mark.parametrize("batch", list(BATCHES))
@pytest.mark.parametrize("temperature", [0.05, 0.1, 1.0])
def test_per_sample_values_match_naive_loop(spec, batch, temperature):
    labels, embeddings = make_batch(batch)
    got = np.asarray(
        spec.function(labels, embeddings, temperature=temperature, **spec.kwargs)
    )
    expected = spec.oracle(labels, embeddings, temperature=temperature, **spec.kwargs)
    assert got.shape == (len(labels),)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@specs
@pytest.mark.parametrize("batch", ["balanced", "imbalanced", "one_view_with_singleton"])
@pytest.mark.parametrize("temperature", [0.05, 0.1, 1.0])
def test_gradient_matches_finite_differences_of_naive_loop(spec, batch, temperature):
    labels, embeddings = make_batch(batch, seed=7)
    value, gradient = loss_value_and_gradient(
        spec, labels, embeddings, temperature=temperature
    )
    expected = finite_difference(
        lambda z: oracle_mean(spec, labels, z, temperature=temperature), embeddings
    )
    np.testing.assert_allclose(
        value,
        oracle_mean(spec, labels, embeddings, temperature=temperature),
        rtol=1e-5,
        atol=1e-5,
    )
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(gradient, expected, rtol=1e-3, atol=1e-4 * scale)


@specs
def test_two_dimensional_embeddings_are_one_view(spec):
    labels, embeddings = make_batch("one_view_with_singleton")
    flat = embeddings[:, 0, :]
    np.testing.assert_allclose(
        np.asarray(spec.function(labels, flat, **spec.kwargs)),
        np.asarray(spec.function(labels, embeddings, **spec.kwargs)),
        rtol=1e-6,
    )


@specs
def test_labels_of_shape_batch_by_one_are_accepted(spec):
    labels, embeddings = make_batch("balanced")
    np.testing.assert_allclose(
        np.asarray(spec.function(labels[:, None], embeddings, **spec.kwargs)),
        np.asarray(spec.function(labels, embeddings, **spec.kwargs)),
        rtol=1e-6,
    )


# Edge cases: never NaN or Inf, in value or gradient.

EDGE_BATCHES = {
    "singletons_one_view": (list(range(12)), 1),
    "all_one_class": ([5] * 6, 2),
    "all_one_class_one_view": ([5] * 12, 1),
    "all_distinct": (list(range(6)), 2),
    "single_sample_two_views": ([0], 2),
    "single_sample_one_view": ([0], 1),
}


@specs
@pytest.mark.parametrize("edge", list(EDGE_BATCHES))
def test_edge_batches_match_naive_loop_and_stay_finite(spec, edge):
    labels, views = EDGE_BATCHES[edge]
    labels = np.array(labels)
    embeddings = np.random.default_rng(3).normal(size=(len(labels), views, 4))
    embeddings = embeddings.astype("float32")
    value, gradient = loss_value_and_gradient(spec, labels, embeddings)
    assert_finite(value, gradient)
    np.testing.assert_allclose(
        value, oracle_mean(spec, labels, embeddings), rtol=1e-5, atol=1e-6
    )
    if not _samples_with_positive(labels, embeddings.shape, spec).any():
        assert float(value) == 0.0
        assert not np.any(gradient)


@specs
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_compute_in_float32(spec, dtype):
    labels, embeddings = make_batch("balanced")
    half = keras.ops.cast(embeddings, dtype)
    rounded = np.asarray(keras.ops.cast(half, "float32"))
    got = spec.function(labels, half, **spec.kwargs)
    assert keras.backend.standardize_dtype(got.dtype) == "float32"
    np.testing.assert_allclose(
        np.asarray(got),
        spec.oracle(labels, rounded, **spec.kwargs),
        rtol=1e-5,
        atol=1e-5,
    )
    _, gradient = value_and_gradient(
        lambda z: spec.loss_class(**spec.kwargs)(labels, z), half
    )
    assert_finite(np.asarray(keras.ops.cast(gradient, "float32")))


@specs
def test_tiny_temperature_is_finite_and_exact(spec):
    labels, embeddings = make_batch("imbalanced", seed=11)
    value, gradient = loss_value_and_gradient(
        spec, labels, embeddings, temperature=0.005
    )
    assert_finite(value, gradient)
    expected = oracle_mean(spec, labels, embeddings, temperature=0.005)
    # Logits reach 1/T = 200: float32 rounding of them is ~2e-5 absolute.
    np.testing.assert_allclose(value, expected, rtol=1e-5, atol=1e-3)


@specs
@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_extreme_norms_are_normalised_exactly(spec, scale):
    labels, embeddings = make_batch("balanced")
    value, gradient = loss_value_and_gradient(
        spec, labels, (embeddings * np.float32(scale)).astype("float32")
    )
    assert_finite(value, gradient)
    np.testing.assert_allclose(
        value, oracle_mean(spec, labels, embeddings), rtol=1e-5, atol=1e-6
    )


@specs
def test_zero_embedding_is_finite(spec):
    labels, embeddings = make_batch("balanced")
    embeddings[1, 0] = 0.0
    value, gradient = loss_value_and_gradient(spec, labels, embeddings)
    assert_finite(value, gradient)


# Errors that name the argument and the shapes.


@specs
def test_rejects_embeddings_of_wrong_rank(spec):
    with pytest.raises(ValueError, match=r"y_pred.*\(2, 2, 2, 3\)"):
        spec.function(
            np.array([0, 1]), np.zeros((2, 2, 2, 3), "float32"), **spec.kwargs
        )
    with pytest.raises(ValueError, match=r"y_pred.*\(4,\)"):
        spec.loss_class(**spec.kwargs)(np.array([0, 1, 2, 3]), np.zeros(4, "float32"))


@labelled_specs
def test_rejects_label_count_different_from_batch(spec):
    with pytest.raises(ValueError, match=r"y_true.*\(3,\).*4 samples"):
        spec.loss_class(**spec.kwargs)(
            np.array([0, 1, 2]), np.zeros((4, 2, 3), "float32")
        )


@labelled_specs
def test_rejects_multi_column_labels_that_are_not_0_or_1(spec):
    with pytest.raises(ValueError, match=r"y_true.*\(4, 3\).*only 0 and 1"):
        spec.function(3 * np.eye(4, 3), np.zeros((4, 2, 3), "float32"), **spec.kwargs)


@specs
@pytest.mark.parametrize(
    "temperature", [0.0, -0.1, math.nan, math.inf, "warm", "0.1", True, None]
)
def test_rejects_bad_temperature(spec, temperature):
    with pytest.raises(ValueError, match="temperature"):
        spec.loss_class(temperature=temperature, **spec.kwargs)
    with pytest.raises(ValueError, match="temperature"):
        spec.function(
            np.array([0, 0]),
            np.ones((2, 3), "float32"),
            temperature=temperature,
            **spec.kwargs,
        )


@specs
@pytest.mark.parametrize("shape", [(0, 2, 3), (4, 0, 3), (4, 2, 0)])
def test_rejects_empty_embeddings_the_same_way_on_every_backend(spec, shape):
    labels = np.arange(shape[0]) % 2
    with pytest.raises(ValueError, match=r"y_pred.*at least one.*" + str(shape)[1:5]):
        spec.loss_class(**spec.kwargs)(labels, np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match="y_pred"):
        spec.function(labels, np.zeros(shape, "float32"), **spec.kwargs)


@labelled_specs
@pytest.mark.parametrize(
    "labels, match",
    [
        (None, "y_true=None"),
        (np.array(["cat", "cat", "dog", "dog"]), "numeric"),
        (np.array([b"a", b"a", b"b", b"b"]), "numeric"),
        (np.array([0, 0, 1, 1], dtype=object), "numeric"),
    ],
    ids=["none", "str", "bytes", "object"],
)
def test_rejects_missing_or_non_numeric_labels(spec, labels, match):
    embeddings = np.zeros((4, 2, 3), "float32")
    with pytest.raises(ValueError, match=match):
        spec.loss_class(**spec.kwargs)(labels, embeddings)
    with pytest.raises(ValueError, match=match):
        spec.function(labels, embeddings, **spec.kwargs)


@labelled_specs
def test_labels_the_backend_cannot_hold_are_rejected_not_wrapped(spec):
    # int64 ids beyond int32 wrap on JAX's default 32-bit mode: 0 and 2**32
    # would become one class. Where the backend keeps int64, they stay apart.
    labels = np.array([0, 0, 2**32, 2**32], dtype="int64")
    embeddings = np.random.default_rng(0).normal(size=(4, 2, 3)).astype("float32")
    held = keras.ops.convert_to_numpy(keras.ops.convert_to_tensor(labels))
    if np.array_equal(held, labels):
        np.testing.assert_allclose(
            float(spec.loss_class(**spec.kwargs)(labels, embeddings)),
            float(spec.loss_class(**spec.kwargs)(np.array([0, 0, 1, 1]), embeddings)),
            rtol=1e-6,
        )
    else:
        with pytest.raises(ValueError, match=r"y_true.*cannot represent.*0\.\.C-1"):
            spec.loss_class(**spec.kwargs)(labels, embeddings)


@specs
@pytest.mark.parametrize("normalize", ["no", 1, None])
def test_rejects_non_boolean_normalize(spec, normalize):
    with pytest.raises(ValueError, match="normalize"):
        spec.loss_class(normalize=normalize, **spec.kwargs)
    with pytest.raises(ValueError, match="normalize"):
        spec.function(
            np.array([0, 0]),
            np.ones((2, 3), "float32"),
            normalize=normalize,
            **spec.kwargs,
        )


@specs
@pytest.mark.parametrize("bad_weight", [-1.0, np.nan])
def test_rejects_negative_or_non_finite_sample_weight(spec, bad_weight):
    labels, embeddings = make_batch("balanced")
    weights = np.ones(len(labels))
    weights[1] = bad_weight
    with pytest.raises(ValueError, match="sample_weight"):
        spec.loss_class(**spec.kwargs)(labels, embeddings, sample_weight=weights)


# The Keras contract.


@specs
def test_config_round_trip(spec):
    loss = spec.loss_class(
        temperature=0.2, normalize=False, reduction="sum", name="custom", **spec.kwargs
    )
    config = loss.get_config()
    assert config["temperature"] == 0.2
    assert config["normalize"] is False
    assert config["reduction"] == "sum"
    assert config["name"] == "custom"
    restored = spec.loss_class.from_config(config)
    assert restored.get_config() == config
    labels, embeddings = make_batch("balanced")
    np.testing.assert_allclose(
        np.asarray(restored(labels, embeddings)), np.asarray(loss(labels, embeddings))
    )


@specs
def test_keras_serialize_deserialize(spec):
    loss = spec.loss_class(temperature=0.3, **spec.kwargs)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert type(restored) is spec.loss_class
    assert restored.get_config() == loss.get_config()
    fn = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(spec.function)
    )
    assert fn is spec.function


@specs
@pytest.mark.parametrize("batch", ["balanced", "one_view_with_singleton"])
def test_every_reduction(spec, batch):
    labels, embeddings = make_batch(batch)
    per_sample = spec.oracle(labels, embeddings, **spec.kwargs)
    valid = _samples_with_positive(labels, embeddings.shape, spec)
    mean = per_sample[valid].mean() if valid.any() else 0.0
    expected = {
        None: per_sample,
        "none": per_sample,
        "sum": per_sample.sum(),
        "sum_over_batch_size": mean,
        "mean": mean,
        "mean_with_sample_weight": mean,
    }
    for reduction, value in expected.items():
        got = spec.loss_class(reduction=reduction, **spec.kwargs)(labels, embeddings)
        np.testing.assert_allclose(
            np.asarray(got), value, rtol=1e-5, atol=1e-6, err_msg=str(reduction)
        )


@specs
@pytest.mark.parametrize("shape", ["vector", "column", "scalar"])
def test_sample_weight(spec, shape):
    labels, embeddings = make_batch("one_view_with_singleton")
    per_sample = spec.oracle(labels, embeddings, **spec.kwargs)
    valid = _samples_with_positive(labels, embeddings.shape, spec)
    weights = np.array([0.5, 2.0, 0.0, 1.0, 3.0, 4.0] * 2, "float32")
    sample_weight = {"vector": weights, "column": weights[:, None], "scalar": 2.0}[
        shape
    ]
    weights = np.broadcast_to(
        np.asarray(sample_weight, "float32").reshape(-1), (len(labels),)
    )
    total = (per_sample * weights * valid).sum()
    count = max(valid.sum(), 1)
    for reduction, expected in [
        ("sum_over_batch_size", total / count),
        ("sum", total),
        (
            "mean_with_sample_weight",
            total / (weights * valid).sum() if (weights * valid).sum() else 0.0,
        ),
        ("none", per_sample * weights * valid),
    ]:
        got = spec.loss_class(reduction=reduction, **spec.kwargs)(
            labels, embeddings, sample_weight=sample_weight
        )
        np.testing.assert_allclose(
            np.asarray(got), expected, rtol=1e-5, atol=1e-6, err_msg=reduction
        )


@specs
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_dtype_argument_sets_the_output_dtype(spec, dtype):
    labels, embeddings = make_batch("balanced")
    loss = spec.loss_class(dtype=dtype, **spec.kwargs)
    got = loss(labels, embeddings)
    assert keras.backend.standardize_dtype(got.dtype) == dtype
    assert loss.get_config()["dtype"] == dtype
    np.testing.assert_allclose(
        float(keras.ops.cast(got, "float32")),
        oracle_mean(spec, labels, embeddings),
        rtol=1e-2,
    )


# compile / fit / save: the losses inside real Keras training.


def toy_views(samples=32, classes=4, views=2, features=6, seed=0):
    """Two noisy views of points around one centre per class."""
    rng = np.random.default_rng(seed)
    labels = np.arange(samples) % classes
    centres = rng.normal(size=(classes, features))
    points = centres[labels][:, None, :] + 0.3 * rng.normal(
        size=(samples, views, features)
    )
    return points.astype("float32"), labels


def toy_model(features=6, views=2, embedding_dim=8):
    """Dense layers applied to each view: (B, V, F) -> (B, V, D)."""
    inputs = keras.Input((views, features))
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    outputs = keras.layers.Dense(embedding_dim)(hidden)
    return keras.Model(inputs, outputs)


def fit_losses(loss, epochs=8, **compile_kwargs):
    keras.utils.set_random_seed(0)
    x, y = toy_views()
    model = toy_model()
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss=loss, **compile_kwargs)
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model, history.history["loss"]


# SupCon with a base temperature only rescales SupCon's loss: its fits would
# repeat SupCon's, each with a train step of its own to compile.
fitted_specs = [spec for spec in SPECS if spec.name != "supcon_base_temperature"]
fit_specs = pytest.mark.parametrize(
    "spec", fitted_specs, ids=[spec.name for spec in fitted_specs]
)


@functools.cache
def trained(spec_name):
    """A model fitted with the loss of a spec at `T = 0.2`, and its losses.

    Shared by the tests that only read it: every fit compiles a train step.
    """
    spec = SPECS_BY_NAME[spec_name]
    return fit_losses(spec.loss_class(temperature=0.2, **spec.kwargs))


@fit_specs
def test_fit_decreases_the_loss(spec):
    _, losses = trained(spec.name)
    assert_finite(losses)
    assert losses[-1] < losses[0]


def first_step(loss, jit_compile):
    """A model after one SGD step on 6 samples (`N = 12`), and its loss."""
    keras.utils.set_random_seed(0)
    x, y = toy_views(samples=6)
    model = toy_model()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1), loss=loss, jit_compile=jit_compile
    )
    return model, model.train_on_batch(x, y)


@fit_specs
def test_fit_with_jit_compile(spec):
    # XLA on TensorFlow and JAX, torch.compile on torch; against the step
    # without (eager on JAX and torch, a plain graph on TensorFlow).
    compiled, compiled_value = first_step(spec.loss_class(**spec.kwargs), True)
    model, value = first_step(spec.loss_class(**spec.kwargs), False)
    np.testing.assert_allclose(compiled_value, value, rtol=1e-5)
    for got, expected in zip(compiled.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    x, y = toy_views(samples=12)
    losses = compiled.fit(x, y, batch_size=6, epochs=3, verbose=0).history["loss"]
    assert_finite(compiled_value, losses)


@fit_specs
def test_fit_under_mixed_float16(spec):
    keras.config.set_dtype_policy("mixed_float16")
    model, losses = fit_losses(spec.loss_class(**spec.kwargs), epochs=3)
    assert keras.backend.standardize_dtype(model.outputs[0].dtype) == "float16"
    assert_finite(losses)


@specs
def test_compiled_model_saves_and_loads(spec, tmp_path):
    model, _ = trained(spec.name)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert type(restored.loss) is spec.loss_class
    assert restored.loss.get_config() == model.loss.get_config()
    assert restored.loss.temperature == 0.2
    x, y = toy_views(seed=1)
    np.testing.assert_allclose(
        restored.evaluate(x, y, batch_size=16, verbose=0),
        model.evaluate(x, y, batch_size=16, verbose=0),
        rtol=1e-5,
    )
