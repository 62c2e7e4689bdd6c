"""The target/noise similarity histograms of the paper's Fig. 2, as a PNG."""

import os
from collections.abc import Mapping

import numpy as np

from keras_sincere._validation import check_integer
from keras_sincere.evaluation._inputs import to_numpy
from keras_sincere.evaluation.separation import finite_pairs

_TARGET_COLOUR = "tab:blue"
_NOISE_COLOUR = "tab:orange"


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plot_similarity_histograms needs matplotlib, an optional dependency "
            "of keras_sincere: `pip install matplotlib`."
        ) from error
    return Figure, FigureCanvasAgg


def _panels(results) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Checks `{name: (target, noise)}` and returns `[(name, target, noise)]`."""
    if not isinstance(results, Mapping) or not results:
        raise ValueError(
            "`results` must be a non-empty mapping {name: (target, noise)}. "
            f"Received: {type(results).__name__}"
        )
    panels = []
    for name, pair in results.items():
        if len(pair) != 2:
            raise ValueError(
                f"`results[{name!r}]` must be a pair (target, noise). "
                f"Received {len(pair)} items."
            )
        target, noise = (
            to_numpy(values).astype(np.float64).reshape(-1) for values in pair
        )
        if target.size == 0 or noise.size == 0:
            raise ValueError(f"`results[{name!r}]` holds no similarities.")
        if target.shape == noise.shape:
            # Queries without a target or noise (label sets) are NaN: left
            # out, as `separation_margin` leaves them out.
            target, noise = finite_pairs(target, noise)
        panels.append((str(name), target, noise))
    return panels


def _draw_panel(axis, name: str, target, noise, edges: np.ndarray) -> None:
    """Both histograms of one loss, with their medians and the margin."""
    lowest = edges[0]
    for values, label, colour in (
        (target, "Target", _TARGET_COLOUR),
        (noise, "Noise", _NOISE_COLOUR),
    ):
        median = float(np.median(values))
        axis.hist(
            np.clip(values, lowest, 1.0),
            bins=edges,
            weights=np.full(values.size, 1.0 / values.size),
            alpha=0.6,
            color=colour,
            label=f"{label} (median {median:.3f})",
        )
        axis.axvline(median, color=colour, linestyle=":", linewidth=2)
    margin = float(np.median(target) - np.median(noise))
    axis.set_title(f"{name} (margin {margin:.3f})")
    axis.set_xlabel("Cosine similarity")
    axis.set_xlim(lowest, 1.0)
    axis.legend(loc="upper left")


def plot_similarity_histograms(
    results: Mapping[str, tuple],
    path: str | os.PathLike,
    bins: int = 50,
    title: str | None = None,
) -> str:
    """Saves one panel per loss with its target and noise similarity histograms.

    Fig. 2 of the paper: for each query, the cosine similarity to its
    nearest training image of the same class (target) and of another class
    (noise), as returned by `nearest_target_noise`. Each panel overlays the
    two histograms as proportions of the queries (bars of each histogram
    sum to 1), on shared bins from `min(0, smallest value)` to 1, with the
    two medians as dotted vertical lines; their distance is
    `separation_margin`, shown in the panel title.

    matplotlib is an optional dependency; the figure is drawn with the Agg
    canvas directly, so pyplot's global state and backend are untouched
    (works headless and inside notebooks).

    Args:
        results: `{loss name: (target, noise)}`, e.g.
            `{"SupCon": nearest_target_noise(...), "SINCERE": ...}`, one
            panel per entry, left to right in the mapping's order.
        path: where to write the PNG.
        bins: number of histogram bins.
        title: optional title above all panels.

    Returns:
        `path`, as a string.

    Example:

    ```python
    results = {
        "SupCon": nearest_target_noise(supcon_train, y_train, supcon_test, y_test),
        "SINCERE": nearest_target_noise(sincere_train, y_train, sincere_test, y_test),
    }
    plot_similarity_histograms(results, "fig2.png", title="CIFAR-10")
    ```
    """
    panels = _panels(results)
    bins = check_integer(bins, "bins")
    Figure, FigureCanvasAgg = _matplotlib()
    lowest = min(0.0, *(min(t.min(), n.min()) for _, t, n in panels))
    edges = np.linspace(lowest, 1.0, bins + 1)
    figure = Figure(figsize=(5 * len(panels), 4), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False, sharey=True)[0]
    for axis, panel in zip(axes, panels, strict=True):
        _draw_panel(axis, *panel, edges)
    axes[0].set_ylabel("Query set proportion")
    if title:
        figure.suptitle(title)
    path = os.fspath(path)
    figure.savefig(path, format="png", dpi=100)
    return path
