"""ProjectionHead: shapes, normalisation, serialisation."""

import keras
import numpy as np

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
