"""The Fig. 2 histogram PNG."""

import struct
import sys

import numpy as np
import pytest

from keras_sincere import evaluation

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path):
    """(width, height) from the IHDR chunk that follows the signature."""
    with open(path, "rb") as file:
        header = file.read(24)
    assert header[:8] == PNG_MAGIC and header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


@pytest.fixture
def results(rng):
    return {
        "SupCon": (rng.uniform(0.9, 1.0, 200), rng.uniform(0.7, 0.85, 200)),
        "SINCERE": (rng.uniform(0.9, 1.0, 200), rng.uniform(-0.1, 0.25, 200)),
    }


def test_writes_a_png_with_one_panel_per_loss(results, tmp_path):
    path = evaluation.plot_similarity_histograms(
        results, tmp_path / "fig2.png", bins=20, title="CIFAR-10"
    )
    assert path == str(tmp_path / "fig2.png")
    data = (tmp_path / "fig2.png").read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    # 5 x 4 inches per panel at 100 dpi.
    assert png_size(path) == (1000, 400)

    single = evaluation.plot_similarity_histograms(
        {"SINCERE": results["SINCERE"]}, tmp_path / "one.png"
    )
    assert png_size(single) == (500, 400)


def test_accepts_backend_tensors(results, tmp_path):
    import keras

    tensors = {
        name: tuple(keras.ops.convert_to_tensor(v.astype("float32")) for v in pair)
        for name, pair in results.items()
    }
    path = evaluation.plot_similarity_histograms(tensors, tmp_path / "t.png")
    assert open(path, "rb").read(8) == PNG_MAGIC


def test_leaves_pyplot_alone(results, tmp_path):
    before = sys.modules.get("matplotlib.pyplot")
    evaluation.plot_similarity_histograms(results, tmp_path / "fig.png")
    assert sys.modules.get("matplotlib.pyplot") is before


def test_invalid_arguments(results, tmp_path):
    with pytest.raises(ValueError, match="non-empty mapping"):
        evaluation.plot_similarity_histograms({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="pair"):
        evaluation.plot_similarity_histograms({"a": (np.ones(3),)}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="bins"):
        evaluation.plot_similarity_histograms(results, tmp_path / "x.png", bins=0)


def test_missing_matplotlib_names_the_install(results, tmp_path, monkeypatch):
    for module in (
        "matplotlib",
        "matplotlib.figure",
        "matplotlib.backends.backend_agg",
    ):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        evaluation.plot_similarity_histograms(results, tmp_path / "x.png")
