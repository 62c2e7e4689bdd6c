"""retrieval_metrics against naive loops, and against pytorch-metric-learning."""

import math

import keras
import numpy as np
import pytest

from keras_sincere import evaluation


def naive_metrics(query, query_labels, reference=None, reference_labels=None,
                  recall_ks=(1, 2, 4, 8), avg_of_avgs=False):  # fmt: skip
    """Each metric from its definition, one query and one rank at a time."""
    self_search = reference is None
    if self_search:
        reference, reference_labels = query, query_labels
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    similarities = unit(query).astype(np.float64) @ unit(reference).T
    per_query = {"p1": [], "rp": [], "map": [], **{k: [] for k in recall_ks}}
    labels, without = [], 0
    for q in range(len(query)):
        candidates = [j for j in range(len(reference)) if not (self_search and j == q)]
        # Decreasing similarity; equal similarities by increasing index.
        ranked = sorted(candidates, key=lambda j: (-similarities[q, j], j))
        relevant = [related(reference_labels[j], query_labels[q]) for j in ranked]
        r = sum(relevant)
        if r == 0:
            without += 1
            continue
        labels.append(query_labels[q])
        per_query["p1"].append(float(relevant[0]))
        per_query["rp"].append(sum(relevant[:r]) / r)
        precisions = [sum(relevant[: i + 1]) / (i + 1) for i in range(r)]
        per_query["map"].append(
            sum(p for p, hit in zip(precisions, relevant[:r], strict=True) if hit) / r
        )
        for k in recall_ks:
            per_query[k].append(float(any(relevant[:k])))

    def average(values):
        if not values:
            return math.nan
        if not avg_of_avgs:
            return float(np.mean(values))
        values, classes = np.array(values), np.array(labels)
        if classes.ndim == 2:  # label sets: the queries holding each class
            groups = [classes[:, c] for c in range(classes.shape[1])]
            return float(np.mean([values[g].mean() for g in groups if g.any()]))
        return float(np.mean([values[classes == c].mean() for c in np.unique(classes)]))

    return {
        "precision_at_1": average(per_query["p1"]),
        "r_precision": average(per_query["rp"]),
        "mean_average_precision_at_r": average(per_query["map"]),
        "recall_at_k": {k: average(per_query[k]) for k in recall_ks},
        "queries_without_relevant": without,
    }


def related(a, b):
    """The same label, or label sets (bool rows) that share one."""
    a = np.asarray(a)
    return bool(np.any(a & np.asarray(b))) if a.ndim else bool(a == b)


def assert_matches(got, expected):
    for key in ("precision_at_1", "r_precision", "mean_average_precision_at_r"):
        assert got[key] == pytest.approx(expected[key], abs=1e-9, nan_ok=True), key
    assert got["recall_at_k"] == pytest.approx(expected["recall_at_k"], abs=1e-9)
    assert got["queries_without_relevant"] == expected["queries_without_relevant"]


def clustered(n, classes, dim=5, seed=0, spread=0.8):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    centres = rng.normal(size=(classes, dim))
    points = centres[labels] + spread * rng.normal(size=(n, dim))
    return points.astype("float32"), labels


@pytest.mark.parametrize("avg_of_avgs", [False, True])
def test_self_retrieval_matches_naive_loop(avg_of_avgs):
    points, labels = clustered(40, 4)
    labels[7] = 9  # a class of one sample: no relevant item, left out
    got = evaluation.retrieval_metrics(points, labels, avg_of_avgs=avg_of_avgs)
    expected = naive_metrics(points, labels, avg_of_avgs=avg_of_avgs)
    assert expected["queries_without_relevant"] == 1
    assert_matches(got, expected)
    assert 0 <= got["nmi"] <= 1 and got["ami"] <= 1


