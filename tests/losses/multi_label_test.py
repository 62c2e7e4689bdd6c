"""The losses with multi-hot labels `(B, C)`: label sets instead of one class.

For anchor `i` with label set `Y_i`, the positives are the other embeddings
whose set intersects `Y_i` and the negatives those whose set is disjoint
from it; with `positive_weighting="jaccard"` each positive's term in the
anchor's mean is weighted by `|Y_i & Y_p| / |Y_i | Y_p|`. Checked against
the naive loops of `naive.py` on every backend, values and gradients.
"""

import keras
import numpy as np
import pytest

from tests.backend_utils import value_and_gradient
from tests.losses.loss_specs import SPECS_BY_NAME
from tests.losses.softmax_contrastive_loss_test import finite_difference

# The losses that read labels (InfoNCE ignores them: one check below);
# SupCon's `base_temperature` only scales it, so it is not repeated here.
LABELLED = [SPECS_BY_NAME[name] for name in ("sincere", "supcon", "epsilon_supinfonce")]
labelled_specs = pytest.mark.parametrize(
    "spec", LABELLED, ids=[spec.name for spec in LABELLED]
)
SINCERE = SPECS_BY_NAME["sincere"]
SUPCON = SPECS_BY_NAME["supcon"]
WEIGHTINGS = pytest.mark.parametrize("weighting", [None, "jaccard"])

# name: (label sets of the samples, views); D = 4 throughout.
LABEL_SETS = {
    # Sets that overlap in one or two labels, of sizes 1 to 3.
    "overlapping": (
        [[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 0, 1], [1, 1, 1, 0]],
        2,
    ),
    # Sample 0 has no label: a negative of every anchor, no positive itself.
    "a_sample_without_labels": ([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 1]], 2),
    # One view: sample 0's only positive (sample 1) shares one of its three
    # labels, and sample 3 shares none with anyone.
    "only_positive_shares_one_label": (
        [[1, 1, 1, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]],
        1,
    ),
    # Every sample has label 0: no negative at all.
    "all_share_one_label": ([[1, 0, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]], 2),
    "two_classes": ([[1, 0], [0, 1], [1, 1], [1, 0], [0, 1]], 2),
}


def make_case(name, seed=0):
    label_sets, views = LABEL_SETS[name]
    labels = np.array(label_sets, dtype="int32")
    rng = np.random.default_rng(seed)
    embeddings = rng.normal(size=(len(labels), views, 4)).astype("float32")
    return labels, embeddings


@labelled_specs
@pytest.mark.parametrize(
    ("case", "weighting"),
    # The weights matter where positives share some of several labels.
    [(case, None) for case in LABEL_SETS]
    + [(case, "jaccard") for case in ("overlapping", "only_positive_shares_one_label")],
)
def test_per_sample_values_match_naive_loop(spec, case, weighting):
    labels, embeddings = make_case(case)
    got = spec.function(labels, embeddings, **spec.kwargs, positive_weighting=weighting)
    expected = spec.oracle(
        labels, embeddings, **spec.kwargs, positive_weighting=weighting
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got), expected, rtol=1e-5, atol=1e-6
    )


def test_the_cases_hold_what_their_names_say():
    """The oracle's view of the cases, so that each one tests what it claims."""
    without, _ = make_case("a_sample_without_labels")
    embeddings = np.random.default_rng(0).normal(size=(4, 2, 4))
    losses = SINCERE.oracle(without, embeddings)
    assert losses[0] == 0.0 and np.all(losses[1:] > 0)
    one_label, embeddings = make_case("only_positive_shares_one_label")
    losses = SINCERE.oracle(one_label, embeddings)
    assert losses[0] > 0 and losses[3] == 0.0
    weighted = SINCERE.oracle(one_label, embeddings, positive_weighting="jaccard")
    # One positive: its weight (1/3) cancels in the weighted mean.
    assert weighted[0] == pytest.approx(losses[0])
    overlapping, embeddings = make_case("overlapping")
    plain = SINCERE.oracle(overlapping, embeddings)
    weighted = SINCERE.oracle(overlapping, embeddings, positive_weighting="jaccard")
    assert np.max(np.abs(plain - weighted)) > 1e-3


@labelled_specs
@pytest.mark.parametrize(
    ("case", "weighting"),
    [
        ("overlapping", None),
        ("a_sample_without_labels", None),
        ("overlapping", "jaccard"),
    ],
)
def test_gradient_matches_finite_differences_of_naive_loop(spec, case, weighting):
    labels, embeddings = make_case(case, seed=3)
    loss = spec.loss_class(**spec.kwargs, reduction="sum", positive_weighting=weighting)
    _, gradient = value_and_gradient(lambda z: loss(labels, z), embeddings)
    expected = finite_difference(
        lambda z: spec.oracle(
            labels, z, **spec.kwargs, positive_weighting=weighting
        ).sum(),
        embeddings,
    )
    np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("spec", [SINCERE, SUPCON], ids=["sincere", "supcon"])
