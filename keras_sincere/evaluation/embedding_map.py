"""A 2-D map of embeddings coloured by class, as a PNG."""

import os
from collections.abc import Mapping

import numpy as np

from keras_sincere._validation import check_choice
from keras_sincere._validation import check_integer
from keras_sincere.evaluation._inputs import embeddings_array
from keras_sincere.evaluation._inputs import labels_array
from keras_sincere.evaluation._inputs import unit_rows
from keras_sincere.evaluation.plots import _matplotlib


def project_2d(embeddings, method: str = "pca", seed: int = 0) -> np.ndarray:
    """The L2-normalised embeddings `(N, D)` projected to `(N, 2)`.

    `"pca"`: onto their two principal axes (centred, by SVD; the sign of
    each axis fixed so that its largest coordinate is positive).
    `"tsne"`: scikit-learn's t-SNE (PCA start, perplexity
    `min(30, (N - 1) / 3)`, `seed`), which keeps neighbourhoods rather
    than distances: clusters are meaningful, gaps between them are not.
    """
    method = check_choice(method, "method", ("pca", "tsne"))
    points = unit_rows(embeddings_array(embeddings, "embeddings")).astype(np.float64)
    if points.shape[0] < 3:
        raise ValueError(
            "A map needs at least 3 embeddings. Received: "
            f"embeddings.shape={points.shape}"
        )
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (points.shape[0] - 1) / 3)
        return TSNE(
            2, perplexity=perplexity, init="pca", random_state=seed
        ).fit_transform(points)
    centred = points - points.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ axes[:2].T
    if projected.shape[1] < 2:  # one-dimensional embeddings
        projected = np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))
    signs = np.sign(projected[np.argmax(np.abs(projected), axis=0), [0, 1]])
    return projected * np.where(signs == 0, 1.0, signs)


def plot_embedding_map(
    embeddings,
    labels,
    path: str | os.PathLike,
    method: str = "pca",
    title: str | None = None,
    seed: int = 0,
    max_points: int = 5000,
) -> str:
    """Saves a 2-D scatter of embeddings, coloured by class, with a legend.

    Args:
        embeddings: `(N, D)` numpy array or backend tensor, or a mapping
            `{name: (N, D)}` of several models' embeddings of the same
            samples: one panel each, side by side (e.g. SupCon and SINCERE,
            next to the paper's Fig. 2).
        labels: integer labels `(N,)`.
        path: where to write the PNG.
        method: `"pca"` or `"tsne"` (see `project_2d`).
        title: optional title above the panels.
        seed: seed of t-SNE and of the subsample.
        max_points: at most this many samples are drawn (a random subset,
            the same for every panel); t-SNE is quadratic in them.

    Returns:
        `path`, as a string.

    Example:

    ```python
    plot_embedding_map(
        {"SupCon": supcon.embed(x_test), "SINCERE": sincere.embed(x_test)},
        y_test,
        "maps.png",
        method="tsne",
    )
    ```
    """
    panels = embeddings if isinstance(embeddings, Mapping) else {"": embeddings}
    if not panels:
        raise ValueError("`embeddings` must hold at least one set of embeddings.")
    panels = {
        str(name): embeddings_array(values, "embeddings")
        for name, values in panels.items()
    }
    count = next(iter(panels.values())).shape[0]
    labels = labels_array(labels, "labels", count)
    for name, values in panels.items():
        if values.shape[0] != count:
            raise ValueError(
                "Every set of `embeddings` must embed the same samples. "
                f"Received: {values.shape[0]} embeddings for {name!r}, {count} labels"
            )
    max_points = check_integer(max_points, "max_points", minimum=3)
    keep = np.arange(count)
    if count > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(count, max_points, False))
    Figure, FigureCanvasAgg = _matplotlib()
    figure = Figure(figsize=(5 * len(panels), 4.5), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    classes = np.unique(labels)
    import matplotlib

    palette = matplotlib.colormaps["tab10" if classes.size <= 10 else "tab20"]
    for axis, (name, values) in zip(axes, panels.items(), strict=True):
        points = project_2d(values[keep], method, seed)
        for index, label in enumerate(classes):
            mine = labels[keep] == label
            axis.scatter(
                points[mine, 0],
                points[mine, 1],
                s=6,
                color=palette(index % palette.N),
                label=str(label),
            )
        axis.set_title(f"{name} ({method.upper()})" if name else method.upper())
        axis.set_xticks([])
        axis.set_yticks([])
    axes[-1].legend(
        title="class", loc="center left", bbox_to_anchor=(1.0, 0.5), markerscale=2
    )
    if title:
        figure.suptitle(title)
    path = os.fspath(path)
    figure.savefig(path, format="png", dpi=100)
    return path
