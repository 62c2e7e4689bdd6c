"""The embedding map PNG and its 2-D projections."""

import numpy as np
import pytest

from keras_sincere import evaluation
from keras_sincere.evaluation.embedding_map import project_2d
from tests.evaluation.plots_test import PNG_MAGIC
from tests.evaluation.plots_test import png_size

pytest.importorskip("matplotlib")


def clusters(seed=0, n=60, classes=3):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    centres = 5 * rng.normal(size=(classes, 8))
    return (centres[labels] + rng.normal(size=(n, 8))).astype("float32"), labels


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projections_keep_classes_apart(method):
    embeddings, labels = clusters()
    points = project_2d(embeddings, method)
    assert points.shape == (60, 2) and np.all(np.isfinite(points))
    # Each point's nearest other point in the map is of its class.
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    np.fill_diagonal(distances, np.inf)
    assert np.mean(labels[np.argmin(distances, axis=1)] == labels) > 0.95


def test_pca_is_deterministic():
    embeddings, _ = clusters()
    np.testing.assert_array_equal(project_2d(embeddings), project_2d(embeddings))


def test_writes_one_panel_per_model_side_by_side(tmp_path):
    first, labels = clusters(0)
    second, _ = clusters(1)
    path = evaluation.plot_embedding_map(
        {"SupCon": first, "SINCERE": second}, labels, tmp_path / "maps.png",
        title="digits",
    )  # fmt: skip
    assert (tmp_path / "maps.png").read_bytes().startswith(PNG_MAGIC)
    width, height = png_size(path)
    assert (width, height) == (1000, 450)
    single = evaluation.plot_embedding_map(first, labels, tmp_path / "one.png")
    assert png_size(single) == (500, 450)


def test_subsamples_large_sets(tmp_path):
    embeddings, labels = clusters(n=300)
    path = evaluation.plot_embedding_map(
        embeddings, labels, tmp_path / "map.png", max_points=50
    )
    assert png_size(path) == (500, 450)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "umap"}, "`method` must be one of"),
        ({"labels": np.zeros(5)}, "labels"),
        (
            {"embeddings": {"a": np.ones((60, 8)), "b": np.ones((50, 8))}},
            "same samples",
        ),
        ({"embeddings": np.full((60, 8), np.nan)}, "NaN"),
    ],
)
def test_rejects_bad_input(kwargs, match, tmp_path):
    embeddings, labels = clusters()
    arguments = {"embeddings": embeddings, "labels": labels, **kwargs}
    with pytest.raises(ValueError, match=match):
        evaluation.plot_embedding_map(path=tmp_path / "x.png", **arguments)
