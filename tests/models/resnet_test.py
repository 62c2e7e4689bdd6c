"""ResNet backbones: architecture, shapes, errors, serialisation."""

import keras
import numpy as np
import pytest

from keras_sincere import models
from tests.backend_utils import value_and_gradient


def count_layers(model, kind):
    return sum(isinstance(layer, kind) for layer in model.layers)


def has_layer(model, name):
    return any(layer.name == name for layer in model.layers)


@pytest.fixture(scope="module")
def full_width():
    """`(depth, stem) -> resnet(depth, (32, 32, 3), stem)` at the paper's width.

    Each encoder is built once (the 50-layer one takes seconds): the tests
    only read them.
    """
    built = {}

    def encoder(depth, stem="cifar"):
        if (depth, stem) not in built:
            built[depth, stem] = models.resnet(depth, (32, 32, 3), stem=stem)
        return built[depth, stem]

    return encoder


@pytest.mark.parametrize(
    "depth, features, convs",
    [
        # convs: stem + 2 or 3 per block + projection shortcuts.
        (18, 512, 1 + 2 * 8 + 3),
        (34, 512, 1 + 2 * 16 + 3),
        (50, 2048, 1 + 3 * 16 + 4),
    ],
)
def test_architecture(full_width, depth, features, convs):
    encoder = full_width(depth)
    assert encoder.output_shape == (None, features)
    assert count_layers(encoder, keras.layers.Conv2D) == convs
    assert not has_layer(encoder, "stem_pool")
    # Strided shortcuts subsample first: no 1x1 convolution has a stride.
    assert all(
        layer.strides == (1, 1)
        for layer in encoder.layers
        if isinstance(layer, keras.layers.Conv2D) and layer.kernel_size == (1, 1)
    )


def test_resnet50_parameter_count_matches_the_standard_model(full_width):
    # torchvision's resnet50 has 25,557,032 parameters, of which the 1000-way
    # fc layer holds 2,049,000; the CIFAR stem's 3x3 conv has 9,408 - 1,728
    # fewer weights than the 7x7 one. BatchNorm moving statistics (53,120)
    # are non-trainable weights here.
    encoder = full_width(50, "imagenet")
    trainable = sum(int(np.prod(w.shape)) for w in encoder.trainable_weights)
    assert trainable == 25_557_032 - 2_049_000
    cifar = full_width(50)
    assert (
        sum(int(np.prod(w.shape)) for w in cifar.trainable_weights)
        == trainable - 9_408 + 1_728
    )


@pytest.mark.parametrize("stem, spatial", [("cifar", 4), ("imagenet", 1)])
def test_stems_set_the_resolution(stem, spatial):
    encoder = models.resnet18((32, 32, 3), stem=stem, width=4)
    last_block = encoder.get_layer("stage4_block2_out")
    assert last_block.output.shape[1:3] == (spatial, spatial)
    assert has_layer(encoder, "stem_pool") == (stem == "imagenet")


def test_width_scales_the_features():
    assert models.resnet50(width=8).output_shape == (None, 256)
    assert models.resnet18(width=8).output_shape == (None, 64)


def test_runs_on_a_batch(rng):
    encoder = models.resnet34((16, 16, 3), width=4)
    features = encoder(rng.random((2, 16, 16, 3)).astype("float32"))
    assert tuple(features.shape) == (2, 32)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(features)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"depth": 101}, "depth"),
        ({"stem": "tiny"}, "stem"),
        ({"input_shape": (32, 32)}, "input_shape"),
        ({"width": 0}, "width"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        models.resnet(**kwargs)


def test_config_round_trip(rng):
    encoder = models.resnet18((16, 16, 3), width=4)
    restored = keras.Model.from_config(encoder.get_config())
    restored.set_weights(encoder.get_weights())
    images = rng.random((2, 16, 16, 3)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(images)),
        keras.ops.convert_to_numpy(encoder(images)),
        atol=1e-6,
    )


@pytest.mark.parametrize("channels", [4, 8])
def test_strided_shortcut_kernel_gradient_matches_the_formula(rng, channels):
    # Fewer input channels than one 8- or 16-lane block: torch's CPU strided
    # 1x1 convolution returned a wrong kernel gradient (or hung) here.
    encoder = models.resnet18((16, 16, 3), width=channels)
    shortcut = keras.Model(
        encoder.get_layer("stage1_block2_out").output,
        encoder.get_layer("stage2_block1_shortcut_conv").output,
    )
    (kernel,) = shortcut.trainable_variables
    images = rng.normal(size=(32, 16, 16, channels)).astype("float32")
    upstream = rng.normal(size=(32, 8, 8, 2 * channels)).astype("float32")

    def weighted_sum(kernel_value):
        outputs, _ = shortcut.stateless_call([kernel_value], [], images)
        return keras.ops.sum(outputs * keras.ops.convert_to_tensor(upstream))

    _, gradient = value_and_gradient(weighted_sum, kernel.numpy())
    # d sum(out * g) / dW[i, o] = sum over pixels kept by the stride of x_i g_o.
    expected = np.einsum(
        "bhwi,bhwo->io", images[:, ::2, ::2].astype("float64"), upstream
    )
    np.testing.assert_allclose(gradient[0, 0], expected, rtol=1e-4, atol=1e-3)
