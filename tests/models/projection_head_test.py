"""ProjectionHead: shapes, normalisation, serialisation."""

import keras
import numpy as np
import pytest

from keras_sincere import models


def test_output_is_unit_norm_for_any_leading_shape(rng):
    head = models.ProjectionHead(hidden_dim=16, output_dim=4)
    for shape in [(3, 8), (3, 2, 8)]:
        out = keras.ops.convert_to_numpy(head(rng.normal(size=shape).astype("float32")))
        assert out.shape == shape[:-1] + (4,)
        np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, rtol=1e-6)


def test_defaults_are_the_paper_head():
    head = models.ProjectionHead()
    head.build((None, 2048))
    assert head.compute_output_shape((None, 2048)) == (None, 128)
    shapes = [tuple(w.shape) for w in head.weights]
    assert shapes == [(2048, 2048), (2048,), (2048, 128), (128,)]


def test_serialisation_keeps_weights(rng, tmp_path):
    head = models.ProjectionHead(hidden_dim=8, output_dim=3)
    inputs = keras.Input((5,))
    model = keras.Model(inputs, head(inputs))
    path = tmp_path / "head.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    x = rng.normal(size=(4, 5)).astype("float32")
    np.testing.assert_allclose(
        restored.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    config = restored.layers[-1].get_config()
    assert (config["hidden_dim"], config["output_dim"]) == (8, 3)


def test_mixed_precision_output_is_finite(rng):
    keras.config.set_dtype_policy("mixed_float16")
    head = models.ProjectionHead(hidden_dim=8, output_dim=3)
    out = head(rng.normal(size=(4, 5)).astype("float32") * 100)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    assert np.all(
        np.isfinite(keras.ops.convert_to_numpy(keras.ops.cast(out, "float32")))
    )


def test_batch_norm_head_centres_the_hidden_layer(rng):
    keras.utils.set_random_seed(0)  # the heads' initial weights
    # Wide enough that a random head's mean cosine varies little with its
    # initial weights (seeds 0-5: batch norm 0.23-0.44, plain 0.90-0.97).
    head = models.ProjectionHead(hidden_dim=64, output_dim=32, batch_norm=True)
    head.build((None, 8))
    assert [tuple(w.shape) for w in head.trainable_weights] == [
        (8, 64),
        (64,),
        (64,),
        (64, 32),
        (32,),
    ]
    # Non-negative features, like pooled ReLU outputs: the plain head maps
    # them to nearly one direction; batch statistics spread them.
    features = rng.uniform(0.5, 1.5, size=(64, 8)).astype("float32")
    plain = models.ProjectionHead(hidden_dim=64, output_dim=32)

    def mean_cosine(out):
        out = keras.ops.convert_to_numpy(out)
        return (np.sum(out.sum(0) ** 2) - len(out)) / (len(out) * (len(out) - 1))

    spread = mean_cosine(head(features, training=True))
    assert spread < 0.6
    assert mean_cosine(plain(features)) > spread + 0.3


def test_batch_norm_round_trips_through_the_config():
    head = models.ProjectionHead(hidden_dim=8, output_dim=3, batch_norm=True)
    config = head.get_config()
    assert config["batch_norm"] is True
    assert models.ProjectionHead.from_config(config).batch_norm is True
    with pytest.raises(ValueError, match="`batch_norm` must be True or False"):
        models.ProjectionHead(batch_norm="no")


@pytest.mark.parametrize("argument", ["hidden_dim", "output_dim"])
@pytest.mark.parametrize("value", [0, 2.0, True])
def test_sizes_must_be_positive_integers(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}` must be an integer >= 1"):
        models.ProjectionHead(**{argument: value})
