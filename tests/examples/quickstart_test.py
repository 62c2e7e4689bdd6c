"""The README's quickstart runs on every backend (toy size)."""

import importlib.util
import math
import pathlib

QUICKSTART = pathlib.Path(__file__).parents[2] / "examples" / "quickstart.py"


def load_quickstart():
    spec = importlib.util.spec_from_file_location("quickstart", QUICKSTART)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quickstart_learns_an_embedding():
    results = load_quickstart().main(epochs=3, verbose=0)
    assert math.isfinite(results["loss"])
    # Ten classes: chance is 0.1. Three epochs already separate most digits.
    assert results["knn1"] > 0.6, results
