"""Gradients through each backend's autodiff, for tests only.

The library itself is backend-agnostic; tests need `value_and_gradient`,
which Keras does not expose, so the backend-specific code lives here.
"""

import keras


def value_and_gradient(fn, x):
    """Returns `(fn(x), d fn(x) / dx)` as numpy arrays; `fn` returns a scalar."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = fn(variable)
        gradient = tape.gradient(value, variable)
        return _numpy(value), _numpy(gradient)
    if backend == "jax":
        import jax

        value, gradient = jax.value_and_grad(fn)(x)
        return _numpy(value), _numpy(gradient)
    if backend == "torch":
        import torch

        if isinstance(x, torch.Tensor):
            tensor = x.detach().clone().requires_grad_(True)
        else:
            tensor = torch.tensor(x, requires_grad=True)
        value = fn(tensor)
        (gradient,) = torch.autograd.grad(value, tensor)
        return _numpy(value.detach()), _numpy(gradient.detach())
    raise NotImplementedError(backend)


def _numpy(tensor):
    """numpy has no bfloat16 on every backend: widen half types to float32."""
    if keras.backend.standardize_dtype(tensor.dtype) in ("bfloat16", "float16"):
        tensor = keras.ops.cast(tensor, "float32")
    return keras.ops.convert_to_numpy(tensor)
