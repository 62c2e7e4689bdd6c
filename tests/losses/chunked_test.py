"""The chunked path (`chunk_size`): the dense path's values and gradients.

Every loss, chunk sizes that divide `N`, that do not, and that exceed it;
batches without positives or without negatives; several views; under each
backend's compiler; inside `fit`; and the memory it is there to save.
"""

import keras
import numpy as np
import pytest

from keras_sincere import losses
from tests.backend_utils import compiled_value_and_gradient
from tests.backend_utils import to_numpy
from tests.backend_utils import value_and_gradient
from tests.losses.loss_specs import SPEC_IDS
from tests.losses.loss_specs import SPECS
from tests.losses.softmax_contrastive_loss_test import toy_model
from tests.losses.softmax_contrastive_loss_test import toy_views

specs = pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)

BATCHES = {
    # name: (labels, views, chunk sizes). N = len(labels) * views = 12 in all
    # of them, so that eager backends reuse the kernels they compiled for the
    # N x N ops. Blocks that leave a partial one, blocks larger than N, that
    # divide N, and of one row.
    "mixed_two_views": ([0, 0, 0, 1, 1, 2], 2, [5, 64]),
    "no_negatives": ([5, 5, 5, 5, 5, 5], 2, [4]),
    "one_view_with_singletons": ([0, 0, 1, 2, 2, 2, 3, 4, 5, 5, 6, 7], 1, [5]),
    "no_positives": ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 1, [4]),
    "three_views": ([0, 1, 1, 2], 3, [1]),
}
SINCERE, SUPCON, EPSILON = SPECS[0], SPECS[1], SPECS[3]
# Every loss on the main batch; the edge batches on the losses whose
# denominators differ there. The backends' loop primitives compile once per
# shape and chunk size, so the cases are chosen rather than crossed.
CASES = (
    [(spec, "mixed_two_views") for spec in SPECS]
    + [(spec, "no_negatives") for spec in (SINCERE, SUPCON, EPSILON)]
    + [(spec, "one_view_with_singletons") for spec in (SINCERE, SUPCON)]
    + [(spec, "no_positives") for spec in (SINCERE, SUPCON)]
    + [(spec, "three_views") for spec in (SINCERE, EPSILON)]
)


def make_batch(name, seed=0, dim=4):
    labels, views, _ = BATCHES[name]
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(labels), views, dim)).astype("float32")
    return np.array(labels), embeddings


def assert_same(got, expected):
    np.testing.assert_allclose(
        np.asarray(got, "float64"),
        np.asarray(expected, "float64"),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "spec,batch", CASES, ids=[f"{batch}-{spec.name}" for spec, batch in CASES]
)
def test_value_and_gradient_equal_the_dense_path(spec, batch):
    labels, embeddings = make_batch(batch)
    dense = spec.loss_class(**spec.kwargs)
    dense_value, dense_gradient = value_and_gradient(
        lambda z: dense(labels, z), embeddings
    )
    for chunk_size in BATCHES[batch][2]:
        chunked = spec.loss_class(chunk_size=chunk_size, **spec.kwargs)
        value, gradient = value_and_gradient(
            lambda z, loss=chunked: loss(labels, z), embeddings
        )
        assert np.all(np.isfinite(gradient)), chunk_size
        assert_same(value, dense_value)
        assert_same(gradient, dense_gradient)


def test_per_sample_losses_equal_the_dense_path():
    spec = SINCERE
    labels, embeddings = make_batch("mixed_two_views", seed=1)
    assert_same(
        spec.function(labels, embeddings, chunk_size=5, **spec.kwargs),
        spec.function(labels, embeddings, **spec.kwargs),
    )


@pytest.mark.parametrize("spec", [SINCERE, SUPCON], ids=[SINCERE.name, SUPCON.name])
def test_one_embedding_per_sample_and_tiny_temperature(spec):
    labels, embeddings = make_batch("one_view_with_singletons", seed=2)
    flat = embeddings[:, 0, :]
    kwargs = dict(temperature=0.005, **spec.kwargs)
    assert_same(
        spec.loss_class(chunk_size=5, **kwargs)(labels, flat),
        spec.loss_class(**kwargs)(labels, flat),
    )


def test_compiled_chunked_path_equals_eager_dense_path():
    # jax.jit, XLA (tf.function(jit_compile=True)) or torch.compile.
    spec = SINCERE
    labels, embeddings = make_batch("mixed_two_views", seed=3)
    chunked = spec.loss_class(chunk_size=7, **spec.kwargs)
    step = compiled_value_and_gradient(lambda z: chunked(labels, z))
    value, gradient = to_numpy(*step(embeddings))
    dense = spec.loss_class(**spec.kwargs)
    dense_value, dense_gradient = value_and_gradient(
        lambda z: dense(labels, z), embeddings
    )
    assert_same(value, dense_value)
    assert_same(gradient, dense_gradient)


def fit_history(loss, jit_compile):
    keras.utils.set_random_seed(0)
    x, y = toy_views(samples=24)
    model = toy_model()
    model.compile(
        optimizer=keras.optimizers.SGD(0.05), loss=loss, jit_compile=jit_compile
    )
    # Batches of 12 samples (N = 24): blocks of 5 leave a partial one.
    return model.fit(x, y, batch_size=12, epochs=2, verbose=0).history["loss"]


