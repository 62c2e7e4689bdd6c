"""ResNet backbones built from Keras layers (He et al., 2016).

`stem="cifar"` is the 32x32 variant used by SupCon and SINCERE: a 3x3
stride-1 convolution and no max-pool. `stem="imagenet"` is the original 7x7
stride-2 convolution and 3x3 stride-2 max-pool. ResNet-18/34 use basic
blocks (512 features), ResNet-50 bottlenecks with the stride on the 3x3
convolution ("ResNet v1.5"), 2048 features after global average pooling.
"""

import keras

from keras_sincere._validation import check_choice
from keras_sincere._validation import check_integer

# depth -> (block type, blocks per stage)
_ARCHITECTURES = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
}
_STEMS = ("cifar", "imagenet")
# PyTorch's BatchNorm defaults, as in the paper's reference training.
_BN = {"momentum": 0.9, "epsilon": 1e-5}


def _conv(filters, kernel_size, strides, name):
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
        name=name,
    )


def _basic_block(x, filters, strides, name):
    shortcut = x
    x = _conv(filters, 3, strides, f"{name}_conv1")(x)
    x = keras.layers.BatchNormalization(**_BN, name=f"{name}_bn1")(x)
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = _conv(filters, 3, 1, f"{name}_conv2")(x)
    x = keras.layers.BatchNormalization(**_BN, name=f"{name}_bn2")(x)
    return _merge(x, shortcut, filters, strides, name)


def _bottleneck_block(x, filters, strides, name):
    shortcut = x
    x = _conv(filters, 1, 1, f"{name}_conv1")(x)
    x = keras.layers.BatchNormalization(**_BN, name=f"{name}_bn1")(x)
    x = keras.layers.ReLU(name=f"{name}_relu1")(x)
    x = _conv(filters, 3, strides, f"{name}_conv2")(x)
    x = keras.layers.BatchNormalization(**_BN, name=f"{name}_bn2")(x)
    x = keras.layers.ReLU(name=f"{name}_relu2")(x)
    x = _conv(4 * filters, 1, 1, f"{name}_conv3")(x)
    x = keras.layers.BatchNormalization(**_BN, name=f"{name}_bn3")(x)
    return _merge(x, shortcut, 4 * filters, strides, name)


def _merge(x, shortcut, filters, strides, name):
    """Adds the (projected, where the shape changes) shortcut, then ReLU."""
    if strides != 1 or shortcut.shape[-1] != filters:
        if strides != 1:
            # Subsampling, then a stride-1 1x1 convolution, is the strided 1x1
            # convolution exactly (bit for bit on TensorFlow and JAX). The
            # strided form, fed fewer than 8 (AVX2) or 16 (AVX-512) channels,
            # makes torch's CPU kernel (oneDNN) return a wrong kernel gradient
            # or hang; see docs/backends.md.
            shortcut = keras.layers.MaxPooling2D(
                1, strides=strides, name=f"{name}_shortcut_subsample"
            )(shortcut)
        shortcut = _conv(filters, 1, 1, f"{name}_shortcut_conv")(shortcut)
        shortcut = keras.layers.BatchNormalization(**_BN, name=f"{name}_shortcut_bn")(
            shortcut
        )
    x = keras.layers.Add(name=f"{name}_add")([x, shortcut])
    return keras.layers.ReLU(name=f"{name}_out")(x)


def resnet(
    depth: int = 50,
    input_shape: tuple = (32, 32, 3),
    stem: str = "cifar",
    width: int = 64,
    name: str | None = None,
) -> keras.Model:
    """A ResNet encoder mapping images to pooled features.

    Args:
        depth: 18, 34 or 50.
        input_shape: `(H, W, C)` of the images; `H`, `W` may be `None`.
        stem: `"cifar"` (3x3/1 convolution, no max-pool: for 32x32 inputs)
            or `"imagenet"` (7x7/2 convolution + 3x3/2 max-pool).
        width: filters of the first stage (64 in the paper); the stages use
            `width * (1, 2, 4, 8)`. Smaller widths make quick test models.
        name: model name, `"resnet{depth}_{stem}"` by default.

    Returns:
        A functional `keras.Model` from images `(B, H, W, C)` to features
        `(B, F)`: `F = 8 * width` for depths 18/34 and `32 * width` (2048 at
        the default width) for depth 50.

    Example:

    >>> encoder = keras_sincere.models.resnet(18, (32, 32, 3), width=8)
    >>> encoder.output_shape
    (None, 64)
    """
    check_choice(depth, "depth", sorted(_ARCHITECTURES))
    check_choice(stem, "stem", _STEMS)
    if len(tuple(input_shape)) != 3:
        raise ValueError(
            f"`input_shape` must be (H, W, C). Received: input_shape={input_shape}"
        )
    width = check_integer(width, "width")
    block_type, blocks_per_stage = _ARCHITECTURES[depth]
    block = _basic_block if block_type == "basic" else _bottleneck_block

    images = keras.Input(tuple(input_shape), name="images")
    if stem == "cifar":
        x = _conv(width, 3, 1, "stem_conv")(images)
    else:
        x = _conv(width, 7, 2, "stem_conv")(images)
    x = keras.layers.BatchNormalization(**_BN, name="stem_bn")(x)
    x = keras.layers.ReLU(name="stem_relu")(x)
    if stem == "imagenet":
        x = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, blocks in enumerate(blocks_per_stage):
        filters = width * 2**stage
        for index in range(blocks):
            strides = 2 if stage > 0 and index == 0 else 1
            x = block(x, filters, strides, f"stage{stage + 1}_block{index + 1}")
    features = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(images, features, name=name or f"resnet{depth}_{stem}")


def resnet18(input_shape=(32, 32, 3), stem="cifar", width=64, name=None):
    """ResNet-18 (basic blocks [2, 2, 2, 2], 512 features). See `resnet`."""
    return resnet(18, input_shape, stem, width, name)


def resnet34(input_shape=(32, 32, 3), stem="cifar", width=64, name=None):
    """ResNet-34 (basic blocks [3, 4, 6, 3], 512 features). See `resnet`."""
    return resnet(34, input_shape, stem, width, name)


def resnet50(input_shape=(32, 32, 3), stem="cifar", width=64, name=None):
    """ResNet-50 (bottlenecks [3, 4, 6, 3], 2048 features). See `resnet`."""
    return resnet(50, input_shape, stem, width, name)