@WEIGHTINGS
def test_chunked_path_equals_the_dense_one(spec, weighting):
    labels, embeddings = make_case("overlapping", seed=5)
    dense = spec.loss_class(positive_weighting=weighting)
    chunked = spec.loss_class(positive_weighting=weighting, chunk_size=4)  # 4+4+2
    dense_value, dense_gradient = value_and_gradient(
        lambda z: dense(labels, z), embeddings
    )
    value, gradient = value_and_gradient(lambda z: chunked(labels, z), embeddings)
    np.testing.assert_allclose(value, dense_value, rtol=1e-6)
    np.testing.assert_allclose(gradient, dense_gradient, rtol=1e-5, atol=1e-7)


@labelled_specs
@pytest.mark.parametrize(
    ("dtype", "weighting"), [("bool", None), ("bool", "jaccard"), ("float32", None)]
)
def test_one_hot_labels_give_exactly_the_integer_label_losses(spec, dtype, weighting):
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 4, size=10)
    embeddings = rng.normal(size=(10, 2, 4)).astype("float32")
    one_hot = np.eye(4, dtype=dtype)[labels]
    loss = spec.loss_class(**spec.kwargs, positive_weighting=weighting)
    integer_value, integer_gradient = value_and_gradient(
        lambda z: loss(labels, z), embeddings
    )
    value, gradient = value_and_gradient(lambda z: loss(one_hot, z), embeddings)
    np.testing.assert_array_equal(value, integer_value)
    np.testing.assert_array_equal(gradient, integer_gradient)


def test_infonce_ignores_multi_hot_labels():
    labels, embeddings = make_case("overlapping")
    infonce = SPECS_BY_NAME["infonce"]
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(infonce.function(labels, embeddings)),
        keras.ops.convert_to_numpy(infonce.function(None, embeddings)),
    )


@pytest.mark.parametrize("spec", [SINCERE, SUPCON], ids=["sincere", "supcon"])
def test_multi_hot_memory_matches_naive_loop(spec):
    labels, embeddings = make_case("overlapping")
    rng = np.random.default_rng(2)
    memory = rng.normal(size=(6, 4)).astype("float32")
    # Entry 1 has no label (a negative of every anchor), entry 4 every label.
    memory_labels = np.array(
        [
            [1, 0, 0, 0],
            [0, 0, 0, 0],
            [0, 1, 1, 0],
            [0, 0, 0, 1],
            [1, 1, 1, 1],
            [0, 0, 1, 0],
        ]
    )
    kwargs = {
        "memory_embeddings": memory,
        "memory_labels": memory_labels,
        "positive_weighting": "jaccard",
    }
    got = spec.function(labels, embeddings, **kwargs)
    expected = spec.oracle(labels, embeddings, **kwargs)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got), expected, rtol=1e-5, atol=1e-6
    )
    assert np.max(np.abs(expected - spec.oracle(labels, embeddings))) > 1e-3


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (np.array([[0, 2, 0], [1, 0, 0], [0, 1, 1], [1, 1, 0]]), r"0 and 1.*\[2\]"),
        (np.full((4, 3), 0.5), r"y_true.*\(4, 3\).*only 0 and 1"),
        (np.ones((3, 3)), r"y_true.shape=\(3, 3\) has 3 labels but y_pred has 4"),
        (np.ones((4, 3, 2)), r"y_true.shape=\(4, 3, 2\)"),
    ],
)
def test_rejects_bad_multi_hot_labels(labels, match):
    with pytest.raises(ValueError, match=match):
        SINCERE.function(labels, np.ones((4, 2, 3), "float32"))


def test_rejects_an_unknown_positive_weighting():
    with pytest.raises(ValueError, match="positive_weighting.*'dice'"):
        SINCERE.loss_class(positive_weighting="dice")
    with pytest.raises(ValueError, match="positive_weighting.*'dice'"):
        SINCERE.function(
            np.eye(4), np.ones((4, 2, 3), "float32"), positive_weighting="dice"
        )


@pytest.mark.parametrize(
    ("batch_labels", "memory_labels", "match"),
    [
        (np.eye(4)[[0, 1, 2, 3]], np.array([0, 1, 2]), r"multi-hot with 4 classes"),
        (np.eye(4)[[0, 1, 2, 3]], np.eye(5)[:3], r"memory_labels.shape=\(3, 5\)"),
        (np.array([0, 1, 2, 3]), np.eye(4)[:3], r"integer.*\(3, 4\)"),
    ],
)
def test_rejects_memory_labels_of_another_kind(batch_labels, memory_labels, match):
    with pytest.raises(ValueError, match=match):
        SINCERE.function(
            batch_labels,
            np.ones((4, 2, 3), "float32"),
            memory_embeddings=np.ones((3, 3), "float32"),
            memory_labels=memory_labels,
        )


def test_positive_weighting_is_in_the_config():
    loss = SUPCON.loss_class(positive_weighting="jaccard")
    restored = SUPCON.loss_class.from_config(loss.get_config())
    assert restored.positive_weighting == "jaccard"
    labels, embeddings = make_case("overlapping")
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(restored(labels, embeddings)),
        keras.ops.convert_to_numpy(loss(labels, embeddings)),
    )