@pytest.mark.parametrize("avg_of_avgs", [False, True])
def test_separate_reference_set_matches_naive_loop(avg_of_avgs):
    query, query_labels = clustered(25, 5, seed=1)
    reference, reference_labels = clustered(30, 4, seed=2)  # no class 4
    got = evaluation.retrieval_metrics(
        query, query_labels, reference, reference_labels, avg_of_avgs=avg_of_avgs
    )
    expected = naive_metrics(
        query, query_labels, reference, reference_labels, avg_of_avgs=avg_of_avgs
    )
    assert expected["queries_without_relevant"] == np.sum(query_labels == 4) > 0
    assert_matches(got, expected)


def test_ties_are_ranked_by_reference_index():
    # Every reference is one of two directions: ties everywhere.
    reference = np.array([[1, 0], [0, 1], [1, 0], [0, 1], [1, 0]], "float32")
    reference_labels = np.array([0, 0, 1, 1, 0])
    query = np.array([[1, 0], [0, 2]], "float32")
    query_labels = np.array([1, 1])
    got = evaluation.retrieval_metrics(
        query, query_labels, reference, reference_labels, recall_ks=(1, 2, 3)
    )
    expected = naive_metrics(
        query, query_labels, reference, reference_labels, recall_ks=(1, 2, 3)
    )
    assert_matches(got, expected)
    # Query 0 ranks 0, 2, 4 (label 0, 1, 0): P@1 0; query 1 ranks 1, 3: P@1 0.
    assert got["precision_at_1"] == 0.0 and got["recall_at_k"][2] == 1.0


def test_recall_at_k_is_one_if_any_of_the_top_k_is_relevant():
    points = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9], [-1, 0]], "float32")
    labels = np.array([0, 1, 1, 0, 2])
    got = evaluation.retrieval_metrics(points, labels, recall_ks=(1, 2, 3))
    assert_matches(got, naive_metrics(points, labels, recall_ks=(1, 2, 3)))
    assert got["queries_without_relevant"] == 1


def test_perfectly_separated_classes_score_one():
    points, labels = clustered(30, 3, spread=0.01)
    got = evaluation.retrieval_metrics(points, labels)
    for key in ("precision_at_1", "r_precision", "mean_average_precision_at_r"):
        assert got[key] == 1.0
    assert got["nmi"] == pytest.approx(1.0) and got["ami"] == pytest.approx(1.0)


def test_no_query_with_a_relevant_item_gives_nan_not_an_error():
    got = evaluation.retrieval_metrics(
        np.eye(3), [0, 1, 2], np.eye(3), [5, 6, 7], recall_ks=(1,)
    )
    assert math.isnan(got["mean_average_precision_at_r"])
    assert got["queries_without_relevant"] == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 2}, "`k` must be an integer between"),
        ({"k": 0}, "`k` must be an integer between"),
        ({"recall_ks": (0, 1)}, "`recall_ks` must be integers between 1 and 39"),
        ({"recall_ks": (40,)}, "`recall_ks` must be integers between 1 and 39"),
        ({"reference_labels": [0]}, "`reference_labels` needs `reference_embeddings`"),
        ({"avg_of_avgs": "yes"}, "`avg_of_avgs` must be"),
    ],
)
def test_rejects_bad_arguments(kwargs, match):
    points, labels = clustered(40, 4)
    with pytest.raises(ValueError, match=match):
        evaluation.retrieval_metrics(points, labels, **kwargs)


def test_rejects_mismatched_lengths_and_nan():
    points, labels = clustered(10, 2)
    with pytest.raises(ValueError, match="query_labels"):
        evaluation.retrieval_metrics(points, labels[:9])
    with pytest.raises(ValueError, match="reference_labels"):
        evaluation.retrieval_metrics(points, labels, points, labels[:3])
    points[3, 1] = np.nan
    with pytest.raises(ValueError, match="`query_embeddings` holds NaN"):
        evaluation.retrieval_metrics(points, labels)


