"""Gradients through each backend's autodiff, for tests and benchmarks only.

The library itself is backend-agnostic; tests need `value_and_gradient`,
which Keras does not expose, so the backend-specific code lives here.
"""

from collections.abc import Callable

import keras


def value_and_gradient(fn, x, unconnected_is_zero=False):
    """Returns `(fn(x), d fn(x) / dx)` as numpy arrays; `fn` returns a scalar.

    With `unconnected_is_zero`, an `x` the value does not depend on through
    autodiff (a `stop_gradient`) has a zero gradient on every backend,
    instead of TensorFlow's `None` and PyTorch's error.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            value = fn(variable)
        gradient = tape.gradient(
            value,
            variable,
            unconnected_gradients="zero" if unconnected_is_zero else "none",
        )
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
        if unconnected_is_zero and not value.requires_grad:
            return _numpy(value.detach()), _numpy(torch.zeros_like(tensor))
        (gradient,) = torch.autograd.grad(
            value,
            tensor,
            allow_unused=unconnected_is_zero,
            materialize_grads=unconnected_is_zero,
        )
        return _numpy(value.detach()), _numpy(gradient.detach())
    raise NotImplementedError(backend)


def compiled_value_and_gradient(fn: Callable, compile_torch: bool = True) -> Callable:
    """`x -> (fn(x), d fn(x) / dx)` compiled by each backend's compiler.

    `jax.jit` on JAX (the returned function is the jitted one, so
    `.lower(x).compile()` works on it), `tf.function(jit_compile=True)` (XLA)
    on TensorFlow, `torch.compile` on PyTorch (or eager PyTorch with
    `compile_torch=False`). `fn` maps a float tensor to a scalar; the
    returned function takes a numpy array or a backend tensor and returns
    backend tensors (`to_numpy(*step(x))` for numpy). Compiling happens on
    the first call; keep the returned function to reuse the compiled program.
    """
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(jax.value_and_grad(fn))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                value = fn(x)
            return value, tape.gradient(value, x)

        return lambda x: step(tf.convert_to_tensor(x))
    if backend == "torch":
        import torch

        forward = torch.compile(fn) if compile_torch else fn

        def torch_step(x):
            if isinstance(x, torch.Tensor):
                tensor = x.detach().requires_grad_(True)
            else:
                tensor = torch.tensor(x, requires_grad=True)
            value = forward(tensor)
            (gradient,) = torch.autograd.grad(value, tensor)
            return value.detach(), gradient.detach()

        return torch_step
    raise NotImplementedError(backend)


def to_numpy(*tensors):
    """Backend tensors as numpy arrays (half types widened to float32)."""
    return tuple(_numpy(tensor) for tensor in tensors)


def _numpy(tensor):
    """numpy has no bfloat16 on every backend: widen half types to float32."""
    if keras.backend.standardize_dtype(tensor.dtype) in ("bfloat16", "float16"):
        tensor = keras.ops.cast(tensor, "float32")
    return keras.ops.convert_to_numpy(tensor)
