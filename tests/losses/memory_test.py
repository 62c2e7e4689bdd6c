"""The losses with a cross-batch memory (`memory_embeddings`, `memory_labels`).

The memory's entries are extra keys and never anchors: for a batch anchor,
an entry of its label is one more positive, an entry of another label one
more negative (with InfoNCE every entry is a negative); no gradient reaches
the memory. Checked against the naive loops of `naive.py` on every backend.
"""

import keras
import numpy as np
import pytest

from tests.backend_utils import value_and_gradient
from tests.losses.loss_specs import SPEC_IDS
from tests.losses.loss_specs import SPECS
from tests.losses.loss_specs import SPECS_BY_NAME
from tests.losses.softmax_contrastive_loss_test import finite_difference

specs = pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
# The memory's paths (gradient, chunks, mask) with the three denominators:
# SINCERE's (epsilon-SupInfoNCE's is the same with a shift), SupCon's, and
# InfoNCE's without labels. The argument checks are shared by every loss.
path_specs = pytest.mark.parametrize(
    "spec",
    [SPECS_BY_NAME[name] for name in ("sincere", "supcon", "infonce")],
    ids=["sincere", "supcon", "infonce"],
)
SINCERE = SPECS_BY_NAME["sincere"]

# name: (batch labels, views, memory labels); D = 4 throughout.
MEMORIES = {
    "mixed": ([0, 0, 1, 1, 2, 2], 2, [0, 1, 3, 3, 2, 0, 4, 1]),
    # One view and unique labels: every positive of every anchor is in the
    # memory, and samples 4 and 5 have none at all.
    "only_positives_in_memory": ([0, 1, 2, 3, 4, 5], 1, [0, 1, 1, 2, 3, 3, 0, 2]),
    # Memory entries of classes the batch does not hold: negatives only.
    "no_class_of_the_batch": ([0, 0, 1, 1, 2, 2], 2, [7, 7, 8, 9, 9, 8, 7, 9]),
    "all_of_one_class": ([0, 0, 1, 1, 2, 2], 2, [1] * 8),
}


def make_case(name, seed=0):
    labels, views, memory_labels = MEMORIES[name]
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(labels), views, 4)).astype("float32")
    memory = rng.normal(size=(len(memory_labels), 4)).astype("float32")
    return np.array(labels), embeddings, memory, np.array(memory_labels)


def _memory_kwargs(memory, memory_labels):
    return {"memory_embeddings": memory, "memory_labels": memory_labels}


@specs
@pytest.mark.parametrize("case", list(MEMORIES))
def test_per_sample_values_match_naive_loop(spec, case):
    labels, embeddings, memory, memory_labels = make_case(case)
    kwargs = _memory_kwargs(memory, memory_labels)
    got = np.asarray(spec.function(labels, embeddings, **spec.kwargs, **kwargs))
    expected = spec.oracle(labels, embeddings, **spec.kwargs, **kwargs)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    if spec.name == "infonce" and embeddings.shape[1] == 1:
        # One view: no positive, and a memory only adds negatives.
        np.testing.assert_array_equal(got, 0.0)
        return
    # The memory changes the loss: the check above is not the no-memory one.
    without = spec.oracle(labels, embeddings, **spec.kwargs)
    assert np.max(np.abs(expected - without)) > 1e-3


def test_a_memory_gives_positives_to_anchors_that_had_none():
    labels, embeddings, memory, memory_labels = make_case("only_positives_in_memory")
    to_numpy = keras.ops.convert_to_numpy
    alone = to_numpy(SINCERE.function(labels, embeddings))
    with_memory = to_numpy(
        SINCERE.function(labels, embeddings, **_memory_kwargs(memory, memory_labels))
    )
    np.testing.assert_array_equal(alone, 0.0)  # one view, unique labels
    assert np.all(with_memory[:4] > 0) and np.all(with_memory[4:] == 0)


@specs
@pytest.mark.parametrize("case", ["mixed", "only_positives_in_memory"])
def test_gradient_matches_finite_differences_of_naive_loop(spec, case):
    labels, embeddings, memory, memory_labels = make_case(case, seed=3)
    kwargs = _memory_kwargs(memory, memory_labels)
    loss = spec.loss_class(**spec.kwargs, reduction="sum")
    _, gradient = value_and_gradient(lambda z: loss(labels, z, **kwargs), embeddings)
    expected = finite_difference(
        lambda z: spec.oracle(labels, z, **spec.kwargs, **kwargs).sum(), embeddings
    )
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5)


@path_specs
def test_no_gradient_reaches_the_memory(spec):
    labels, embeddings, memory, memory_labels = make_case("mixed")
    loss = spec.loss_class(**spec.kwargs)
    value, gradient = value_and_gradient(
        lambda m: loss(
            labels, embeddings, memory_embeddings=m, memory_labels=memory_labels
        ),
        memory,
        unconnected_is_zero=True,
    )
    assert value > 0
    np.testing.assert_array_equal(gradient, 0.0)


