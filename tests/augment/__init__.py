"""Helpers shared by the augmentation tests."""

import json

import keras

# Jitted stateless calls, one per layer structure (see `call`).
_COMPILED = {}


def structure(layer):
    """The layer's config without seeds and names: what its graph depends on."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("seed", "name")}
        if isinstance(value, (list, tuple)):
            return [strip(item) for item in value]
        return value

    config = keras.saving.serialize_keras_object(layer)
    return type(layer).__name__ + json.dumps(strip(config), sort_keys=True, default=str)


def call(layer, images, training=True):
    """`layer(images, training=training)` as numpy, compiled on JAX.

    Eager JAX compiles every op again for each new input shape, which costs
    seconds per shape for an augmentation pipeline. On JAX the layer runs
    instead through one `jax.jit` of its stateless call, shared by layers of
    the same structure (a seed only changes the state passed in), and its
    random state is updated afterwards, as in `fit`. The other backends call
    the layer eagerly.
    """
    if keras.backend.backend() != "jax":
        return keras.ops.convert_to_numpy(layer(images, training=training))
    import jax

    if not layer.built:
        layer.build(tuple(images.shape))
    key = structure(layer)
    if key not in _COMPILED:
        template = layer

        def stateless(trainable, non_trainable, images, training):
            return template.stateless_call(
                trainable, non_trainable, images, training=training
            )

        _COMPILED[key] = jax.jit(stateless, static_argnames="training")
    outputs, non_trainable = _COMPILED[key](
        [variable.value for variable in layer.trainable_variables],
        [variable.value for variable in layer.non_trainable_variables],
        keras.ops.convert_to_tensor(images),
        training=training,
    )
    for variable, value in zip(
        layer.non_trainable_variables, non_trainable, strict=True
    ):
        variable.assign(value)
    return keras.ops.convert_to_numpy(outputs)