def test_fit_equals_dense_fit():
    # XLA on TensorFlow and JAX. Compiling a whole fit step with
    # torch.compile takes about 15 s, so torch fits eagerly here; the
    # compiled chunked loss is checked above.
    jit_compile = keras.backend.backend() != "torch"
    dense = fit_history(SINCERE.loss_class(), jit_compile=jit_compile)
    chunked = fit_history(SINCERE.loss_class(chunk_size=5), jit_compile=jit_compile)
    np.testing.assert_allclose(chunked, dense, rtol=1e-5)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="tf.function")
def test_tensorflow_graph_with_unknown_batch_size():
    # Keras traces `fit` with an unknown batch size once it sees two sizes:
    # the number of blocks and the padding are then computed in the graph.
    import tensorflow as tf

    loss = SINCERE.loss_class(chunk_size=5)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None, 2, 4], tf.float32),
        ]
    )
    def step(labels, embeddings):
        with tf.GradientTape() as tape:
            tape.watch(embeddings)
            value = loss(labels, embeddings)
        return value, tape.gradient(value, embeddings)

    dense = SINCERE.loss_class()
    for labels in ([0, 0, 0, 1, 1, 2], [0, 1, 1, 2, 2, 2, 3, 0, 1]):
        labels = np.array(labels)
        embeddings = np.random.default_rng(4).normal(size=(len(labels), 2, 4))
        embeddings = embeddings.astype("float32")
        value, gradient = step(tf.constant(labels), tf.constant(embeddings))
        expected = value_and_gradient(
            lambda z, labels=labels: dense(labels, z), embeddings
        )
        assert_same(value, expected[0])
        assert_same(gradient, expected[1])


# Arguments and configuration.


@specs
def test_config_round_trip(spec):
    loss = spec.loss_class(chunk_size=128, **spec.kwargs)
    config = loss.get_config()
    assert config["chunk_size"] == 128
    restored = spec.loss_class.from_config(config)
    assert restored.chunk_size == 128
    assert restored.get_config() == config
    assert spec.loss_class(**spec.kwargs).get_config()["chunk_size"] is None
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert restored.get_config() == config


@specs
@pytest.mark.parametrize("chunk_size", [0, -4, 2.5, "8", True])
def test_rejects_bad_chunk_size(spec, chunk_size):
    pattern = rf"chunk_size.*{chunk_size!r}".replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(ValueError, match=pattern):
        spec.loss_class(chunk_size=chunk_size, **spec.kwargs)
    with pytest.raises(ValueError, match=pattern):
        spec.function(
            np.array([0, 0]),
            np.ones((2, 3), "float32"),
            chunk_size=chunk_size,
            **spec.kwargs,
        )


def test_numpy_integer_chunk_size_is_accepted():
    assert losses.SincereLoss(chunk_size=np.int64(32)).chunk_size == 32


# Memory: what the chunked path is for.


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="XLA memory analysis")
def test_jax_compiled_temporaries_shrink_with_chunks():
    import jax

    # N = 1024 anchors: the dense path needs several N x N float32 arrays
    # (4 MiB each); blocks of 64 rows need 64 x N ones (256 KiB each).
    labels = np.arange(512) % 100
    embeddings = np.zeros((512, 2, 32), "float32")

    def temporaries(chunk_size):
        loss = losses.SincereLoss(chunk_size=chunk_size)
        step = jax.jit(jax.value_and_grad(lambda z: loss(labels, z)))
        return step.lower(embeddings).compile().memory_analysis().temp_size_in_bytes

    dense, chunked = temporaries(None), temporaries(64)
    assert dense >= 1024 * 1024 * 4
    assert chunked * 8 < dense


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch autograd")
def test_torch_backward_keeps_no_square_tensor_with_chunks():
    import torch

    n = 512
    labels = torch.tensor(np.arange(n // 2) % 50)
    embeddings = torch.randn(n // 2, 2, 16, requires_grad=True)

    def largest_saved_tensor(chunk_size):
        sizes = [0]

        def pack(tensor):
            sizes.append(tensor.numel())
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            value = losses.SincereLoss(chunk_size=chunk_size)(labels, embeddings)
        value.backward()
        return max(sizes)

    assert largest_saved_tensor(None) >= n * n
    # Each block keeps only its inputs: a view of its rows, the N x D keys,
    # and labels; nothing of size N x chunk, let alone N x N.
    assert largest_saved_tensor(32) <= n * 16


@pytest.mark.skipif(keras.backend.backend() != "torch", reason="torch autograd")
@specs
def test_torch_forward_keeps_no_block_alive_until_backward(spec):
    # Saved tensors are not the only way to keep a block's logits: a custom
    # gradient's closure holds whatever it names, out of the checkpoint's
    # reach. Between the passes, no new tensor with a column per key may be
    # alive.
    import gc

    import torch

    n, chunk_size = 256, 32

    def tensors_with_a_column_per_key():
        # Maps ids to the tensors themselves, which keeps them alive: an id
        # cannot be reused by a new tensor while its dict holds the old one.
        gc.collect()
        return {
            id(obj): obj
            for obj in gc.get_objects()
            if isinstance(obj, torch.Tensor) and obj.ndim == 2 and obj.shape[1] == n
        }

    labels = torch.tensor(np.arange(n // 2) % 20)
    embeddings = torch.randn(n // 2, 2, 8, requires_grad=True)
    loss = spec.loss_class(chunk_size=chunk_size, **spec.kwargs)
    before = tensors_with_a_column_per_key()
    value = loss(labels, embeddings)
    alive = tensors_with_a_column_per_key()
    new = [tuple(obj.shape) for key, obj in alive.items() if key not in before]
    del alive
    value.backward()
    assert new == []
    assert torch.isfinite(embeddings.grad).all()