@pytest.mark.skipif(
    keras.backend.backend() != "torch", reason="pytorch-metric-learning is torch only"
)
@pytest.mark.parametrize("separate_reference", [False, True])
@pytest.mark.parametrize("avg_of_avgs", [False, True])
def test_agrees_with_pytorch_metric_learning(separate_reference, avg_of_avgs):
    import torch
    from pytorch_metric_learning.distances import CosineSimilarity
    from pytorch_metric_learning.utils.accuracy_calculator import AccuracyCalculator
    from pytorch_metric_learning.utils.inference import CustomKNN
    from sklearn.cluster import KMeans

    query, query_labels = clustered(60, 5, seed=3)
    reference, reference_labels = clustered(80, 5, seed=4)
    if not separate_reference:
        reference = reference_labels = None

    def kmeans(points, clusters):
        # Ours: k-means of the unit embeddings, 10 starts, seed 0.
        unit = torch.nn.functional.normalize(points, dim=1).double().numpy()
        found = KMeans(clusters, n_init=10, random_state=0).fit_predict(unit)
        return torch.as_tensor(found)

    calculator = AccuracyCalculator(
        include=("precision_at_1", "r_precision", "mean_average_precision_at_r",
                 "NMI", "AMI"),
        k="max_bin_count",
        avg_of_avgs=avg_of_avgs,
        knn_func=CustomKNN(CosineSimilarity()),
        kmeans_func=kmeans,
        device=torch.device("cpu"),
    )  # fmt: skip
    theirs = calculator.get_accuracy(query, query_labels, reference, reference_labels)
    ours = evaluation.retrieval_metrics(
        query, query_labels, reference, reference_labels, avg_of_avgs=avg_of_avgs
    )
    # The same definitions: agreement to rounding.
    for mine, pml in (
        ("precision_at_1", "precision_at_1"),
        ("r_precision", "r_precision"),
        ("mean_average_precision_at_r", "mean_average_precision_at_r"),
        ("nmi", "NMI"),
        ("ami", "AMI"),
    ):
        assert ours[mine] == pytest.approx(theirs[pml], abs=1e-6), mine


def label_sets(n, classes, seed=0, density=0.35):
    """Random multi-hot label sets, bool `(n, classes)`, some of them empty."""
    return np.random.default_rng(seed).random((n, classes)) < density


@pytest.mark.parametrize("avg_of_avgs", [False, True])
@pytest.mark.parametrize("separate_reference", [False, True])
def test_label_sets_match_naive_loop(avg_of_avgs, separate_reference):
    points, _ = clustered(36, 4, seed=2)
    sets = label_sets(36, 4, seed=3)
    sets[5] = False  # an empty set: no relevant item, left out
    sets[6] = True  # every label: relevant to every non-empty set
    if separate_reference:
        reference, reference_sets = clustered(30, 4, seed=4)[0], label_sets(30, 4, 5)
        got = evaluation.retrieval_metrics(
            points, sets, reference, reference_sets, avg_of_avgs=avg_of_avgs
        )
        expected = naive_metrics(
            points, sets, reference, reference_sets, avg_of_avgs=avg_of_avgs
        )
    else:
        got = evaluation.retrieval_metrics(points, sets, avg_of_avgs=avg_of_avgs)
        expected = naive_metrics(points, sets, avg_of_avgs=avg_of_avgs)
    assert expected["queries_without_relevant"] >= 1
    assert_matches(got, expected)


def test_one_hot_label_sets_equal_integer_labels():
    points, labels = clustered(40, 4, seed=6)
    one_hot = np.eye(4, dtype="int32")[labels]
    integer = evaluation.retrieval_metrics(points, labels, avg_of_avgs=True)
    sets = evaluation.retrieval_metrics(points, one_hot, avg_of_avgs=True)
    assert_matches(sets, integer)
    assert sets["nmi"] == pytest.approx(integer["nmi"])


def test_rejects_label_sets_against_integer_labels():
    points, labels = clustered(20, 3)
    with pytest.raises(ValueError, match=r"query_labels.*reference_labels"):
        evaluation.retrieval_metrics(points, np.eye(3)[labels], points, labels)
    with pytest.raises(ValueError, match=r"only 0 and 1"):
        evaluation.retrieval_metrics(points, 2 * np.eye(3)[labels])
