"""The package's one set of argument rules (keras_sincere/_validation.py)."""

import numpy as np
import pytest

from keras_sincere._validation import check_bool
from keras_sincere._validation import check_choice
from keras_sincere._validation import check_integer
from keras_sincere._validation import check_interval
from keras_sincere._validation import check_label_dtype
from keras_sincere._validation import check_number
from keras_sincere._validation import check_positive
from keras_sincere._validation import check_probability
from keras_sincere._validation import check_same_label_kind
from keras_sincere._validation import check_value_range
from keras_sincere._validation import class_labels
from keras_sincere._validation import label_set_classes
from keras_sincere._validation import label_sets


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_integers_are_accepted_as_int(value):
    checked = check_integer(value, "epochs")
    assert checked == value and type(checked) is int


@pytest.mark.parametrize("value", [0, -1, 2.0, True, np.bool_(True), "3", None, 1.5])
def test_integers_refuse_floats_bools_and_out_of_range(value):
    with pytest.raises(
        ValueError, match=r"`epochs` must be an integer >= 1\. Received: epochs="
    ):
        check_integer(value, "epochs")


def test_integer_bounds_and_none():
    assert check_integer(None, "chunk_size", allow_none=True) is None
    assert check_integer(0, "warmup", minimum=0, maximum=3) == 0
    with pytest.raises(ValueError, match=r"`warmup` must be an integer >= 0 and <= 3"):
        check_integer(4, "warmup", minimum=0, maximum=3)
    with pytest.raises(ValueError, match=r"an integer >= 1 or None"):
        check_integer(0, "chunk_size", allow_none=True)


@pytest.mark.parametrize(
    "value", [0.0, -1, float("inf"), float("nan"), True, "0.1", None]
)
def test_positive_numbers(value):
    with pytest.raises(ValueError, match=r"`temperature` must be a finite number > 0"):
        check_positive(value, "temperature")


def test_numbers_are_floats_within_bounds():
    assert check_positive(np.float32(0.5), "temperature") == 0.5
    assert check_number(3, "epsilon", minimum=0.0) == 3.0
    assert check_probability(1, "p") == 1.0
    with pytest.raises(
        ValueError, match=r"`p` must be a finite number >= 0.0 and <= 1.0"
    ):
        check_probability(1.5, "p")


def test_bool_choice_and_pairs():
    assert check_bool(np.bool_(False), "normalize") is False
    with pytest.raises(
        ValueError, match=r"`normalize` must be True or False\. Received: normalize=1"
    ):
        check_bool(1, "normalize")
    assert check_choice("pca", "method", ("pca", "tsne")) == "pca"
    with pytest.raises(ValueError, match=r"`method` must be one of 'pca', 'tsne'"):
        check_choice("umap", "method", ("pca", "tsne"))
    assert check_interval([0.5, 1], "scale", 0.0, 1.0) == (0.5, 1.0)
    with pytest.raises(ValueError, match=r"`scale` must satisfy lower <= upper"):
        check_interval((0.9, 0.5), "scale", 0.0, 1.0)
    assert check_value_range((-1, 1)) == (-1.0, 1.0)
    with pytest.raises(ValueError, match=r"`value_range` must satisfy low < high"):
        check_value_range((1, 1))


def test_class_labels_one_rule_for_every_kind():
    assert class_labels([[1], [2]], "y").tolist() == [1, 2]
    whole = class_labels(np.array([0.0, 3.0]), "y")
    assert whole.dtype == np.int64 and whole.tolist() == [0, 3]
    assert class_labels(np.array([True, False]), "y").tolist() == [True, False]
    with pytest.raises(
        ValueError, match=r"`y` must hold class labels as integers; float"
    ):
        class_labels([0.5, 1.0], "y")
    with pytest.raises(ValueError, match=r"`y` must hold class labels as integers\."):
        class_labels(["a", "b"], "y")
    assert class_labels(["b", "a"], "y", allow_strings=True).tolist() == ["b", "a"]
    with pytest.raises(ValueError, match=r"Received: y\.shape=\(2, 2\)"):
        class_labels(np.zeros((2, 2)), "y")
    with pytest.raises(ValueError, match=r"2 labels for 3 embeddings"):
        class_labels([0, 1], "y", count=3)


def test_label_dtype_of_tensors():
    check_label_dtype("int32", (4,))
    check_label_dtype("float32", (4,))
    with pytest.raises(ValueError, match=r"`y_true` must hold numeric"):
        check_label_dtype(np.dtype("U1"), (4,))


def test_label_kind_is_integer_or_the_classes_of_label_sets():
    assert [label_set_classes(shape) for shape in ((5,), (5, 1), (5, 3))] == [
        None,
        None,
        3,
    ]
    check_same_label_kind((5,), (2, 1), ("a", "b"))
    check_same_label_kind((5, 3), (2, 3), ("a", "b"))
    with pytest.raises(ValueError, match=r"`a` and `b`.*a.shape=\(5,\) \(integer"):
        check_same_label_kind((5,), (2, 3), ("a", "b"))
    with pytest.raises(ValueError, match=r"b.shape=\(2, 4\) \(multi-hot with 4"):
        check_same_label_kind((5, 3), (2, 4), ("a", "b"))


def test_label_sets_name_the_values_that_are_not_0_or_1():
    np.testing.assert_array_equal(label_sets([[True, False]] * 2, "y"), [[1, 0]] * 2)
    with pytest.raises(ValueError, match=r"`y` of shape.*\(2, 2\).*such as \[2, 3\]"):
        label_sets([[0, 2], [3, 1]], "y")
    with pytest.raises(ValueError, match=r"y.shape=\(2,\)"):
        label_sets([0, 1], "y")