@path_specs
def test_chunked_path_with_a_memory_equals_the_dense_one(spec):
    labels, embeddings, memory, memory_labels = make_case("mixed", seed=5)
    kwargs = _memory_kwargs(memory, memory_labels)
    dense = spec.loss_class(**spec.kwargs)
    chunked = spec.loss_class(**spec.kwargs, chunk_size=5)  # 12 rows: 5 + 5 + 2
    dense_value, dense_gradient = value_and_gradient(
        lambda z: dense(labels, z, **kwargs), embeddings
    )
    value, gradient = value_and_gradient(
        lambda z: chunked(labels, z, **kwargs), embeddings
    )
    np.testing.assert_allclose(value, dense_value, rtol=1e-6)
    np.testing.assert_allclose(gradient, dense_gradient, rtol=1e-5, atol=1e-7)


@specs
def test_memory_of_batch_b_equals_batch_a_plus_b_restricted_to_a(spec):
    """Batch A with memory B == batch A + B, read at A's samples.

    The per-sample losses of A's samples in the batch A + B depend on A's
    anchors only, whose keys are all the views of A and of B: exactly the
    keys of A with B's views as memory. B's own anchors, which A + B also
    has, are not in the first result. With InfoNCE, B's samples are other
    samples: negatives for A either way.
    """
    rng = np.random.default_rng(11)
    labels_a, labels_b = np.array([0, 1, 1, 2]), np.array([2, 0, 3])
    views_a = rng.normal(size=(4, 2, 4)).astype("float32")
    views_b = rng.normal(size=(3, 2, 4)).astype("float32")
    with_memory = spec.function(
        labels_a,
        views_a,
        **spec.kwargs,
        memory_embeddings=views_b.reshape(-1, 4),
        memory_labels=np.repeat(labels_b, 2),
    )
    joint = spec.function(
        np.concatenate([labels_a, labels_b]),
        np.concatenate([views_a, views_b]),
        **spec.kwargs,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(with_memory),
        keras.ops.convert_to_numpy(joint)[:4],
        rtol=1e-5,
    )


@path_specs
def test_masked_entries_take_no_part(spec):
    labels, embeddings, memory, memory_labels = make_case("mixed")
    in_use = np.array([True, False, True, True, False, True, True, False])
    masked = spec.function(
        labels,
        embeddings,
        **spec.kwargs,
        memory_embeddings=memory,
        memory_labels=memory_labels,
        memory_mask=in_use,
    )
    kept = spec.function(
        labels,
        embeddings,
        **spec.kwargs,
        memory_embeddings=memory[in_use],
        memory_labels=memory_labels[in_use],
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(masked), keras.ops.convert_to_numpy(kept), rtol=1e-6
    )
    nothing = spec.function(
        labels,
        embeddings,
        **spec.kwargs,
        memory_embeddings=memory,
        memory_labels=memory_labels,
        memory_mask=np.zeros(8, bool),
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(nothing),
        keras.ops.convert_to_numpy(spec.function(labels, embeddings, **spec.kwargs)),
        rtol=1e-6,
    )


def test_labels_of_different_integer_dtypes_are_compared_exactly():
    labels, embeddings, memory, memory_labels = make_case("mixed")
    wide = SINCERE.function(
        labels.astype("int32"),
        embeddings,
        memory_embeddings=memory,
        memory_labels=memory_labels.astype("int64"),
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(wide),
        SINCERE.oracle(
            labels, embeddings, memory_embeddings=memory, memory_labels=memory_labels
        ),
        rtol=1e-5,
    )


@pytest.mark.parametrize(
    ("memory_shape", "label_shape", "match"),
    [
        ((8, 3), (8,), r"memory_embeddings.shape=\(8, 3\)"),
        ((8,), (8,), r"memory_embeddings.shape=\(8,\)"),
        ((8, 4), (7,), r"memory_labels.shape=\(7,\).*memory_embeddings has 8"),
        ((8, 4), (8, 2), r"memory_labels.shape=\(8, 2\)"),
    ],
)
def test_rejects_a_memory_of_the_wrong_shape(memory_shape, label_shape, match):
    labels, embeddings, _, _ = make_case("mixed")
    with pytest.raises(ValueError, match=match):
        SINCERE.function(
            labels,
            embeddings,
            memory_embeddings=np.ones(memory_shape, "float32"),
            memory_labels=np.zeros(label_shape, "int32"),
        )


def test_rejects_a_memory_without_labels():
    labels, embeddings, memory, _ = make_case("mixed")
    with pytest.raises(ValueError, match="memory_labels=None"):
        SINCERE.function(labels, embeddings, memory_embeddings=memory)


def test_rejects_memory_labels_or_mask_without_a_memory():
    labels, embeddings, _, memory_labels = make_case("mixed")
    with pytest.raises(ValueError, match="memory_embeddings=None"):
        SINCERE.function(labels, embeddings, memory_labels=memory_labels)


def test_rejects_a_mask_of_the_wrong_shape():
    labels, embeddings, memory, memory_labels = make_case("mixed")
    with pytest.raises(ValueError, match=r"memory_mask.shape=\(7,\)"):
        SINCERE.function(
            labels,
            embeddings,
            memory_embeddings=memory,
            memory_labels=memory_labels,
            memory_mask=np.ones(7, bool),
        )
